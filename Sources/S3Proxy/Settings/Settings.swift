// What the operator configured for signing: credentials, region,
// endpoints, the presigned URL lifetime.  The one definition of each
// setting's default, check and normal form: nginx (s3p_signing_resolve)
// and s3p-sign both resolve their raw values here, once, at configuration
// time, so that `nginx -t` names a bad setting.

internal import CShim
internal import COpenSSL

struct Settings {
    var accessKey: [UInt8]
    var secretKey: [UInt8]
    var sessionToken: [UInt8]
    var region: [UInt8]
    var host: [UInt8]
    var externalHost: [UInt8]
    var scheme: [UInt8]
    var expires: Int64

    /// The longest presigned URL lifetime SigV4 allows: 7 days.
    static let maxExpires: Int64 = 604_800
    static let defaultExpires: Int64 = 300
    static let defaultRegion = "us-east-1"
    static let defaultScheme = "https"

    /// The settings of raw values, with the defaults for those not set:
    /// region us-east-1, host s3.<region>.amazonaws.com, external host the
    /// host, scheme https, expires 300 seconds.
    init(raw: s3p_signing_t) {
        accessKey = Array(Bytes.view(raw.access_key))
        secretKey = Array(Bytes.view(raw.secret_key))
        sessionToken = Array(Bytes.view(raw.session_token))
        region = Array(Bytes.view(raw.region))
        if region.isEmpty { region = Array(Settings.defaultRegion.utf8) }
        host = Array(Bytes.view(raw.host))
        if host.isEmpty {
            host = Array("s3.".utf8) + region + Array(".amazonaws.com".utf8)
        }
        externalHost = Array(Bytes.view(raw.external_host))
        if externalHost.isEmpty { externalHost = host }
        scheme = Array(Bytes.view(raw.scheme))
        if scheme.isEmpty { scheme = Array(Settings.defaultScheme.utf8) }
        expires = raw.expires == Int64(S3P_UNSET) ? Settings.defaultExpires : raw.expires
    }

    init(accessKey: [UInt8], secretKey: [UInt8], sessionToken: [UInt8], region: [UInt8],
         host: [UInt8], externalHost: [UInt8], scheme: [UInt8], expires: Int64)
    {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.region = region
        self.host = host
        self.externalHost = externalHost
        self.scheme = scheme
        self.expires = expires
    }

    /// The room resolve() needs for raw values: the values and their
    /// defaults, then the prepared parts.
    static func bound(raw: s3p_signing_t) -> Int {
        let values = raw.access_key.len + raw.secret_key.len + raw.session_token.len
            + raw.region.len + raw.host.len + raw.external_host.len + raw.scheme.len + 128
        return Prepared.tableSize + 16 * values + 2048
    }

    /// Resolves `raw` in place (see s3p_signing_resolve); the problem with
    /// a value, naming the setting, or nil.
    static func resolve(
        _ raw: UnsafeMutablePointer<s3p_signing_t>, into out: UnsafeMutablePointer<UInt8>,
        cap: Int
    ) -> String? {
        // One copy of the secret, cleared before it is freed.
        var settings = Settings(raw: raw.pointee)
        defer { settings.secretKey.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        if let problem = settings.problem() { return problem }
        settings.host = Settings.canonicalHost(settings.host, scheme: settings.scheme)
        settings.externalHost = Settings.canonicalHost(settings.externalHost,
                                                       scheme: settings.scheme)
        var writer = BufferWriter(base: out, capacity: cap)
        var resolved = raw.pointee
        resolved.access_key = writer.write(settings.accessKey)
        resolved.secret_key = writer.write(Bytes.view(raw.pointee.secret_key))
        resolved.session_token = writer.write(settings.sessionToken)
        resolved.region = writer.write(settings.region)
        resolved.host = writer.write(settings.host)
        resolved.external_host = writer.write(settings.externalHost)
        resolved.scheme = writer.write(settings.scheme)
        resolved.expires = settings.expires
        let used = writer.count
        guard !writer.overflowed,
              let prepared = Prepared.write(resolved, into: out + used, cap: cap - used)
        else {
            return "the signing settings do not fit their buffer"
        }
        resolved.prepared = prepared
        resolved.generation = s3p_next_generation()
        raw.pointee = resolved
        return nil
    }

    /// nil when every setting is valid, otherwise a message that names the
    /// setting.
    func problem() -> String? {
        if accessKey.isEmpty {
            return "AWS_ACCESS_KEY_ID is empty"
        }
        if !accessKey.allSatisfy(Settings.isTokenByte) {
            return "AWS_ACCESS_KEY_ID holds a character that is not allowed"
        }
        if secretKey.isEmpty {
            return "AWS_SECRET_ACCESS_KEY is empty"
        }
        if !secretKey.allSatisfy(Settings.isTokenByte) {
            return "AWS_SECRET_ACCESS_KEY holds a character that is not allowed"
        }
        if !sessionToken.allSatisfy(Settings.isTokenByte) {
            return "AWS_SESSION_TOKEN holds a character that is not allowed"
        }
        if !Settings.isRegion(region) {
            return "AWS_DEFAULT_REGION \"" + String(decoding: region, as: UTF8.self)
                + "\" is not a region name"
        }
        if let problem = Settings.hostProblem(host) {
            return "AWS_ENDPOINT_HOST " + problem
        }
        if let problem = Settings.hostProblem(externalHost) {
            return "AWS_ENDPOINT_HOST_EXTERNAL " + problem
        }
        if scheme != Array("http".utf8) && scheme != Array("https".utf8) {
            return "AWS_ENDPOINT_SCHEME must be \"http\" or \"https\""
        }
        if let problem = Settings.expiresProblem(expires) {
            return "s3_proxy_expires " + problem
        }
        return nil
    }

    /// Why a presigned URL lifetime is not one SigV4 allows, or nil.
    static func expiresProblem(_ seconds: Int64) -> String? {
        seconds < 1 || seconds > maxExpires ? "must be between 1s and 7d" : nil
    }

    /// Printable ASCII without spaces: what AWS credentials consist of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7f
    }

    /// A region name: lowercase letters, digits and inner hyphens, such as
    /// `us-east-1`, `eu-central-2` or S3-compatible names such as `auto`.
    static func isRegion(_ region: [UInt8]) -> Bool {
        guard (1...32).contains(region.count),
              region.first != UInt8(ascii: "-"),
              region.last != UInt8(ascii: "-")
        else {
            return false
        }
        return region.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
    }

    /// `host` as clients write it in a Host header: lowercase, and without
    /// the scheme's default port.  Signing anything else would not match
    /// what S3 receives.
    static func canonicalHost(_ host: [UInt8], scheme: [UInt8]) -> [UInt8] {
        var lowered = ASCII.lowercased(host)
        let defaultPort: [UInt8] = scheme == Array("http".utf8)
            ? Array(":80".utf8) : Array(":443".utf8)
        if lowered.count > defaultPort.count
            && lowered.suffix(defaultPort.count).elementsEqual(defaultPort)
        {
            lowered.removeLast(defaultPort.count)
        }
        return lowered
    }

    /// Why `host` is not `name[:port]` or `[v6]:port`, or nil when it is.
    static func hostProblem(_ host: [UInt8]) -> String? {
        if host.isEmpty {
            return "is empty"
        }
        if host.count > 255 {
            return "is too long"
        }
        if host.contains(UInt8(ascii: "/")) || host.contains(UInt8(ascii: "@"))
            || host.contains(UInt8(ascii: "?")) || host.contains(UInt8(ascii: "#"))
        {
            return "must be a host name with an optional port, "
                + "without a scheme, credentials or a path"
        }
        var name = host[...]
        var port: ArraySlice<UInt8> = []
        if host.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(of: UInt8(ascii: "]")) else {
                return "has an unclosed \"[\""
            }
            let inner = host[1..<close]
            guard !inner.isEmpty, inner.allSatisfy({ byte in
                Hex.value(byte) != nil || byte == UInt8(ascii: ":")
                    || byte == UInt8(ascii: ".")
            }) else {
                return "is not a valid IPv6 address"
            }
            let rest = host[(close + 1)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":") else {
                    return "must be a host name with an optional port"
                }
                port = rest.dropFirst()
            }
            name = inner
        } else if let colon = host.firstIndex(of: UInt8(ascii: ":")) {
            name = host[..<colon]
            port = host[(colon + 1)...]
            if port.isEmpty {
                return "has an empty port"
            }
        }
        if host.first != UInt8(ascii: "[") {
            if name.isEmpty {
                return "has no host name"
            }
            for byte in name {
                let ok = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "_")
                if !ok {
                    return "must be a host name with an optional port"
                }
            }
        }
        if !port.isEmpty || host.last == UInt8(ascii: ":") {
            // A port: 1 to 5 digits, 1-65535.
            guard (1...5).contains(port.count),
                  port.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            else {
                return "has a port that is not a number"
            }
            var value = 0
            for byte in port { value = value * 10 + Int(byte - UInt8(ascii: "0")) }
            guard (1...65_535).contains(value) else {
                return "has a port outside 1-65535"
            }
        }
        return nil
    }
}

// What the operator configured: credentials, region, endpoints.  Checked
// once at configuration time, so that `nginx -t` names a bad setting.

struct Settings {
    var accessKey: [UInt8]
    var secretKey: [UInt8]
    var sessionToken: [UInt8]
    var region: [UInt8]
    var host: [UInt8]
    var externalHost: [UInt8]
    var scheme: [UInt8]
    var expires: UInt32
    var policy = Policy()

    /// The longest presigned URL lifetime SigV4 allows: 7 days.
    static let maxExpires: UInt32 = 604_800

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
        if expires < 1 || expires > Settings.maxExpires {
            return "the presigned URL expiry must be between 1 second and 7 days"
        }
        for bucket in policy.buckets where !BucketName.isValid(bucket) {
            return "the allowed bucket \"" + String(decoding: bucket, as: UTF8.self)
                + "\" is not a valid bucket name"
        }
        for name in policy.parameters {
            if let problem = Policy.parameterProblem(name) {
                return "the allowed query parameter \""
                    + String(decoding: name, as: UTF8.self) + "\" " + problem
            }
        }
        return nil
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

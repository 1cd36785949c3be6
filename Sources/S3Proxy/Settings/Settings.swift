// What a location signs with: credentials, region, endpoints, addressing,
// the presigned URL lifetime.  The one definition of each setting's
// default, check and normal form: nginx (s3p_signing_resolve) and s3p-sign
// both resolve their raw values here, once, at configuration time, so that
// `nginx -t` names a bad setting.  The order of the defaults is written
// down once, in s3_proxy_core.h above s3p_signing_resolve().

internal import CShim
internal import COpenSSL

struct Settings {
    enum Addressing { case path, virtual }

    var accessKey: [UInt8]
    var secretKey: [UInt8]
    var sessionToken: [UInt8]
    var region: [UInt8]
    var host: [UInt8]
    var externalHost: [UInt8]
    var scheme: [UInt8]
    var externalScheme: [UInt8]
    var addressing: Addressing
    var expires: Int64
    /// s3_proxy_presign_window, seconds; 0: off.
    var window: Int64 = 0

    /// The longest presigned URL lifetime SigV4 allows: 7 days.
    static let maxExpires: Int64 = 604_800
    static let defaultExpires: Int64 = 300
    static let defaultRegion = "us-east-1"
    static let defaultScheme = "https"

    init(accessKey: [UInt8], secretKey: [UInt8], sessionToken: [UInt8], region: [UInt8],
         host: [UInt8], externalHost: [UInt8], scheme: [UInt8],
         externalScheme: [UInt8]? = nil, addressing: Addressing = .path, expires: Int64)
    {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
        self.region = region
        self.host = host
        self.externalHost = externalHost
        self.scheme = scheme
        self.externalScheme = externalScheme ?? scheme
        self.addressing = addressing
        self.expires = expires
    }

    /// The settings of a location's raw values and the environment, the
    /// defaults applied in s3p_signing_resolve()'s order; or the problem,
    /// naming the setting.
    static func of(_ raw: s3p_settings_t) -> Resolved {
        let env = raw.env?.pointee ?? s3p_environment_t()
        let files = SharedFiles(env)

        // Credentials, and the profile whose region is a default.
        var credentials: Credentials
        switch Credentials.of(raw, env: env, files: files) {
        case .problem(let problem): return .problem(problem)
        case .found(let found): credentials = found
        }
        defer { credentials.wipe() }

        let endpoint: ProxyEndpoint
        switch Settings.proxyEndpoint(raw, env: env, files: files, profile: credentials.profile) {
        case .problem(let problem): return .problem(problem)
        case .found(let found): endpoint = found
        }
        let region = endpoint.region
        let scheme = endpoint.scheme
        let host = endpoint.host
        let configured = endpoint.configured
        let envExternalScheme = Array(Bytes.view(env.external_scheme))
        if let problem = Settings.schemeProblem(envExternalScheme) {
            return .problem("AWS_ENDPOINT_SCHEME_EXTERNAL " + problem)
        }

        // The endpoint redirects point at.
        var externalScheme: [UInt8]
        var externalHost: [UInt8]
        if raw.external_endpoint.len > 0 {
            guard case .endpoint(let written, let name) =
                Endpoint.parse(Bytes.view(raw.external_endpoint))
            else {
                return .problem("s3_proxy_external_endpoint is not valid")
            }
            externalScheme = written ?? envExternalScheme
            externalHost = name
        } else if configured {
            externalScheme = scheme
            externalHost = host
        } else {
            externalScheme = envExternalScheme
            externalHost = Array(Bytes.view(env.external_host))
            if !externalHost.isEmpty, let problem = Settings.hostProblem(externalHost) {
                return .problem("AWS_ENDPOINT_HOST_EXTERNAL " + problem)
            }
        }
        if externalScheme.isEmpty { externalScheme = scheme }
        if externalHost.isEmpty { externalHost = host }

        let expires = raw.expires == Int64(S3P_UNSET) ? Settings.defaultExpires : raw.expires
        if let problem = Settings.expiresProblem(expires) {
            return .problem("s3_proxy_expires " + problem)
        }
        let window = raw.window == Int64(S3P_UNSET) ? 0 : raw.window
        if window != 0 {
            if let problem = Settings.expiresProblem(window) {
                return .problem("s3_proxy_presign_window " + problem)
            }
            if expires > Settings.maxExpires - window {
                // Every URL must stay valid for `expires` after it is
                // handed out, which is up to a window after it is signed.
                return .problem("s3_proxy_expires plus s3_proxy_presign_window "
                    + "must not exceed 7d, the longest a presigned URL lives")
            }
        }

        var resolved = Settings(
            accessKey: credentials.accessKey, secretKey: credentials.secretKey,
            sessionToken: credentials.sessionToken, region: region,
            host: Settings.canonicalHost(host, scheme: scheme),
            externalHost: Settings.canonicalHost(externalHost, scheme: externalScheme),
            scheme: scheme, externalScheme: externalScheme,
            addressing: raw.addressing == S3P_ADDRESSING_VIRTUAL ? .virtual : .path,
            expires: expires)
        resolved.window = window
        return .settings(resolved)
    }

    /// Where a location's proxied requests go, from its raw values alone
    /// (no credentials needed): the region and the endpoint's scheme and
    /// host as written (Settings.canonicalHost() gives the host's normal
    /// form), or the problem, naming the setting.  `profile` is the one
    /// the location's settings name (Credentials.profileName), whose
    /// region is a default.
    static func proxyEndpoint(
        _ raw: s3p_settings_t, env: s3p_environment_t, files: SharedFiles, profile: [UInt8]
    ) -> ProxyEndpointFound {
        var region = Array(Bytes.view(raw.region))
        var regionSource = "s3_proxy_region"
        for (name, value) in [("AWS_REGION", env.region),
                              ("AWS_DEFAULT_REGION", env.default_region)]
            where region.isEmpty && value.len > 0
        {
            region = Array(Bytes.view(value))
            regionSource = name
        }
        if region.isEmpty, let profileRegion = files.configValue(
            "region", profile: profile)
        {
            region = profileRegion
            regionSource = "the region of profile \"" + String(decoding: profile,
                                                               as: UTF8.self)
                + "\" in " + files.configPath
        }
        if region.isEmpty { region = Array(Settings.defaultRegion.utf8) }
        if let problem = Settings.regionProblem(region) {
            return .problem(regionSource + " \"" + String(decoding: region, as: UTF8.self)
                            + "\" " + problem)
        }

        // The endpoint proxied requests go to.
        let envScheme = Array(Bytes.view(env.scheme))
        if let problem = Settings.schemeProblem(envScheme) {
            return .problem("AWS_ENDPOINT_SCHEME " + problem)
        }
        var scheme: [UInt8]
        var host: [UInt8]
        let configured = raw.endpoint.len > 0
        if configured {
            guard case .endpoint(let written, let name) = Endpoint.parse(Bytes.view(raw.endpoint))
            else {
                return .problem("s3_proxy_endpoint is not valid")
            }
            scheme = written ?? envScheme
            host = name
        } else {
            scheme = envScheme
            host = Array(Bytes.view(env.host))
            if host.isEmpty {
                host = Array("s3.".utf8) + region + Array(".amazonaws.com".utf8)
            } else if let problem = Settings.hostProblem(host) {
                return .problem("AWS_ENDPOINT_HOST " + problem)
            }
        }
        if scheme.isEmpty { scheme = Array(Settings.defaultScheme.utf8) }
        return .found(ProxyEndpoint(region: region, scheme: scheme, host: host,
                                    configured: configured))
    }

    struct ProxyEndpoint {
        var region: [UInt8]
        var scheme: [UInt8]
        var host: [UInt8]
        /// s3_proxy_endpoint names it.
        var configured: Bool
    }

    enum ProxyEndpointFound {
        case found(ProxyEndpoint)
        case problem(String)
    }

    enum Resolved {
        case settings(Settings)
        case problem(String)
    }

    /// The room resolve() needs, from the raw values' lengths alone (see
    /// s3p_signing_bound): the resolved values, then the prepared parts,
    /// none more than six times its values' length (the hosts appear
    /// twice; the access key, region and token once UriEncoded, at most
    /// three bytes a byte, and up to three times as they are), plus the
    /// fixed text.
    /// Each resolved value is one of the raw values it may come from, a
    /// part of a shared file, or a default.
    static func bound(raw: s3p_settings_t) -> Int {
        let env = raw.env?.pointee ?? s3p_environment_t()
        let files = env.credentials_file.len + env.config_file.len
        let credentials = env.access_key_id.len + env.secret_access_key.len
            + env.session_token.len + files
        let region = raw.region.len + env.region.len + env.default_region.len
            + env.config_file.len + defaultRegion.utf8.count
        let host = raw.endpoint.len + env.host.len + region
            + "s3..amazonaws.com".utf8.count
        let externalHost = raw.external_endpoint.len + env.external_host.len + host
        let schemes = raw.endpoint.len + raw.external_endpoint.len + env.scheme.len
            + env.external_scheme.len + 2 * defaultScheme.utf8.count
        let values = credentials + region + host + externalHost + schemes
        // the cache tag: the region, a source's name and a hash
        return values + Prepared.tableSize + 6 * values + region + 1536 + 64
    }

    /// Resolves `raw` into `signing` (see s3p_signing_resolve); the
    /// problem with a value, naming the setting, or nil.
    static func resolve(
        _ raw: s3p_settings_t, into signing: UnsafeMutablePointer<s3p_signing_t>,
        out: UnsafeMutablePointer<UInt8>, cap: Int
    ) -> String? {
        var settings: Settings
        switch Settings.of(raw) {
        case .problem(let problem): return problem
        case .settings(let resolved): settings = resolved
        }
        // One copy of the secret, cleared before it is freed.
        defer { settings.secretKey.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        var writer = BufferWriter(base: out, capacity: cap)
        var resolved = s3p_signing_t()
        resolved.access_key = writer.write(settings.accessKey)
        resolved.secret_key = writer.write(settings.secretKey)
        resolved.session_token = writer.write(settings.sessionToken)
        resolved.region = writer.write(settings.region)
        resolved.scheme = writer.write(settings.scheme)
        resolved.host = writer.write(settings.host)
        resolved.external_scheme = writer.write(settings.externalScheme)
        resolved.external_host = writer.write(settings.externalHost)
        resolved.addressing = settings.addressing == .virtual
            ? S3P_ADDRESSING_VIRTUAL : S3P_ADDRESSING_PATH
        resolved.expires = settings.expires
        resolved.window = settings.window
        resolved.cache_identity = writer.write(CacheIdentity.tag(raw, region: settings.region))
        let used = writer.count
        guard !writer.overflowed,
              let prepared = Prepared.write(resolved, into: out + used, cap: cap - used)
        else {
            return "the signing settings do not fit their buffer"
        }
        resolved.prepared = prepared
        resolved.generation = s3p_next_generation()
        signing.pointee = resolved
        return nil
    }

    /// Why a presigned URL lifetime is not one SigV4 allows, or nil.
    static func expiresProblem(_ seconds: Int64) -> String? {
        seconds < 1 || seconds > maxExpires ? "must be between 1s and 7d" : nil
    }

    /// Printable ASCII without spaces: what AWS credentials consist of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        ASCII.isVisible(byte)
    }

    /// Why `region` is not a region name, or nil.  A region name is
    /// lowercase letters, digits and inner hyphens, such as `us-east-1`,
    /// `eu-central-2` or S3-compatible names such as `auto`.
    static func regionProblem<C: Collection<UInt8>>(_ region: C) -> String? {
        guard (1...32).contains(region.count),
              region.first != UInt8(ascii: "-"),
              region.allSatisfy({ ASCII.isLowercaseAlphanumeric($0) || $0 == UInt8(ascii: "-") })
        else {
            return "is not a region name"
        }
        var last = UInt8(0)
        for byte in region { last = byte }
        return last == UInt8(ascii: "-") ? "is not a region name" : nil
    }

    static func isRegion(_ region: [UInt8]) -> Bool {
        regionProblem(region) == nil
    }

    /// Why a scheme is neither empty (not set) nor http or https, or nil.
    static func schemeProblem(_ scheme: [UInt8]) -> String? {
        scheme.isEmpty || scheme == Array("http".utf8) || scheme == Array("https".utf8)
            ? nil : "must be \"http\" or \"https\""
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
                let ok = ASCII.isAlphanumeric(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "_")
                if !ok {
                    return "must be a host name with an optional port"
                }
            }
        }
        if !port.isEmpty || host.last == UInt8(ascii: ":") {
            // A port: 1 to 5 digits, 1-65535.
            guard let value = ASCII.decimal(port, maxDigits: 5) else {
                return "has a port that is not a number"
            }
            guard (1...65_535).contains(value) else {
                return "has a port outside 1-65535"
            }
        }
        return nil
    }
}

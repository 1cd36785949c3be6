// Where a location's credentials come from, decided once, at
// configuration time (s3_proxy_credentials): keys that never change (the
// environment's), a profile of the shared files (watched, as a rotating
// agent rewrites them), or a provider, in the order of the AWS SDKs'
// default chain for `auto`:
//
//   1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
//   2. the profile AWS_PROFILE (else "default") with usable keys in the
//      shared files
//   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, for
//      STS (AWS_ENDPOINT_URL_STS, else https://sts.REGION.amazonaws.com
//      with AWS_DEFAULT_REGION, else us-east-1)
//   4. the container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
//      below http://169.254.170.2, else AWS_CONTAINER_CREDENTIALS_FULL_URI
//   5. IMDS (AWS_EC2_METADATA_SERVICE_ENDPOINT, else
//      http://169.254.169.254), unless AWS_EC2_METADATA_DISABLED is true

internal import CShim

enum Chain {
    enum Found {
        case configured
        case absent
        case problem(String)
    }

    /// Writes `provider` for `raw`; nil, or the problem.
    static func configure(_ raw: s3p_settings_t, _ provider: UnsafeMutablePointer<s3p_provider_t>)
        -> String?
    {
        provider.pointee = s3p_provider_t()
        var text = BufferWriter(base: Provider.text(provider), capacity: Provider.textCapacity)
        if let problem = source(raw, provider, &text) { return problem }
        let problem = Chain.role(raw, provider, &text)
        provider.pointee.text_used = text.count
        return problem
    }

    /// The source the settings name, or the chain's first.
    private static func source(
        _ raw: s3p_settings_t, _ provider: UnsafeMutablePointer<s3p_provider_t>,
        _ text: inout BufferWriter
    ) -> String? {
        provider.pointee.settings = raw
        guard let envp = raw.env else { return "no environment" }
        let env = envp.pointee
        let profile = Chain.profile(raw, env)

        switch raw.credentials {
        case S3P_CREDENTIALS_ENV:
            return fromEnvironment(provider, &text)
        case S3P_CREDENTIALS_PROFILE:
            return fromProfile(profile, env, provider, &text)
        case S3P_CREDENTIALS_WEB_IDENTITY:
            return verdict(webIdentity(env, provider, &text, named: true))
        case S3P_CREDENTIALS_CONTAINER:
            return verdict(container(env, provider, &text, named: true))
        case S3P_CREDENTIALS_IMDS:
            return verdict(imds(env, provider, &text, named: true))
        default:
            if env.access_key_id.len > 0 || env.secret_access_key.len > 0 {
                return fromEnvironment(provider, &text)
            }
            // a profile whose keys are usable, as before the providers
            let files = SharedFiles(env)
            var named = raw
            named.credentials = S3P_CREDENTIALS_PROFILE
            if files.value("role_arn", profile: profile) != nil {
                return fromProfile(profile, env, provider, &text)
            }
            if case .found(var keys) = Credentials.of(named, env: env, files: files) {
                keys.wipe()
                return fromProfile(profile, env, provider, &text)
            }
            for source in [S3P_CREDENTIALS_WEB_IDENTITY, S3P_CREDENTIALS_CONTAINER,
                           S3P_CREDENTIALS_IMDS]
            {
                let found: Found
                switch source {
                case S3P_CREDENTIALS_WEB_IDENTITY:
                    found = webIdentity(env, provider, &text, named: false)
                case S3P_CREDENTIALS_CONTAINER:
                    found = container(env, provider, &text, named: false)
                default:
                    found = imds(env, provider, &text, named: false)
                }
                switch found {
                case .absent: continue
                case .configured: return nil
                case .problem(let problem): return problem
                }
            }
            if case .problem(let problem) = Credentials.of(raw, env: env, files: files) {
                return problem
            }
            return "no credentials"
        }
    }

    /// The environment's keys: stored once, never refreshed, verified.
    private static func fromEnvironment(
        _ provider: UnsafeMutablePointer<s3p_provider_t>, _ text: inout BufferWriter
    ) -> String? {
        provider.pointee.source = S3P_CREDENTIALS_ENV
        let start = text.count
        text.write("env")
        provider.pointee.name = text.str(start, text.count)
        identify(provider, [Bytes.view(provider.pointee.name)])
        return nil
    }

    private static func verdict(_ found: Found) -> String? {
        if case .problem(let problem) = found { return problem }
        return nil
    }

    /// The profile a location names, else AWS_PROFILE, else "default".
    static func profile(_ raw: s3p_settings_t, _ env: s3p_environment_t) -> [UInt8] {
        if raw.profile.len > 0 { return Array(Bytes.view(raw.profile)) }
        if env.profile.len > 0 { return Array(Bytes.view(env.profile)) }
        return Array("default".utf8)
    }

    private static func fromProfile(
        _ profile: [UInt8], _ env: s3p_environment_t,
        _ provider: UnsafeMutablePointer<s3p_provider_t>, _ text: inout BufferWriter
    ) -> String? {
        provider.pointee.source = S3P_CREDENTIALS_PROFILE
        let start = text.count
        text.write("profile=")
        text.write(profile)
        provider.pointee.name = text.str(start, text.count)
        identify(provider, [Bytes.view(provider.pointee.name), Bytes.view(env.credentials_path),
                            Bytes.view(env.config_path)])
        // what rotation reads: the credentials file, and the config file
        // when the keys are not in the credentials file
        provider.pointee.reads.0 = env.credentials_path
        if !SharedFiles(env).keysInCredentialsFile(profile: profile) {
            provider.pointee.reads.1 = env.config_path
        }
        return text.overflowed ? "the profile name is too long" : nil
    }

    private static func webIdentity(
        _ env: s3p_environment_t, _ provider: UnsafeMutablePointer<s3p_provider_t>,
        _ text: inout BufferWriter, named: Bool
    ) -> Found {
        guard env.web_identity_token_file.len > 0, env.role_arn.len > 0 else {
            return named ? .problem("\"s3_proxy_credentials web-identity\" requires "
                                    + "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN in "
                                    + "the environment") : .absent
        }
        var url: [UInt8]
        if env.sts_endpoint.len > 0 {
            url = Array(Bytes.view(env.sts_endpoint))
        } else {
            url = Array("https://sts.".utf8)
            url += env.default_region.len > 0 ? Array(Bytes.view(env.default_region))
                : Array("us-east-1".utf8)
            url += Array(".amazonaws.com".utf8)
        }
        provider.pointee.reads.0 = text.write(Bytes.view(env.web_identity_token_file))
        text.write(0)
        return endpoint(S3P_CREDENTIALS_WEB_IDENTITY, "web-identity", url, env, provider,
                        &text, role: Bytes.view(env.role_arn))
    }

    private static func container(
        _ env: s3p_environment_t, _ provider: UnsafeMutablePointer<s3p_provider_t>,
        _ text: inout BufferWriter, named: Bool
    ) -> Found {
        let url: [UInt8]
        if env.container_relative_uri.len > 0 {
            url = Array("http://169.254.170.2".utf8) + Array(Bytes.view(env.container_relative_uri))
        } else if env.container_full_uri.len > 0 {
            url = Array(Bytes.view(env.container_full_uri))
        } else {
            return named ? .problem("\"s3_proxy_credentials container\" requires "
                                    + "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or "
                                    + "AWS_CONTAINER_CREDENTIALS_FULL_URI in the environment")
                : .absent
        }
        if env.container_token_file.len > 0 {
            provider.pointee.reads.0 = text.write(Bytes.view(env.container_token_file))
            text.write(0)
        }
        return endpoint(S3P_CREDENTIALS_CONTAINER, "container", url, env, provider, &text)
    }

    private static func imds(
        _ env: s3p_environment_t, _ provider: UnsafeMutablePointer<s3p_provider_t>,
        _ text: inout BufferWriter, named: Bool
    ) -> Found {
        if Environment.isTrue(env.imds_disabled) {
            return named ? .problem("\"s3_proxy_credentials imds\": "
                                    + "AWS_EC2_METADATA_DISABLED is true") : .absent
        }
        provider.pointee.v1 = Environment.isTrue(env.imds_v1_disabled) ? 0 : 1
        let url = env.imds_endpoint.len > 0 ? Array(Bytes.view(env.imds_endpoint))
            : Array("http://169.254.169.254".utf8)
        return endpoint(S3P_CREDENTIALS_IMDS, "imds", url, env, provider, &text)
    }

    /// The provider's endpoint, its name and id.
    private static func endpoint(
        _ source: s3p_credentials_source_t, _ name: StaticString, _ url: [UInt8],
        _ env: s3p_environment_t, _ provider: UnsafeMutablePointer<s3p_provider_t>,
        _ text: inout BufferWriter, role: UnsafeBufferPointer<UInt8> = Bytes.empty
    ) -> Found {
        let label = name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
        let parsed = url.withUnsafeBufferPointer { ProviderURL($0) }
        guard let parsed else {
            return .problem("the " + label + " endpoint \"" + String(decoding: url, as: UTF8.self)
                            + "\" is not an http:// or https:// URL with a host")
        }
        provider.pointee.source = source
        let start = text.count
        text.write(name)
        provider.pointee.name = text.str(start, text.count)
        provider.pointee.targets.0 = target(url, parsed, env, provider, &text)
        identify(provider, [Bytes.view(provider.pointee.name),
                            Bytes.view(provider.pointee.targets.0.url), role])
        guard !text.overflowed else {
            return .problem("the " + label + " endpoint is too long")
        }
        return .configured
    }

    /// A host to exchange with, written into the provider's text; with
    /// https, the CA bundle too, unless the provider has one.
    static func target(
        _ url: [UInt8], _ parsed: ProviderURL, _ env: s3p_environment_t,
        _ provider: UnsafeMutablePointer<s3p_provider_t>, _ text: inout BufferWriter
    ) -> s3p_target_t {
        var target = s3p_target_t()
        target.url = text.write(url)
        target.host = text.write(Array(url[parsed.host]))
        text.write(0)
        target.port = parsed.port
        target.tls = parsed.tls ? 1 : 0
        if parsed.tls && provider.pointee.ca_bundle.len == 0 {
            let start = text.count
            if env.ca_bundle.len > 0 {
                text.write(env.ca_bundle)
            } else {
                text.write("/etc/ssl/certs/ca-certificates.crt")
            }
            provider.pointee.ca_bundle = text.str(start, text.count)
            text.write(0)
        }
        return target
    }

    /// STS for a role: AWS_ENDPOINT_URL_STS, else the regional endpoint of
    /// `region` (the partition's domain: amazonaws.com, or .com.cn).
    static func stsURL(_ env: s3p_environment_t, region: [UInt8], arn: [UInt8]) -> [UInt8] {
        if env.sts_endpoint.len > 0 { return Array(Bytes.view(env.sts_endpoint)) }
        let china = arn.starts(with: Array("arn:aws-cn:".utf8))
        return Array("https://sts.".utf8) + region
            + Array((china ? ".amazonaws.com.cn" : ".amazonaws.com").utf8)
    }

    /// The role a location assumes with its source's keys: the
    /// directive's role=, else the profile's role_arn (with its
    /// source_profile or credential_source, as the AWS CLI reads them).
    private static func role(
        _ raw: s3p_settings_t, _ provider: UnsafeMutablePointer<s3p_provider_t>,
        _ text: inout BufferWriter
    ) -> String? {
        guard let env = raw.env?.pointee else { return "no environment" }
        var params: [[UInt8]] = [Array(Bytes.view(raw.role.0)), Array(Bytes.view(raw.role.1)),
                                 Array(Bytes.view(raw.role.2)), Array(Bytes.view(raw.role.3))]
        let profile = Chain.profile(raw, env)
        let files = SharedFiles(env)
        if params[0].isEmpty {
            // a profile's role: only for the profile the location signs with
            guard provider.pointee.source == S3P_CREDENTIALS_PROFILE,
                  let arn = files.value("role_arn", profile: profile)
            else { return nil }
            params[0] = arn
            params[1] = files.value("external_id", profile: profile) ?? []
            params[2] = files.value("role_session_name", profile: profile) ?? []
            params[3] = files.value("duration_seconds", profile: profile) ?? []
            let label = "profile \"" + String(decoding: profile, as: UTF8.self) + "\": "
            for (i, key) in ["role_arn", "external_id", "role_session_name", "duration_seconds"]
                .enumerated() where !params[i].isEmpty
            {
                if let problem = RoleParameters.problem(i, params[i]) {
                    return label + key + " " + problem
                }
            }
            // the keys that assume it
            if let base = files.value("source_profile", profile: profile) {
                guard files.value("role_arn", profile: base) == nil else {
                    return label + "source_profile \"" + String(decoding: base, as: UTF8.self)
                        + "\" assumes a role itself: chained roles are not supported"
                }
                guard files.hasKeys(profile: base) else {
                    return label + "source_profile \"" + String(decoding: base, as: UTF8.self)
                        + "\" has no aws_access_key_id"
                }
                provider.pointee.settings.profile = text.write(base)
                provider.pointee.reads.1 = env.config_path
            } else if let source = files.value("credential_source", profile: profile) {
                var found: Found
                var scratch = text
                provider.pointee.reads = (s3p_str_t(), s3p_str_t())
                switch source {
                case Array("Environment".utf8):
                    provider.pointee.source = S3P_CREDENTIALS_ENV
                    provider.pointee.reads = (s3p_str_t(), s3p_str_t())
                    found = .configured
                case Array("Ec2InstanceMetadata".utf8):
                    found = imds(env, provider, &scratch, named: true)
                case Array("EcsContainer".utf8):
                    found = container(env, provider, &scratch, named: true)
                default:
                    return label + "credential_source must be Environment, "
                        + "Ec2InstanceMetadata or EcsContainer"
                }
                if case .problem(let problem) = found { return label + problem }
                text = scratch
                // the profile's name stays the provider's
                let start = text.count
                text.write("profile=")
                text.write(profile)
                provider.pointee.name = text.str(start, text.count)
            } else {
                return label + "role_arn needs source_profile or credential_source"
            }
        }
        if provider.pointee.source == S3P_CREDENTIALS_ENV {
            // the environment's keys assume the role: they must be usable
            var base = raw
            base.credentials = S3P_CREDENTIALS_ENV
            base.role = (s3p_str_t(), s3p_str_t(), s3p_str_t(), s3p_str_t())
            if case .problem(let problem) = Credentials.of(base, env: env, files: files) {
                return problem
            }
            if provider.pointee.name.len == 0 {
                let start = text.count
                text.write("env")
                provider.pointee.name = text.str(start, text.count)
            }
        }
        provider.pointee.settings.role = (s3p_str_t(), s3p_str_t(), s3p_str_t(), s3p_str_t())
        provider.pointee.assume = 1
        provider.pointee.assume_role.0 = text.write(params[0])
        provider.pointee.assume_role.1 = text.write(params[1])
        provider.pointee.assume_role.2 = text.write(params[2])
        provider.pointee.assume_duration = params[3].isEmpty ? 0
            : RoleParameters.duration(params[3]) ?? 0

        // the name: the source's, and the role
        var start = text.count
        text.write(provider.pointee.name)
        text.write(" role=")
        text.write(params[0])
        provider.pointee.name = text.str(start, text.count)

        // STS, signed for the settings' region
        var region = Array(Bytes.view(raw.region))
        if region.isEmpty { region = Array(Bytes.view(env.region)) }
        if region.isEmpty { region = Array(Bytes.view(env.default_region)) }
        if region.isEmpty { region = Array("us-east-1".utf8) }
        start = text.count
        text.write(region)
        provider.pointee.sts_region = text.str(start, text.count)
        let url = stsURL(env, region: region, arn: params[0])
        guard let parsed = url.withUnsafeBufferPointer({ ProviderURL($0) }) else {
            return "the STS endpoint \"" + String(decoding: url, as: UTF8.self)
                + "\" is not an http:// or https:// URL with a host"
        }
        provider.pointee.targets.1 = target(url, parsed, env, provider, &text)
        identify(provider, [Bytes.view(provider.pointee.name),
                            Bytes.view(provider.pointee.targets.0.url),
                            Bytes.view(provider.pointee.targets.1.url),
                            Bytes.view(provider.pointee.settings.profile),
                            Bytes.view(provider.pointee.assume_role.1),
                            Bytes.view(provider.pointee.assume_role.2),
                            Bytes.view(env.credentials_path), Bytes.view(env.config_path)])
        guard !text.overflowed else { return "the role's settings are too long" }
        return nil
    }

    /// The id: SHA-256 of what names the provider, whatever its length.
    private static func identify(
        _ provider: UnsafeMutablePointer<s3p_provider_t>, _ parts: [UnsafeBufferPointer<UInt8>]
    ) {
        _ = Digest.sha256(into: Provider.id(provider)) { feeder in
            for part in parts {
                feeder.feed(part)
                feeder.feed("\n")
            }
        }
    }

    /// Why a provider's endpoint cannot be used, named: an unresolved
    /// host by its target, the CA bundle and TLS by the first https one;
    /// or a file it reads, which the workers' user `why` cannot open; an
    /// S3 target not resolved now only leaves the keys unverified.
    static func endpointProblem(
        _ p: s3p_provider_t, _ problem: s3p_endpoint_problem_t, _ target: Int, _ why: String
    ) -> String {
        let targets = [p.targets.0, p.targets.1, p.targets.2]
        let named = problem == S3P_ENDPOINT_UNRESOLVED && target >= 0 && target < targets.count
            ? targets[target] : targets.first { $0.tls != 0 } ?? targets[0]
        let endpoint = "the " + String(decoding: Bytes.view(p.name), as: UTF8.self)
            + " endpoint \"" + String(decoding: Bytes.view(named.url), as: UTF8.self) + "\""
        if problem == S3P_ENDPOINT_CA_BUNDLE {
            return endpoint + ": the CA bundle \""
                + String(decoding: Bytes.view(p.ca_bundle), as: UTF8.self)
                + "\" (AWS_CA_BUNDLE, or the system's) cannot be loaded"
        }
        if problem == S3P_ENDPOINT_NO_TLS { return endpoint + " needs nginx built with SSL" }
        if problem == S3P_ENDPOINT_UNRESOLVED && target == Int(S3P_TARGET_S3) {
            return "\"" + String(decoding: Bytes.view(named.url), as: UTF8.self)
                + "\" cannot be resolved now: the keys are not verified with S3"
        }
        if problem == S3P_ENDPOINT_UNREADABLE {
            let file = target == 1 ? p.reads.1 : p.reads.0
            let user = "\"" + why + "\""
            return "the worker processes' user " + user + " cannot read \""
                + String(decoding: Bytes.view(file), as: UTF8.self)
                + "\", which credentials from \""
                + String(decoding: Bytes.view(p.name), as: UTF8.self)
                + "\" are refreshed from: they will not rotate; make the file and its"
                + " directories readable by " + user + ", or name a file it can read"
        }
        return endpoint + ": " + why
    }

    /// Plain http to a container's full URI: only to a loopback or
    /// link-local address (EKS Pod Identity's fd00:ec2::23 included), as
    /// the SDKs allow it.
    static func addressProblem(_ provider: s3p_provider_t, _ a: UnsafeBufferPointer<UInt8>)
        -> String?
    {
        guard provider.source == S3P_CREDENTIALS_CONTAINER, provider.targets.0.tls == 0,
              let env = provider.settings.env, env.pointee.container_relative_uri.len == 0
        else { return nil }
        let local: Bool
        if a.count == 4 {
            local = a[0] == 127 || (a[0] == 169 && a[1] == 254)
        } else if a.count == 16 {
            let loopback = a[0..<15].allSatisfy { $0 == 0 } && a[15] == 1
            let linkLocal = a[0] == 0xfe && (a[1] & 0xc0) == 0x80
            let podIdentity = a[0] == 0xfd && a[1] == 0 && a[2] == 0x0e && a[3] == 0xc2
            local = loopback || linkLocal || podIdentity
        } else {
            local = false
        }
        if local { return nil }
        return "AWS_CONTAINER_CREDENTIALS_FULL_URI \""
            + String(decoding: Bytes.view(provider.targets.0.url), as: UTF8.self)
            + "\" must be https, or name a loopback or link-local host"
    }
}

/// A provider's URL: http:// or https://, a host (a bracketed IPv6
/// address, or a name), a port, and a path (with its query).
struct ProviderURL {
    var tls: Bool
    var host: Range<Int>
    var port: UInt32
    var explicitPort: Bool
    var path: Range<Int>

    init?(_ url: UnsafeBufferPointer<UInt8>) {
        var i: Int
        if ASCII.hasPrefixIgnoringCase(url, "https://") {
            tls = true
            i = 8
        } else if ASCII.hasPrefixIgnoringCase(url, "http://") {
            tls = false
            i = 7
        } else {
            return nil
        }
        var end = i
        while end < url.count && url[end] != UInt8(ascii: "/") && url[end] != UInt8(ascii: "?") {
            end += 1
        }
        path = end..<url.count
        var hostEnd = end
        if i < end && url[i] == UInt8(ascii: "[") {
            guard let close = url[i..<end].firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostEnd = close + 1
        } else if let colon = url[i..<end].lastIndex(of: UInt8(ascii: ":")) {
            hostEnd = colon
        }
        host = i..<hostEnd
        guard !host.isEmpty else { return nil }
        for byte in url[host] where byte <= 0x20 || byte >= 0x7f || byte == UInt8(ascii: "@") {
            return nil
        }
        port = tls ? 443 : 80
        explicitPort = hostEnd < end
        if explicitPort {
            guard url[hostEnd] == UInt8(ascii: ":"),
                  let n = ASCII.decimal(Array(url[(hostEnd + 1)..<end])[...]), n > 0, n < 65536
            else { return nil }
            port = UInt32(n)
        }
    }
}

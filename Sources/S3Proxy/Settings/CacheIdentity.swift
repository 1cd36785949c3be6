// Whose credentials sign a location's requests, for the cache key
// ($s3_proxy_cache_key): two locations share a cached answer only if
// they sign alike.  S3 may answer two key pairs differently for the same
// URL (a policy that refuses one of them a prefix), so the key names the
// credentials' identity: their source and what names them there (a
// profile and its files, a role, a provider's endpoint; the access key id
// of keys from the environment), never the secret.  The identity stays
// the same when a provider's keys rotate, so rotation keeps the cache.
//
// Written as `<source>:<12 hex digits of SHA-256 of the identity>`.

internal import CShim

enum CacheIdentity {
    /// `<region> <source>:<hash>`: s3p_signing_t's cache_identity.
    static func tag(_ raw: s3p_settings_t, region: [UInt8]) -> [UInt8] {
        let env = raw.env?.pointee ?? s3p_environment_t()
        let source: StaticString
        var parts: [[UInt8]] = []
        switch raw.credentials {
        case S3P_CREDENTIALS_PROFILE:
            source = "profile"
            parts = [Chain.profile(raw, env), Array(Bytes.view(env.credentials_path)),
                     Array(Bytes.view(env.config_path))]
        case S3P_CREDENTIALS_WEB_IDENTITY:
            source = "web-identity"
            parts = [Array(Bytes.view(env.role_arn)), Array(Bytes.view(env.sts_endpoint)),
                     Array(Bytes.view(env.web_identity_token_file))]
        case S3P_CREDENTIALS_CONTAINER:
            source = "container"
            parts = [Array(Bytes.view(env.container_relative_uri)),
                     Array(Bytes.view(env.container_full_uri))]
        case S3P_CREDENTIALS_IMDS:
            source = "imds"
            parts = [Array(Bytes.view(env.imds_endpoint))]
        case S3P_CREDENTIALS_ENV:
            source = "env"
            parts = [Array(Bytes.view(env.access_key_id))]
        default:
            source = "auto"
            parts = [Array(Bytes.view(env.access_key_id)), Chain.profile(raw, env)]
        }
        // A role assumed with those keys (role=, external_id=, ...) is an
        // identity of its own: two roles from one base never share.
        let role = Bytes.view(raw.role.0)
        if !role.isEmpty {
            parts.append(Array("role".utf8))
            withUnsafeBytes(of: raw.role) { tuple in
                let params = tuple.bindMemory(to: s3p_str_t.self)
                for param in params { parts.append(Array(Bytes.view(param))) }
            }
        }
        var digest = [UInt8](repeating: 0, count: 32)
        _ = digest.withUnsafeMutableBufferPointer { out -> Bool in
            guard let base = out.baseAddress else { return false }
            return Digest.sha256(into: base) { feeder in
                feeder.feed(source)
                for part in parts {
                    feeder.feed("\n")
                    part.withUnsafeBufferPointer { feeder.feed($0) }
                }
            }
        }
        var tag = region
        tag.append(UInt8(ascii: " "))
        source.withUTF8Buffer { tag.append(contentsOf: $0) }
        if !role.isEmpty { tag.append(contentsOf: Array("+role".utf8)) }
        tag.append(UInt8(ascii: ":"))
        Hex.appendLower(digest[0..<6], to: &tag)
        return tag
    }
}

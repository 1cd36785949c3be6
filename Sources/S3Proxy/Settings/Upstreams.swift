// The upstreams a location's proxied requests go to, so that nginx keeps
// connections to them: one upstream{} block per host, with keepalive.
//
// proxy_pass with a variable looks the URL's host up among the
// configuration's upstreams, and matches an upstream{} block (which has no
// port of its own) only to a URL without a port.  So a host on its
// scheme's default port names its upstream itself (what the operator's own
// upstream{} of that name overrides), and a host with a port of its own is
// named "<host>_<port>" in the URL, which its upstream{} block is named
// after; the Host header and the signature keep "<host>:<port>".

internal import CShim

enum Upstreams {
    /// Where the port of a resolved host ("[<bucket>.]host[:port]") starts,
    /// its `:`; nil without a port, or for an IPv6 address, which no
    /// upstream name can stand for with a port.
    static func portColon(_ host: UnsafeBufferPointer<UInt8>) -> Int? {
        if host.first == UInt8(ascii: "[") { return nil }
        return host.lastIndex(of: UInt8(ascii: ":"))
    }

    /// The upstreams of a location's raw settings: the endpoint's host
    /// with path-style addressing; with virtual-hosted addressing
    /// "<bucket>.<host>" for its own bucket, else for each of `buckets`.
    /// nil when the settings do not resolve or the output does not fit
    /// (`space` tells which).
    static func write(
        _ raw: s3p_settings_t, bucket: s3p_str_t, buckets: UnsafeBufferPointer<s3p_str_t>,
        into out: UnsafeMutableBufferPointer<s3p_upstream_t>, writer: inout BufferWriter,
        space: inout Bool
    ) -> Int? {
        let env = raw.env?.pointee ?? s3p_environment_t()
        let files = SharedFiles(env)
        guard case .found(let endpoint) = Settings.proxyEndpoint(
            raw, env: env, files: files, profile: Credentials.profileName(raw, env: env))
        else {
            return nil
        }
        let host = Settings.canonicalHost(endpoint.host, scheme: endpoint.scheme)
        let port: [UInt8] = endpoint.scheme == Array("http".utf8)
            ? Array(":80".utf8) : Array(":443".utf8)
        var prefixes: [[UInt8]] = []
        if raw.addressing != S3P_ADDRESSING_VIRTUAL {
            prefixes.append([])
        } else if bucket.len > 0 {
            prefixes.append(Array(Bytes.view(bucket)) + [UInt8(ascii: ".")])
        } else {
            for b in buckets { prefixes.append(Array(Bytes.view(b)) + [UInt8(ascii: ".")]) }
        }
        let colon = host.withUnsafeBufferPointer { portColon($0) }
        if colon == nil && host.first == UInt8(ascii: "[") && host.last != UInt8(ascii: "]") {
            return 0    // an IPv6 address with a port
        }
        var count = 0
        for prefix in prefixes {
            guard count < out.count else {
                space = true
                return nil
            }
            var name = prefix + host
            var server = name
            if let colon {
                name[prefix.count + colon] = UInt8(ascii: "_")
            } else {
                server += port
            }
            out[count] = s3p_upstream_t(name: writer.write(name), server: writer.write(server))
            if writer.overflowed {
                space = true
                return nil
            }
            count += 1
        }
        return count
    }
}

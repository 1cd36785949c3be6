// The upstreams a location's proxied requests go to, so that nginx keeps
// connections to them: one upstream{} block per host, with keepalive,
// written as configuration for nginx to read in the http block.
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
    /// Idle connections kept per worker and upstream.
    static let keepalive = "32"

    /// The shared zone of an upstream that resolves its name at run time.
    static let zoneSize = "64k"

    /// Where the port of a resolved host ("[<bucket>.]host[:port]") starts,
    /// its `:`; nil without a port, or for an IPv6 address, which no
    /// upstream name can stand for with a port.
    static func portColon<C: BidirectionalCollection<UInt8>>(_ host: C) -> C.Index? {
        if host.first == UInt8(ascii: "[") { return nil }
        return host.lastIndex(of: UInt8(ascii: ":"))
    }

    /// `host` ("name[:port]", "[v6][:port]") without its port.
    static func hostName(_ host: [UInt8]) -> [UInt8] {
        if host.first == UInt8(ascii: "["),
           let close = host.firstIndex(of: UInt8(ascii: "]"))
        {
            return Array(host[...close])
        }
        guard let colon = portColon(host) else { return host }
        return Array(host[..<colon])
    }

    /// Whether a host name (without its port) is an address, which nginx
    /// connects to without resolving it: "[v6]", or IPv4's four decimal
    /// parts, as ngx_parse_url() reads them.
    static func isAddress(_ name: [UInt8]) -> Bool {
        if name.first == UInt8(ascii: "[") { return true }
        let parts = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy {
            (ASCII.decimal($0, maxDigits: 3) ?? 256) <= 255
        }
    }

    /// The upstreams of a location's raw settings: the endpoint's host
    /// with path-style addressing; with virtual-hosted addressing
    /// "<bucket>.<host>" for its own bucket, else for each of `buckets`.
    /// With `resolve`, a name is re-resolved at run time.  nil when the
    /// settings do not resolve or the output does not fit (`space` tells
    /// which).
    static func write(
        _ raw: s3p_settings_t, bucket: s3p_str_t, buckets: UnsafeBufferPointer<s3p_str_t>,
        resolve: Bool, into out: UnsafeMutableBufferPointer<s3p_upstream_t>,
        writer: inout BufferWriter, space: inout Bool
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
        let colon = portColon(host)
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
            let named = resolve && !isAddress(hostName(server))
            out[count] = s3p_upstream_t(
                name: writer.write(name), server: writer.write(server),
                block: writer.write(block(name, server, resolve: named)))
            if writer.overflowed {
                space = true
                return nil
            }
            count += 1
        }
        return count
    }

    /// The upstream{} block of one host, then the "}" that ends what nginx
    /// reads (s3_proxy_core.h).
    static func block(_ name: [UInt8], _ server: [UInt8], resolve: Bool) -> [UInt8] {
        var text = Array("upstream ".utf8) + name + Array(" {\n    server ".utf8) + server
        if resolve {
            text += Array(" resolve;\n    zone s3_proxy:".utf8) + name
            text += Array((" " + zoneSize + ";\n").utf8)
        } else {
            text += Array(";\n".utf8)
        }
        text += Array(("    keepalive " + keepalive + ";\n}\n}\n").utf8)
        return text
    }

    /// The host a location reaches by name without an upstream{} for it,
    /// which then takes a "resolver"; nil when it reaches only addresses
    /// or upstreams.  With virtual-hosted addressing and no bucket of its
    /// own, requests name "<bucket>.<host>" for any bucket: named by its
    /// endpoint ("host[:port]").
    static func namedHost(_ conf: s3p_config_t, _ signing: s3p_signing_t) -> [UInt8]? {
        if conf.upstreams != 0 { return nil }
        let endpoint = Array(Bytes.view(signing.host))
        let host = hostName(endpoint)
        if signing.addressing != S3P_ADDRESSING_VIRTUAL {
            return isAddress(host) ? nil : host
        }
        if conf.bucket.len == 0 { return endpoint }
        return Array(Bytes.view(conf.bucket)) + [UInt8(ascii: ".")] + host
    }
}

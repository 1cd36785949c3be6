// s3p_upstreams(): the upstream{} blocks nginx declares for a location's
// hosts, and the URL that names them (SignedHeaders with `upstreams`).
// The names follow nginx's lookup (ngx_http_upstream_init_request()): an
// upstream{} block matches only a URL without a port.

import CShim
import Testing
@testable import S3Proxy

/// A C array of `items`, kept for the test's life.
private func list(_ items: [s3p_str_t]) -> UnsafeMutablePointer<s3p_str_t> {
    let list = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: max(items.count, 1))
    list.initialize(from: items, count: items.count)
    return list
}

/// s3p_upstreams() with memory of its own: its status and its entries.
private func declared(
    _ raw: s3p_settings_t, bucket: s3p_str_t = s3p_str_t(), resolve: Int32 = 0,
    tried: [s3p_str_t] = []
) -> (Int32, [s3p_upstream_t]) {
    var raw = raw
    raw.bucket = bucket
    var out: UnsafeMutablePointer<s3p_upstream_t>? = nil
    var count = 0
    let alloc: s3p_alloc_t = { _, size in UnsafeMutablePointer<UInt8>.allocate(capacity: size) }
    let status = tried.withUnsafeBufferPointer {
        s3p_upstreams(&raw, resolve, $0.baseAddress, $0.count, alloc, nil, &out, &count)
    }
    return (status, out.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
}

@Suite struct UpstreamsTests {

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let endpoint: String          // s3_proxy_endpoint; "" : env's
        let envHost: String
        let envScheme: String
        let virtual: Bool
        let bucket: String
        let buckets: [String]
        /// "name server" per upstream
        let expected: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "AWS's default endpoint for the env's region", endpoint: "",
             envHost: "", envScheme: "", virtual: false, bucket: "", buckets: [],
             expected: ["s3.eu-west-1.amazonaws.com s3.eu-west-1.amazonaws.com:443"]),
        Case(name: "a port of its own", endpoint: "", envHost: "127.0.0.1:9000",
             envScheme: "http", virtual: false, bucket: "", buckets: [],
             expected: ["127.0.0.1_9000 127.0.0.1:9000"]),
        Case(name: "the scheme's own port is left out", endpoint: "http://Minio.Local:80",
             envHost: "", envScheme: "", virtual: false, bucket: "", buckets: [],
             expected: ["minio.local minio.local:80"]),
        Case(name: "virtual hosts of an allowlist", endpoint: "https://s3.example:8443",
             envHost: "", envScheme: "", virtual: true, bucket: "", buckets: ["a", "b.c"],
             expected: ["a.s3.example_8443 a.s3.example:8443",
                        "b.c.s3.example_8443 b.c.s3.example:8443"]),
        Case(name: "the location's own bucket first", endpoint: "s3.example",
             envHost: "", envScheme: "", virtual: true, bucket: "own", buckets: ["a"],
             expected: ["own.s3.example own.s3.example:443"]),
        Case(name: "any bucket: hosts not known yet", endpoint: "s3.example",
             envHost: "", envScheme: "", virtual: true, bucket: "", buckets: [],
             expected: []),
        Case(name: "IPv6 with a port: none", endpoint: "http://[::1]:9000",
             envHost: "", envScheme: "", virtual: false, bucket: "", buckets: [],
             expected: []),
        Case(name: "IPv6 on the default port", endpoint: "http://[::1]",
             envHost: "", envScheme: "", virtual: false, bucket: "", buckets: [],
             expected: ["[::1] [::1]:80"]),
    ]

    @Test(arguments: cases) func upstreams(_ c: Case) {
        let memory = CMemory()
        var env = s3p_environment_t()
        env.host = memory.str(c.envHost)
        env.scheme = memory.str(c.envScheme)
        env.region = memory.str("eu-west-1")
        var raw = s3p_settings_t()
        raw.endpoint = memory.str(c.endpoint)
        raw.addressing = c.virtual ? S3P_ADDRESSING_VIRTUAL : S3P_ADDRESSING_PATH
        raw.env = UnsafePointer(memory.store(env))
        let buckets = c.buckets.map { memory.str($0) }
        if !buckets.isEmpty {
            raw.buckets = UnsafePointer(list(buckets))
            raw.nbuckets = buckets.count
        }
        let (status, out) = declared(raw, bucket: memory.str(c.bucket))
        let count = out.count
        #expect(status == S3P_OK)
        let got = (0..<count).map {
            text(out[$0].name.bytes) + " " + text(out[$0].server.bytes)
        }
        #expect(got == c.expected)
    }

    // No memory is S3P_E_SPACE; settings that do not resolve, S3P_E_CONFIG.
    @Test func noMemoryIsSpaceAndBadSettingsAreConfig() {
        let memory = CMemory()
        var env = s3p_environment_t()
        env.host = memory.str("s3.example")
        var raw = s3p_settings_t()
        raw.env = UnsafePointer(memory.store(env))
        var out: UnsafeMutablePointer<s3p_upstream_t>? = nil
        var count = 0
        let nothing: s3p_alloc_t = { _, _ in nil }
        #expect(s3p_upstreams(&raw, 0, nil, 0, nothing, nil, &out, &count)
                == S3P_E_SPACE)
        raw.endpoint = memory.str("ftp://s3.example")
        #expect(declared(raw).0 == S3P_E_CONFIG)
    }

    // Without s3_proxy_buckets, the hosts of S3_PROXY_BUCKETS's names, as
    // the location's allowlist takes them.
    @Test func theEnvironmentsAllowlistWithoutOneOfItsOwn() {
        let memory = CMemory()
        var env = s3p_environment_t()
        env.host = memory.str("s3.example")
        env.buckets = memory.str("x, y")
        var raw = s3p_settings_t()
        raw.addressing = S3P_ADDRESSING_VIRTUAL
        raw.env = UnsafePointer(memory.store(env))
        let (status, out) = declared(raw)
        #expect(status == S3P_OK)
        #expect(out.map { text($0.name.bytes) } == ["x.s3.example", "y.s3.example"])
    }

    // A host C tried before (its name did not resolve, and was warned
    // about) is not offered again; the others are.
    @Test func hostsTriedBeforeAreLeftOut() {
        let memory = CMemory()
        var env = s3p_environment_t()
        env.host = memory.str("s3.example")
        var raw = s3p_settings_t()
        raw.addressing = S3P_ADDRESSING_VIRTUAL
        raw.env = UnsafePointer(memory.store(env))
        raw.buckets = UnsafePointer(list([memory.str("a"), memory.str("b"), memory.str("c")]))
        raw.nbuckets = 3
        let (status, out) = declared(
            raw, tried: [memory.str("b.s3.example"), memory.str("s3.example")])
        #expect(status == S3P_OK)
        #expect(out.map { text($0.name.bytes) } == ["a.s3.example", "c.s3.example"])
    }

    // The block nginx reads: "resolve" and a zone only for a name, and
    // only when the caller can resolve at run time (nginx 1.27.3's
    // "server ... resolve" needs the upstream in shared memory).
    @Test(arguments: [
        ("http://s3.example:9000", Int32(1),
         "upstream s3.example_9000 {\n    server s3.example:9000 resolve;\n"
         + "    zone s3_proxy:s3.example_9000 64k;\n    keepalive 32;\n}\n}\n"),
        ("http://s3.example:9000", Int32(0),
         "upstream s3.example_9000 {\n    server s3.example:9000;\n"
         + "    keepalive 32;\n}\n}\n"),
        ("https://10.1.2.3", Int32(1),
         "upstream 10.1.2.3 {\n    server 10.1.2.3:443;\n    keepalive 32;\n}\n}\n"),
        ("http://[::1]", Int32(1),
         "upstream [::1] {\n    server [::1]:80;\n    keepalive 32;\n}\n}\n"),
    ])
    func block(_ endpoint: String, _ resolve: Int32, _ expected: String) {
        let memory = CMemory()
        var raw = s3p_settings_t()
        raw.endpoint = memory.str(endpoint)
        raw.env = UnsafePointer(memory.store(s3p_environment_t()))
        let (status, out) = declared(raw, resolve: resolve)
        #expect(status == S3P_OK)
        #expect(out.count == 1)
        #expect(out.first.map { text($0.block.bytes) } == expected)
    }

    @Test(arguments: [("10.1.2.3", true), ("[::1]", true), ("1.2.3", false),
                      ("1.2.3.256", false), ("s3.example", false), ("a.1.2.3.4", false)])
    func address(_ name: String, _ expected: Bool) {
        #expect(Upstreams.isAddress(Array(name.utf8)) == expected)
    }

    // A host reached by name, with no upstream{} of its own, takes a
    // "resolver": nginx would find out only at the first request.
    @Test(arguments: [
        ("s3.internal:9000", false, "", 0, 0, "\"s3.internal\" by name"),
        ("s3.internal:9000", false, "", 1, 0, nil),
        ("s3.internal:9000", false, "", 0, 1, nil),
        ("10.1.2.3:9000", false, "", 0, 0, nil),
        ("[::1]:9000", false, "", 0, 0, nil),
        ("10.1.2.3:9000", true, "", 0, 0, "\"10.1.2.3:9000\" by name"),
        ("10.1.2.3:9000", true, "own", 0, 0, "\"own.10.1.2.3\" by name"),
    ] as [(String, Bool, String, Int32, Int32, String?)])
    func resolverCheck(_ host: String, _ virtual: Bool, _ bucket: String,
                       _ resolver: Int32, _ upstreams: Int32, _ expected: String?)
    {
        let memory = CMemory()
        var signing = CAPITests.signing(memory)
        signing.host = host
        signing.addressing = virtual ? S3P_ADDRESSING_VIRTUAL : S3P_ADDRESSING_PATH
        var conf = s3p_config_t()
        conf.signing = memory.resolve(signing)
        conf.bucket = memory.str(bucket)
        conf.resolver = resolver
        conf.upstreams = upstreams
        var message = [UInt8](repeating: 0, count: 256)
        let status = s3p_config_check(&conf, &message, message.count)
        if let expected {
            #expect(status == S3P_E_CONFIG)
            let said = text(message.prefix { $0 != 0 })
            #expect(said.contains(expected) && said.contains("add a \"resolver\""))
        } else {
            #expect(status == S3P_OK)
        }
    }

    // With the location's upstreams in place, a proxied URL names the
    // host's upstream; the Host header and the signature stay those of
    // "<host>:<port>", as S3 receives them.
    @Test func proxiedURLNamesTheUpstream() {
        let memory = CMemory()
        var conf = CAPITests.config(memory)          // s3.internal:9000
        var request = CAPITests.request(memory, "GET", "/bkt/dir/")
        var plain = s3p_result_t()
        #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &plain) == S3P_OK)
        #expect(plain.action == S3P_ACTION_PROXY)
        let url = text(plain.url.bytes)
        #expect(url.hasPrefix("https://s3.internal:9000/bkt/dir/"))

        let bound = s3p_output_bound(&conf, &request)
        conf.upstreams = 1
        var named = s3p_result_t()
        #expect(s3p_output_bound(&conf, &request) > bound)
        #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &named) == S3P_OK)
        #expect(text(named.url.bytes)
                == "https://s3.internal_9000" + url.dropFirst("https://s3.internal:9000".count))
        #expect(text(named.host.bytes) == "s3.internal:9000")
        #expect(text(named.authorization.bytes) == text(plain.authorization.bytes))
    }
}

// s3p_settings_directive(), s3p_settings_merge() and
// s3p_config_settings(): a location directive read where it stands into
// the raw settings, inherited, and turned into the location's settings.
//
// Source of the rules: nginx's slot setters and ngx_parse_time()
// (src/core/ngx_conf_file.c, src/core/ngx_parse.c: "is duplicate",
// "invalid value", the flag and bitmask messages, time units y M w d h m
// s from the largest down), and README's directive reference (lists
// "space- or comma-separated", defaults).

import CShim
import Testing
@testable import S3Proxy

/// s3p_alloc_t over the CMemory passed as `data`.
let cMemoryAlloc: s3p_alloc_t = { data, size in
    guard let data else { return nil }
    return Unmanaged<CMemory>.fromOpaque(data).takeUnretainedValue().buffer(size)
}

extension CMemory {
    /// Reads a directive (its name, then its values) into `raw` as C does:
    /// its answer, S3P_DIRECTIVE_* bits, and its message.
    func read(_ args: [String], into raw: inout s3p_settings_t) -> (Int32, UInt32, String) {
        var strs = args.map { str($0) }
        var what: UInt32 = 0
        var err = [UInt8](repeating: 0, count: 512)
        let rc = s3p_settings_directive(&raw, &strs, strs.count, cMemoryAlloc,
                                        Unmanaged.passUnretained(self).toOpaque(),
                                        &what, &err, err.count)
        return (rc, what, String(decoding: err.prefix { $0 != 0 }, as: UTF8.self))
    }
}

@Suite struct SettingsDirectiveTests {

    static func names(_ list: UnsafePointer<s3p_str_t>?, _ n: Int) -> [String] {
        Bytes.list(list, n).map { String(decoding: $0.bytes, as: UTF8.self) }
    }

    // ngx_parse_time() with is_sec: what nginx reads, and what it refuses
    @Test(arguments: [
        ("300", 300), ("90s", 90), ("1h 30m", 5400), ("1h30m", 5400), ("2d", 172_800),
        ("1w", 604_800), ("1M", 2_592_000), ("1y", 31_536_000),
        ("1y 2M 3w 4d 5h 6m 7s", 31_536_000 + 5_184_000 + 1_814_400 + 345_600 + 18_000
            + 360 + 7),
        ("1h 30", 3630), ("007", 7),
    ] as [(String, Int64)])
    func times(text: String, seconds: Int64) {
        #expect(NginxTime.seconds(Array(text.utf8)) == seconds)
    }

    @Test(arguments: ["", "soon", "1m 1h", "1h1h", "5ms", "1 h", "h", "-1",
                      "9223372036854775808", "300000000000y"])
    func invalidTimes(text: String) {
        #expect(NginxTime.seconds(Array(text.utf8)) == nil)
    }

    @Test func timesAndWindow() {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_expires", "1h 30m"], into: &raw).0 == S3P_OK)
        #expect(raw.expires == 5400)
        #expect(memory.read(["s3_proxy_presign_window", "off"], into: &raw).0 == S3P_OK)
        #expect(raw.window == 0)

        var bad = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_expires", "soon"], into: &bad).2
                == "\"s3_proxy_expires\" directive invalid value")
        #expect(memory.read(["s3_proxy_presign_window", "8d"], into: &bad).2
                == "\"s3_proxy_presign_window\" must be between 1s and 7d")
    }

    // a second directive at the same level, as nginx's slots say it
    @Test(arguments: [
        ["s3_proxy_expires", "60"], ["s3_proxy_presign_window", "off"],
        ["s3_proxy_index", "home.html"], ["s3_proxy_region", "eu-west-1"],
        ["s3_proxy_buckets", "alpha"], ["s3_proxy_stream_agents", "curl/"],
        ["s3_proxy_listing", "on"], ["s3_proxy_credentials", "env"],
        ["s3_proxy_addressing", "path"], ["s3_proxy_error_document", "e.html"],
        ["s3_proxy_download_param", "off"],
    ])
    func duplicates(args: [String]) {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        #expect(memory.read(args, into: &raw).0 == S3P_OK)
        let (rc, _, said) = memory.read(args, into: &raw)
        #expect(rc == S3P_E_CONFIG)
        #expect(said == "\"" + args[0] + "\" directive is duplicate")
    }

    @Test func flags() {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_listing", "On"], into: &raw).0 == S3P_OK)
        #expect(memory.read(["s3_proxy_website", "off"], into: &raw).0 == S3P_OK)
        #expect(raw.listing == 1 && raw.website == 0 && raw.types == S3P_UNSET)
        #expect(memory.read(["s3_proxy_types", "yes"], into: &raw).2
                == "invalid value \"yes\" in \"s3_proxy_types\" directive, it must be"
                + " \"on\" or \"off\"")
    }

    @Test func listsAndWhereRequestsGo() {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        let (rc, what, _) = memory.read(["s3_proxy_buckets", "alpha,beta gamma", "delta"],
                                          into: &raw)
        #expect(rc == S3P_OK && what == UInt32(S3P_DIRECTIVE_WHERE))
        #expect(Self.names(raw.buckets, raw.nbuckets) == ["alpha", "beta", "gamma", "delta"])
        let params = memory.read(["s3_proxy_allow_params", "v,w"], into: &raw)
        #expect(params.0 == S3P_OK && params.1 == 0)
        #expect(Self.names(raw.params, raw.nparams) == ["v", "w"])
        #expect(memory.read(["s3_proxy_proxy_types", "text/html, text/css"], into: &raw).0
                == S3P_OK)
        #expect(Self.names(raw.proxy_types, raw.nproxy_types) == ["text/html", "text/css"])
        #expect(memory.read(["s3_proxy_region", "eu-west-1"], into: &raw).1
                == UInt32(S3P_DIRECTIVE_WHERE))
        #expect(memory.read(["s3_proxy_index", "home.html"], into: &raw).1 == 0)
        // checked only: C keeps them
        #expect(memory.read(["s3_proxy_bucket", "media"], into: &raw).1
                == UInt32(S3P_DIRECTIVE_WHERE))
        #expect(memory.read(["s3_proxy_bucket", "Bad_Bucket"], into: &raw).0 == S3P_E_CONFIG)
    }

    @Test func streamAgents() {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_stream_agents", "none", "curl/", "signed"],
                            into: &raw).0 == S3P_OK)
        #expect(raw.stream == Int32(S3P_STREAM_LIST.rawValue))
        #expect(Self.names(raw.stream_agents, raw.nstream_agents) == ["curl/"])
        #expect(raw.stream_match == UInt32(S3P_STREAM_NO_AGENT | S3P_STREAM_SIGNED))
        var off = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_stream_agents", "off"], into: &off).0 == S3P_OK)
        #expect(off.stream == Int32(S3P_STREAM_OFF.rawValue))
    }

    @Test func credentials() {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        let arn = "arn:aws:iam::123456789012:role/reader"
        let (rc, what, said) = memory.read(
            ["s3_proxy_credentials", "profile=dev", "role=" + arn, "duration=1h"],
            into: &raw)
        #expect(rc == S3P_OK && what == UInt32(S3P_DIRECTIVE_WHERE), "\(said)")
        #expect(raw.credentials == S3P_CREDENTIALS_PROFILE)
        #expect(String(decoding: raw.profile.bytes, as: UTF8.self) == "dev")
        #expect(String(decoding: raw.role.0.bytes, as: UTF8.self) == arn)
        #expect(String(decoding: raw.role.3.bytes, as: UTF8.self) == "1h")
        #expect(raw.role.1.len == 0)

        var many = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_credentials", "imds", "a", "b", "c", "d", "e"],
                            into: &many).2
                == "\"s3_proxy_credentials\" directive has too many parameters")
        #expect(memory.read(["s3_proxy_addressing", "Virtual"], into: &many).0 == S3P_OK)
        #expect(many.addressing == S3P_ADDRESSING_VIRTUAL)
    }

    // ngx_conf_set_bitmask_slot(): any case, added to, a value given twice
    // a warning, an unknown one an error
    @Test func passHeaders() {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_pass_headers", "Request-Id"], into: &raw).0 == S3P_OK)
        let (rc, what, said) = memory.read(["s3_proxy_pass_headers", "sse", "request-id"],
                                           into: &raw)
        #expect(rc == S3P_OK && what == UInt32(S3P_DIRECTIVE_WARN))
        #expect(said == "duplicate value \"request-id\"")
        #expect(raw.pass_headers == UInt32(S3P_PASS_REQUEST_ID | S3P_PASS_SSE))
        let bad = memory.read(["s3_proxy_pass_headers", "cookies"], into: &raw)
        #expect(bad.0 == S3P_E_CONFIG && bad.1 == 0)
        #expect(bad.2 == "invalid value \"cookies\"")
        // "off" alone is configured, and passes nothing
        var off = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_pass_headers", "off"], into: &off).0 == S3P_OK)
        #expect(off.pass_headers != 0)
        #expect(off.pass_headers & UInt32(S3P_PASS_REQUEST_ID | S3P_PASS_SSE) == 0)
    }

    @Test func errorDocument() {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_error_document", "404.html", "404"], into: &raw).0
                == S3P_OK)
        #expect(raw.error_status == 404)
        var plain = s3p_settings_t.unset
        #expect(memory.read(["s3_proxy_error_document", "e.html"], into: &plain).0 == S3P_OK)
        #expect(plain.error_status == 0)
    }

    @Test func inheritance() {
        let memory = CMemory()
        var outer = s3p_settings_t.unset
        _ = memory.read(["s3_proxy_buckets", "alpha", "beta"], into: &outer)
        _ = memory.read(["s3_proxy_stream_agents", "curl/", "none"], into: &outer)
        _ = memory.read(["s3_proxy_listing", "on"], into: &outer)
        _ = memory.read(["s3_proxy_pass_headers", "sse"], into: &outer)
        _ = memory.read(["s3_proxy_error_document", "e.html", "404"], into: &outer)
        _ = memory.read(["s3_proxy_index", "home.html"], into: &outer)

        var inner = s3p_settings_t.unset
        _ = memory.read(["s3_proxy_listing", "off"], into: &inner)
        _ = memory.read(["s3_proxy_error_document", "other.html"], into: &inner)
        s3p_settings_merge(&inner, &outer)

        #expect(Self.names(inner.buckets, inner.nbuckets) == ["alpha", "beta"])
        #expect(Self.names(inner.stream_agents, inner.nstream_agents) == ["curl/"])
        #expect(inner.stream_match == UInt32(S3P_STREAM_NO_AGENT))
        #expect(inner.listing == 0)
        #expect(inner.pass_headers == UInt32(S3P_PASS_SSE))
        // the key goes with its status
        #expect(String(decoding: inner.error_document.bytes, as: UTF8.self) == "other.html")
        #expect(inner.error_status == 0)
        #expect(String(decoding: inner.index.bytes, as: UTF8.self) == "home.html")
    }

    @Test func config() {
        let memory = CMemory()
        var env = s3p_environment_t()
        env.buckets = memory.str("one, two")
        var raw = s3p_settings_t.unset
        raw.env = UnsafePointer(memory.store(env))
        _ = memory.read(["s3_proxy_error_document", "e.html"], into: &raw)

        var conf = s3p_config_t()
        let data = Unmanaged.passUnretained(memory).toOpaque()
        #expect(s3p_config_settings(&conf, &raw, cMemoryAlloc, data) == S3P_OK)
        // S3_PROXY_BUCKETS where s3_proxy_buckets is not configured
        #expect(Self.names(conf.buckets, conf.nbuckets) == ["one", "two"])
        #expect(conf.stream == S3P_STREAM_DEFAULT)
        #expect(conf.listings == 0 && conf.website == 0 && conf.error_status == 0)
        #expect(conf.params == nil && conf.nparams == 0)

        _ = memory.read(["s3_proxy_buckets", "three"], into: &raw)
        _ = memory.read(["s3_proxy_stream_agents", "off"], into: &raw)
        _ = memory.read(["s3_proxy_website", "on"], into: &raw)
        conf = s3p_config_t()
        #expect(s3p_config_settings(&conf, &raw, cMemoryAlloc, data) == S3P_OK)
        #expect(Self.names(conf.buckets, conf.nbuckets) == ["three"])
        #expect(conf.stream == S3P_STREAM_OFF && conf.website == 1)

        // commas alone: a list that names no bucket, which the check refuses
        var commas = s3p_settings_t.unset
        env.buckets = memory.str(",")
        commas.env = UnsafePointer(memory.store(env))
        conf = s3p_config_t()
        #expect(s3p_config_settings(&conf, &commas, cMemoryAlloc, data) == S3P_OK)
        #expect(conf.buckets != nil && conf.nbuckets == 0)
    }
}

/// getenv() of a made-up environment, for s3p_environment_read().
private func fakeGetenv(_ name: UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    let values: [String: String] = [
        "AWS_ACCESS_KEY_ID": "AKTEST", "AWS_REGION": "", "HOME": "/home/u",
        "AWS_CONFIG_FILE": "~/cfg",
    ]
    guard let name, let value = values[String(cString: name)] else { return nil }
    let bytes = Array(value.utf8CString)
    let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    copy.initialize(from: bytes, count: bytes.count)
    return copy
}

@Suite struct EnvironmentReadTests {
    @Test func variablesAndPaths() {
        let memory = CMemory()
        var env = s3p_environment_t()
        #expect(s3p_environment_read(&env, { fakeGetenv($0) }, cMemoryAlloc,
                                     Unmanaged.passUnretained(memory).toOpaque()) == S3P_OK)
        let text = { (s: s3p_str_t) in String(decoding: s.bytes, as: UTF8.self) }
        #expect(text(env.access_key_id) == "AKTEST")
        // empty is unset
        #expect(env.region.len == 0 && env.region.data == nil)
        #expect(text(env.home) == "/home/u")
        #expect(text(env.credentials_path) == "/home/u/.aws/credentials")
        #expect(text(env.config_path) == "/home/u/cfg")
        // NUL-terminated, for open()
        #expect(env.config_path.data?[env.config_path.len] == 0)
    }
}

// libFuzzer entry point: everything a client controls (method, raw path,
// raw query, User-Agent, whether this is the fallback pass) goes through
// the same C entry point nginx calls, s3p_handle(), with a configuration
// that has a session token, a port, a bucket allowlist and allowed
// parameters, and built-in listings on or off.  Built with `make fuzz`:
//   swiftc -sanitize=fuzzer,address -D S3P_FUZZ Sources/S3Proxy/**.swift
//       Tests/S3ProxyTests/Reference/*.swift Tests/Fuzz/FuzzRequest.swift
//
// Input layout: FLAGS PLACE METHOD \n PATH \n QUERY \n USER-AGENT \n
// AUTHORIZATION (missing parts are empty; FLAGS is one byte: bit 0
// listings, bit 1 fallback pass, bits 2 and 3 an x-amz-date and an
// x-amz-content-sha256 header, bit 4 an s3_proxy_stream_agents list with
// bits 5 and 6 its `none` and `signed`, bit 7 an x-amz-checksum-mode
// header; PLACE is one byte: bit 0 mounted at /s3/, bit 1 the location's
// own bucket, bit 2 virtual-hosted addressing, bit 3 a website
// (s3_proxy_website, s3_proxy_types, an error document, types of
// S3P_TYPE_MAX bytes), bit 4 with bit 1 of FLAGS the step of the path, 0
// to 3, bit 5 S3's 403 before it).  `v` and `_` are ignored parameters.
// A website's answers are checked for what must hold, but not compared:
// the reference has no websites.
// Beyond "does not crash", each answer is checked for what must hold:
// - it equals, field by field, what the reference implementation
//   (Tests/S3ProxyTests/Reference) answers;
// - it fits the buffer s3p_output_bound() promised;
// - the Location and upstream URL hold only printable ASCII without spaces
//   (no CR, LF, NUL or raw UTF-8 can reach a response header);
// - a redirect or proxy names an allowed bucket, for GET or HEAD only;
// - the canonical key decodes back to the decoded key.

internal import CShim

nonisolated(unsafe) var fuzzStorage: [UInt8] = []

private func view(_ base: UnsafePointer<UInt8>, _ offset: Int, _ count: Int) -> s3p_str_t {
    s3p_str_t(len: count, data: base + offset)
}

public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = Array(UnsafeBufferPointer(start: data, count: size))
    let flags = input.isEmpty ? 0 : input.removeFirst()
    let place = input.isEmpty ? 0 : input.removeFirst()
    let parts = input.split(separator: UInt8(ascii: "\n"), maxSplits: 4,
                            omittingEmptySubsequences: false)
    let method = parts.count > 0 ? Array(parts[0]) : []
    let path = parts.count > 1 ? Array(parts[1]) : []
    let query = parts.count > 2 ? Array(parts[2]) : []
    let userAgent = parts.count > 3 ? Array(parts[3]) : []
    let authorization = parts.count > 4 ? Array(parts[4]) : []

    let settings: [[UInt8]] = [
        Array("AKIDFUZZ".utf8), Array("fuzz-secret/+key".utf8),
        Array("token/with+chars==".utf8), Array("eu-west-3".utf8),
        Array("127.0.0.1:9000".utf8), Array("s3.example.com:8443".utf8),
        Array("https".utf8), Array("okay".utf8), Array("okay.two".utf8),
        Array("versionId".utf8), method, path, query, userAgent,
        Array("v".utf8), Array("_".utf8), Array("curl/".utf8), authorization,
        flags & 4 != 0 ? Array("20260101T000000Z".utf8) : [],
        flags & 8 != 0 ? Array("UNSIGNED-PAYLOAD".utf8) : [],
        Array("/s3/".utf8),
        flags & 128 != 0 ? Array("enabled".utf8) : [],
        Array("errors/n\u{f6}t found.html".utf8),
    ]
    fuzzStorage = settings.flatMap { $0 }
    fuzzStorage.withUnsafeBufferPointer { storage in
        guard let base = storage.baseAddress ?? UnsafePointer(bitPattern: 1) else { return }
        var views: [s3p_str_t] = []
        var offset = 0
        for field in settings {
            views.append(view(base, offset, field.count))
            offset += field.count
        }
        views.withUnsafeBufferPointer { v in
            var env = s3p_environment_t()
            env.access_key_id = v[0]
            env.secret_access_key = v[1]
            env.session_token = v[2]
            env.region = v[3]
            env.host = v[4]
            env.external_host = v[5]
            env.scheme = v[6]
            var signing = s3p_signing_t()
            // As nginx does once its configuration is read.
            var raw = s3p_settings_t()
            raw.expires = 300
            raw.addressing = place & 4 != 0 ? S3P_ADDRESSING_VIRTUAL : S3P_ADDRESSING_PATH
            let resolvedBound = withUnsafePointer(to: &env) { env in
                raw.env = env
                return s3p_signing_bound(&raw)
            }
            let resolved = UnsafeMutablePointer<UInt8>.allocate(capacity: resolvedBound)
            defer { resolved.deallocate() }
            withUnsafePointer(to: &env) { env in
                raw.env = env
                precondition(s3p_signing_resolve(&raw, &signing, resolved, resolvedBound,
                                                 nil, 0) == S3P_OK)
            }
            var conf = s3p_config_t()
            conf.buckets = v.baseAddress! + 7
            conf.nbuckets = 2
            conf.params = v.baseAddress! + 9
            conf.nparams = 1
            conf.listings = Int32(flags & 1)
            if place & 1 != 0 { conf.mount = v[20] }
            if place & 2 != 0 { conf.bucket = v[7] }
            conf.ignore_params = v.baseAddress! + 14
            conf.nignore_params = 2
            if flags & 16 != 0 {
                conf.stream = S3P_STREAM_LIST
                conf.stream_agents = v.baseAddress! + 16
                conf.nstream_agents = 1
                conf.stream_match = UInt32(flags >> 5 & 3)
            }
            let website = place & 8 != 0
            if website {
                conf.website = 1
                conf.types = 1
                conf.error_document = v[22]
                conf.type = fuzzType
            }
            let step = Int32(flags >> 1 & 1) | (website ? Int32(place >> 3 & 2) : 0)
            var request = s3p_request_t(method: v[10], path: v[11], query: v[12],
                                        user_agent: v[13], authorization: v[17],
                                        amz_date: v[18], amz_content_sha256: v[19],
                                        checksum_mode: v[21],
                                        now: 1_700_000_000,
                                        fallback: step, status: place & 32 != 0 ? 403 : 404,
                                        bucket: s3p_str_t(), prefix: s3p_str_t(),
                                        target: s3p_str_t(), decoded: 0)
            withUnsafePointer(to: &signing) { signing in
                conf.signing = signing
            let bound = s3p_output_bound(&conf, &request)
            let guardBytes = 64
            var out = [UInt8](repeating: 0xA5, count: bound + guardBytes)
            var result = s3p_result_t()
            let status = out.withUnsafeMutableBufferPointer {
                s3p_handle(&conf, &request, $0.baseAddress, bound, &result)
            }
            precondition(status == S3P_OK, "s3p_handle failed: \(status)")
            precondition(out[bound...].allSatisfy { $0 == 0xA5 }, "wrote past the bound")
            check(result, method: method, virtual: place & 4 != 0)
            if website { return }

            var reference = s3p_result_t()
            var referenceOut = [UInt8](repeating: 0, count: 1 << 16)
            let referenceStatus = referenceOut.withUnsafeMutableBufferPointer {
                RequestHandler.handle(conf: &conf, request: request, out: $0.baseAddress!,
                                      cap: $0.count, result: &reference)
            }
            precondition(referenceStatus == status, "the reference answered \(referenceStatus)")
            precondition(same(result, reference), "the reference answered differently")
            }
        }
    }
    return 0
}

/// nginx's types as a location could have them: the longest type the core
/// takes, for every extension.
private let fuzzType: s3p_type_t = { _, _, _ in
    let type: StaticString = """
        application/x-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
        aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        """
    return s3p_str_t(len: type.utf8CodeUnitCount, data: type.utf8Start)
}

private func bytes(_ s: s3p_str_t) -> [UInt8] {
    guard let data = s.data, s.len > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: s.len))
}

private func same(_ a: s3p_result_t, _ b: s3p_result_t) -> Bool {
    a.action == b.action && a.status == b.status && a.render == b.render
        && bytes(a.bucket) == bytes(b.bucket) && bytes(a.key) == bytes(b.key)
        && bytes(a.url) == bytes(b.url) && bytes(a.authorization) == bytes(b.authorization)
        && bytes(a.amz_date) == bytes(b.amz_date) && bytes(a.fallback) == bytes(b.fallback)
        && bytes(a.host) == bytes(b.host) && bytes(a.base) == bytes(b.base)
}

private func check(_ result: s3p_result_t, method: [UInt8], virtual: Bool) {
    switch result.action {
    case S3P_ACTION_REFUSE:
        precondition([400, 403, 404, 405, 501].contains(result.status),
                     "status \(result.status)")
        return
    case S3P_ACTION_REDIRECT, S3P_ACTION_PROXY:
        break
    default:
        preconditionFailure("unknown action")
    }
    precondition(method == Array("GET".utf8) || method == Array("HEAD".utf8))
    let bucket = bytes(result.bucket)
    precondition(bucket == Array("okay".utf8) || bucket == Array("okay.two".utf8),
                 "bucket outside the allowlist")
    let url = bytes(result.url)
    precondition(url.allSatisfy { $0 > 0x20 && $0 < 0x7f }, "unsafe byte in URL")
    let header = bytes(result.authorization)
    precondition(header.allSatisfy { $0 >= 0x20 && $0 < 0x7f }, "unsafe byte in header")

    // The path of the URL decodes back to /<bucket>/<key>, or /<key> with
    // the bucket in the host (a folder listing names its folder in the
    // query).
    if result.render != S3P_RENDER_NONE { return }
    let afterScheme = url.firstRange(of: Array("://".utf8))!.upperBound
    let pathStart = url[afterScheme...].firstIndex(of: UInt8(ascii: "/"))!
    let pathEnd = url[pathStart...].firstIndex(of: UInt8(ascii: "?")) ?? url.endIndex
    let decoded = Plain.percentDecoded(url[pathStart..<pathEnd], plusIsSpace: false)
    if virtual {
        precondition(url[afterScheme...].starts(with: bucket + Array(".".utf8)),
                     "the host does not name the bucket")
        precondition(decoded == Array("/".utf8) + bytes(result.key), "URL path is not the key")
        return
    }
    precondition(decoded == Array("/".utf8) + bucket + Array("/".utf8) + bytes(result.key)
                 || (bytes(result.key).isEmpty
                     && (decoded == Array("/".utf8) + bucket
                         || decoded == Array("/".utf8) + bucket + Array("/".utf8))),
                 "URL path does not name the key")
}

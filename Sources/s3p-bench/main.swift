// s3p-bench: the request pipeline on its own, through the C entry points
// nginx calls for a request (its headers offered to s3p_request_header,
// s3p_handle, and s3p_answer_plan for S3's answer to a proxied one), with
// the signing key cached as in a worker: nanoseconds and heap allocations
// per request, for every route, refusals included.  Part of `make bench`;
// it exits 1 if any route allocates.
//
//   s3p-bench [ITERATIONS [CASE]]     (CASE: a word of a case's name)

import CAllocCounter
import CShim
import Glibc

struct Case {
    let name: String
    let method: String
    let path: String
    let query: String
    /// A browser's: a request without one is an S3 client's (s3cmd).
    var userAgent = "Mozilla/5.0"
    var fallback: Int32 = 0
    /// Signed with s3_proxy_presign_window 1h: a hot key's signature is
    /// the thread's; with `coldKeys`, every call asks for another key.
    var window = false
    var coldKeys = false
    /// The client sent x-amz-checksum-mode: ENABLED.
    var checksumMode = false
    /// After an internal redirect: `path` is nginx's decoded $uri, which
    /// the core escapes back; else the target is the request line's.
    var decoded = false

    /// The raw target nginx passes, "path?query"; empty when decoded.
    var target: String {
        decoded ? "" : query.isEmpty ? path : path + "?" + query
    }
}

let sdk = "aws-cli/2.15.0 md/Botocore#1.34.0"
let enabledMode: StaticString = "ENABLED"
let enabled = s3p_str_t(len: enabledMode.utf8CodeUnitCount, data: enabledMode.utf8Start)
let cases = [
    Case(name: "redirect", method: "GET", path: "/bucket/dir/file name.bin", query: ""),
    Case(name: "redirect, allowed parameter", method: "GET", path: "/bucket/a.bin",
         query: "versionId=3"),
    Case(name: "redirect, escaped bucket", method: "HEAD", path: "/b%75cket/a%20b",
         query: ""),
    Case(name: "redirect, after a redirect", method: "GET",
         path: "/bucket/dir/file name.bin", query: "", decoded: true),
    Case(name: "index page", method: "GET", path: "/bucket/dir/", query: ""),
    Case(name: "index page, after a redirect", method: "GET", path: "/bucket/dir/",
         query: "", decoded: true),
    Case(name: "bucket index page", method: "GET", path: "/bucket/", query: ""),
    Case(name: "listing", method: "GET", path: "/bucket",
         query: "list-type=2&prefix=dir/&delimiter=/"),
    Case(name: "listing, no query", method: "GET", path: "/bucket", query: ""),
    Case(name: "streamed object (SDK, x-id)", method: "GET", path: "/bucket/dir/file.bin",
         query: "x-id=GetObject", userAgent: sdk),
    Case(name: "streamed part, checksums", method: "GET",
         path: "/bucket/dir/file.bin", query: "partNumber=2&x-id=GetObject",
         userAgent: sdk, checksumMode: true),
    Case(name: "folder listing (fallback)", method: "GET", path: "/bucket/dir/",
         query: "", fallback: 1),
    Case(name: "folder listing, later page", method: "GET", path: "/bucket/dir/",
         query: "page=token%2Bmore"),
    Case(name: "redirect, window, hot key", method: "GET", path: "/bucket/dir/file name.bin",
         query: "", window: true),
    Case(name: "redirect, window, cold keys", method: "GET", path: "/bucket/dir/k",
         query: "", window: true, coldKeys: true),
    Case(name: "refusal: method", method: "PUT", path: "/bucket/a", query: ""),
    Case(name: "refusal: bucket", method: "GET", path: "/other/a", query: ""),
    Case(name: "refusal: parameter", method: "GET", path: "/bucket/a", query: "acl"),
    Case(name: "refusal: malformed", method: "GET", path: "/bucket/%zz", query: ""),
]
let iterations = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 200_000
let only = CommandLine.arguments.dropFirst(2).first

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) * 1e9 + Double(t.tv_nsec)
}

// Settings and requests live in one buffer that outlives every call.
let settings = ["AKIDS3PROXYBENCH", "bench/secret+key", "", "eu-west-3",
                "s3.eu-west-3.amazonaws.com", "s3.eu-west-3.amazonaws.com", "https"]
let policy = ["bucket", "versionId"]
// A browser's request headers, as nginx lists them.
let headers = ["Host", "bench.example", "User-Agent", "Mozilla/5.0", "Accept", "*/*",
               "Accept-Encoding", "gzip, br", "Connection", "keep-alive"]
let fields = settings + policy
    + cases.flatMap { [$0.method, $0.path, $0.query, $0.userAgent, $0.target] } + headers
let storage: [UInt8] = fields.flatMap { Array($0.utf8) }

print("s3p-bench: \(iterations) calls each, signing key cached")
storage.withUnsafeBufferPointer { buffer in
    guard let base = buffer.baseAddress else { return }
    var offset = 0
    var views: [s3p_str_t] = []
    for field in fields {
        views.append(s3p_str_t(len: field.utf8.count, data: base + offset))
        offset += field.utf8.count
    }
    let env = UnsafeMutablePointer<s3p_environment_t>.allocate(capacity: 1)
    env.initialize(to: s3p_environment_t())
    env.pointee.access_key_id = views[0]
    env.pointee.secret_access_key = views[1]
    env.pointee.session_token = views[2]
    env.pointee.region = views[3]
    env.pointee.host = views[4]
    env.pointee.external_host = views[5]
    env.pointee.scheme = views[6]
    var raw = s3p_settings_t()
    raw.credentials = S3P_CREDENTIALS_ENV
    raw.expires = 300
    raw.env = UnsafePointer(env)
    let signing = UnsafeMutablePointer<s3p_signing_t>.allocate(capacity: 1)
    signing.initialize(to: s3p_signing_t())
    let resolvedBound = s3p_signing_bound(&raw)
    let resolved = UnsafeMutablePointer<UInt8>.allocate(capacity: resolvedBound)
    guard s3p_signing_resolve(&raw, signing, resolved, resolvedBound, nil, 0) == S3P_OK
    else {
        print("s3p-bench: s3p_signing_resolve failed")
        exit(1)
    }
    let lists = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: 2)
    lists[0] = views[settings.count]
    lists[1] = views[settings.count + 1]
    var conf = s3p_config_t()
    conf.signing = UnsafePointer(signing)
    // The same settings with a presign window of an hour.
    raw.window = 3600
    let windowed = UnsafeMutablePointer<s3p_signing_t>.allocate(capacity: 1)
    windowed.initialize(to: s3p_signing_t())
    let windowedBound = s3p_signing_bound(&raw)
    guard s3p_signing_resolve(&raw, windowed,
                              UnsafeMutablePointer<UInt8>.allocate(capacity: windowedBound),
                              windowedBound, nil, 0) == S3P_OK
    else {
        print("s3p-bench: s3p_signing_resolve failed")
        exit(1)
    }
    // Cold keys: more distinct paths than the thread keeps.
    let coldPaths: [[UInt8]] = (0..<4096).map { Array("/bucket/dir/k\($0).bin".utf8) }
    let coldStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096 * 32)
    var coldViews: [s3p_str_t] = []
    var coldOffset = 0
    for path in coldPaths {
        (coldStorage + coldOffset).initialize(from: path, count: path.count)
        coldViews.append(s3p_str_t(len: path.count, data: UnsafePointer(coldStorage + coldOffset)))
        coldOffset += path.count
    }
    conf.buckets = UnsafePointer(lists)
    conf.nbuckets = 1
    conf.params = UnsafePointer(lists + 1)
    conf.nparams = 1
    conf.listings = 1
    var allocating = false
    var out = [UInt8](repeating: 0, count: 1 << 16)
    var result = s3p_result_t()
    var answer = s3p_answer_t()
    var scratch = s3p_request_t()
    let headerViews = Array(views.suffix(headers.count))

    for (index, benchCase) in cases.enumerated()
    where only.map(benchCase.name.contains) ?? true {
        let base = settings.count + policy.count + 5 * index
        var request = s3p_request_t(method: views[base], path: views[base + 1],
                                    query: views[base + 2], user_agent: views[base + 3],
                                    authorization: s3p_str_t(), amz_date: s3p_str_t(),
                                    amz_content_sha256: s3p_str_t(),
                                    checksum_mode: benchCase.checksumMode ? enabled : s3p_str_t(),
                                    now: 1_767_225_600, fallback: benchCase.fallback,
                                    status: 404,
                                    bucket: s3p_str_t(), prefix: s3p_str_t(),
                                    target: views[base + 4],
                                    decoded: benchCase.decoded ? 1 : 0)
        if !benchCase.decoded {
            request.path = s3p_str_t()
            request.query = s3p_str_t()
        }
        conf.signing = UnsafePointer(benchCase.window ? windowed : signing)
        out.withUnsafeMutableBufferPointer { out in
            // Warm up: derive the day's signing key, set up the contexts
            // (and the thread's table of presigned URLs).
            for _ in 0..<1000 {
                _ = s3p_handle(&conf, &request, out.baseAddress, out.count, &result)
            }
            let allocations = s3p_alloc_count()
            let start = now()
            for iteration in 0..<iterations {
                if benchCase.coldKeys { request.target = coldViews[iteration % coldViews.count] }
                var header = 0
                while header < headerViews.count {
                    var name = headerViews[header], value = headerViews[header + 1]
                    s3p_request_header(&scratch, &name, &value)
                    header += 2
                }
                let bound = s3p_output_bound(&conf, &request)
                guard s3p_handle(&conf, &request, out.baseAddress, bound, &result) == S3P_OK
                else {
                    print("s3p-bench: \(benchCase.name) failed")
                    exit(1)
                }
                if result.action == S3P_ACTION_PROXY {
                    s3p_answer_plan(&result, 200, 200, UInt32(S3P_ANSWER_BODY), &answer)
                }
            }
            let elapsed = now() - start
            let perCall = Double(s3p_alloc_count() - allocations) / Double(iterations)
            let ns = elapsed / Double(iterations)
            print(String("  \(benchCase.name):").padding(34)
                  + " \(Int(ns.rounded())) ns/call, \(perCall) allocations/call")
            if perCall != 0 { allocating = true }
            if result.action == S3P_ACTION_PROXY && !variables(result, iterations) {
                allocating = true
            }
        }
    }
    if allocating {
        print("s3p-bench: a route allocates")
        exit(1)
    }
}

/// Every $s3_proxy_* variable of a proxied answer, as proxy_pass and the
/// access log read them (s3p_variable), memory from a scratch buffer as
/// from the request's pool: whether none allocates.
func variables(_ result: s3p_result_t, _ iterations: Int) -> Bool {
    var result = result
    let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
    defer { scratch.deallocate() }
    let method: StaticString = "GET"
    var count: UInt32 = 0
    var name = s3p_str_t(), flags: UInt32 = 0
    while s3p_variable_name(count, &name, &flags) != 0 { count += 1 }
    return withUnsafePointer(to: &result) { result in
        var request = s3p_variable_t()
        request.result = result
        request.method = s3p_str_t(len: method.utf8CodeUnitCount, data: method.utf8Start)
        var value = s3p_str_t()
        let alloc: s3p_alloc_t = { data, _ in data?.assumingMemoryBound(to: UInt8.self) }
        let allocations = s3p_alloc_count()
        let start = now()
        for _ in 0..<iterations {
            for index in 0..<count {
                request.index = index
                _ = s3p_variable(&request, alloc, scratch, &value)
            }
        }
        let elapsed = now() - start
        let perCall = Double(s3p_alloc_count() - allocations) / Double(iterations)
        print(String("    its \(count) variables:").padding(34)
              + " \(Int((elapsed / Double(iterations)).rounded())) ns/call, \(perCall) allocations/call")
        return perCall == 0
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

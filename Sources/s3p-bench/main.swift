// s3p-bench: the signer on its own, through the C entry point nginx calls
// (s3p_handle), with the signing key cached as in a worker: nanoseconds and
// heap allocations per call, for a presigned redirect, a proxied index page
// (header signature) and a listing.  Part of `make bench`.
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
}

let cases = [
    Case(name: "presign (redirect)", method: "GET", path: "/bucket/dir/file name.bin", query: ""),
    Case(name: "header signature (index page)", method: "GET", path: "/bucket/dir/", query: ""),
    Case(name: "header signature (listing)", method: "GET", path: "/bucket",
         query: "list-type=2&prefix=dir/&delimiter=/"),
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
let fields = settings + cases.flatMap { [$0.method, $0.path, $0.query] }
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
    var conf = s3p_config_t()
    conf.access_key = views[0]
    conf.secret_key = views[1]
    conf.session_token = views[2]
    conf.region = views[3]
    conf.host = views[4]
    conf.external_host = views[5]
    conf.scheme = views[6]
    conf.expires = 300
    let preparedBound = s3p_config_prepare_bound(&conf)
    let prepared = UnsafeMutablePointer<UInt8>.allocate(capacity: preparedBound)
    guard s3p_config_prepare(&conf, prepared, preparedBound) == S3P_OK else {
        print("s3p-bench: s3p_config_prepare failed")
        exit(1)
    }
    var out = [UInt8](repeating: 0, count: 1 << 16)
    var result = s3p_result_t()

    for (index, benchCase) in cases.enumerated()
    where only.map(benchCase.name.contains) ?? true {
        let base = settings.count + 3 * index
        var request = s3p_request_t(method: views[base], path: views[base + 1],
                                    query: views[base + 2], user_agent: s3p_str_t(),
                                    now: 1_767_225_600, fallback: 0)
        out.withUnsafeMutableBufferPointer { out in
            // Warm up: derive the day's signing key, set up the contexts.
            for _ in 0..<1000 {
                _ = s3p_handle(&conf, &request, out.baseAddress, out.count, &result)
            }
            let allocations = s3p_alloc_count()
            let start = now()
            for _ in 0..<iterations {
                let bound = s3p_output_bound(&conf, &request)
                guard s3p_handle(&conf, &request, out.baseAddress, bound, &result) == S3P_OK
                else {
                    print("s3p-bench: \(benchCase.name) failed")
                    exit(1)
                }
            }
            let elapsed = now() - start
            let perCall = Double(s3p_alloc_count() - allocations) / Double(iterations)
            let ns = elapsed / Double(iterations)
            print(String("  \(benchCase.name):").padding(34)
                  + " \(Int(ns.rounded())) ns/call, \(perCall) allocations/call")
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

// s3p-sign: answers one request exactly as ngx_http_s3_proxy_module would,
// through the same C entry points, and prints the result.
//
//   s3p-sign [--time UNIX_SECONDS] [--user-agent UA] [--checksum-mode VALUE]
//            METHOD RAW_PATH [RAW_QUERY]
//
// Settings come from the same environment variables as the module
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_DEFAULT_REGION, AWS_ENDPOINT_HOST, AWS_ENDPOINT_HOST_EXTERNAL,
// AWS_ENDPOINT_SCHEME) plus S3_PROXY_EXPIRES.  The output is one
// `name=value` line per field, for the tests that compare it with botocore
// and for checking a signature by hand.

import CShim
import Glibc

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

func fail(_ message: String) -> Never {
    print("s3p-sign: \(message)")
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var now = Int64(time(nil))
if arguments.first == "--time" {
    guard arguments.count >= 2, let value = Int64(arguments[1]) else {
        fail("--time needs a Unix time in seconds")
    }
    now = value
    arguments.removeFirst(2)
}
// A request without a User-Agent is an S3 client's, and streamed: by
// default s3p-sign asks as a browser would, for the redirect.
var userAgent = "s3p-sign"
if arguments.first == "--user-agent" {
    guard arguments.count >= 2 else { fail("--user-agent needs a value") }
    userAgent = arguments[1]
    arguments.removeFirst(2)
}
// The client's x-amz-checksum-mode header (an S3 client's is sent on).
var checksumMode = ""
if arguments.first == "--checksum-mode" {
    guard arguments.count >= 2 else { fail("--checksum-mode needs a value") }
    checksumMode = arguments[1]
    arguments.removeFirst(2)
}
guard (2...3).contains(arguments.count) else {
    fail("usage: s3p-sign [--time UNIX_SECONDS] [--user-agent UA] "
         + "[--checksum-mode VALUE] METHOD RAW_PATH [RAW_QUERY]")
}

// Raw values, as the module reads them: s3p_signing_resolve() applies the
// same defaults and checks as `nginx -t`.
let fields: [String] = [
    environment("AWS_ACCESS_KEY_ID") ?? "",
    environment("AWS_SECRET_ACCESS_KEY") ?? "",
    environment("AWS_SESSION_TOKEN") ?? "",
    environment("AWS_DEFAULT_REGION") ?? "",
    environment("AWS_ENDPOINT_HOST") ?? "",
    environment("AWS_ENDPOINT_HOST_EXTERNAL") ?? "",
    environment("AWS_ENDPOINT_SCHEME") ?? "",
    environment("AWS_REGION") ?? "",
    environment("AWS_ENDPOINT_SCHEME_EXTERNAL") ?? "",
    arguments[0],
    arguments[1],
    arguments.count > 2 ? arguments[2] : "",
    userAgent,
    checksumMode,
]
var expires = Int64(S3P_UNSET)
if let value = environment("S3_PROXY_EXPIRES") {
    guard let seconds = Int64(value) else { fail("S3_PROXY_EXPIRES is not a number") }
    expires = seconds
}

// Keep every input alive in one buffer while C views point into it.
var storage: [UInt8] = fields.flatMap { Array($0.utf8) }
storage.withUnsafeBufferPointer { buffer in
    var offset = 0
    var views: [s3p_str_t] = []
    for field in fields {
        let count = field.utf8.count
        views.append(s3p_str_t(len: count, data: buffer.baseAddress.map { $0 + offset }))
        offset += count
    }
    // Lives as long as the process, as nginx's configuration does.
    // The environment only: s3p-sign reads no shared credentials files.
    let env = UnsafeMutablePointer<s3p_environment_t>.allocate(capacity: 1)
    env.initialize(to: s3p_environment_t())
    env.pointee.access_key_id = views[0]
    env.pointee.secret_access_key = views[1]
    env.pointee.session_token = views[2]
    env.pointee.default_region = views[3]
    env.pointee.host = views[4]
    env.pointee.external_host = views[5]
    env.pointee.scheme = views[6]
    env.pointee.region = views[7]
    env.pointee.external_scheme = views[8]
    var settings = s3p_settings_t()
    settings.credentials = S3P_CREDENTIALS_ENV
    settings.expires = expires
    settings.env = UnsafePointer(env)
    let signing = UnsafeMutablePointer<s3p_signing_t>.allocate(capacity: 1)
    signing.initialize(to: s3p_signing_t())

    var message = [UInt8](repeating: 0, count: 256)
    let resolvedBound = s3p_signing_bound(&settings)
    let resolved = UnsafeMutablePointer<UInt8>.allocate(capacity: resolvedBound)
    if s3p_signing_resolve(&settings, signing, resolved, resolvedBound, &message,
                           message.count) != S3P_OK
    {
        fail(String(decoding: message.prefix { $0 != 0 }, as: UTF8.self))
    }
    var conf = s3p_config_t()
    conf.signing = UnsafePointer(signing)

    var request = s3p_request_t(method: views[9], path: views[10],
                                query: views[11], user_agent: views[12],
                                authorization: s3p_str_t(), amz_date: s3p_str_t(),
                                amz_content_sha256: s3p_str_t(),
                                checksum_mode: views[13], now: now, fallback: 0, status: 0,
                                bucket: s3p_str_t(), prefix: s3p_str_t(),
                                target: s3p_str_t(), decoded: 0)
    let bound = s3p_output_bound(&conf, &request)
    var out = [UInt8](repeating: 0, count: bound)
    var result = s3p_result_t()
    let status = out.withUnsafeMutableBufferPointer {
        s3p_handle(&conf, &request, $0.baseAddress, $0.count, &result)
    }
    guard status == S3P_OK else { fail("s3p_handle returned \(status)") }

    func text(_ s: s3p_str_t) -> String {
        guard let data = s.data else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: s.len),
                      as: UTF8.self)
    }
    switch result.action {
    case S3P_ACTION_REDIRECT: print("action=redirect")
    case S3P_ACTION_PROXY: print("action=proxy")
    default: print("action=refuse")
    }
    print("status=\(result.status)")
    print("bucket=\(text(result.bucket))")
    print("key=\(text(result.key))")
    print("url=\(text(result.url))")
    print("authorization=\(text(result.authorization))")
    print("amz_date=\(text(result.amz_date))")
    print("checksum_mode=\(text(result.checksum_mode))")
}

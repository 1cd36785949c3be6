// The C entry points for S3's answers to proxied requests (declared in
// CShim/include/s3_proxy_core.h): error documents cleaned, response
// headers kept or hidden, a folder's or a website's next step, the plan
// of each answer and the body that replaces S3's, and the request headers
// the core reads.

internal import CShim

@c @implementation
func s3p_s3_error(
    _ status: Int32, _ body: UnsafePointer<UInt8>?, _ len: Int,
    _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int,
    _ err: UnsafeMutablePointer<s3p_s3_error_t>?
) -> Int32 {
    guard let out, let err else { return S3P_E_CONFIG }
    let read = body == nil ? 0 : min(len, Int(S3P_ERROR_BODY_MAX))
    let error = S3Error(status: status, body: UnsafeBufferPointer(start: body, count: read))
    var w = BufferWriter(base: out, capacity: cap)
    var answer = s3p_s3_error_t()
    error.write(into: &w, &answer)
    guard !w.overflowed else { return S3P_E_SPACE }
    err.pointee = answer
    return S3P_OK
}

@c @implementation
func s3p_falls_back(
    _ result: UnsafePointer<s3p_result_t>?, _ status: Int32, _ errorPage: Int32
) -> Int32 {
    guard let result = result?.pointee else { return 0 }
    return AnswerPlan.fallsBack(result, status: status, errorPage: errorPage != 0) ? 1 : 0
}

@c @implementation
func s3p_answer_plan(
    _ result: UnsafePointer<s3p_result_t>?, _ status: Int32, _ s3Status: Int32,
    _ flags: UInt32, _ answer: UnsafeMutablePointer<s3p_answer_t>?
) {
    guard let result, let answer else { return }
    AnswerPlan.plan(result.pointee, status: status, s3Status: s3Status, flags: flags,
                    into: &answer.pointee)
}

@c @implementation
func s3p_answer_body(
    _ result: UnsafePointer<s3p_result_t>?, _ how: s3p_body_t, _ status: Int32,
    _ body: UnsafePointer<UInt8>?, _ len: Int, _ truncated: Int32,
    _ alloc: s3p_alloc_t?, _ data: UnsafeMutableRawPointer?,
    _ out: UnsafeMutablePointer<s3p_replacement_t>?
) -> Int32 {
    guard let result = result?.pointee, let alloc, let out else { return S3P_E_CONFIG }
    return AnswerBody.replace(result, how: how, status: status,
                              body: UnsafeBufferPointer(start: body, count: body == nil ? 0 : len),
                              truncated: truncated != 0, alloc: alloc, data: data,
                              into: &out.pointee)
}

@c @implementation
func s3p_request_header(
    _ req: UnsafeMutablePointer<s3p_request_t>?, _ name: UnsafePointer<s3p_str_t>?,
    _ value: UnsafePointer<s3p_str_t>?
) {
    guard let req, let name, let value else { return }
    RequestHeaders.take(Bytes.view(name.pointee), value.pointee, into: &req.pointee)
}

@c @implementation
func s3p_response_header_visible(
    _ name: UnsafePointer<s3p_str_t>?, _ pass: UInt32
) -> Int32 {
    guard let name = name?.pointee else { return 0 }
    return ResponseHeaders.isVisible(Bytes.view(name), pass: pass) ? 1 : 0
}

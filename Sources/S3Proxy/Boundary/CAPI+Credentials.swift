// The C entry points of the credential providers' exchanges
// (CShim/include/s3_proxy_core.h): requests written into C's buffer,
// answers read into it.

internal import CShim

@c @implementation
func s3p_provider_request(
    _ req: UnsafePointer<s3p_provider_request_t>?, _ out: UnsafeMutablePointer<UInt8>?,
    _ cap: Int
) -> Int {
    guard let req = req?.pointee, let out else { return 0 }
    // What goes into a header line must not break it.
    for s in [req.host, req.path, req.token] where !ASCII.isPrintable(Bytes.view(s)) {
        return 0
    }
    var writer = BufferWriter(base: out, capacity: cap)
    ProviderRequest.write(req, into: &writer)
    return writer.overflowed ? 0 : writer.count
}

@c @implementation
func s3p_provider_answer(
    _ step: s3p_step_t, _ response: UnsafePointer<UInt8>?, _ len: Int,
    _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int,
    _ answer: UnsafeMutablePointer<s3p_provider_answer_t>?,
    _ err: UnsafeMutablePointer<UInt8>?, _ errCap: Int
) -> Int32 {
    guard let out, let answer else { return S3P_E_ANSWER }
    answer.pointee = s3p_provider_answer_t()
    let bytes = UnsafeBufferPointer(start: response, count: response == nil ? 0 : len)
    let (read, problem) = ProviderAnswer.read(step, bytes)
    answer.pointee.status = read?.status ?? 0
    if let problem {
        ErrorMessage.write(problem, into: err, cap: errCap)
        return S3P_E_ANSWER
    }
    guard let read else { return S3P_E_ANSWER }
    var writer = BufferWriter(base: out, capacity: cap)
    answer.pointee.value = writer.write(read.value)
    answer.pointee.access_key = writer.write(read.accessKey)
    answer.pointee.secret_key = writer.write(read.secretKey)
    answer.pointee.session_token = writer.write(read.sessionToken)
    answer.pointee.expiration = read.expiration
    guard !writer.overflowed else {
        answer.pointee = s3p_provider_answer_t()
        ErrorMessage.write("an answer too large", into: err, cap: errCap)
        return S3P_E_ANSWER
    }
    return S3P_OK
}

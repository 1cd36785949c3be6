// S3's error answers to proxied requests, cleaned for the client:
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
//
// S3's error document carries, besides Code and Message, what helps whoever
// holds the credentials debug a request: the access key id, the string to
// sign and canonical request (with the session token in it), their byte
// dumps, and request and host ids.  The client of the proxy gets none of
// it: only the Code (which SDKs retry and branch on, such as NoSuchKey or
// SlowDown), checked to be a plain code, and a fixed Message for it.

internal import CShim

struct S3Error {
    /// The code the client gets: S3's own when it is a plain code,
    /// otherwise the status's generic one.
    let code: [UInt8]
    let log: s3p_log_t

    init(status: Int32, body: UnsafeBufferPointer<UInt8>) {
        let found = S3Error.code(in: body)
        code = found.isEmpty ? S3Error.genericCode(status) : found
        log = S3Error.logLevel(status: status, code: code)
    }

    /// Writes the clean document; its slices go into `err`.
    func write(into w: inout BufferWriter, _ err: inout s3p_s3_error_t) {
        let start = w.count
        w.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>")
        err.code = w.write(code)
        w.write("</Code><Message>")
        S3Error.message(code).withUTF8Buffer { _ = w.write($0) }
        w.write("</Message></Error>\n")
        err.body = w.str(start, w.count)
        err.log = log
    }

    // MARK: Reading S3's document

    static let maxCodeLength = 64

    /// The text of the first `<Code>` element, if it is a plain code
    /// (letters and digits, as every code S3 documents) closed right after;
    /// otherwise empty.
    static func code(in body: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let open: StaticString = "<Code>"
        guard let start = find(open, in: body, from: 0) else { return [] }
        var end = start
        while end < body.count && body[end] != UInt8(ascii: "<") {
            guard end - start < maxCodeLength, isCodeByte(body[end]) else { return [] }
            end += 1
        }
        guard end > start, find("</Code>", in: body, from: end) == end + 7 else {
            return []
        }
        return Array(body[start..<end])
    }

    private static func isCodeByte(_ b: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
    }

    /// The index just after the first `needle` in `body`, from `from`.
    private static func find(
        _ needle: StaticString, in body: UnsafeBufferPointer<UInt8>, from: Int
    ) -> Int? {
        needle.withUTF8Buffer { n -> Int? in
            guard n.count <= body.count else { return nil }
            var i = from
            while i + n.count <= body.count {
                var j = 0
                while j < n.count && body[i + j] == n[j] { j += 1 }
                if j == n.count { return i + j }
                i += 1
            }
            return nil
        }
    }

    // MARK: What the proxy says

    /// The code of a status whose answer had no readable document (a HEAD,
    /// or something that was not S3's XML), as S3 names its errors.
    static func genericCode(_ status: Int32) -> [UInt8] {
        let code: StaticString
        switch status {
        case 400: code = "InvalidRequest"
        case 403: code = "AccessDenied"
        case 404: code = "NotFound"
        case 405: code = "MethodNotAllowed"
        case 409: code = "Conflict"
        case 412: code = "PreconditionFailed"
        case 416: code = "InvalidRange"
        case 501: code = "NotImplemented"
        case 503: code = "ServiceUnavailable"
        case 500...599: code = "InternalError"
        default: code = "InvalidRequest"
        }
        return code.withUTF8Buffer { Array($0) }
    }

    /// The Message sent with `code`: S3's wording for the codes it
    /// documents, a neutral one for the rest.
    static func message(_ code: [UInt8]) -> StaticString {
        for (name, text) in messages where equal(name, code) {
            return text
        }
        return "The request could not be served."
    }

    private static let messages: [(StaticString, StaticString)] = [
        ("AccessDenied", "Access Denied"),
        ("NoSuchKey", "The specified key does not exist."),
        ("NoSuchBucket", "The specified bucket does not exist."),
        ("NoSuchVersion", "The specified version does not exist."),
        ("NotFound", "Not Found"),
        ("PreconditionFailed", "At least one of the preconditions you specified did not hold."),
        ("InvalidRange", "The requested range is not satisfiable."),
        ("InvalidObjectState", "The operation is not valid for the object's storage class."),
        ("SlowDown", "Please reduce your request rate."),
        ("ServiceUnavailable", "Please reduce your request rate."),
        ("InternalError", "We encountered an internal error. Please try again."),
        ("SignatureDoesNotMatch",
         "The request signature we calculated does not match the signature you provided."),
        ("InvalidAccessKeyId", "The AWS access key Id you provided does not exist in our records."),
        ("ExpiredToken", "The provided token has expired."),
        ("InvalidToken", "The provided token is malformed or otherwise invalid."),
        ("RequestTimeTooSkewed",
         "The difference between the request time and the current time is too large."),
    ]

    // MARK: Who hears about it

    /// Codes that say the proxy's own credentials or permissions are
    /// wrong: the operator must act, whatever the client asked.
    private static let operatorCodes: [StaticString] = [
        "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
        "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
        "RequestTimeTooSkewed", "AuthorizationHeaderMalformed",
        "AllAccessDisabled", "AccountProblem", "SlowDown",
    ]

    static func logLevel(status: Int32, code: [UInt8]) -> s3p_log_t {
        if status >= 500 { return S3P_LOG_ERROR }
        for name in operatorCodes where equal(name, code) {
            return S3P_LOG_ERROR
        }
        // A HEAD's 403 has no document to tell a credential problem from
        // a permission one: both are the operator's.
        return status == 403 ? S3P_LOG_ERROR : S3P_LOG_INFO
    }

    private static func equal(_ a: StaticString, _ b: [UInt8]) -> Bool {
        a.withUTF8Buffer { a in
            a.count == b.count && b.withUnsafeBufferPointer { b in
                var i = 0
                while i < a.count && a[i] == b[i] { i += 1 }
                return i == a.count
            }
        }
    }
}

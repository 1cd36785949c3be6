// S3's error documents: the one writer of them (the proxy's own refusals
// to S3 clients, and S3's error answers to proxied requests cleaned for
// the client), with the one table of their Messages.
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
        err.code = code.withUnsafeBufferPointer { S3Error.writeDocument(code: $0, into: &w) }
        err.body = w.str(start, w.count)
        err.log = log
        err.counter = code.withUnsafeBufferPointer { S3Error.counter(of: $0) }
    }

    // MARK: Counted

    /// The codes the status page counts one by one: those of the two
    /// tables below; each at its place plus one (0: the others).
    static let counted: [StaticString] = {
        var codes = messages.map { $0.0 }
        for code in operatorCodes {
            let known = code.withUTF8Buffer { code in codes.contains { $0.matches(code) } }
            if !known { codes.append(code) }
        }
        return Array(codes.prefix(Int(S3P_S3_ERRORS) - 1))
    }()

    static func counter(of code: UnsafeBufferPointer<UInt8>) -> UInt32 {
        for (index, name) in counted.enumerated() where name.matches(code) {
            return UInt32(index + 1)
        }
        return 0
    }

    /// S3's XML error document for `code`, with the code's Message: every
    /// error document the core writes, cleaned ones and refusals alike.
    /// Returns the slice that holds the code.
    @discardableResult
    static func writeDocument(
        code: UnsafeBufferPointer<UInt8>, into w: inout BufferWriter
    ) -> s3p_str_t {
        w.write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>")
        let slice = w.write(code)
        w.write("</Code><Message>")
        message(code).withUTF8Buffer { _ = w.write($0) }
        w.write("</Message></Error>")
        return slice
    }

    // MARK: Reading S3's document

    /// The text of the root `Error`'s `Code` element, read with
    /// XMLReader, if it is a plain code (letters and digits, as every code
    /// S3 documents, at most S3P_ERROR_CODE_MAX of them); otherwise empty.
    static func code(in body: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var reader = XMLReader(body)
        while true {
            switch reader.next() {
            case .start:
                if reader.depth == 1 && !reader.isNamed("Error") { return [] }
            case .end(let value):
                if reader.depth == 2 && reader.isNamed("Code") {
                    let plain = !value.isEmpty && value.count <= Int(S3P_ERROR_CODE_MAX)
                        && value.allSatisfy(ASCII.isAlphanumeric)
                    return plain ? value : []
                }
            case .finished, .truncated, .malformed:
                return []
            }
        }
    }

    // MARK: What the proxy says

    /// The code of a status whose answer had no readable document (a HEAD,
    /// or something that was not S3's XML), as S3 names its errors.
    static func genericCode(_ status: Int32) -> [UInt8] {
        let code: StaticString
        switch status {
        case 301: code = "PermanentRedirect"
        case 300...399: code = "TemporaryRedirect"
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

    /// The code of the proxy's own refusal with `status`, answered to S3
    /// clients as S3 would: a refused key is one S3 does not have.
    static func refusalCode(_ status: Int32) -> StaticString {
        switch status {
        case 400: return "InvalidRequest"
        case 404: return "NoSuchKey"
        case 405: return "MethodNotAllowed"
        case 501: return "NotImplemented"
        default: return "AccessDenied"
        }
    }

    /// The Message sent with `code`: S3's wording for the codes it
    /// documents, a neutral one for the rest.
    static func message(_ code: UnsafeBufferPointer<UInt8>) -> StaticString {
        for (name, text) in messages where name.matches(code) {
            return text
        }
        return "The request could not be served."
    }

    /// The one table of Messages.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
    private static let messages: [(StaticString, StaticString)] = [
        ("AccessDenied", "Access Denied"),
        ("PermanentRedirect",
         "The bucket you are attempting to access must be addressed using the specified endpoint."),
        ("TemporaryRedirect", "You are being redirected to the bucket while DNS updates."),
        ("Redirect", "Temporary redirect."),
        ("InvalidRequest", "The request is not valid."),
        ("MethodNotAllowed", "The specified method is not allowed against this resource."),
        ("NotImplemented",
         "A query parameter you provided implies functionality that is not implemented."),
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
        // S3 redirects when the endpoint or region is not the bucket's: the
        // operator's settings, whatever the client asked.
        if status >= 500 || status < 400 { return S3P_LOG_ERROR }
        let isOperators = code.withUnsafeBufferPointer { code in
            operatorCodes.contains { $0.matches(code) }
        }
        // A HEAD's 403 has no document to tell a credential problem from
        // a permission one: both are the operator's.
        return isOperators || status == 403 ? S3P_LOG_ERROR : S3P_LOG_INFO
    }
}

// The request headers the core reads, offered one by one from nginx's
// list (s3p_request_header): the User-Agent, which decides who gets
// objects streamed, and what S3 clients send when they sign, to recognise
// them (Authorization, x-amz-date, x-amz-content-sha256), and
// x-amz-checksum-mode, which is sent on for them.  nginx keeps the first
// User-Agent and refuses a second Authorization; of the others the last
// one counts.

internal import CShim

enum RequestHeaders {
    static func take(_ name: UnsafeBufferPointer<UInt8>, _ value: s3p_str_t,
                      into req: inout s3p_request_t)
    {
        switch name.count {
        case 10 where ASCII.equalsIgnoringCase(name, "user-agent"):
            if req.user_agent.data == nil { req.user_agent = value }
        case 13 where ASCII.equalsIgnoringCase(name, "authorization"):
            req.authorization = value
        case 10 where ASCII.equalsIgnoringCase(name, "x-amz-date"):
            req.amz_date = value
        case 20 where ASCII.equalsIgnoringCase(name, "x-amz-content-sha256"):
            req.amz_content_sha256 = value
        case 19 where ASCII.equalsIgnoringCase(name, "x-amz-checksum-mode"):
            req.checksum_mode = value
        default:
            break
        }
    }
}

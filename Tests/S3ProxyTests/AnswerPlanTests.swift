// The plan of each answer to a proxied request (s3p_answer_plan) and the
// request headers the core keeps (s3p_request_header).
//
// Source of the expectations: the module's behaviour as
// docs/operations.md ("Errors from S3", "Response headers"),
// docs/websites.md and the README's s3_proxy_listing describe it: S3's
// redirects and errors (3xx but 304, 4xx, 5xx) cleaned, a HEAD's logged;
// listings rendered with their policy; downloads, error documents and
// folder redirects as the website pages say; a 404 or 403 the next step
// follows replaced by it.

import CShim
import Testing
@testable import S3Proxy

@Suite struct AnswerPlanTests {
    static let body = UInt32(S3P_ANSWER_BODY)

    static func plan(_ result: s3p_result_t, _ status: Int32, s3: Int32? = nil,
                     flags: UInt32 = body) -> s3p_answer_t
    {
        var result = result
        var answer = s3p_answer_t()
        s3p_answer_plan(&result, status, s3 ?? status, flags, &answer)
        return answer
    }

    static func string(_ s: s3p_str_t) -> String {
        String(decoding: Bytes.view(s), as: UTF8.self)
    }

    static func headers(_ answer: s3p_answer_t) -> [String: String] {
        var found: [String: String] = [:]
        let all = [answer.headers.0, answer.headers.1, answer.headers.2]
        for header in all.prefix(answer.nheaders) {
            if let name = header.name {
                found[String(cString: name)] = string(header.value)
            }
        }
        return found
    }

    static func str(_ s: StaticString) -> s3p_str_t {
        s3p_str_t(len: s.utf8CodeUnitCount, data: s.utf8Start)
    }

    // S3's redirects and errors are cleaned into XML; 304 and the
    // statuses nginx made (an error page, S3 not reached) pass.
    @Test(arguments: [
        (Int32(301), Int32(301), UInt32(0), S3P_BODY_CLEAN),
        (Int32(403), Int32(403), UInt32(0), S3P_BODY_CLEAN),
        (Int32(503), Int32(503), UInt32(0), S3P_BODY_CLEAN),
        (Int32(304), Int32(304), UInt32(0), S3P_BODY_AS_IS),
        (Int32(404), Int32(0), UInt32(0), S3P_BODY_AS_IS),
        (Int32(502), Int32(200), UInt32(0), S3P_BODY_AS_IS),
        (Int32(404), Int32(404), UInt32(S3P_ANSWER_NGINX), S3P_BODY_AS_IS),
    ])
    func s3ErrorsAreCleaned(status: Int32, s3: Int32, flags: UInt32, body: s3p_body_t) {
        let answer = Self.plan(s3p_result_t(), status, s3: s3, flags: Self.body | flags)
        #expect(answer.body == body)
        #expect(answer.status == 0 && answer.nheaders == 0)
        if body == S3P_BODY_CLEAN {
            #expect(answer.replace == 1 && answer.type == 1)
            #expect(Self.string(answer.content_type) == "application/xml")
            #expect(answer.charset.len == 0)
        } else {
            #expect(answer.replace == 0 && answer.type == 0)
        }
    }

    @Test func aHeadErrorIsLoggedNotCleaned() {
        let answer = Self.plan(s3p_result_t(), 403, flags: 0)
        #expect(answer.body == S3P_BODY_LOG && answer.replace == 0 && answer.type == 0)
    }

    // The headers the client sees: request ids and encryption as
    // s3_proxy_pass_headers says, a Range's checksums, and S3's own
    // Content-Disposition when the core writes a download's.
    @Test func passedHeaders() {
        var result = s3p_result_t()
        let flags = UInt32(S3P_PASS_SSE | S3P_ANSWER_RANGE) | UInt32(S3P_ANSWER_NGINX)
        #expect(Self.plan(result, 200, flags: flags).pass
                == UInt32(S3P_PASS_SSE | S3P_ANSWER_RANGE))
        result.disposition = Self.str("attachment; filename=\"a.txt\"")
        let answer = Self.plan(result, 200, flags: UInt32(S3P_PASS_REQUEST_ID))
        #expect(answer.pass == UInt32(S3P_PASS_REQUEST_ID | S3P_ANSWER_DISPOSITION))
        #expect(Self.headers(answer) == ["Content-Disposition": "attachment; filename=\"a.txt\""])
        #expect(answer.body == S3P_BODY_AS_IS && answer.replace == 0)
    }

    // An object's type from nginx's types, an error document's status;
    // not for S3's errors.
    @Test func objectsGetTheirTypeAndDocumentsTheirStatus() {
        var result = s3p_result_t()
        result.content_type = Self.str("text/css")
        var answer = Self.plan(result, 200)
        #expect(answer.type == 1 && answer.replace == 0 && answer.charset.data == nil)
        #expect(Self.string(answer.content_type) == "text/css")
        result.render = S3P_RENDER_DOCUMENT
        result.status = 404
        answer = Self.plan(result, 200)
        #expect(answer.status == 404 && answer.body == S3P_BODY_AS_IS)
        answer = Self.plan(result, 500)
        #expect(answer.status == 0 && answer.type == 1 && answer.body == S3P_BODY_CLEAN)
        #expect(Self.string(answer.content_type) == "application/xml")
    }

    // A website's folder check: S3 found `folder/index.html`, so the
    // client gets a 302 to `folder/`, with no body.
    @Test func folderRedirect() {
        var result = s3p_result_t()
        result.render = S3P_RENDER_FOLDER
        result.header_value = Self.str("/docs/?a=1")
        let answer = Self.plan(result, 200)
        #expect(answer.body == S3P_BODY_DISCARD && answer.status == 302)
        #expect(answer.replace == 1 && answer.type == 1 && answer.content_type.len == 0)
        #expect(Self.headers(answer) == ["Location": "/docs/?a=1"])
        #expect(Self.plan(result, 404).body == S3P_BODY_CLEAN)
    }

    // Listings: rendered into HTML for a GET of S3's 200; a HEAD gets the
    // headers; S3's XML made relative to the prefix stays XML.
    @Test(arguments: [S3P_RENDER_LISTING, S3P_RENDER_LISTING_MORE, S3P_RENDER_LISTING_XML])
    func listings(render: s3p_render_t) {
        var result = s3p_result_t()
        result.render = render
        let xml = render == S3P_RENDER_LISTING_XML
        let answer = Self.plan(result, 200)
        #expect(answer.body == S3P_BODY_RENDER && answer.replace == 1 && answer.type == 1)
        #expect(Self.string(answer.content_type) == (xml ? "application/xml" : "text/html"))
        #expect(Self.string(answer.charset) == (xml ? "" : "utf-8"))
        #expect(Self.headers(answer).count == (xml ? 0 : 2))
        let head = Self.plan(result, 200, flags: 0)
        #expect(head.body == S3P_BODY_AS_IS && head.replace == 1)
        #expect(Self.plan(result, 206).body == S3P_BODY_AS_IS)
        #expect(Self.plan(result, 304).type == 0)
    }

    // A status the next step follows: that step answers, whatever else
    // the answer would be; not once the body is discarded already.
    @Test func nextStep() {
        let path: StaticString = "/docs/"
        var result = s3p_result_t()
        result.fallback = Self.str(path)
        result.fallback_on = UInt32(S3P_FALLBACK_404)
        #expect(Self.plan(result, 404).body == S3P_BODY_NEXT_STEP)
        #expect(Self.plan(result, 404, s3: 0, flags: UInt32(S3P_ANSWER_NGINX)).body
                == S3P_BODY_NEXT_STEP)
        #expect(Self.plan(result, 403).body == S3P_BODY_CLEAN)
        #expect(Self.plan(result, 404, flags: UInt32(S3P_ANSWER_DISCARDING)).body
                == S3P_BODY_LOG)
    }

    // MARK: Request headers

    static func request(_ headers: [(String, String)]) -> s3p_request_t {
        var req = s3p_request_t()
        for (name, value) in headers {
            let n = Array(name.utf8), v = Array(value.utf8)
            let np = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n.count, 1))
            let vp = UnsafeMutablePointer<UInt8>.allocate(capacity: max(v.count, 1))
            np.initialize(from: n, count: n.count)
            vp.initialize(from: v, count: v.count)
            var ns = s3p_str_t(len: n.count, data: np)
            var vs = s3p_str_t(len: v.count, data: vp)
            s3p_request_header(&req, &ns, &vs)
        }
        return req
    }

    @Test func requestHeadersTheCoreReads() {
        let req = Self.request([
            ("user-agent", ""), ("User-Agent", "curl/8"),
            ("AUTHORIZATION", "AWS4-HMAC-SHA256 Credential=x"),
            ("X-Amz-Date", "20260101T000000Z"), ("x-amz-date", "20260102T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-checksum-mode", "ENABLED"),
            ("x-amz-date-other", "no"), ("Accept", "*/*"),
        ])
        // nginx's first User-Agent, even an empty one; the last of the others
        #expect(req.user_agent.data != nil && req.user_agent.len == 0)
        #expect(Self.string(req.authorization) == "AWS4-HMAC-SHA256 Credential=x")
        #expect(Self.string(req.amz_date) == "20260102T000000Z")
        #expect(Self.string(req.amz_content_sha256) == "UNSIGNED-PAYLOAD")
        #expect(Self.string(req.checksum_mode) == "ENABLED")
        let none = Self.request([("Accept", "*/*"), ("x-amz-meta-a", "b")])
        #expect(none.user_agent.data == nil && none.amz_date.data == nil)
        #expect(none.checksum_mode.data == nil && none.authorization.data == nil)
    }
}

// The body that replaces S3's (s3p_answer_body), with the line the error
// log gets; the expectations are those of docs/operations.md ("Errors
// from S3") and the README's s3_proxy_listing, as the module logged and
// answered them before the two calls were one.
@Suite struct AnswerBodyTests {
    static let alloc: s3p_alloc_t = { _, size in UnsafeMutablePointer<UInt8>.allocate(capacity: size) }
    static let none: s3p_alloc_t = { _, _ in nil }

    static func replace(_ how: s3p_body_t, _ status: Int32, _ body: String,
                        render: s3p_render_t = S3P_RENDER_NONE, truncated: Bool = false,
                        alloc: s3p_alloc_t = alloc) -> (Int32, s3p_replacement_t)
    {
        var result = s3p_result_t()
        result.render = render
        var out = s3p_replacement_t()
        let bytes = Array(body.utf8)
        let rc = bytes.withUnsafeBufferPointer {
            s3p_answer_body(&result, how, status, $0.baseAddress, $0.count,
                            truncated ? 1 : 0, alloc, nil, &out)
        }
        return (rc, out)
    }

    static func string(_ s: s3p_str_t) -> String { AnswerPlanTests.string(s) }

    @Test func anErrorIsCleanedAndLoggedWithItsCode() {
        let (rc, out) = Self.replace(S3P_BODY_CLEAN, 403,
            "<Error><Code>AccessDenied</Code><Message>no</Message>"
            + "<AWSAccessKeyId>AKIDEXAMPLE</AWSAccessKeyId></Error>")
        #expect(rc == S3P_OK && out.status == 0)
        #expect(Self.string(out.code) == "AccessDenied" && out.counter > 0)
        #expect(Self.string(out.page).contains("<Code>AccessDenied</Code>"))
        #expect(!Self.string(out.page).contains("AKIDEXAMPLE"))
        #expect(Self.string(out.message) == "S3 answered 403 \"AccessDenied\"")
        #expect(out.log == S3P_LOG_ERROR)
    }

    @Test func aHeadErrorLogsItsStatusAlone() {
        let (rc, out) = Self.replace(S3P_BODY_LOG, 404, "")
        #expect(rc == S3P_OK && out.page.len == 0 && out.status == 0)
        #expect(Self.string(out.code) == "NotFound")
        #expect(Self.string(out.message) == "S3 answered 404")
        #expect(out.log == S3P_LOG_INFO)
    }

    @Test func anEmptyFolderIsNotFound() {
        let (rc, out) = Self.replace(S3P_BODY_RENDER, 200, "<ListBucketResult></ListBucketResult>",
                                     render: S3P_RENDER_LISTING)
        #expect(rc == S3P_OK && out.status == 404 && out.page.len > 0)
        #expect(out.code.len == 0 && out.message.len == 0)
        let (_, more) = Self.replace(S3P_BODY_RENDER, 200, "<ListBucketResult></ListBucketResult>",
                                     render: S3P_RENDER_LISTING_MORE)
        #expect(more.status == 0 && Self.string(more.page).contains("<html"))
    }

    @Test func failuresAreLoggedAsTheOperatorsProblem() {
        var (rc, out) = Self.replace(S3P_BODY_RENDER, 200, "<ListBucketResult>",
                                     render: S3P_RENDER_LISTING, truncated: true)
        #expect(rc == S3P_E_SPACE && out.log == S3P_LOG_ERROR)
        #expect(Self.string(out.message) == "listing page larger than 8388608 bytes")
        (rc, out) = Self.replace(S3P_BODY_CLEAN, 500, "", alloc: Self.none)
        #expect(rc == S3P_E_SPACE && Self.string(out.message) == "cleaning an error of S3's failed")
        (rc, out) = Self.replace(S3P_BODY_RENDER, 200,
                                 "<ListBucketResult></ListBucketResult>",
                                 render: S3P_RENDER_LISTING, alloc: Self.none)
        #expect(rc == S3P_E_SPACE && Self.string(out.message) == "rendering a listing failed")
    }
}

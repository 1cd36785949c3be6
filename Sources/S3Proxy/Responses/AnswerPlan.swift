// What the module makes of an answer to a proxied request, once its status
// and S3's headers are known (s3p_answer_plan): which of S3's headers stay
// (ResponseHeaders), and what type, status, headers and body the client
// gets.
//
//   - S3's own redirect or error (3xx but 304, 400 and above), not one
//     nginx made: its body becomes the clean error document of S3Error,
//     its type XML; a HEAD's, without a body, has its status logged.
//   - A status the request's next step follows (a folder's listing, a
//     website's folder check or error document): that step answers.
//   - An object S3 found: nginx's type for its key (s3_proxy_types), a
//     download's Content-Disposition, an error document's status, or a
//     folder's 302 to its `/`, whose body is discarded.
//   - A listing S3 found: its XML rendered into a page (with a policy that
//     lets nothing load or run), or its keys made relative to the prefix.
//
// Whatever replaces S3's body replaces the headers that describe it: its
// length, ranges, dates, ETag and encoding.

internal import CShim

enum AnswerPlan {
    static func plan(_ result: s3p_result_t, status: Int32, s3Status: Int32,
                     flags: UInt32, into answer: inout s3p_answer_t)
    {
        answer = s3p_answer_t()
        answer.pass = flags & UInt32(S3P_PASS_REQUEST_ID | S3P_PASS_SSE | S3P_ANSWER_RANGE)
        if result.disposition.len > 0 {
            answer.pass |= UInt32(S3P_ANSWER_DISPOSITION)
        }
        let body = flags & UInt32(S3P_ANSWER_BODY) != 0
        if flags & UInt32(S3P_ANSWER_DISCARDING) == 0
            && fallsBack(result, status: status, errorPage: false)
        {
            answer.body = S3P_BODY_NEXT_STEP
            return
        }
        if status >= 300 && status != 304 && s3Status == status
            && flags & UInt32(S3P_ANSWER_NGINX) == 0
        {
            guard body else {
                answer.body = S3P_BODY_LOG
                return
            }
            answer.body = S3P_BODY_CLEAN
            answer.setType(replacing: "application/xml")
            return
        }
        if status < 400 {
            if result.content_type.len > 0 {
                answer.type = 1
                answer.content_type = result.content_type
            }
            if result.disposition.len > 0 {
                answer.add("Content-Disposition", result.disposition)
            }
            if result.render == S3P_RENDER_DOCUMENT {
                answer.status = result.status
            }
            if result.render == S3P_RENDER_FOLDER {
                answer.setType(replacing: "")
                answer.status = 302
                answer.add("Location", result.header_value)
                answer.body = S3P_BODY_DISCARD
                return
            }
        }
        switch result.render {
        case S3P_RENDER_LISTING, S3P_RENDER_LISTING_MORE:
            guard status == 200 else { return }
            answer.setType(replacing: "text/html", charset: "utf-8")
            answer.add("Content-Security-Policy", ListingHTML.contentSecurityPolicy)
            answer.add("X-Content-Type-Options", "nosniff")
        case S3P_RENDER_LISTING_XML:
            guard status == 200 else { return }
            answer.setType(replacing: "application/xml")
        default:
            return
        }
        // A HEAD's listing: S3 sends none to render; the headers are the
        // answer.
        if body {
            answer.body = S3P_BODY_RENDER
        }
    }

    /// Whether S3's answer with `status` sends the request on to its
    /// `fallback`; after the location's error_page, only the steps that
    /// happen whatever it is (Plan.fallbackOn).
    static func fallsBack(_ result: s3p_result_t, status: Int32, errorPage: Bool) -> Bool {
        guard result.fallback.len > 0 else { return false }
        if errorPage && result.fallback_on & UInt32(S3P_FALLBACK_ERROR_PAGE) == 0 {
            return false
        }
        return Plan.fallsBack(result.fallback_on, status: status)
    }
}

extension s3p_answer_t {
    /// A body not S3's, of this type.
    mutating func setType(replacing type: StaticString, charset: StaticString? = nil) {
        replace = 1
        self.type = 1
        content_type = s3p_str_t(len: type.utf8CodeUnitCount, data: type.utf8Start)
        if let charset {
            self.charset = s3p_str_t(len: charset.utf8CodeUnitCount, data: charset.utf8Start)
        }
    }

    mutating func add(_ name: StaticString, _ value: StaticString) {
        add(name, s3p_str_t(len: value.utf8CodeUnitCount, data: value.utf8Start))
    }

    /// One header more, its name a literal, which Swift keeps
    /// NUL-terminated for the life of the process.
    mutating func add(_ name: StaticString, _ value: s3p_str_t) {
        let header = s3p_header_t(
            name: UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self),
            value: value)
        switch nheaders {
        case 0: headers.0 = header
        case 1: headers.1 = header
        case 2: headers.2 = header
        default: return
        }
        nheaders += 1
    }
}

// The body that replaces S3's in an answer to a proxied request, as its
// plan says (AnswerPlan, s3p_answer_body): S3's error document cleaned
// (S3Error), or a listing rendered (ListingPage, ListingHTML, ListingXML),
// and the line nginx's error log gets for it.

internal import CShim

enum AnswerBody {
    /// A rendered page copied into memory from `alloc`; nil without it.
    static func store(
        _ page: [UInt8], _ alloc: s3p_alloc_t, _ data: UnsafeMutableRawPointer?
    ) -> s3p_str_t? {
        guard let memory = alloc(data, page.count) else { return nil }
        page.withUnsafeBytes { bytes in
            if let start = bytes.baseAddress {
                UnsafeMutableRawPointer(memory).copyMemory(from: start, byteCount: bytes.count)
            }
        }
        return s3p_str_t(len: page.count, data: memory)
    }

    /// The room for a message: "S3 answered <status> \"<code>\"".
    static let messageMax = 32 + Int(S3P_ERROR_CODE_MAX)

    static func replace(
        _ result: s3p_result_t, how: s3p_body_t, status: Int32,
        body: UnsafeBufferPointer<UInt8>, truncated: Bool,
        alloc: s3p_alloc_t, data: UnsafeMutableRawPointer?,
        into out: inout s3p_replacement_t
    ) -> Int32 {
        out = s3p_replacement_t()
        guard how == S3P_BODY_RENDER else {
            return clean(status: status, body: how == S3P_BODY_CLEAN ? body : .init(start: nil, count: 0),
                         page: how == S3P_BODY_CLEAN, alloc: alloc, data: data, into: &out)
        }
        guard !truncated, body.count <= Int(S3P_LISTING_XML_MAX) else {
            return failed(S3P_E_SPACE, "listing page larger than 8388608 bytes", into: &out)
        }
        guard let (page, notFound) = listing(result, xml: body) else {
            return failed(S3P_E_CONFIG, "rendering a listing failed", into: &out)
        }
        guard let stored = store(page, alloc, data) else {
            return failed(S3P_E_SPACE, "rendering a listing failed", into: &out)
        }
        out.page = stored
        out.status = notFound ? 404 : 0
        return S3P_OK
    }

    /// S3's error: its clean document (`page`) and its code, logged at
    /// the level S3Error chooses, with the code when there is a document.
    static func clean(
        status: Int32, body: UnsafeBufferPointer<UInt8>, page: Bool,
        alloc: s3p_alloc_t, data: UnsafeMutableRawPointer?,
        into out: inout s3p_replacement_t
    ) -> Int32 {
        let room = Int(page ? S3P_ERROR_OUT_MAX : S3P_ERROR_CODE_MAX) + messageMax
        guard let memory = alloc(data, room) else {
            return failed(S3P_E_SPACE, "cleaning an error of S3's failed", into: &out)
        }
        let error = S3Error(status: status, body: body)
        var w = BufferWriter(base: memory, capacity: room)
        var err = s3p_s3_error_t()
        if page {
            error.write(into: &w, &err)
            out.page = err.body
            out.code = err.code
        } else {
            out.code = error.code.withUnsafeBufferPointer { w.write($0) }
        }
        out.counter = error.code.withUnsafeBufferPointer { S3Error.counter(of: $0) }
        out.log = error.log
        let start = w.count
        w.write("S3 answered ")
        w.writeDecimal(UInt32(clamping: status))
        if page {
            w.write(" \"")
            w.write(out.code)
            w.write("\"")
        }
        guard !w.overflowed else {
            return failed(S3P_E_SPACE, "cleaning an error of S3's failed", into: &out)
        }
        out.message = w.str(start, w.count)
        return S3P_OK
    }

    /// A listing's page: S3's XML rendered as the folder's HTML listing
    /// (notFound: the first page of a folder holds nothing, and the page
    /// is nginx's 404 page), or S3's XML with its keys made relative to
    /// the prefix; nil when a key lies outside it.
    static func listing(
        _ result: s3p_result_t, xml: UnsafeBufferPointer<UInt8>
    ) -> (page: [UInt8], notFound: Bool)? {
        // Keys are shown relative to the location's key prefix.
        let prefix = result.prefix.bytes
        if result.render == S3P_RENDER_LISTING_XML {
            guard let relative = ListingXML.relative(xml, prefix: prefix) else { return nil }
            return (relative, false)
        }
        var listing = ListingPage(xml: xml)
        listing.confine(to: prefix)
        // A prefix that holds no objects is not a folder: nginx's own 404
        // page.
        if listing.isEmpty && result.render == S3P_RENDER_LISTING {
            return (Array(ListingHTML.notFoundPage.utf8), true)
        }
        let base = result.base.len > 0 ? result.base.bytes
            : Array("/".utf8) + result.bucket.bytes + Array("/".utf8)
        let folder = Array(result.key.bytes.dropFirst(prefix.count))
        let html = ListingHTML(bucket: result.bucket.bytes, prefix: folder, base: base,
                               download: result.download.bytes)
            .render(listing)
        return (html, false)
    }

    static func failed(
        _ rc: Int32, _ message: StaticString, into out: inout s3p_replacement_t
    ) -> Int32 {
        out.log = S3P_LOG_ERROR
        out.message = s3p_str_t(len: message.utf8CodeUnitCount, data: message.utf8Start)
        return rc
    }
}

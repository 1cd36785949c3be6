// Websites (issue 23) through the C boundary: which keys browsers get
// proxied, the steps of a path (index page, listing, folder check, error
// document), the parameters signed into presigned URLs, and the
// Content-Disposition of download links.
//
// Source of the expectations: issue 23's text, S3's website endpoint
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/IndexDocumentSupport.html:
// `/folder` redirects to `/folder/` when `folder/index.html` exists;
// CustomErrorDocSupport.html: the error document on 403 and 404), GetObject's
// response-* overrides (API_GetObject.html), RFC 6266 section 4.3 and
// RFC 5987 section 3.2 (filename*, attr-char), and s3_proxy_core.h.

import CShim
import Testing
@testable import S3Proxy

/// nginx's "types" as the test's location has them: html, css, log,
/// looked up as nginx's hash is, by lowercase name.
private let typeOf: s3p_type_t = { _, ext, len in
    let name = ext.map { String(decoding: UnsafeBufferPointer(start: $0, count: len),
                                as: UTF8.self) } ?? ""
    let type: StaticString
    switch name {
    case "html": type = "text/html"
    case "css": type = "text/css"
    case "log": type = "text/plain"
    default: type = "application/octet-stream"
    }
    return s3p_str_t(len: type.utf8CodeUnitCount, data: type.utf8Start)
}

private struct Answer {
    var action: s3p_action_t
    var status: Int32
    var key: String
    var url: String
    var fallback: String
    var fallbackOn: UInt32
    var render: s3p_render_t
    var contentType: String
    var disposition: String
    var header: String
    var download: String
}

@Suite struct WebsiteTests {
    static let browser = "Mozilla/5.0"
    static let sdk = "Boto3/1.34 md/Botocore#1.34"

    static func config(_ memory: CMemory, website: Bool = true, types: Bool = false,
                       proxyTypes: [String] = [], errorDocument: String = "",
                       errorStatus: Int32 = 0, listings: Bool = false,
                       download: String = "") -> s3p_config_t
    {
        var conf = CAPITests.config(memory)
        conf.bucket = memory.str("site")
        conf.website = website ? 1 : 0
        conf.types = types ? 1 : 0
        conf.listings = listings ? 1 : 0
        conf.error_document = memory.str(errorDocument)
        conf.error_status = errorStatus
        conf.download = memory.str(download)
        conf.type = typeOf
        if !proxyTypes.isEmpty {
            let list = memory.buffer(MemoryLayout<s3p_str_t>.stride * proxyTypes.count)
            let typed = UnsafeMutableRawPointer(list).bindMemory(to: s3p_str_t.self,
                                                                 capacity: proxyTypes.count)
            for (index, type) in proxyTypes.enumerated() {
                typed[index] = memory.str(type)
            }
            conf.proxy_types = UnsafePointer(typed)
            conf.nproxy_types = proxyTypes.count
        }
        return conf
    }

    private static func answer(
        _ conf: inout s3p_config_t, _ memory: CMemory, _ path: String, _ query: String = "",
        agent: String = browser, step: Int32 = 0, previous: Int32 = 0
    ) -> Answer {
        var req = s3p_request_t(
            method: memory.str("GET"), path: memory.str(path), query: memory.str(query),
            user_agent: memory.str(agent), authorization: s3p_str_t(),
            amz_date: s3p_str_t(), amz_content_sha256: s3p_str_t(), checksum_mode: s3p_str_t(),
            now: AWSExample.unixTime, fallback: step, status: previous,
            bucket: s3p_str_t(), prefix: s3p_str_t(),
            target: s3p_str_t(), decoded: 0)
        let cap = s3p_output_bound(&conf, &req)
        let out = memory.buffer(cap)
        var result = s3p_result_t()
        #expect(s3p_handle(&conf, &req, out, cap, &result) == S3P_OK)
        func s(_ v: s3p_str_t) -> String { String(decoding: v.bytes, as: UTF8.self) }
        return Answer(
            action: result.action, status: result.status, key: s(result.key),
            url: s(result.url), fallback: s(result.fallback), fallbackOn: result.fallback_on,
            render: result.render, contentType: s(result.content_type),
            disposition: s(result.disposition),
            header: result.header.map { String(cString: $0) + ": " + s(result.header_value) }
                ?? "",
            download: s(result.download))
    }

    /// A presigned URL's query item, decoded.
    static func item(_ url: String, _ name: String) -> String? {
        guard let query = url.split(separator: "?", maxSplits: 1).last else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first.map(String.init) == name {
                return parts.count > 1 ? String(decoding: Plain.percentDecoded(
                    Array(parts[1].utf8)[...], plusIsSpace: false) ?? [], as: UTF8.self) : ""
            }
        }
        return nil
    }

    // MARK: pages proxied, assets redirected

    @Test func pagesAreProxiedAndAssetsRedirected() {
        let memory = CMemory()
        var conf = Self.config(memory)
        #expect(Self.answer(&conf, memory, "/about.html").action == S3P_ACTION_PROXY)
        #expect(Self.answer(&conf, memory, "/style.css").action == S3P_ACTION_REDIRECT)
        #expect(Self.answer(&conf, memory, "/docs/").action == S3P_ACTION_PROXY)
        // without website mode, only index pages
        var plain = Self.config(memory, website: false)
        #expect(Self.answer(&plain, memory, "/about.html").action == S3P_ACTION_REDIRECT)
    }

    @Test func proxyTypesWorkWithoutWebsiteMode() {
        let memory = CMemory()
        var conf = Self.config(memory, website: false, proxyTypes: ["text/plain", "TEXT/CSS"])
        #expect(Self.answer(&conf, memory, "/ci/build.LOG").action == S3P_ACTION_PROXY)
        #expect(Self.answer(&conf, memory, "/a.css").action == S3P_ACTION_PROXY)
        #expect(Self.answer(&conf, memory, "/a.html").action == S3P_ACTION_REDIRECT)
    }

    @Test func s3ClientsGetS3sAnswers() {
        let memory = CMemory()
        var conf = Self.config(memory, types: true, errorDocument: "404.html")
        let docs = Self.answer(&conf, memory, "/docs", agent: Self.sdk)
        #expect(docs.action == S3P_ACTION_PROXY)
        #expect(docs.fallback.isEmpty && docs.fallbackOn == 0)
        #expect(docs.contentType.isEmpty)
        let page = Self.answer(&conf, memory, "/about.html", "download", agent: Self.sdk)
        #expect(page.action == S3P_ACTION_REFUSE && page.status == 501)
    }

    // MARK: the steps of a path

    @Test func folderWithoutSlashIsCheckedThenRedirected() {
        let memory = CMemory()
        var conf = Self.config(memory, errorDocument: "404.html")
        conf.ignore_params = UnsafePointer(memory.store(memory.str("v")))
        conf.nignore_params = 1
        let first = Self.answer(&conf, memory, "/docs", "v=1")
        #expect(first.action == S3P_ACTION_PROXY && first.key == "docs")
        #expect(first.fallback == "/docs?v=1")
        #expect(first.fallbackOn == UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403
                                           | S3P_FALLBACK_ERROR_PAGE))
        let check = Self.answer(&conf, memory, "/docs", "v=1", step: 1, previous: 404)
        #expect(check.key == "docs/index.html")
        #expect(check.render == S3P_RENDER_FOLDER && check.status == 302)
        #expect(check.header == "Location: /docs/?v=1")
        #expect(check.fallbackOn == UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403))
        let document = Self.answer(&conf, memory, "/docs", "v=1", step: 2, previous: 404)
        #expect(document.key == "404.html")
        #expect(document.render == S3P_RENDER_DOCUMENT && document.status == 404)
        #expect(document.fallback.isEmpty)
        #expect(Self.answer(&conf, memory, "/docs", step: 3, previous: 404).action
                == S3P_ACTION_REFUSE)
    }

    @Test(arguments: [
        ("//evil", "/%2Fevil/"),
        ("/a\\b", "/a%5Cb/"),
        ("/caf\u{e9}", "/caf%C3%A9/"),
    ])
    func folderRedirectStaysOnTheSite(path: String, location: String) {
        let memory = CMemory()
        var conf = Self.config(memory)
        let check = Self.answer(&conf, memory, path, step: 1, previous: 404)
        #expect(check.header == "Location: " + location)
    }

    @Test func indexPageThenListingThenErrorDocument() {
        let memory = CMemory()
        var conf = Self.config(memory, errorDocument: "index.html", errorStatus: 200,
                               listings: true)
        let first = Self.answer(&conf, memory, "/app/")
        #expect(first.key == "app/index.html")
        #expect(first.fallbackOn == UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_ERROR_PAGE))
        let listing = Self.answer(&conf, memory, "/app/", step: 1, previous: 404)
        #expect(listing.render == S3P_RENDER_LISTING)
        #expect(listing.download == "download")
        #expect(listing.fallbackOn == UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403))
        let document = Self.answer(&conf, memory, "/app/", step: 2, previous: 404)
        #expect(document.key == "index.html" && document.status == 200)
    }

    @Test func pageFallsBackToTheErrorDocumentOn403And404() {
        let memory = CMemory()
        var conf = Self.config(memory, types: true, errorDocument: "errors/missing.html")
        let first = Self.answer(&conf, memory, "/no/page.html")
        #expect(first.fallbackOn == UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403))
        let document = Self.answer(&conf, memory, "/no/page.html", step: 1, previous: 403)
        #expect(document.key == "errors/missing.html" && document.status == 403)
        #expect(document.contentType == "text/html")
        // no error document: S3's 404 stays
        var bare = Self.config(memory)
        #expect(Self.answer(&bare, memory, "/no/page.html").fallback.isEmpty)
    }

    // MARK: types and downloads

    @Test func typesAreSignedIntoRedirectsAndSetOnProxiedAnswers() {
        let memory = CMemory()
        var conf = Self.config(memory, website: false, types: true)
        let log = Self.answer(&conf, memory, "/ci/build.log")
        #expect(log.action == S3P_ACTION_REDIRECT)
        #expect(Self.item(log.url, "response-content-type") == "text/plain")
        #expect(log.url.contains("X-Amz-Signature="))
        let index = Self.answer(&conf, memory, "/ci/")
        #expect(index.action == S3P_ACTION_PROXY && index.contentType == "text/html")
        let unknown = Self.answer(&conf, memory, "/ci/blob")
        #expect(Self.item(unknown.url, "response-content-type") == "application/octet-stream")
    }

    @Test func downloadParameterIsTheProxysNeverS3s() {
        let memory = CMemory()
        var conf = Self.config(memory, website: false)
        let file = Self.answer(&conf, memory, "/ci/build.log", "download")
        #expect(file.action == S3P_ACTION_REDIRECT)
        #expect(Self.item(file.url, "download") == nil)
        #expect(Self.item(file.url, "response-content-disposition")
                == "attachment; filename=\"build.log\"")
        let page = Self.answer(&conf, memory, "/ci/", "download=1")
        #expect(page.disposition == "attachment; filename=\"index.html\"")
        var renamed = Self.config(memory, website: false, download: "save")
        #expect(Self.answer(&renamed, memory, "/a.log", "save").url
                .contains("response-content-disposition="))
        #expect(Self.answer(&renamed, memory, "/a.log", "download").action == S3P_ACTION_REFUSE)
        var off = Self.config(memory, website: false, download: "off")
        #expect(Self.answer(&off, memory, "/a.log", "download").action == S3P_ACTION_REFUSE)
    }

    @Test func clientsCannotSetResponseParameters() {
        let memory = CMemory()
        var conf = Self.config(memory, types: true)
        let r = Self.answer(&conf, memory, "/a.log", "response-content-type=text/html")
        #expect(r.action == S3P_ACTION_REFUSE && r.status == 403)
    }

    @Test func listingsHaveNoKeysType() {
        let memory = CMemory()
        var conf = Self.config(memory, types: true)
        conf.bucket = s3p_str_t()
        #expect(Self.answer(&conf, memory, "/site").contentType == "")
        #expect(Self.answer(&conf, memory, "/site/", "list-type=2").contentType == "")
        #expect(Self.answer(&conf, memory, "/site/a.html").contentType == "text/html")
    }

    // nginx's types hash holds lowercase extensions of at most 64 bytes:
    // the core asks with the key's extension lowercased, or with none.
    @Test func typesAreLookedUpByLowercaseExtension() {
        let memory = CMemory()
        var conf = Self.config(memory, website: false, types: true)
        let page = Self.answer(&conf, memory, "/ci/INDEX.HTML")
        #expect(Self.item(page.url, "response-content-type") == "text/html")
        let css = Self.answer(&conf, memory, "/ci/a.Css")
        #expect(Self.item(css.url, "response-content-type") == "text/css")
        let long = Self.answer(&conf, memory, "/ci/a." + String(repeating: "L", count: 65))
        #expect(Self.item(long.url, "response-content-type") == "application/octet-stream")
    }

    @Test func websitesDropTheParametersTheyDoNotServe() {
        let memory = CMemory()
        var conf = Self.config(memory)
        let page = Self.answer(&conf, memory, "/about.html", "fbclid=x&acl&lang=en")
        #expect(page.action == S3P_ACTION_PROXY && !page.url.contains("?"))
        let asset = Self.answer(&conf, memory, "/a.png", "v=3&partNumber=2")
        #expect(asset.action == S3P_ACTION_REDIRECT && Self.item(asset.url, "v") == nil
                && Self.item(asset.url, "partNumber") == "2")
        for query in ["response-expires=0", "RESPONSE-content-type=x", "X-Amz-Expires=1"] {
            #expect(Self.answer(&conf, memory, "/a.png", query).status == 403)
        }
        #expect(Self.answer(&conf, memory, "/about.html", "lang=en", agent: Self.sdk).status
                == 501)
        var plain = Self.config(memory, website: false)
        #expect(Self.answer(&plain, memory, "/about.html", "lang=en").status == 403)
    }

    @Test(arguments: [
        // plain names: the quoted form alone
        ("report.pdf", "attachment; filename=\"report.pdf\""),
        ("", "attachment; filename=\"download\""),
        // non-ASCII: one `_` per character, and RFC 5987's form
        ("r\u{e9}sum\u{e9}.txt",
         "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"),
        ("\u{1F600}.log", "attachment; filename=\"_.log\"; filename*=UTF-8''%F0%9F%98%80.log"),
        // quotes, `;`, `\`, `%`, CR, LF and control bytes cannot break out
        ("a\"b;c\\d%e.txt",
         "attachment; filename=\"a_b_c_d_e.txt\"; filename*=UTF-8''a%22b%3Bc%5Cd%25e.txt"),
        ("x\r\nSet-Cookie: a=b\u{1}.txt",
         "attachment; filename=\"x__Set-Cookie: a=b_.txt\"; "
            + "filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db%01.txt"),
    ])
    func contentDisposition(name: String, expected: String) {
        var out = [UInt8](repeating: 0, count: ContentDisposition.bound(name.utf8.count))
        let written = out.withUnsafeMutableBufferPointer { out in
            var writer = BufferWriter(base: out.baseAddress!, capacity: out.count)
            Array(name.utf8).withUnsafeBufferPointer {
                ContentDisposition.write(name: $0, into: &writer)
            }
            #expect(!writer.overflowed)
            return writer.count
        }
        #expect(String(decoding: out[0..<written], as: UTF8.self) == expected)
        #expect(!out[0..<written].contains { $0 < 0x20 || $0 == 0x7f })
    }

    @Test func listingsShowDownloadLinks() {
        let xml = Array("""
            <ListBucketResult><Contents><Key>d/a b.log</Key><Size>3</Size>\
            <LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>
            """.utf8)
        let html = ListingHTML(bucket: Array("b".utf8), prefix: Array("d/".utf8),
                               base: Array("/b/".utf8), download: Array("download".utf8))
            .render(ListingPage(xml: xml.withUnsafeBufferPointer { $0 }))
        let text = String(decoding: html, as: UTF8.self)
        #expect(text.contains("<a href=\"/b/d/a%20b.log?download\">download</a>"))
        let none = ListingHTML(bucket: Array("b".utf8), prefix: Array("d/".utf8),
                               base: Array("/b/".utf8))
            .render(ListingPage(xml: xml.withUnsafeBufferPointer { $0 }))
        #expect(!String(decoding: none, as: UTF8.self).contains("?download"))
    }

    @Test(arguments: [
        (["s3_proxy_error_document", "404.html", "200"], nil as String?),
        (["s3_proxy_error_document", "404.html", "99"], "takes a status from 200 to 599"),
        (["s3_proxy_error_document", "../x.html"], "must be an object's key"),
        (["s3_proxy_error_document", "dir/"], "must be an object's key"),
        (["s3_proxy_proxy_types", "text/html", "application/xhtml+xml"], nil),
        (["s3_proxy_proxy_types", "html"], "is not a MIME type"),
        (["s3_proxy_download_param", "off"], nil),
        (["s3_proxy_download_param", "X-Amz-Date"], "is an authentication parameter"),
    ])
    func directives(words: [String], problem: String?) {
        var kinds = [Int32](repeating: 0, count: words.count - 1)
        let found = Directive.problem(name: Array(words[0].utf8),
                                      values: words.dropFirst().map { Array($0.utf8) },
                                      seconds: 0, kinds: &kinds)
        if let problem {
            #expect(found?.contains(problem) == true, "\(found ?? "nil")")
        } else {
            #expect(found == nil)
        }
    }
}

// Which of S3's answers send a request on to its next step
// (s3p_falls_back): the statuses its fallback_on names, and only with a
// path to go to.
@Test(arguments: [
    (UInt32(S3P_FALLBACK_404), Int32(404), true),
    (UInt32(S3P_FALLBACK_404), Int32(403), false),
    (UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403), Int32(403), true),
    (UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403 | S3P_FALLBACK_ERROR_PAGE), Int32(500), false),
    (UInt32(S3P_FALLBACK_ERROR_PAGE), Int32(404), false),
    (UInt32(0), Int32(404), false),
])
func fallsBackOn(on: UInt32, status: Int32, expected: Bool) {
    let path: StaticString = "/docs/?list-type=2"
    var result = s3p_result_t()
    result.fallback_on = on
    #expect((s3p_falls_back(&result, status, 0) == 1) == false)
    result.fallback = s3p_str_t(len: path.utf8CodeUnitCount, data: path.utf8Start)
    #expect((s3p_falls_back(&result, status, 0) == 1) == expected)
    // after the location's error_page, only the steps that allow it
    let afterErrorPage = expected && on & UInt32(S3P_FALLBACK_ERROR_PAGE) != 0
    #expect((s3p_falls_back(&result, status, 1) == 1) == afterErrorPage)
}

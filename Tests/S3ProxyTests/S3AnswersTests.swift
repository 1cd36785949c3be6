// S3 clients get S3's answers: their x-amz-checksum-mode is signed and
// sent on, a key ending in `/` is the object it names, and `partNumber`
// reads one part of a multipart object.  Browsers keep index pages and
// listings for the same paths.
//
// Sources: GetObject and HeadObject in the S3 API reference
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html:
// `x-amz-checksum-mode: ENABLED`, `partNumber` "a positive integer
// between 1 and 10,000"), and the folder objects of
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-folders.html
// (a zero-byte object whose key ends in `/`).

import CShim
import Testing
@testable import S3Proxy

@Suite struct S3AnswersTests {
    static let sdk = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"
    static let browser = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"

    /// The production answer, checked against the reference's.
    static func answer(
        _ method: String, _ path: String, _ query: String = "", agent: String,
        checksumMode: String = "", listings: Bool = true
    ) -> Outcome {
        let memory = CMemory()
        var conf = CAPITests.config(memory)
        conf.listings = listings ? 1 : 0
        var request = CAPITests.request(memory, method, path, query)
        request.user_agent = memory.str(agent)
        request.checksum_mode = memory.str(checksumMode)
        let (production, reference, _) = DifferentialTests.answers(&conf, request)
        #expect(production == reference)
        return CAPITests.handle(&conf, request)
    }

    // MARK: Folder marker objects

    @Test(arguments: ["GET", "HEAD"])
    func s3ClientsReadAFolderMarkerAsAnObject(method: String) {
        let answer = Self.answer(method, "/bkt/docs/", agent: Self.sdk)
        #expect(answer.action == S3P_ACTION_PROXY)
        #expect(answer.key == "docs/")
        #expect(answer.url == "https://\(CAPITests.host)/bkt/docs/")
        #expect(answer.fallback.isEmpty, "no listing in place of the object")
    }

    @Test func browsersKeepTheIndexPageAndListing() {
        let answer = Self.answer("GET", "/bkt/docs/", agent: Self.browser)
        #expect(answer.action == S3P_ACTION_PROXY)
        #expect(answer.key == "docs/index.html")
        #expect(answer.fallback == "/bkt/docs/")
    }

    // An S3 client's `?page=` on a marker is a parameter of GetObject, not
    // a listing page; the bucket's own path is unchanged.
    @Test func s3ClientsGetNoBuiltInListing() {
        let page = Self.answer("GET", "/bkt/docs/", "page=abc", agent: Self.sdk)
        #expect(page.action == S3P_ACTION_REFUSE && page.httpStatus == 501)
        let bucket = Self.answer("GET", "/bkt/", agent: Self.sdk)
        #expect(bucket.action == S3P_ACTION_PROXY && bucket.key == "index.html")
        let listing = Self.answer("GET", "/bkt/", "list-type=2&prefix=docs/", agent: Self.sdk)
        #expect(listing.action == S3P_ACTION_PROXY && listing.key.isEmpty)
        #expect(listing.url.hasSuffix("/bkt/?list-type=2&prefix=docs%2F"))
    }

    // MARK: partNumber

    @Test(arguments: ["1", "2", "9999", "10000", "%31%30"])
    func partNumberIsSignedIntoTheStreamedRequestAndTheRedirect(value: String) {
        let decoded = value == "%31%30" ? "10" : value
        let streamed = Self.answer("GET", "/bkt/big.bin", "partNumber=" + value,
                                   agent: Self.sdk)
        #expect(streamed.action == S3P_ACTION_PROXY)
        #expect(streamed.url == "https://\(CAPITests.host)/bkt/big.bin?partNumber=" + decoded)
        let head = Self.answer("HEAD", "/bkt/big.bin", "partNumber=" + value, agent: Self.sdk)
        #expect(head.action == S3P_ACTION_PROXY && head.url == streamed.url)
        let redirect = Self.answer("GET", "/bkt/big.bin", "partNumber=" + value,
                                   agent: Self.browser)
        #expect(redirect.action == S3P_ACTION_REDIRECT)
        // Sorted after the X-Amz-* parameters ("p" > "X").
        #expect(redirect.url.contains("&X-Amz-SignedHeaders=host&partNumber=\(decoded)&"))
    }

    @Test(arguments: ["0", "01", "10001", "99999", "100000", "+1", "%2B1", "-1", " 1",
                      "1 ", "1.0", "0x1", "", "a", "1&partNumber=2", "1&partNumber=1",
                      "%EF%BC%91"])
    func otherPartNumbersAre400(value: String) {
        let sdk = Self.answer("GET", "/bkt/big.bin", "partNumber=" + value, agent: Self.sdk)
        #expect(sdk.action == S3P_ACTION_REFUSE && sdk.httpStatus == 400)
        let browser = Self.answer("GET", "/bkt/big.bin", "partNumber=" + value,
                                  agent: Self.browser)
        #expect(browser.action == S3P_ACTION_REFUSE && browser.httpStatus == 400)
    }

    @Test func partNumberIsNoListingParameter() {
        let listing = Self.answer("GET", "/bkt", "partNumber=1", agent: Self.sdk)
        #expect(listing.action == S3P_ACTION_REFUSE && listing.httpStatus == 501)
        let browser = Self.answer("GET", "/bkt/", "list-type=2&partNumber=1",
                                  agent: Self.browser)
        #expect(browser.action == S3P_ACTION_REFUSE && browser.httpStatus == 403)
    }

    // MARK: x-amz-checksum-mode

    @Test(arguments: ["ENABLED", "enabled", "Enabled"])
    func s3ClientsChecksumModeIsSignedAndSent(mode: String) {
        let get = Self.answer("GET", "/bkt/big.bin", agent: Self.sdk, checksumMode: mode)
        #expect(get.checksumMode == "ENABLED")
        #expect(get.authorization.contains(
            "SignedHeaders=host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date,"))
        #expect(get.cacheKey.hasPrefix(get.url + " x-amz-checksum-mode:ENABLED us-east-1 "))
        #expect(get.cacheKey.hasSuffix(" s3"))

        let head = Self.answer("HEAD", "/bkt/big.bin", agent: Self.sdk, checksumMode: mode)
        #expect(head.checksumMode == "ENABLED")
        #expect(head.getAuthorization.contains(
            "SignedHeaders=host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date,"))

        let marker = Self.answer("GET", "/bkt/docs/", agent: Self.sdk, checksumMode: mode)
        #expect(marker.checksumMode == "ENABLED")
        let part = Self.answer("GET", "/bkt/big.bin", "partNumber=2", agent: Self.sdk,
                               checksumMode: mode)
        #expect(part.checksumMode == "ENABLED" && part.url.hasSuffix("?partNumber=2"))
    }

    // With a session token, the names stay sorted: the mode sorts between
    // host and x-amz-content-sha256.
    @Test func checksumModeWithASessionToken() {
        let memory = CMemory()
        var conf = CAPITests.config(memory, sessionToken: "tok/en+==")
        var request = CAPITests.request(memory, "GET", "/bkt/x")
        request.user_agent = memory.str(Self.sdk)
        request.checksum_mode = memory.str("ENABLED")
        let (production, reference, _) = DifferentialTests.answers(&conf, request)
        #expect(production == reference)
        #expect(text(production.authorization).contains("SignedHeaders=host;"
            + "x-amz-checksum-mode;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
    }

    @Test func othersSendNoChecksumMode() {
        // A browser's index page, a listing, another value, no header.
        let cases = [
            Self.answer("GET", "/bkt/docs/", agent: Self.browser, checksumMode: "ENABLED"),
            Self.answer("GET", "/bkt/index.html", agent: Self.browser, checksumMode: "ENABLED"),
            Self.answer("GET", "/bkt", "list-type=2", agent: Self.sdk, checksumMode: "ENABLED"),
            Self.answer("GET", "/bkt/x", agent: Self.sdk, checksumMode: "DISABLED"),
            Self.answer("GET", "/bkt/x", agent: Self.sdk, checksumMode: "ENABLED,ENABLED"),
            Self.answer("GET", "/bkt/x", agent: Self.sdk),
        ]
        for answer in cases {
            #expect(answer.action == S3P_ACTION_PROXY)
            #expect(answer.checksumMode.isEmpty)
            #expect(answer.cacheKey.hasPrefix(answer.url + " us-east-1 "))
            #expect(!answer.cacheKey.contains("checksum"))
            #expect(answer.authorization.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"))
        }
        let redirect = Self.answer("GET", "/bkt/x", agent: Self.browser, checksumMode: "ENABLED")
        #expect(redirect.action == S3P_ACTION_REDIRECT && redirect.checksumMode.isEmpty)
    }

    // s3p_output_bound() holds with the header: the cache key repeats the
    // URL, the names grow.
    @Test func boundHoldsWithChecksumMode() {
        let memory = CMemory()
        var conf = CAPITests.config(memory, sessionToken: "tok")
        let key = String(repeating: "%E2%82%AC", count: 340)
        var request = CAPITests.request(memory, "HEAD", "/bkt/" + key, "partNumber=10000")
        request.user_agent = memory.str("")
        request.checksum_mode = memory.str("ENABLED")
        let bound = s3p_output_bound(&conf, &request)
        let answer = CAPITests.handle(&conf, request, cap: bound)
        #expect(answer.status == S3P_OK && answer.checksumMode == "ENABLED")
    }
}

// Checksums reach the client whatever s3_proxy_pass_headers says, except
// in the answer to a Range: a part of the object carries no checksum of
// the whole.
@Test(arguments: [
    ("x-amz-checksum-sha256", UInt32(0), true),
    ("x-amz-checksum-crc32", UInt32(S3P_PASS_REQUEST_ID | S3P_PASS_SSE), true),
    ("X-Amz-Checksum-CRC64NVME", UInt32(0), true),
    ("x-amz-checksum-type", UInt32(0), true),
    ("x-amz-mp-parts-count", UInt32(0), true),
    ("x-amz-checksum-sha256", UInt32(S3P_ANSWER_RANGE), false),
    ("x-amz-checksum-type", UInt32(S3P_ANSWER_RANGE | S3P_PASS_SSE), false),
    ("x-amz-mp-parts-count", UInt32(S3P_ANSWER_RANGE), true),
    ("ETag", UInt32(S3P_ANSWER_RANGE), true),
    ("x-amz-meta-colour", UInt32(S3P_ANSWER_RANGE), true),
])
func checksumVisibility(name: String, pass: UInt32, visible: Bool) {
    var bytes = Array(name.utf8)
    let shown = bytes.withUnsafeMutableBufferPointer { b in
        var s = s3p_str_t(len: b.count, data: UnsafePointer(b.baseAddress))
        return s3p_response_header_visible(&s, pass)
    }
    #expect(shown == (visible ? 1 : 0))
}

// A bucket and a key prefix chosen per request (issue 25): s3_proxy_bucket
// with variables, s3_proxy_prefix, and S3's listings made relative to the
// prefix.
//
// Source of the expectations: the text (an empty or invalid value
// gets 403 and reaches nothing; no request reads or lists outside the
// prefix; listings show keys relative to it), S3's bucket naming rules
// (BucketName), and S3's ListObjects documents
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).

import CShim
import Testing
@testable import S3Proxy

@Suite struct PerRequestTests {

    // MARK: Key prefixes

    @Test(arguments: ["users/alice/", "a/", "teams/ü-é/", "a.b/c..d/", "x/.hidden/"])
    func validPrefixes(_ prefix: String) {
        #expect(KeyPrefix.check(bytes(prefix)) == nil)
    }

    @Test(arguments: [
        ([UInt8](), KeyPrefix.Problem.empty),
        (bytes("/users/"), .leadingSlash),
        (bytes("users"), .noTrailingSlash),
        (bytes("users//"), .badSegment),        // an empty variable's trace
        (bytes("./"), .badSegment),
        (bytes("users/../"), .badSegment),
        (bytes("users/./"), .badSegment),
        (bytes("users/\t/"), .controlByte),
        (bytes("users/\u{7f}/"), .controlByte),
        ([0xff, UInt8(ascii: "/")], .notUTF8),
        ([UInt8](repeating: UInt8(ascii: "a"), count: 1024) + [UInt8(ascii: "/")], .tooLong),
    ])
    func invalidPrefixes(_ prefix: [UInt8], _ problem: KeyPrefix.Problem) {
        #expect(KeyPrefix.check(prefix) == problem)
    }

    @Test func aConstantPrefixIsCheckedAtNginxT() {
        var kinds: [Int32] = [0]
        #expect(Directive.problem(name: bytes("s3_proxy_prefix"), values: [bytes("users")],
                                  seconds: 0, kinds: &kinds)
                == "\"s3_proxy_prefix\" \"users\" must end with \"/\"")
        #expect(Directive.problem(name: bytes("s3_proxy_prefix"), values: [bytes("users/")],
                                  seconds: 0, kinds: &kinds) == nil)
    }

    // MARK: Routing

    /// A location with its own bucket `home` mounted at /me/.
    static func config(_ memory: CMemory, prefix: String = "", perRequest: UInt32 = 0,
                       bucket: String = "home", buckets: [String] = [],
                       listings: Bool = false) -> s3p_config_t
    {
        var conf = CAPITests.config(memory)
        conf.mount = memory.str("/me/")
        conf.bucket = memory.str(bucket)
        conf.prefix = memory.str(prefix)
        conf.per_request = perRequest
        conf.listings = listings ? 1 : 0
        if !buckets.isEmpty {
            let list = buckets.map { memory.str($0) }
            conf.buckets = UnsafePointer(memory.store(list[0]))
            if list.count > 1 {
                let all = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: list.count)
                all.initialize(from: list, count: list.count)
                conf.buckets = UnsafePointer(all)
            }
            conf.nbuckets = list.count
        }
        return conf
    }

    static func request(_ memory: CMemory, _ path: String, _ query: String = "",
                        bucket: String = "", prefix: String = "",
                        agent: String = "curl/8.0") -> s3p_request_t
    {
        var req = CAPITests.request(memory, "GET", path, query)
        req.bucket = memory.str(bucket)
        req.prefix = memory.str(prefix)
        req.user_agent = memory.str(agent)
        return req
    }

    static func handle(_ conf: inout s3p_config_t, _ req: s3p_request_t) -> Outcome {
        var request = req
        return CAPITests.handle(&conf, req, cap: s3p_output_bound(&conf, &request))
    }

    @Test func aConstantPrefixGoesBeforeEveryKey() {
        let memory = CMemory()
        var conf = Self.config(memory, prefix: "users/alice/")
        let outcome = Self.handle(&conf, Self.request(memory, "/me/notes%20x.txt"))
        #expect(outcome.action == S3P_ACTION_REDIRECT)
        #expect(outcome.key == "users/alice/notes x.txt")
        #expect(outcome.url.hasPrefix(
            "https://files.example.com/home/users/alice/notes%20x.txt?"))
    }

    @Test func aPrefixFromVariablesIsTheRequests() {
        let memory = CMemory()
        var conf = Self.config(memory, perRequest: UInt32(S3P_PER_REQUEST_PREFIX))
        let outcome = Self.handle(&conf, Self.request(memory, "/me/notes.txt",
                                                      prefix: "users/bob/"))
        #expect(outcome.key == "users/bob/notes.txt")
    }

    @Test(arguments: ["", "users//", "users/bob", "../", "/users/bob/"])
    func anInvalidPrefixFromVariablesIs403(_ prefix: String) {
        let memory = CMemory()
        var conf = Self.config(memory, perRequest: UInt32(S3P_PER_REQUEST_PREFIX))
        for agent in ["curl/8.0", "aws-cli/2.0"] {
            let outcome = Self.handle(&conf, Self.request(memory, "/me/notes.txt",
                                                          prefix: prefix, agent: agent))
            #expect(outcome.action == S3P_ACTION_REFUSE)
            #expect(outcome.httpStatus == 403)
        }
    }

    @Test(arguments: ["/me/../bob/notes.txt", "/me/%2e%2e/bob/notes.txt",
                      "/me/docs/..%2F..%2Fbob/x", "/me/a/./../../x"])
    func dotSegmentsDoNotLeaveThePrefix(_ path: String) {
        let memory = CMemory()
        var conf = Self.config(memory, prefix: "users/alice/")
        let outcome = Self.handle(&conf, Self.request(memory, path))
        #expect(outcome.action == S3P_ACTION_REFUSE)
        #expect(outcome.httpStatus == 403)
    }

    @Test(arguments: [
        ("tenant-a", true), ("", false), ("Bad_Name!", false), ("../x", false),
        ("ab", false), ("tenant-b", false), ("tenant-a/x", false),
    ])
    func aBucketFromVariablesIsChecked(_ bucket: String, _ served: Bool) {
        let memory = CMemory()
        var conf = Self.config(memory, perRequest: UInt32(S3P_PER_REQUEST_BUCKET),
                               bucket: "", buckets: ["tenant-a"])
        let outcome = Self.handle(&conf, Self.request(memory, "/me/hello.txt", bucket: bucket))
        if served {
            #expect(outcome.action == S3P_ACTION_REDIRECT)
            #expect(outcome.bucket == "tenant-a" && outcome.key == "hello.txt")
            #expect(outcome.url.hasPrefix("https://files.example.com/tenant-a/hello.txt?"))
        } else {
            #expect(outcome.action == S3P_ACTION_REFUSE)
            #expect(outcome.httpStatus == 403)
            #expect(outcome.bucket == bucket)           // for the log
        }
    }

    /// Without s3_proxy_buckets, a value is held to S3's naming rules as
    /// a constant is at nginx -t (BucketName.rule), not to the looser
    /// form a request's path may name.
    @Test(arguments: [
        ("my.tenant-1", true), ("my..bucket", false), ("192.168.1.1", false),
        ("Tenant-A", false), ("tenant_a", false), ("xn--tenant", false),
        ("sthree-x", false), ("amzn-s3-demo-x", false), ("tenant-s3alias", false),
        ("tenant--table-s3", false), ("-tenant", false),
    ])
    func aBucketFromVariablesFollowsS3sNamingRules(_ bucket: String, _ served: Bool) {
        let memory = CMemory()
        var conf = Self.config(memory, perRequest: UInt32(S3P_PER_REQUEST_BUCKET),
                               bucket: "")
        for agent in ["curl/8.0", "aws-cli/2.0"] {
            let outcome = Self.handle(&conf, Self.request(memory, "/me/hello.txt",
                                                          bucket: bucket, agent: agent))
            if served {
                #expect(outcome.action != S3P_ACTION_REFUSE)
                #expect(outcome.bucket == bucket)
            } else {
                #expect(outcome.action == S3P_ACTION_REFUSE, "\(bucket)")
                #expect(outcome.httpStatus == 403)
            }
        }
    }

    @Test func aBucketFromVariablesTakesPathStyleOnly() {
        let memory = CMemory()
        var signing = CAPITests.signing(memory)
        signing.addressing = S3P_ADDRESSING_VIRTUAL
        var conf = s3p_config_t()
        conf.signing = memory.resolve(signing)
        conf.per_request = UInt32(S3P_PER_REQUEST_BUCKET)
        #expect(LocationCheck.problem(conf)?.contains("path-style") == true)
    }

    /// The query S3 is asked with, decoded, in order.
    static func query(_ url: String) -> [String] {
        let query = url.split(separator: "?", maxSplits: 1).last.map(String.init) ?? ""
        return query.split(separator: "&").map { item in
            String(decoding: ListingXML.decoded(bytes(String(item))) ?? [], as: UTF8.self)
        }
    }

    @Test func listingsAreConfinedUnderThePrefix() {
        let memory = CMemory()
        var conf = Self.config(memory, prefix: "users/alice/")
        var outcome = Self.handle(&conf, Self.request(memory, "/me/", "list-type=2"))
        #expect(outcome.action == S3P_ACTION_PROXY)
        #expect(Self.query(outcome.url) == ["list-type=2", "prefix=users/alice/",
                                            "start-after=users/alice/"])
        outcome = Self.handle(&conf, Self.request(
            memory, "/me/", "list-type=2&prefix=docs/&start-after=docs/a&continuation-token=t"))
        #expect(Self.query(outcome.url) == [
            "continuation-token=t", "list-type=2", "prefix=users/alice/docs/",
            "start-after=users/alice/docs/a"])
        outcome = Self.handle(&conf, Self.request(memory, "/me/", "marker=x&prefix=y"))
        #expect(Self.query(outcome.url) == ["marker=users/alice/x", "prefix=users/alice/y"])
        outcome = Self.handle(&conf, Self.request(memory, "/me/", "delimiter=/"))
        #expect(Self.query(outcome.url) == ["delimiter=/", "marker=users/alice/",
                                            "prefix=users/alice/"])
    }

    @Test(arguments: ["prefix=../bob/", "prefix=..%2Fbob", "start-after=../../",
                      "marker=a/../../b", "list-type=2&prefix=x&prefix=../"])
    func listingParametersThatLeaveThePrefixAre403(_ query: String) {
        let memory = CMemory()
        var conf = Self.config(memory, prefix: "users/alice/")
        let outcome = Self.handle(&conf, Self.request(memory, "/me/", query))
        #expect(outcome.action == S3P_ACTION_REFUSE)
        #expect(outcome.httpStatus == 403)
    }

    @Test func aFullQueryStillFindsRoomForTheConfiningItems() {
        let memory = CMemory()
        let prefix = String(repeating: "p", count: 1000) + "/"
        var conf = Self.config(memory, prefix: prefix)
        let query = (0..<(Rules.maxQueryItems - 1)).map { "max-keys=\($0)" }
            .joined(separator: "&") + "&prefix=a"
        let outcome = Self.handle(&conf, Self.request(memory, "/me/", query))
        #expect(outcome.status == S3P_OK)
        #expect(outcome.action == S3P_ACTION_PROXY)
        #expect(Self.query(outcome.url).contains("prefix=" + prefix + "a"))
    }

    @Test func theFolderFallbackIsTheClientsPath() {
        let memory = CMemory()
        var conf = Self.config(memory, prefix: "users/alice/", listings: true)
        let outcome = Self.handle(&conf, Self.request(memory, "/me/docs/"))
        #expect(outcome.action == S3P_ACTION_PROXY)
        #expect(outcome.key == "users/alice/docs/index.html")
        #expect(outcome.fallback == "/me/docs/")
    }

    // MARK: Listings made relative

    static func relative(_ xml: String, _ prefix: String = "users/alice/") -> String? {
        let input = bytes(xml)
        return input.withUnsafeBufferPointer {
            ListingXML.relative($0, prefix: bytes(prefix)).map { text($0) }
        }
    }

    @Test func keysAndPrefixesLoseThePrefix() {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Name>home</Name><Prefix>users/alice/docs/</Prefix>\
            <StartAfter>users/alice/</StartAfter>\
            <Contents><Key>users/alice/docs/a&amp;b.txt</Key><Size>3</Size></Contents>\
            <CommonPrefixes><Prefix>users/alice/docs/sub/</Prefix></CommonPrefixes>\
            <NextMarker>86bca722</NextMarker></ListBucketResult>
            """
        #expect(Self.relative(xml) == """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Name>home</Name><Prefix>docs/</Prefix>\
            <Contents><Key>docs/a&amp;b.txt</Key><Size>3</Size></Contents>\
            <CommonPrefixes><Prefix>docs/sub/</Prefix></CommonPrefixes>\
            </ListBucketResult>
            """)
    }

    @Test func urlEncodedKeysAreDecodedAndEncodedAgain() {
        let xml = "<ListBucketResult><Prefix>users%2Falice%2F</Prefix>"
            + "<Contents><Key>users/alice/b+c%2Bd%C3%BC.txt</Key></Contents>"
            + "<Contents><Key>users%2Falice%2F</Key></Contents>"
            + "<EncodingType>url</EncodingType></ListBucketResult>"
        #expect(Self.relative(xml) == "<ListBucketResult><Prefix></Prefix>"
            + "<Contents><Key>b%20c%2Bd%C3%BC.txt</Key></Contents>"
            + "<EncodingType>url</EncodingType></ListBucketResult>")
    }

    @Test(arguments: [
        "<ListBucketResult><Contents><Key>users/bob/x</Key></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>users/alicex</Key></Contents></ListBucketResult>",
        "<ListBucketResult><CommonPrefixes><Prefix>users/</Prefix></CommonPrefixes>"
            + "</ListBucketResult>",
        "<ListBucketResult><Prefix>top/</Prefix></ListBucketResult>",
        "<ListBucketResult><Contents><Key>users/alice/x</Key></Contents>",
        "<Error><Key>users/alice/x</Key></Error>",
        "<ListBucketResult><Contents><Key>users/alice/%zz</Key></Contents>"
            + "<EncodingType>url</EncodingType></ListBucketResult>",
    ])
    func anythingOutsideThePrefixRefusesTheDocument(_ xml: String) {
        #expect(Self.relative(xml) == nil)
    }

    @Test func theHTMLListingLinksRelativeKeys() {
        let memory = CMemory()
        var result = s3p_result_t()
        result.bucket = memory.str("home")
        result.key = memory.str("users/alice/docs/")
        result.prefix = memory.str("users/alice/")
        result.base = memory.str("/me/")
        result.render = S3P_RENDER_LISTING
        let xml = bytes("<ListBucketResult><Contents><Key>users/alice/docs/a.txt</Key>"
            + "<Size>1</Size></Contents><Contents><Key>users/alice/docs/</Key></Contents>"
            + "<Contents><Key>users/bob/x</Key></Contents></ListBucketResult>")
        var page = s3p_str_t()
        var status: Int32 = 0
        let alloc: s3p_alloc_t = { _, size in UnsafeMutablePointer<UInt8>.allocate(capacity: size) }
        #expect(s3p_render_listing(&result, xml, xml.count, alloc, nil, &page, &status) == S3P_OK)
        let html = text(page.bytes)
        #expect(status == 200)
        #expect(html.contains("href=\"/me/docs/a.txt\""))
        #expect(html.contains("href=\"/me/\""))
        #expect(!html.contains("users/") && !html.contains("bob"))
    }
}

// The allocation-free path (FastPath: plain redirects, proxied index pages
// and streamed objects, bucket listings) must answer exactly what the general path
// (Router + Signer) answers: a differential test over
// generated requests, with allowlists, session tokens, index names and
// User-Agents.  The general path is the reference: it is the one pinned
// to AWS's examples and to botocore.

import Testing
@testable import S3Proxy
import CShim

@Suite struct FastPathTests {
    struct Answer: Equatable {
        var status: Int32
        var action: s3p_action_t
        var httpStatus: Int32
        var bucket: [UInt8]
        var key: [UInt8]
        var url: [UInt8]
        var authorization: [UInt8]
        var amzDate: [UInt8]
        var fallback: [UInt8]
        var render: s3p_render_t
    }

    static func copy(_ s: s3p_str_t) -> [UInt8] {
        guard let data = s.data, s.len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: s.len))
    }

    static func answer(
        fast: Bool, conf: inout s3p_config_t, request: s3p_request_t
    ) -> Answer? {
        var request = request
        let bound = s3p_output_bound(&conf, &request)
        var out = [UInt8](repeating: 0, count: bound)
        var result = s3p_result_t()
        let status: Int32? = out.withUnsafeMutableBufferPointer { buffer in
            withUnsafeMutablePointer(to: &conf) { conf in
                withUnsafeMutablePointer(to: &result) { result in
                    fast
                        ? FastPath.handle(conf: conf, request: request,
                                              out: buffer.baseAddress!, cap: bound,
                                              result: result)
                        : RequestHandler.handle(conf: conf, request: request,
                                                out: buffer.baseAddress!, cap: bound,
                                                result: result)
                }
            }
        }
        guard let status else { return nil }
        return Answer(status: status, action: result.action, httpStatus: result.status,
                      bucket: copy(result.bucket), key: copy(result.key),
                      url: copy(result.url), authorization: copy(result.authorization),
                      amzDate: copy(result.amz_date), fallback: copy(result.fallback),
                      render: result.render)
    }

    /// SplitMix64 (TestSupport.swift), with a pick from a table.
    struct Generator {
        var random: SplitMix64
        init(state: UInt64) { random = SplitMix64(seed: state) }
        mutating func next() -> UInt64 { random.next() }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    }

    static let pieces = [
        "a", "b", "dir", "file.txt", "/", "/", "/", ".", "..", "%20", "%2F", "%2f", "+",
        "%", "%zz", "%C3%A9", "é", "%C0%AF", "%00", "%0D%0A", "~", "!*'()", "index.html",
        "index.htm", "#", "?", " ", "%E2%82%AC", "%FF", "//",
    ]
    static let buckets = ["bkt", "okay", "okay.two", "Okay", "ab", "b%6Bt", "my-bucket_1"]

    @Test(arguments: [1, 2, 3, 4])
    func fastPathAnswersLikeTheGeneralPath(seed: UInt64) {
        let memory = CMemory()
        var generator = Generator(state: seed)
        var fastAnswers = 0
        var fastProxies = 0
        for round in 0..<5000 {
            var conf = CAPITests.config(memory, sessionToken: round % 3 == 0 ? "tok/en+=" : "")
            if round % 4 == 1 {
                let list = [memory.str("okay"), memory.str("bkt")]
                let storage = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: 2)
                storage.initialize(from: list, count: 2)
                conf.buckets = UnsafePointer(storage)
                conf.nbuckets = 2
            }
            if round % 5 == 2 { conf.index = memory.str("index.htm") }
            if round % 7 == 3 { conf.stream = S3P_STREAM_OFF }
            if round % 11 == 4 {
                let agents = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: 1)
                agents.initialize(to: memory.str("mytool"))
                conf.stream = S3P_STREAM_LIST
                conf.stream_agents = UnsafePointer(agents)
                conf.nstream_agents = 1
            }
            var path = "/" + generator.pick(FastPathTests.buckets)
                + (round % 4 == 0 ? "" : "/")
            for _ in 0..<Int(generator.next() % 6) {
                path += generator.pick(FastPathTests.pieces)
            }
            let method = generator.pick(["GET", "GET", "HEAD", "POST", "get"])
            let agent = generator.pick(["", "curl/7.88.1", "Boto3/1.43 md/Botocore#1.43",
                                        "MyTool/2", "AWS-SDK-Java/2"])
            let query = generator.pick(["", "", "", "x-id=GetObject", "acl"])
            let request = s3p_request_t(
                method: memory.str(method), path: memory.str(path),
                query: memory.str(query), user_agent: memory.str(agent),
                now: 1_369_353_600 + Int64(generator.next() % 200_000),
                fallback: 0)

            let general = FastPathTests.answer(fast: false, conf: &conf, request: request)
            guard let fast = FastPathTests.answer(fast: true, conf: &conf, request: request)
            else {
                continue
            }
            fastAnswers += 1
            if fast.action == S3P_ACTION_PROXY { fastProxies += 1 }
            #expect(fast == general, "\(method) \(path) ua=\(agent)")
        }
        // The fast path must actually be exercised, both ways.
        #expect(fastAnswers > 150, "only \(fastAnswers) fast answers")
        #expect(fastProxies > 30, "only \(fastProxies) fast proxied answers")
    }

    static let listingPaths = ["/bkt", "/bkt/", "/okay", "/okay/", "/Okay.two/", "/bkt/x",
                               "/b%6Bt", "/", "//", "/a/b/", "/ab", "/bkt//"]
    static let names = [
        "list-type", "prefix", "prefix", "delimiter", "marker", "continuation-token",
        "start-after", "max-keys", "encoding-type", "fetch-owner", "x-id", "page", "acl",
        "versionId", "pre%66ix", "prefix+", "PREFIX", "", "%", "response-content-type",
        "%C3%A9t%C3%A9", "%FF",
    ]
    static let values = [
        "", "2", "/", "%2F", "%2f", "dir/", "a b", "a+b", "%2B", "%zz", "%C0%AF", "é",
        "%E2%82%AC", "~", "*", "a=b", "%00", "1000", "text/plain", "%", "a%20b/c",
    ]

    // Listings: queries of listing parameters in any order, repeated,
    // encoded every way, with empty items and items without `=`, next to
    // parameters Router drops, refuses, or reads itself (`page`), with and
    // without an allowlist of extra parameters and built-in listings.
    @Test(arguments: [1, 2, 3])
    func fastListingAnswersLikeTheGeneralPath(seed: UInt64) {
        let memory = CMemory()
        var generator = Generator(state: seed &* 7919)
        var fastAnswers = 0
        var sorted = 0
        for round in 0..<5000 {
            var conf = CAPITests.config(memory, sessionToken: round % 3 == 0 ? "tok/en+=" : "")
            if round % 2 == 1 {
                let list = ["versionId", "response-content-type", "été"]
                    + (round % 8 == 1 ? ["page", "x-id"] : [])
                let storage = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: list.count)
                storage.initialize(from: list.map(memory.str), count: list.count)
                conf.params = UnsafePointer(storage)
                conf.nparams = list.count
            }
            if round % 4 == 2 {
                let storage = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: 1)
                storage.initialize(to: memory.str("okay"))
                conf.buckets = UnsafePointer(storage)
                conf.nbuckets = 1
            }
            conf.listings = round % 3 == 1 ? 1 : 0
            var query = ""
            let items = Int(generator.next() % (round % 10 == 0 ? 20 : 6))
            for index in 0..<items {
                if index > 0 { query += generator.pick(["&", "&", "&", "&&"]) }
                query += generator.pick(FastPathTests.names)
                if generator.next() % 8 != 0 {
                    query += "=" + generator.pick(FastPathTests.values)
                }
            }
            let method = generator.pick(["GET", "GET", "HEAD", "PUT"])
            let path = generator.pick(FastPathTests.listingPaths)
            let request = s3p_request_t(
                method: memory.str(method), path: memory.str(path),
                query: memory.str(query), user_agent: s3p_str_t(),
                now: 1_369_353_600 + Int64(generator.next() % 200_000),
                fallback: 0)

            let general = FastPathTests.answer(fast: false, conf: &conf, request: request)
            guard let fast = FastPathTests.answer(fast: true, conf: &conf, request: request)
            else {
                continue
            }
            fastAnswers += 1
            if fast.url.contains(UInt8(ascii: "&")) { sorted += 1 }
            #expect(fast == general, "\(method) \(path)?\(query)")
        }
        // Exercised, with several parameters to sort.
        #expect(fastAnswers > 200, "only \(fastAnswers) fast answers")
        #expect(sorted > 100, "only \(sorted) fast answers with several parameters")
    }
}

@Test func fallbackMarkerMatchesTheHeader() {
    #expect(FastPath.fallbackMarker.description == S3P_FALLBACK_MARKER)
}

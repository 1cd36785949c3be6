// The production pipeline (Sources/S3Proxy/Pipeline.swift) against the
// plain reference implementation (Reference/): the same answer, field by
// field, for generated requests over every route, refusals included, and
// generated configurations.  Equality of every field is checked both
// ways: neither implementation may answer a request the other refuses, or
// answer it differently.

import CShim
import Testing
@testable import S3Proxy

@Suite struct DifferentialTests {

    struct Answer: Equatable, CustomStringConvertible {
        var status: Int32
        var action: UInt32
        var httpStatus: Int32
        var bucket: [UInt8]
        var key: [UInt8]
        var url: [UInt8]
        var authorization: [UInt8]
        var amzDate: [UInt8]
        var fallback: [UInt8]
        var host: [UInt8]
        var base: [UInt8]
        var render: UInt32
        var maxAge: Int64
        var checksumMode: [UInt8]
        var cacheKey: [UInt8]

        init(_ status: Int32, _ result: s3p_result_t) {
            self.status = status
            action = result.action.rawValue
            httpStatus = result.status
            bucket = result.bucket.bytes
            key = result.key.bytes
            url = result.url.bytes
            authorization = result.authorization.bytes
            amzDate = result.amz_date.bytes
            fallback = result.fallback.bytes
            host = result.host.bytes
            base = result.base.bytes
            render = result.render.rawValue
            maxAge = result.max_age
            checksumMode = result.checksum_mode.bytes
            cacheKey = result.cache_key.bytes
        }

        var description: String {
            "status \(status) action \(action) http \(httpStatus) bucket \(text(bucket)) "
                + "key \(text(key)) url \(text(url)) auth \(text(authorization)) "
                + "date \(text(amzDate)) fallback \(text(fallback)) host \(text(host)) "
                + "base \(text(base)) render \(render) max-age \(maxAge) "
                + "checksum-mode \(text(checksumMode)) cache-key \(text(cacheKey))"
        }
    }

    /// Both implementations' answers to one request.
    static func answers(
        _ conf: inout s3p_config_t, _ request: s3p_request_t
    ) -> (production: Answer, reference: Answer, bound: Int) {
        var req = request
        let bound = s3p_output_bound(&conf, &req)
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: bound)
        defer { out.deallocate() }
        var result = s3p_result_t()
        var status = s3p_handle(&conf, &req, out, bound, &result)
        let first = Answer(status, result)
        // Asked again, a redirect may come from the thread's cache of
        // presigned URLs (a presign window): the same answer.
        status = s3p_handle(&conf, &req, out, bound, &result)
        let production = Answer(status, result)
        #expect(production == first, "asked twice, answered differently")

        let big = 1 << 16
        let refOut = UnsafeMutablePointer<UInt8>.allocate(capacity: big)
        defer { refOut.deallocate() }
        var refResult = s3p_result_t()
        let refStatus = withUnsafePointer(to: &conf) {
            RequestHandler.handle(conf: $0, request: req, out: refOut, cap: big,
                                  result: &refResult)
        }
        return (production, Answer(refStatus, refResult), bound)
    }

    /// A generated configuration.
    static func config(_ memory: CMemory, _ random: inout SplitMix64) -> s3p_config_t {
        var mounts: [String] = []
        return config(memory, &random, mounts: &mounts)
    }

    /// A generated configuration, and its mount in `mounts`.
    static func config(_ memory: CMemory, _ random: inout SplitMix64,
                       mounts: inout [String]) -> s3p_config_t
    {
        var signing = CAPITests.signing(memory, sessionToken: random.pick(["", "", "tok/en+==", "a%b=c"]))
        signing.accessKey = random.pick(["AKIAIOSFODNN7EXAMPLE", "AK/ID+x=="])
        // Secrets around 60 bytes: "AWS4" + secret is then hashed as an
        // HMAC key instead of used as it is.
        signing.secretKey = String(String(repeating: "s/+=", count: 25)
            .prefix(random.pick([1, 40, 59, 60, 61, 64, 65, 100])))
        signing.scheme = random.pick(["https", "http"])
        signing.region = random.pick(["us-east-1", "eu-west-3", "auto"])
        signing.host = random.pick(["s3.internal:9000", "S3.Example.com:443",
                                    "127.0.0.1:8080", "[::1]:9000"])
        signing.externalHost = random.pick(["files.example.com", ""])
        signing.externalScheme = random.pick(["", "", "http", "https"])
        signing.endpoint = random.pick(["", "", "", "http://minio:9000", "S3.Other.example"])
        signing.externalEndpoint = random.pick(["", "", "https://cdn.example.com:8443"])
        signing.addressing = random.pick([S3P_ADDRESSING_PATH, S3P_ADDRESSING_VIRTUAL])
        signing.expires = random.pick([1, 300, 604_800])
        if signing.expires < 604_800 {
            signing.window = random.pick([Int64(S3P_UNSET), Int64(S3P_UNSET), 1, 60, 3600])
        }
        var conf = s3p_config_t()
        conf.signing = memory.resolve(signing)
        let mount = random.pick(["", "", "/", "/s3/", "/s3", "/a/b/", "/x'&/"])
        conf.mount = memory.str(mount)
        mounts.append(mount)
        conf.bucket = memory.str(random.pick(["", "", "bkt", "my.bucket", "Legacy_B"]))
        conf.listings = random.pick([0, 1])
        if random.pick([false, true]) {
            conf.index = memory.str(random.pick(["default.htm", "index.html", "ü.html",
                                                 "x y.html", "a+b.html", "%41.html"]))
        }
        conf.stream = random.pick([S3P_STREAM_DEFAULT, S3P_STREAM_OFF, S3P_STREAM_LIST])
        if conf.stream == S3P_STREAM_LIST {
            let agents = memory.list(["curl/", "Wget"])
            conf.stream_agents = agents.0
            conf.nstream_agents = agents.1
            conf.stream_match = random.pick([0, 1, 2, 3])
        }
        if random.pick([false, true]) {
            let ignored = memory.list(random.pick([["v", "_"], ["versionId", "page", "x-id"],
                                                   ["prefix", "A"]]))
            conf.ignore_params = ignored.0
            conf.nignore_params = ignored.1
        }
        if random.pick([false, true]) {
            let buckets = memory.list(["bkt", "my.bucket", "Legacy_B"])
            conf.buckets = buckets.0
            conf.nbuckets = buckets.1
        }
        if random.pick([false, true]) {
            let params = memory.list(["versionId", "response-content-type", "A", "page", "zz",
                                      "X-Amz", "X-Amz.", "W", "Y", "a+b", "a*b"])
            conf.params = params.0
            conf.nparams = params.1
        }
        return conf
    }

    static let segments = [
        "bkt", "my.bucket", "Legacy_B", "other", "b%6Bt", "%62kt", "bk", "BKT", "",
        "a", "dir", "a b", "a%20b", "%2F", "%2f", "..", ".", ".hidden", "%2E%2E",
        "index.html", "default.htm", "ü.html", "%C3%BC", "%C0%AF", "%zz", "%", "%4",
        "+", "~tilde", "x?y", "%00", "€", String(repeating: "k", count: 1010),
        String(repeating: "é", count: 510),
    ]
    static let queryItems = [
        "list-type=2", "prefix=dir/", "delimiter=/", "delimiter=%2F", "max-keys=10",
        "continuation-token=a+b", "start-after=%E2%82%AC", "marker", "fetch-owner=true",
        "encoding-type=url", "x-id=GetObject", "x-id", "page=tok%2Ben", "page=",
        "versionId=3", "versionId=", "response-content-type=text/plain", "A=1", "zz",
        "acl", "tagging=", "X-Amz-Credential=x", "%zz=1", "a=%C0%AF", "", "&",
        "prefix=a+b%2Bc", "list-type=1", "page=x&page=y", "s3-proxy-fallback",
        "X-Amz=1", "X-Amz.=2", "W=w", "Y", "a%2Bb=3", "a+b=4", "a*b", "version%49d=5",
        "=v", "a==b", "prefix=%26", "X-Id=1", "v=3", "_=1700000000", "v", "_",
        "partNumber=1", "partNumber=10000", "partNumber=10001", "partNumber=0",
        "partNumber=01", "partNumber=+1", "partNumber=%2B1", "partNumber=",
        "partNumber=%31%30", "partNumber", "partnumber=2", "partNumber=99999",
        "download", "download=1", "download&response-content-disposition=x",
    ]
    static let agents = [
        "", "", "curl/8.0", "Boto3/1.34 md/Botocore#1.34", "aws-cli/2.15", "Mozilla/5.0",
        "rclone/v1.60", "Wget/1.21", "MINIO (linux)",
    ]

    // Authorization values: S3's schemes in any case, and others.
    static let authorizations = [
        "", "", "", "", "AWS4-HMAC-SHA256 Credential=x", "aws4-ecdsa-p256-sha256 x",
        "AWS AK:sig", "aws", "AWS4", "AWSX y", "Basic dTpw", "Bearer t", " AWS4-x",
    ]

    static func request(_ memory: CMemory, _ random: inout SplitMix64,
                        mount: String = "") -> s3p_request_t
    {
        let method = random.pick(["GET", "GET", "GET", "HEAD", "PUT", "POST", "get", ""])
        var path = random.pick(["/", "", "//", "/", "/"])
        if path == "/" {
            let depth = Int(random.next() % 5)
            var parts: [String] = []
            for _ in 0..<depth { parts.append(random.pick(segments)) }
            path = "/" + parts.joined(separator: "/")
            if random.pick([false, true, false]) { path += "/" }
        }
        // Below the location's mount, mostly; sometimes beside it.
        if !mount.isEmpty && path.hasPrefix("/") {
            let prefix = random.pick([mount, mount, mount, "/s3x", "/%73%33/", "/S3/"])
            path = (prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix) + path
            if random.next() % 16 == 0 { path = prefix }
            // the mount without its "/": a one-bucket location's bucket
            if random.next() % 16 == 0 && prefix.count > 1 && prefix.hasSuffix("/") {
                path = String(prefix.dropLast())
            }
        }
        var items: [String] = []
        let count = random.pick([0, 0, 1, 2, 3, 5, 40])
        for _ in 0..<count { items.append(random.pick(queryItems)) }
        var query = items.joined(separator: "&")
        if count == 40 {
            // At the limit on query items, and one past it.
            query = Array(repeating: "prefix=a",
                          count: Rules.maxQueryItems + random.pick([0, 1]))
                .joined(separator: "&")
        }
        if random.next() % 8 == 0 {
            query = "page=" + random.pick(["tok%2Ben", "a+b", "", "%E2%82%AC"])
            if !path.hasSuffix("/") { path += "/" }
        }
        let now = random.pick([Int64(AWSExample.unixTime), 1_767_225_599, 1_767_225_600,
                               0, 253_402_300_799])
        return s3p_request_t(method: memory.str(method), path: memory.str(path),
                             query: memory.str(query),
                             user_agent: memory.str(random.pick(agents)),
                             authorization: memory.str(random.pick(authorizations)),
                             amz_date: memory.str(random.pick(["", "", "", "20260101T000000Z"])),
                             amz_content_sha256: memory.str(random.pick(["", "", "", "UNSIGNED-PAYLOAD"])),
                             checksum_mode: memory.str(random.pick(["", "", "ENABLED", "enabled",
                                                                    "DISABLED", "ENABLED "])),
                             now: now, fallback: random.pick([0, 0, 0, 1]), status: 404,
                             bucket: s3p_str_t(), prefix: s3p_str_t(),
                             target: s3p_str_t(), decoded: 0)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func productionAnswersLikeTheReference(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var routes: Set<String> = []
        for _ in 0..<40 {
            let memory = CMemory()
            var mounts: [String] = []
            var conf = Self.config(memory, &random, mounts: &mounts)
            for _ in 0..<100 {
                let request = Self.request(memory, &random, mount: mounts[0])
                let (production, reference, _) = Self.answers(&conf, request)
                #expect(production == reference,
                        "\(text(request.method.bytes)) \(text(request.path.bytes))?\(text(request.query.bytes)) UA \(text(request.user_agent.bytes)) auth \(text(request.authorization.bytes)) fallback \(request.fallback)")
                #expect(production.status == S3P_OK, "the bound was too small")
                if !production.fallback.isEmpty {
                    // The module asks for the folder's listing at the
                    // fallback path: both answer that request alike too.
                    // (its query after the first `?`, as the core splits a target)
                    let question = production.fallback.firstIndex(of: UInt8(ascii: "?"))
                    let againPath = Array(production.fallback[..<(question ?? production.fallback.count)])
                    let againQuery = question.map { Array(production.fallback[($0 + 1)...]) } ?? []
                    let again = s3p_request_t(
                        method: request.method, path: memory.str(againPath),
                        query: memory.str(againQuery), user_agent: request.user_agent,
                        authorization: request.authorization, amz_date: request.amz_date,
                        amz_content_sha256: request.amz_content_sha256,
                        checksum_mode: request.checksum_mode,
                        now: request.now, fallback: 1, status: 404,
                        bucket: s3p_str_t(), prefix: s3p_str_t(),
                        target: s3p_str_t(), decoded: 0)
                    let (second, secondReference, _) = Self.answers(&conf, again)
                    #expect(second == secondReference)
                    #expect(second.status == S3P_OK)
                }
                routes.insert("\(production.action)/\(production.httpStatus)/\(production.render)")
                if !production.checksumMode.isEmpty { routes.insert("checksum-mode") }
            }
        }
        // Every kind of answer was compared: redirects, proxied objects
        // (with x-amz-checksum-mode too), index pages and listings, folder
        // listings (both renderings) and refusals of each status.
        for route in ["1/307/0", "2/0/0", "2/0/1", "2/0/2", "0/400/0", "0/403/0",
                      "0/404/0", "0/405/0", "0/403/3", "0/405/3", "0/501/3", "0/400/3",
                      "checksum-mode"]
        {
            #expect(routes.contains(route), "no \(route) answer was generated")
        }
    }

    // Keys at S3's limit pass, one byte more is refused, in both.
    @Test(arguments: [1023, 1024, 1025])
    func keyLengthLimit(length: Int) {
        let memory = CMemory()
        var conf = CAPITests.config(memory)
        let request = CAPITests.request(memory, "GET", "/bkt/" + String(repeating: "k", count: length))
        let (production, reference, _) = Self.answers(&conf, request)
        #expect(production == reference)
        #expect(production.httpStatus == (length > 1024 ? 400 : 307))
    }
}

extension CMemory {
    /// A C array of strings that lives as long as this object.
    func list(_ items: [String]) -> (UnsafePointer<s3p_str_t>, Int) {
        let array = UnsafeMutableRawPointer(buffer(items.count * MemoryLayout<s3p_str_t>.stride))
            .bindMemory(to: s3p_str_t.self, capacity: items.count)
        for (index, item) in items.enumerated() { array[index] = str(item) }
        return (UnsafePointer(array), items.count)
    }
}

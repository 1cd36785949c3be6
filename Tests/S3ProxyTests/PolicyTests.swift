import CShim
// The operator's allowlists: buckets (s3_proxy_buckets, S3_PROXY_BUCKETS)
// and query parameters (s3_proxy_allow_params).  Source of the rules:
// Sources/S3Proxy/Routing/LocationPolicy.swift and the README's Security
// section.

import Testing
@testable import S3Proxy

@Suite struct PolicyTests {
    static let policy = Policy(buckets: [bytes("okay"), bytes("okay.two")],
                               parameters: [bytes("versionId"),
                                            bytes("response-content-disposition")])

    static func route(_ path: String, query: String = "",
                      method: String = "GET") -> Route {
        Router.route(method: bytes(method)[...], path: bytes(path)[...],
                     query: bytes(query)[...], policy: policy)
    }

    static func status(_ route: Route) -> Int32? {
        if case .refuse(let status) = route { return status }
        return nil
    }

    @Test(arguments: [
        "/other/x", "/OKAY/x", "/Okay/x", "/other", "/other/", "/okay2/x",
        "/okay.tw/x", "/other?list-type=2",
    ])
    func otherBucketsAre403(_ path: String) {
        let parts = path.split(separator: "?", maxSplits: 1)
        let route = PolicyTests.route(String(parts[0]),
                                      query: parts.count > 1 ? String(parts[1]) : "")
        #expect(PolicyTests.status(route) == 403)
    }

    @Test(arguments: ["/okay/x", "/okay.two/dir/", "/okay", "/okay/?prefix=a"])
    func allowedBucketsPass(_ path: String) {
        let parts = path.split(separator: "?", maxSplits: 1)
        let route = PolicyTests.route(String(parts[0]),
                                      query: parts.count > 1 ? String(parts[1]) : "")
        #expect(PolicyTests.status(route) == nil)
    }

    @Test func emptyAllowlistAllowsAnyBucket() {
        let route = Router.route(method: bytes("GET")[...], path: bytes("/any/x")[...],
                                 query: []) 
        #expect(PolicyTests.status(route) == nil)
    }

    @Test func allowedParameterIsSignedIntoTheRedirect() throws {
        let route = PolicyTests.route("/okay/file.txt",
                                      query: "versionId=3%2B4&response-content-disposition=attachment")
        guard case .redirect(let target) = route else {
            Issue.record("expected a redirect, got \(route)")
            return
        }
        var query: [UInt8] = []
        target.query.write(to: &query)
        #expect(String(decoding: query, as: UTF8.self)
            == "response-content-disposition=attachment&versionId=3%2B4")
    }

    @Test(arguments: ["acl", "tagging", "versions", "policy", "uploads", "torrent",
                      "attributes", "X-Amz-Security-Token=x", "response-content-type=x"])
    func otherParametersAre403(_ query: String) {
        #expect(PolicyTests.status(PolicyTests.route("/okay/file.txt", query: query)) == 403)
        #expect(PolicyTests.status(PolicyTests.route("/okay/", query: query)) == 403)
    }

    @Test func allowedParameterOnABucketPathIsAListing() {
        guard case .proxy(let target) = PolicyTests.route("/okay/", query: "versionId=1")
        else {
            Issue.record("expected a proxied request")
            return
        }
        #expect(target.key.isEmpty)
    }

    @Test(arguments: [("x-amz-date", "authentication"), ("X-Amz-Signature", "authentication"),
                      ("", "empty"), ("a b", "character")])
    func badParameterNames(_ name: String, _ word: String) {
        let problem = Policy.parameterProblem(bytes(name))
        #expect(problem?.contains(word) == true)
    }

    @Test func configCheckNamesABadAllowedBucketOrParameter() throws {
        let memory = CMemory()
        var conf = CAPITests.config(memory)
        var list = [memory.str("Not_A/Bucket")]
        var message = [UInt8](repeating: 0, count: 256)
        list.withUnsafeMutableBufferPointer { list in
            conf.buckets = UnsafePointer(list.baseAddress)
            conf.nbuckets = 1
            #expect(s3p_config_check(&conf, &message, message.count) == S3P_E_CONFIG)
        }
        #expect(text(message.prefix { $0 != 0 }).contains("Not_A/Bucket"))
        conf.buckets = nil
        conf.nbuckets = 0
        var params = [memory.str("X-Amz-Credential")]
        params.withUnsafeMutableBufferPointer { params in
            conf.params = UnsafePointer(params.baseAddress)
            conf.nparams = 1
            #expect(s3p_config_check(&conf, &message, message.count) == S3P_E_CONFIG)
        }
        #expect(text(message.prefix { $0 != 0 }).contains("X-Amz-Credential"))
    }
}

// Streaming for clients that cannot follow a 307 (S3 SDKs and CLIs, by
// User-Agent). Agents as these clients send them: botocore's
// `Boto3/x md/Botocore#x`, the aws CLI's `aws-cli/x ... botocore/x`,
// `aws-sdk-java/2.x`, `aws-sdk-go-v2/x`, `aws-sdk-js/3.x`, MinIO's
// `MinIO (linux; amd64) minio-go/v7`, `s3cmd/2.3.0`, `rclone/v1.60.1`.
@Suite struct StreamingTests {
    static func route(_ path: String, agent: String, policy: Policy = Policy(),
                      method: String = "GET") -> Route {
        Router.route(method: bytes(method)[...], path: bytes(path)[...], query: [],
                     policy: policy, userAgent: bytes(agent)[...])
    }

    @Test(arguments: [
        "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux#6 lang/python#3.11.7",
        "aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux botocore/1.43.11",
        "aws-sdk-java/2.25.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/17",
        "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22",
        "aws-sdk-js/3.600.0 ua/2.0 os/linux",
        "aws-sdk-dotnet-coreclr/3.7.0", "aws-sdk-rust/1.3.0 os/linux",
        "MinIO (linux; amd64) minio-go/v7.0.70 mc/RELEASE.2024",
        "s3cmd/2.3.0", "rclone/v1.60.1",
    ])
    func sdksAreStreamed(_ agent: String) {
        for method in ["GET", "HEAD"] {
            guard case .proxy(let target) = StreamingTests.route("/bkt/big.bin",
                                                                 agent: agent,
                                                                 method: method)
            else {
                Issue.record("\(agent) \(method) should be streamed")
                return
            }
            #expect(target.key == bytes("big.bin"))
        }
    }

    @Test(arguments: [
        "curl/7.88.1", "Wget/1.21.3",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
        "python-requests/2.31.0", "Go-http-client/1.1",
    ])
    func othersAreRedirected(_ agent: String) {
        guard case .redirect = StreamingTests.route("/bkt/big.bin", agent: agent) else {
            Issue.record("\(agent) should be redirected")
            return
        }
    }

    @Test func streamingOffRedirectsEveryone() {
        let policy = Policy(streamAgents: [], streamsWithoutAgent: false,
                            streamsSigned: false)
        for agent in ["Boto3/1.43", ""] {
            guard case .redirect = StreamingTests.route("/bkt/x", agent: agent,
                                                        policy: policy)
            else {
                Issue.record("streaming off should redirect \(agent)")
                return
            }
        }
    }

    // s3cmd 2.3.0 (Debian 12) sends no User-Agent; a 307 would lose it.
    @Test func clientsWithoutUserAgentAreStreamed() {
        guard case .proxy = StreamingTests.route("/bkt/x", agent: "") else {
            Issue.record("a request without User-Agent should be streamed")
            return
        }
    }

    // What S3 clients send when they sign, whatever their User-Agent:
    // SigV4's and SigV4a's Authorization (sig-v4-header-based-auth.html),
    // SigV2's `AWS id:signature`, x-amz-date, x-amz-content-sha256.
    @Test(arguments: [
        ClientSigning(authorization: bytes("AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")),
        ClientSigning(authorization: bytes("aws4-hmac-sha256 Credential=x")),
        ClientSigning(authorization: bytes("AWS4-ECDSA-P256-SHA256 Credential=x")),
        ClientSigning(authorization: bytes("AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")),
        ClientSigning(amzDate: bytes("20260101T000000Z")),
        ClientSigning(amzContentSHA256: bytes("UNSIGNED-PAYLOAD")),
    ])
    func signedRequestsAreStreamed(_ signing: ClientSigning) {
        let route = Router.route(method: bytes("GET")[...], path: bytes("/bkt/x")[...],
                                 query: [], userAgent: bytes("Mozilla/5.0")[...],
                                 signing: signing)
        guard case .proxy = route else {
            Issue.record("a signed request should be streamed")
            return
        }
        let listOnly = Policy(streamAgents: [bytes("curl/")], streamsWithoutAgent: true,
                              streamsSigned: false)
        guard case .redirect = Router.route(method: bytes("GET")[...],
                                            path: bytes("/bkt/x")[...], query: [],
                                            policy: listOnly,
                                            userAgent: bytes("Mozilla/5.0")[...],
                                            signing: signing)
        else {
            Issue.record("without `signed`, a signed browser request is redirected")
            return
        }
    }

    // Not an AWS signature: Basic and Bearer credentials (for auth_basic or
    // an auth_request in front of the proxy), or a scheme that only starts
    // with AWS.
    @Test(arguments: ["Basic dXNlcjpwYXNz", "Bearer abc", "AWSX something", "AWS4",
                      "aws4hmac x", ""])
    func otherAuthorizationIsRedirected(_ authorization: String) {
        let route = Router.route(method: bytes("GET")[...], path: bytes("/bkt/x")[...],
                                 query: [], userAgent: bytes("curl/8.0")[...],
                                 signing: ClientSigning(authorization: bytes(authorization)))
        guard case .redirect = route else {
            Issue.record("\(authorization) should be redirected")
            return
        }
    }

    // s3_proxy_ignore_params: cache busters are dropped, not refused, and
    // never reach the signature; other parameters are still refused.
    @Test func ignoredParametersAreDropped() {
        let policy = Policy(ignoredParameters: [bytes("v"), bytes("_")])
        guard case .redirect(let target) = Router.route(
            method: bytes("GET")[...], path: bytes("/bkt/app.js")[...],
            query: bytes("v=3&_=1700000000")[...], policy: policy)
        else {
            Issue.record("ignored parameters should not be refused")
            return
        }
        #expect(target.query.isEmpty)
        guard case .refuse(403) = Router.route(
            method: bytes("GET")[...], path: bytes("/bkt/app.js")[...],
            query: bytes("v=3&w=1")[...], policy: policy)
        else {
            Issue.record("other parameters are still refused")
            return
        }
    }

    @Test func allowlistsStillApplyToStreamedRequests() {
        let policy = Policy(buckets: [bytes("okay")])
        guard case .refuse(403) = StreamingTests.route("/other/x", agent: "Boto3/1.43",
                                                       policy: policy)
        else {
            Issue.record("a streamed request for another bucket must be 403")
            return
        }
        guard case .refuse(405) = StreamingTests.route("/okay/x", agent: "Boto3/1.43",
                                                       policy: policy, method: "PUT")
        else {
            Issue.record("a streamed PUT must be 405")
            return
        }
    }
}

// Refusals to S3 clients: S3's XML error, and 501 NotImplemented for a
// parameter the location does not serve (s3cmd info asks for ?policy,
// ?cors and ?acl and stops at anything but 404 or 501).
// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
@Suite struct S3ClientRefusalTests {
    static func answer(_ method: String, _ path: String, _ query: String,
                       agent: String) -> DifferentialTests.Answer {
        let memory = CMemory()
        var conf = CAPITests.config(memory)
        var request = CAPITests.request(memory, method, path, query)
        request.user_agent = memory.str(agent)
        let (production, reference, _) = DifferentialTests.answers(&conf, request)
        #expect(production == reference)
        return production
    }

    @Test(arguments: ["acl", "cors", "policy", "tagging", "v=1"])
    func parametersAre501InXMLForS3Clients(_ query: String) {
        let answer = S3ClientRefusalTests.answer("GET", "/bkt/x", query, agent: "")
        #expect(answer.action == S3P_ACTION_REFUSE.rawValue && answer.httpStatus == 501)
        #expect(answer.render == S3P_RENDER_S3_ERROR.rawValue)
        #expect(text(answer.url) == "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
                + "<Code>NotImplemented</Code><Message>A query parameter you provided "
                + "implies functionality that is not implemented.</Message></Error>")
        let browser = S3ClientRefusalTests.answer("GET", "/bkt/x", query, agent: "Mozilla/5.0")
        #expect(browser.httpStatus == 403 && browser.render == S3P_RENDER_NONE.rawValue)
        #expect(browser.url.isEmpty)
    }

    @Test func methodRefusalIsMethodNotAllowedForS3Clients() {
        let answer = S3ClientRefusalTests.answer("PUT", "/bkt/x", "", agent: "aws-cli/2.15")
        #expect(answer.httpStatus == 405 && answer.render == S3P_RENDER_S3_ERROR.rawValue)
        #expect(text(answer.url).contains("<Code>MethodNotAllowed</Code>"))
    }
}

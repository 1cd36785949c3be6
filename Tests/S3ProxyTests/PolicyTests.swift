// The operator's allowlists: buckets (s3_proxy_buckets, S3_PROXY_BUCKETS)
// and query parameters (s3_proxy_allow_params).  Source of the rules:
// Sources/S3Proxy/Policy.swift and the README's Security section.

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

    @Test func settingsNameABadAllowedBucket() {
        var settings = Settings(accessKey: bytes("AK"), secretKey: bytes("s"),
                                sessionToken: [], region: bytes("us-east-1"),
                                host: bytes("h"), externalHost: bytes("h"),
                                scheme: bytes("https"), expires: 300)
        settings.policy.buckets = [bytes("Not_A/Bucket")]
        #expect(settings.problem()?.contains("Not_A/Bucket") == true)
        settings.policy.buckets = [bytes("fine-bucket")]
        settings.policy.parameters = [bytes("X-Amz-Credential")]
        #expect(settings.problem()?.contains("X-Amz-Credential") == true)
    }
}

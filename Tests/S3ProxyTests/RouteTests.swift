// Routing of raw request lines: refused, redirected or proxied.
//
// Source of the rules: the comment at the top of Sources/S3Proxy/Route.swift
// (path-style /<bucket>/<key>; listings proxied; `index.html` and paths
// ending in `/` proxied; other objects redirected; other methods 405; no
// bucket 403; malformed input 400), the AWS S3 path-style addressing and
// object key rules (keys are not normalised: `//`, `./` and `../` are part
// of the key, https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html),
// the ListObjects/ListObjectsV2 parameter lists of the S3 API reference,
// and the bucket naming rules
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).

import Testing
@testable import S3Proxy

@Suite struct RouteTests {

    enum Expected: Sendable {
        case refuse(Int32)
        /// bucket, decoded key, canonical path; the query is always empty.
        case redirect(bucket: String, key: [UInt8], path: String)
        /// bucket, decoded key, canonical path, canonical query.
        case proxy(bucket: String, key: [UInt8], path: String, query: String)

        static func redirect(_ bucket: String, _ key: String, _ path: String) -> Expected {
            .redirect(bucket: bucket, key: bytes(key), path: path)
        }

        static func proxy(_ bucket: String, _ key: String, _ path: String,
                          query: String = "") -> Expected {
            .proxy(bucket: bucket, key: bytes(key), path: path, query: query)
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let path: String
        let query: String
        let expected: Expected
        var testDescription: String { name }

        init(_ name: String, method: String = "GET", _ path: String,
             query: String = "", _ expected: Expected)
        {
            self.name = name
            self.method = method
            self.path = path
            self.query = query
            self.expected = expected
        }
    }

    static let cases: [Case] = [
        // MARK: Methods (Route.swift: other methods 405)
        Case("POST is 405", method: "POST", "/bkt/file.txt", .refuse(405)),
        Case("PUT is 405", method: "PUT", "/bkt/file.txt", .refuse(405)),
        Case("DELETE is 405", method: "DELETE", "/bkt/file.txt", .refuse(405)),
        Case("OPTIONS is 405", method: "OPTIONS", "/bkt/file.txt", .refuse(405)),
        Case("PATCH is 405", method: "PATCH", "/bkt/file.txt", .refuse(405)),
        // RFC 9110 9.1: method names are case-sensitive.
        Case("lowercase get is 405", method: "get", "/bkt/file.txt", .refuse(405)),
        Case("empty method is 405", method: "", "/bkt/file.txt", .refuse(405)),
        Case("405 before any path check", method: "POST", "/", .refuse(405)),
        Case("HEAD is routed like GET", method: "HEAD", "/bkt/file.txt",
             .redirect("bkt", "file.txt", "/bkt/file.txt")),

        // MARK: No bucket (Route.swift: 403; ListBuckets would disclose the account)
        Case("/ is 403", "/", .refuse(403)),
        Case("/ with a query is 403", "/", query: "list-type=2", .refuse(403)),
        Case("HEAD / is 403", method: "HEAD", "/", .refuse(403)),

        // MARK: Not a path
        Case("empty path is 400", "", .refuse(400)),
        Case("path without a slash is 400", "bkt/x", .refuse(400)),
        Case("absolute URI is 400", "http://h/bkt/x", .refuse(400)),

        // MARK: Listings (ListObjects V1 and V2 parameters)
        Case("/bkt lists", "/bkt", .proxy("bkt", "", "/bkt")),
        Case("/bkt?list-type=2&prefix=x lists", "/bkt", query: "list-type=2&prefix=x",
             .proxy("bkt", "", "/bkt", query: "list-type=2&prefix=x")),
        Case("/bkt/?delimiter=/&prefix=dir/&marker= lists", "/bkt/",
             query: "delimiter=/&prefix=dir/&marker=",
             .proxy("bkt", "", "/bkt/", query: "delimiter=%2F&marker=&prefix=dir%2F")),
        Case("V2 parameters", "/bkt", query: "continuation-token=a+b&start-after=k&fetch-owner=true&max-keys=5&encoding-type=url",
             .proxy("bkt", "", "/bkt", query: "continuation-token=a%20b&encoding-type=url&fetch-owner=true&max-keys=5&start-after=k")),
        Case("listing prefix with UTF-8", "/bkt/", query: "prefix=caf%C3%A9",
             .proxy("bkt", "", "/bkt/", query: "prefix=caf%C3%A9")),
        Case("listing drops x-id", "/bkt", query: "list-type=2&x-id=ListObjectsV2",
             .proxy("bkt", "", "/bkt", query: "list-type=2")),
        Case("/bkt?x-id alone is still a listing", "/bkt", query: "x-id=ListObjects",
             .proxy("bkt", "", "/bkt")),

        // MARK: Sub-resources are 403
        Case("/bkt?acl is 403", "/bkt", query: "acl", .refuse(403)),
        Case("/bkt?list-type=2&acl is 403", "/bkt", query: "list-type=2&acl", .refuse(403)),
        Case("/bkt/?policy is 403", "/bkt/", query: "policy", .refuse(403)),
        Case("/bkt/?versions is 403", "/bkt/", query: "versions", .refuse(403)),
        Case("/bkt/?prefix=a&versions is 403", "/bkt/", query: "prefix=a&versions", .refuse(403)),
        Case("/bkt/key?acl is 403", "/bkt/key", query: "acl", .refuse(403)),
        Case("/bkt/key?versionId=1 is 403", "/bkt/key", query: "versionId=1", .refuse(403)),
        Case("/bkt/key?response-content-type=x is 403", "/bkt/key",
             query: "response-content-type=x", .refuse(403)),
        Case("/bkt/key?prefix=x is 403 (listing parameter on an object)",
             "/bkt/key", query: "prefix=x", .refuse(403)),
        Case("/bkt/dir/?prefix=x is 403", "/bkt/dir/", query: "prefix=x", .refuse(403)),
        Case("/bkt/index.html?tagging is 403", "/bkt/index.html", query: "tagging", .refuse(403)),

        // MARK: x-id is dropped
        Case("/bkt/key?x-id=GetObject redirects without query", "/bkt/key",
             query: "x-id=GetObject", .redirect("bkt", "key", "/bkt/key")),
        Case("/bkt/?x-id=GetObject is the index", "/bkt/", query: "x-id=GetObject",
             .proxy("bkt", "index.html", "/bkt/index.html")),
        Case("empty query items are ignored", "/bkt/key", query: "&&",
             .redirect("bkt", "key", "/bkt/key")),

        // MARK: Index documents are proxied
        Case("/bkt/ is the bucket's index", "/bkt/",
             .proxy("bkt", "index.html", "/bkt/index.html")),
        Case("/bkt/dir/ is dir/index.html", "/bkt/dir/",
             .proxy("bkt", "dir/index.html", "/bkt/dir/index.html")),
        Case("/bkt/dir/index.html is proxied", "/bkt/dir/index.html",
             .proxy("bkt", "dir/index.html", "/bkt/dir/index.html")),
        Case("/bkt/index.html is proxied", "/bkt/index.html",
             .proxy("bkt", "index.html", "/bkt/index.html")),
        Case("HEAD /bkt/dir/ is proxied", method: "HEAD", "/bkt/dir/",
             .proxy("bkt", "dir/index.html", "/bkt/dir/index.html")),
        Case("/bkt/dir/xindex.html redirects", "/bkt/dir/xindex.html",
             .redirect("bkt", "dir/xindex.html", "/bkt/dir/xindex.html")),
        Case("/bkt/dir/index.htm redirects", "/bkt/dir/index.htm",
             .redirect("bkt", "dir/index.htm", "/bkt/dir/index.htm")),
        Case("/bkt/index.html/x redirects", "/bkt/index.html/x",
             .redirect("bkt", "index.html/x", "/bkt/index.html/x")),
        Case("/bkt/INDEX.HTML redirects (keys are case-sensitive)", "/bkt/INDEX.HTML",
             .redirect("bkt", "INDEX.HTML", "/bkt/INDEX.HTML")),
        Case("encoded index.html is proxied", "/bkt/dir/index%2Ehtml",
             .proxy("bkt", "dir/index.html", "/bkt/dir/index.html")),
        Case("encoded trailing slash is the index", "/bkt/dir%2F",
             .proxy("bkt", "dir/index.html", "/bkt/dir/index.html")),

        // MARK: Objects redirect
        Case("/bkt/file.txt redirects", "/bkt/file.txt",
             .redirect("bkt", "file.txt", "/bkt/file.txt")),
        Case("nested key", "/bkt/a/b/c.txt",
             .redirect("bkt", "a/b/c.txt", "/bkt/a/b/c.txt")),

        // MARK: Key decoding (decoded once, re-encoded by UriEncode)
        Case("%20 is a space", "/bkt/a%20b",
             .redirect("bkt", "a b", "/bkt/a%20b")),
        Case("+ in a path is a plus", "/bkt/a+b",
             .redirect("bkt", "a+b", "/bkt/a%2Bb")),
        Case("%2B is a plus", "/bkt/a%2Bb",
             .redirect("bkt", "a+b", "/bkt/a%2Bb")),
        Case("UTF-8 key", "/bkt/caf%C3%A9",
             .redirect("bkt", "café", "/bkt/caf%C3%A9")),
        Case("raw UTF-8 key", "/bkt/café",
             .redirect("bkt", "café", "/bkt/caf%C3%A9")),
        Case("sub-delims are encoded", "/bkt/it's(1)!*",
             .redirect("bkt", "it's(1)!*", "/bkt/it%27s%281%29%21%2A")),
        Case("lowercase escapes", "/bkt/%7e%c3%a9",
             .redirect("bkt", "~é", "/bkt/~%C3%A9")),
        Case("decoded once", "/bkt/%2541",
             .redirect("bkt", "%41", "/bkt/%2541")),
        Case("encoded slash in the key is a slash", "/bkt/a%2Fb",
             .redirect("bkt", "a/b", "/bkt/a/b")),
        Case("$ is encoded (sigv4-vectors.md example 4)", "/bkt/test$file.text",
             .redirect("bkt", "test$file.text", "/bkt/test%24file.text")),
        Case("// is kept", "/bkt//double",
             .redirect("bkt", "/double", "/bkt//double")),
        Case("./ is kept", "/bkt/./x",
             .redirect("bkt", "./x", "/bkt/./x")),
        Case("../ inside the bucket is not normalised", "/bkt/a/../x",
             .redirect("bkt", "a/../x", "/bkt/a/../x")),
        Case("a/b/../../x stays in the bucket", "/bkt/a/b/../../x",
             .redirect("bkt", "a/b/../../x", "/bkt/a/b/../../x")),

        // MARK: Dot segments that would leave the bucket are 403
        Case("../ right after the bucket", "/bkt/../x", .refuse(403)),
        Case("key .. alone", "/bkt/..", .refuse(403)),
        Case("encoded dots", "/bkt/%2e%2e/other/x", .refuse(403)),
        Case("encoded dots and slash", "/bkt/..%2fother/x", .refuse(403)),
        Case("climbing past the bucket", "/bkt/a/../../other/x", .refuse(403)),
        Case("empty segments do not count", "/bkt/a//../../x", .refuse(403)),
        Case("./.. still climbs", "/bkt/./../x", .refuse(403)),
        Case("index path climbing", "/bkt/../", .refuse(403)),

        // MARK: Malformed input is 400
        Case("encoded slash in the bucket", "/bkt%2Fc/x", .refuse(400)),
        Case("encoded slash in a bucket-only path", "/bkt%2Fc", .refuse(400)),
        Case("bucket of 2 characters", "/ab/x", .refuse(400)),
        Case("bucket of 64 characters", "/" + String(repeating: "a", count: 64) + "/x",
             .refuse(400)),
        Case("bucket with a space", "/my%20bkt/x", .refuse(400)),
        Case("bucket with a percent", "/bk%25t/x", .refuse(400)),
        Case("bucket starting with a hyphen", "/-bkt/x", .refuse(400)),
        Case("bucket ending with a dot", "/bkt./x", .refuse(400)),
        Case("empty bucket before a key", "//x", .refuse(400)),
        Case("malformed escape in the key", "/bkt/%zz", .refuse(400)),
        Case("truncated escape in the key", "/bkt/a%2", .refuse(400)),
        Case("malformed escape in the bucket", "/bk%t/x", .refuse(400)),
        Case("overlong UTF-8 in the key", "/bkt/%C0%AF", .refuse(400)),
        Case("surrogate in the key", "/bkt/%ED%A0%80", .refuse(400)),
        Case("lone continuation byte in the key", "/bkt/%80", .refuse(400)),
        Case("malformed escape in the query", "/bkt", query: "prefix=%zz", .refuse(400)),
        Case("malformed escape in an object's query", "/bkt/key", query: "x-id=%zz", .refuse(400)),
        Case("invalid UTF-8 in the query", "/bkt/", query: "prefix=%FF", .refuse(400)),

        // MARK: Valid bucket names (3 and 63 characters, legacy forms)
        Case("bucket of 3 characters", "/abc/x",
             .redirect("abc", "x", "/abc/x")),
        Case("bucket of 63 characters", "/" + String(repeating: "a", count: 63) + "/x",
             .redirect(String(repeating: "a", count: 63), "x",
                       "/" + String(repeating: "a", count: 63) + "/x")),
        Case("bucket with dots and hyphens", "/my.b-kt/x",
             .redirect("my.b-kt", "x", "/my.b-kt/x")),
        Case("legacy bucket with uppercase and underscore", "/My_Bucket/x",
             .redirect("My_Bucket", "x", "/My_Bucket/x")),
        Case("encoded bucket letters", "/%62kt/x",
             .redirect("bkt", "x", "/bkt/x")),
    ]

    @Test(arguments: cases)
    func route(_ routeCase: Case) {
        let route = Router.route(method: bytes(routeCase.method)[...],
                                 path: bytes(routeCase.path)[...],
                                 query: bytes(routeCase.query)[...])
        switch (routeCase.expected, route) {
        case (.refuse(let expected), .refuse(let status)):
            #expect(status == expected)
        case (.redirect(let bucket, let key, let path), .redirect(let target)):
            #expect(text(target.bucket) == bucket)
            #expect(target.key == key, "key \(text(target.key))")
            #expect(text(target.canonicalPath) == path)
            #expect(target.query.isEmpty)
        case (.proxy(let bucket, let key, let path, let query), .proxy(let target)):
            #expect(text(target.bucket) == bucket)
            #expect(target.key == key, "key \(text(target.key))")
            #expect(text(target.canonicalPath) == path)
            var written: [UInt8] = []
            target.query.write(to: &written)
            #expect(text(written) == query)
        default:
            Issue.record("expected \(routeCase.expected), got \(Self.describe(route))")
        }
    }

    static func describe(_ route: Route) -> String {
        switch route {
        case .refuse(let status):
            return "refuse(\(status))"
        case .redirect(let target):
            return "redirect(\(text(target.bucket)), \(text(target.key)), \(text(target.canonicalPath)))"
        case .proxy(let target):
            var query: [UInt8] = []
            target.query.write(to: &query)
            return "proxy(\(text(target.bucket)), \(text(target.key)), \(text(target.canonicalPath))?\(text(query)))"
        }
    }

    // The router reads slices of a larger request line: slices whose
    // indices do not start at 0 give the same answers.
    @Test func slicesOfARequestLine() {
        let line = bytes("GET /bkt/dir/a%20b?x-id=GetObject HTTP/1.1")
        let route = Router.route(method: line[0..<3], path: line[4..<18],
                                 query: line[19..<33])
        guard case .redirect(let target) = route else {
            Issue.record("got \(Self.describe(route))")
            return
        }
        #expect(text(target.key) == "dir/a b")
        #expect(text(target.canonicalPath) == "/bkt/dir/a%20b")
    }

    // Source: Route.swift, canonicalPath(_:_:): `/<bucket>/<UriEncode(key)>`.
    @Test func canonicalPath() {
        #expect(text(Router.canonicalPath(bytes("bkt"), bytes("a b/c+d")))
            == "/bkt/a%20b/c%2Bd")
        #expect(text(Router.canonicalPath(bytes("bkt"), [])) == "/bkt/")
    }
}

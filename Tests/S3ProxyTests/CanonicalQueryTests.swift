// The canonical query string: parse a raw query, then encode and sort it.
//
// Source of the rules: the AWS S3 API reference, "Signature Calculations
// for the Authorization Header", CanonicalQueryString: "sort the parameter
// names in ascending order" by their encoded form, a parameter without a
// value is written with an empty value (`acl` -> `acl=`), names and values
// are UriEncoded with `/` encoded; sigv4-vectors.md examples 2 and 3.
// Source of the `+` rule: the WHATWG URL standard's
// application/x-www-form-urlencoded parser, as S3 reads query strings
// (`+` is a space; `%2B` is a plus).

import Testing
@testable import S3Proxy

@Suite struct CanonicalQueryTests {

    /// Parses `raw` and builds its canonical form, as a listing does.
    static func canonical(_ raw: String) -> String? {
        guard let parameters = CanonicalQuery.parse(bytes(raw)[...]) else {
            return nil
        }
        var query = CanonicalQuery()
        for parameter in parameters {
            query.append(name: parameter.name, value: parameter.value)
        }
        var out: [UInt8] = []
        query.write(to: &out)
        #expect(out.count == query.byteCount, "byteCount of \(raw)")
        #expect(query.isEmpty == out.isEmpty)
        return text(out)
    }

    struct Vector: Sendable, CustomTestStringConvertible {
        let raw: String
        /// nil: the query is refused.
        let expected: String?
        var testDescription: String { raw.isEmpty ? "(empty)" : raw }
        init(_ raw: String, _ expected: String?) {
            self.raw = raw
            self.expected = expected
        }
    }

    static let vectors: [Vector] = [
        Vector("", ""),
        // sigv4-vectors.md, example 3 (already in order, and reversed).
        Vector("max-keys=2&prefix=J", "max-keys=2&prefix=J"),
        Vector("prefix=J&max-keys=2", "max-keys=2&prefix=J"),
        // sigv4-vectors.md, example 2: a value-less parameter is `name=`.
        Vector("lifecycle", "lifecycle="),
        Vector("acl&prefix", "acl=&prefix="),
        Vector("marker=", "marker="),
        // Sorted by name then value, not as `name=value` strings: `a`
        // precedes `a-b` although `-` (0x2D) < `=` (0x3D).
        Vector("a-b=1&a=2", "a=2&a-b=1"),
        Vector("a=2&a-b=1", "a=2&a-b=1"),
        // Sorted by the encoded names: `[` (0x5B) follows `A` (0x41), but
        // its encoding `%5B` precedes it; a space (`%20`) precedes `-`.
        Vector("A=2&[=1", "%5B=1&A=2"),
        Vector("a-b=1&a+b=2", "a%20b=2&a-b=1"),
        // Byte order: uppercase before lowercase.
        Vector("b=1&B=2&a=3", "B=2&a=3&b=1"),
        // Duplicate names sorted by value.
        Vector("a=2&a=1&a=10", "a=1&a=10&a=2"),
        Vector("k=b&k=&k=a", "k=&k=a&k=b"),
        // `+` is a space, `%2B` a plus, `%20` a space.
        Vector("prefix=a+b", "prefix=a%20b"),
        Vector("prefix=a%2Bb", "prefix=a%2Bb"),
        Vector("prefix=a%20b", "prefix=a%20b"),
        Vector("pre+fix=x", "pre%20fix=x"),
        // `/` is encoded in a query.
        Vector("delimiter=/&prefix=dir/", "delimiter=%2F&prefix=dir%2F"),
        Vector("prefix=dir%2F", "prefix=dir%2F"),
        // The client's choice of encoding does not matter: decoded once,
        // then encoded canonically (lowercase hex, encoded unreserved).
        Vector("prefix=%7e%41%2d", "prefix=~A-"),
        Vector("prefix=%c3%a9", "prefix=%C3%A9"),
        Vector("prefix=é", "prefix=%C3%A9"),
        Vector("prefix=%2541", "prefix=%2541"),
        // Only the first `=` separates name and value.
        Vector("a=b=c", "a=b%3Dc"),
        Vector("=v", "=v"),
        // Reserved characters in values.
        Vector("prefix=it's(1)!*", "prefix=it%27s%281%29%21%2A"),
        // Empty items are skipped.
        Vector("a=1&&b=2&", "a=1&b=2"),
        Vector("&&&", ""),
        Vector("&a", "a="),
        // Malformed escapes refuse the query.
        Vector("prefix=%zz", nil),
        Vector("prefix=%", nil),
        Vector("prefix=%4", nil),
        Vector("pre%g0fix=x", nil),
        Vector("a=1&b=%2", nil),
        // Decoded bytes that are not UTF-8 refuse the query.
        Vector("prefix=%C0%AF", nil),
        Vector("prefix=%FF", nil),
        Vector("%ED%A0%80=x", nil),
        Vector("prefix=%C3", nil),
    ]

    @Test(arguments: vectors)
    func canonicalForm(_ vector: Vector) {
        #expect(Self.canonical(vector.raw) == vector.expected)
    }

    // parse() keeps the decoded names and values in request order.
    @Test func parseKeepsDecodedOrder() throws {
        let parameters = try #require(
            CanonicalQuery.parse(bytes("b=x+y&a&c=%2F")[...]))
        #expect(parameters.map { text($0.name) } == ["b", "a", "c"])
        #expect(parameters.map { text($0.value) } == ["x y", "", "/"])
    }

    // appendEncoded() inserts in order whatever the order of the calls.
    @Test func appendEncodedSorts() {
        var query = CanonicalQuery()
        for name in ["X-Amz-SignedHeaders", "X-Amz-Algorithm", "X-Amz-Date",
                     "X-Amz-Credential", "X-Amz-Expires"]
        {
            query.appendEncoded(name: bytes(name), value: bytes("v"))
        }
        #expect(query.items.map { text($0.name) } == [
            "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
            "X-Amz-Expires", "X-Amz-SignedHeaders",
        ])
    }
}

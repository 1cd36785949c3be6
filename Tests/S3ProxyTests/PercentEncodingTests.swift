// UriEncode and percent-decoding.
//
// Source of the encoding vectors: the UriEncode rules of the AWS S3 API
// reference, "Signature Calculations for the Authorization Header"
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
// unreserved `A-Z a-z 0-9 - . _ ~` kept, every other byte `%XX` with
// uppercase hex, a space is %20 (never `+`), `/` kept in the object key
// name (path) and encoded elsewhere (query).
// Source of the decoding vectors: RFC 3986 section 2.1 (percent-encoding)
// and section 2.4 (decode exactly once), and the WHATWG URL standard's
// application/x-www-form-urlencoded parser (`+` is a space in queries).

import Testing
@testable import S3Proxy

@Suite struct PercentEncodingTests {

    struct EncodeVector: Sendable, CustomTestStringConvertible {
        let input: [UInt8]
        let path: String
        let query: String
        var testDescription: String { "encode \(text(input).debugDescription)" }

        init(_ input: String, path: String, query: String) {
            self.input = bytes(input)
            self.path = path
            self.query = query
        }

        init(raw input: [UInt8], path: String, query: String) {
            self.input = input
            self.path = path
            self.query = query
        }
    }

    static let encodeVectors: [EncodeVector] = [
        // UriEncode: unreserved characters pass through.
        EncodeVector("AZaz09-._~", path: "AZaz09-._~", query: "AZaz09-._~"),
        EncodeVector("", path: "", query: ""),
        // UriEncode: `/` is kept in the object key name only.
        EncodeVector("a/b/", path: "a/b/", query: "a%2Fb%2F"),
        // UriEncode: "The space character is a reserved character and must
        // be encoded as %20 (and not as '+')".
        EncodeVector("a b", path: "a%20b", query: "a%20b"),
        EncodeVector("a+b", path: "a%2Bb", query: "a%2Bb"),
        // RFC 3986 sub-delims that UriEncode does not exempt (JavaScript's
        // encodeURIComponent keeps them; SigV4 does not).
        EncodeVector("!*'()", path: "%21%2A%27%28%29", query: "%21%2A%27%28%29"),
        // sigv4-vectors.md, example 4: `$`.
        EncodeVector("$&=?#%:@,;", path: "%24%26%3D%3F%23%25%3A%40%2C%3B",
                     query: "%24%26%3D%3F%23%25%3A%40%2C%3B"),
        // UriEncode: "Letters in the hexadecimal value must be uppercase".
        EncodeVector(raw: [0x0a, 0x7f, 0xab, 0xff], path: "%0A%7F%AB%FF",
                     query: "%0A%7F%AB%FF"),
        // UTF-8 bytes, each encoded: U+00E9, U+00FC, U+4E2D, U+1F600.
        EncodeVector("é", path: "%C3%A9", query: "%C3%A9"),
        EncodeVector("ü", path: "%C3%BC", query: "%C3%BC"),
        EncodeVector("中", path: "%E4%B8%AD", query: "%E4%B8%AD"),
        EncodeVector("😀", path: "%F0%9F%98%80", query: "%F0%9F%98%80"),
        EncodeVector("%41", path: "%2541", query: "%2541"),
    ]

    @Test(arguments: encodeVectors)
    func encode(_ vector: EncodeVector) {
        var path: [UInt8] = []
        PercentEncoding.encode(vector.input, keepSlash: true, into: &path)
        #expect(text(path) == vector.path)
        var query: [UInt8] = []
        PercentEncoding.encode(vector.input, keepSlash: false, into: &query)
        #expect(text(query) == vector.query)
        #expect(path.count <= PercentEncoding.encodedBound(vector.input.count))
        #expect(query.count <= PercentEncoding.encodedBound(vector.input.count))
    }

    // Encoding appends: what is already in the buffer stays.
    @Test func encodeAppends() {
        var out = bytes("/bkt/")
        PercentEncoding.encode(bytes("a b"), keepSlash: true, into: &out)
        #expect(text(out) == "/bkt/a%20b")
    }

    // Every byte value: unreserved bytes pass, all others are %XX.
    @Test func everyByte() {
        for value in 0...255 {
            let byte = UInt8(value)
            var out: [UInt8] = []
            PercentEncoding.encode([byte], keepSlash: false, into: &out)
            let unreserved = bytes(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
            ).contains(byte)
            #expect(PercentEncoding.isUnreserved(byte) == unreserved)
            if unreserved {
                #expect(out == [byte])
            } else {
                let expected = "%" + String(value, radix: 16, uppercase: true)
                    .leftPadded(to: 2)
                #expect(text(out) == expected)
            }
        }
    }

    struct DecodeVector: Sendable, CustomTestStringConvertible {
        let input: String
        let plusIsSpace: Bool
        /// nil: malformed.
        let expected: [UInt8]?
        var testDescription: String {
            "decode \(input.debugDescription) plusIsSpace=\(plusIsSpace)"
        }

        init(_ input: String, plusIsSpace: Bool, _ expected: String?) {
            self.input = input
            self.plusIsSpace = plusIsSpace
            self.expected = expected.map(bytes)
        }

        init(_ input: String, plusIsSpace: Bool, raw expected: [UInt8]) {
            self.input = input
            self.plusIsSpace = plusIsSpace
            self.expected = expected
        }
    }

    static let decodeVectors: [DecodeVector] = [
        // RFC 3986 2.1: escapes in either case decode to their byte.
        DecodeVector("a%20b", plusIsSpace: false, "a b"),
        DecodeVector("%7e%7E", plusIsSpace: false, "~~"),
        DecodeVector("plain", plusIsSpace: false, "plain"),
        DecodeVector("", plusIsSpace: false, ""),
        // RFC 3986 2.4: decode once only.
        DecodeVector("%2541", plusIsSpace: false, "%41"),
        DecodeVector("%252F", plusIsSpace: true, "%2F"),
        // WHATWG urlencoded parser: `+` is a space in a query only; an
        // encoded plus stays a plus.
        DecodeVector("a+b", plusIsSpace: false, "a+b"),
        DecodeVector("a+b", plusIsSpace: true, "a b"),
        DecodeVector("a%2Bb", plusIsSpace: true, "a+b"),
        DecodeVector("a%2Bb", plusIsSpace: false, "a+b"),
        // Bytes, not characters: %C3%A9 is é, %FF is the byte 0xFF
        // (UTF-8 validity is checked elsewhere).
        DecodeVector("caf%C3%A9", plusIsSpace: false, "café"),
        DecodeVector("%FF%00", plusIsSpace: false, raw: [0xff, 0x00]),
        // Malformed escapes (RFC 3986 2.1: `%` HEXDIG HEXDIG).
        DecodeVector("%", plusIsSpace: false, nil),
        DecodeVector("%4", plusIsSpace: false, nil),
        DecodeVector("a%4", plusIsSpace: true, nil),
        DecodeVector("%zz", plusIsSpace: false, nil),
        DecodeVector("%g0", plusIsSpace: false, nil),
        DecodeVector("%0g", plusIsSpace: false, nil),
        DecodeVector("ok%", plusIsSpace: true, nil),
        DecodeVector("%%41", plusIsSpace: false, nil),
    ]

    @Test(arguments: decodeVectors)
    func decode(_ vector: DecodeVector) {
        #expect(Plain.percentDecoded(bytes(vector.input)[...],
                                       plusIsSpace: vector.plusIsSpace)
            == vector.expected)
    }

    // Decoding a slice that does not start at index 0 (the router passes
    // slices of the request line).
    @Test func decodeSliceWithOffset() {
        let line = bytes("/bkt/a%20b%2")
        #expect(Plain.percentDecoded(line[5..<10], plusIsSpace: false)
            == bytes("a b"))
        #expect(Plain.percentDecoded(line[5...], plusIsSpace: false) == nil)
    }

    // MARK: Property

    // Property: for random byte strings, decode(encode(x)) == x with either
    // keepSlash (and either plusIsSpace, since `+` is always encoded), and
    // the encoded form holds only unreserved bytes, `%` followed by two
    // uppercase hex digits, and `/` when keepSlash.  Seeded, so a failure
    // names a reproducible seed.
    @Test(arguments: [UInt64(1), 2, 3, 0x5EED, 0xC0FFEE])
    func roundTrip(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for _ in 0..<500 {
            let count = Int.random(in: 0...48, using: &random)
            // Bias towards the interesting bytes some of the time.
            let interesting = bytes("/%+ ~-._!*'()") + [0x00, 0x7f, 0x80, 0xff]
            let input: [UInt8] = (0..<count).map { _ in
                Bool.random(using: &random)
                    ? interesting.randomElement(using: &random)!
                    : UInt8.random(in: 0...255, using: &random)
            }
            for keepSlash in [false, true] {
                var encoded: [UInt8] = []
                PercentEncoding.encode(input, keepSlash: keepSlash, into: &encoded)
                #expect(encoded.count <= PercentEncoding.encodedBound(input.count))
                #expect(Self.isWellFormed(encoded, keepSlash: keepSlash),
                        "seed \(seed): \(text(encoded))")
                for plusIsSpace in [false, true] {
                    #expect(Plain.percentDecoded(encoded[...], plusIsSpace: plusIsSpace)
                        == input, "seed \(seed), input \(input)")
                }
            }
        }
    }

    static func isWellFormed(_ encoded: [UInt8], keepSlash: Bool) -> Bool {
        let upperHex = bytes("0123456789ABCDEF")
        var i = 0
        while i < encoded.count {
            let byte = encoded[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < encoded.count,
                      upperHex.contains(encoded[i + 1]),
                      upperHex.contains(encoded[i + 2])
                else { return false }
                i += 3
            } else if PercentEncoding.isUnreserved(byte)
                || (keepSlash && byte == UInt8(ascii: "/"))
            {
                i += 1
            } else {
                return false
            }
        }
        return true
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

// UTF-8 validation of decoded keys and query parameters.
//
// Source of the vectors: RFC 3629 section 3 (the UTF-8 byte-sequence
// syntax: no overlong forms, no surrogates D800-DFFF, nothing past
// U+10FFFF) and section 10 (security considerations: overlong `C0 AF` for
// `/`), and Markus Kuhn's UTF-8 decoder stress test
// (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt), sections
// 3 (malformed sequences), 4 (overlong) and 5 (surrogates).

import Testing
@testable import S3Proxy

@Suite struct UTF8ValidationTests {

    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let hex: String
        var testDescription: String { "\(name) [\(hex)]" }
        init(_ name: String, _ hex: String) {
            self.name = name
            self.hex = hex
        }
    }

    static let valid: [Vector] = [
        // RFC 3629: the empty string and ASCII.
        Vector("empty", ""),
        Vector("ASCII", "6B65792F612E747874"),
        // RFC 3629 section 7 examples and Kuhn 2.1 (first of each length).
        Vector("U+00FC ü (2 bytes)", "C3BC"),
        Vector("U+65E5 日 (3 bytes)", "E697A5"),
        Vector("U+4E2D 中 (3 bytes)", "E4B8AD"),
        Vector("U+1F600 emoji (4 bytes)", "F09F9880"),
        // Kuhn 2.2 / 2.3: boundaries.
        Vector("U+0080", "C280"),
        Vector("U+07FF", "DFBF"),
        Vector("U+0800", "E0A080"),
        Vector("U+D7FF (last before surrogates)", "ED9FBF"),
        Vector("U+E000 (first after surrogates)", "EE8080"),
        Vector("U+FFFD", "EFBFBD"),
        Vector("U+10000", "F0908080"),
        Vector("U+10FFFF (last)", "F48FBFBF"),
        Vector("NUL", "00"),
    ]

    static let invalid: [Vector] = [
        // RFC 3629 section 10, Kuhn 4.1: overlong `/`.
        Vector("overlong / (2 bytes)", "C0AF"),
        Vector("overlong / (3 bytes)", "E080AF"),
        Vector("overlong / (4 bytes)", "F08080AF"),
        Vector("overlong NUL", "C080"),
        Vector("overlong U+07FF in 3 bytes", "E09FBF"),
        // RFC 3629 section 3, Kuhn 5.1: UTF-16 surrogates.
        Vector("surrogate U+D800", "EDA080"),
        Vector("surrogate U+DFFF", "EDBFBF"),
        // RFC 3629 section 3: past U+10FFFF.
        Vector("U+110000", "F4908080"),
        Vector("F5 lead byte", "F5808080"),
        Vector("FF byte", "FF"),
        // Kuhn 3.1: lone continuation bytes.
        Vector("lone 80", "80"),
        Vector("lone BF after ASCII", "61BF"),
        // Kuhn 3.3: sequences missing their last byte.
        Vector("truncated 2-byte", "C3"),
        Vector("truncated 3-byte", "E4B8"),
        Vector("truncated 4-byte", "F09F98"),
        Vector("truncated then ASCII", "C361"),
        // Kuhn 3.2: a lead byte followed by a space.
        Vector("lead then space", "E020"),
    ]

    @Test(arguments: valid)
    func accepts(_ vector: Vector) {
        #expect(UTF8Validation.isValid(hexBytes(vector.hex)))
    }

    @Test(arguments: invalid)
    func rejects(_ vector: Vector) {
        #expect(!UTF8Validation.isValid(hexBytes(vector.hex)))
    }
}

// The JSON of the EC2 instance metadata service and of the container
// endpoint (RFC 8259): one object whose members AccessKeyId,
// SecretAccessKey, Token and Expiration are strings.
//
//   IMDS:      {"Code": "Success", "LastUpdated": ..., "Type": "AWS-HMAC",
//               "AccessKeyId": ..., "SecretAccessKey": ..., "Token": ...,
//               "Expiration": "2026-12-01T09:00:00Z"}
//   container: {"AccessKeyId": ..., "SecretAccessKey": ..., "Token": ...,
//               "Expiration": ..., "RoleArn": ...}
//
// A reader of just that: the top-level object's string members are
// decoded (escapes included), every other value is skipped.

struct CredentialsJSON {
    var members: [([UInt8], [UInt8])] = []

    /// nil for text that is not one JSON object.
    init?(_ text: [UInt8]) {
        var p = JSONScanner(text)
        p.space()
        guard p.take(UInt8(ascii: "{")) else { return nil }
        p.space()
        if p.take(UInt8(ascii: "}")) {
            guard p.atEndAfterSpace() else { return nil }
            return
        }
        while true {
            p.space()
            guard let name = p.string() else { return nil }
            p.space()
            guard p.take(UInt8(ascii: ":")) else { return nil }
            p.space()
            if p.peek == UInt8(ascii: "\"") {
                guard let value = p.string() else { return nil }
                members.append((name, value))
            } else {
                guard p.skipValue(depth: 0) else { return nil }
            }
            p.space()
            if p.take(UInt8(ascii: ",")) { continue }
            guard p.take(UInt8(ascii: "}")), p.atEndAfterSpace() else { return nil }
            return
        }
    }

    func string(_ name: StaticString) -> [UInt8]? {
        let key = name.withUTF8Buffer { Array($0) }
        return members.first { $0.0 == key }?.1
    }
}

struct JSONScanner {
    let text: [UInt8]
    var i = 0

    init(_ text: [UInt8]) { self.text = text }

    var peek: UInt8? { i < text.count ? text[i] : nil }

    mutating func space() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d { i += 1 }
    }

    mutating func take(_ c: UInt8) -> Bool {
        guard peek == c else { return false }
        i += 1
        return true
    }

    mutating func atEndAfterSpace() -> Bool {
        space()
        return i == text.count
    }

    /// A string, decoded to UTF-8.
    mutating func string() -> [UInt8]? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        var out: [UInt8] = []
        while let c = peek {
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                guard let e = peek else { return nil }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if scalar >= 0xd800 && scalar < 0xdc00 {
                        guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")),
                              let low = hex4(), low >= 0xdc00 && low < 0xe000
                        else { return nil }
                        scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                    } else if scalar >= 0xdc00 && scalar < 0xe000 {
                        return nil
                    }
                    utf8(scalar, into: &out)
                default:
                    return nil
                }
            default:
                guard c >= 0x20 else { return nil }
                out.append(c)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= text.count else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let h = Hex.value(text[i]) else { return nil }
            v = v << 4 | UInt32(h)
            i += 1
        }
        return v
    }

    private func utf8(_ v: UInt32, into out: inout [UInt8]) {
        if v < 0x80 {
            out.append(UInt8(v))
        } else if v < 0x800 {
            out.append(UInt8(0xc0 | v >> 6))
            out.append(UInt8(0x80 | v & 0x3f))
        } else if v < 0x10000 {
            out.append(UInt8(0xe0 | v >> 12))
            out.append(UInt8(0x80 | (v >> 6) & 0x3f))
            out.append(UInt8(0x80 | v & 0x3f))
        } else {
            out.append(UInt8(0xf0 | v >> 18))
            out.append(UInt8(0x80 | (v >> 12) & 0x3f))
            out.append(UInt8(0x80 | (v >> 6) & 0x3f))
            out.append(UInt8(0x80 | v & 0x3f))
        }
    }

    /// Skips a number, literal, array or object (bounded nesting).
    mutating func skipValue(depth: Int) -> Bool {
        guard depth < 32, let c = peek else { return false }
        if c == UInt8(ascii: "\"") { return string() != nil }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            i += 1
            space()
            if take(close) { return true }
            while true {
                space()
                if c == UInt8(ascii: "{") {
                    guard string() != nil else { return false }
                    space()
                    guard take(UInt8(ascii: ":")) else { return false }
                    space()
                }
                guard skipValue(depth: depth + 1) else { return false }
                space()
                if take(UInt8(ascii: ",")) { continue }
                return take(close)
            }
        }
        let start = i
        while let d = peek, d == UInt8(ascii: "-") || d == UInt8(ascii: "+")
            || d == UInt8(ascii: ".") || (d >= 0x30 && d <= 0x39)
            || (d >= 0x61 && d <= 0x7a) || d == UInt8(ascii: "E")
        {
            i += 1
        }
        let word = Array(text[start..<i])
        if word == Array("true".utf8) || word == Array("false".utf8)
            || word == Array("null".utf8)
        {
            return true
        }
        guard let first = word.first, first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39)
        else { return false }
        return true
    }
}

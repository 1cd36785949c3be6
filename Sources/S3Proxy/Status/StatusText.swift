// The status page's text, grown as it is written (the page is copied once
// into memory C gives, at its size): numbers, and strings escaped for a
// JSON string or a Prometheus label value.

struct StatusText {
    private(set) var bytes: [UInt8] = []

    mutating func write(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ b: [UInt8]) {
        bytes.append(contentsOf: b)
    }

    mutating func write(_ value: UInt64) {
        var digits: [UInt8] = []
        var v = value
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        } while v > 0
        bytes.append(contentsOf: digits.reversed())
    }

    mutating func write(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        write(value.magnitude)
    }

    /// `s` between double quotes, as JSON writes a string: quotes,
    /// backslashes and control characters escaped; bytes that are not
    /// UTF-8 become '?'.
    mutating func writeJSONString(_ s: UnsafeBufferPointer<UInt8>) {
        let utf8 = UTF8Validation.isValid(s)
        bytes.append(UInt8(ascii: "\""))
        for byte in s {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20, 0x7f:
                write("\\u00")
                bytes.append(StatusText.hex(byte >> 4))
                bytes.append(StatusText.hex(byte & 0xf))
            case 0x80...:
                bytes.append(utf8 ? byte : UInt8(ascii: "?"))
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `s` as a Prometheus label value, quotes included: backslash, double
    /// quote and line feed escaped; other control characters and bytes
    /// that are not UTF-8 become '?'.
    mutating func writeLabel(_ s: UnsafeBufferPointer<UInt8>) {
        let utf8 = UTF8Validation.isValid(s)
        bytes.append(UInt8(ascii: "\""))
        for byte in s {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0x0a:
                write("\\n")
            case 0..<0x20, 0x7f:
                bytes.append(UInt8(ascii: "?"))
            case 0x80...:
                bytes.append(utf8 ? byte : UInt8(ascii: "?"))
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func writeJSONString(_ s: StaticString) {
        s.withUTF8Buffer { writeJSONString($0) }
    }

    mutating func writeJSONString(_ s: [UInt8]) {
        s.withUnsafeBufferPointer { writeJSONString($0) }
    }

    mutating func writeLabel(_ s: [UInt8]) {
        s.withUnsafeBufferPointer { writeLabel($0) }
    }

    private static func hex(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}

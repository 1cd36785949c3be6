// Hexadecimal digits, both ways.

enum Hex {
    static let upper: [UInt8] = Array("0123456789ABCDEF".utf8)
    static let lower: [UInt8] = Array("0123456789abcdef".utf8)

    /// The value of one hex digit, either case; nil for any other byte.
    @inline(__always)
    static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"):
            return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"):
            return byte &- UInt8(ascii: "A") &+ 10
        default:
            return nil
        }
    }

    /// Appends the lowercase hex form of `bytes` (as SigV4 signatures and
    /// hashes are written) to `out`.
    static func appendLower<C: Collection<UInt8>>(
        _ bytes: C, to out: inout [UInt8]
    ) {
        for byte in bytes {
            out.append(lower[Int(byte >> 4)])
            out.append(lower[Int(byte & 0x0f)])
        }
    }
}

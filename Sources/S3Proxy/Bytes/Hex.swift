// Hexadecimal digits, both ways.

enum Hex {
    /// The uppercase digit of `nibble` (0...15), as UriEncode writes it.
    @inline(__always)
    static func upper(_ nibble: UInt8) -> UInt8 {
        nibble &+ (nibble < 10 ? UInt8(ascii: "0") : UInt8(ascii: "A") &- 10)
    }

    /// The lowercase digit of `nibble` (0...15), as hashes are written.
    @inline(__always)
    static func lower(_ nibble: UInt8) -> UInt8 {
        nibble &+ (nibble < 10 ? UInt8(ascii: "0") : UInt8(ascii: "a") &- 10)
    }

    /// Writes the lowercase hex of `bytes` at `out` (twice as many bytes).
    static func writeLower(
        _ bytes: UnsafeRawBufferPointer, to out: UnsafeMutablePointer<UInt8>
    ) {
        var at = out
        for byte in bytes {
            at[0] = lower(byte >> 4)
            at[1] = lower(byte & 0x0f)
            at += 2
        }
    }

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
            out.append(lower(byte >> 4))
            out.append(lower(byte & 0x0f))
        }
    }
}

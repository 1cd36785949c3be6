// Percent-encoding as SigV4 defines it, and percent-decoding of what
// clients send.
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// ("UriEncode"): every byte except the unreserved characters
// `A-Z a-z 0-9 - . _ ~` is written as `%XX` with uppercase hex digits; in a
// path `/` is kept, in a query it is encoded too.

enum PercentEncoding {
    /// Whether `byte` passes through UriEncode unchanged.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        // One bit per byte value below 128: `-` `.` `0-9` (low word),
        // `A-Z` `_` `a-z` `~` (high word).
        let low: UInt64 = 0x03FF_6000_0000_0000
        let high: UInt64 = 0x47FF_FFFE_87FF_FFFE
        switch byte {
        case 0..<64: return low >> UInt64(byte) & 1 == 1
        case 64..<128: return high >> UInt64(byte - 64) & 1 == 1
        default: return false
        }
    }

    /// Appends UriEncode(`bytes`) to `out`; `/` is kept when `keepSlash`.
    static func encode<C: Collection<UInt8>>(
        _ bytes: C, keepSlash: Bool, into out: inout [UInt8]
    ) {
        for byte in bytes {
            if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(Hex.upper(byte >> 4))
                out.append(Hex.upper(byte & 0x0f))
            }
        }
    }

    /// The largest number of bytes that encoding `count` bytes produces.
    @inline(__always)
    static func encodedBound(_ count: Int) -> Int {
        count &* 3
    }
}

// ASCII case folding, for the names that compare case-insensitively: host
// names, User-Agent substrings, `X-Amz-` prefixes.

enum ASCII {
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    static func lowercased<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        bytes.map(lowercased)
    }

    /// Whether `needle` (non-empty) occurs in `haystack`.  (The standard
    /// library's `firstRange(of:)` lives in _StringProcessing, which the
    /// module does not link.)
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count)
            where haystack[start] == needle[0]
        {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) {
                return true
            }
        }
        return false
    }
}

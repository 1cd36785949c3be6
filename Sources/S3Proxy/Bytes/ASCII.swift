// ASCII case folding, for the names that compare case-insensitively: host
// names, User-Agent substrings, `X-Amz-` prefixes, authorization schemes.

enum ASCII {
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    static func lowercased<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        bytes.map(lowercased)
    }

    /// Whether `needle` (non-empty) occurs in `haystack`, ignoring ASCII
    /// case, without allocating.  (The standard library's
    /// `firstRange(of:)` lives in _StringProcessing, which the module does
    /// not link.)
    static func containsIgnoringCase(
        _ haystack: UnsafeBufferPointer<UInt8>, _ needle: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return false }
        var start = 0
        while start + needle.count <= haystack.count {
            var offset = 0
            while offset < needle.count
                && lowercased(haystack[start + offset]) == lowercased(needle[offset])
            {
                offset += 1
            }
            if offset == needle.count { return true }
            start += 1
        }
        return false
    }

    /// Whether `bytes` start with `prefix`, ignoring ASCII case.
    static func hasPrefixIgnoringCase(
        _ bytes: UnsafeBufferPointer<UInt8>, _ prefix: StaticString
    ) -> Bool {
        prefix.withUTF8Buffer { prefix in
            guard prefix.count <= bytes.count else { return false }
            for offset in 0..<prefix.count
                where lowercased(bytes[offset]) != lowercased(prefix[offset])
            {
                return false
            }
            return true
        }
    }

    /// Whether `bytes` are `word`, ignoring ASCII case.
    static func equalsIgnoringCase(
        _ bytes: UnsafeBufferPointer<UInt8>, _ word: StaticString
    ) -> Bool {
        bytes.count == word.utf8CodeUnitCount && hasPrefixIgnoringCase(bytes, word)
    }
}

// The core's one set of ASCII helpers: byte classes, and case folding for
// the names that compare case-insensitively (host names, User-Agent
// substrings, `X-Amz-` prefixes, authorization schemes, HTTP header
// names).

enum ASCII {
    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    @inline(__always)
    static func isLowercaseLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
    }

    @inline(__always)
    static func isUppercaseLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
    }

    /// `a-z`, `0-9`.
    @inline(__always)
    static func isLowercaseAlphanumeric(_ byte: UInt8) -> Bool {
        isLowercaseLetter(byte) || isDigit(byte)
    }

    /// `A-Z`, `a-z`, `0-9`.
    @inline(__always)
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowercaseLetter(byte) || isUppercaseLetter(byte) || isDigit(byte)
    }

    /// Printable ASCII without the space.
    @inline(__always)
    static func isVisible(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7f
    }

    /// Space, tab, line feed, carriage return.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d
    }

    /// The value of 1 to `maxDigits` decimal digits, or nil.
    static func decimal<C: Collection<UInt8>>(_ digits: C, maxDigits: Int = 9) -> Int? {
        guard !digits.isEmpty, digits.count <= maxDigits else { return nil }
        var value = 0
        for byte in digits {
            guard isDigit(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        isUppercaseLetter(byte) ? byte | 0x20 : byte
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

    /// Whether `a` and `b` are the same bytes, ignoring ASCII case.
    static func equalsIgnoringCase(
        _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count where lowercased(a[index]) != lowercased(b[index]) {
            return false
        }
        return true
    }

    /// Without white space at either end.
    static func trimmed(_ s: ArraySlice<UInt8>) -> [UInt8] {
        var slice = s
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return Array(slice)
    }

    /// Visible ASCII and spaces only: safe in a header line or a log.
    static func isPrintable(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in s where byte < 0x20 || byte > 0x7e { return false }
        return true
    }
}

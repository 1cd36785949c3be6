// S3 object keys and listing parameters are UTF-8.  A decoded path or
// query that is not valid UTF-8 (including overlong forms such as
// `%C0%AF`, surrogates and code points past U+10FFFF) is refused.

enum UTF8Validation {
    static func isValid<C: Collection<UInt8>>(_ bytes: C) -> Bool {
        // ASCII, the common case, is valid as it stands.
        let ascii = bytes.withContiguousStorageIfAvailable { buffer -> Bool in
            var index = 0
            if let base = UnsafeRawPointer(buffer.baseAddress) {
                while index + 8 <= buffer.count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { return false }
                    index += 8
                }
            }
            while index < buffer.count {
                if buffer[index] >= 0x80 { return false }
                index += 1
            }
            return true
        }
        if ascii == true { return true }

        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue:
                continue
            case .emptyInput:
                return true
            case .error:
                return false
            }
        }
    }
}

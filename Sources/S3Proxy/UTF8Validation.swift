// S3 object keys and listing parameters are UTF-8.  A decoded path or
// query that is not valid UTF-8 (including overlong forms such as
// `%C0%AF`, surrogates and code points past U+10FFFF) is refused.

enum UTF8Validation {
    static func isValid<C: Collection<UInt8>>(_ bytes: C) -> Bool {
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

// s3_proxy_prefix: the key prefix that a location maps its mount to.
// With `users/alice/`, the client's `/notes.txt` is the key
// `users/alice/notes.txt`, and nothing the client sends reaches a key or
// lists a prefix that does not begin with it.
//
// A key prefix is a folder of the bucket: non-empty UTF-8 of at most
// S3P_KEY_MAX bytes that ends with `/` (so that `users/alice` cannot
// reach `users/alice-2/`), does not begin with `/`, holds no control
// byte, and no empty, `.` or `..` segment (an empty segment is what a
// variable that evaluated empty leaves, as in `users//`).

internal import CShim

enum KeyPrefix {
    enum Problem {
        case empty, tooLong, notUTF8, leadingSlash, noTrailingSlash, controlByte,
             badSegment
    }

    /// What is wrong with `prefix` as a key prefix, or nil.
    static func check<C: Collection<UInt8>>(_ prefix: C) -> Problem? {
        guard let first = prefix.first else { return .empty }
        if prefix.count > Rules.maxKeyLength { return .tooLong }
        if first == UInt8(ascii: "/") { return .leadingSlash }
        var length = 0              // of the segment being read
        var dots = 0                // of its bytes, how many are '.'
        var last = first
        for byte in prefix {
            last = byte
            if byte < 0x20 || byte == 0x7f { return .controlByte }
            if byte == UInt8(ascii: "/") {
                if length == 0 || (dots == length && length <= 2) { return .badSegment }
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        if last != UInt8(ascii: "/") { return .noTrailingSlash }
        if !UTF8Validation.isValid(prefix) { return .notUTF8 }
        return nil
    }

    /// Why a constant prefix cannot be one, for nginx -t; nil if it can.
    static func problem(_ prefix: [UInt8]) -> String? {
        switch check(prefix) {
        case nil: return nil
        case .empty: return "is empty"
        case .tooLong: return "is longer than 1024 bytes"
        case .notUTF8: return "is not UTF-8"
        case .leadingSlash: return "must not begin with \"/\""
        case .noTrailingSlash: return "must end with \"/\""
        case .controlByte: return "holds a control character"
        case .badSegment: return "holds an empty, \".\" or \"..\" segment"
        }
    }
}

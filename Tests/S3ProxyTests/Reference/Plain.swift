// Reference implementation (tests only): the byte rules the reference
// router and signer need, written plainly from their specifications and
// sharing no code with Sources/S3Proxy, so that a bug in production's
// version shows in the differential tests and the fuzzer.

enum Plain {
    // MARK: Hex and UriEncode
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
    // ("UriEncode"): A-Z a-z 0-9 - . _ ~ as they are, `/` as it is in an
    // object key name, every other byte as %XY in uppercase hex.

    static let lowerHexDigits = Array("0123456789abcdef".utf8)
    static let upperHexDigits = Array("0123456789ABCDEF".utf8)

    static func lowerHex<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        bytes.flatMap { [lowerHexDigits[Int($0 >> 4)], lowerHexDigits[Int($0 & 15)]] }
    }

    /// The value of one hex digit, either case.
    static func hexValue(_ byte: UInt8) -> UInt8? {
        if let i = lowerHexDigits.firstIndex(of: byte) { return UInt8(i) }
        if let i = upperHexDigits.firstIndex(of: byte) { return UInt8(i) }
        return nil
    }

    static let unreserved = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    static func uriEncoded<C: Collection<UInt8>>(_ bytes: C, keepSlash: Bool) -> [UInt8] {
        var out: [UInt8] = []
        for byte in bytes {
            if unreserved.contains(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), upperHexDigits[Int(byte >> 4)],
                        upperHexDigits[Int(byte & 15)]]
            }
        }
        return out
    }

    /// Decodes `%XX` escapes once; with `plusIsSpace` (query strings, as
    /// HTML forms and S3 read them) a raw `+` is a space.  nil for a
    /// malformed escape (`%`, `%4`, `%zz`).
    static func percentDecoded(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) -> [UInt8]? {
        let bytes = Array(bytes)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let high = hexValue(bytes[i + 1]),
                      let low = hexValue(bytes[i + 2])
                else {
                    return nil
                }
                out.append(high * 16 + low)
                i += 3
            } else if plusIsSpace && bytes[i] == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
                i += 1
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    // MARK: Text

    /// Valid UTF-8, as the standard library decodes it (no overlong forms,
    /// surrogates, or code points past U+10FFFF).
    static func isUTF8(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    static func lowercased<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
    }

    /// Whether `needle` occurs in `haystack`, ignoring ASCII case.
    static func containsIgnoringCase<C: Collection<UInt8>>(_ haystack: C, _ needle: [UInt8])
        -> Bool
    {
        let hay = lowercased(haystack)
        let word = lowercased(needle)
        guard !word.isEmpty, word.count <= hay.count else { return false }
        return (0...(hay.count - word.count)).contains { Array(hay[$0..<($0 + word.count)]) == word }
    }

    // MARK: Buckets and keys

    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html:
    /// 3 to 63 characters of letters, digits, dots, hyphens (and, for
    /// legacy us-east-1 buckets, uppercase letters and underscores),
    /// beginning and ending with a letter or digit.
    static func isBucketName(_ name: [UInt8]) -> Bool {
        let alphanumerics = Array(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        guard name.count >= 3, name.count <= 63,
              alphanumerics.contains(name[0]), alphanumerics.contains(name[name.count - 1])
        else {
            return false
        }
        return name.allSatisfy { alphanumerics.contains($0) || Array("._-".utf8).contains($0) }
    }

    /// Whether resolving the key's dot segments (RFC 3986, 5.2.4) keeps it
    /// below the bucket: walk its segments with a stack, `..` popping one,
    /// `.` and empty segments (which nginx's merge_slashes would drop)
    /// staying in place.
    static func staysInBucket(_ key: [UInt8]) -> Bool {
        var stack: [ArraySlice<UInt8>] = []
        for segment in key.split(separator: UInt8(ascii: "/"),
                                 omittingEmptySubsequences: true)
        {
            if segment.elementsEqual("..".utf8) {
                if stack.isEmpty { return false }
                stack.removeLast()
            } else if !segment.elementsEqual(".".utf8) {
                stack.append(segment)
            }
        }
        return true
    }

    // MARK: Parameters

    /// Why an allowed-parameter name cannot be allowed, or nil: it must be
    /// printable ASCII without spaces, and not one of SigV4's own
    /// (`X-Amz-*`, any case).
    static func parameterProblem(_ name: [UInt8]) -> String? {
        if name.isEmpty { return "is empty" }
        if lowercased(name).starts(with: "x-amz-".utf8) {
            return "is an authentication parameter"
        }
        if !name.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) {
            return "holds a character that is not allowed"
        }
        return nil
    }

    // MARK: S3's errors
    // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html

    /// The XML error document S3 clients get for a refusal with `status`.
    static func s3ErrorDocument(status: Int32) -> [UInt8] {
        let (code, message): (String, String)
        switch status {
        case 400: (code, message) = ("InvalidRequest", "The request is not valid.")
        case 404: (code, message) = ("NoSuchKey", "The specified key does not exist.")
        case 405: (code, message) = ("MethodNotAllowed",
                                     "The specified method is not allowed against this resource.")
        case 501: (code, message) = ("NotImplemented", "A query parameter you provided "
                                     + "implies functionality that is not implemented.")
        default: (code, message) = ("AccessDenied", "Access Denied")
        }
        return Array(("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code
                      + "</Code><Message>" + message + "</Message></Error>").utf8)
    }

    /// RFC 6266's Content-Disposition of an attachment named `name`:
    /// `attachment; filename="<fallback>"`, and when the fallback had to
    /// change a character, `; filename*=UTF-8''<RFC 5987 pct-encoded>`.
    /// The fallback keeps printable ASCII but `"`, `\`, `%`, `;`.
    static func attachment(_ name: [UInt8]) -> [UInt8] {
        if name.isEmpty { return Array("attachment; filename=\"download\"".utf8) }
        var fallback: [UInt8] = []
        for scalar in String(decoding: name, as: UTF8.self).unicodeScalars {
            let kept = scalar.value >= 0x20 && scalar.value < 0x7f
                && !"\"\\%;".unicodeScalars.contains(scalar)
            fallback.append(kept ? UInt8(scalar.value) : UInt8(ascii: "_"))
        }
        var out = Array("attachment; filename=\"".utf8) + fallback + [UInt8(ascii: "\"")]
        if fallback == name { return out }
        out += Array("; filename*=UTF-8''".utf8)
        let attrChars = Array("!#$&+-.^_`|~".utf8)
        for byte in name {
            let isAlnum = (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte)
                || (0x61...0x7a).contains(byte)
            if isAlnum || attrChars.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), upperHexDigits[Int(byte >> 4)],
                        upperHexDigits[Int(byte & 15)]]
            }
        }
        return out
    }
}

// S3 bucket names, as path-style requests carry them in their first
// segment.
//
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
// Current names are 3-63 characters of lowercase letters, digits, dots and
// hyphens, beginning and ending with a letter or digit.  Legacy buckets in
// us-east-1 may also hold uppercase letters and underscores, so those are
// accepted too; anything else (a decoded `/`, `%`, spaces, control bytes)
// is not a bucket.

internal import CShim

enum BucketName {
    /// Why `name` is not a bucket name, or nil.
    static func problem(_ name: [UInt8]) -> String? {
        isValid(name) ? nil : "is not a valid bucket name"
    }

    static func isValid<C: Collection<UInt8>>(_ name: C) -> Bool {
        guard (3...63).contains(name.count),
              let first = name.first, ASCII.isAlphanumeric(first)
        else {
            return false
        }
        var last = first
        for byte in name {
            guard ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            else {
                return false
            }
            last = byte
        }
        return ASCII.isAlphanumeric(last)
    }

    /// Why `name` cannot lead the host name of a virtual-hosted request
    /// to these endpoints, or nil: a DNS name is lowercase letters, digits
    /// and hyphens in labels separated by single dots, and a dot would
    /// break the certificate of an https endpoint (`*.<host>` covers one
    /// label only).
    static func hostProblem<C: Collection<UInt8>>(_ name: C, _ signing: s3p_signing_t)
        -> String?
    {
        var previous = UInt8(ascii: ".")
        for byte in name {
            let lower = ASCII.isLowercaseAlphanumeric(byte)
            if byte == UInt8(ascii: ".") {
                if isHTTPS(signing.scheme) || isHTTPS(signing.external_scheme) {
                    return "holds a dot, which https endpoints cannot take "
                        + "in virtual-hosted addressing"
                }
                if previous == UInt8(ascii: ".") || previous == UInt8(ascii: "-") {
                    return "is not a DNS name, as virtual-hosted addressing needs"
                }
            } else if byte == UInt8(ascii: "-") {
                if previous == UInt8(ascii: ".") {
                    return "is not a DNS name, as virtual-hosted addressing needs"
                }
            } else if !lower {
                return "holds uppercase letters or underscores, which "
                    + "virtual-hosted addressing cannot take"
            }
            previous = byte
        }
        return isValid(name) ? nil : "is not a valid bucket name"
    }

    private static func isHTTPS(_ scheme: s3p_str_t) -> Bool {
        let https: StaticString = "https"
        return https.withUTF8Buffer { Bytes.view(scheme).elementsEqual($0) }
    }
}

// S3 bucket names, as path-style requests carry them in their first
// segment, and as the configuration names them.
//
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
// Names are 3-63 characters of lowercase letters, digits, dots and
// hyphens, beginning and ending with a letter or digit, without two
// adjacent periods, not formatted as an IP address, without the prefixes
// `xn--`, `sthree-` and `amzn-s3-demo-`, and without the suffixes
// `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3` and `--table-s3` (access point
// aliases, Object Lambda, Multi-Region Access Points, directory and
// table buckets).  The configuration (s3_proxy_bucket, s3_proxy_buckets,
// S3_PROXY_BUCKETS) is held to these rules: `nginx -t` names the rule a
// name breaks; so is a bucket that s3_proxy_bucket takes from variables,
// per request.  A request's path is held to the older, looser form
// (isValid): legacy buckets in us-east-1 may also hold uppercase letters
// and underscores, and S3 answers for a name it does not have; anything
// else (a decoded `/`, `%`, spaces, control bytes) is not a bucket.

internal import CShim

enum BucketName {
    /// Why `name` is not a bucket name S3 allows, or nil: "is not a valid
    /// bucket name: " and the rule it breaks.
    static func problem<C: BidirectionalCollection<UInt8>>(_ name: C) -> String? {
        rule(name).map { "is not a valid bucket name: " + $0 }
    }

    private static let reservedPrefixes = ["xn--", "sthree-", "amzn-s3-demo-"]
    private static let reservedSuffixes = ["-s3alias", "--ol-s3", ".mrap", "--x-s3",
                                           "--table-s3"]

    /// The naming rule `name` breaks, or nil.
    static func rule<C: BidirectionalCollection<UInt8>>(_ name: C) -> String? {
        guard (3...63).contains(name.count) else {
            return "it must be 3 to 63 characters long"
        }
        for byte in name where !(ASCII.isLowercaseAlphanumeric(byte)
                                 || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-"))
        {
            return ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: "_")
                ? "it holds uppercase letters or underscores"
                : "it holds a character other than lowercase letters, digits, "
                    + "dots and hyphens"
        }
        guard let first = name.first, let last = name.last,
              ASCII.isLowercaseAlphanumeric(first), ASCII.isLowercaseAlphanumeric(last)
        else {
            return "it must begin and end with a letter or digit"
        }
        for (previous, byte) in zip(name, name.dropFirst())
            where previous == UInt8(ascii: ".") && byte == UInt8(ascii: ".")
        {
            return "it holds two adjacent periods"
        }
        if isIPv4(name) {
            return "it is formatted as an IP address"
        }
        for prefix in reservedPrefixes where name.starts(with: prefix.utf8) {
            return "it begins with \"" + prefix + "\", which S3 reserves"
        }
        for suffix in reservedSuffixes where name.count > suffix.utf8.count
            && name.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
        {
            return "it ends with \"" + suffix + "\", which S3 reserves"
        }
        return nil
    }

    /// Four dot-separated groups of 1-3 digits, as S3 refuses.
    private static func isIPv4<C: Collection<UInt8>>(_ name: C) -> Bool {
        var groups = 0
        var digits = 0
        for byte in name {
            if byte == UInt8(ascii: ".") {
                guard digits > 0 else { return false }
                groups += 1
                digits = 0
            } else if ASCII.isDigit(byte), digits < 3 {
                digits += 1
            } else {
                return false
            }
        }
        return digits > 0 && groups == 3
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

// S3 bucket names, as path-style requests carry them in their first
// segment.
//
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
// Current names are 3-63 characters of lowercase letters, digits, dots and
// hyphens, beginning and ending with a letter or digit.  Legacy buckets in
// us-east-1 may also hold uppercase letters and underscores, so those are
// accepted too; anything else (a decoded `/`, `%`, spaces, control bytes)
// is not a bucket.

enum BucketName {
    /// Why `name` is not a bucket name, or nil.
    static func problem(_ name: [UInt8]) -> String? {
        isValid(name) ? nil : "is not a valid bucket name"
    }

    static func isValid<C: Collection<UInt8>>(_ name: C) -> Bool {
        guard (3...63).contains(name.count),
              let first = name.first, isAlphanumeric(first)
        else {
            return false
        }
        var last = first
        for byte in name {
            guard isAlphanumeric(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            else {
                return false
            }
            last = byte
        }
        return isAlphanumeric(last)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

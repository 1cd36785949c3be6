// The canonical path of an S3 request in path style: the bucket, then the
// key UriEncoded with its `/` kept.
//
//   /<UriEncode(bucket)>[/<UriEncode(key)>]
//
// Only routed, valid bucket names reach it (BucketName).

struct CanonicalPath {
    let bucket: UnsafeBufferPointer<UInt8>
    /// nil: the bucket itself (a listing).
    let key: UnsafeBufferPointer<UInt8>?
    /// For a bucket without a key: `/<bucket>/`, as the client wrote it.
    var trailingSlash = false

    func write(into writer: inout BufferWriter) {
        writer.write(UInt8(ascii: "/"))
        // A bucket name (BucketName.isValid: letters, digits, `.`, `-`,
        // `_`) is its own UriEncode.
        writer.write(bucket)
        if let key {
            writer.write(UInt8(ascii: "/"))
            writer.writeEncoded(key, keepSlash: true)
        } else if trailingSlash {
            writer.write(UInt8(ascii: "/"))
        }
    }
}

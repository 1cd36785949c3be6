// The canonical path of an S3 request in path style: the bucket, then the
// key UriEncoded with its `/` kept.
//
//   /<UriEncode(bucket)>[/<UriEncode(key)>]

struct CanonicalPath {
    let bucket: UnsafeBufferPointer<UInt8>
    /// nil: the bucket itself (a listing).
    let key: UnsafeBufferPointer<UInt8>?
    /// For a bucket without a key: `/<bucket>/`, as the client wrote it.
    var trailingSlash = false

    func write(into writer: inout BufferWriter) {
        writer.write(UInt8(ascii: "/"))
        writer.writeEncoded(bucket, keepSlash: false)
        if let key {
            writer.write(UInt8(ascii: "/"))
            writer.writeEncoded(key, keepSlash: true)
        } else if trailingSlash {
            writer.write(UInt8(ascii: "/"))
        }
    }
}

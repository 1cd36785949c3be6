// Where an S3 request goes: its host and its canonical path.
//
//   path style     <host>           /<bucket>[/<UriEncode(key)>]
//   virtual style  <bucket>.<host>  /[<UriEncode(key)>]
//
// The key is UriEncoded with its `/` kept.  Only routed, valid bucket
// names reach it (BucketName), and a bucket name (letters, digits, `.`,
// `-`, `_`) is its own UriEncode.

struct CanonicalPath {
    let bucket: UnsafeBufferPointer<UInt8>
    /// nil: the bucket itself (a listing).
    let key: UnsafeBufferPointer<UInt8>?
    /// For a bucket without a key, path style: `/<bucket>/`, as the client
    /// wrote it.
    var trailingSlash = false
    /// The bucket is named in the host, not in the path.
    var virtual = false

    /// `<bucket>.` of a virtual-hosted request's host, before the
    /// endpoint's host.
    func writeHostPrefix(into writer: inout BufferWriter) {
        if virtual {
            writer.write(bucket)
            writer.write(UInt8(ascii: "."))
        }
    }

    func write(into writer: inout BufferWriter) {
        writer.write(UInt8(ascii: "/"))
        if virtual {
            if let key { writer.writeEncoded(key, keepSlash: true) }
            return
        }
        writer.write(bucket)
        if let key {
            writer.write(UInt8(ascii: "/"))
            writer.writeEncoded(key, keepSlash: true)
        } else if trailingSlash {
            writer.write(UInt8(ascii: "/"))
        }
    }
}

// SigV4 step 2: the string to sign.
//
//   AWS4-HMAC-SHA256\n<timestamp>\n<date>/<region>/s3/aws4_request\n
//   <hex(SHA-256(canonical request))>
//
// Everything before the hash is the same for every request of one second
// with one configuration: that prefix is what the thread's HMAC state
// caches (Digest.hmac).

struct StringToSign {
    let stamp: AmzStamp
    /// `/<region>/s3/aws4_request\n`, from the prepared configuration.
    let scope: UnsafeBufferPointer<UInt8>
    let canonicalRequestHash: SHA256Hash

    /// The prefix fits the stack buffer: region names are at most 32 bytes.
    static let prefixCapacity = 128

    /// Calls `body` with the prefix (up to the scope) and the hash's 64
    /// lowercase hex digits; nil if the scope is too long.
    func withParts<R>(
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R
    ) -> R? {
        withUnsafeTemporaryAllocation(of: UInt8.self,
                                      capacity: StringToSign.prefixCapacity + 64) {
            scratch -> R? in
            guard let base = scratch.baseAddress else { return nil }
            let hex = base + StringToSign.prefixCapacity
            var prefix = BufferWriter(base: base,
                                      capacity: StringToSign.prefixCapacity)
            prefix.write("AWS4-HMAC-SHA256\n")
            stamp.write(into: &prefix)
            prefix.write(UInt8(ascii: "\n"))
            stamp.writeDate(into: &prefix)
            prefix.write(scope)
            guard !prefix.overflowed else { return nil }
            canonicalRequestHash.withBytes { Hex.writeLower($0, to: hex) }
            return body(UnsafeRawBufferPointer(prefix.slice(from: 0)),
                        UnsafeRawBufferPointer(start: hex, count: 64))
        }
    }
}

/// 128 bytes on the stack.
struct StackBytes128 {
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    mutating func withMutableBuffer<R>(_ body: (UnsafeMutablePointer<UInt8>) -> R) -> R {
        withUnsafeMutablePointer(to: &words) {
            body(UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt8.self))
        }
    }
}

// SigV4 step 1: the canonical request, hashed as it is fed, never
// assembled.
//
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
//   <method>\n<canonical path>\n<canonical query>\n<canonical headers>\n
//   <signed header names>\n<payload hash>
// The canonical headers begin with the host, as the URL has it; the rest
// comes from the prepared configuration (and, for header auth, the
// x-amz-checksum-mode line and the timestamp), starting with its `\n`.

struct CanonicalRequest {
    let method: StaticString
    let path: UnsafeBufferPointer<UInt8>
    let query: UnsafeBufferPointer<UInt8>
    /// The value of the `host` header, the first one signed.
    let host: UnsafeBufferPointer<UInt8>
    /// The rest, in up to four pieces, starting with `\n`.
    let rest: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>,
               UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>)

    /// SHA-256 of the canonical request; nil only if libcrypto fails.
    func hash() -> SHA256Hash? {
        var hash = SHA256Hash()
        let ok = hash.withMutableBytes { out in
            Digest.sha256(into: out) { feeder in
                feeder.feed(method)
                feeder.feed("\n")
                feeder.feed(path)
                feeder.feed("\n")
                feeder.feed(query)
                feeder.feed("\nhost:")
                feeder.feed(host)
                feeder.feed(rest.0)
                feeder.feed(rest.1)
                feeder.feed(rest.2)
                feeder.feed(rest.3)
            }
        }
        return ok ? hash : nil
    }
}

/// 32 bytes of SHA-256 output, on the stack.
struct SHA256Hash {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: words, body)
    }

    mutating func withMutableBytes<R>(_ body: (UnsafeMutablePointer<UInt8>) -> R) -> R {
        withUnsafeMutablePointer(to: &words) {
            body(UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt8.self))
        }
    }
}

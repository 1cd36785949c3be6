// SHA-256 from OpenSSL's libcrypto, and HMAC-SHA256 (RFC 2104) built on it.
//
// OpenSSL 3's one-shot HMAC() and EVP_Digest() fetch their algorithm on
// every call, and EVP_MAC_init allocates.  Here SHA-256 runs on a context
// on the caller's stack, and HMAC keeps the pad states of the thread's
// last key: signing a request copies two contexts and hashes its data,
// with nothing allocated.

internal import COpenSSL

enum Digest {
    static let length = 32
    static let blockSize = 64
}

// MARK: - Streaming forms

/// Feeds a SHA-256 context piece by piece.  Small pieces gather in a
/// buffer on the caller's stack and reach libcrypto a block run at a time.
struct DigestFeeder {
    fileprivate let context: UnsafeMutablePointer<SHA256_CTX>
    fileprivate let buffer: UnsafeMutableRawBufferPointer
    fileprivate var used = 0
    fileprivate(set) var ok = true

    @inline(__always)
    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if used + bytes.count > buffer.count {
            flush()
            if bytes.count >= buffer.count {
                ok = ok && SHA256_Update(context, bytes.baseAddress, bytes.count) == 1
                return
            }
        }
        guard let source = bytes.baseAddress, let gathered = buffer.baseAddress else {
            ok = false
            return
        }
        (gathered + used).copyMemory(from: source, byteCount: bytes.count)
        used += bytes.count
    }

    @inline(__always)
    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) {
        feed(UnsafeRawBufferPointer(bytes))
    }

    @inline(__always)
    mutating func feed(_ string: StaticString) {
        string.withUTF8Buffer { feed(UnsafeRawBufferPointer($0)) }
    }

    fileprivate mutating func flush() {
        if used > 0 {
            ok = ok && SHA256_Update(context, buffer.baseAddress, used) == 1
            used = 0
        }
    }
}

extension Digest {
    /// SHA-256 of what `body` feeds, written to `output` (32 bytes).  The
    /// context lives on the stack: nothing is allocated.
    /// With `wipe`, the stack buffer that gathered the data is cleared
    /// afterwards (for key material; SHA256_Final clears the context).
    static func sha256(
        into output: UnsafeMutablePointer<UInt8>, wipe: Bool = false,
        _ body: (inout DigestFeeder) -> Void
    ) -> Bool {
        var context = SHA256_CTX()
        guard SHA256_Init(&context) == 1 else { return false }
        return finish(&context, into: output, wipe: wipe, body)
    }

    /// HMAC-SHA256 under `key` of `prefix` followed by what `body` feeds,
    /// written to `output` (32 bytes):
    /// SHA-256((K ^ opad) || SHA-256((K ^ ipad) || data)), where K is the
    /// key padded to a block, or its hash if it is longer.
    ///
    /// The thread keeps the pad states of the key, and the inner state
    /// after the prefix, for the next call with the same key and prefix.
    static func hmac(
        key: UnsafeRawBufferPointer, prefix: UnsafeRawBufferPointer = .init(start: nil, count: 0),
        into output: UnsafeMutablePointer<UInt8>,
        _ body: (inout DigestFeeder) -> Void
    ) -> Bool {
        let cache = s3p_thread_cache()
        let sameKey = key.count > 0 && key.count == cache.pointee.key_len
            && withUnsafeBytes(of: cache.pointee.key) { stored in
                guard let stored = stored.baseAddress, let start = key.baseAddress else {
                    return false
                }
                return s3p_same_bytes(stored, start, key.count) != 0
            }
        if !sameKey {
            cache.pointee.prefix_len = 0
            guard keyPads(key, cache) else { return false }
        }

        // The inner hash starts from the key's state after the prefix.
        var inner: SHA256_CTX
        let samePrefix = sameKey && prefix.count > 0
            && prefix.count == cache.pointee.prefix_len
            && withUnsafeBytes(of: cache.pointee.prefix) { stored in
                guard let stored = stored.baseAddress, let start = prefix.baseAddress else {
                    return false
                }
                return s3p_same_bytes(stored, start, prefix.count) != 0
            }
        if samePrefix {
            inner = cache.pointee.prefixed
        } else {
            inner = cache.pointee.inner
            guard prefix.count == 0
                || SHA256_Update(&inner, prefix.baseAddress, prefix.count) == 1
            else {
                return false
            }
            let stored = MemoryLayout.size(ofValue: cache.pointee.prefix)
            if cache.pointee.key_len > 0 && prefix.count > 0 && prefix.count <= stored {
                cache.pointee.prefixed = inner
                withUnsafeMutableBytes(of: &cache.pointee.prefix) {
                    $0.copyMemory(from: prefix)
                }
                cache.pointee.prefix_len = prefix.count
            }
        }

        var innerHash = SHA256Hash()
        var outer = cache.pointee.outer
        return innerHash.withMutableBytes { hash in
            finish(&inner, into: hash, body)
                && finish(&outer, into: output) {
                    $0.feed(UnsafeRawBufferPointer(start: hash, count: length))
                }
        }
    }

    /// Computes the pad states of `key` into the thread's cache.
    private static func keyPads(
        _ key: UnsafeRawBufferPointer, _ cache: UnsafeMutablePointer<s3p_thread_cache_t>
    ) -> Bool {
        cache.pointee.key_len = 0
        cache.pointee.prefix_len = 0
        var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
            = (0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &block) { block -> Bool in
            guard let base = block.baseAddress else { return false }
            if key.count > blockSize {
                let start = base.assumingMemoryBound(to: UInt8.self)
                guard sha256(into: start, { $0.feed(key) }) else { return false }
            } else if key.count > 0 {
                block.copyMemory(from: key)
            }
            for index in block.indices { block[index] ^= 0x36 }
            guard SHA256_Init(&cache.pointee.inner) == 1,
                  SHA256_Update(&cache.pointee.inner, block.baseAddress, blockSize) == 1
            else {
                return false
            }
            for index in block.indices { block[index] ^= 0x36 ^ 0x5c }
            let done = SHA256_Init(&cache.pointee.outer) == 1
                && SHA256_Update(&cache.pointee.outer, block.baseAddress, blockSize) == 1
            for index in block.indices { block[index] = 0 }
            return done
        }
        guard ok else { return false }
        // The whole slot is cleared first: a shorter key must not leave
        // the tail of a longer one (such as "AWS4" + secret) behind.
        withUnsafeMutableBytes(of: &cache.pointee.key) { stored in
            stored.initializeMemory(as: UInt8.self, repeating: 0)
            if key.count > 0 && key.count <= blockSize {
                stored.copyMemory(from: key)
                cache.pointee.key_len = key.count
            }
        }
        return true
    }

    /// Feeds `context` what `body` gives, through a stack buffer, and
    /// writes the digest to `output`.
    private static func finish(
        _ context: inout SHA256_CTX, into output: UnsafeMutablePointer<UInt8>,
        wipe: Bool = false, _ body: (inout DigestFeeder) -> Void
    ) -> Bool {
        withUnsafeMutablePointer(to: &context) { context in
            withUnsafeTemporaryAllocation(byteCount: 256, alignment: 16) { buffer in
                var feeder = DigestFeeder(context: context, buffer: buffer)
                body(&feeder)
                feeder.flush()
                let done = feeder.ok && SHA256_Final(output, context) == 1
                if wipe {
                    buffer.initializeMemory(as: UInt8.self, repeating: 0)
                }
                return done
            }
        }
    }
}

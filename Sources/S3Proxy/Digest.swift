// SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto.
//
// OpenSSL 3 fetches an algorithm implementation on every one-shot call;
// the algorithms are fetched once per process here and an HMAC context
// with the digest already set is duplicated for each use.

internal import COpenSSL

enum Digest {
    static let length = 32

    /// An HMAC context with its digest set to SHA-256 and no key yet.
    private nonisolated(unsafe) static let hmacTemplate: OpaquePointer? = {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { return nil }
        defer { EVP_MAC_free(mac) }
        guard let context = EVP_MAC_CTX_new(mac) else { return nil }
        var name = Array("SHA256".utf8CString)
        let ok = name.withUnsafeMutableBufferPointer { name -> Bool in
            var params = [
                OSSL_PARAM_construct_utf8_string(
                    OSSL_MAC_PARAM_DIGEST, name.baseAddress, 0),
                OSSL_PARAM_construct_end(),
            ]
            return EVP_MAC_CTX_set_params(context, &params) == 1
        }
        guard ok else {
            EVP_MAC_CTX_free(context)
            return nil
        }
        return context
    }()

    /// SHA-256 of `data`; nil only if libcrypto fails.
    static func sha256(_ data: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length)
        let ok = data.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                guard let output = output.baseAddress else { return false }
                return sha256(into: output) { $0.feed(input) }
            }
        }
        return ok ? out : nil
    }

    /// HMAC-SHA256 of `data` under `key`; nil only if libcrypto fails.
    ///
    /// SigV4 signs every request of a day with the same signing key, so the
    /// thread's HMAC context keeps the key it was last given, and a call
    /// with that key re-initialises it (EVP_MAC_init without a key) instead
    /// of redoing the key schedule.
    static func hmac<K: Collection<UInt8>, D: Collection<UInt8>>(
        key: K, data: D
    ) -> [UInt8]? {
        let cache = s3p_crypto_cache()
        if cache.pointee.mac == nil {
            guard let template = hmacTemplate else { return nil }
            cache.pointee.mac = EVP_MAC_CTX_dup(template)
        }
        guard let context = cache.pointee.mac else { return nil }

        let keyBytes = Array(key)
        let sameKey = !keyBytes.isEmpty && keyBytes.count == cache.pointee.key_len
            && withUnsafeBytes(of: cache.pointee.key) { cached in
                cached.prefix(keyBytes.count).elementsEqual(keyBytes)
            }

        var out = [UInt8](repeating: 0, count: length)
        var written = 0
        func run(_ data: UnsafeBufferPointer<UInt8>) -> Bool {
            keyBytes.withUnsafeBufferPointer { key in
                out.withUnsafeMutableBufferPointer { output in
                    (sameKey
                        ? EVP_MAC_init(context, nil, 0, nil) == 1
                        : EVP_MAC_init(context, key.baseAddress, key.count, nil) == 1)
                    && EVP_MAC_update(context, data.baseAddress, data.count) == 1
                    && EVP_MAC_final(context, output.baseAddress,
                        &written, output.count) == 1
                }
            }
        }
        let ok = data.withContiguousStorageIfAvailable(run)
            ?? Array(data).withUnsafeBufferPointer(run)

        // Remember the key the context now holds (if it fits).
        cache.pointee.key_len = 0
        if ok && keyBytes.count <= MemoryLayout.size(ofValue: cache.pointee.key) {
            withUnsafeMutableBytes(of: &cache.pointee.key) { cached in
                cached.copyBytes(from: keyBytes)
            }
            cache.pointee.key_len = keyBytes.count
        }
        return ok && written == length ? out : nil
    }
}

// MARK: - Streaming forms, for the allocation-free redirect path

/// Feeds a SHA-256 or HMAC context piece by piece.
struct DigestFeeder {
    fileprivate enum Context {
        case sha256(UnsafeMutablePointer<SHA256_CTX>)
        case mac(OpaquePointer)
    }

    fileprivate let context: Context
    fileprivate(set) var ok = true

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard ok, bytes.count > 0 else { return }
        switch context {
        case .sha256(let sha):
            ok = SHA256_Update(sha, bytes.baseAddress, bytes.count) == 1
        case .mac(let mac):
            ok = EVP_MAC_update(mac, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                bytes.count) == 1
        }
    }

    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) {
        feed(UnsafeRawBufferPointer(bytes))
    }

    mutating func feed(_ string: StaticString) {
        string.withUTF8Buffer { feed(UnsafeRawBufferPointer($0)) }
    }
}

extension Digest {
    /// SHA-256 of what `body` feeds, written to `output` (32 bytes).  The
    /// context lives on the stack: nothing is allocated.
    static func sha256(
        into output: UnsafeMutablePointer<UInt8>, _ body: (inout DigestFeeder) -> Void
    ) -> Bool {
        var context = SHA256_CTX()
        return withUnsafeMutablePointer(to: &context) { context in
            guard SHA256_Init(context) == 1 else { return false }
            var feeder = DigestFeeder(context: .sha256(context))
            body(&feeder)
            return feeder.ok && SHA256_Final(output, context) == 1
        }
    }

    /// HMAC-SHA256 under `key` of what `body` feeds, written to `output`
    /// (32 bytes).  Re-uses the thread's context when it holds `key`.
    static func hmac(
        key: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>,
        _ body: (inout DigestFeeder) -> Void
    ) -> Bool {
        let cache = s3p_crypto_cache()
        if cache.pointee.mac == nil {
            guard let template = hmacTemplate else { return false }
            cache.pointee.mac = EVP_MAC_CTX_dup(template)
        }
        guard let context = cache.pointee.mac,
              key.count > 0, key.count <= MemoryLayout.size(ofValue: cache.pointee.key)
        else {
            return false
        }
        let sameKey = key.count == cache.pointee.key_len
            && withUnsafeBytes(of: cache.pointee.key) { cached in
                cached.prefix(key.count).elementsEqual(key)
            }
        let initialised = sameKey
            ? EVP_MAC_init(context, nil, 0, nil) == 1
            : EVP_MAC_init(context, key.baseAddress?.assumingMemoryBound(to: UInt8.self),
                           key.count, nil) == 1
        cache.pointee.key_len = 0
        guard initialised else { return false }
        withUnsafeMutableBytes(of: &cache.pointee.key) { cached in
            cached.copyMemory(from: key)
        }
        cache.pointee.key_len = key.count

        var feeder = DigestFeeder(context: .mac(context))
        body(&feeder)
        var written = 0
        return feeder.ok && EVP_MAC_final(context, output, &written, length) == 1
            && written == length
    }
}

// SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto.
//
// OpenSSL 3 fetches an algorithm implementation on every one-shot call;
// the algorithms are fetched once per process here and an HMAC context
// with the digest already set is duplicated for each use.

internal import COpenSSL

enum Digest {
    static let length = 32

    private nonisolated(unsafe) static let sha256Algorithm: OpaquePointer? =
        EVP_MD_fetch(nil, "SHA256", nil)

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
        guard let algorithm = sha256Algorithm else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        let ok = data.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count,
                    output.baseAddress, nil, algorithm, nil) == 1
            }
        }
        return ok ? out : nil
    }

    /// HMAC-SHA256 of `data` under `key`; nil only if libcrypto fails.
    static func hmac<K: Collection<UInt8>, D: Collection<UInt8>>(
        key: K, data: D
    ) -> [UInt8]? {
        guard let template = hmacTemplate,
              let context = EVP_MAC_CTX_dup(template)
        else {
            return nil
        }
        defer { EVP_MAC_CTX_free(context) }

        let keyBytes = Array(key)
        let dataBytes = Array(data)
        var out = [UInt8](repeating: 0, count: length)
        var written = 0
        let ok = keyBytes.withUnsafeBytes { key in
            dataBytes.withUnsafeBytes { data in
                out.withUnsafeMutableBufferPointer { output in
                    EVP_MAC_init(context,
                        key.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        key.count, nil) == 1
                    && EVP_MAC_update(context,
                        data.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        data.count) == 1
                    && EVP_MAC_final(context, output.baseAddress,
                        &written, output.count) == 1
                }
            }
        }
        return ok && written == length ? out : nil
    }
}

// SigV4 step 3: the signature, HMAC-SHA256(signing key, string to sign)
// as 64 lowercase hex digits.

enum Signature {
    /// Signs `request` (steps 1 to 3) and writes the signature at `at`;
    /// false only if libcrypto fails.
    static func write(
        key: UnsafeRawBufferPointer, _ request: CanonicalRequest, stamp: AmzStamp,
        scope: UnsafeBufferPointer<UInt8>, at: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        guard let hash = request.hash() else { return false }
        return write(key: key, StringToSign(stamp: stamp, scope: scope,
                                            canonicalRequestHash: hash), at: at)
    }

    /// Writes the signature at `at`; false only if libcrypto fails.
    static func write(
        key: UnsafeRawBufferPointer, _ stringToSign: StringToSign,
        at: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        var mac = SHA256Hash()
        let signed = stringToSign.withParts { prefix, hashHex in
            mac.withMutableBytes { out in
                Digest.hmac(key: key, prefix: prefix, into: out) { $0.feed(hashHex) }
            }
        }
        guard signed == true else { return false }
        mac.withBytes { Hex.writeLower($0, to: at) }
        return true
    }
}

// SigV4 step 3: the signature, HMAC-SHA256(signing key, string to sign)
// as 64 lowercase hex digits.

enum Signature {
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

// The SigV4 signing key of one UTC day.
//
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
// ("Derive a signing key"):
//   kDate    = HMAC("AWS4" + secret, date)
//   kRegion  = HMAC(kDate, region)
//   kService = HMAC(kRegion, "s3")
//   kSigning = HMAC(kService, "aws4_request")
//
// It depends on the date, so each thread (each nginx worker) derives it at
// most once a day per set of signing settings, and keeps it in its own
// state (copenssl.h), by the settings' generation: the configuration is
// never written at request time.

internal import CShim
internal import COpenSSL

enum DayKey {
    /// The key of `signing` for `date` (8 bytes, "YYYYMMDD", as a word);
    /// nil only if libcrypto fails.  The bytes stay valid until the
    /// thread's next call.
    static func key(
        _ signing: UnsafePointer<s3p_signing_t>, date: UInt64
    ) -> UnsafeRawBufferPointer? {
        let generation = signing.pointee.generation
        var stale: UnsafeMutablePointer<s3p_day_key_t>? = nil
        for index in 0..<UInt32(S3P_DAY_KEYS) {
            let candidate = s3p_day_key_slot(index)
            if candidate.pointee.generation == generation {
                if candidate.pointee.date == date {
                    return UnsafeRawBufferPointer(start: s3p_day_key_bytes(candidate),
                                                  count: Digest.length)
                }
                stale = candidate
            }
        }
        // These settings' slot of another day, else the next slot in turn.
        let chosen = stale ?? nextSlot()
        chosen.pointee.generation = 0
        let key = s3p_day_key_bytes(chosen)
        let derived = withUnsafeBytes(of: date) { derive(signing, date: $0, into: key) }
        guard derived else { return nil }
        chosen.pointee.date = date
        chosen.pointee.generation = generation
        return UnsafeRawBufferPointer(start: key, count: Digest.length)
    }

    private static func nextSlot() -> UnsafeMutablePointer<s3p_day_key_t> {
        let cache = s3p_thread_cache()
        let slot = s3p_day_key_slot(cache.pointee.next_day_key)
        cache.pointee.next_day_key &+= 1
        return slot
    }

    private static func derive(
        _ signing: UnsafePointer<s3p_signing_t>, date: UnsafeRawBufferPointer,
        into out: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        let secret = Bytes.view(signing.pointee.secret_key)
        let region = Bytes.view(signing.pointee.region)
        // "AWS4" + secret as an HMAC key: as it is when it fits a block,
        // otherwise its SHA-256 (RFC 2104 hashes longer keys the same way).
        var block = StackBytes128()
        return block.withMutableBuffer { block -> Bool in
            var keyLength = 4 + secret.count
            if keyLength <= Digest.blockSize {
                var writer = BufferWriter(base: block, capacity: Digest.blockSize)
                writer.write("AWS4")
                writer.write(secret)
            } else {
                guard Digest.sha256(into: block, wipe: true, { feeder in
                    feeder.feed("AWS4")
                    feeder.feed(secret)
                }) else {
                    return false
                }
                keyLength = Digest.length
            }
            let secretKey = UnsafeRawBufferPointer(start: block, count: keyLength)
            let derived = Digest.hmac(key: secretKey, into: out) { $0.feed(date) }
                && chain(out) { $0.feed(region) }
                && chain(out) { $0.feed("s3") }
                && chain(out) { $0.feed("aws4_request") }
            block.update(repeating: 0, count: Digest.blockSize)
            return derived
        }
    }

    /// out = HMAC(out, data)
    private static func chain(
        _ out: UnsafeMutablePointer<UInt8>, _ data: (inout DigestFeeder) -> Void
    ) -> Bool {
        var key = SHA256Hash()
        key.withMutableBytes { $0.update(from: out, count: Digest.length) }
        return key.withBytes { Digest.hmac(key: $0, into: out, data) }
    }
}

// Hot keys: with a presign window, every request for the same object in
// the same window gets the same URL, so a thread keeps the signatures it
// computed (copenssl.h, s3p_url_slot) and a repeated request copies one
// instead of hashing the canonical request and the string to sign again.
//
// A slot is found by a hash and taken only when everything the signature
// depends on is equal: the signing settings' generation (credentials,
// region, hosts, lifetime), the method, and the URL up to its signature,
// which holds the host, path, query, credential scope and signing time.

internal import COpenSSL

enum RedirectCache {
    /// The signature of an identical request signed earlier, copied into
    /// `signature` (64 bytes); false when there is none.
    static func fetch(
        generation: UInt64, method: StaticString, url: UnsafeBufferPointer<UInt8>,
        into signature: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        guard url.count <= Int(S3P_URL_SLOT_BYTES),
              let slot = s3p_url_slot(hash(generation, method, url))
        else {
            return false
        }
        guard slot.pointee.generation == generation,
              slot.pointee.method == methodWord(method),
              Int(slot.pointee.len) == url.count,
              let start = url.baseAddress
        else {
            return false
        }
        guard s3p_same_bytes(s3p_url_slot_url(slot), start, url.count) != 0 else {
            return false
        }
        UnsafeMutableRawPointer(signature).copyMemory(from: s3p_url_slot_signature(slot),
                                                      byteCount: 64)
        return true
    }

    /// Keeps `signature` (64 bytes) of the request, replacing what its
    /// slot held.
    static func store(
        generation: UInt64, method: StaticString, url: UnsafeBufferPointer<UInt8>,
        signature: UnsafePointer<UInt8>
    ) {
        guard url.count <= Int(S3P_URL_SLOT_BYTES), let start = url.baseAddress,
              let slot = s3p_url_slot(hash(generation, method, url))
        else {
            return
        }
        slot.pointee.generation = 0
        UnsafeMutableRawPointer(s3p_url_slot_url(slot)).copyMemory(from: start,
                                                                   byteCount: url.count)
        UnsafeMutableRawPointer(s3p_url_slot_signature(slot)).copyMemory(from: signature,
                                                                         byteCount: 64)
        slot.pointee.len = UInt32(url.count)
        slot.pointee.method = methodWord(method)
        slot.pointee.generation = generation
    }

    private static func methodWord(_ method: StaticString) -> UInt32 {
        method.withUTF8Buffer { UInt32($0.count) << 8 | UInt32($0.first ?? 0) }
    }

    /// A 64-bit mix of the generation, the method and the URL, eight bytes
    /// at a time.
    private static func hash(
        _ generation: UInt64, _ method: StaticString, _ url: UnsafeBufferPointer<UInt8>
    ) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ generation
        h = (h ^ UInt64(methodWord(method))) &* 0xFF51_AFD7_ED55_8CCD
        guard let base = url.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        while offset + 8 <= url.count {
            let word = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            h = (h ^ word) &* 0x0000_0100_0000_01B3
            h ^= h >> 29
            offset += 8
        }
        while offset < url.count {
            h = (h ^ UInt64(base[offset])) &* 0x0000_0100_0000_01B3
            offset += 1
        }
        h ^= h >> 32
        return h &* 0xC4CE_B9FE_1A85_EC53
    }
}

// HMAC-SHA256 as Digest builds it on libcrypto's SHA-256: RFC 4231's test
// vectors, and agreement with RFC 2104's construction written out plainly
// here, across the thread cache of key pad states and prefix states.

import COpenSSL
import Testing
@testable import S3Proxy

@Suite struct DigestTests {

    // Source: RFC 4231, "Identifiers and Test Vectors for HMAC-SHA-224,
    // HMAC-SHA-256, HMAC-SHA-384, and HMAC-SHA-512", section 4, test cases
    // 1, 2, 6 and 7 (6 and 7 have keys longer than a block).
    static let rfc4231: [(key: [UInt8], data: [UInt8], mac: String)] = [
        ([UInt8](repeating: 0x0b, count: 20), bytes("Hi There"),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (bytes("Jefe"), bytes("what do ya want for nothing?"),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xaa, count: 131),
         bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ([UInt8](repeating: 0xaa, count: 131),
         bytes("This is a test using a larger than block-size key and a larger "
             + "than block-size data. The key needs to be hashed before being "
             + "used by the HMAC algorithm."),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test(arguments: 0..<4) func rfc4231Vectors(index: Int) throws {
        let vector = Self.rfc4231[index]
        // Twice: the second call starts from the thread's cached pads.
        for _ in 0..<2 {
            #expect(hex(try #require(Digest.hmac(key: vector.key, data: vector.data)))
                == vector.mac)
        }
    }

    /// RFC 2104 on plain SHA-256, with no state kept anywhere.
    static func reference(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? Digest.sha256(key)! : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = Digest.sha256(block.map { $0 ^ 0x36 } + data)!
        return Digest.sha256(block.map { $0 ^ 0x5c } + inner)!
    }

    /// Streams `prefix` then `rest` through the cached form.
    static func streamed(key: [UInt8], prefix: [UInt8], rest: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { key in
            prefix.withUnsafeBytes { prefix in
                rest.withUnsafeBytes { rest in
                    out.withUnsafeMutableBufferPointer { out in
                        Digest.hmac(key: key, prefix: prefix, into: out.baseAddress!) {
                            // In pieces, to cross the feeder's buffer.
                            var at = 0
                            var size = 1
                            while at < rest.count {
                                let end = min(rest.count, at + size)
                                $0.feed(UnsafeRawBufferPointer(rebasing: rest[at..<end]))
                                at = end
                                size = size * 3 + 1
                            }
                        }
                    }
                }
            }
        }
        return ok ? out : nil
    }

    // Keys of every length around the block size (empty, short, 64, longer),
    // prefixes of every length around the cached maximum (128), bodies that
    // cross the feeder's 256-byte buffer; keys and prefixes repeat and change
    // in a random order (two keys and two prefixes of each cached length
    // differ only in content), so every path through the cache is taken.
    @Test func agreesWithRFC2104AcrossTheCache() throws {
        var random = SplitMix64(seed: 0x4231)
        func randomBytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        let keys = [0, 1, 20, 32, 32, 63, 64, 65, 131].map(randomBytes)
        let prefixes = [0, 1, 17, 69, 69, 127, 128, 128, 129, 300].map(randomBytes)
        for _ in 0..<2_000 {
            let key = keys.randomElement(using: &random)!
            let prefix = prefixes.randomElement(using: &random)!
            let rest = randomBytes(Int.random(in: 0...600, using: &random))
            let mac = try #require(Self.streamed(key: key, prefix: prefix, rest: rest))
            #expect(mac == Self.reference(key: key, data: prefix + rest),
                    "key \(key.count) prefix \(prefix.count) rest \(rest.count)")
        }
    }

    // The cache is per thread: many threads signing at once each get their
    // own answers right.
    @Test func threadsDoNotShareState() async throws {
        let results = await withTaskGroup(of: Bool.self) { group in
            for task in 0..<8 {
                group.addTask {
                    let key = [UInt8](repeating: UInt8(task), count: 32)
                    for round in 0..<500 {
                        let prefix = bytes("prefix \(round / 10)")
                        let rest = bytes("rest \(task) \(round)")
                        guard Self.streamed(key: key, prefix: prefix, rest: rest)
                            == Self.reference(key: key, data: prefix + rest)
                        else {
                            return false
                        }
                    }
                    return true
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == [Bool](repeating: true, count: 8))
    }

    // The thread's state is one per thread for every file and module that
    // reaches it (here, another module), and deriving a signing key leaves
    // nothing of "AWS4" + secret in it.
    @Test func oneThreadStateWithoutTheSecret() throws {
        let secret = bytes(AWSExample.secretKey)
        let key = try #require(SigningKey.derive(
            secret: secret, date: bytes("20130524")[...], region: bytes("us-east-1")))
        let cache = s3p_thread_cache()
        #expect(cache.pointee.key_len == 32)
        let stored = withUnsafeBytes(of: cache.pointee.key) { Array($0) }
        #expect(stored[32...].allSatisfy { $0 == 0 })
        #expect(!stored.indices.dropLast(3).contains { index in
            stored[index..<index + 4].elementsEqual(secret.suffix(4))
        })
        _ = try #require(Digest.hmac(key: key, data: bytes("x")))
        #expect(withUnsafeBytes(of: cache.pointee.key) { Array($0.prefix(32)) } == key)

        let stamp = AmzDate.threadStamp(unixTime: AWSExample.unixTime)
        #expect(cache.pointee.stamp_time == AWSExample.unixTime)
        #expect(withUnsafeBytes(of: cache.pointee.stamp) { Array($0) }
            == withUnsafeBytes(of: stamp) { Array($0) })
    }
}

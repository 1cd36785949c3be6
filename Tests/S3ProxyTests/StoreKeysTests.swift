// s3p_store_keys(): credentials put into a slot of the shared zone, each
// capped at its maximum (s3_proxy_core.h: S3P_ACCESS_KEY_MAX,
// S3P_SECRET_KEY_MAX, S3P_SESSION_TOKEN_MAX), the old ones cleared, and
// nothing stored when the same keys with the same expiration are there.

import CShim
import Testing
@testable import S3Proxy

@Suite struct StoreKeysTests {

    static let size = Int(S3P_ACCESS_KEY_MAX) + Int(S3P_SECRET_KEY_MAX)
        + Int(S3P_SESSION_TOKEN_MAX)

    /// Stores `keys` into `slot`, as C calls it.
    static func store(_ keys: [[UInt8]], held: Bool, _ slot: inout [UInt8],
                      _ lens: inout [Int]) -> Int32
    {
        keys[0].withUnsafeBufferPointer { a in
            keys[1].withUnsafeBufferPointer { s in
                keys[2].withUnsafeBufferPointer { t in
                    let strs = [a, s, t].map { s3p_str_t(len: $0.count, data: $0.baseAddress) }
                    return s3p_store_keys(strs, held ? 1 : 0, &slot, &lens)
                }
            }
        }
    }

    @Test func storesClearsAndSkipsTheSame() {
        var slot = [UInt8](repeating: 0xAA, count: Self.size)
        var lens = [0, 0, 0]
        let first = [Array("AKIDFIRST".utf8), Array("secret-one".utf8), Array("tok".utf8)]
        #expect(Self.store(first, held: false, &slot, &lens) == 1)
        #expect(lens == [9, 10, 3])
        #expect(Array(slot[0..<22]) == first.flatMap { $0 })
        // the rest of the slot is cleared
        #expect(slot[22...].allSatisfy { $0 == 0 })

        // the same keys, the same expiration: nothing to store
        #expect(Self.store(first, held: true, &slot, &lens) == 0)
        // the same keys, a new expiration: stored
        #expect(Self.store(first, held: false, &slot, &lens) == 1)

        let second = [Array("AKID2".utf8), Array("s2".utf8), []]
        #expect(Self.store(second, held: true, &slot, &lens) == 1)
        #expect(lens == [5, 2, 0])
        #expect(Array(slot[0..<7]) == second.flatMap { $0 })
        #expect(slot[7...].allSatisfy { $0 == 0 })
    }

    @Test func refusesAKeyLongerThanItsMaximum() {
        var slot = [UInt8](repeating: 0, count: Self.size)
        var lens = [0, 0, 0]
        let long = [UInt8](repeating: 0x41, count: Int(S3P_ACCESS_KEY_MAX) + 1)
        #expect(Self.store([long, Array("s".utf8), []], held: false, &slot, &lens) == 0)
        #expect(lens == [0, 0, 0])
        let token = [UInt8](repeating: 0x54, count: Int(S3P_SESSION_TOKEN_MAX))
        #expect(Self.store([Array("A".utf8), Array("s".utf8), token], held: false,
                           &slot, &lens) == 1)
    }
}

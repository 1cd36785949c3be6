// A provider's slot in the shared zone (s3_proxy_core.h, s3p_slot_t),
// through the C entry points nginx calls: which slot each provider takes
// across reloads, which worker fetches, what a fetch leaves for requests
// and s3_proxy_status, and the keys a location signs with.  Each key is
// capped at its maximum (S3P_ACCESS_KEY_MAX, S3P_SECRET_KEY_MAX,
// S3P_SESSION_TOKEN_MAX), the old ones cleared, and nothing stored when
// the same keys with the same expiration are there.

import CShim
import Testing
@testable import S3Proxy

@Suite struct SlotTests {

    /// Slots as C's zone holds them: zeroed memory.
    final class Zone {
        let slots: UnsafeMutablePointer<s3p_slot_t>
        let count: Int
        let m = CMemory()

        init(_ count: Int = 4) {
            self.count = count
            slots = UnsafeMutablePointer<s3p_slot_t>.allocate(capacity: count)
            UnsafeMutableRawPointer(slots).initializeMemory(
                as: UInt8.self, repeating: 0, count: count * MemoryLayout<s3p_slot_t>.stride)
        }

        deinit { slots.deallocate() }

        /// The slots of providers with these ids (one byte each, repeated).
        func take(_ ids: [UInt8]) -> [Int]? {
            let providers = ids.map { byte -> UnsafeMutablePointer<s3p_provider_t> in
                let p = UnsafeMutablePointer<s3p_provider_t>.allocate(capacity: 1)
                p.initialize(to: s3p_provider_t())
                withUnsafeMutableBytes(of: &p.pointee.id) {
                    for i in 0..<$0.count { $0[i] = byte }
                }
                return p
            }
            defer { providers.forEach { $0.deallocate() } }
            let list: [UnsafeMutablePointer<s3p_provider_t>?] = providers
            let rc = s3p_slots_take(slots, count, list, ids.count)
            return rc == S3P_OK ? providers.map { $0.pointee.slot } : nil
        }

        func keys(_ i: Int) -> [String] {
            let s = slots + i
            let lens = Slot.lens(s)
            let keys = Slot.keys(s)
            var at = 0
            return (0..<3).map { k in
                defer { at += lens[k] }
                return String(decoding: keys[at..<(at + lens[k])], as: UTF8.self)
            }
        }

        func step(_ action: s3p_do_t, _ keys: [String] = [], expires: Int64 = 0,
                  message: String = "", refused: Int32 = 0) -> s3p_provider_step_t
        {
            var s = s3p_provider_step_t()
            s.action = action
            s.now = 1000
            if keys.count == 3 {
                (s.access_key, s.secret_key, s.session_token) =
                    (m.str(keys[0]), m.str(keys[1]), m.str(keys[2]))
            }
            s.expires = expires
            s.refresh = 1100
            s.streak = action == S3P_DO_RETRY ? 2 : 0
            s.message = m.str(message)
            s.refused = refused
            return s
        }
    }

    static var verifying: s3p_provider_t {
        var p = s3p_provider_t()
        let host: StaticString = "s3"
        p.targets.2.host = s3p_str_t(len: 2, data: host.utf8Start)
        return p
    }

    @Test func theKeysEndTheSlot() {
        // Swift does not import `keys`: Slot.keys finds it at the end.
        let len = MemoryLayout<s3p_slot_t>.offset(of: \s3p_slot_t.len)!
        #expect(len + 3 * MemoryLayout<Int>.size + Slot.keysMax
                == MemoryLayout<s3p_slot_t>.size)
        #expect(Slot.keysMax == Int(S3P_ACCESS_KEY_MAX) + Int(S3P_SECRET_KEY_MAX)
                + Int(S3P_SESSION_TOKEN_MAX))
    }

    @Test func providersKeepTheirSlotsAcrossReloads() {
        let zone = Zone(4)
        #expect(zone.take([1, 2]) == [0, 1])
        #expect(zone.slots[0].generation == 1 && zone.slots[1].generation == 1)
        zone.slots[0].version = 7

        // the same providers, in another order: the same slots, untouched
        #expect(zone.take([2, 1]) == [1, 0])
        #expect(zone.slots[0].version == 7 && zone.slots[0].generation == 1)

        // a new provider takes a never used slot, not one another still has
        #expect(zone.take([3, 1]) == [2, 0])
        // then one no provider of the configuration holds: 2's, whose old
        // readers see a new generation; it is cleared
        #expect(zone.take([1, 3, 4, 5]) == [0, 2, 3, 1])
        #expect(zone.slots[1].generation == 2)
        zone.slots[3].version = 1
        _ = s3p_slot_record(zone.slots + 1, [s3p_provider_t()],
                            [zone.step(S3P_DO_STORE, ["AKID5", "s5", "t5"], expires: 5000)])
        #expect(zone.take([6, 1, 3, 4]) == [1, 0, 2, 3])
        #expect(zone.slots[1].generation == 3 && zone.slots[1].version == 0)
        #expect(zone.keys(1) == ["", "", ""] && Slot.keys(zone.slots + 1).allSatisfy { $0 == 0 })
        #expect(zone.slots[3].version == 1)

        // more providers than slots: refused
        #expect(zone.take([1, 2, 3, 4, 5]) == nil)
    }

    @Test func oneWorkerFetchesWhenDue() {
        let zone = Zone(1)
        let slot = zone.slots
        let out = zone.m.buffer(Slot.keysMax)
        var step = s3p_provider_step_t()
        step.now = 1000
        #expect(s3p_slot_claim(slot, 11, &step, out) == 1)
        #expect(step.event == S3P_EVENT_START && step.expiration == 0)
        // another worker, while it fetches: no
        #expect(s3p_slot_claim(slot, 12, &step, out) == 0)
        // ... unless the fetch is stale
        step.now = 1031
        #expect(s3p_slot_claim(slot, 12, &step, out) == 1)
        #expect(slot.pointee.fetching == 12)

        // stored: nobody fetches until it is due; the keys are verified
        let stored = zone.step(S3P_DO_STORE, ["AKID", "secret", "tok"], expires: 5000,
                               message: "credentials")
        #expect(s3p_slot_record(slot, [Self.verifying], [stored]) == S3P_SAY_NOTICE)
        #expect(slot.pointee.verify == 1 && slot.pointee.refresh == 1100)
        step.now = 1050
        #expect(s3p_slot_claim(slot, 13, &step, out) == 1)
        #expect(step.event == S3P_EVENT_VERIFY && step.expiration == 5000)
        #expect(Bytes.view(step.keys.0).elementsEqual("AKID".utf8))
        #expect(Bytes.view(step.keys.1).elementsEqual("secret".utf8))
        #expect(Bytes.view(step.keys.2).elementsEqual("tok".utf8))
        #expect(step.keys.0.data == UnsafePointer(out))
        let verified = zone.step(S3P_DO_VERIFIED, message: "refused", refused: 1)
        #expect(s3p_slot_record(slot, [Self.verifying], [verified]) == S3P_SAY_ERROR)
        #expect(slot.pointee.verification == Int32(S3P_VERIFICATION_FAILED.rawValue))
        #expect(s3p_slot_claim(slot, 13, &step, out) == 0)
        step.now = 1100
        #expect(s3p_slot_claim(slot, 13, &step, out) == 1 && step.event == S3P_EVENT_START)
        #expect(step.keys.0.len == 0)
    }

    @Test func aFetchLeavesItsOutcome() {
        let zone = Zone(1)
        let slot = zone.slots
        let p = s3p_provider_t()
        let keys = ["AKIDFIRST", "secret-one", "tok"]
        #expect(s3p_slot_record(slot, [p], [zone.step(S3P_DO_STORE, keys, expires: 5000,
                                                      message: "m")]) == S3P_SAY_NOTICE)
        #expect(zone.keys(0) == keys && slot.pointee.version == 1)
        #expect(slot.pointee.refreshes == 1 && slot.pointee.refreshed == 1000)
        #expect(slot.pointee.verify == 0)   // no S3 to verify with

        // the same keys, the same expiration: not stored, not logged
        #expect(s3p_slot_record(slot, [p], [zone.step(S3P_DO_STORE, keys, expires: 5000,
                                                      message: "m")]) == S3P_SAY_NOTHING)
        #expect(slot.pointee.version == 1 && slot.pointee.refreshes == 2)

        // a failure keeps the keys, and its message (capped)
        let long = String(repeating: "e", count: 300)
        #expect(s3p_slot_record(slot, [p], [zone.step(S3P_DO_RETRY, message: long)])
                == S3P_SAY_ERROR)
        #expect(zone.keys(0) == keys && slot.pointee.failures == 2)
        #expect(slot.pointee.refresh_failures == 1
                && slot.pointee.error_len == Int(S3P_STATUS_ERROR_MAX))
        // a later failure of the streak says nothing
        #expect(s3p_slot_record(slot, [p], [zone.step(S3P_DO_RETRY)]) == S3P_SAY_NOTHING)

        // not the provider's slot any more: logged, nothing written
        #expect(s3p_slot_record(nil, [p], [zone.step(S3P_DO_VERIFIED, message: "ok")])
                == S3P_SAY_INFO)
        #expect(slot.pointee.verification == Int32(S3P_VERIFICATION_UNKNOWN.rawValue))
    }

    @Test func keysAreCappedAndClearedWhenReplaced() {
        let zone = Zone(1)
        let slot = zone.slots
        let p = s3p_provider_t()
        let tooLong = String(repeating: "A", count: Int(S3P_ACCESS_KEY_MAX) + 1)
        #expect(s3p_slot_record(slot, [p], [zone.step(S3P_DO_STORE, [tooLong, "s", ""],
                                                      expires: 5000)]) == S3P_SAY_NOTHING)
        #expect(slot.pointee.version == 0 && zone.keys(0) == ["", "", ""])

        let token = String(repeating: "T", count: Int(S3P_SESSION_TOKEN_MAX))
        _ = s3p_slot_record(slot, [p], [zone.step(S3P_DO_STORE, ["A", "s", token],
                                                  expires: 5000)])
        #expect(zone.keys(0) == ["A", "s", token])
        _ = s3p_slot_record(slot, [p], [zone.step(S3P_DO_STORE, ["AKID2", "s2", ""],
                                                  expires: 5000)])
        #expect(zone.keys(0) == ["AKID2", "s2", ""] && slot.pointee.version == 2)
        #expect(Slot.keys(slot)[7...].allSatisfy { $0 == 0 })
    }

    @Test func aConfigurationSeedsItsKeys() {
        let zone = Zone(1)
        let slot = zone.slots
        var seed = s3p_signing_t()
        seed.access_key = zone.m.str("AKIDSEED")
        seed.secret_key = zone.m.str("s")
        slot.pointee.refresh = 900
        var imds = Self.verifying
        imds.source = S3P_CREDENTIALS_IMDS
        #expect(s3p_slot_start(slot, [imds], &seed) == 0)
        #expect(slot.pointee.verify == 1 && slot.pointee.refresh == 900)
        var profile = s3p_provider_t()
        profile.source = S3P_CREDENTIALS_PROFILE
        profile.assume = 1      // the profile's keys assume a role: fetched
        #expect(s3p_slot_start(slot, [profile], &seed) == 0)
        #expect(slot.pointee.verify == 0 && slot.pointee.version == 0)
        profile.assume = 0
        #expect(s3p_slot_start(slot, [profile], &seed) == 1)
        #expect(slot.pointee.refresh == 0 && slot.pointee.expiration == Int64(S3P_NEVER))
        #expect(slot.pointee.version == 1)
        // a reload with the same keys: nothing new
        var env = s3p_provider_t()
        env.source = S3P_CREDENTIALS_ENV
        #expect(s3p_slot_start(slot, [env], &seed) == 0)
        #expect(slot.pointee.version == 1)
    }

    /// Memory for what s3p_held_renew() resolves: the buffer `data`.
    static let alloc: s3p_alloc_t = { data, size in
        size <= 65536 ? data?.assumingMemoryBound(to: UInt8.self) : nil
    }

    /// A location's settings are resolved again with the slot's keys when
    /// they change or must cap presigned URLs (s3p_held_use(), then
    /// s3p_held_renew()); without keys, a request waits on a cold start,
    /// else it is refused, said once a second.
    @Test func locationsSignWithKeysValidNow() {
        let zone = Zone(1)
        let slot = UnsafePointer(zone.slots)
        var raw = CAPITests.signing(zone.m)
        raw.credentials = S3P_CREDENTIALS_ENV
        var held = s3p_held_t()
        held.raw = raw.settings(zone.m)
        held.configured = zone.m.resolve(raw)
        var err = [UInt8](repeating: 0, count: 256)
        func renew(_ now: Int64) -> s3p_use_t {
            s3p_held_renew(slot, &held, now, Self.alloc, zone.m.buffer(65536), &err, err.count)
        }
        #expect(s3p_held_use(slot, &held, 1000) == S3P_USE_WAIT)      // cold
        zone.slots.pointee.failures = 1
        #expect(s3p_held_use(slot, &held, 1000) == S3P_USE_SAY)
        #expect(s3p_held_use(slot, &held, 1000) == S3P_USE_NONE)      // said
        #expect(s3p_held_use(nil, &held, 1001) == S3P_USE_SAY)
        _ = s3p_slot_record(zone.slots, [s3p_provider_t()],
                            [zone.step(S3P_DO_STORE, ["AKID", "sec", "tok"], expires: 1500)])
        #expect(s3p_held_use(slot, &held, 1000) == S3P_USE_RENEW)
        #expect(renew(1000) == S3P_USE_SIGN && err[0] == 0)
        let first = held.signing
        #expect(Bytes.view(held.signing!.pointee.access_key).elementsEqual("AKID".utf8))
        #expect(Bytes.view(held.signing!.pointee.session_token).elementsEqual("tok".utf8))
        #expect(held.signing!.pointee.expires == 300 && held.expiration == 1500)
        #expect(Bytes.view(held.signing!.pointee.cache_identity)
            .elementsEqual(Bytes.view(held.configured!.pointee.cache_identity)))
        #expect(s3p_held_use(slot, &held, 1000) == S3P_USE_SIGN)
        // presigned URLs never outlive the keys
        #expect(s3p_held_use(slot, &held, 1300) == S3P_USE_RENEW)
        #expect(renew(1300) == S3P_USE_SIGN && held.signing!.pointee.expires == 200)
        #expect(held.signing != first)
        #expect(s3p_held_use(slot, &held, 1500) == S3P_USE_RENEW)
        #expect(renew(1500) == S3P_USE_SAY && held.signing!.pointee.expires == 200)
        // settings that do not resolve: why, and what is held stays
        _ = s3p_slot_record(zone.slots, [s3p_provider_t()],
                            [zone.step(S3P_DO_STORE, ["AKID2", "sec", ""], expires: 3000)])
        let kept = held.signing
        held.raw.endpoint = zone.m.str("ftp://s3.example.com")
        #expect(s3p_held_use(slot, &held, 2000) == S3P_USE_RENEW)
        #expect(renew(2000) == S3P_USE_SAY && err[0] != 0 && held.signing == kept)
        // no room: nothing changes
        #expect(s3p_held_renew(slot, &held, 2000, { _, _ in nil }, nil, &err, err.count)
                == S3P_USE_NONE && err[0] == 0 && held.signing == kept)
    }

    @Test func thePageShowsNoSecret() {
        let zone = Zone(1)
        let slot = zone.slots
        var p = s3p_provider_t()
        p.name = zone.m.str("imds")
        var source = s3p_status_source_t()
        var out = [UInt8](repeating: 0, count: Int(S3P_ACCESS_KEY_MAX + S3P_STATUS_ERROR_MAX))
        #expect(s3p_slot_status(slot, [p], &source, &out) == 0)     // none yet
        #expect(Bytes.view(source.name).elementsEqual("imds".utf8))
        _ = s3p_slot_record(slot, [p], [zone.step(S3P_DO_RETRY, message: "timed out")])
        _ = s3p_slot_record(slot, [p],
                            [zone.step(S3P_DO_STORE, ["AKID", "sec", "tok"], expires: 1500)])
        let n = s3p_slot_status(slot, [p], &source, &out)
        #expect(n == 4 + "timed out".utf8.count)
        #expect(Bytes.view(source.access_key).elementsEqual("AKID".utf8))
        #expect(Bytes.view(source.error).elementsEqual("timed out".utf8))
        #expect(!String(decoding: out[0..<n], as: UTF8.self).contains("sec"))
        #expect(source.expiration == 1500 && source.refreshed == 1000)
        #expect(source.successes == 1 && source.failures == 1 && source.streak == 0)
        // a slot no longer the provider's shows its name alone
        #expect(s3p_slot_status(nil, [p], &source, &out) == 0)
        #expect(source.access_key.len == 0 && source.successes == 0)
        #expect(Bytes.view(source.name).elementsEqual("imds".utf8))
    }
}

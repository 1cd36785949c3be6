// A provider's slot in C's shared zone (s3p_slot_t): which slot each
// provider of a configuration takes, which worker fetches and when, what
// a fetch leaves in it, and the keys a location signs with.  C maps the
// zone and holds its lock around each of these; the slot's bytes are the
// core's to write.

internal import CShim

enum Slot {
    /// A fetch under way for longer, in seconds, is taken over: its
    /// worker is gone, or its exchange hangs.
    static let staleFetch: Int64 = 30

    static let idLength = Int(S3P_PROVIDER_ID_LEN)

    /// S3P_SLOT_KEYS_MAX: the most a slot holds of the three keys.
    static let keysMax = Provider.keyMaxima.reduce(0, +)

    /// The slot's keys: the access key, the secret key and the session
    /// token in a row, their lengths in `len`.  The field is the slot's
    /// last, which Swift does not import (a C array that long): it ends
    /// the slot (SlotTests checks where it starts).
    static func keys(_ s: UnsafeMutablePointer<s3p_slot_t>) -> UnsafeMutableBufferPointer<UInt8> {
        UnsafeMutableBufferPointer(start: keysStart(s), count: keysMax)
    }

    static func keysStart(_ s: UnsafeMutablePointer<s3p_slot_t>) -> UnsafeMutablePointer<UInt8> {
        bytes(UnsafeMutableRawPointer(s) + MemoryLayout<s3p_slot_t>.size - keysMax)
    }

    static func lens(_ s: UnsafeMutablePointer<s3p_slot_t>) -> UnsafeMutableBufferPointer<Int> {
        UnsafeMutableBufferPointer(start: words(&s.pointee.len), count: 3)
    }

    static func id(_ s: UnsafeMutablePointer<s3p_slot_t>) -> UnsafeMutableBufferPointer<UInt8> {
        UnsafeMutableBufferPointer(start: bytes(&s.pointee.id), count: idLength)
    }

    private static func bytes(_ field: UnsafeMutableRawPointer) -> UnsafeMutablePointer<UInt8> {
        field.assumingMemoryBound(to: UInt8.self)
    }

    private static func words(_ field: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Int> {
        field.assumingMemoryBound(to: Int.self)
    }

    /// Each of `ids` (`n` ids in a row) its slot: the one its id holds,
    /// else one that no id of `ids` holds, never used ones first; such a
    /// slot is cleared and gets a new generation, which tells the workers
    /// of an older configuration that still read it to stop.  False when
    /// a slot is missing.
    static func take(
        _ base: UnsafeMutablePointer<s3p_slot_t>, count: Int, _ ids: UnsafeBufferPointer<UInt8>,
        _ index: UnsafeMutableBufferPointer<Int>
    ) -> Bool {
        let n = index.count
        let slots = UnsafeMutableBufferPointer(start: base, count: count)
        var taken = [Bool](repeating: false, count: slots.count)
        func idOf(_ i: Int) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: ids[(i * idLength)..<((i + 1) * idLength)])
        }
        for i in 0..<n {
            index[i] = slots.count
            for j in 0..<slots.count where slots[j].generation != 0
                && id(base + j).elementsEqual(idOf(i))
            {
                index[i] = j
                taken[j] = true
            }
        }
        for i in 0..<n where index[i] == slots.count {
            var k = slots.count
            for j in 0..<slots.count where !taken[j]
                && (k == slots.count || (slots[k].generation != 0 && slots[j].generation == 0))
            {
                k = j
            }
            guard k < slots.count else { return false }
            let slot = base + k
            let generation = slot.pointee.generation &+ 1
            keys(slot).update(repeating: 0)
            slot.pointee = s3p_slot_t()
            slot.pointee.generation = generation
            for (b, byte) in idOf(i).enumerated() { id(slot)[b] = byte }
            index[i] = k
            taken[k] = true
        }
        return true
    }

    /// A configuration starts with the slot: the keys in use are verified
    /// once, if there is an S3 to verify them with; a profile's keys, or
    /// the environment's, as the configuration read them (`seed`, its
    /// first location's), are stored and fetched again at once.  True
    /// when the keys changed.
    static func start(
        _ s: UnsafeMutablePointer<s3p_slot_t>, _ provider: s3p_provider_t,
        _ seed: s3p_signing_t?
    ) -> Bool {
        s.pointee.verify = provider.targets.2.host.len != 0 ? 1 : 0
        guard let seed, provider.assume == 0,
              provider.source == S3P_CREDENTIALS_PROFILE || provider.source == S3P_CREDENTIALS_ENV
        else { return false }
        s.pointee.refresh = 0
        return store(s, [Bytes.view(seed.access_key), Bytes.view(seed.secret_key),
                         Bytes.view(seed.session_token)], expiration: Int64(S3P_NEVER))
    }

    /// Whether process `pid` takes the next fetch at `step`'s `now`: a
    /// refresh when one is due, else a check of the keys in use with S3,
    /// when due; never while another process's fetch is under way and
    /// not stale.  The step starts afresh; a check gets the keys, copied
    /// into `out` (S3P_SLOT_KEYS_MAX bytes).
    static func claim(
        _ s: UnsafeMutablePointer<s3p_slot_t>, pid: Int64,
        _ step: UnsafeMutablePointer<s3p_provider_step_t>, _ out: UnsafeMutablePointer<UInt8>
    ) -> Bool {
        let slot = s.pointee
        let now = step.pointee.now
        guard slot.fetching == 0 || now - slot.fetch_start > staleFetch else { return false }
        let verify = now < slot.refresh && slot.verify != 0 && slot.version != 0
            && slot.expiration > now
        guard now >= slot.refresh || verify else { return false }
        s.pointee.fetching = pid
        s.pointee.fetch_start = now
        step.pointee = s3p_provider_step_t()
        step.pointee.now = now
        step.pointee.event = verify ? S3P_EVENT_VERIFY : S3P_EVENT_START
        step.pointee.expiration = slot.version != 0 ? slot.expiration : 0
        step.pointee.failures = slot.failures
        guard verify else { return true }
        s.pointee.verify = 0
        let lens = lens(s)
        let keys = keys(s)
        var at = 0
        var out3 = [s3p_str_t](repeating: s3p_str_t(), count: 3)
        for i in 0..<3 {
            let n = min(lens[i], keys.count - at)
            for j in 0..<n { out[at + j] = keys[at + j] }
            out3[i] = s3p_str_t(len: n, data: UnsafePointer(out + at))
            at += n
        }
        step.pointee.keys = (out3[0], out3[1], out3[2])
        return true
    }

    /// A fetch's last step into the slot (nil: no longer the provider's):
    /// the keys, the next fetch, the streak, the counters, the last error
    /// or the verdict of S3; how the step's message is logged.
    static func record(
        _ s: UnsafeMutablePointer<s3p_slot_t>?, _ provider: s3p_provider_t,
        _ step: s3p_provider_step_t
    ) -> s3p_say_t {
        var changed = false
        if let s, step.action == S3P_DO_VERIFIED {
            s.pointee.verification = Int32(bitPattern: (step.refused == 1
                ? S3P_VERIFICATION_FAILED : step.refused == 0 ? S3P_VERIFICATION_OK
                : S3P_VERIFICATION_UNKNOWN).rawValue)
            s.pointee.fetching = 0
        } else if let s {
            if step.action == S3P_DO_STORE {
                changed = store(s, [Bytes.view(step.access_key), Bytes.view(step.secret_key),
                                    Bytes.view(step.session_token)], expiration: step.expires)
                s.pointee.refreshes &+= 1
                s.pointee.refreshed = step.now
                if changed && provider.targets.2.host.len != 0 { s.pointee.verify = 1 }
            } else {
                s.pointee.refresh_failures &+= 1
                if step.message.len > 0 { error(s, Bytes.view(step.message)) }
            }
            s.pointee.refresh = step.refresh
            s.pointee.failures = step.streak
            s.pointee.fetching = 0
        }
        guard step.message.len > 0, step.action != S3P_DO_STORE || changed else {
            return S3P_SAY_NOTHING
        }
        return step.action == S3P_DO_RETRY || step.refused == 1 ? S3P_SAY_ERROR
            : step.action == S3P_DO_VERIFIED ? S3P_SAY_INFO : S3P_SAY_NOTICE
    }

    /// The last refresh error, capped at S3P_STATUS_ERROR_MAX.
    private static func error(_ s: UnsafeMutablePointer<s3p_slot_t>,
                              _ message: UnsafeBufferPointer<UInt8>)
    {
        let n = min(message.count, Int(S3P_STATUS_ERROR_MAX))
        let to = bytes(&s.pointee.error)
        for i in 0..<n { to[i] = message[i] }
        s.pointee.error_len = n
    }

    /// The keys a location signs with at `now`, as slices of the slot,
    /// into `env`, and how long its presigned URLs may live
    /// (Provider.presignCap); nil when the slot holds none valid now.
    static func keys(
        _ s: UnsafeMutablePointer<s3p_slot_t>, into env: UnsafeMutablePointer<s3p_environment_t>,
        expires: Int64, window: Int64, now: Int64
    ) -> Int64? {
        let slot = s.pointee
        guard slot.version != 0, slot.expiration > now else { return nil }
        let lens = lens(s)
        let keys = UnsafePointer(keysStart(s))
        guard lens[0] + lens[1] + lens[2] <= keysMax else { return nil }
        env.pointee.access_key_id = s3p_str_t(len: lens[0], data: keys)
        env.pointee.secret_access_key = s3p_str_t(len: lens[1], data: keys + lens[0])
        env.pointee.session_token = s3p_str_t(len: lens[2], data: keys + lens[0] + lens[1])
        return Provider.presignCap(expires: expires, window: window,
                                   expiration: slot.expiration, now: now)
    }

    /// What s3_proxy_status shows of the slot (nil: no longer the
    /// provider's): counters, expiration and verification, and the access
    /// key id and last error copied into `out`, each capped; never the
    /// secret key or the token.  Returns the bytes written.
    static func status(
        _ s: UnsafeMutablePointer<s3p_slot_t>?, into source: inout s3p_status_source_t,
        _ out: UnsafeMutablePointer<UInt8>
    ) -> Int {
        guard let s else { return 0 }
        let slot = s.pointee
        source.expiration = slot.version != 0 ? slot.expiration : 0
        source.refreshed = slot.refreshed
        source.successes = slot.refreshes
        source.failures = slot.refresh_failures
        source.streak = slot.failures
        source.verification = s3p_verification_t(UInt32(bitPattern: slot.verification))
        let key = slot.version != 0 ? min(lens(s)[0], Int(S3P_ACCESS_KEY_MAX)) : 0
        out.update(from: keysStart(s), count: key)
        let error = min(slot.error_len, Int(S3P_STATUS_ERROR_MAX))
        out.advanced(by: key).update(from: bytes(&s.pointee.error), count: error)
        source.access_key = s3p_str_t(len: key, data: out)
        source.error = s3p_str_t(len: error, data: out + key)
        return key + error
    }

    /// Puts `keys` into the slot with their expiration: true, with a new
    /// version, when they changed (Provider.store).
    static func store(
        _ s: UnsafeMutablePointer<s3p_slot_t>, _ keys: [UnsafeBufferPointer<UInt8>],
        expiration: Int64
    ) -> Bool {
        let held = s.pointee.version != 0 && s.pointee.expiration == expiration
        guard Provider.store(keys, held: held, slot: self.keys(s), lens: lens(s)) else {
            return false
        }
        s.pointee.expiration = expiration
        s.pointee.version &+= 1
        return true
    }
}

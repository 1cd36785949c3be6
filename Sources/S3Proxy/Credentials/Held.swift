// What one location's requests sign with in a worker (s3p_held_t): its
// settings resolved with its slot's keys, made again when the keys change
// or when presigned URLs must be capped to the keys' remaining life; a
// request that finds none waits on a cold start, else is refused, and
// that is logged once a second.  C allocates, locks the zone around
// renew(), and keeps what requests hold until they end.

internal import CShim

enum Held {
    /// What a request uses at `now`: the settings held while the slot's
    /// keys are those they were made of, with the same cap, and valid.
    /// Reads the slot without the zone's lock (nil: not the provider's).
    static func use(
        _ slot: UnsafePointer<s3p_slot_t>?, _ held: inout s3p_held_t, now: Int64
    ) -> s3p_use_t {
        let version = slot?.pointee.version ?? 0
        guard version != 0 else { return none(slot, &held, now: now) }
        guard held.signing != nil, version == held.version, let configured = held.configured,
              Provider.presignCap(expires: configured.pointee.expires,
                                  window: configured.pointee.window,
                                  expiration: held.expiration, now: now) == held.capped
        else { return S3P_USE_RENEW }
        return held.expiration > now ? S3P_USE_SIGN : none(slot, &held, now: now)
    }

    /// The settings resolved again with the slot's keys valid now, into
    /// memory from `alloc` (the zone's lock held): SIGN with `held` made
    /// of them, else what use() answers without keys, and why they cannot
    /// sign when resolving failed.  `held` changes only on SIGN.
    static func renew(
        _ slot: UnsafePointer<s3p_slot_t>?, _ held: inout s3p_held_t, now: Int64,
        alloc: s3p_alloc_t, data: UnsafeMutableRawPointer?
    ) -> (s3p_use_t, String?) {
        guard let slot, let configured = held.configured, var env = held.raw.env?.pointee
        else { return (none(slot, &held, now: now), nil) }
        guard let cap = Slot.keys(UnsafeMutablePointer(mutating: slot), into: &env,
                                  expires: configured.pointee.expires,
                                  window: configured.pointee.window, now: now)
        else { return (none(slot, &held, now: now), nil) }
        var settings = held.raw
        if cap > 0 {
            settings.expires = cap
            settings.window = Int64(S3P_UNSET)
        }
        let problem: String? = withUnsafePointer(to: &env) { env in
            settings.env = env
            let head = MemoryLayout<s3p_signing_t>.stride
            let size = head + Settings.bound(raw: settings)
            guard let memory = alloc(data, size) else { return "" }
            let signing = UnsafeMutableRawPointer(memory).bindMemory(to: s3p_signing_t.self,
                                                                     capacity: 1)
            signing.initialize(to: s3p_signing_t())
            if let problem = Settings.resolve(settings, into: signing, out: memory + head,
                                              cap: size - head)
            {
                return problem
            }
            // the cache key's identity: the same when keys rotate
            signing.pointee.cache_identity = configured.pointee.cache_identity
            held.signing = signing
            return nil
        }
        if let problem {
            return (none(slot, &held, now: now), problem.isEmpty ? nil : problem)
        }
        held.version = slot.pointee.version
        held.expiration = slot.pointee.expiration
        held.capped = cap
        return (S3P_USE_SIGN, nil)
    }

    /// No keys valid now: a wait on a cold start (never any keys, no
    /// failure yet), else a refusal, said once a second.
    static func none(
        _ slot: UnsafePointer<s3p_slot_t>?, _ held: inout s3p_held_t, now: Int64
    ) -> s3p_use_t {
        if let slot, slot.pointee.version == 0, slot.pointee.failures == 0 {
            return S3P_USE_WAIT
        }
        guard held.logged != now else { return S3P_USE_NONE }
        held.logged = now
        return S3P_USE_SAY
    }
}

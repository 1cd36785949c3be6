// The C entry points of the credential chain and the providers
// (CShim/include/s3_proxy_core.h): the environment's names, the files'
// paths, each location's source, and one step of a provider's refresh.

internal import CShim

@c @implementation
func s3p_environment_name(_ i: Int) -> UnsafePointer<CChar>? {
    guard i >= 0 && i < Environment.names.count && i < Int(S3P_ENV_VARIABLES) else {
        return nil
    }
    return UnsafeRawPointer(Environment.names[i].utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
func s3p_environment_paths(
    _ env: UnsafeMutablePointer<s3p_environment_t>?, _ out: UnsafeMutablePointer<UInt8>?,
    _ cap: Int
) -> Int32 {
    guard let env, let out else { return S3P_E_SPACE }
    var writer = BufferWriter(base: out, capacity: cap)
    Environment.paths(&env.pointee, into: &writer)
    guard !writer.overflowed else {
        env.pointee.credentials_path = s3p_str_t()
        env.pointee.config_path = s3p_str_t()
        return S3P_E_SPACE
    }
    return S3P_OK
}

@c @implementation
func s3p_provider_configure(
    _ settings: UnsafePointer<s3p_settings_t>?, _ provider: UnsafeMutablePointer<s3p_provider_t>?,
    _ err: UnsafeMutablePointer<UInt8>?, _ errCap: Int
) -> Int32 {
    guard let settings, let provider else { return S3P_E_CONFIG }
    return ErrorMessage.verdict(Chain.configure(settings.pointee, provider), into: err,
                                cap: errCap)
}

@c @implementation
func s3p_provider_verify_target(
    _ provider: UnsafeMutablePointer<s3p_provider_t>?, _ signing: UnsafePointer<s3p_signing_t>?,
    _ conf: UnsafePointer<s3p_config_t>?, _ err: UnsafeMutablePointer<UInt8>?, _ errCap: Int
) -> Int32 {
    guard let provider, let signing, let conf else { return 0 }
    Provider.verifyTarget(provider, signing.pointee, Array(Bytes.view(conf.pointee.bucket)),
                          Bytes.list(conf.pointee.buckets, conf.pointee.nbuckets)
                              .map { $0.bytes })
    guard provider.pointee.targets.2.host.len == 0 else { return 1 }
    ErrorMessage.write("credentials from \""
                       + String(decoding: Bytes.view(provider.pointee.name), as: UTF8.self)
                       + "\" are not verified with S3: no bucket (s3_proxy_bucket, "
                       + "s3_proxy_buckets)", into: err, cap: errCap)
    return 0
}

@c @implementation
func s3p_provider_address(
    _ provider: UnsafePointer<s3p_provider_t>?, _ addr: UnsafePointer<sockaddr>?,
    _ err: UnsafeMutablePointer<UInt8>?, _ errCap: Int
) -> Int32 {
    guard let provider, let addr else { return S3P_E_CONFIG }
    let raw = UnsafeRawPointer(addr)
    let family = Int32(addr.pointee.sa_family)
    let bytes: [UInt8]
    if family == AF_INET {
        bytes = withUnsafeBytes(of: raw.load(as: sockaddr_in.self).sin_addr) { Array($0) }
    } else if family == AF_INET6 {
        bytes = withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
    } else {
        return S3P_OK
    }
    return bytes.withUnsafeBufferPointer {
        ErrorMessage.verdict(Chain.addressProblem(provider.pointee, $0), into: err, cap: errCap)
    }
}

@c @implementation
func s3p_endpoint_problem(
    _ provider: UnsafeMutablePointer<s3p_provider_t>?, _ problem: s3p_endpoint_problem_t,
    _ target: Int32, _ detail: UnsafePointer<CChar>?, _ err: UnsafeMutablePointer<UInt8>?,
    _ errCap: Int
) -> Int32 {
    guard let provider else { return S3P_E_CONFIG }
    var why: [UInt8] = []
    while let detail, detail[why.count] != 0 { why.append(UInt8(bitPattern: detail[why.count])) }
    ErrorMessage.write(Chain.endpointProblem(provider.pointee, problem, Int(target),
                                             String(decoding: why, as: UTF8.self)),
                       into: err, cap: errCap)
    if problem == S3P_ENDPOINT_UNRESOLVED && target == Int32(S3P_TARGET_S3) {
        provider.pointee.targets.2.host.len = 0     // an upstream{} name, say
        return S3P_OK
    }
    return problem == S3P_ENDPOINT_UNREADABLE ? S3P_OK : S3P_E_CONFIG
}

@c @implementation
func s3p_provider_next(
    _ provider: UnsafeMutablePointer<s3p_provider_t>?,
    _ step: UnsafeMutablePointer<s3p_provider_step_t>?, _ out: UnsafeMutablePointer<UInt8>?,
    _ cap: Int
) {
    guard let provider, let step, let out else { return }
    Provider.next(provider, step, out, cap)
}

@c @implementation
func s3p_presign_cap(_ expires: Int64, _ window: Int64, _ expiration: Int64, _ now: Int64)
    -> Int64
{
    Provider.presignCap(expires: expires, window: window, expiration: expiration, now: now)
}

@c @implementation
func s3p_slots_take(
    _ slots: UnsafeMutablePointer<s3p_slot_t>?, _ nslots: Int,
    _ providers: UnsafePointer<UnsafeMutablePointer<s3p_provider_t>?>?, _ n: Int
) -> Int32 {
    guard let slots, let providers, n <= nslots else { return S3P_E_SPACE }
    var ids: [UInt8] = []
    var taking: [UnsafeMutablePointer<s3p_provider_t>] = []
    for i in 0..<n {
        guard let p = providers[i] else { return S3P_E_SPACE }
        withUnsafeBytes(of: &p.pointee.id) { ids.append(contentsOf: $0) }
        taking.append(p)
    }
    var index = [Int](repeating: 0, count: n)
    let taken = ids.withUnsafeBufferPointer { ids in
        index.withUnsafeMutableBufferPointer {
            Slot.take(slots, count: nslots, ids, $0)
        }
    }
    guard taken else { return S3P_E_SPACE }
    for (p, slot) in zip(taking, index) { p.pointee.slot = slot }
    return S3P_OK
}

@c @implementation
func s3p_slot_start(
    _ slot: UnsafeMutablePointer<s3p_slot_t>?, _ provider: UnsafePointer<s3p_provider_t>?,
    _ seed: UnsafePointer<s3p_signing_t>?
) -> Int32 {
    guard let slot, let provider else { return 0 }
    return Slot.start(slot, provider.pointee, seed?.pointee) ? 1 : 0
}

@c @implementation
func s3p_slot_claim(
    _ slot: UnsafeMutablePointer<s3p_slot_t>?, _ pid: Int64,
    _ step: UnsafeMutablePointer<s3p_provider_step_t>?, _ keys: UnsafeMutablePointer<UInt8>?
) -> Int32 {
    guard let slot, let step, let keys else { return 0 }
    return Slot.claim(slot, pid: pid, step, keys) ? 1 : 0
}

@c @implementation
func s3p_slot_record(
    _ slot: UnsafeMutablePointer<s3p_slot_t>?, _ provider: UnsafePointer<s3p_provider_t>?,
    _ step: UnsafePointer<s3p_provider_step_t>?
) -> s3p_say_t {
    guard let provider, let step else { return S3P_SAY_NOTHING }
    return Slot.record(slot, provider.pointee, step.pointee)
}

@c @implementation
func s3p_held_use(
    _ slot: UnsafePointer<s3p_slot_t>?, _ held: UnsafeMutablePointer<s3p_held_t>?, _ now: Int64
) -> s3p_use_t {
    guard let held else { return S3P_USE_NONE }
    return Held.use(slot, &held.pointee, now: now)
}

@c @implementation
func s3p_held_renew(
    _ slot: UnsafePointer<s3p_slot_t>?, _ held: UnsafeMutablePointer<s3p_held_t>?, _ now: Int64,
    _ alloc: s3p_alloc_t?, _ data: UnsafeMutableRawPointer?,
    _ err: UnsafeMutablePointer<UInt8>?, _ errCap: Int
) -> s3p_use_t {
    guard let held, let alloc else { return S3P_USE_NONE }
    let (use, problem) = Held.renew(slot, &held.pointee, now: now, alloc: alloc, data: data)
    ErrorMessage.write(problem ?? "", into: err, cap: errCap)
    return use
}

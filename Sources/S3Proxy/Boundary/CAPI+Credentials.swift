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
    _ bucket: UnsafePointer<s3p_str_t>?, _ buckets: UnsafePointer<s3p_str_t>?, _ n: Int
) {
    guard let provider, let signing else { return }
    Provider.verifyTarget(provider, signing.pointee,
                          bucket.map { Array(Bytes.view($0.pointee)) } ?? [],
                          Bytes.list(buckets, n).map { $0.bytes })
}

@c @implementation
func s3p_provider_address(
    _ provider: UnsafePointer<s3p_provider_t>?, _ addr: UnsafePointer<UInt8>?, _ len: Int,
    _ err: UnsafeMutablePointer<UInt8>?, _ errCap: Int
) -> Int32 {
    guard let provider, let addr else { return S3P_E_CONFIG }
    return ErrorMessage.verdict(
        Chain.addressProblem(provider.pointee, UnsafeBufferPointer(start: addr, count: len)),
        into: err, cap: errCap)
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
func s3p_store_keys(
    _ keys: UnsafePointer<s3p_str_t>?, _ held: Int32, _ slot: UnsafeMutablePointer<UInt8>?,
    _ lens: UnsafeMutablePointer<Int>?
) -> Int32 {
    guard let keys, let slot, let lens else { return 0 }
    let stored = Provider.store(
        (0..<3).map { Bytes.view(keys[$0]) }, held: held != 0,
        slot: UnsafeMutableBufferPointer(start: slot, count: Provider.keyMaxima.reduce(0, +)),
        lens: UnsafeMutableBufferPointer(start: lens, count: 3))
    return stored ? 1 : 0
}

// The C entry point that reads the environment once per configuration
// (CShim/include/s3_proxy_core.h): which variables is the core's.

internal import CShim

@c @implementation
func s3p_environment_read(
    _ env: UnsafeMutablePointer<s3p_environment_t>?,
    _ get: (@convention(c) (UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>?)?,
    _ alloc: s3p_alloc_t?, _ data: UnsafeMutableRawPointer?
) -> Int32 {
    guard let env, let get, let alloc else { return S3P_E_CONFIG }
    var values: [s3p_str_t] = []
    for name in Environment.names.prefix(Int(S3P_ENV_VARIABLES)) {
        let cName = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        guard let value = get(cName), value.pointee != 0 else {
            values.append(s3p_str_t())
            continue
        }
        var len = 0
        while value[len] != 0 { len += 1 }
        guard let copy = alloc(data, len) else { return S3P_E_SPACE }
        UnsafeMutableRawPointer(copy).copyMemory(from: value, byteCount: len)
        values.append(s3p_str_t(len: len, data: copy))
    }
    // the first S3P_ENV_VARIABLES fields are the variables, in order
    withUnsafeMutableBytes(of: &env.pointee) { fields in
        for (i, value) in values.enumerated() {
            fields.storeBytes(of: value, toByteOffset: i * MemoryLayout<s3p_str_t>.stride,
                              as: s3p_str_t.self)
        }
    }
    let e = env.pointee
    let cap = 2 * e.home.len + e.credentials_file_name.len + e.config_file_name.len
        + 2 * "/.aws/credentials".utf8.count + 2
    guard let out = alloc(data, cap) else { return S3P_E_SPACE }
    var writer = BufferWriter(base: out, capacity: cap)
    Environment.paths(&env.pointee, into: &writer)
    return writer.overflowed ? S3P_E_SPACE : S3P_OK
}

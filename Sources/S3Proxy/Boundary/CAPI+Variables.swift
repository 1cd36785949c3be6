// The C entry points of the $s3_proxy_* variables (s3_proxy_core.h).

internal import CShim

@c @implementation
func s3p_variable_name(
    _ index: UInt32, _ name: UnsafeMutablePointer<s3p_str_t>?,
    _ flags: UnsafeMutablePointer<UInt32>?
) -> Int32 {
    guard let variable = Variable(rawValue: index), let name, let flags else { return 0 }
    name.pointee = s3p_str_t(len: variable.name.utf8CodeUnitCount, data: variable.name.utf8Start)
    flags.pointee = variable.unhashed ? UInt32(S3P_VARIABLE_NOHASH) : 0
    return 1
}

@c @implementation
func s3p_variable(
    _ var: UnsafePointer<s3p_variable_t>?, _ alloc: s3p_alloc_t?,
    _ data: UnsafeMutableRawPointer?, _ value: UnsafeMutablePointer<s3p_str_t>?
) -> Int32 {
    guard let r = `var`, let alloc, let value else { return S3P_E_CONFIG }
    value.pointee = s3p_str_t()
    guard let variable = Variable(rawValue: r.pointee.index) else { return S3P_OK }
    switch variable.value(r.pointee) {
    case .none:
        return S3P_OK
    case .bytes(let bytes):
        value.pointee = bytes
    case .text(let text):
        value.pointee = s3p_str_t(len: text.utf8CodeUnitCount, data: text.utf8Start)
    case .nginx(let name):
        value.pointee = s3p_str_t(len: name.utf8CodeUnitCount, data: name.utf8Start)
        return S3P_VARIABLE_NGINX
    case .cacheKey(let method, let key):
        // "GET https://host/bucket/key?query us-east-1 env:<hash> s3"
        let verb = method.map { s3p_str_t(len: $0.utf8CodeUnitCount, data: $0.utf8Start) }
            ?? r.pointee.method
        guard let out = alloc(data, verb.len + 1 + key.len) else { return S3P_E_SPACE }
        var writer = BufferWriter(base: out, capacity: verb.len + 1 + key.len)
        writer.write(verb)
        writer.write(UInt8(ascii: " "))
        writer.write(key)
        value.pointee = s3p_str_t(len: writer.count, data: out)
    case .seconds(let seconds):
        guard let out = alloc(data, 19) else { return S3P_E_SPACE }
        var writer = BufferWriter(base: out, capacity: 19)
        var divisor: Int64 = 1
        while seconds / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            writer.write(UInt8(ascii: "0") &+ UInt8(seconds / divisor % 10))
            divisor /= 10
        }
        value.pointee = s3p_str_t(len: writer.count, data: out)
    }
    return S3P_OK
}

// The upstreams of a location, for nginx's configuration (s3_proxy_core.h).

internal import CShim

@c @implementation
func s3p_upstreams(
    _ settings: UnsafePointer<s3p_settings_t>?, _ bucket: UnsafePointer<s3p_str_t>?,
    _ buckets: UnsafePointer<s3p_str_t>?, _ nbuckets: Int, _ resolve: Int32,
    _ tried: UnsafePointer<s3p_str_t>?, _ ntried: Int,
    _ out: UnsafeMutablePointer<s3p_upstream_t>?, _ n: Int,
    _ buf: UnsafeMutablePointer<UInt8>?, _ cap: Int, _ count: UnsafeMutablePointer<Int>?
) -> Int32 {
    guard let settings, let out, let buf, let count else { return S3P_E_CONFIG }
    var writer = BufferWriter(base: buf, capacity: cap)
    var space = false
    let list = buckets.map { UnsafeBufferPointer(start: $0, count: nbuckets) }
        ?? UnsafeBufferPointer(start: nil, count: 0)
    guard let written = Upstreams.write(
        settings.pointee, bucket: bucket?.pointee ?? s3p_str_t(),
        buckets: list, resolve: resolve != 0,
        into: UnsafeMutableBufferPointer(start: out, count: n),
        writer: &writer, space: &space)
    else {
        return space ? S3P_E_SPACE : S3P_E_CONFIG
    }
    // the hosts tried before are left out
    var kept = 0
    for i in 0..<written where !Bytes.list(tried, ntried).contains(where: {
        Bytes.view($0).elementsEqual(Bytes.view(out[i].name))
    }) {
        out[kept] = out[i]
        kept += 1
    }
    count.pointee = kept
    return S3P_OK
}

// The upstreams of a location, for nginx's configuration (s3_proxy_core.h).

internal import CShim

@c @implementation
func s3p_upstreams(
    _ settings: UnsafePointer<s3p_settings_t>?, _ resolve: Int32,
    _ tried: UnsafePointer<s3p_str_t>?, _ ntried: Int,
    _ alloc: s3p_alloc_t?, _ data: UnsafeMutableRawPointer?,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<s3p_upstream_t>?>?,
    _ count: UnsafeMutablePointer<Int>?
) -> Int32 {
    guard let settings, let alloc, let out, let count else { return S3P_E_CONFIG }
    out.pointee = nil
    count.pointee = 0
    // the allowlist, as the location's configuration takes it
    var conf = s3p_config_t()
    guard conf.take(settings.pointee, allocate: { StringList.allocate($0, alloc, data) })
    else {
        return S3P_E_SPACE
    }
    // room enough: one entry and S3P_UPSTREAM_MAX bytes per host
    let n = conf.nbuckets + 1
    let entries = n * MemoryLayout<s3p_upstream_t>.stride
    guard let memory = alloc(data, entries + n * Int(S3P_UPSTREAM_MAX)) else {
        return S3P_E_SPACE
    }
    let list = UnsafeMutableRawPointer(memory).bindMemory(to: s3p_upstream_t.self, capacity: n)
    var writer = BufferWriter(base: memory + entries, capacity: n * Int(S3P_UPSTREAM_MAX))
    var space = false
    guard let written = Upstreams.write(
        settings.pointee, bucket: conf.bucket,
        buckets: Bytes.list(conf.buckets, conf.nbuckets), resolve: resolve != 0,
        into: UnsafeMutableBufferPointer(start: list, count: n),
        writer: &writer, space: &space)
    else {
        return space ? S3P_E_SPACE : S3P_E_CONFIG
    }
    // the hosts tried before are left out
    var kept = 0
    for i in 0..<written where !Bytes.list(tried, ntried).contains(where: {
        Bytes.view($0).elementsEqual(Bytes.view(list[i].name))
    }) {
        list[kept] = list[i]
        kept += 1
    }
    out.pointee = list
    count.pointee = kept
    return S3P_OK
}

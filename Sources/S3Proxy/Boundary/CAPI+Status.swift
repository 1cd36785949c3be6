// The C entry point of the status page (CShim/include/s3_proxy_core.h).

internal import CShim

@c @implementation
func s3p_status(
    _ status: UnsafePointer<s3p_status_t>?, _ alloc: s3p_alloc_t?,
    _ data: UnsafeMutableRawPointer?, _ page: UnsafeMutablePointer<s3p_str_t>?,
    _ contentType: UnsafeMutablePointer<UnsafePointer<CChar>?>?
) -> Int32 {
    guard let status, let alloc, let page, let contentType else { return S3P_E_CONFIG }
    page.pointee = s3p_str_t()
    let view = StatusPage(status.pointee)
    let format = StatusPage.format(query: Bytes.view(status.pointee.query),
                                   accept: Bytes.view(status.pointee.accept))
    let body = format == .prometheus ? view.prometheus() : view.json()
    let type = format == .prometheus ? StatusPage.prometheusType : StatusPage.jsonType
    guard let out = alloc(data, body.count) else { return S3P_E_SPACE }
    body.withUnsafeBytes { bytes in
        if let start = bytes.baseAddress {
            UnsafeMutableRawPointer(out).copyMemory(from: start, byteCount: bytes.count)
        }
    }
    page.pointee = s3p_str_t(len: body.count, data: out)
    contentType.pointee = UnsafeRawPointer(type.utf8Start).assumingMemoryBound(to: CChar.self)
    return S3P_OK
}

@c @implementation
func s3p_status_count(
    _ event: UnsafePointer<s3p_status_event_t>?, _ out: UnsafeMutablePointer<Int>?
) -> Int {
    guard let event, let out else { return 0 }
    return StatusCount.indexes(event.pointee, into: out)
}

@c @implementation
func s3p_status_rows(
    _ locations: UnsafeMutablePointer<s3p_status_location_t>?, _ n: Int,
    _ rows: UnsafeMutablePointer<s3p_status_rows_t>?
) {
    guard let locations, let rows else { return }
    // s3p_status_rows_t: `len` (size_t each), then `key` (bytes, unpadded)
    let base = UnsafeMutableRawPointer(rows)
    let lens = UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: Int.self),
                                          count: StatusRows.count)
    let keys = UnsafeMutableRawBufferPointer(
        start: base + StatusRows.count * MemoryLayout<Int>.stride,
        count: StatusRows.count * StatusRows.keyMax)
    for i in 0..<n {
        locations[i].row = StatusRows.row(StatusRows.key(locations[i]), lens: lens, keys: keys)
    }
}

@c @implementation
func s3p_status_location(
    _ conf: UnsafePointer<s3p_config_t>?, _ name: UnsafePointer<s3p_str_t>?,
    _ bucket: UnsafePointer<s3p_str_t>?, _ out: UnsafeMutablePointer<s3p_status_location_t>?
) {
    guard let conf, let name, let out else { return }
    StatusLocation.fill(conf.pointee, name: name.pointee, bucket: bucket?.pointee ?? s3p_str_t(),
                        into: out)
}

@c @implementation
func s3p_slot_status(
    _ slot: UnsafePointer<s3p_slot_t>?, _ provider: UnsafePointer<s3p_provider_t>?,
    _ source: UnsafeMutablePointer<s3p_status_source_t>?, _ out: UnsafeMutablePointer<UInt8>?
) -> Int {
    guard let provider, let source, let out else { return 0 }
    source.pointee = s3p_status_source_t()
    source.pointee.name = provider.pointee.name
    return Slot.status(slot.map { UnsafeMutablePointer(mutating: $0) }, into: &source.pointee,
                       out)
}

// libFuzzer entry point: S3's ListObjectsV2 answers rendered as a folder
// listing, through the C entry point nginx's listing filter calls,
// s3p_render_listing().  Built with `make fuzz`:
//   swiftc -sanitize=fuzzer,address -D S3P_FUZZ Sources/S3Proxy/**.swift
//       Tests/Fuzz/FuzzListing.swift
//
// Input layout: FLAGS FOLDER \n XML; FLAGS one byte (bit 0: a later page,
// S3P_RENDER_LISTING_MORE; bit 1: a client base path of its own; bit 2:
// the key prefix "users/fuzz/" (s3_proxy_prefix); bit 3: with it, S3's
// XML made relative to it, S3P_RENDER_LISTING_XML), FOLDER the folder's
// key, XML the rest.  Made relative, the XML is checked to hold no key
// or prefix outside the prefix's subtree: read again, none begins with
// the prefix's own first segment.
// Beyond "does not crash", each answer is checked for what must hold:
// - it is S3P_OK, with 200, or 404 (and nginx's 404 page) for an empty
//   first page;
// - the page is allocated once, at its exact size, and stays within the
//   bound S3P_LISTING_ROWS rows of S3P_KEY_MAX-byte keys give;
// - it holds no control bytes but line feeds, is valid UTF-8 when the
//   XML and the folder are (S3's keys are), and no key can open an
//   element: every `<` starts one of the page's own tags.

internal import CShim

private final class Allocations {
    var sizes: [Int] = []
    var buffer: UnsafeMutablePointer<UInt8>?
    deinit { buffer?.deallocate() }
}

private let allocate: s3p_alloc_t = { data, size in
    let allocations = Unmanaged<Allocations>.fromOpaque(data!).takeUnretainedValue()
    allocations.sizes.append(size)
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(size, 1))
    allocations.buffer = buffer
    return buffer
}

/// The tags the page is made of: anything else after a `<` is a key or
/// text that escaped.
private let tags: [[UInt8]] = [
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "p", "table",
    "thead", "tbody", "tr", "th", "td", "a",
].map { Array($0.utf8) }

public func fuzzListing(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let flags = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let parts = input.split(separator: UInt8(ascii: "\n"), maxSplits: 1,
                            omittingEmptySubsequences: false)
    let folder = parts.count > 0 ? Array(parts[0]) : []
    let xml = parts.count > 1 ? Array(parts[1]) : []
    let bucket = Array("fuzz-bucket".utf8)
    let base = Array("/mount/".utf8)

    let allocations = Allocations()
    var page = s3p_str_t()
    var status: Int32 = 0
    let prefix = Array("users/fuzz/".utf8)
    let relative = flags & 12 == 12
    let render = relative ? S3P_RENDER_LISTING_XML
        : flags & 1 != 0 ? S3P_RENDER_LISTING_MORE : S3P_RENDER_LISTING
    let rc = bucket.withUnsafeBufferPointer { b in
        folder.withUnsafeBufferPointer { k in
            base.withUnsafeBufferPointer { p in
                xml.withUnsafeBufferPointer { x in
                    var result = s3p_result_t()
                    result.action = S3P_ACTION_PROXY
                    result.render = render
                    result.bucket = s3p_str_t(len: b.count, data: b.baseAddress)
                    result.key = s3p_str_t(len: k.count, data: k.baseAddress)
                    if flags & 2 != 0 {
                        result.base = s3p_str_t(len: p.count, data: p.baseAddress)
                    }
                    return prefix.withUnsafeBufferPointer { q in
                        if flags & 4 != 0 {
                            result.prefix = s3p_str_t(len: q.count, data: q.baseAddress)
                        }
                        return s3p_render_listing(
                            &result, x.baseAddress, x.count, allocate,
                            Unmanaged.passUnretained(allocations).toOpaque(), &page, &status)
                    }
                }
            }
        }
    }
    if relative {
        precondition(rc == S3P_OK || rc == S3P_E_CONFIG, "answered \(rc)")
        guard rc == S3P_OK else { return 0 }
        precondition(status == 200, "status \(status)")
        let out = UnsafeBufferPointer(start: page.data, count: page.len)
        var reader = XMLReader(out)
        while true {
            switch reader.next() {
            case .start: continue
            case .end(let value):
                if reader.at("Key", in: "Contents") || reader.at("Prefix", in: "CommonPrefixes") {
                    precondition(!value.starts(with: Array("users/".utf8)),
                                 "a key of the whole bucket")
                }
            case .finished, .truncated, .malformed: return 0
            }
        }
    }
    precondition(rc == S3P_OK, "s3p_render_listing answered \(rc)")
    precondition(allocations.sizes.count <= 1, "the page was allocated more than once")
    precondition(allocations.sizes == [page.len]
                 && page.data == UnsafePointer(allocations.buffer), "not the exact size")
    if status == 404 {
        precondition(render == S3P_RENDER_LISTING, "a later page answered 404")
        return 0
    }
    precondition(status == 200, "status \(status)")
    precondition(page.len <= Int(S3P_LISTING_ROWS) * 10_500 + 16_384 + 4 * folder.count
                 * folder.count, "beyond the bound")

    let html = Array(UnsafeBufferPointer(start: page.data, count: page.len))
    // Each valid on its own: joined, two invalid halves can look valid.
    if String(validating: xml, as: UTF8.self) != nil
        && String(validating: folder, as: UTF8.self) != nil
    {
        precondition(String(validating: html, as: UTF8.self) != nil, "not UTF-8")
    }
    precondition(!html.contains { ($0 < 0x20 && $0 != 0x0a) || $0 == 0x7f }, "control byte")
    for (index, byte) in html.enumerated() where byte == UInt8(ascii: "<") {
        var name = html[(index + 1)...].prefix { $0 != 0x20 && $0 != UInt8(ascii: ">") }
        if name.first == UInt8(ascii: "/") { name = name.dropFirst() }
        precondition(tags.contains { $0.elementsEqual(name) },
                     "an element the page does not make: <\(String(decoding: name, as: UTF8.self))")
    }
    return 0
}

// The C entry points declared in CShim/include/s3_proxy_core.h.  Each one
// stays thin: it copies the inputs out of C memory, calls internal Swift
// code, and writes the answer into the buffer the caller allocated.

internal import CShim

@c @implementation
func s3p_output_bound(
    _ conf: UnsafePointer<s3p_config_t>?, _ req: UnsafePointer<s3p_request_t>?
) -> Int {
    guard let conf, let req else { return 0 }
    return Pipeline.outputBound(conf, req.pointee)
}

@c @implementation
func s3p_handle(
    _ conf: UnsafePointer<s3p_config_t>?,
    _ req: UnsafePointer<s3p_request_t>?,
    _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int,
    _ result: UnsafeMutablePointer<s3p_result_t>?
) -> Int32 {
    guard let conf, let req, let out, let result else { return S3P_E_CONFIG }
    result.pointee = s3p_result_t()
    result.pointee.max_age = -1
    result.pointee.allowed = -1
    // an escaped path first, what the pipeline writes after it
    let room = RequestTarget.room(req.pointee)
    guard room <= cap else { return S3P_E_SPACE }
    let target = RequestTarget(req.pointee, out: out)
    return Pipeline(conf: conf).handle(IncomingRequest(req.pointee, target), out: out + room,
                                       cap: cap - room, result: result)
}

@c @implementation
func s3p_bucket_root(
    _ conf: UnsafePointer<s3p_config_t>?, _ req: UnsafePointer<s3p_request_t>?
) -> Int32 {
    guard let conf, let req else { return 0 }
    return LocationPolicy(conf: conf).isBucketRoot(IncomingRequest(req.pointee)) ? 1 : 0
}

@c @implementation
func s3p_signing_bound(_ settings: UnsafePointer<s3p_settings_t>?) -> Int {
    guard let settings else { return 0 }
    return Settings.bound(raw: settings.pointee)
}

@c @implementation
func s3p_signing_resolve(
    _ settings: UnsafePointer<s3p_settings_t>?,
    _ signing: UnsafeMutablePointer<s3p_signing_t>?,
    _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int,
    _ err: UnsafeMutablePointer<UInt8>?, _ errCap: Int
) -> Int32 {
    guard let settings, let signing, let out else { return S3P_E_CONFIG }
    return ErrorMessage.verdict(
        Settings.resolve(settings.pointee, into: signing, out: out, cap: cap),
        into: err, cap: errCap)
}

@c @implementation
func s3p_settings_merge(
    _ conf: UnsafeMutablePointer<s3p_settings_t>?, _ prev: UnsafePointer<s3p_settings_t>?
) {
    guard let conf, let prev else { return }
    conf.pointee.inherit(prev.pointee)
}

@c @implementation
func s3p_settings_same(
    _ a: UnsafePointer<s3p_settings_t>?, _ b: UnsafePointer<s3p_settings_t>?
) -> Int32 {
    guard let a, let b else { return 0 }
    return a.pointee.same(as: b.pointee) ? 1 : 0
}

@c @implementation
func s3p_config_check(
    _ conf: UnsafePointer<s3p_config_t>?, _ err: UnsafeMutablePointer<UInt8>?,
    _ cap: Int
) -> Int32 {
    guard let conf = conf?.pointee else { return S3P_E_CONFIG }
    return ErrorMessage.verdict(LocationCheck.problem(conf), into: err, cap: cap)
}

/// The checks of a location's own settings.
enum LocationCheck {
    static func problem(_ conf: s3p_config_t) -> String? {
        // a list (S3_PROXY_BUCKETS, commas alone) that allows no bucket
        if conf.buckets != nil && conf.nbuckets == 0 {
            return "S3_PROXY_BUCKETS names no bucket"
        }
        guard let signing = conf.signing,
              PreparedParts(signing.pointee.prepared) != nil
        else {
            return "the signing settings are not resolved"
        }
        if conf.mount.len > 0, let problem = Rules.mountProblem(conf.mount.bytes) {
            return "the location's prefix " + quoted(conf.mount) + " " + problem
        }
        let virtual = signing.pointee.addressing == S3P_ADDRESSING_VIRTUAL
        // A request's value must never choose where it goes: virtual-hosted
        // addressing would put the bucket in the host connected to.
        if virtual && conf.per_request & UInt32(S3P_PER_REQUEST_BUCKET) != 0 {
            return "takes a bucket from variables (s3_proxy_bucket) with path-style "
                + "addressing only, so that requests go to the endpoint's host "
                + "whatever the value: remove \"s3_proxy_addressing virtual\""
        }
        for entry in Bytes.list(conf.buckets, conf.nbuckets) {
            if let problem = BucketName.problem(entry.bytes) {
                return "the allowed bucket " + quoted(entry) + " " + problem
            }
            if virtual, let problem = BucketName.hostProblem(entry.bytes, signing.pointee) {
                return "the allowed bucket " + quoted(entry) + " " + problem
            }
        }
        if conf.bucket.len > 0 {
            if let problem = BucketName.problem(conf.bucket.bytes) {
                return "the bucket " + quoted(conf.bucket) + " " + problem
            }
            if virtual, let problem = BucketName.hostProblem(conf.bucket.bytes, signing.pointee)
            {
                return "the bucket " + quoted(conf.bucket) + " " + problem
            }
            let allowed = Bytes.list(conf.buckets, conf.nbuckets)
            if conf.buckets != nil
                && !allowed.contains(where: { $0.bytes == conf.bucket.bytes })
            {
                return "the bucket " + quoted(conf.bucket)
                    + " is not among the buckets allowed (s3_proxy_buckets)"
            }
        }
        for entry in Bytes.list(conf.params, conf.nparams) {
            if let problem = Rules.parameterProblem(entry.bytes) {
                return "the allowed query parameter " + quoted(entry) + " " + problem
            }
        }
        for entry in Bytes.list(conf.ignore_params, conf.nignore_params) {
            if let problem = Rules.parameterProblem(entry.bytes) {
                return "the ignored query parameter " + quoted(entry) + " " + problem
            }
        }
        if conf.index.len > 0, let problem = Rules.indexProblem(conf.index.bytes) {
            return "the index page " + quoted(conf.index) + " " + problem
        }
        // proxy_pass with variables resolves a name at request time, and
        // only through "resolver"; nginx itself would say so only then
        if conf.resolver == 0, let host = Upstreams.namedHost(conf, signing.pointee) {
            return "reaches the endpoint \"" + String(decoding: host, as: UTF8.self)
                + "\" by name: add a \"resolver\" to the http, server or location block"
        }
        return nil
    }

    private static func quoted(_ s: s3p_str_t) -> String {
        "\"" + String(decoding: s.bytes, as: UTF8.self) + "\""
    }
}

// A location directive read where it stands, and what a location's raw
// settings decide.

@c @implementation
func s3p_settings_init(_ settings: UnsafeMutablePointer<s3p_settings_t>?) {
    settings?.pointee = .unset
}

@c @implementation
func s3p_settings_directive(
    _ settings: UnsafeMutablePointer<s3p_settings_t>?, _ args: UnsafePointer<s3p_str_t>?,
    _ n: Int, _ alloc: s3p_alloc_t?, _ data: UnsafeMutableRawPointer?,
    _ what: UnsafeMutablePointer<UInt32>?, _ err: UnsafeMutablePointer<UInt8>?, _ cap: Int
) -> Int32 {
    guard let settings, let alloc, let what else { return S3P_E_CONFIG }
    what.pointee = 0
    let reading = Directive.read(Array(Bytes.list(args, n)), into: &settings.pointee) {
        StringList.allocate($0, alloc, data)
    }
    switch reading {
    case .read(let decidesWhere, let warning):
        if decidesWhere { what.pointee |= UInt32(S3P_DIRECTIVE_WHERE) }
        if let warning {
            what.pointee |= UInt32(S3P_DIRECTIVE_WARN)
            ErrorMessage.write(warning, into: err, cap: cap)
        }
        return S3P_OK
    case .refused(let message):
        return ErrorMessage.verdict(message, into: err, cap: cap)
    case .noMemory:
        return S3P_E_SPACE
    }
}

@c @implementation
func s3p_config_settings(
    _ conf: UnsafeMutablePointer<s3p_config_t>?, _ settings: UnsafePointer<s3p_settings_t>?,
    _ alloc: s3p_alloc_t?, _ data: UnsafeMutableRawPointer?
) -> Int32 {
    guard let conf, let settings, let alloc else { return S3P_E_CONFIG }
    return conf.pointee.take(settings.pointee) { StringList.allocate($0, alloc, data) }
        ? S3P_OK : S3P_E_SPACE
}

/// Memory for a list of strings, from C's allocator.
enum StringList {
    static func allocate(
        _ count: Int, _ alloc: s3p_alloc_t, _ data: UnsafeMutableRawPointer?
    ) -> UnsafeMutablePointer<s3p_str_t>? {
        guard let memory = alloc(data, count * MemoryLayout<s3p_str_t>.stride) else {
            return nil
        }
        return UnsafeMutableRawPointer(memory).bindMemory(to: s3p_str_t.self, capacity: count)
    }
}

@c @implementation
func s3p_location(
    _ flags: UInt32, _ name: UnsafePointer<s3p_str_t>?, _ mount: UnsafeMutablePointer<s3p_str_t>?,
    _ err: UnsafeMutablePointer<UInt8>?, _ cap: Int
) -> Int32 {
    guard let name, let mount else { return S3P_E_CONFIG }
    let location = Location(flags: flags, name: Bytes.view(name.pointee))
    mount.pointee = location.mount(outer: mount.pointee)
    return ErrorMessage.verdict(location.snippetProblem, into: err, cap: cap)
}

/// A message for C: truncated to the buffer and NUL-terminated.
enum ErrorMessage {
    /// S3P_OK without a problem; otherwise S3P_E_CONFIG, with the problem
    /// written into `err`.
    static func verdict(
        _ problem: String?, into err: UnsafeMutablePointer<UInt8>?, cap: Int
    ) -> Int32 {
        guard let problem else { return S3P_OK }
        write(problem, into: err, cap: cap)
        return S3P_E_CONFIG
    }

    static func write(_ text: String, into err: UnsafeMutablePointer<UInt8>?, cap: Int) {
        guard let err, cap > 0 else { return }
        var message = Array(text.utf8)
        if message.count > cap - 1 {
            message.removeLast(message.count - (cap - 1))
        }
        message.append(0)
        err.update(from: message, count: message.count)
    }
}

@c @implementation
func s3p_render_listing(
    _ result: UnsafePointer<s3p_result_t>?, _ xml: UnsafePointer<UInt8>?,
    _ xmlLen: Int, _ alloc: s3p_alloc_t?, _ data: UnsafeMutableRawPointer?,
    _ page: UnsafeMutablePointer<s3p_str_t>?, _ status: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let result = result?.pointee, let alloc, let page, let status else {
        return S3P_E_CONFIG
    }
    page.pointee = s3p_str_t()
    guard xmlLen <= Int(S3P_LISTING_XML_MAX) else { return S3P_E_SPACE }
    let input = UnsafeBufferPointer(start: xml, count: xml == nil ? 0 : xmlLen)
    guard let (html, notFound) = AnswerBody.listing(result, xml: input) else {
        return S3P_E_CONFIG
    }
    guard let stored = AnswerBody.store(html, alloc, data) else { return S3P_E_SPACE }
    page.pointee = stored
    status.pointee = notFound ? 404 : 200
    return S3P_OK
}

// MARK: - Moving bytes across the boundary

extension s3p_str_t {
    /// A copy of the bytes (empty for a NULL pointer).
    var bytes: [UInt8] {
        guard let data, len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: len))
    }
}

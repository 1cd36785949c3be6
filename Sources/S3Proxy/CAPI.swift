// The C entry points declared in CShim/include/s3_proxy_core.h.  Each one
// stays thin: it copies the inputs out of C memory, calls internal Swift
// code, and writes the answer into the buffer the caller allocated.

internal import CShim

@c @implementation
func s3p_output_bound(
    _ conf: UnsafePointer<s3p_config_t>?, _ req: UnsafePointer<s3p_request_t>?
) -> Int {
    guard let conf = conf?.pointee, let req = req?.pointee else { return 0 }
    return OutputBound.bytes(
        pathLength: req.path.len, queryLength: req.query.len,
        settingsLength: conf.access_key.len + conf.session_token.len
            + conf.region.len + conf.host.len + conf.external_host.len
            + conf.scheme.len,
        indexLength: max(conf.index.len, Policy.defaultIndex.utf8CodeUnitCount))
}

@c @implementation
func s3p_handle(
    _ conf: UnsafeMutablePointer<s3p_config_t>?,
    _ req: UnsafePointer<s3p_request_t>?,
    _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int,
    _ result: UnsafeMutablePointer<s3p_result_t>?
) -> Int32 {
    guard let conf, let req = req?.pointee, let out, let result else {
        return S3P_E_CONFIG
    }
    result.pointee = s3p_result_t()
    if let status = FastPath.handle(conf: conf, request: req, out: out, cap: cap,
                                        result: result)
    {
        return status
    }
    result.pointee = s3p_result_t()
    return RequestHandler.handle(conf: conf, request: req, out: out, cap: cap,
                                 result: result)
}

/// The general path of s3p_handle(): every route, with Router and Signer.
enum RequestHandler {
    static func handle(
        conf: UnsafeMutablePointer<s3p_config_t>, request req: s3p_request_t,
        out: UnsafeMutablePointer<UInt8>, cap: Int,
        result: UnsafeMutablePointer<s3p_result_t>
    ) -> Int32 {
        let route = Router.route(method: req.method.bytes[...],
                                 path: req.path.bytes[...],
                                 query: req.query.bytes[...],
                                 policy: Policy(conf.pointee),
                                 userAgent: req.user_agent.bytes[...],
                                 fallback: req.fallback != 0)
        let method = HTTPMethod(req.method.bytes)
        let target: S3Target
        switch route {
        case .refuse(let status):
            result.pointee.action = S3P_ACTION_REFUSE
            result.pointee.status = status
            return S3P_OK
        case .redirect(let t), .proxy(let t):
            target = t
        }
        guard let method else { return S3P_E_CONFIG }

        let settings = Settings(conf.pointee)
        let date = AmzDate(unixTime: req.now)
        guard let signingKey = SigningKeyCache.key(conf, settings: settings, date: date)
        else {
            return S3P_E_CRYPTO
        }
        let signer = Signer(settings: settings, signingKey: signingKey, date: date)

        var writer = BufferWriter(base: out, capacity: cap)
        result.pointee.bucket = writer.write(target.bucket)
        result.pointee.key = writer.write(target.key)
        switch route {
        case .refuse:
            return S3P_OK
        case .redirect:
            guard let url = signer.presignedURL(method: method, target: target) else {
                return S3P_E_CRYPTO
            }
            result.pointee.action = S3P_ACTION_REDIRECT
            result.pointee.status = 307
            result.pointee.url = writer.write(url)
        case .proxy:
            guard let authorization = signer.authorization(method: method, target: target)
            else {
                return S3P_E_CRYPTO
            }
            result.pointee.action = S3P_ACTION_PROXY
            result.pointee.url = writer.write(signer.upstreamURL(target: target))
            result.pointee.authorization = writer.write(authorization)
            result.pointee.amz_date = writer.write(date.timestamp)
            switch target.rendering {
            case .none: result.pointee.render = S3P_RENDER_NONE
            case .listingFirstPage: result.pointee.render = S3P_RENDER_LISTING
            case .listingLaterPage: result.pointee.render = S3P_RENDER_LISTING_MORE
            }
            if !target.folderPath.isEmpty {
                result.pointee.fallback = writer.write(
                    target.folderPath + Array("?".utf8) + Array(S3P_FALLBACK_MARKER.utf8))
            }
        }
        return writer.overflowed ? S3P_E_SPACE : S3P_OK
    }
}

@c @implementation
func s3p_config_check(
    _ conf: UnsafePointer<s3p_config_t>?, _ err: UnsafeMutablePointer<UInt8>?,
    _ cap: Int
) -> Int32 {
    guard let conf = conf?.pointee else { return S3P_E_CONFIG }
    guard let problem = Settings(conf).problem() else { return S3P_OK }
    ErrorMessage.write(problem, into: err, cap: cap)
    return S3P_E_CONFIG
}

@c @implementation
func s3p_check_bucket_name(
    _ name: UnsafePointer<s3p_str_t>?, _ err: UnsafeMutablePointer<UInt8>?, _ cap: Int
) -> Int32 {
    if let name = name?.pointee, BucketName.isValid(name.bytes) {
        return S3P_OK
    }
    ErrorMessage.write("is not a valid bucket name", into: err, cap: cap)
    return S3P_E_CONFIG
}

@c @implementation
func s3p_check_parameter_name(
    _ name: UnsafePointer<s3p_str_t>?, _ err: UnsafeMutablePointer<UInt8>?, _ cap: Int
) -> Int32 {
    guard let name = name?.pointee else { return S3P_E_CONFIG }
    guard let problem = Policy.parameterProblem(name.bytes) else { return S3P_OK }
    ErrorMessage.write(problem, into: err, cap: cap)
    return S3P_E_CONFIG
}

/// A message for C: truncated to the buffer and NUL-terminated.
enum ErrorMessage {
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
func s3p_config_normalize(
    _ conf: UnsafeMutablePointer<s3p_config_t>?,
    _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int
) -> Int32 {
    guard let conf, let out else { return S3P_E_CONFIG }
    let scheme = conf.pointee.scheme.bytes
    let host = Settings.canonicalHost(conf.pointee.host.bytes, scheme: scheme)
    let external = Settings.canonicalHost(conf.pointee.external_host.bytes,
                                          scheme: scheme)
    var writer = BufferWriter(base: out, capacity: cap)
    let hostView = writer.write(host)
    let externalView = writer.write(external)
    if writer.overflowed {
        return S3P_E_SPACE
    }
    conf.pointee.host = hostView
    conf.pointee.external_host = externalView
    return S3P_OK
}

@c @implementation
func s3p_config_prepare_bound(_ conf: UnsafePointer<s3p_config_t>?) -> Int {
    guard let conf = conf?.pointee else { return 0 }
    return Prepared.bound(conf)
}

@c @implementation
func s3p_config_prepare(
    _ conf: UnsafeMutablePointer<s3p_config_t>?,
    _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int
) -> Int32 {
    guard let conf, let out else { return S3P_E_CONFIG }
    conf.pointee.prepared = s3p_str_t()
    guard let prepared = Prepared.write(conf.pointee, into: out, cap: cap) else {
        return S3P_E_SPACE
    }
    conf.pointee.prepared = prepared
    return S3P_OK
}

@c @implementation
func s3p_render_bound(_ result: UnsafePointer<s3p_result_t>?, _ xmlLen: Int) -> Int {
    guard let result = result?.pointee else { return 0 }
    // Per byte of XML at most: a key's href (3 bytes each) and its text
    // (6 bytes each, "&quot;"), plus each entry's fixed markup, which is
    // smaller than the XML that carried the entry.  The breadcrumb links
    // every ancestor folder with its whole path: one encoded path (3 bytes
    // a byte) and some markup per folder level it links.
    // The breadcrumb links at most ListingHTML.breadcrumbLevels folders.
    let folder = result.key.bytes
    let levels = min(folder.reduce(1) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) },
                     ListingHTML.breadcrumbLevels + 1)
    let path = result.bucket.len + folder.count
    return 16 * xmlLen + 12 * path + levels * (3 * path + 64) + 8192
}

@c @implementation
func s3p_render_listing(
    _ result: UnsafePointer<s3p_result_t>?, _ xml: UnsafePointer<UInt8>?,
    _ xmlLen: Int, _ out: UnsafeMutablePointer<UInt8>?, _ cap: Int,
    _ outLen: UnsafeMutablePointer<Int>?, _ status: UnsafeMutablePointer<Int32>?
) -> Int32 {
    guard let result = result?.pointee, let out, let outLen, let status else {
        return S3P_E_CONFIG
    }
    let page = ListingPage(xml: UnsafeBufferPointer(start: xml, count: xml == nil ? 0 : xmlLen))
    if page.isEmpty && result.render == S3P_RENDER_LISTING {
        status.pointee = 404
        outLen.pointee = 0
        return S3P_OK
    }
    let html = ListingHTML(bucket: result.bucket.bytes, prefix: result.key.bytes)
        .render(page)
    guard html.count <= cap else { return S3P_E_SPACE }
    out.update(from: html, count: html.count)
    outLen.pointee = html.count
    status.pointee = 200
    return S3P_OK
}

@c @implementation
func s3p_listing_csp() -> UnsafePointer<CChar>? {
    ListingCSP.pointer
}

/// The policy as a NUL-terminated C string that lives as long as the
/// process.
enum ListingCSP {
    nonisolated(unsafe) static let pointer: UnsafePointer<CChar>? = {
        let bytes = Array(ListingHTML.contentSecurityPolicy.utf8CString)
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        buffer.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(buffer)
    }()
}

// MARK: - Moving bytes across the boundary

extension s3p_str_t {
    /// A copy of the bytes (empty for a NULL pointer).
    var bytes: [UInt8] {
        guard let data, len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: len))
    }
}

extension Settings {
    init(_ conf: s3p_config_t) {
        self.init(accessKey: conf.access_key.bytes,
                  secretKey: conf.secret_key.bytes,
                  sessionToken: conf.session_token.bytes,
                  region: conf.region.bytes,
                  host: conf.host.bytes,
                  externalHost: conf.external_host.bytes,
                  scheme: conf.scheme.bytes,
                  expires: conf.expires,
                  policy: Policy(conf))
    }
}

extension Policy {
    init(_ conf: s3p_config_t) {
        self.init(buckets: s3p_str_t.list(conf.buckets, conf.nbuckets),
                  parameters: s3p_str_t.list(conf.params, conf.nparams))
        if conf.index.len > 0 {
            indexDocument = conf.index.bytes
        }
        listings = conf.listings != 0
        switch conf.stream {
        case S3P_STREAM_OFF:
            streamAgents = []
        case S3P_STREAM_LIST:
            streamAgents = s3p_str_t.list(conf.stream_agents, conf.nstream_agents)
        default:
            break
        }
    }
}

extension s3p_str_t {
    /// Copies of a C array of strings (empty for NULL).
    static func list(_ items: UnsafePointer<s3p_str_t>?, _ count: Int) -> [[UInt8]] {
        guard let items, count > 0 else { return [] }
        return UnsafeBufferPointer(start: items, count: count).map { $0.bytes }
    }
}

/// The signing key of one UTC day, kept in the configuration (each worker
/// process has its own copy) and derived again when the day changes.
enum SigningKeyCache {
    static func key(
        _ conf: UnsafeMutablePointer<s3p_config_t>, settings: Settings,
        date: AmzDate
    ) -> [UInt8]? {
        let cached = withUnsafeBytes(of: conf.pointee.key_date) { Array($0) }
        if cached.elementsEqual(date.date) {
            return withUnsafeBytes(of: conf.pointee.signing_key) { Array($0) }
        }
        guard let key = SigningKey.derive(secret: settings.secretKey,
                                          date: date.date,
                                          region: settings.region)
        else {
            return nil
        }
        withUnsafeMutableBytes(of: &conf.pointee.signing_key) {
            $0.copyBytes(from: key)
        }
        withUnsafeMutableBytes(of: &conf.pointee.key_date) {
            $0.copyBytes(from: date.date)
        }
        return key
    }
}

/// How large a buffer s3p_handle() may need, from input lengths alone.
enum OutputBound {
    static func bytes(
        pathLength: Int, queryLength: Int, settingsLength: Int, indexLength: Int
    ) -> Int {
        // Bucket and key (decoding never grows; the index name may be
        // added), the canonical path (encoding at most triples each byte)
        // and the fallback path (the folder path again, and its marker);
        // the query (at most four bytes out per byte in, seven on the fast
        // listing path, which stages the encoded items); settings that
        // appear encoded; and the fixed SigV4 parts (algorithm, scope,
        // dates, signature, header names).
        let path = pathLength + indexLength
        return 2 * path + 6 * path + 7 * queryLength + 3 * settingsLength + 1024
    }
}

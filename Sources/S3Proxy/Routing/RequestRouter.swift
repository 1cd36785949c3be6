// Where a request goes: refused, redirected to a presigned URL, or proxied
// with signed headers.  Everything here works on the raw request line, so
// the answer cannot depend on how nginx normalised the URI ($uri merges
// slashes and resolves dot segments; S3 does neither).
//
// The path below the location's mount (its prefix, for a prefix
// location; a raw path that does not begin with it byte for byte is
// refused, not guessed) is /<bucket>/<key>, or /<key> in a location with
// its own bucket (s3_proxy_bucket).
// - GET /<bucket>, and GET /<bucket>/ with listing parameters: a listing
//   (ListObjects V1 or V2), proxied.
// - A key whose last segment is the index page, or a path ending in `/`
//   (served as <path>index.html): proxied, so relative links in the page
//   resolve against the proxy.
// - Any other object: a 307 to a presigned URL for the request's method,
//   except for S3 SDKs and CLIs (by User-Agent, by sending none, or by
//   signing their request), which cannot follow it: their GetObject and
//   HeadObject are proxied.  For them a key ending in `/` is an object
//   like any other (a folder marker), never an index page or a listing,
//   and their x-amz-checksum-mode is sent on, signed.
// - Objects take `partNumber` (1 to 10,000, in plain decimal; anything
//   else: 400) and the parameters the operator allowed.
// - For browsers, a key whose type (nginx's `types`, asked through the
//   location's lookup) is one s3_proxy_proxy_types names (website mode:
//   text/html), and in website mode a key without an extension, which may
//   be a folder: proxied.
// - When S3 answers a proxied request with a status its plan names, the
//   module asks again for the path (the fallback pass, Website.swift): a
//   folder's built-in listing (s3_proxy_listing on), which is proxied as a
//   ListObjectsV2 page that the module renders as HTML; a website's folder
//   check; the error document.  `?page=<token>` on a folder path asks for
//   a later listing page directly.
// - Browsers' download links (`?download`): the parameter is dropped, and
//   the answer is an attachment (ContentDisposition.swift).
// - In website mode, a browser's parameters that the location does not
//   serve are dropped, as S3's website endpoint ignores them; `response-*`
//   and `X-Amz-*` are not, and are refused as anywhere.
// - Other methods: 405; no bucket: 403; malformed input: 400.
// - A bucket from variables (s3_proxy_bucket $var) is the location's own,
//   checked per request as the constant is at nginx -t (name, allowlist);
//   a key prefix (s3_proxy_prefix) goes before every key, and a listing's
//   prefix, start-after and marker (RequestRouter.confine).  A value that
//   fails, empty included: 403.
//
// The router decodes the bucket, the key and the query items into the
// answer's buffer, and describes the request to sign by slices of it.

internal import CShim

/// A request as C handed it: views of nginx's memory.
struct IncomingRequest {
    let method: UnsafeBufferPointer<UInt8>
    let path: UnsafeBufferPointer<UInt8>
    let query: UnsafeBufferPointer<UInt8>
    let userAgent: UnsafeBufferPointer<UInt8>
    /// The client's own signing headers: only to recognise S3 clients.
    let authorization: UnsafeBufferPointer<UInt8>
    let amzDate: UnsafeBufferPointer<UInt8>
    let amzContentSHA256: UnsafeBufferPointer<UInt8>
    /// x-amz-checksum-mode, as the client sent it.
    let checksumMode: UnsafeBufferPointer<UInt8>
    let now: Int64
    /// n: S3 answered `previousStatus` to the n-th request for this path.
    let fallback: Int32
    let previousStatus: Int32
    var isFallback: Bool { fallback > 0 }
    /// s3_proxy_bucket and s3_proxy_prefix with variables: their values
    /// for this request, unchecked.
    let bucket: UnsafeBufferPointer<UInt8>
    let prefix: UnsafeBufferPointer<UInt8>

    /// `req` with its path and query as given (s3p_bucket_root()).
    init(_ req: s3p_request_t) {
        self.init(req, path: Bytes.view(req.path), query: Bytes.view(req.query))
    }

    /// `req` with the path and query of its target (RequestTarget).
    init(_ req: s3p_request_t, _ target: RequestTarget) {
        self.init(req, path: target.path, query: target.query)
    }

    private init(
        _ req: s3p_request_t, path: UnsafeBufferPointer<UInt8>,
        query: UnsafeBufferPointer<UInt8>
    ) {
        method = Bytes.view(req.method)
        self.path = path
        self.query = query
        userAgent = Bytes.view(req.user_agent)
        authorization = Bytes.view(req.authorization)
        amzDate = Bytes.view(req.amz_date)
        amzContentSHA256 = Bytes.view(req.amz_content_sha256)
        checksumMode = Bytes.view(req.checksum_mode)
        now = req.now
        fallback = req.fallback
        previousStatus = req.status
        bucket = Bytes.view(req.bucket)
        prefix = Bytes.view(req.prefix)
    }

    /// "GET" or "HEAD": the only methods served.
    var methodName: StaticString? {
        if method.count == 3 && method[0] == UInt8(ascii: "G")
            && method[1] == UInt8(ascii: "E") && method[2] == UInt8(ascii: "T")
        {
            return "GET"
        }
        if method.count == 4 && method[0] == UInt8(ascii: "H")
            && method[1] == UInt8(ascii: "E") && method[2] == UInt8(ascii: "A")
            && method[3] == UInt8(ascii: "D")
        {
            return "HEAD"
        }
        return nil
    }
}

/// What S3 request a client request becomes.
struct S3Request {
    enum Kind {
        /// `/<bucket>/<key>`, with the allowed query items.
        case object
        /// `/<bucket>[/]`, with listing query items.
        case listing(withSlash: Bool)
        /// `/<bucket>?list-type=2&delimiter=/&prefix=<key>
        /// [&continuation-token=<token>]`, rendered as HTML.
        case folderListing(token: UnsafeBufferPointer<UInt8>?)
    }

    var kind: Kind
    let method: StaticString
    let bucket: UnsafeBufferPointer<UInt8>
    /// The decoded key (the index page's, for a folder); the folder, for a
    /// folder listing; empty for a listing.
    var key: UnsafeBufferPointer<UInt8>
    /// Redirected to a presigned URL, or proxied.
    var redirect = false
    /// Proxied with `x-amz-checksum-mode: ENABLED`, signed.
    var checksumMode = false
    /// Which of S3's answers send the path to its next step (Plan).
    var fallbackOn: UInt32 = 0
    /// The client's raw path and query: asked again at the next step.
    var clientPath: UnsafeBufferPointer<UInt8> = Bytes.empty
    var clientQuery: UnsafeBufferPointer<UInt8> = Bytes.empty
    /// How S3's answer reaches the client.
    var answer: Answer = .plain
    /// A download link's Content-Disposition (the key's last segment).
    var download = false
    /// nginx's type of the key, for s3_proxy_types.
    var contentType: UnsafeBufferPointer<UInt8>? = nil

    enum Answer {
        case plain
        /// An error document: S3's 200 answered with this status.
        case document(status: Int32)
        /// A folder's index page exists: 302 to the folder.
        case folder
    }
    /// Proxied as a page for a browser (a folder's index page, a key
    /// named like one, a type proxied, a website's): the status page's
    /// route.
    var page = false
    /// The bucket's place in the location's allowlist; -1: not in one.
    var allowed: Int32 = -1
    /// The client's path before the key: the mount (without its last `/`)
    /// and, unless the location has its own bucket, `/<bucket>`.
    var mountBase: UnsafeBufferPointer<UInt8> = Bytes.empty
    var bucketInPath = true
    /// How many bytes of `key` are the location's key prefix
    /// (s3_proxy_prefix): the client sees the key without them.
    var prefixLength = 0
}

enum Routing {
    case refuse(status: Int32)
    case sign(S3Request)
    /// The buffer is smaller than s3p_output_bound() said it must be.
    case noSpace
}

struct RequestRouter {
    let policy: LocationPolicy

    func route(
        _ request: IncomingRequest, writer: inout BufferWriter, items: inout QueryItems
    ) -> Routing {
        guard let method = request.methodName else {
            return .refuse(status: 405)
        }
        guard request.path.first == UInt8(ascii: "/") else {
            return .refuse(status: 400)
        }
        // The location's own bucket and key prefix: constants checked at
        // nginx -t, or the values of this request, checked the same way
        // here.  A value that fails (empty included) reaches nothing.
        var own = policy.bucket
        if policy.bucketPerRequest {
            let value = request.bucket
            guard BucketName.rule(value) == nil, policy.addresses(bucket: value),
                  policy.allows(bucket: value)
            else {
                return .refuse(status: 403)
            }
            own = value
        }
        let prefix = policy.prefixPerRequest ? request.prefix : policy.prefix
        if policy.prefixPerRequest && KeyPrefix.check(prefix) != nil {
            return .refuse(status: 403)
        }
        // Below the mount, the path starts at a `/` (or is empty: the
        // mount itself, without its last `/`, as S3 clients name a
        // one-bucket location's bucket: LocationPolicy.isBucketRoot).
        let mount = policy.mount
        var strip = 0
        if !mount.isEmpty {
            let bare = mount.last == UInt8(ascii: "/") ? mount.count - 1 : mount.count
            guard request.path.count >= bare,
                  UnsafeBufferPointer(rebasing: request.path[0..<bare])
                      .elementsEqual(mount.prefix(bare)),
                  bare == mount.count || (request.path.count == bare
                      ? policy.isBucketRoot(request)
                      : request.path[bare] == mount[bare])
            else {
                return .refuse(status: 400)
            }
            strip = bare
        }
        let path = UnsafeBufferPointer(rebasing: request.path[strip...])
        if !path.isEmpty && path.first != UInt8(ascii: "/") {
            return .refuse(status: 400)
        }
        let mountBase = UnsafeBufferPointer(rebasing: request.path[0..<strip])

        // `slash`: the `/` before the key, if any.
        let bucket: UnsafeBufferPointer<UInt8>
        let slash: Int?
        if let own {
            bucket = own
            slash = path.isEmpty ? nil : 0
        } else {
            // Split the raw path at the slash after the bucket before
            // decoding, so that an encoded `%2F` cannot move the bucket
            // boundary.
            slash = path.count > 1 ? path[1...].firstIndex(of: UInt8(ascii: "/")) : nil
            let rawBucket = path.count > 1
                ? UnsafeBufferPointer(rebasing: path[1..<(slash ?? path.count)]) : Bytes.empty
            if rawBucket.isEmpty && slash == nil {
                // GET /: ListBuckets would disclose every bucket of the
                // account.
                return .refuse(status: 403)
            }
            let bucketStart = writer.count
            guard writer.writeDecoded(rawBucket) else {
                return .refuse(status: 400)
            }
            if writer.overflowed { return .noSpace }
            bucket = writer.slice(from: bucketStart)
            guard BucketName.isValid(bucket), policy.addresses(bucket: bucket) else {
                return .refuse(status: 400)
            }
            guard policy.allows(bucket: bucket) else {
                return .refuse(status: 403)
            }
        }

        // The key is the prefix, then what the client named below it.
        let keyStart = writer.count
        writer.write(prefix)
        let relativeStart = writer.count
        if let slash {
            let rawKey = UnsafeBufferPointer(rebasing: path[(slash + 1)...])
            guard writer.writeDecoded(rawKey) else {
                return .refuse(status: 400)
            }
            if writer.overflowed { return .noSpace }
            guard UTF8Validation.isValid(writer.slice(from: relativeStart)) else {
                return .refuse(status: 400)
            }
        }
        if writer.overflowed { return .noSpace }
        let key = writer.slice(from: keyStart)
        let relative = writer.slice(from: relativeStart)
        // S3 clients read a key ending in `/` as the object it names (a
        // folder marker); for them only the bucket's own path is a folder.
        // (Whether it is one is asked only where it decides: it scans the
        // User-Agent.)
        lazy var client = policy.streams(request)
        let isFolder = slash != nil
            && (relative.isEmpty || (relative.last == UInt8(ascii: "/") && !client))
        // A folder's key may become its index page's: the name goes right
        // after it, before anything else is written.
        let index = policy.index
        if isFolder {
            writer.write(index)
            if writer.overflowed { return .noSpace }
        }
        let indexKey = writer.slice(from: keyStart)
        guard key.count <= Rules.maxKeyLength else {
            // S3 refuses longer keys (KeyTooLongError) before anything else.
            return .refuse(status: 400)
        }
        guard Rules.staysInBucket(relative) else {
            // `/ok/../other/x`: S3 reads the key literally, but any client
            // or server that resolves dot segments would leave the bucket
            // (or the key prefix).
            return .refuse(status: 403)
        }

        guard items.parse(request.query, policy: policy, writer: &writer) else {
            return .refuse(status: 400)
        }
        if writer.overflowed { return .noSpace }
        if policy.website && !client {
            // S3's website endpoint ignores a browser's query: a link's
            // `?lang=en&fbclid=...` opens the page.  What the location
            // does not serve is not sent to S3 (a folder redirect keeps
            // it); `response-*` and `X-Amz-*` stay, to be refused.
            let root = relative.isEmpty
            let pages = isFolder && policy.listings
            items.keep {
                serves($0.name, root: root, pages: pages) || Rules.isOverride($0.name)
            }
        }

        var s3 = S3Request(kind: .object, method: method, bucket: bucket, key: key)
        s3.allowed = Int32(policy.place(of: bucket) ?? -1)
        s3.mountBase = mountBase
        s3.bucketInPath = own == nil
        s3.prefixLength = prefix.count
        s3.clientPath = request.path
        s3.clientQuery = request.query

        // Websites and download links are for browsers; S3 clients get
        // S3's answers.
        if let name = policy.downloadParameter, items.contains(named: name), !client {
            _ = items.remove(named: name)
            s3.download = !request.isFallback
        }
        // What the object is proxied as: a folder's index page, a page of
        // a type proxied, a website's key without an extension (maybe a
        // folder, checked if S3 answers 404); anything else is redirected.
        var plan = Plan()
        plan.listing = isFolder && policy.listings
        let objectKey = isFolder ? indexKey : key
        var proxied = isFolder || lastSegment(of: objectKey).elementsEqual(index)
        let typed = policy.types || policy.proxiesTypes
        let type = typed && !client ? policy.type(of: objectKey) : nil
        if !proxied && (policy.proxiesTypes || policy.website) && !client {
            if let type, policy.proxies(type: type) {
                proxied = true
            } else if policy.website && Rules.fileExtension(of: key).isEmpty && !relative.isEmpty {
                proxied = true
                plan.folderCheck = true
            }
        }
        plan.errorDocument = proxied && policy.errorDocument != nil && !client
        if policy.types && !client {
            s3.contentType = type
        }

        if request.isFallback {
            // S3 answered this path's previous step with a status its
            // fallback names.
            let n = request.fallback
            s3.fallbackOn = plan.fallbackOn(after: n)
            s3.contentType = nil
            s3.page = true
            items.removeAll()
            switch plan.step(n) {
            case .listing?:
                s3.kind = .folderListing(token: nil)
            case .folderCheck?:
                let start = writer.count
                writer.write(key)
                writer.write(UInt8(ascii: "/"))
                writer.write(index)
                if writer.overflowed { return .noSpace }
                s3.key = writer.slice(from: start)
                guard s3.key.count <= Rules.maxKeyLength else {
                    return .refuse(status: 404)
                }
                s3.answer = .folder
            case .errorDocument?:
                guard let document = policy.errorDocument else { return .refuse(status: 404) }
                // Under the location's key prefix, like every key it reads.
                let start = writer.count
                writer.write(prefix)
                writer.write(document)
                if writer.overflowed { return .noSpace }
                s3.key = writer.slice(from: start)
                let configured = policy.errorStatus
                s3.answer = .document(status: configured != 0 ? configured
                                      : request.previousStatus)
                if policy.types { s3.contentType = policy.type(of: document) }
            default:
                return .refuse(status: 404)
            }
            return .sign(s3)
        }
        if isFolder && policy.listings && items.count == 1
            && Rules.pageParameter.matches(items[0].name)
        {
            let token = items[0].value
            items.removeAll()
            s3.contentType = nil
            s3.kind = .folderListing(token: token)
            return .sign(s3)
        }

        if relative.isEmpty && (slash == nil || items.count > 0) {
            for index in 0..<items.count {
                let name = items[index].name
                // A parameter the location does not serve: 403, or for an
                // S3 client 501 NotImplemented, which S3 clients take for
                // "not available here" (`s3cmd info` asks for ?policy,
                // ?cors and ?acl, and stops at anything but 404 or 501).
                guard isListingParameter(name) || policy.allows(parameter: name) else {
                    return .refuse(status: client ? 501 : 403)
                }
            }
            if !prefix.isEmpty {
                guard confine(&items, under: prefix, writer: &writer) else {
                    return .refuse(status: 403)
                }
                if writer.overflowed { return .noSpace }
            }
            // A listing is no key's: S3's type stays.
            s3.contentType = nil
            s3.kind = .listing(withSlash: slash != nil && own == nil)
            return .sign(s3)
        }
        // GET /<bucket>/ without parameters is the bucket's index page.

        // Objects take partNumber and the parameters the operator
        // allowed: sub-resources such as ?acl, ?tagging or ?versions would
        // read more than the object itself.
        var parts = 0
        for index in 0..<items.count {
            let item = items[index]
            if Rules.partNumberParameter.matches(item.name) {
                parts += 1
                guard parts == 1, Rules.isPartNumber(item.value) else {
                    return .refuse(status: 400)
                }
            } else if !policy.allows(parameter: item.name) {
                return .refuse(status: client ? 501 : 403)
            }
        }

        if isFolder {
            s3.key = indexKey
        }
        s3.redirect = !(proxied || client)
        s3.page = proxied && !client
        if !s3.redirect {
            s3.fallbackOn = plan.fallbackOn(after: 0)
        }
        // S3 answers with the object's checksums only when asked: SDKs
        // ask, to check the body against them.
        s3.checksumMode = client && ASCII.equalsIgnoringCase(
            request.checksumMode, SignedHeaders.checksumModeValue)
        return .sign(s3)
    }

    /// A listing below a key prefix lists nothing outside it: the
    /// client's `prefix` (none: the prefix itself), `start-after` and
    /// `marker` are keys below it, so the prefix goes before each value.
    /// S3 matches `prefix` byte for byte, so whatever a continuation token
    /// holds (S3's are opaque, and forwarded as they are), S3 answers
    /// only keys that begin with the prefix.  A value whose dot segments
    /// would leave it is refused, as such a key is.  Without a
    /// `start-after` (V2) or `marker` (V1), the prefix itself is one: the
    /// folder's own marker object, which is no key of the client's, is
    /// never listed.  `items` has room for two more than it was parsed
    /// with.
    private func confine(
        _ items: inout QueryItems, under prefix: UnsafeBufferPointer<UInt8>,
        writer: inout BufferWriter
    ) -> Bool {
        var hasPrefix = false
        var hasStart = false
        var v2 = false
        for index in 0..<items.count {
            let name = items[index].name
            if Rules.listTypeParameter.matches(name) {
                v2 = v2 || Pipeline.view("2").elementsEqual(items[index].value)
            }
            let isPrefix = Rules.prefixParameter.matches(name)
            guard isPrefix || Rules.startAfterParameter.matches(name)
                || Rules.markerParameter.matches(name)
            else {
                continue
            }
            hasPrefix = hasPrefix || isPrefix
            hasStart = hasStart || !isPrefix
            let value = items[index].value
            guard Rules.staysInBucket(value) else { return false }
            let start = writer.count
            writer.write(prefix)
            writer.write(value)
            items.replaceValue(at: index, with: writer.slice(from: start))
        }
        if !hasPrefix {
            items.append(QueryItem(name: Pipeline.view(Rules.prefixParameter), value: prefix))
        }
        if !hasStart {
            let start = v2 ? Rules.startAfterParameter : Rules.markerParameter
            items.append(QueryItem(name: Pipeline.view(start), value: prefix))
        }
        return true
    }

    /// Whether the location does something with a parameter: a listing's
    /// (at the bucket's root), a built-in listing's `page` (on a folder
    /// it lists), `partNumber`, a download link's, or one the operator
    /// allowed.
    private func serves(
        _ name: UnsafeBufferPointer<UInt8>, root: Bool, pages: Bool
    ) -> Bool {
        if (root && isListingParameter(name)) || (pages && Rules.pageParameter.matches(name))
            || Rules.partNumberParameter.matches(name) || policy.allows(parameter: name)
        {
            return true
        }
        if let download = policy.downloadParameter {
            return download.elementsEqual(name)
        }
        return false
    }

    private func isListingParameter(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        for listing in Rules.listingParameters where listing.matches(name) {
            return true
        }
        return false
    }

    private func lastSegment(of key: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        let start = (key.lastIndex(of: UInt8(ascii: "/")) ?? -1) + 1
        return UnsafeBufferPointer(rebasing: key[start...])
    }
}

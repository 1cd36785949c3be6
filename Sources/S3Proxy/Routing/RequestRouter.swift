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
//   HeadObject are proxied.
// - Built-in listings (when on): when S3 answers 404 for a folder's index
//   page, the module asks again for the folder (the fallback pass), which
//   is proxied as a ListObjectsV2 page that the module renders as HTML; `?page=<token>`
//   on a folder path asks for a later page directly.
// - Other methods: 405; no bucket: 403; malformed input: 400.
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
    let now: Int64
    let isFallback: Bool

    init(_ req: s3p_request_t) {
        method = Bytes.view(req.method)
        path = Bytes.view(req.path)
        query = Bytes.view(req.query)
        userAgent = Bytes.view(req.user_agent)
        authorization = Bytes.view(req.authorization)
        amzDate = Bytes.view(req.amz_date)
        amzContentSHA256 = Bytes.view(req.amz_content_sha256)
        now = req.now
        isFallback = req.fallback != 0
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
    /// For a folder's index page with listings on: the length of the
    /// folder's own key, listed if S3 answers 404.
    var folderLength: Int? = nil
    /// A folder's index page, or a key named like one: proxied as a page.
    var page = false
    /// The bucket's place in the location's allowlist; -1: not in one.
    var allowed: Int32 = -1
    /// The client's path before the key: the mount (without its last `/`)
    /// and, unless the location has its own bucket, `/<bucket>`.
    var mountBase: UnsafeBufferPointer<UInt8> = Bytes.empty
    var bucketInPath = true
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
        // Below the mount, the path starts at a `/` (or is empty: the
        // mount itself, without its last `/`).
        let mount = policy.mount
        var strip = 0
        if !mount.isEmpty {
            guard request.path.count >= mount.count,
                  UnsafeBufferPointer(rebasing: request.path[0..<mount.count])
                      .elementsEqual(mount)
            else {
                return .refuse(status: 400)
            }
            strip = mount.last == UInt8(ascii: "/") ? mount.count - 1 : mount.count
        }
        let path = UnsafeBufferPointer(rebasing: request.path[strip...])
        if !path.isEmpty && path.first != UInt8(ascii: "/") {
            return .refuse(status: 400)
        }
        let mountBase = UnsafeBufferPointer(rebasing: request.path[0..<strip])

        // `slash`: the `/` before the key, if any.
        let bucket: UnsafeBufferPointer<UInt8>
        let slash: Int?
        if let own = policy.bucket {
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

        let keyStart = writer.count
        if let slash {
            let rawKey = UnsafeBufferPointer(rebasing: path[(slash + 1)...])
            guard writer.writeDecoded(rawKey) else {
                return .refuse(status: 400)
            }
            if writer.overflowed { return .noSpace }
            guard UTF8Validation.isValid(writer.slice(from: keyStart)) else {
                return .refuse(status: 400)
            }
        }
        let key = writer.slice(from: keyStart)
        let isFolder = slash != nil && (key.isEmpty || key.last == UInt8(ascii: "/"))
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
        guard Rules.staysInBucket(key) else {
            // `/ok/../other/x`: S3 reads the key literally, but any client
            // or server that resolves dot segments would leave the bucket.
            return .refuse(status: 403)
        }

        guard items.parse(request.query, policy: policy, writer: &writer) else {
            return .refuse(status: 400)
        }
        if writer.overflowed { return .noSpace }

        var s3 = S3Request(kind: .object, method: method, bucket: bucket, key: key)
        s3.allowed = policy.bucket == nil ? Int32(policy.place(of: bucket) ?? -1) : -1
        s3.mountBase = mountBase
        s3.bucketInPath = policy.bucket == nil

        if request.isFallback {
            // S3 answered 404 for this path's index page.
            guard isFolder && policy.listings else {
                return .refuse(status: 404)
            }
            items.removeAll()
            s3.kind = .folderListing(token: nil)
            return .sign(s3)
        }
        if isFolder && policy.listings && items.count == 1
            && Rules.pageParameter.matches(items[0].name)
        {
            let token = items[0].value
            items.removeAll()
            s3.kind = .folderListing(token: token)
            return .sign(s3)
        }

        if key.isEmpty && (slash == nil || items.count > 0) {
            for index in 0..<items.count {
                let name = items[index].name
                guard isListingParameter(name) || policy.allows(parameter: name) else {
                    return .refuse(status: parameterRefusal(request))
                }
            }
            s3.kind = .listing(withSlash: slash != nil && policy.bucket == nil)
            return .sign(s3)
        }
        // GET /<bucket>/ without parameters is the bucket's index page.

        // Objects take only the parameters the operator allowed:
        // sub-resources such as ?acl, ?tagging or ?versions would read more
        // than the object itself.
        for index in 0..<items.count where !policy.allows(parameter: items[index].name) {
            return .refuse(status: parameterRefusal(request))
        }

        if isFolder {
            if policy.listings {
                s3.folderLength = key.count
            }
            s3.key = indexKey
        }
        s3.page = isFolder || lastSegment(of: s3.key).elementsEqual(index)
        s3.redirect = !(s3.page || policy.streams(request))
        return .sign(s3)
    }

    /// A parameter the location does not serve: 403, or for an S3 client
    /// 501 NotImplemented, which S3 clients take for "not available here"
    /// (`s3cmd info` asks for ?policy, ?cors and ?acl, and stops at
    /// anything but 404 or 501).
    private func parameterRefusal(_ request: IncomingRequest) -> Int32 {
        policy.streams(request) ? 501 : 403
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

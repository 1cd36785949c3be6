// Reference implementation (tests only), written from AWS's documentation
// and the product's rules: the production pipeline (Sources/S3Proxy/
// Pipeline.swift) must answer exactly what this answers.
//
// Where a request goes: refused, redirected to a presigned URL, or proxied
// with signed headers.  Everything here works on the raw request line, so
// the answer cannot depend on how nginx normalised the URI ($uri merges
// slashes and resolves dot segments; S3 does neither).
//
// Below the location's mount (a raw path that does not begin with it byte
// for byte is refused): /<bucket>/<key>, or /<key> in a location with its
// own bucket.
// - GET /<bucket> and GET /<bucket>/ with listing parameters: a listing
//   (ListObjects V1 or V2), proxied.
// - A key whose last segment is `index.html`, or a path ending in `/`
//   (served as <path>index.html): proxied, so relative links in the page
//   resolve against the proxy.
// - Any other object: a 307 to a presigned URL for the request's method,
//   except for S3 SDKs and CLIs (by User-Agent, by sending none, or by
//   signing their request), which cannot follow it: their GetObject and
//   HeadObject are proxied, with their x-amz-checksum-mode (`ENABLED`, in
//   any case) signed and sent on.  For them a key ending in `/` is an
//   object (a folder marker), as S3 reads it: only the bucket's own path
//   stays a folder.
// - Objects take `partNumber`, a part of a multipart object: 1 to 10,000
//   in plain decimal, once (else 400).
// - Built-in listings (when on): when S3 answers 404 for a folder's index
//   page, nginx comes back (the fallback pass) and the folder is proxied as
//   a ListObjectsV2 page that the module renders as HTML; `?page=<token>`
//   on a folder path asks for a later page directly.
// - Other methods: 405; no bucket: 403; malformed input: 400.
#if !S3P_FUZZ
@testable import S3Proxy
#endif

/// A request that passed routing: which object or listing it reaches, and
/// the canonical path and query that are signed and sent.
struct S3Target {
    var bucket: [UInt8]
    /// The decoded key; empty for a listing.
    var key: [UInt8]
    /// `/<bucket>/<UriEncode(key)>`, or the bucket path for a listing;
    /// without the bucket with virtual addressing.
    var canonicalPath: [UInt8]
    /// `<bucket>.` before the endpoint's host with virtual addressing.
    var hostPrefix: [UInt8] = []
    var query: CanonicalQuery
    /// How the answer is rendered: S3's bytes as they are, or the HTML
    /// listing of the folder `key`.
    var rendering: Rendering = .none
    /// For a folder's index page: the folder path (`/<bucket>/<folder>/`,
    /// encoded, below the mount), where the fallback pass comes back to if
    /// S3 answers 404.
    var folderPath: [UInt8] = []
    /// For a folder listing: the client's path of the bucket, with `/`.
    var base: [UInt8] = []
    /// Proxied with `x-amz-checksum-mode: ENABLED`, signed.
    var checksumMode = false
}

enum Rendering {
    case none
    case listingFirstPage
    case listingLaterPage
}

enum Route {
    case refuse(status: Int32)
    case redirect(S3Target)
    case proxy(S3Target)
}

enum HTTPMethod {
    case get
    case head

    init?<C: Collection<UInt8>>(_ name: C) {
        if name.elementsEqual("GET".utf8) {
            self = .get
        } else if name.elementsEqual("HEAD".utf8) {
            self = .head
        } else {
            return nil
        }
    }

    var name: StaticString {
        switch self {
        case .get: return "GET"
        case .head: return "HEAD"
        }
    }
}

enum Router {
    /// ListObjects (V1 and V2) parameters: the only query a listing
    /// forwards.
    static let listingParameters: [[UInt8]] = [
        "list-type", "prefix", "delimiter", "marker", "continuation-token",
        "start-after", "max-keys", "encoding-type", "fetch-owner",
    ].map { Array($0.utf8) }

    /// Parameters that SDKs add for their own bookkeeping and S3 ignores;
    /// they are dropped, never signed or forwarded.
    static let ignoredParameters: [[UInt8]] = [Array("x-id".utf8)]

    /// S3's limit on a key: 1,024 bytes of UTF-8.
    static let maxKeyLength = 1024
    /// The most query items a request may carry (more: 400).
    static let maxQueryItems = 30

    /// The User-Agent of a request that does not name one: a browser's
    /// (a request that sends none is an S3 client's, and streamed).
    static let browserAgent = Array("Mozilla/5.0".utf8)

    static func route(
        method: ArraySlice<UInt8>, path: ArraySlice<UInt8>,
        query: ArraySlice<UInt8>, policy: Policy = Policy(),
        userAgent: ArraySlice<UInt8> = browserAgent[...],
        signing: ClientSigning = ClientSigning(),
        checksumMode: ArraySlice<UInt8> = [],
        fallback: Bool = false
    ) -> Route {
        let rawQuery = Array(query)
        guard HTTPMethod(method) != nil else {
            return .refuse(status: 405)
        }
        guard path.first == UInt8(ascii: "/") else {
            return .refuse(status: 400)
        }
        var rest = path
        var mountBase: [UInt8] = []
        if !policy.mount.isEmpty {
            let strip = policy.mount.last == UInt8(ascii: "/")
                ? policy.mount.count - 1 : policy.mount.count
            // `/eu` of `location /eu/` with its own bucket: the bucket, to
            // an S3 client asking with GET or HEAD (nginx 301s the rest)
            let bucketRoot = path.count == strip && strip < policy.mount.count
                && policy.bucket != nil && path.elementsEqual(policy.mount.prefix(strip))
                && policy.streams(userAgent: userAgent, signing: signing)
            guard path.starts(with: policy.mount) || bucketRoot else {
                return .refuse(status: 400)
            }
            mountBase = Array(path.prefix(strip))
            rest = path.dropFirst(strip)
            guard rest.isEmpty || rest.first == UInt8(ascii: "/") else {
                return .refuse(status: 400)
            }
        }

        let bucket: [UInt8]
        let rawKey: ArraySlice<UInt8>?
        if let own = policy.bucket {
            bucket = own
            rawKey = rest.isEmpty ? nil : rest.dropFirst()
        } else {
            // Split the raw path at the slash after the bucket before
            // decoding, so that an encoded `%2F` cannot move the bucket
            // boundary.
            let afterSlash = rest.dropFirst()
            let bucketEnd = afterSlash.firstIndex(of: UInt8(ascii: "/"))
            let rawBucket = afterSlash[..<(bucketEnd ?? afterSlash.endIndex)]
            if rawBucket.isEmpty && bucketEnd == nil {
                // GET /: ListBuckets would disclose every bucket of the
                // account.
                return .refuse(status: 403)
            }
            guard let decoded = Plain.percentDecoded(rawBucket, plusIsSpace: false),
                  Plain.isBucketName(decoded), policy.addresses(bucket: decoded)
            else {
                return .refuse(status: 400)
            }
            guard policy.allows(bucket: decoded) else {
                return .refuse(status: 403)
            }
            bucket = decoded
            rawKey = bucketEnd.map { afterSlash[($0 + 1)...] }
        }
        let bucketEnd: Int? = rawKey == nil ? nil : 0
        var clientBase = mountBase
        if policy.bucket == nil {
            clientBase.append(UInt8(ascii: "/"))
            clientBase += bucket
        }
        let place = Place(bucket: bucket, virtual: policy.virtual, clientBase: clientBase)

        var key: [UInt8] = []
        if let rawKey {
            guard let decoded = Plain.percentDecoded(rawKey, plusIsSpace: false),
                  Plain.isUTF8(decoded)
            else {
                return .refuse(status: 400)
            }
            key = decoded
        }
        guard key.count <= maxKeyLength else {
            // S3 refuses longer keys (KeyTooLongError) before anything else.
            return .refuse(status: 400)
        }
        guard Plain.staysInBucket(key) else {
            // `/ok/../other/x`: S3 reads the key literally, but any client
            // or server that resolves dot segments would leave the bucket.
            return .refuse(status: 403)
        }

        guard let parameters = CanonicalQuery.parse(query),
              parameters.count <= maxQueryItems
        else {
            return .refuse(status: 400)
        }

        var forwarded = parameters.filter {
            !ignoredParameters.contains($0.name) && !policy.ignores(parameter: $0.name)
        }
        let client = policy.streams(userAgent: userAgent, signing: signing)
        let endsInSlash = key.last == UInt8(ascii: "/")
        let isFolder = bucketEnd != nil && (key.isEmpty || (endsInSlash && !client))
        // A browser's download link: the proxy's parameter, never S3's.
        var download = false
        if let name = policy.downloadParameter, !client,
           forwarded.contains(where: { $0.name == name })
        {
            forwarded.removeAll { $0.name == name }
            download = !fallback
        }

        if fallback {
            // S3 answered 404 for this path's index page.
            guard isFolder && policy.listings else {
                return .refuse(status: 404)
            }
            return folderListing(place, folder: key, token: nil)
        }
        if isFolder && policy.listings && forwarded.count == 1
            && forwarded[0].name == Array("page".utf8)
        {
            return folderListing(place, folder: key, token: forwarded[0].value)
        }

        // A parameter the location does not serve: 403, or for an S3
        // client 501 NotImplemented, which S3 clients take for "not
        // available here" (s3cmd info asks for ?policy, ?cors, ?acl).
        let refusal: Int32 = client ? 501 : 403
        if key.isEmpty && (bucketEnd == nil || !forwarded.isEmpty) {
            return listing(place, withSlash: bucketEnd != nil && policy.bucket == nil,
                           parameters: forwarded, policy: policy, refusal: refusal)
        }
        // GET /<bucket>/ without parameters is the bucket's index page.

        // Objects take only the parameters the operator allowed:
        // sub-resources such as ?acl, ?tagging or ?versions would read more
        // than the object itself.
        // partNumber reads one part of a multipart object (GetObject,
        // HeadObject): any object may take it, once, 1 to 10,000.
        var query = CanonicalQuery()
        var partNumbers = 0
        for parameter in forwarded {
            if parameter.name == Array("partNumber".utf8) {
                partNumbers += 1
                guard partNumbers == 1, isPartNumber(parameter.value) else {
                    return .refuse(status: 400)
                }
            } else if !policy.allows(parameter: parameter.name) {
                return .refuse(status: refusal)
            }
            query.append(name: parameter.name, value: parameter.value)
        }

        let isIndex = isFolder
        var folderPath: [UInt8] = []
        if isIndex {
            if policy.listings {
                // asked again as the client asked it
                folderPath = Array(path)
                if !rawQuery.isEmpty {
                    folderPath += [UInt8(ascii: "?")] + rawQuery
                }
            }
            key.append(contentsOf: policy.indexDocument)
        }
        var target = S3Target(bucket: bucket, key: key,
                              canonicalPath: place.path(key: key),
                              query: query, folderPath: folderPath)
        target.hostPrefix = place.hostPrefix
        if client {
            let mode = checksumMode.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }
            target.checksumMode = mode == Array("ENABLED".utf8)
        }
        if isIndex || lastSegment(of: key).elementsEqual(policy.indexDocument) || client {
            return .proxy(target)
        }
        // S3 answers a redirected download with this header (GetObject's
        // response-content-disposition), signed like any parameter.
        let dispositionName = Array("response-content-disposition".utf8)
        if download && !forwarded.contains(where: { $0.name == dispositionName }) {
            target.query.append(name: dispositionName,
                                value: Plain.attachment(Array(lastSegment(of: key))))
        }
        return .redirect(target)
    }

    /// `1`...`10000`: digits only, no leading zero.
    static func isPartNumber(_ value: [UInt8]) -> Bool {
        guard !value.isEmpty, value.count <= 5, value.first != UInt8(ascii: "0"),
              value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else {
            return false
        }
        let number = value.reduce(0) { $0 * 10 + Int($1) - 48 }
        return (1...10_000).contains(number)
    }

    /// Where the S3 request goes, and where the client's paths start.
    struct Place {
        var bucket: [UInt8]
        var virtual: Bool
        /// The mount without its last `/`, then `/<bucket>` unless the
        /// location has its own bucket.
        var clientBase: [UInt8]

        var hostPrefix: [UInt8] { virtual ? bucket + [UInt8(ascii: ".")] : [] }

        /// The canonical path of an object.
        func path(key: [UInt8]) -> [UInt8] {
            virtual ? [UInt8(ascii: "/")] + Plain.uriEncoded(key, keepSlash: true)
                : Router.canonicalPath(bucket, key)
        }

        /// The canonical path of the bucket itself.
        func bucketPath(withSlash: Bool) -> [UInt8] {
            if virtual { return [UInt8(ascii: "/")] }
            var path: [UInt8] = [UInt8(ascii: "/")]
            path += Plain.uriEncoded(bucket, keepSlash: false)
            if withSlash { path.append(UInt8(ascii: "/")) }
            return path
        }
    }

    private static func listing(
        _ place: Place, withSlash: Bool, parameters: [QueryParameter],
        policy: Policy, refusal: Int32
    ) -> Route {
        var query = CanonicalQuery()
        for parameter in parameters {
            guard listingParameters.contains(parameter.name)
                || policy.allows(parameter: parameter.name)
            else {
                return .refuse(status: refusal)
            }
            query.append(name: parameter.name, value: parameter.value)
        }
        var target = S3Target(bucket: place.bucket, key: [],
                              canonicalPath: place.bucketPath(withSlash: withSlash),
                              query: query)
        target.hostPrefix = place.hostPrefix
        return .proxy(target)
    }

    /// The ListObjectsV2 page (delimiter `/`) of a folder, to be rendered
    /// as HTML.
    private static func folderListing(
        _ place: Place, folder: [UInt8], token: [UInt8]?
    ) -> Route {
        var query = CanonicalQuery()
        query.append(name: "list-type".utf8, value: "2".utf8)
        query.append(name: "delimiter".utf8, value: "/".utf8)
        query.append(name: "prefix".utf8, value: folder)
        if let token {
            query.append(name: "continuation-token".utf8, value: token)
        }
        var target = S3Target(bucket: place.bucket, key: folder,
                              canonicalPath: place.bucketPath(withSlash: false),
                              query: query,
                              rendering: token == nil ? .listingFirstPage
                                                      : .listingLaterPage)
        target.hostPrefix = place.hostPrefix
        target.base = place.clientBase + [UInt8(ascii: "/")]
        return .proxy(target)
    }

    /// `/<bucket>/<UriEncode(key) keeping '/'>`.
    static func canonicalPath(_ bucket: [UInt8], _ key: [UInt8]) -> [UInt8] {
        var path: [UInt8] = []
                path.append(UInt8(ascii: "/"))
        path += Plain.uriEncoded(bucket, keepSlash: false)
        path.append(UInt8(ascii: "/"))
        path += Plain.uriEncoded(key, keepSlash: true)
        return path
    }

    private static func lastSegment(of key: [UInt8]) -> ArraySlice<UInt8> {
        if let slash = key.lastIndex(of: UInt8(ascii: "/")) {
            return key[(slash + 1)...]
        }
        return key[...]
    }
}

// One request, start to finish: every answer of s3p_handle() comes from
// here, refusals included, written into the buffer nginx gave, with
// nothing allocated.
//
//   Routing/RequestRouter   what the request is: refused, or an S3 request
//   Routing/QueryItems      its query, decoded, UriEncoded and sorted
//   Signing/CanonicalPath   its path, UriEncoded
//   Signing/DayKey          the day's signing key (per thread)
//   Signing/PresignedURL    redirect: canonical request → string to sign →
//   Signing/SignedHeaders   proxy:      signature → URL or Authorization
//
// The plain reference implementation of the same behaviour lives in the
// tests (Tests/S3ProxyTests/Reference), and a differential test and the
// fuzzer hold the two to identical answers.

internal import CShim

struct Pipeline {
    let conf: UnsafePointer<s3p_config_t>

    func handle(
        _ request: IncomingRequest, out: UnsafeMutablePointer<UInt8>, cap: Int,
        result: UnsafeMutablePointer<s3p_result_t>
    ) -> Int32 {
        guard let signing = conf.pointee.signing,
              let prepared = PreparedParts(signing.pointee.prepared)
        else {
            return S3P_E_CONFIG
        }
        // Two items more than a request may carry: those a listing below
        // a key prefix gets (RequestRouter.confine).
        return withUnsafeTemporaryAllocation(of: QueryItem.self,
                                             capacity: Rules.maxQueryItems + Rules.addedQueryItems) { storage in
            var writer = BufferWriter(base: out, capacity: cap)
            var items = QueryItems(storage: storage)
            let router = RequestRouter(policy: LocationPolicy(conf: conf))
            switch router.route(request, writer: &writer, items: &items) {
            case .refuse(let status):
                result.pointee.action = S3P_ACTION_REFUSE
                result.pointee.status = status
                result.pointee.route = S3P_ROUTE_REFUSED
                if status == 405 {
                    Pipeline.setHeader("Allow", Pipeline.str(Pipeline.view("GET, HEAD")),
                                       result)
                }
                if router.policy.streams(request) {
                    // S3 clients parse S3's XML error, never an HTML page.
                    writer.rewind(to: 0)
                    _ = S3Error.refusalCode(status).withUTF8Buffer {
                        S3Error.writeDocument(code: $0, into: &writer)
                    }
                    if writer.overflowed { return S3P_E_SPACE }
                    result.pointee.url = writer.str(0, writer.count)
                    result.pointee.render = S3P_RENDER_S3_ERROR
                }
                // What the variables held, for the log ($s3_proxy_bucket,
                // $s3_proxy_prefix), even when they were refused.
                if router.policy.bucketPerRequest {
                    result.pointee.bucket = writer.write(request.bucket)
                }
                result.pointee.prefix = writer.write(router.policy.prefixPerRequest
                    ? request.prefix : router.policy.prefix)
                return writer.overflowed ? S3P_E_SPACE : S3P_OK
            case .noSpace:
                return S3P_E_SPACE
            case .sign(let s3):
                return sign(s3, items: &items, signing: signing, prepared: prepared,
                            now: request.now, streams: router.policy.streams(request),
                            writer: &writer, result: result)
            }
        }
    }

    private func sign(
        _ s3: S3Request, items: inout QueryItems, signing: UnsafePointer<s3p_signing_t>,
        prepared: PreparedParts, now: Int64, streams: Bool, writer: inout BufferWriter,
        result: UnsafeMutablePointer<s3p_result_t>
    ) -> Int32 {
        let virtual = signing.pointee.addressing == S3P_ADDRESSING_VIRTUAL
        let path: CanonicalPath
        switch s3.kind {
        case .object:
            path = CanonicalPath(bucket: s3.bucket, key: s3.key, virtual: virtual)
        case .listing(let withSlash):
            path = CanonicalPath(bucket: s3.bucket, key: nil, trailingSlash: withSlash,
                                 virtual: virtual)
        case .folderListing(let token):
            // ListObjectsV2 of the folder, one level deep.
            path = CanonicalPath(bucket: s3.bucket, key: nil, virtual: virtual)
            items.set(QueryItem(name: Pipeline.view("list-type"), value: Pipeline.view("2")),
                      QueryItem(name: Pipeline.view("delimiter"), value: Pipeline.view("/")),
                      QueryItem(name: Pipeline.view("prefix"), value: s3.key))
            if let token {
                items.append(QueryItem(name: Pipeline.view("continuation-token"),
                                       value: token))
            }
            // Where the listing's links start: the client's path of the
            // bucket.
            let start = writer.count
            Pipeline.writeClientBase(s3, into: &writer)
            writer.write(UInt8(ascii: "/"))
            if writer.overflowed { return S3P_E_SPACE }
            result.pointee.base = writer.str(start, writer.count)
        }
        // A redirect's type and download name are S3's to answer with:
        // signed into the presigned URL (a client's own, where the
        // location allows it, stays).
        var disposition: s3p_str_t? = nil
        if s3.download, case .object = s3.kind {
            let start = writer.count
            ContentDisposition.write(name: ContentDisposition.fileName(s3.key), into: &writer)
            disposition = writer.str(start, writer.count)
            if s3.redirect && !items.contains(named: "response-content-disposition") {
                items.append(QueryItem(name: Pipeline.view("response-content-disposition"),
                                       value: writer.slice(from: start)))
            }
        }
        if s3.redirect, let type = s3.contentType,
           !items.contains(named: "response-content-type")
        {
            items.append(QueryItem(name: Pipeline.view("response-content-type"), value: type))
        }
        items.encode(writer: &writer)
        if writer.overflowed { return S3P_E_SPACE }

        // A presigned URL is signed at the start of its presign window, so
        // that the window's requests for it get the same URL (the window
        // is in X-Amz-Expires too).  Header signatures must be within 15
        // minutes of S3's clock: proxied requests sign the time itself.
        let window = signing.pointee.window
        let signedAt = s3.redirect && window > 0 && now >= 0 ? now - now % window : now
        let stamp = AmzStamp(unixTime: signedAt)
        guard let key = DayKey.key(signing, date: stamp.date) else { return S3P_E_CRYPTO }

        // The location's own bucket (the configuration's, or the
        // request's) is copied: the answer's slices are the buffer's.
        result.pointee.bucket = s3.bucketInPath ? Pipeline.str(s3.bucket)
            : writer.write(s3.bucket)
        if writer.overflowed { return S3P_E_SPACE }
        result.pointee.key = Pipeline.str(s3.key)
        result.pointee.prefix = Pipeline.str(
            UnsafeBufferPointer(rebasing: s3.key[0..<s3.prefixLength]))
        result.pointee.allowed = s3.allowed
        if s3.redirect {
            var presigned = PresignedURL(prepared: prepared)
            result.pointee.route = S3P_ROUTE_REDIRECT
            if window > 0 {
                presigned.cacheGeneration = signing.pointee.generation
                // Clients may keep the redirect until its window ends.
                result.pointee.max_age = signedAt + window - now
            }
            var cached = false
            guard let url = presigned.write(
                method: s3.method, path: path, items: items, stamp: stamp, key: key,
                writer: &writer, cached: &cached)
            else {
                return writer.overflowed ? S3P_E_SPACE : S3P_E_CRYPTO
            }
            result.pointee.cached = cached ? 1 : 0
            result.pointee.action = S3P_ACTION_REDIRECT
            result.pointee.status = 307
            result.pointee.url = writer.str(url.0, url.1)
            if result.pointee.max_age >= 0 {
                let start = writer.count
                writer.write("private, max-age=")
                writer.writeDecimal(UInt32(clamping: result.pointee.max_age))
                if writer.overflowed { return S3P_E_SPACE }
                Pipeline.setHeader("Cache-Control", writer.str(start, writer.count), result)
            }
            return S3P_OK
        }

        // A HEAD is signed as a GET too: proxy_cache may fetch it as one.
        let head = s3.method.utf8CodeUnitCount == 4
        guard let signed = SignedHeaders(prepared: prepared).write(
            method: s3.method, path: path, items: items, stamp: stamp, key: key,
            upstreams: conf.pointee.upstreams != 0, alsoGet: head,
            checksumMode: s3.checksumMode, writer: &writer)
        else {
            return writer.overflowed ? S3P_E_SPACE : S3P_E_CRYPTO
        }
        // The cache key: the URL; the cached answer of a request that asks
        // for checksums carries them, so it is not the answer of one that
        // does not; then whose credentials fetched it and what the client
        // gets made of it (CacheIdentity, variant()).
        let keyStart = writer.count
        writer.write(writer.slice(signed.url.0, signed.url.1))
        if s3.checksumMode {
            writer.write(" x-amz-checksum-mode:")
            let value = writer.count
            writer.write(SignedHeaders.checksumModeValue)
            result.pointee.checksum_mode = writer.str(value, writer.count)
        }
        writer.write(UInt8(ascii: " "))
        writer.write(signing.pointee.cache_identity)
        writer.write(UInt8(ascii: " "))
        writer.write(Pipeline.variant(s3, streams: streams))
        if writer.overflowed { return S3P_E_SPACE }
        result.pointee.cache_key = writer.str(keyStart, writer.count)
        if s3.fallbackOn != 0 {
            // The path and query, asked again at the next step.
            let start = writer.count
            writer.write(s3.clientPath)
            if !s3.clientQuery.isEmpty {
                writer.write(UInt8(ascii: "?"))
                writer.write(s3.clientQuery)
            }
            if writer.overflowed { return S3P_E_SPACE }
            result.pointee.fallback = writer.str(start, writer.count)
            result.pointee.fallback_on = s3.fallbackOn
        }
        if let type = s3.contentType {
            result.pointee.content_type = Pipeline.str(type)
        }
        if let disposition {
            result.pointee.disposition = disposition
        }
        result.pointee.action = S3P_ACTION_PROXY
        result.pointee.url = writer.str(signed.url.0, signed.url.1)
        result.pointee.host = writer.str(signed.host.0, signed.host.1)
        result.pointee.authorization = writer.str(signed.authorization.0,
                                                  signed.authorization.1)
        result.pointee.amz_date = writer.str(signed.amzDate.0, signed.amzDate.1)
        if head {
            result.pointee.get_authorization = writer.str(signed.getAuthorization.0,
                                                          signed.getAuthorization.1)
        }
        switch s3.kind {
        case .folderListing(let token):
            result.pointee.render = token == nil ? S3P_RENDER_LISTING : S3P_RENDER_LISTING_MORE
            result.pointee.route = S3P_ROUTE_BUILTIN_LISTING
            if let name = LocationPolicy(conf: conf).downloadParameter {
                result.pointee.download = Pipeline.str(name)
            }
        case .listing where s3.prefixLength > 0:
            // Keys shown relative to the prefix, as the client named them.
            result.pointee.render = S3P_RENDER_LISTING_XML
            result.pointee.route = S3P_ROUTE_XML_LISTING
        case .listing:
            result.pointee.render = S3P_RENDER_NONE
            result.pointee.route = S3P_ROUTE_XML_LISTING
        case .object:
            result.pointee.render = S3P_RENDER_NONE
            result.pointee.route = s3.page ? S3P_ROUTE_INDEX_PAGE : S3P_ROUTE_STREAM
        }
        switch s3.answer {
        case .plain:
            break
        case .document(let status):
            result.pointee.render = S3P_RENDER_DOCUMENT
            result.pointee.status = status
        case .folder:
            let start = writer.count
            FolderRedirect.write(path: s3.clientPath, query: s3.clientQuery, into: &writer)
            if writer.overflowed { return S3P_E_SPACE }
            result.pointee.render = S3P_RENDER_FOLDER
            result.pointee.status = 302
            Pipeline.setHeader("Location", writer.str(start, writer.count), result)
        }
        return S3P_OK
    }

    /// What the client gets made of S3's answer, for the cache key: the
    /// same S3 URL answers a built-in listing (rendered), a website's error
    /// document (S3's 200 sent with an error status), a folder's check
    /// (a 302 when its index page exists), a page whose 404 or 403 the
    /// next step replaces (a folder's listing, an error document), a page
    /// or listing a browser gets as S3 sent it, and an S3 client's answer.
    static func variant(_ s3: S3Request, streams: Bool) -> StaticString {
        if case .folderListing = s3.kind { return "listing" }
        switch s3.answer {
        case .document: return "error-document"
        case .folder: return "folder-check"
        case .plain: break
        }
        if s3.fallbackOn != 0 { return "fallback" }
        return streams ? "s3" : "page"
    }

    /// The client's path before a key, without its `/`: the mount and, in
    /// a location without its own bucket, `/<bucket>` (a bucket name is
    /// its own percent-encoding).
    static func writeClientBase(_ s3: S3Request, into writer: inout BufferWriter) {
        writer.write(s3.mountBase)
        if s3.bucketInPath {
            writer.write(UInt8(ascii: "/"))
            writer.write(s3.bucket)
        }
    }

    @inline(__always)
    static func view(_ s: StaticString) -> UnsafeBufferPointer<UInt8> {
        s.withUTF8Buffer { $0 }
    }

    /// The header the answer carries: its name a literal, which Swift
    /// keeps NUL-terminated for the life of the process.
    static func setHeader(
        _ name: StaticString, _ value: s3p_str_t, _ result: UnsafeMutablePointer<s3p_result_t>
    ) {
        result.pointee.header = UnsafeRawPointer(name.utf8Start)
            .assumingMemoryBound(to: CChar.self)
        result.pointee.header_value = value
    }

    static func str(_ view: UnsafeBufferPointer<UInt8>) -> s3p_str_t {
        s3p_str_t(len: view.count, data: view.baseAddress)
    }

    /// How large a buffer handle() may need, from input lengths alone.
    static func outputBound(
        _ conf: UnsafePointer<s3p_config_t>, _ req: s3p_request_t
    ) -> Int {
        // A decoded path escaped back comes first, and is the path.
        let room = RequestTarget.room(req)
        let (pathLen, queryLen) = RequestTarget.lengths(req)
        return room + outputBound(conf, req, pathLen: pathLen, queryLen: queryLen)
    }

    private static func outputBound(
        _ conf: UnsafePointer<s3p_config_t>, _ req: s3p_request_t, pathLen: Int,
        queryLen: Int
    ) -> Int {
        // Decoding never grows.  Written at most: the bucket and key (the
        // index name may be added), the decoded query, its UriEncoded form
        // (three bytes a byte, and the folder listing's own items), the
        // canonical path in the URL and the fallback path (three bytes a
        // byte each), the query again in the URL with its separators, the
        // prepared parts (each at most once), and the fixed SigV4 text
        // (the timestamp, signature, names and marker).
        // The location's own bucket, not in the path, appears in the host
        // (virtual addressing), the URL, and the client's paths.
        // x-amz-checksum-mode: the URL again in the cache key, and its
        // name in the signed headers' names (twice for a HEAD).
        let index = max(conf.pointee.index.len, Rules.defaultIndex.utf8CodeUnitCount)
        // Websites: the fallback path and query again, a folder redirect's
        // Location (three bytes a byte), a download's Content-Disposition
        // (decoded and encoded), a type (likewise), an error document's
        // key (as a key).
        let website = 4 * (pathLen + queryLen)
            + 4 * ContentDisposition.bound(pathLen) + 4 * Int(S3P_TYPE_MAX)
            + 12 * conf.pointee.error_document.len + 64
        // A key prefix is part of the key, and goes before the value of
        // each `prefix`, `marker` and `start-after` (each name takes six
        // bytes of the query at least) and of the two added; a bucket
        // from variables is the location's own.
        let prefix = max(conf.pointee.prefix.len, req.prefix.len)
        let path = pathLen + index + 1 + (queryLen / 6 + 3) * prefix
            + req.bucket.len
        let prepared = conf.pointee.signing.map { $0.pointee.prepared.len } ?? 0
        // A URL that names the upstream has the Host header after it: the
        // host again (within the prepared parts) and its bucket (the path's).
        // A HEAD's second Authorization: prepared parts, a date, a signature.
        return 12 * path + 12 * queryLen + 6 * conf.pointee.bucket.len + prepared
            + (conf.pointee.upstreams != 0 ? prepared + path : 0)
            + (req.method.len == 4 ? prepared + 128 : 0) + 1024 + 32 + website
            // the cache key: the URL again (its query and path, three
            // bytes a byte, the prepared parts), the checksum mode, the
            // credentials' identity (a region, a source, a hash) and a
            // variant
            + 3 * path + 3 * queryLen + conf.pointee.bucket.len + prepared + 128 + 160
    }
}

// The common requests, written straight into the caller's buffer with no
// allocation: the redirect of a plain object, the proxied request of an
// index page or of an object streamed to an SDK, and (FastListing.swift) a
// bucket listing.
//
// It answers exactly what Router + Signer answer for the same request (a
// differential test and the fuzzer hold it to that), but only for the
// common cases: GET or HEAD of `/<bucket>/<key>` with no query, or of
// `/<bucket>[/]` with listing parameters; no percent-escape in the bucket;
// on a first pass.  Everything else (other queries, folder listings,
// refusals, fallbacks) returns nil and takes the general path.

internal import CShim

enum FastPath {
    static func handle(
        conf: UnsafeMutablePointer<s3p_config_t>, request: s3p_request_t,
        out: UnsafeMutablePointer<UInt8>, cap: Int,
        result: UnsafeMutablePointer<s3p_result_t>
    ) -> Int32? {
        guard request.fallback == 0, Prepared.isPrepared(conf.pointee.prepared),
              let method = view(request.method), let path = view(request.path),
              let signedMethod = methodName(method)
        else {
            return nil
        }
        if request.query.len > 0 {
            guard let query = view(request.query) else { return nil }
            return listing(conf: conf, request: request, method: signedMethod,
                           path: path, query: query, out: out, cap: cap, result: result)
        }

        // /<bucket>/<key>
        guard path.count > 2, path[0] == UInt8(ascii: "/"),
              let slash = path[1...].firstIndex(of: UInt8(ascii: "/")),
              slash + 1 < path.count
        else {
            return nil
        }
        let bucket = UnsafeBufferPointer(rebasing: path[1..<slash])
        let rawKey = UnsafeBufferPointer(rebasing: path[(slash + 1)...])
        guard !bucket.contains(UInt8(ascii: "%")), BucketName.isValid(bucket),
              allowed(bucket: bucket, conf: conf)
        else {
            return nil
        }

        var writer = BufferWriter(base: out, capacity: cap)
        let bucketSlice = writer.write(bucket)

        // The key, decoded once.
        let keyStart = writer.count
        guard writer.writeDecoded(rawKey), !writer.overflowed else { return nil }
        let decoded = writer.slice(from: keyStart)
        guard decoded.count <= Router.maxKeyLength,
              UTF8Validation.isValid(decoded), Router.staysInBucket(decoded)
        else {
            return nil
        }
        let isFolder = decoded.last == UInt8(ascii: "/")
        let proxied = isFolder || isIndexPage(decoded, conf: conf)
            || streamed(request.user_agent, conf: conf)
        if isFolder {
            writer.write(index(conf))
        }
        let keyEnd = writer.count
        if writer.overflowed { return S3P_E_SPACE }

        guard let stamp = today(conf, request.now) else { return S3P_E_CRYPTO }

        var fast = Fast(conf: conf, out: out, writer: writer, stamp: stamp,
                        method: signedMethod, bucket: bucket,
                        key: UnsafeBufferPointer(start: out + keyStart,
                                                 count: keyEnd - keyStart))
        let status = proxied
            ? fast.proxy(result: result, folderKeyLength: isFolder ? decoded.count : nil)
            : fast.redirect(result: result)
        if status == S3P_OK {
            result.pointee.bucket = bucketSlice
            result.pointee.key = s3p_str_t(len: keyEnd - keyStart,
                                           data: UnsafePointer(out + keyStart))
        }
        return status
    }

    /// The timestamp of `now`, with the signing key of its day in `conf`
    /// (derived by the general code, once a day per worker); nil if
    /// libcrypto fails.
    static func today(
        _ conf: UnsafeMutablePointer<s3p_config_t>, _ now: Int64
    ) -> (UInt64, UInt64)? {
        let stamp = AmzDate.threadStamp(unixTime: now)
        let keyDate = withUnsafeMutablePointer(to: &conf.pointee.key_date) {
            UnsafeRawPointer($0).loadUnaligned(as: UInt64.self)
        }
        if keyDate != stamp.0 && !deriveSigningKey(conf, now) {
            return nil
        }
        return stamp
    }

    /// Once a day per worker: the general code derives the day's key.
    @inline(never)
    private static func deriveSigningKey(
        _ conf: UnsafeMutablePointer<s3p_config_t>, _ now: Int64
    ) -> Bool {
        let settings = Settings(conf.pointee)
        let date = AmzDate(unixTime: now)
        return SigningKeyCache.key(conf, settings: settings, date: date) != nil
    }

    /// The state of one answer being written.
    struct Fast {
        let conf: UnsafeMutablePointer<s3p_config_t>
        let out: UnsafeMutablePointer<UInt8>
        var writer: BufferWriter
        let stamp: (UInt64, UInt64)
        let method: StaticString
        let bucket: UnsafeBufferPointer<UInt8>
        let key: UnsafeBufferPointer<UInt8>

        /// A part of the prepared configuration.
        @inline(__always)
        func part(_ part: Prepared.Part) -> UnsafeBufferPointer<UInt8> {
            Prepared.part(conf.pointee.prepared, part)
        }

        /// `/<bucket>/<UriEncode(key)>`, written; returns its bounds.
        mutating func writePath(_ key: UnsafeBufferPointer<UInt8>) -> (Int, Int) {
            let start = writer.count
            writer.write(UInt8(ascii: "/"))
            writer.write(bucket)
            writer.write(UInt8(ascii: "/"))
            writer.writeEncoded(key, keepSlash: true)
            return (start, writer.count)
        }

        mutating func writeStamp(dateOnly: Bool = false) {
            withUnsafeBytes(of: stamp) {
                let bytes = $0.bindMemory(to: UInt8.self)
                _ = writer.write(dateOnly ? UnsafeBufferPointer(rebasing: bytes[0..<8]) : bytes)
            }
        }

        // MARK: Presigned redirect

        mutating func redirect(result: UnsafeMutablePointer<s3p_result_t>) -> Int32 {
            // <scheme>://<external host>/<bucket>/<UriEncode(key)>?<X-Amz-*>
            let urlStart = writer.count
            writer.write(part(.redirectBase))
            let (pathStart, pathEnd) = writePath(key)
            writer.write(UInt8(ascii: "?"))
            let queryStart = writer.count
            writer.write(part(.presignCredential))
            writeStamp(dateOnly: true)
            writer.write(part(.presignScope))
            writeStamp()
            writer.write(part(.presignTail))
            let queryEnd = writer.count
            writer.write("&X-Amz-Signature=")
            let signatureAt = writer.count
            writer.skip(64)
            if writer.overflowed { return S3P_E_SPACE }

            let path = writer.slice(pathStart, pathEnd)
            let query = writer.slice(queryStart, queryEnd)
            let headers = part(.presignHeaders)
            guard sign(into: out + signatureAt, path: path, query: query, { feeder in
                feeder.feed(headers)
            }) else {
                return S3P_E_CRYPTO
            }

            result.pointee.action = S3P_ACTION_REDIRECT
            result.pointee.status = 307
            result.pointee.url = writer.str(urlStart, writer.count)
            return S3P_OK
        }

        // MARK: Proxied request (header auth)

        mutating func proxy(
            result: UnsafeMutablePointer<s3p_result_t>, folderKeyLength: Int?
        ) -> Int32 {
            // <scheme>://<host>/<bucket>/<UriEncode(key)>
            let urlStart = writer.count
            writer.write(part(.proxyBase))
            let (pathStart, pathEnd) = writePath(key)
            return signHeaders(result: result, urlStart: urlStart,
                               path: (pathStart, pathEnd), query: nil,
                               folderKeyLength: folderKeyLength)
        }

        /// Writes the Authorization header and timestamp of a proxied
        /// request whose URL (`<scheme>://<host><path>[?<query>]`, the
        /// query canonical) was written from `urlStart` to here.
        mutating func signHeaders(
            result: UnsafeMutablePointer<s3p_result_t>, urlStart: Int,
            path pathRange: (Int, Int), query queryRange: (Int, Int)?,
            folderKeyLength: Int?
        ) -> Int32 {
            let (pathStart, pathEnd) = pathRange
            let urlEnd = writer.count

            // AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...
            writer.write(part(.authorizationCredential))
            writeStamp(dateOnly: true)
            writer.write(part(.authorizationScope))
            let signatureAt = writer.count
            writer.skip(64)
            let authorizationEnd = writer.count
            let dateStart = writer.count
            writeStamp()

            // The folder's own path, where nginx comes back on S3's 404.
            var fallbackStart = 0
            if let folderKeyLength {
                fallbackStart = writer.count
                _ = writePath(UnsafeBufferPointer(rebasing: key[0..<folderKeyLength]))
                writer.write("?")
                writer.write(FastPath.fallbackMarker)
            }
            let fallbackEnd = writer.count
            if writer.overflowed { return S3P_E_SPACE }

            let path = writer.slice(pathStart, pathEnd)
            let query = queryRange.map { writer.slice($0.0, $0.1) } ?? FastPath.empty
            let stampBytes = writer.slice(dateStart, dateStart + 16)
            let headers = part(.proxyHeaders)
            let headersTail = part(.proxyHeadersTail)
            guard sign(into: out + signatureAt, path: path, query: query, { feeder in
                feeder.feed(headers)
                feeder.feed(stampBytes)
                feeder.feed(headersTail)
            }) else {
                return S3P_E_CRYPTO
            }

            result.pointee.action = S3P_ACTION_PROXY
            result.pointee.url = writer.str(urlStart, urlEnd)
            result.pointee.authorization = writer.str(urlEnd, authorizationEnd)
            result.pointee.amz_date = writer.str(dateStart, dateStart + 16)
            if folderKeyLength != nil {
                result.pointee.fallback = writer.str(fallbackStart, fallbackEnd)
            }
            result.pointee.render = S3P_RENDER_NONE
            return S3P_OK
        }

        // MARK: Signature

        /// Hashes the canonical request (the method, `path`, `query`, then
        /// what `headers` feeds), signs the string to sign with the day's
        /// key, and writes the 64 hex digits at `at`.
        func sign(
            into at: UnsafeMutablePointer<UInt8>,
            path: UnsafeBufferPointer<UInt8>, query: UnsafeBufferPointer<UInt8>,
            _ headers: (inout DigestFeeder) -> Void
        ) -> Bool {
            var hash: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            let method = self.method
            let hashed = withUnsafeMutableBytes(of: &hash) { hash in
                Digest.sha256(into: hash.baseAddress!.assumingMemoryBound(to: UInt8.self)) {
                    feeder in
                    feeder.feed(method)
                    feeder.feed("\n")
                    feeder.feed(path)
                    feeder.feed("\n")
                    feeder.feed(query)
                    headers(&feeder)
                }
            }
            guard hashed else { return false }

            // The string to sign: a prefix that every request of this second
            // shares (the thread keeps the HMAC state after it), then the
            // hash of the canonical request.
            let scope = part(.scope)
            let capacity = 64 + scope.count
            return withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 8) { scratch in
                var prefix = BufferWriter(
                    base: scratch.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    capacity: capacity)
                prefix.write("AWS4-HMAC-SHA256\n")
                withUnsafeBytes(of: stamp) { stamp in
                    let bytes = stamp.bindMemory(to: UInt8.self)
                    prefix.write(bytes)
                    prefix.write(UInt8(ascii: "\n"))
                    prefix.write(UnsafeBufferPointer(rebasing: bytes[0..<8]))
                }
                prefix.write(scope)
                guard !prefix.overflowed else { return false }

                return withUnsafeBytes(of: conf.pointee.signing_key) { signingKey in
                    withUnsafeBytes(of: hash) { hash in
                        var mac: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
                        let signed = withUnsafeMutableBytes(of: &mac) { mac in
                            Digest.hmac(
                                key: signingKey,
                                prefix: UnsafeRawBufferPointer(prefix.slice(from: 0)),
                                into: mac.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            ) { feeder in
                                withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) {
                                    hex in
                                    let digits = hex.baseAddress!.assumingMemoryBound(to: UInt8.self)
                                    Hex.writeLower(hash, to: digits)
                                    feeder.feed(UnsafeRawBufferPointer(hex))
                                }
                            }
                        }
                        guard signed else { return false }
                        withUnsafeBytes(of: mac) { Hex.writeLower($0, to: at) }
                        return true
                    }
                }
            }
        }
    }

    static var empty: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: nil, count: 0) }
    /// S3P_FALLBACK_MARKER of the C header, as a static string.
    static let fallbackMarker: StaticString = "s3-proxy-fallback"

    // The helpers below take the configuration by pointer: s3p_config_t
    // is 256 bytes, and passing it by value copies it on every call.

    /// The page a folder serves.
    private static func index(_ conf: UnsafeMutablePointer<s3p_config_t>)
        -> UnsafeBufferPointer<UInt8>
    {
        let index = conf.pointee.index
        if index.len > 0, let name = view(index) { return name }
        return Policy.defaultIndex.withUTF8Buffer { $0 }
    }

    static func view(_ s: s3p_str_t) -> UnsafeBufferPointer<UInt8>? {
        guard let data = s.data else { return s.len == 0 ? UnsafeBufferPointer(start: nil, count: 0) : nil }
        return UnsafeBufferPointer(start: data, count: s.len)
    }

    static func methodName(_ method: UnsafeBufferPointer<UInt8>) -> StaticString? {
        switch (method.count, method.first) {
        case (3, UInt8(ascii: "G")) where method[1] == UInt8(ascii: "E")
            && method[2] == UInt8(ascii: "T"):
            return "GET"
        case (4, UInt8(ascii: "H")) where method[1] == UInt8(ascii: "E")
            && method[2] == UInt8(ascii: "A") && method[3] == UInt8(ascii: "D"):
            return "HEAD"
        default:
            return nil
        }
    }

    static func allowed(
        bucket: UnsafeBufferPointer<UInt8>, conf: UnsafeMutablePointer<s3p_config_t>
    ) -> Bool {
        let count = conf.pointee.nbuckets
        guard count > 0, let buckets = conf.pointee.buckets else { return true }
        for entry in UnsafeBufferPointer(start: buckets, count: count) {
            if let name = view(entry), name.elementsEqual(bucket) { return true }
        }
        return false
    }

    /// Whether the client is one whose objects are streamed (Policy's
    /// rule, read straight from the configuration).
    private static func streamed(
        _ agent: s3p_str_t, conf: UnsafeMutablePointer<s3p_config_t>
    ) -> Bool {
        let stream = conf.pointee.stream
        guard stream != S3P_STREAM_OFF, let agent = view(agent), agent.count > 0 else {
            return false
        }
        if stream == S3P_STREAM_LIST {
            guard let agents = conf.pointee.stream_agents else { return false }
            for entry in UnsafeBufferPointer(start: agents, count: conf.pointee.nstream_agents) {
                if let pattern = view(entry), ASCII.containsIgnoringCase(agent, pattern) {
                    return true
                }
            }
            return false
        }
        for pattern in Policy.sdkAgents {
            let found = pattern.withUnsafeBufferPointer { ASCII.containsIgnoringCase(agent, $0) }
            if found { return true }
        }
        return false
    }

    private static func isIndexPage(
        _ key: UnsafeBufferPointer<UInt8>, conf: UnsafeMutablePointer<s3p_config_t>
    ) -> Bool {
        let segmentStart = (key.lastIndex(of: UInt8(ascii: "/")) ?? -1) + 1
        return key[segmentStart...].elementsEqual(index(conf))
    }
}

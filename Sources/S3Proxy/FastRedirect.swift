// The redirect of a plain object request, written straight into the
// caller's buffer: no allocation on the hot path.
//
// It answers exactly what Router + Signer answer for the same request (a
// differential test and the fuzzer hold it to that), but only for the
// common case: GET or HEAD of `/<bucket>/<key>` with no query, no
// percent-escape in the bucket, a key that is not a folder or an index
// page, a client that is not streamed, on a first pass.  Everything else
// returns nil and takes the general path, which also decides refusals.

internal import CShim

enum FastRedirect {
    static func handle(
        conf: UnsafeMutablePointer<s3p_config_t>, request: s3p_request_t,
        out: UnsafeMutablePointer<UInt8>, cap: Int,
        result: UnsafeMutablePointer<s3p_result_t>
    ) -> Int32? {
        guard request.fallback == 0, request.query.len == 0,
              let method = view(request.method), let path = view(request.path),
              let signedMethod = methodName(method)
        else {
            return nil
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
              allowed(bucket: bucket, conf: conf.pointee),
              !streamed(request.user_agent, conf: conf.pointee)
        else {
            return nil
        }

        var writer = BufferWriter(base: out, capacity: cap)
        let bucketSlice = writer.write(bucket)

        // The key, decoded once.
        let keyStart = writer.count
        guard writer.writeDecoded(rawKey), !writer.overflowed else { return nil }
        let key = writer.slice(from: keyStart)
        guard key.count <= Router.maxKeyLength,
              UTF8Validation.isValid(key), Router.staysInBucket(key),
              key.last != UInt8(ascii: "/"),
              !isIndexPage(key, conf: conf.pointee)
        else {
            return nil
        }

        // The signing key of the day (derived by the general code, once a
        // day per worker).
        var stamp: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &stamp) {
            AmzDate.format(unixTime: request.now, into: $0)
        }
        let today = withUnsafeBytes(of: conf.pointee.key_date) {
            $0.loadUnaligned(as: UInt64.self) == stamp.0
        }
        if !today {
            let settings = Settings(conf.pointee)
            let date = AmzDate(unixTime: request.now)
            guard SigningKeyCache.key(conf, settings: settings, date: date) != nil else {
                return S3P_E_CRYPTO
            }
        }

        // <scheme>://<external host>/<bucket>/<UriEncode(key)>?<X-Amz-*>
        let urlStart = writer.count
        writer.write(conf.pointee.scheme)
        writer.write("://")
        writer.write(conf.pointee.external_host)
        let pathStart = writer.count
        writer.write("/")
        writer.write(bucket)
        writer.write("/")
        writer.writeEncoded(key, keepSlash: true)
        let pathEnd = writer.count
        writer.write("?")
        let queryStart = writer.count
        writer.write("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=")
        writer.writeEncoded(conf.pointee.access_key, keepSlash: false)
        writer.write("%2F")
        withUnsafeBytes(of: stamp) {
            _ = writer.write(UnsafeBufferPointer(rebasing: $0.bindMemory(to: UInt8.self)[0..<8]))
        }
        writer.write("%2F")
        writer.writeEncoded(conf.pointee.region, keepSlash: false)
        writer.write("%2Fs3%2Faws4_request&X-Amz-Date=")
        withUnsafeBytes(of: stamp) { _ = writer.write($0.bindMemory(to: UInt8.self)) }
        writer.write("&X-Amz-Expires=")
        writer.writeDecimal(conf.pointee.expires)
        if conf.pointee.session_token.len > 0 {
            writer.write("&X-Amz-Security-Token=")
            writer.writeEncoded(conf.pointee.session_token, keepSlash: false)
        }
        writer.write("&X-Amz-SignedHeaders=host")
        let queryEnd = writer.count
        writer.write("&X-Amz-Signature=")
        let signatureAt = writer.count
        writer.skip(64)
        if writer.overflowed { return S3P_E_SPACE }

        // The canonical request, hashed as it is fed; then the string to
        // sign, fed to the HMAC.
        var hash: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var mac: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let signed = withUnsafeMutableBytes(of: &hash) { hash -> Bool in
            guard let hashBytes = hash.baseAddress?.assumingMemoryBound(to: UInt8.self)
            else {
                return false
            }
            let hashed = Digest.sha256(into: hashBytes) { feeder in
                feeder.feed(signedMethod)
                feeder.feed("\n")
                feeder.feed(writer.slice(pathStart, pathEnd))
                feeder.feed("\n")
                feeder.feed(writer.slice(queryStart, queryEnd))
                feeder.feed("\nhost:")
                feeder.feed(view(conf.pointee.external_host) ?? UnsafeBufferPointer(start: nil, count: 0))
                feeder.feed("\n\nhost\nUNSIGNED-PAYLOAD")
            }
            guard hashed else { return false }
            return withUnsafeMutableBytes(of: &mac) { mac -> Bool in
                guard let macBytes = mac.baseAddress?.assumingMemoryBound(to: UInt8.self)
                else {
                    return false
                }
                return withUnsafeBytes(of: conf.pointee.signing_key) { signingKey in
                    Digest.hmac(key: signingKey, into: macBytes) { feeder in
                        feeder.feed("AWS4-HMAC-SHA256\n")
                        withUnsafeBytes(of: stamp) { stamp in
                            feeder.feed(stamp)
                            feeder.feed("\n")
                            feeder.feed(UnsafeRawBufferPointer(rebasing: stamp[0..<8]))
                        }
                        feeder.feed("/")
                        feeder.feed(view(conf.pointee.region)
                                    ?? UnsafeBufferPointer(start: nil, count: 0))
                        feeder.feed("/s3/aws4_request\n")
                        var hex: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
                            = (0, 0, 0, 0, 0, 0, 0, 0)
                        withUnsafeMutableBytes(of: &hex) { hex in
                            for (index, byte) in UnsafeRawBufferPointer(hash).enumerated() {
                                hex[2 * index] = Hex.lower[Int(byte >> 4)]
                                hex[2 * index + 1] = Hex.lower[Int(byte & 0x0f)]
                            }
                            feeder.feed(UnsafeRawBufferPointer(hex))
                        }
                    }
                }
            }
        }
        guard signed else { return S3P_E_CRYPTO }
        withUnsafeBytes(of: mac) { mac in
            for (index, byte) in mac.enumerated() {
                out[signatureAt + 2 * index] = Hex.lower[Int(byte >> 4)]
                out[signatureAt + 2 * index + 1] = Hex.lower[Int(byte & 0x0f)]
            }
        }

        result.pointee.action = S3P_ACTION_REDIRECT
        result.pointee.status = 307
        result.pointee.bucket = bucketSlice
        result.pointee.key = s3p_str_t(len: key.count, data: key.baseAddress)
        result.pointee.url = writer.str(urlStart, writer.count)
        return S3P_OK
    }

    private static func view(_ s: s3p_str_t) -> UnsafeBufferPointer<UInt8>? {
        guard let data = s.data else { return s.len == 0 ? UnsafeBufferPointer(start: nil, count: 0) : nil }
        return UnsafeBufferPointer(start: data, count: s.len)
    }

    private static func methodName(_ method: UnsafeBufferPointer<UInt8>) -> StaticString? {
        if method.elementsEqual("GET".utf8) { return "GET" }
        if method.elementsEqual("HEAD".utf8) { return "HEAD" }
        return nil
    }

    private static func allowed(bucket: UnsafeBufferPointer<UInt8>, conf: s3p_config_t) -> Bool {
        guard conf.nbuckets > 0, let buckets = conf.buckets else { return true }
        for entry in UnsafeBufferPointer(start: buckets, count: conf.nbuckets) {
            if let name = view(entry), name.elementsEqual(bucket) { return true }
        }
        return false
    }

    /// Whether the client is one the general path streams.  Any doubt
    /// (a list of the operator's) goes to the general path too.
    private static func streamed(_ agent: s3p_str_t, conf: s3p_config_t) -> Bool {
        guard conf.stream != S3P_STREAM_OFF, let agent = view(agent), agent.count > 0 else {
            return false
        }
        if conf.stream == S3P_STREAM_LIST { return true }
        for pattern in Policy.sdkAgents where containsIgnoringCase(agent, pattern) {
            return true
        }
        return false
    }

    private static func containsIgnoringCase(
        _ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]
    ) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return false }
        var start = 0
        while start + needle.count <= haystack.count {
            if ASCII.lowercased(haystack[start]) == first {
                var matched = true
                for offset in 1..<needle.count
                    where ASCII.lowercased(haystack[start + offset]) != needle[offset]
                {
                    matched = false
                    break
                }
                if matched { return true }
            }
            start += 1
        }
        return false
    }

    private static func isIndexPage(_ key: UnsafeBufferPointer<UInt8>, conf: s3p_config_t) -> Bool {
        let segmentStart = (key.lastIndex(of: UInt8(ascii: "/")) ?? -1) + 1
        let segment = key[segmentStart...]
        if conf.index.len > 0, let index = view(conf.index) {
            return segment.elementsEqual(index)
        }
        return segment.elementsEqual("index.html".utf8)
    }
}

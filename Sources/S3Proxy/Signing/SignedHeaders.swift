// SigV4 step 4, header form: the Authorization header of a proxied
// request.
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
//   Authorization: AWS4-HMAC-SHA256 Credential=<key>/<scope>,
//       SignedHeaders=host[;x-amz-checksum-mode];x-amz-content-sha256;
//           x-amz-date[;x-amz-security-token],
//       Signature=<sig>
// for `<scheme>://[<bucket>.]<host><path>[?<query>]`, the URL proxy_pass
// fetches, with that host in its Host header.  x-amz-checksum-mode
// (always `ENABLED`) asks S3 for the object's checksums:
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html

struct SignedHeaders {
    let prepared: PreparedParts

    /// The slices of the answer (offsets into the writer's buffer).
    struct Written {
        var url: (Int, Int)
        var host: (Int, Int)
        var authorization: (Int, Int)
        var amzDate: (Int, Int)
        var getAuthorization = (0, 0)
    }

    /// Writes the URL for `path` and `items` (encoded, sorted),
    /// the Authorization header and the timestamp; nil if the buffer is too
    /// small or libcrypto fails (`writer.overflowed` tells which).  With
    /// `upstreams` (the location's hosts have their upstream{} blocks), a
    /// host with a port is named in the URL as its upstream,
    /// "<host>_<port>" (Upstreams); the Host header keeps the port.  With
    /// `alsoGet`, a second Authorization follows: the same request signed
    /// as a GET.  With `checksumMode`, both sign `x-amz-checksum-mode:
    /// ENABLED` too.
    func write(
        method: StaticString, path: CanonicalPath, items: QueryItems, stamp: AmzStamp,
        key: UnsafeRawBufferPointer, upstreams: Bool, alsoGet: Bool = false,
        checksumMode: Bool = false, writer: inout BufferWriter
    ) -> Written? {
        let urlStart = writer.count
        writer.write(prepared[.proxyScheme])
        let hostStart = writer.count
        path.writeHostPrefix(into: &writer)
        let endpointStart = writer.count
        writer.write(prepared[.host])
        var hostRange = (hostStart, writer.count)
        let colon = upstreams ? Upstreams.portColon(prepared[.host]) : nil
        if let colon, !writer.overflowed {
            writer.base[endpointStart + colon] = UInt8(ascii: "_")
        }
        let pathStart = writer.count
        path.write(into: &writer)
        let pathRange = (pathStart, writer.count)
        var queryStart = writer.count
        if items.count > 0 {
            writer.write(UInt8(ascii: "?"))
            queryStart = writer.count
            items.write(0..<items.count, separate: false, into: &writer)
        }
        let urlEnd = writer.count
        if colon != nil {
            // The Host header, as signed: after the URL, which names the
            // upstream.
            let start = writer.count
            path.writeHostPrefix(into: &writer)
            writer.write(prepared[.host])
            hostRange = (start, writer.count)
        }
        let scope = prepared[checksumMode ? .checksumAuthorizationScope : .authorizationScope]
        let authorization = writeAuthorization(stamp: stamp, scope: scope, into: &writer)
        let stampStart = writer.count
        stamp.write(into: &writer)
        let amzDate = (stampStart, writer.count)
        let get = alsoGet ? writeAuthorization(stamp: stamp, scope: scope, into: &writer) : nil
        if writer.overflowed { return nil }

        let stampBytes = writer.slice(amzDate.0, amzDate.1)
        let checksumLine = checksumMode ? SignedHeaders.checksumModeLine : Bytes.empty
        let tail = prepared[checksumMode ? .checksumHeadersTail : .proxyHeadersTail]
        func sign(_ method: StaticString, at signature: Int) -> Bool {
            let request = CanonicalRequest(
                method: method, path: writer.slice(pathRange.0, pathRange.1),
                query: writer.slice(queryStart, urlEnd),
                host: writer.slice(hostRange.0, hostRange.1),
                rest: (checksumLine, prepared[.proxyHeaders], stampBytes, tail))
            return Signature.write(key: key, request, stamp: stamp, scope: prepared[.scope],
                                   at: writer.base + signature)
        }
        guard sign(method, at: authorization.signature) else { return nil }
        var written = Written(url: (urlStart, urlEnd), host: hostRange,
                              authorization: (authorization.start, authorization.end),
                              amzDate: amzDate)
        if let get {
            guard sign("GET", at: get.signature) else { return nil }
            written.getAuthorization = (get.start, get.end)
        }
        return written
    }

    /// The value sent in x-amz-checksum-mode, the only one S3 takes.
    static let checksumModeValue: StaticString = "ENABLED"

    /// Its canonical header line, between host and x-amz-content-sha256.
    static var checksumModeLine: UnsafeBufferPointer<UInt8> {
        ("\nx-amz-checksum-mode:ENABLED" as StaticString).withUTF8Buffer { $0 }
    }

    /// An Authorization header whose 64 bytes of signature are left to
    /// write at `signature`.
    private func writeAuthorization(
        stamp: AmzStamp, scope: UnsafeBufferPointer<UInt8>, into writer: inout BufferWriter
    ) -> (start: Int, signature: Int, end: Int) {
        let start = writer.count
        writer.write(prepared[.authorizationCredential])
        stamp.writeDate(into: &writer)
        writer.write(scope)
        let signature = writer.count
        writer.skip(64)
        return (start, signature, writer.count)
    }
}

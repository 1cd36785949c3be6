// SigV4 step 4, query form: the presigned URL of a redirect.
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
//   <scheme>://[<bucket>.]<external host><path>?<query with X-Amz-*>
//       &X-Amz-Signature=<sig>
// signed for the request's method with `SignedHeaders=host` and
// `UNSIGNED-PAYLOAD`, valid for the configured lifetime.

struct PresignedURL {
    let prepared: PreparedParts
    /// With a presign window: the settings' generation, under which the
    /// thread keeps the signatures it computed (RedirectCache).
    var cacheGeneration: UInt64? = nil

    /// Writes the URL for `path` and `items` (encoded, sorted)
    /// and returns its bounds (`cached`: its signature was the thread's); nil if the buffer is too small or
    /// libcrypto fails (`writer.overflowed` tells which).
    func write(
        method: StaticString, path: CanonicalPath, items: QueryItems, stamp: AmzStamp,
        key: UnsafeRawBufferPointer, writer: inout BufferWriter, cached: inout Bool
    ) -> (Int, Int)? {
        let urlStart = writer.count
        writer.write(prepared[.redirectScheme])
        let hostStart = writer.count
        path.writeHostPrefix(into: &writer)
        writer.write(prepared[.externalHost])
        let hostRange = (hostStart, writer.count)
        let pathStart = writer.count
        path.write(into: &writer)
        let pathRange = (pathStart, writer.count)
        writer.write(UInt8(ascii: "?"))

        // The X-Amz-* parameters sort among the allowed ones: no allowed
        // name starts with "X-Amz-" (Rules.parameterProblem), so each sorts
        // before or after all of them.
        let queryStart = writer.count
        let before = items.countPreceding("X-Amz-")
        items.write(0..<before, separate: false, into: &writer)
        if before > 0 { writer.write(UInt8(ascii: "&")) }
        writer.write(prepared[.presignCredential])
        stamp.writeDate(into: &writer)
        writer.write(prepared[.presignScope])
        stamp.write(into: &writer)
        writer.write(prepared[.presignTail])
        items.write(before..<items.count, separate: true, into: &writer)
        let queryEnd = writer.count

        writer.write("&X-Amz-Signature=")
        let signatureAt = writer.count
        writer.skip(64)
        if writer.overflowed { return nil }

        let unsigned = writer.slice(urlStart, signatureAt)
        if let generation = cacheGeneration,
           RedirectCache.fetch(generation: generation, method: method, url: unsigned,
                               into: writer.base + signatureAt)
        {
            cached = true
            return (urlStart, writer.count)
        }

        let request = CanonicalRequest(
            method: method, path: writer.slice(pathRange.0, pathRange.1),
            query: writer.slice(queryStart, queryEnd),
            host: writer.slice(hostRange.0, hostRange.1),
            rest: (prepared[.presignHeaders], Bytes.empty, Bytes.empty, Bytes.empty))
        guard Signature.write(key: key, request, stamp: stamp, scope: prepared[.scope],
                              at: writer.base + signatureAt)
        else {
            return nil
        }
        if let generation = cacheGeneration {
            RedirectCache.store(generation: generation, method: method, url: unsigned,
                                signature: writer.base + signatureAt)
        }
        return (urlStart, writer.count)
    }
}

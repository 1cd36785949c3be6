// A bucket listing (ListObjects V1 or V2: `GET /<bucket>[/]?list-type=2&
// prefix=...`) on the allocation-free path: the query is decoded, checked,
// UriEncoded and sorted inside the caller's buffer, and the proxied
// request is signed as FastPath signs an index page.
//
// It answers what Router.listing answers.  Anything else with a query (a
// folder's `?page=`, SDK bookkeeping such as `x-id`, parameters the
// operator did not allow, malformed escapes, more than `maxParameters`
// items, a query on an object) returns nil and takes the general path,
// which also gives the refusals.

internal import CShim

extension FastPath {
    /// The most query items this path sorts (on the stack).
    static let maxParameters = 16

    /// One parameter, UriEncoded, in the buffer: the name at `start`, then
    /// the value.
    struct EncodedParameter {
        var start = 0
        var nameLength = 0
        var valueLength = 0
    }

    static func listing(
        conf: UnsafeMutablePointer<s3p_config_t>, request: s3p_request_t,
        method: StaticString, path: UnsafeBufferPointer<UInt8>,
        query: UnsafeBufferPointer<UInt8>,
        out: UnsafeMutablePointer<UInt8>, cap: Int,
        result: UnsafeMutablePointer<s3p_result_t>
    ) -> Int32? {
        // /<bucket> or /<bucket>/
        guard path.count > 1, path[0] == UInt8(ascii: "/") else { return nil }
        let withSlash = path[path.count - 1] == UInt8(ascii: "/")
        let bucket = UnsafeBufferPointer(rebasing: path[1..<(withSlash ? path.count - 1 : path.count)])
        guard !bucket.contains(UInt8(ascii: "/")), !bucket.contains(UInt8(ascii: "%")),
              BucketName.isValid(bucket), allowed(bucket: bucket, conf: conf)
        else {
            return nil
        }

        var writer = BufferWriter(base: out, capacity: cap)
        let bucketSlice = writer.write(bucket)

        return withUnsafeTemporaryAllocation(
            of: EncodedParameter.self, capacity: maxParameters
        ) { parameters -> Int32? in
            guard let count = encodeQuery(query, conf: conf, writer: &writer,
                                          into: parameters)
            else {
                return nil
            }
            sort(parameters, count: count, in: out)

            // <scheme>://<host>/<bucket>[/]?<canonical query>
            let urlStart = writer.count
            writer.write(Prepared.part(conf.pointee.prepared, .proxyBase))
            let pathStart = writer.count
            writer.write("/")
            writer.write(bucket)
            if withSlash { writer.write("/") }
            let pathEnd = writer.count
            writer.write("?")
            let queryStart = writer.count
            for index in 0..<count {
                let parameter = parameters[index]
                if index > 0 { writer.write("&") }
                writer.write(writer.slice(parameter.start,
                                          parameter.start + parameter.nameLength))
                writer.write("=")
                let valueStart = parameter.start + parameter.nameLength
                writer.write(writer.slice(valueStart, valueStart + parameter.valueLength))
            }
            let queryEnd = writer.count
            if writer.overflowed { return nil }

            guard let stamp = today(conf, request.now) else { return S3P_E_CRYPTO }
            var fast = Fast(conf: conf, out: out, writer: writer, stamp: stamp,
                            method: method, bucket: bucket, key: empty)
            let status = fast.signHeaders(result: result, urlStart: urlStart,
                                          path: (pathStart, pathEnd),
                                          query: (queryStart, queryEnd),
                                          folderKeyLength: nil)
            guard status == S3P_OK else { return status == S3P_E_SPACE ? nil : status }

            // The answer moves down over the staged items, so that it needs
            // no more room than the general path's.
            let answerStart = bucketSlice.len
            let shift = urlStart - answerStart
            UnsafeMutableRawPointer(out + answerStart)
                .copyMemory(from: out + urlStart, byteCount: fast.writer.count - urlStart)
            result.pointee.url.data -= shift
            result.pointee.authorization.data -= shift
            result.pointee.amz_date.data -= shift
            result.pointee.bucket = bucketSlice
            result.pointee.key = s3p_str_t(len: 0, data: UnsafePointer(out + answerStart))
            return S3P_OK
        }
    }

    /// Decodes each item of `query` (`+` is a space), checks it, and writes
    /// its UriEncoded name and value; the number of parameters, or nil
    /// when the general path must answer.
    private static func encodeQuery(
        _ query: UnsafeBufferPointer<UInt8>, conf: UnsafeMutablePointer<s3p_config_t>,
        writer: inout BufferWriter,
        into parameters: UnsafeMutableBufferPointer<EncodedParameter>
    ) -> Int? {
        var count = 0
        var itemStart = 0
        while itemStart <= query.count {
            let itemEnd = query[itemStart...].firstIndex(of: UInt8(ascii: "&")) ?? query.count
            defer { itemStart = itemEnd + 1 }
            if itemEnd == itemStart { continue }
            guard count < parameters.count else { return nil }

            let item = UnsafeBufferPointer(rebasing: query[itemStart..<itemEnd])
            let equals = item.firstIndex(of: UInt8(ascii: "="))
            let rawName = UnsafeBufferPointer(rebasing: item[..<(equals ?? item.count)])
            let rawValue = equals.map { UnsafeBufferPointer(rebasing: item[($0 + 1)...]) }
                ?? empty

            let start = writer.count
            guard writer.writeDecoded(rawName, plusIsSpace: true), !writer.overflowed,
                  isListingName(writer.slice(from: start), conf: conf)
            else {
                return nil
            }
            writer.encodeInPlace(from: start)
            let valueStart = writer.count
            guard writer.writeDecoded(rawValue, plusIsSpace: true), !writer.overflowed,
                  UTF8Validation.isValid(writer.slice(from: valueStart))
            else {
                return nil
            }
            writer.encodeInPlace(from: valueStart)
            if writer.overflowed { return nil }
            parameters[count] = EncodedParameter(
                start: start, nameLength: valueStart - start,
                valueLength: writer.count - valueStart)
            count += 1
        }
        return count > 0 ? count : nil
    }

    /// A ListObjects parameter, or one the operator allowed (UTF-8); not
    /// one that Router drops or reads itself.
    private static func isListingName(
        _ name: UnsafeBufferPointer<UInt8>, conf: UnsafeMutablePointer<s3p_config_t>
    ) -> Bool {
        if name.elementsEqual(ListingHTML.pageParameter) { return false }
        for ignored in Router.ignoredParameters where ignored.elementsEqual(name) {
            return false
        }
        for listing in Router.listingParameters where listing.elementsEqual(name) {
            return true
        }
        guard UTF8Validation.isValid(name), let params = conf.pointee.params else { return false }
        for entry in UnsafeBufferPointer(start: params, count: conf.pointee.nparams) {
            if let allowed = view(entry), allowed.elementsEqual(name) { return true }
        }
        return false
    }

    /// Sorts the parameters by encoded name, then value, as bytes
    /// (insertion sort: there are at most `maxParameters`).
    private static func sort(
        _ parameters: UnsafeMutableBufferPointer<EncodedParameter>, count: Int,
        in buffer: UnsafeMutablePointer<UInt8>
    ) {
        func bytes(_ start: Int, _ length: Int) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: buffer + start, count: length)
        }
        func precedes(_ a: EncodedParameter, _ b: EncodedParameter) -> Bool {
            let aName = bytes(a.start, a.nameLength)
            let bName = bytes(b.start, b.nameLength)
            if !aName.elementsEqual(bName) {
                return aName.lexicographicallyPrecedes(bName)
            }
            return bytes(a.start + a.nameLength, a.valueLength)
                .lexicographicallyPrecedes(bytes(b.start + b.nameLength, b.valueLength))
        }
        guard count > 1 else { return }
        for index in 1..<count {
            let item = parameters[index]
            var at = index
            while at > 0 && precedes(item, parameters[at - 1]) {
                parameters[at] = parameters[at - 1]
                at -= 1
            }
            parameters[at] = item
        }
    }
}

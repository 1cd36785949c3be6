// The provider's own signed requests: STS AssumeRole
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html),
// a form POST for the service "sts", and the check of keys with S3
// (ListObjectsV2 with max-keys=0, a GET for "s3"), each signed with
// Signature Version 4 in headers
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
//
//   canonical request  METHOD \n PATH \n QUERY (sorted) \n
//                      its headers, host, x-amz-date[, x-amz-security-token]
//                      (sorted) \n their names \n the payload's hash
//   string to sign     AWS4-HMAC-SHA256 \n TIMESTAMP \n
//                      DATE/REGION/SERVICE/aws4_request \n
//                      hex(SHA-256(canonical request))
//   signing key        HMAC(HMAC(HMAC(HMAC("AWS4" + secret, DATE), REGION),
//                      SERVICE), "aws4_request")
//
// The keys sign and are wiped with every intermediate value.

enum AssumeRoleRequest {
    struct Parts {
        var host: [UInt8] = []            // the Host header: "host[:port]"
        var region: [UInt8] = []
        var role: [UInt8] = []
        var externalId: [UInt8] = []
        var sessionName: [UInt8] = []
        var duration: Int64 = 0           // 0: STS's default
        var accessKey: [UInt8] = []
        var secretKey: [UInt8] = []
        var sessionToken: [UInt8] = []
        var now: Int64 = 0
    }

    static let contentType = "application/x-www-form-urlencoded; charset=utf-8"

    /// The whole request; nil when the form does not fit 4 KiB.
    static func write(_ req: Parts, into writer: inout BufferWriter) -> Bool {
        guard let form = form(req) else { return false }
        var signed = SignedRequest(method: "POST", path: Array("/".utf8), query: [],
                                   host: req.host, region: req.region, service: "sts",
                                   now: req.now)
        signed.headers = [(Array("content-type".utf8), Array(contentType.utf8))]
        signed.payloadHash = hex(sha256(form))
        signed.write(accessKey: req.accessKey, secretKey: req.secretKey,
                     sessionToken: req.sessionToken, into: &writer)
        writer.write("Content-Length: ")
        writer.writeDecimal(UInt32(clamping: form.count))
        writer.write("\r\n\r\n")
        writer.write(form)
        return true
    }

    /// The form, its names in order, values percent-encoded.
    static func form(_ req: Parts) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n: Int? = buffer.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return nil }
            var w = BufferWriter(base: base, capacity: out.count)
            w.write("Action=AssumeRole")
            if req.duration > 0 {
                w.write("&DurationSeconds=")
                w.writeDecimal(UInt32(clamping: req.duration))
            }
            for (name, value) in [("&ExternalId=", req.externalId), ("&RoleArn=", req.role),
                                  ("&RoleSessionName=", req.sessionName)]
                where !value.isEmpty
            {
                w.write(Array(name.utf8))
                value.withUnsafeBufferPointer { w.writeEncoded($0, keepSlash: false) }
            }
            w.write("&Version=2011-06-15")
            return w.overflowed ? nil : w.count
        }
        guard let n else { return nil }
        return Array(buffer[0..<n])
    }

    /// SHA-256 and HMAC-SHA256 through the signer's own (Digest), into
    /// arrays: a provider step is not on a request's path.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Digest.length)
        out.withUnsafeMutableBufferPointer { o in
            guard let base = o.baseAddress else { return }
            bytes.withUnsafeBufferPointer { b in
                _ = Digest.sha256(into: base, wipe: true) { $0.feed(b) }
            }
        }
        return out
    }

    static func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Digest.length)
        out.withUnsafeMutableBufferPointer { o in
            guard let base = o.baseAddress else { return }
            key.withUnsafeBytes { k in
                data.withUnsafeBufferPointer { d in
                    _ = Digest.hmac(key: k, into: base) { $0.feed(d) }
                }
            }
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        Hex.appendLower(bytes, to: &out)
        return out
    }
}

/// A request signed with SigV4 in its headers: the request line and the
/// headers, up to the blank line's start (the caller ends the head).
struct SignedRequest {
    var method: StaticString
    var path: [UInt8]                 // as sent, already encoded
    var query: [UInt8]                // canonical: sorted, encoded
    var host: [UInt8]
    var region: [UInt8]
    var service: StaticString
    var now: Int64
    /// Other signed headers, lowercase, in order before "host".
    var headers: [([UInt8], [UInt8])] = []
    var payloadHash: [UInt8] = AssumeRoleRequest.hex(AssumeRoleRequest.sha256([]))

    init(method: StaticString, path: [UInt8], query: [UInt8], host: [UInt8], region: [UInt8],
         service: StaticString, now: Int64)
    {
        self.method = method
        self.path = path
        self.query = query
        self.host = host
        self.region = region
        self.service = service
        self.now = now
    }

    func write(accessKey: [UInt8], secretKey: [UInt8], sessionToken: [UInt8],
               into writer: inout BufferWriter)
    {
        let stamp = AmzDate(unixTime: now).timestamp
        let date = Array(stamp[0..<8])
        let serviceName = service.withUTF8Buffer { Array($0) }
        var all = headers + [(Array("host".utf8), host)]
        if serviceName == Array("s3".utf8) {
            all.append((Array("x-amz-content-sha256".utf8), payloadHash))
        }
        all.append((Array("x-amz-date".utf8), stamp))
        if !sessionToken.isEmpty {
            all.append((Array("x-amz-security-token".utf8), sessionToken))
        }
        var names: [UInt8] = []
        var canonical = method.withUTF8Buffer { Array($0) } + [10] + path + [10] + query + [10]
        for (i, (name, value)) in all.enumerated() {
            canonical += name + [UInt8(ascii: ":")] + value + [10]
            names += (i > 0 ? [UInt8(ascii: ";")] : []) + name
        }
        canonical += [10] + names + [10] + payloadHash
        let scope = date + [UInt8(ascii: "/")] + region + [UInt8(ascii: "/")] + serviceName
            + Array("/aws4_request".utf8)
        let toSign = Array("AWS4-HMAC-SHA256\n".utf8) + stamp + [10] + scope + [10]
            + AssumeRoleRequest.hex(AssumeRoleRequest.sha256(canonical))
        var key = Array("AWS4".utf8) + secretKey
        for part in [date, region, serviceName, Array("aws4_request".utf8)] {
            let next = AssumeRoleRequest.hmac(key, part)
            Provider.wipe(&key)
            key = next
        }
        let signature = AssumeRoleRequest.hex(AssumeRoleRequest.hmac(key, toSign))
        Provider.wipe(&key)

        writer.write(method)
        writer.write(" ")
        writer.write(path)
        if !query.isEmpty {
            writer.write("?")
            writer.write(query)
        }
        writer.write(" HTTP/1.1\r\nHost: ")
        writer.write(host)
        writer.write("\r\nUser-Agent: ngx_http_s3_proxy_module\r\nAccept: */*\r\n")
        writer.write("Connection: close\r\n")
        for (name, value) in all where name != Array("host".utf8) {
            writer.write(name)
            writer.write(": ")
            writer.write(value)
            writer.write("\r\n")
        }
        writer.write("Authorization: AWS4-HMAC-SHA256 Credential=")
        writer.write(accessKey)
        writer.write("/")
        writer.write(scope)
        writer.write(", SignedHeaders=")
        writer.write(names)
        writer.write(", Signature=")
        writer.write(signature)
        writer.write("\r\n")
    }
}

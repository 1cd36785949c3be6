// STS AssumeRole
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html),
// a form POST signed with Signature Version 4 for the service "sts"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
//
//   canonical request  POST \n / \n (no query) \n
//                      content-type, host, x-amz-date[, x-amz-security-token]
//                      \n their names \n hex(SHA-256(form))
//   string to sign     AWS4-HMAC-SHA256 \n TIMESTAMP \n
//                      DATE/REGION/sts/aws4_request \n hex(SHA-256(canonical))
//   signing key        HMAC(HMAC(HMAC(HMAC("AWS4" + secret, DATE), REGION),
//                      "sts"), "aws4_request")
//
// The source's keys sign it and are wiped with every intermediate value.

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
        let stamp = AmzDate(unixTime: req.now).timestamp
        let date = Array(stamp[0..<8])
        let hasToken = !req.sessionToken.isEmpty
        let signedHeaders = Array(("content-type;host;x-amz-date"
                                   + (hasToken ? ";x-amz-security-token" : "")).utf8)

        var canonical = Array("POST\n/\n\ncontent-type:".utf8) + Array(contentType.utf8)
        canonical += Array("\nhost:".utf8) + req.host + Array("\nx-amz-date:".utf8) + stamp
        if hasToken { canonical += Array("\nx-amz-security-token:".utf8) + req.sessionToken }
        canonical += Array("\n\n".utf8) + signedHeaders + [10] + hex(sha256(form))

        let scope = date + [UInt8(ascii: "/")] + req.region + Array("/sts/aws4_request".utf8)
        let toSign = Array("AWS4-HMAC-SHA256\n".utf8) + stamp + [10] + scope + [10]
            + hex(sha256(canonical))

        var key = Array("AWS4".utf8) + req.secretKey
        for part in [date, req.region, Array("sts".utf8), Array("aws4_request".utf8)] {
            let next = hmac(key, part)
            Provider.wipe(&key)
            key = next
        }
        let signature = hex(hmac(key, toSign))
        Provider.wipe(&key)

        writer.write("POST / HTTP/1.1\r\nHost: ")
        writer.write(req.host)
        writer.write("\r\nUser-Agent: ngx_http_s3_proxy_module\r\nAccept: */*\r\n")
        writer.write("Connection: close\r\nContent-Type: ")
        writer.write(Array(contentType.utf8))
        writer.write("\r\nX-Amz-Date: ")
        writer.write(stamp)
        if hasToken {
            writer.write("\r\nX-Amz-Security-Token: ")
            writer.write(req.sessionToken)
        }
        writer.write("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=")
        writer.write(req.accessKey)
        writer.write("/")
        writer.write(scope)
        writer.write(", SignedHeaders=")
        writer.write(signedHeaders)
        writer.write(", Signature=")
        writer.write(signature)
        writer.write("\r\nContent-Length: ")
        writer.writeDecimal(UInt32(clamping: form.count))
        writer.write("\r\n\r\n")
        writer.write(form)
        return true
    }

    /// The form, its names in order, values percent-encoded.
    static func form(_ req: Parts) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n: Int? = buffer.withUnsafeMutableBufferPointer { out in
            var w = BufferWriter(base: out.baseAddress!, capacity: out.count)
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

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Digest.length)
        out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { b in
                _ = Digest.sha256(into: o.baseAddress!, wipe: true) { $0.feed(b) }
            }
        }
        return out
    }

    /// HMAC-SHA256 (RFC 2104), on the stack of this call alone.
    static func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var k = key.count > Digest.blockSize ? sha256(key) : key
        k += [UInt8](repeating: 0, count: Digest.blockSize - k.count)
        var inner = k.map { $0 ^ 0x36 } + data
        var outer = k.map { $0 ^ 0x5c }
        outer += sha256(inner)
        let mac = sha256(outer)
        Provider.wipe(&k)
        Provider.wipe(&inner)
        Provider.wipe(&outer)
        return mac
    }

    static func hex(_ bytes: [UInt8]) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return out
    }
}

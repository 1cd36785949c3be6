// Reference implementation (tests only), written from AWS's documentation:
// SigV4 for S3, in the two forms the module needs: a presigned URL for a
// redirect and an Authorization header for a proxied request.
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html

#if S3P_FUZZ
internal import CShim
#else
import CShim
@testable import S3Proxy
#endif

struct Signer {
    let settings: Settings
    /// The signing key for `date.date`.
    let signingKey: [UInt8]
    let date: AmzDate

    static let algorithm: [UInt8] = Array("AWS4-HMAC-SHA256".utf8)
    static let unsignedPayload: [UInt8] = Array("UNSIGNED-PAYLOAD".utf8)
    /// SHA-256 of the empty payload of a GET or HEAD.
    static let emptyPayloadHash: [UInt8] = Array(S3P_EMPTY_PAYLOAD_SHA256.utf8)

    /// `<date>/<region>/s3/aws4_request`
    var credentialScope: [UInt8] {
        var scope = Array(date.date)
        scope.append(UInt8(ascii: "/"))
        scope.append(contentsOf: settings.region)
        scope.append(contentsOf: "/s3/aws4_request".utf8)
        return scope
    }

    // MARK: Canonical request and string to sign

    /// The canonical request: method, path, query, headers, signed header
    /// names and payload hash, joined by newlines.
    static func canonicalRequest(
        method: HTTPMethod, path: [UInt8], query: CanonicalQuery,
        headers: [(name: StaticString, value: [UInt8])], payloadHash: [UInt8]
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + path.count + query.byteCount)
        append(method.name, to: &out)
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: path)
        out.append(UInt8(ascii: "\n"))
        query.write(to: &out)
        out.append(UInt8(ascii: "\n"))
        for header in headers {
            append(header.name, to: &out)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: header.value)
            out.append(UInt8(ascii: "\n"))
        }
        out.append(UInt8(ascii: "\n"))
        appendSignedHeaders(headers, to: &out)
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: payloadHash)
        return out
    }

    /// `AWS4-HMAC-SHA256\n<timestamp>\n<scope>\n<hex(SHA256(canonical))>`
    func stringToSign(canonicalRequest: [UInt8]) -> [UInt8]? {
        guard let hash = Digest.sha256(canonicalRequest) else { return nil }
        var out = Signer.algorithm
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: date.timestamp)
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: credentialScope)
        out.append(UInt8(ascii: "\n"))
        out += Plain.lowerHex(hash)
        return out
    }

    /// Lowercase hex of HMAC(signing key, string to sign).
    func signature(canonicalRequest: [UInt8]) -> [UInt8]? {
        guard let stringToSign = stringToSign(canonicalRequest: canonicalRequest),
              let mac = Digest.hmac(key: signingKey, data: stringToSign)
        else {
            return nil
        }
        var out: [UInt8] = []
        out.reserveCapacity(64)
        out += Plain.lowerHex(mac)
        return out
    }

    // MARK: Presigned URL (query auth)

    /// `<scheme>://[<bucket>.]<external host><path>?<query with X-Amz-*>&X-Amz-Signature=...`
    /// valid for `settings.expires` seconds, signed for `method` with
    /// `SignedHeaders=host` and `UNSIGNED-PAYLOAD`.
    func presignedURL(method: HTTPMethod, target: S3Target) -> [UInt8]? {
        var query = target.query
        query.appendEncoded(name: Array("X-Amz-Algorithm".utf8), value: Signer.algorithm)
        var credential = settings.accessKey
        credential.append(UInt8(ascii: "/"))
        credential.append(contentsOf: credentialScope)
        query.append(name: "X-Amz-Credential".utf8, value: credential)
        query.appendEncoded(name: Array("X-Amz-Date".utf8), value: date.timestamp)
        query.appendEncoded(name: Array("X-Amz-Expires".utf8),
                            value: Signer.decimal(UInt32(settings.expires + settings.window)))
        if !settings.sessionToken.isEmpty {
            query.append(name: "X-Amz-Security-Token".utf8,
                         value: settings.sessionToken)
        }
        query.appendEncoded(name: Array("X-Amz-SignedHeaders".utf8),
                            value: Array("host".utf8))

        let canonical = Signer.canonicalRequest(
            method: method, path: target.canonicalPath, query: query,
            headers: [("host", target.hostPrefix + settings.externalHost)],
            payloadHash: Signer.unsignedPayload)
        guard let signature = signature(canonicalRequest: canonical) else {
            return nil
        }

        var url: [UInt8] = []
        url.append(contentsOf: settings.externalScheme)
        url.append(contentsOf: "://".utf8)
        url.append(contentsOf: target.hostPrefix)
        url.append(contentsOf: settings.externalHost)
        url.append(contentsOf: target.canonicalPath)
        url.append(UInt8(ascii: "?"))
        query.write(to: &url)
        url.append(contentsOf: "&X-Amz-Signature=".utf8)
        url.append(contentsOf: signature)
        return url
    }

    // MARK: Authorization header (header auth)

    /// The signed headers of a proxied request, in canonical order.
    func signedHeaders(target: S3Target) -> [(name: StaticString, value: [UInt8])] {
        var headers: [(name: StaticString, value: [UInt8])] = [
            ("host", target.hostPrefix + settings.host),
        ]
        if target.checksumMode {
            headers.append(("x-amz-checksum-mode", Array("ENABLED".utf8)))
        }
        headers += [
            ("x-amz-content-sha256", Signer.emptyPayloadHash),
            ("x-amz-date", date.timestamp),
        ]
        if !settings.sessionToken.isEmpty {
            headers.append(("x-amz-security-token", settings.sessionToken))
        }
        return headers
    }

    /// `AWS4-HMAC-SHA256 Credential=<key>/<scope>, SignedHeaders=..., Signature=...`
    func authorization(method: HTTPMethod, target: S3Target) -> [UInt8]? {
        let headers = signedHeaders(target: target)
        let canonical = Signer.canonicalRequest(
            method: method, path: target.canonicalPath, query: target.query,
            headers: headers, payloadHash: Signer.emptyPayloadHash)
        guard let signature = signature(canonicalRequest: canonical) else {
            return nil
        }
        var out = Signer.algorithm
        out.append(contentsOf: " Credential=".utf8)
        out.append(contentsOf: settings.accessKey)
        out.append(UInt8(ascii: "/"))
        out.append(contentsOf: credentialScope)
        out.append(contentsOf: ", SignedHeaders=".utf8)
        Signer.appendSignedHeaders(headers, to: &out)
        out.append(contentsOf: ", Signature=".utf8)
        out.append(contentsOf: signature)
        return out
    }

    /// `<scheme>://[<bucket>.]<host><path>[?<query>]`: what proxy_pass
    /// fetches, exactly as signed.
    func upstreamURL(target: S3Target) -> [UInt8] {
        var url = settings.scheme
        url.append(contentsOf: "://".utf8)
        url.append(contentsOf: target.hostPrefix)
        url.append(contentsOf: settings.host)
        url.append(contentsOf: target.canonicalPath)
        if !target.query.isEmpty {
            url.append(UInt8(ascii: "?"))
            target.query.write(to: &url)
        }
        return url
    }

    // MARK: Helpers

    private static func appendSignedHeaders(
        _ headers: [(name: StaticString, value: [UInt8])], to out: inout [UInt8]
    ) {
        for (index, header) in headers.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ";")) }
            append(header.name, to: &out)
        }
    }

    private static func append(_ string: StaticString, to out: inout [UInt8]) {
        string.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    static func decimal(_ value: UInt32) -> [UInt8] {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(UInt8(ascii: "0") &+ UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        return digits.reversed()
    }
}

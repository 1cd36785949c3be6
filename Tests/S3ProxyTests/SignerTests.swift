// SigV4 signing pinned to AWS's published S3 examples.
//
// Source of every vector in this file, unless a comment says otherwise:
// /work/shared/sigv4-vectors.md, which copies the worked examples of the
// AWS S3 API reference ("Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk" and "Authenticating
// Requests: Using Query Parameters (AWS Signature Version 4)").  The
// examples are virtual-hosted (host examplebucket.s3.amazonaws.com, path
// /test.txt), so the targets below are built directly rather than routed.

import Testing
@testable import S3Proxy

@Suite struct SignerTests {

    // MARK: Signing key

    // Source: "signing key (hex)" in the common inputs of sigv4-vectors.md.
    @Test func signingKeyOfTheExamples() throws {
        let key = try #require(SigningKey.derive(
            secret: bytes(AWSExample.secretKey), date: bytes("20130524")[...],
            region: bytes(AWSExample.region)))
        #expect(hex(key) == AWSExample.signingKeyHex)
    }

    // Source: sigv4-vectors.md, common inputs (the SHA-256 of the empty
    // payload); FIPS 180-2 gives the same value for "".
    @Test func emptyPayloadHash() throws {
        let hash = try #require(Digest.sha256([]))
        #expect(hex(hash) == AWSExample.emptyPayloadHash)
        #expect(text(Signer.emptyPayloadHash) == AWSExample.emptyPayloadHash)
    }

    // Source: sigv4-vectors.md, the credential scope in example 1's string
    // to sign.
    @Test func credentialScope() {
        #expect(text(AWSExample.signer().credentialScope)
            == "20130524/us-east-1/s3/aws4_request")
    }

    // MARK: Example 1: GET Object with a Range header

    // Source: sigv4-vectors.md, example 1 (canonical request text, its
    // SHA-256, the string to sign and the signature).
    @Test func example1GetObjectWithRange() throws {
        let signer = AWSExample.signer()
        let canonical = Signer.canonicalRequest(
            method: .get, path: bytes("/test.txt"), query: CanonicalQuery(),
            headers: [
                ("host", bytes(AWSExample.host)),
                ("range", bytes("bytes=0-9")),
                ("x-amz-content-sha256", Signer.emptyPayloadHash),
                ("x-amz-date", bytes(AWSExample.timestamp)),
            ],
            payloadHash: Signer.emptyPayloadHash)
        let expectedCanonical = [
            "GET",
            "/test.txt",
            "",
            "host:examplebucket.s3.amazonaws.com",
            "range:bytes=0-9",
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "x-amz-date:20130524T000000Z",
            "",
            "host;range;x-amz-content-sha256;x-amz-date",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ].joined(separator: "\n")
        #expect(text(canonical) == expectedCanonical)

        let hash = try #require(Digest.sha256(canonical))
        #expect(hex(hash)
            == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")

        let stringToSign = try #require(signer.stringToSign(canonicalRequest: canonical))
        #expect(text(stringToSign) == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)

        let signature = try #require(signer.signature(canonicalRequest: canonical))
        #expect(text(signature)
            == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    // MARK: Examples 2 and 3: header auth through authorization()

    struct HeaderAuthVector: Sendable, CustomTestStringConvertible {
        let name: String
        /// Decoded query parameters, appended as the router would.
        let parameters: [(String, String)]
        let canonicalQuery: String
        /// SHA-256 of the canonical request, where the source gives it.
        let canonicalHash: String?
        let signature: String
        var testDescription: String { name }
    }

    static let headerAuthVectors: [HeaderAuthVector] = [
        // Source: sigv4-vectors.md, example 2 (GET Bucket lifecycle,
        // `GET /?lifecycle`: a value-less query parameter).
        HeaderAuthVector(
            name: "example 2: GET /?lifecycle",
            parameters: [("lifecycle", "")],
            canonicalQuery: "lifecycle=",
            canonicalHash: nil,
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        // Source: sigv4-vectors.md, example 3 (GET Bucket, list objects,
        // `GET /?max-keys=2&prefix=J`); parameters given out of order to
        // check the sort.
        HeaderAuthVector(
            name: "example 3: GET /?max-keys=2&prefix=J",
            parameters: [("prefix", "J"), ("max-keys", "2")],
            canonicalQuery: "max-keys=2&prefix=J",
            canonicalHash: "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]

    @Test(arguments: headerAuthVectors)
    func headerAuth(_ vector: HeaderAuthVector) throws {
        let signer = AWSExample.signer()
        var query = CanonicalQuery()
        for (name, value) in vector.parameters {
            query.append(name: bytes(name), value: bytes(value))
        }
        var written: [UInt8] = []
        query.write(to: &written)
        #expect(text(written) == vector.canonicalQuery)

        let target = AWSExample.target(path: "/", query: query)
        let canonical = Signer.canonicalRequest(
            method: .get, path: target.canonicalPath, query: query,
            headers: signer.signedHeaders(target: target),
            payloadHash: Signer.emptyPayloadHash)
        #expect(text(canonical) == """
            GET
            /
            \(vector.canonicalQuery)
            host:examplebucket.s3.amazonaws.com
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        if let canonicalHash = vector.canonicalHash {
            #expect(hex(try #require(Digest.sha256(canonical))) == canonicalHash)
        }

        let authorization = try #require(
            signer.authorization(method: .get, target: target))
        #expect(text(authorization) == "AWS4-HMAC-SHA256 "
            + "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            + "Signature=\(vector.signature)")

        // The upstream URL carries exactly the query that was signed.
        #expect(text(signer.upstreamURL(target: target))
            == "https://examplebucket.s3.amazonaws.com/?\(vector.canonicalQuery)")
    }

    // MARK: Example 4: PUT Object

    // Source: sigv4-vectors.md, example 4 (path `/test$file.text`, canonical
    // URI `/test%24file.text`).
    @Test func example4PathEncoding() {
        var path: [UInt8] = []
        PercentEncoding.encode(bytes("/test$file.text"), keepSlash: true, into: &path)
        #expect(text(path) == "/test%24file.text")
    }

    // Source: sigv4-vectors.md, example 4 (body hash and signature).  PUT is
    // not an HTTPMethod, so the canonical request is written by hand here
    // in the layout of example 1 and signed with signature(canonicalRequest:).
    @Test func example4PutObjectSignature() throws {
        let body = bytes("Welcome to Amazon S3.")
        let bodyHash = hex(try #require(Digest.sha256(body)))
        #expect(bodyHash
            == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")

        var path: [UInt8] = []
        PercentEncoding.encode(bytes("/test$file.text"), keepSlash: true, into: &path)
        let canonical = bytes([
            "PUT",
            text(path),
            "",
            "date:Fri, 24 May 2013 00:00:00 GMT",
            "host:examplebucket.s3.amazonaws.com",
            "x-amz-content-sha256:\(bodyHash)",
            "x-amz-date:20130524T000000Z",
            "x-amz-storage-class:REDUCED_REDUNDANCY",
            "",
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            bodyHash,
        ].joined(separator: "\n"))
        let signature = try #require(
            AWSExample.signer().signature(canonicalRequest: canonical))
        #expect(text(signature)
            == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    // MARK: Example 5: presigned GET

    // Source: sigv4-vectors.md, example 5 (canonical request text, its
    // SHA-256 and signature).  The query is built the way presignedURL()
    // builds it.
    @Test func example5CanonicalRequest() throws {
        let signer = AWSExample.signer()
        var query = CanonicalQuery()
        query.appendEncoded(name: bytes("X-Amz-Algorithm"), value: Signer.algorithm)
        query.append(name: bytes("X-Amz-Credential"),
                     value: bytes("AKIAIOSFODNN7EXAMPLE/") + signer.credentialScope)
        query.appendEncoded(name: bytes("X-Amz-Date"), value: bytes(AWSExample.timestamp))
        query.appendEncoded(name: bytes("X-Amz-Expires"), value: Signer.decimal(86_400))
        query.appendEncoded(name: bytes("X-Amz-SignedHeaders"), value: bytes("host"))
        let canonical = Signer.canonicalRequest(
            method: .get, path: bytes("/test.txt"), query: query,
            headers: [("host", bytes(AWSExample.host))],
            payloadHash: Signer.unsignedPayload)
        #expect(text(canonical) == """
            GET
            /test.txt
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host
            host:examplebucket.s3.amazonaws.com

            host
            UNSIGNED-PAYLOAD
            """)
        #expect(hex(try #require(Digest.sha256(canonical)))
            == "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04")
        #expect(text(try #require(signer.signature(canonicalRequest: canonical)))
            == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    // Source: sigv4-vectors.md, example 5 (the URL).
    @Test func example5PresignedURL() throws {
        let url = try #require(AWSExample.signer(expires: 86_400)
            .presignedURL(method: .get, target: AWSExample.target()))
        #expect(text(url) == "https://examplebucket.s3.amazonaws.com/test.txt"
            + "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    // MARK: Beyond the AWS examples

    // Source: botocore 1.43.11, computed on this machine with
    //   creds = Credentials(AKIAIOSFODNN7EXAMPLE, wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, "tok/en+1")
    //   S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=300)
    // on GET https://s3.example.com:9000/bkt/it%27s%20a%2Bb.txt with the
    // time fixed at 20130524T000000Z (path-style, a port in the host, a
    // session token and a key that needs encoding; AWS publishes no example
    // of any of these).  The script: botocore.auth.get_current_datetime
    // patched to return datetime(2013, 5, 24), then
    // S3SigV4QueryAuth(...).add_auth(AWSRequest(method="GET", url=...)).
    @Test func presignedURLWithTokenPortAndEncodedKey() throws {
        let date = AmzDate(unixTime: AWSExample.unixTime)
        let settings = Settings(
            accessKey: bytes(AWSExample.accessKey),
            secretKey: bytes(AWSExample.secretKey),
            sessionToken: bytes("tok/en+1"), region: bytes("us-east-1"),
            host: bytes("s3.internal:9000"),
            externalHost: bytes("s3.example.com:9000"),
            scheme: bytes("https"), expires: 300)
        let signer = Signer(
            settings: settings,
            signingKey: hexBytes(AWSExample.signingKeyHex), date: date)
        let key = bytes("it's a+b.txt")
        let target = S3Target(bucket: bytes("bkt"), key: key,
                              canonicalPath: Router.canonicalPath(bytes("bkt"), key),
                              query: CanonicalQuery())
        #expect(text(target.canonicalPath) == "/bkt/it%27s%20a%2Bb.txt")
        let url = try #require(signer.presignedURL(method: .get, target: target))
        #expect(text(url) == BotocoreVectors.presignedTokenPortKey)
    }

    // Source: botocore 1.43.11, S3SigV4Auth with the same credentials and
    // session token as above, GET https://s3.internal:9000/bkt/?delimiter=%2F&prefix=dir%2F
    // with X-Amz-Content-SHA256 set to the empty-payload hash and the time
    // fixed at 20130524T000000Z.
    @Test func authorizationWithTokenAndPort() throws {
        let date = AmzDate(unixTime: AWSExample.unixTime)
        let settings = Settings(
            accessKey: bytes(AWSExample.accessKey),
            secretKey: bytes(AWSExample.secretKey),
            sessionToken: bytes("tok/en+1"), region: bytes("us-east-1"),
            host: bytes("s3.internal:9000"),
            externalHost: bytes("s3.example.com:9000"),
            scheme: bytes("https"), expires: 300)
        let signer = Signer(
            settings: settings,
            signingKey: hexBytes(AWSExample.signingKeyHex), date: date)
        var query = CanonicalQuery()
        query.append(name: bytes("prefix"), value: bytes("dir/"))
        query.append(name: bytes("delimiter"), value: bytes("/"))
        let target = S3Target(bucket: bytes("bkt"), key: [],
                              canonicalPath: bytes("/bkt/"), query: query)
        #expect(text(signer.upstreamURL(target: target))
            == "https://s3.internal:9000/bkt/?delimiter=%2F&prefix=dir%2F")
        let authorization = try #require(
            signer.authorization(method: .get, target: target))
        #expect(text(authorization) == BotocoreVectors.authorizationTokenPort)
    }

    // Source: the decimal representation of UInt32 values.
    @Test(arguments: [
        (UInt32(0), "0"), (1, "1"), (10, "10"), (300, "300"),
        (86_400, "86400"), (604_800, "604800"), (UInt32.max, "4294967295"),
    ])
    func decimal(_ value: UInt32, _ expected: String) {
        #expect(text(Signer.decimal(value)) == expected)
    }
}

/// Values computed with botocore; see the comments of the tests above.
enum BotocoreVectors {
    // botocore's URL was
    //   https://s3.example.com:9000/bkt/it%27s%20a%2Bb.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Fen%2B1&X-Amz-Signature=c8c08e9ff03242ec6e75908418add462708183b2c39ad409ec8f16b065224979
    // It appends X-Amz-Security-Token after signing the sorted query; the
    // module writes the parameters in canonical (sorted) order.  Same
    // parameters, same signature.
    static let presignedTokenPortKey =
        "https://s3.example.com:9000/bkt/it%27s%20a%2Bb.txt"
        + "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=300"
        + "&X-Amz-Security-Token=tok%2Fen%2B1&X-Amz-SignedHeaders=host"
        + "&X-Amz-Signature=c8c08e9ff03242ec6e75908418add462708183b2c39ad409ec8f16b065224979"
    static let authorizationTokenPort = "AWS4-HMAC-SHA256 "
        + "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        + "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
        + "Signature=4ac13b403e43d8d8b48444082234c5cd2d163b1771c8d2df1803024d3866f313"
}

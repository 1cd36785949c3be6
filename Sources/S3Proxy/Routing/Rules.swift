// The product's routing rules that do not depend on configuration: which
// query parameters a listing forwards or SDKs add, S3's key limit, the
// clients that cannot follow a redirect, and the default index page.

internal import CShim

enum Rules {
    /// ListObjects (V1 and V2) parameters: the only query a listing
    /// forwards without the operator's allowlist.
    static let listingParameters: [StaticString] = [
        "list-type", "prefix", "delimiter", "marker", "continuation-token",
        "start-after", "max-keys", "encoding-type", "fetch-owner",
    ]

    /// The listing parameters that name keys, which a key prefix goes
    /// before (RequestRouter.confine).
    static let prefixParameter: StaticString = "prefix"
    static let listTypeParameter: StaticString = "list-type"
    static let startAfterParameter: StaticString = "start-after"
    static let markerParameter: StaticString = "marker"

    /// Parameters that SDKs add for their own bookkeeping and S3 ignores;
    /// they are dropped, never signed or forwarded.
    static let ignoredParameters: [StaticString] = ["x-id"]

    /// The query parameter of a built-in listing that carries the
    /// continuation token of the page to show.
    static let pageParameter: StaticString = "page"

    /// GetObject's and HeadObject's part of a multipart object: objects
    /// take it without the operator's allowlist.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
    static let partNumberParameter: StaticString = "partNumber"

    /// S3's most parts of an object.
    static let maxPartNumber = 10_000

    /// Whether `value` is a part number: 1 to maxPartNumber in plain
    /// decimal (no sign, space or leading zero).
    static func isPartNumber(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = value.first, first != UInt8(ascii: "0"), value.count <= 5 else {
            return false
        }
        var number = 0
        for byte in value {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return false }
            number = number * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return number <= maxPartNumber
    }

    /// S3's limit on a key: 1,024 bytes of UTF-8 (S3P_KEY_MAX).
    static let maxKeyLength = Int(S3P_KEY_MAX)

    /// The most query items a request may carry (more: 400).  S3's own
    /// requests carry at most a dozen.  The module adds at most
    /// `addedQueryItems` of its own (a key prefix's, a website's presigned
    /// type and name), and the list of them all lives on the stack: 32
    /// items, 1 KiB (larger temporary allocations may go to the heap, and
    /// s3p-bench fails a route that allocates).
    static let maxQueryItems = 30
    static let addedQueryItems = 2

    /// The page a path ending in `/` serves when s3_proxy_index is not set.
    static let defaultIndex: StaticString = "index.html"

    /// The query parameter of download links when s3_proxy_download_param
    /// is not set, and the word that turns them off.
    static let downloadParameter: StaticString = "download"
    static let off: StaticString = "off"

    /// What a website proxies when s3_proxy_proxy_types is not set.
    static let defaultProxyType: StaticString = "text/html"

    /// A type without its parameters and the spaces before them:
    /// `text/html; charset=utf-8` -> `text/html`.
    static func bareType(_ type: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var end = type.firstIndex(of: UInt8(ascii: ";")) ?? type.count
        while end > 0 && ASCII.isSpace(type[end - 1]) { end -= 1 }
        return UnsafeBufferPointer(rebasing: type[0..<end])
    }

    /// The extension of a key's last segment, as nginx finds a URI's
    /// ($uri's `exten`): what follows its last `.`; empty without one.
    static func fileExtension(of key: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var index = key.count
        while index > 0 {
            let byte = key[index - 1]
            if byte == UInt8(ascii: "/") { break }
            if byte == UInt8(ascii: ".") {
                return UnsafeBufferPointer(rebasing: key[index...])
            }
            index -= 1
        }
        return Bytes.empty
    }

    /// botocore and everything built on it (boto3, the aws CLI, s3transfer),
    /// the AWS SDKs (`aws-sdk-java`, `aws-sdk-go`, `aws-sdk-js`,
    /// `aws-sdk-dotnet`, `aws-sdk-rust`, ...), MinIO's clients and mc,
    /// s3cmd and rclone: User-Agent substrings, matched in any case, of
    /// clients whose objects are streamed because they cannot follow a 307.
    static let sdkAgents: [StaticString] = [
        "botocore/", "boto3/", "aws-cli/", "aws-sdk-", "minio", "s3cmd/",
        "rclone/",
    ]

    /// Whether a request carries what S3 clients send when they sign:
    /// an `Authorization` in AWS form (SigV4's `AWS4-HMAC-SHA256 ...`,
    /// SigV4a's `AWS4-ECDSA-P256-SHA256 ...`, SigV2's `AWS id:signature`),
    /// `x-amz-date` or `x-amz-content-sha256`.  Browsers and download tools
    /// send none of them; s3cmd, for one, sends no User-Agent but all three.
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html
    static func isS3Signed(_ request: IncomingRequest) -> Bool {
        if !request.amzDate.isEmpty || !request.amzContentSHA256.isEmpty { return true }
        let authorization = request.authorization
        let scheme = UnsafeBufferPointer(rebasing:
            authorization[..<(authorization.firstIndex(of: UInt8(ascii: " "))
                              ?? authorization.count)])
        return ASCII.equalsIgnoringCase(scheme, awsV2Scheme)
            || ASCII.hasPrefixIgnoringCase(scheme, awsV4SchemePrefix)
    }

    /// Authorization schemes of S3's signatures: SigV2's, and the prefix of
    /// SigV4's and SigV4a's.
    static let awsV2Scheme: StaticString = "AWS"
    static let awsV4SchemePrefix: StaticString = "AWS4-"

    /// Whether a parameter would change what S3 answers or how it checks
    /// a presigned URL: `response-*` overrides and `X-Amz-*` (any case).
    static func isOverride(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        ASCII.hasPrefixIgnoringCase(name, "response-")
            || ASCII.hasPrefixIgnoringCase(name, "x-amz-")
    }

    /// Why an allowed-parameter name cannot be allowed, or nil.
    static func parameterProblem(_ name: [UInt8]) -> String? {
        if name.isEmpty {
            return "is empty"
        }
        if ASCII.lowercased(name).starts(with: "x-amz-".utf8) {
            return "is an authentication parameter"
        }
        if !name.allSatisfy(Settings.isTokenByte) {
            return "holds a character that is not allowed"
        }
        return nil
    }

    /// Whether `value` is a MIME type: `type/subtype`, tokens.
    static func isMediaType(_ value: [UInt8]) -> Bool {
        guard let slash = value.firstIndex(of: UInt8(ascii: "/")),
              slash > 0, slash < value.count - 1
        else {
            return false
        }
        for (index, byte) in value.enumerated() where index != slash {
            if !Settings.isTokenByte(byte) { return false }
        }
        return true
    }

    /// Why a key cannot be an error document, or nil: a key S3 takes
    /// (UTF-8, at most S3P_KEY_MAX bytes) that stays in its bucket.
    static func errorDocumentProblem(_ key: [UInt8]) -> String? {
        if key.isEmpty || key.count > maxKeyLength {
            return "must be a key of 1 to 1024 bytes"
        }
        let valid = key.withUnsafeBufferPointer {
            UTF8Validation.isValid($0) && staysInBucket($0)
        }
        let control = key.contains { $0 < 0x20 || $0 == 0x7f }
        if !valid || control || key.last == UInt8(ascii: "/") {
            return "must be an object's key (UTF-8, no control bytes, not a folder, "
                + "no \"..\" above the bucket)"
        }
        return nil
    }

    /// Why an index page name cannot be one, or nil.
    /// Why a prefix location's prefix cannot be a mount, or nil.  Requests
    /// are routed by their raw path, which must begin with the prefix byte
    /// for byte; nginx matches locations against the decoded path, so a
    /// prefix holding a byte that clients percent-encode (a space, `%`,
    /// non-ASCII) would match requests whose raw path never begins with
    /// it.  Letters, digits and `-._~!$&'()*+,;=:@/` pass unencoded.
    static func mountProblem(_ prefix: [UInt8]) -> String? {
        guard prefix.first == UInt8(ascii: "/") else {
            return "must begin with \"/\""
        }
        // a listing's links start with the mount: "//host/..." is another
        // host's address to a browser
        if prefix.count > 1 && prefix[1] == UInt8(ascii: "/") {
            return "must not begin with \"//\", which browsers read as another host "
                + "in a listing's links"
        }
        for byte in prefix {
            let plain = PercentEncoding.isUnreserved(byte)
                || "/!$&'()*+,;=:@".utf8.contains(byte)
            if !plain {
                return "holds a character that requests carry percent-encoded: "
                    + "use only letters, digits and -._~!$&'()*+,;=:@/"
            }
        }
        return nil
    }

    static func indexProblem(_ name: [UInt8]) -> String? {
        if name.isEmpty || name.contains(UInt8(ascii: "/"))
            || name.elementsEqual(".".utf8) || name.elementsEqual("..".utf8)
        {
            return "must be a file name"
        }
        return nil
    }

    /// Whether resolving the key's dot segments (as RFC 3986 clients and
    /// some servers do) keeps it below the bucket.  Empty segments are not
    /// counted, as nginx's merge_slashes would drop them.
    static func staysInBucket(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        var depth = 0
        var length = 0              // of the segment being read
        var dots = 0                // of its bytes, how many are '.'
        var index = 0
        while true {
            let end = index == key.count
            if end || key[index] == UInt8(ascii: "/") {
                if length == 2 && dots == 2 {
                    depth -= 1
                    if depth < 0 { return false }
                } else if length > 0 && !(length == 1 && dots == 1) {
                    depth += 1
                }
                if end { return true }
                length = 0
                dots = 0
            } else {
                length += 1
                if key[index] == UInt8(ascii: ".") { dots += 1 }
            }
            index += 1
        }
    }
}

extension StaticString {
    /// Whether `bytes` are this string's UTF-8.
    @inline(__always)
    func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        withUTF8Buffer { $0.elementsEqual(bytes) }
    }
}

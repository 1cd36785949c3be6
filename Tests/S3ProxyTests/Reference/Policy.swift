// Reference implementation (tests only): what the operator lets clients
// reach, beyond the routing rules: which buckets, and which query
// parameters besides the listing ones.  The product's constant rules
// (Rules) are shared: they are policy, not an implementation.
#if !S3P_FUZZ
@testable import S3Proxy
#endif

struct Policy {
    /// Buckets that may be reached; empty means any.
    var buckets: [[UInt8]] = []
    /// Query parameters that requests may carry and that are signed and
    /// forwarded (for example `versionId`, `response-content-disposition`).
    var parameters: [[UInt8]] = []
    /// User-Agent substrings (any case) of clients whose object requests
    /// are streamed through the proxy instead of redirected: S3 SDKs and
    /// CLIs do not follow a 307 for GetObject and HeadObject.
    var streamAgents: [[UInt8]] = Policy.sdkAgents
    /// Whether clients that send no User-Agent are streamed (s3cmd sends
    /// none), and clients that sign their requests as S3 clients do.
    var streamsWithoutAgent = true
    var streamsSigned = true
    /// Query parameters dropped before routing (cache busters).
    var ignoredParameters: [[UInt8]] = []
    /// The page a path ending in `/` serves.
    var indexDocument: [UInt8] = Policy.defaultIndex.withUTF8Buffer { Array($0) }
    /// Whether a folder without an index page gets the built-in listing.
    var listings = false
    /// The query parameter of browsers' download links; nil: off.
    var downloadParameter: [UInt8]? = Array("download".utf8)
    /// A prefix location's prefix: client paths begin with it and the S3
    /// path follows it.  Empty: the whole path.
    var mount: [UInt8] = []
    /// The location's own bucket: the path below the mount is a key of
    /// it.  nil: the first segment names the bucket.
    var bucket: [UInt8]? = nil
    /// Virtual-hosted addressing: the bucket is the first label of the
    /// host; with an https endpoint on either side.
    var virtual = false
    var https = true

    /// The index page when s3_proxy_index is not set.
    static let defaultIndex: StaticString = "index.html"

    /// botocore, boto3, the aws CLI, the AWS SDKs, MinIO's clients, s3cmd
    /// and rclone.
    static let sdkAgents: [[UInt8]] = [
        "botocore/", "boto3/", "aws-cli/", "aws-sdk-", "minio", "s3cmd/", "rclone/",
    ].map { Array($0.utf8) }

    /// Bucket names compare exactly: S3 bucket names are case-sensitive, so
    /// `/OK/` is not `/ok/`.
    func allows(bucket: [UInt8]) -> Bool {
        buckets.isEmpty || buckets.contains(bucket)
    }

    /// Whether the bucket can be named in a host: lowercase letters,
    /// digits and hyphens in labels separated by single dots (no dots with
    /// https, whose `*.host` certificates cover one label).
    func addresses(bucket: [UInt8]) -> Bool {
        guard virtual else { return true }
        let labels = bucket.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if https && labels.count > 1 { return false }
        for label in labels {
            guard let first = label.first, let last = label.last,
                  first != UInt8(ascii: "-"), last != UInt8(ascii: "-"),
                  label.allSatisfy({
                      (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                          || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                          || $0 == UInt8(ascii: "-")
                  })
            else {
                return false
            }
        }
        return true
    }

    func allows(parameter name: [UInt8]) -> Bool {
        parameters.contains(name)
    }

    func ignores(parameter name: [UInt8]) -> Bool {
        ignoredParameters.contains(name)
    }

    /// Whether this client gets objects streamed: by User-Agent, by sending
    /// none, or by signing as S3 clients do.
    func streams(userAgent: ArraySlice<UInt8>, signing: ClientSigning) -> Bool {
        if userAgent.isEmpty && streamsWithoutAgent { return true }
        if streamsSigned && signing.isS3Signed { return true }
        return streamAgents.contains { Plain.containsIgnoringCase(userAgent, $0) }
    }

    static func parameterProblem(_ name: [UInt8]) -> String? {
        Plain.parameterProblem(name)
    }
}

/// What a client sent that S3 clients send when they sign a request.
struct ClientSigning {
    var authorization: [UInt8] = []
    var amzDate: [UInt8] = []
    var amzContentSHA256: [UInt8] = []

    /// An `x-amz-date` or `x-amz-content-sha256` header, or an
    /// `Authorization` whose scheme (its first word) is SigV2's `AWS` or
    /// starts with `AWS4-` (SigV4, SigV4a), in any case.
    var isS3Signed: Bool {
        if !amzDate.isEmpty || !amzContentSHA256.isEmpty { return true }
        let scheme = Array(authorization.prefix { $0 != UInt8(ascii: " ") })
            .map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        return scheme == Array("aws".utf8) || scheme.starts(with: "aws4-".utf8)
    }
}

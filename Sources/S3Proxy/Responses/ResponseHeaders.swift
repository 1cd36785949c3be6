// Which of S3's response headers a client of a proxied request sees.
//
// A streamed (SDK) client should see what a redirected one sees of the
// object: GetObject's and HeadObject's response headers,
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html and
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html .
// The proxy's own operations stay behind it: request ids, which identify
// its requests to AWS support, and server-side encryption details, which
// name its keys, unless the operator passes them (s3_proxy_pass_headers).
// Any other x-amz-* or x-amzn-* header is hidden: one S3 adds later is
// shown once it is known to be about the object.  S3's Location (of its
// 3xx answers: another region's endpoint, or anywhere an S3-compatible
// server points) never reaches a client: the proxy is where its clients
// stay.
//
// Checksums (x-amz-checksum-*: the value and x-amz-checksum-type) describe
// the bytes, as ETag does: SDKs check the body against them.  A part of
// the object cut by a Range carries none, as S3 answers a ranged GET; with
// proxy_cache it is nginx that cuts the range, from the whole object
// cached with its checksums.  A part read by partNumber keeps S3's.

internal import CShim

enum ResponseHeaders {
    /// Whether the header `name` (any case) reaches the client.
    static func isVisible(_ name: UnsafeBufferPointer<UInt8>, pass: UInt32) -> Bool {
        if equal(name, "location") { return false }
        guard hasPrefix(name, "x-amz") else { return true }
        if hasPrefix(name, "x-amz-checksum-") {
            return pass & UInt32(S3P_ANSWER_RANGE) == 0
        }
        if hasPrefix(name, "x-amz-meta-") || hasPrefix(name, "x-amz-object-lock-") {
            return true
        }
        for object in objectHeaders where equal(name, object) {
            return true
        }
        if equal(name, "x-amz-request-id") || equal(name, "x-amz-id-2")
            || equal(name, "x-amzn-requestid")
        {
            return pass & UInt32(S3P_PASS_REQUEST_ID) != 0
        }
        if hasPrefix(name, "x-amz-server-side-encryption") {
            return pass & UInt32(S3P_PASS_SSE) != 0
        }
        return false
    }

    /// GetObject's and HeadObject's x-amz-* headers about the object itself
    /// (besides metadata, checksums and object lock, matched by prefix).
    private static let objectHeaders: [StaticString] = [
        "x-amz-version-id", "x-amz-delete-marker", "x-amz-storage-class",
        "x-amz-restore", "x-amz-expiration", "x-amz-website-redirect-location",
        "x-amz-replication-status", "x-amz-mp-parts-count",
        "x-amz-tagging-count", "x-amz-missing-meta", "x-amz-archive-status",
    ]

    private static func hasPrefix(_ name: UnsafeBufferPointer<UInt8>,
                                  _ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { p in
            guard name.count >= p.count else { return false }
            var i = 0
            while i < p.count && ASCII.lowercased(name[i]) == p[i] { i += 1 }
            return i == p.count
        }
    }

    private static func equal(_ name: UnsafeBufferPointer<UInt8>,
                              _ other: StaticString) -> Bool {
        name.count == other.utf8CodeUnitCount && hasPrefix(name, other)
    }
}

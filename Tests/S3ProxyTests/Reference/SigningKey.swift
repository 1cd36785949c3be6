// Reference implementation (tests only).
//
// The SigV4 signing key.
//
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
// ("Derive a signing key"):
//   kDate    = HMAC("AWS4" + secret, date)
//   kRegion  = HMAC(kDate, region)
//   kService = HMAC(kRegion, "s3")
//   kSigning = HMAC(kService, "aws4_request")
//
// It depends on the UTC date, so it is derived at most once per day per
// worker and kept in the configuration's cache, never frozen at start-up.
#if !S3P_FUZZ
@testable import S3Proxy
#endif

enum SigningKey {
    static func derive(
        secret: [UInt8], date: ArraySlice<UInt8>, region: [UInt8]
    ) -> [UInt8]? {
        guard let kDate = Digest.hmac(key: Array("AWS4".utf8) + secret, data: date),
              let kRegion = Digest.hmac(key: kDate, data: region),
              let kService = Digest.hmac(key: kRegion, data: "s3".utf8),
              let kSigning = Digest.hmac(key: kService, data: "aws4_request".utf8)
        else {
            return nil
        }
        return kSigning
    }
}

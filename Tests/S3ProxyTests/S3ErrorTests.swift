// S3's error answers cleaned (S3Error, s3p_s3_error) and its response
// headers kept or hidden (ResponseHeaders, s3p_response_header_visible).
//
// Source of the expectations:
// - S3's error responses
//   (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):
//   an Error element with Code, Message, and per code Resource, RequestId,
//   HostId, and for SignatureDoesNotMatch AWSAccessKeyId, StringToSign,
//   StringToSignBytes, CanonicalRequest, CanonicalRequestBytes;
// - GetObject's and HeadObject's response headers
//   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html);
// - docs/operations.md ("Errors from S3", "Response headers") and the
//   README's s3_proxy_pass_headers.

import CShim
import Testing
@testable import S3Proxy

fileprivate func clean(_ status: Int32, _ body: String) -> (Int32, String, String, s3p_log_t) {
    var out = [UInt8](repeating: 0, count: Int(S3P_ERROR_OUT_MAX))
    var err = s3p_s3_error_t()
    let bytes = Array(body.utf8)
    let rc = bytes.withUnsafeBufferPointer { b in
        out.withUnsafeMutableBufferPointer { o in
            s3p_s3_error(status, b.baseAddress, b.count, o.baseAddress, o.count, &err)
        }
    }
    let text = { (s: s3p_str_t) in
        String(decoding: UnsafeBufferPointer(start: s.data, count: s.len), as: UTF8.self)
    }
    return (rc, text(err.code), text(err.body), err.log)
}

// What the S3 stand-in and S3 send for a wrong secret.
private let signatureMismatch = """
<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated \
does not match.
CanonicalRequest: GET /demo/x</Message><AWSAccessKeyId>AKIDEXAMPLE</AWSAccessKeyId>\
<StringToSign>AWS4-HMAC-SHA256
20130524T000000Z</StringToSign><StringToSignBytes>41 57</StringToSignBytes>\
<CanonicalRequest>GET
/demo/x
x-amz-security-token:SECRET-TOKEN</CanonicalRequest><CanonicalRequestBytes>47 45\
</CanonicalRequestBytes><RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>
"""

@Test func signatureMismatchKeepsOnlyTheCode() {
    let (rc, code, body, log) = clean(403, signatureMismatch)
    #expect(rc == S3P_OK)
    #expect(code == "SignatureDoesNotMatch")
    #expect(log == S3P_LOG_ERROR)
    #expect(body.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>"))
    for leaked in ["AKIDEXAMPLE", "SECRET-TOKEN", "StringToSign", "CanonicalRequest",
                   "RequestId", "HostId", "4442587FB7D0A2F9", "AWS4-HMAC-SHA256"] {
        #expect(!body.contains(leaked))
    }
}

@Test(arguments: [
    (Int32(404), "<Error><Code>NoSuchKey</Code><Key>a</Key></Error>", "NoSuchKey", S3P_LOG_INFO),
    (404, "<Error><Code>NoSuchBucket</Code></Error>", "NoSuchBucket", S3P_LOG_INFO),
    (412, "<Error><Code>PreconditionFailed</Code></Error>", "PreconditionFailed", S3P_LOG_INFO),
    (416, "<Error><Code>InvalidRange</Code></Error>", "InvalidRange", S3P_LOG_INFO),
    (403, "<Error><Code>AccessDenied</Code></Error>", "AccessDenied", S3P_LOG_ERROR),
    (403, "<Error><Code>InvalidAccessKeyId</Code></Error>", "InvalidAccessKeyId", S3P_LOG_ERROR),
    (400, "<Error><Code>ExpiredToken</Code></Error>", "ExpiredToken", S3P_LOG_ERROR),
    (403, "<Error><Code>RequestTimeTooSkewed</Code></Error>", "RequestTimeTooSkewed", S3P_LOG_ERROR),
    (503, "<Error><Code>SlowDown</Code></Error>", "SlowDown", S3P_LOG_ERROR),
    (500, "<Error><Code>InternalError</Code></Error>", "InternalError", S3P_LOG_ERROR),
    // no document (a HEAD), or not a plain code: the status's generic one
    (403, "", "AccessDenied", S3P_LOG_ERROR),
    (404, "", "NotFound", S3P_LOG_INFO),
    (503, "<html>busy</html>", "ServiceUnavailable", S3P_LOG_ERROR),
    (404, "<Error><Code>No<script>Key</Code></Error>", "NotFound", S3P_LOG_INFO),
    (404, "<Error><Code>" + String(repeating: "A", count: 65) + "</Code></Error>",
     "NotFound", S3P_LOG_INFO),
    (404, "<Error><Code>NoSuchKey", "NotFound", S3P_LOG_INFO),
    // S3's redirects: another endpoint or region, the operator's settings
    (301, "<Error><Code>PermanentRedirect</Code><Endpoint>b.s3.eu-west-1.amazonaws.com"
     + "</Endpoint></Error>", "PermanentRedirect", S3P_LOG_ERROR),
    (307, "<Error><Code>TemporaryRedirect</Code></Error>", "TemporaryRedirect", S3P_LOG_ERROR),
    (301, "", "PermanentRedirect", S3P_LOG_ERROR),
    (302, "", "TemporaryRedirect", S3P_LOG_ERROR),
])
func codesAndLogLevels(status: Int32, body: String, code: String, log: s3p_log_t) {
    let answer = clean(status, body)
    #expect(answer.0 == S3P_OK)
    #expect(answer.1 == code)
    #expect(answer.3 == log)
    #expect(answer.2.contains("<Code>" + code + "</Code>"))
}

@Test func tooSmallABufferIsRefused() {
    var out = [UInt8](repeating: 0, count: 16)
    var err = s3p_s3_error_t()
    let rc = out.withUnsafeMutableBufferPointer { o in
        s3p_s3_error(404, nil, 0, o.baseAddress, o.count, &err)
    }
    #expect(rc == S3P_E_SPACE)
}

@Test(arguments: [
    ("Content-Type", UInt32(0), true),
    ("ETag", 0, true),
    ("x-amz-meta-colour", 0, true),
    ("X-Amz-Meta-Owner", 0, true),
    ("x-amz-version-id", 0, true),
    ("x-amz-checksum-sha256", 0, true),
    ("x-amz-storage-class", 0, true),
    ("x-amz-restore", 0, true),
    ("x-amz-expiration", 0, true),
    ("x-amz-object-lock-mode", 0, true),
    ("x-amz-request-id", 0, false),
    ("x-amz-id-2", 0, false),
    ("x-amzn-requestid", 0, false),
    ("x-amz-server-side-encryption", 0, false),
    ("x-amz-server-side-encryption-aws-kms-key-id", 0, false),
    ("x-amz-bucket-region", 0, false),
    ("x-amz-version-idx", 0, false),
    ("Location", 0, false),
    ("location", UInt32(S3P_PASS_SSE | S3P_PASS_REQUEST_ID), false),
    ("Content-Location", 0, true),
    ("x-amz-request-id", UInt32(S3P_PASS_REQUEST_ID), true),
    ("x-amz-id-2", UInt32(S3P_PASS_REQUEST_ID), true),
    ("x-amz-server-side-encryption", UInt32(S3P_PASS_REQUEST_ID), false),
    ("x-amz-server-side-encryption", UInt32(S3P_PASS_SSE), true),
    ("x-amz-server-side-encryption-bucket-key-enabled", UInt32(S3P_PASS_SSE), true),
    ("x-amz-bucket-region", UInt32(S3P_PASS_SSE | S3P_PASS_REQUEST_ID), false),
])
func headerVisibility(name: String, pass: UInt32, visible: Bool) {
    var bytes = Array(name.utf8)
    let shown = bytes.withUnsafeMutableBufferPointer { b in
        var s = s3p_str_t(len: b.count, data: UnsafePointer(b.baseAddress))
        return s3p_response_header_visible(&s, pass)
    }
    #expect(shown == (visible ? 1 : 0))
}

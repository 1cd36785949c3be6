// The credential providers' exchanges, through the C entry points
// (s3p_provider_request, s3p_provider_answer).
//
// Sources of the vectors: the answers are shaped as AWS documents them and
// as botocore reads them (botocore.utils.parse_timestamp gave the Unix
// times below for the same Expiration strings; botocore's
// InstanceMetadataFetcher and ContainerMetadataFetcher require the same
// members), and as demo/credserver.py sends them.

import CShim
import Testing
@testable import S3Proxy

private func answer(_ step: s3p_step_t, _ http: String) -> (Int32, s3p_provider_answer_t, String,
                                                             [String])
{
    let bytes = Array(http.utf8)
    var out = [UInt8](repeating: 0, count: bytes.count + 16)
    var err = [UInt8](repeating: 0, count: 256)
    var result = s3p_provider_answer_t()
    let rc = bytes.withUnsafeBufferPointer { b in
        out.withUnsafeMutableBufferPointer { o in
            err.withUnsafeMutableBufferPointer { e in
                s3p_provider_answer(step, b.baseAddress, b.count, o.baseAddress, o.count,
                                    &result, e.baseAddress, e.count)
            }
        }
    }
    let message = String(decoding: err.prefix { $0 != 0 }, as: UTF8.self)
    let values = [result.value, result.access_key, result.secret_key, result.session_token].map {
        s -> String in
        guard let data = s.data else { return "" }
        let offset = data - UnsafePointer<UInt8>(out.withUnsafeBufferPointer { $0.baseAddress! })
        return String(decoding: out[offset..<(offset + s.len)], as: UTF8.self)
    }
    return (rc, result, message, values)
}

private func http(_ body: String, status: String = "200 OK", chunked: Bool = false) -> String {
    if chunked {
        let size = String(body.utf8.count, radix: 16)
        return "HTTP/1.1 \(status)\r\nTransfer-Encoding: chunked\r\n\r\n\(size);x=y\r\n\(body)\r\n0\r\n\r\n"
    }
    return "HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
}

// AWS's example of IMDS's answer (the EC2 User Guide, "Retrieve security
// credentials from instance metadata"), with an Expiration botocore reads
// as 1796115600.
let imdsJSON = """
{
  "Code" : "Success",
  "LastUpdated" : "2026-12-01T08:50:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAIOSFODNN7EXAMPLE",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "IQoJb3JpZ2luX2VjE\\u002b\\/token",
  "Expiration" : "2026-12-01T09:00:00Z"
}
"""

@Test func imdsCredentials() {
    for chunked in [false, true] {
        let (rc, result, _, v) = answer(S3P_STEP_IMDS_CREDENTIALS, http(imdsJSON, chunked: chunked))
        #expect(rc == S3P_OK)
        #expect(v[1] == "ASIAIOSFODNN7EXAMPLE")
        #expect(v[2] == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        #expect(v[3] == "IQoJb3JpZ2luX2VjE+/token")
        #expect(result.expiration == 1796115600)
        #expect(result.status == 200)
    }
}

// The container endpoint's answer (ECS task IAM roles; EKS Pod Identity):
// no Code, a RoleArn, an Expiration with milliseconds or an offset.
@Test(arguments: [
    ("2026-12-01T09:00:00Z", Int64(1796115600)),
    ("2026-12-01T09:00:00.123Z", 1796115600),
    ("2026-12-01T11:00:00+02:00", 1796115600),
    ("2024-02-29T23:59:59Z", 1709251199),
    ("1970-01-01T00:00:00Z", 0),
    ("2038-01-19T03:14:08Z", 2147483648),
])
func containerCredentials(expiration: String, unix: Int64) {
    let body = """
    {"RoleArn":"arn:aws:iam::123456789012:role/r","AccessKeyId":"ASIAX","SecretAccessKey":"s",\
    "Token":"t","Expiration":"\(expiration)","Nested":{"a":[1,2.5e3,true,null,"x"]}}
    """
    let (rc, result, _, v) = answer(S3P_STEP_CONTAINER, http(body))
    #expect(rc == S3P_OK)
    #expect(v[1] == "ASIAX" && v[2] == "s" && v[3] == "t")
    #expect(result.expiration == unix)
}

// What must not be taken for credentials, and what the error says: never
// the secret or the token.
@Test(arguments: [
    (http(#"{"AccessKeyId": "ASIA"#), "not a JSON object"),
    (http("{}"), "no usable AccessKeyId"),
    (http(#"{"AccessKeyId":"A","Token":"secret-token","Expiration":"2026-12-01T09:00:00Z"}"#),
     "no usable SecretAccessKey"),
    (http(#"{"AccessKeyId":"A","SecretAccessKey":"secret-key"}"#), "no Expiration"),
    (http(#"{"AccessKeyId":"A","SecretAccessKey":"secret-key","Expiration":"tomorrow"}"#),
     "an Expiration that is not an ISO 8601 time"),
    (http(#"{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"A"}"#),
     "Code \"AssumeRoleUnauthorizedAccess\""),
    (http(#"{"AccessKeyId":"A","SecretAccessKey":"secret\nkey","Expiration":"2026-12-01T09:00:00Z"}"#),
     "no usable SecretAccessKey"),
    (http("oops", status: "500 Internal Server Error"), "HTTP status 500"),
    ("garbage", "not an HTTP answer"),
    ("", "no answer"),
    ("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", "not an HTTP answer"),
])
func unusableAnswers(response: String, problem: String) {
    let (rc, _, message, v) = answer(S3P_STEP_CONTAINER, response)
    #expect(rc == S3P_E_ANSWER)
    #expect(message == problem)
    #expect(!message.contains("secret"))
    #expect(v.allSatisfy { $0.isEmpty })
}

// STS's example answer (the STS API Reference, AssumeRoleWithWebIdentity).
let stsXML = """
<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE&amp;x</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-12-01T09:00:00Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"""

@Test func stsCredentials() {
    let (rc, result, _, v) = answer(S3P_STEP_STS, http(stsXML, chunked: true))
    #expect(rc == S3P_OK)
    #expect(v[1] == "ASgeIAIOSFODNN7EXAMPLE")
    #expect(v[2] == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
    #expect(v[3] == "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE&x")
    #expect(result.expiration == 1796115600)
}

@Test func stsErrors() {
    let error = """
    <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>\
    <Code>InvalidIdentityToken</Code><Message>secret-bearing message</Message></Error></ErrorResponse>
    """
    let (rc, _, message, _) = answer(S3P_STEP_STS, http(error, status: "400 Bad Request"))
    #expect(rc == S3P_E_ANSWER)
    #expect(message == "HTTP status 400, STS error InvalidIdentityToken")
    let (rc2, _, message2, _) = answer(S3P_STEP_STS, http("<Other/>"))
    #expect(rc2 == S3P_E_ANSWER)
    #expect(message2 == "not an AssumeRoleWithWebIdentityResponse")
}

@Test func imdsTokenAndRole() {
    let (rc, _, _, v) = answer(S3P_STEP_IMDS_TOKEN, http("AQAEAFakeToken==\n"))
    #expect(rc == S3P_OK && v[0] == "AQAEAFakeToken==")
    let (rc2, _, _, v2) = answer(S3P_STEP_IMDS_ROLE, http("my-role\nsecond\n"))
    #expect(rc2 == S3P_OK && v2[0] == "my-role")
    let (rc3, _, _, _) = answer(S3P_STEP_IMDS_ROLE, http("", status: "404 Not Found"))
    #expect(rc3 == S3P_E_ANSWER)
}

private func request(_ req: s3p_provider_request_t) -> String {
    var out = [UInt8](repeating: 0, count: 2048)
    var r = req
    let n = out.withUnsafeMutableBufferPointer { s3p_provider_request(&r, $0.baseAddress, $0.count) }
    return String(decoding: out[0..<n], as: UTF8.self)
}

@Test func requests() {
    let m = CMemory()
    var req = s3p_provider_request_t()
    req.host = m.str("169.254.169.254")
    req.step = S3P_STEP_IMDS_TOKEN
    #expect(request(req) == "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
            + "User-Agent: ngx_http_s3_proxy_module\r\nAccept: */*\r\nConnection: close\r\n"
            + "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n")
    req.step = S3P_STEP_IMDS_CREDENTIALS
    req.role = m.str("my role")
    req.token = m.str("TOKEN")
    #expect(request(req).hasPrefix(
        "GET /latest/meta-data/iam/security-credentials/my%20role HTTP/1.1\r\n"))
    #expect(request(req).hasSuffix("X-aws-ec2-metadata-token: TOKEN\r\n\r\n"))
    req.step = S3P_STEP_CONTAINER
    req.path = m.str("/v2/credentials/abc?x=1")
    req.token = m.str("Bearer x\r\nEvil: 1")
    #expect(request(req) == "")  // a header line is never broken
    req.token = m.str("Bearer x")
    #expect(request(req).hasPrefix("GET /v2/credentials/abc?x=1 HTTP/1.1\r\n"))
    #expect(request(req).hasSuffix("Authorization: Bearer x\r\n\r\n"))
    req.step = S3P_STEP_STS
    req.role = m.str("arn:aws:iam::123456789012:role/r")
    req.session_name = m.str("s3-proxy")
    req.web_identity = m.str("eyJ.a+b/c=\n")
    let form = "Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
        + "&RoleSessionName=s3-proxy&Version=2011-06-15&WebIdentityToken=eyJ.a%2Bb%2Fc%3D"
    #expect(request(req).hasSuffix("Content-Length: \(form.utf8.count)\r\n\r\n" + form))
}

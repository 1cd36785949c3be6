// The credential chain and the providers' state machine, through the C
// entry points (s3p_provider_configure, s3p_provider_next), and the
// providers' answers as the core reads them.
//
// Sources of the vectors: the answers are shaped as AWS documents them and
// as botocore reads them (botocore.utils.parse_timestamp gave the Unix
// times below for the same Expiration strings; botocore's
// InstanceMetadataFetcher and ContainerMetadataFetcher require the same
// members), and as demo/credserver.py sends them.

import CShim
import Testing
@testable import S3Proxy

/// What one step's answer is read as: status, the problem, and the
/// value, access key, secret key, session token.
private func answer(_ step: ProviderStep, _ http: String) -> (Int32, String?, [String], Int64) {
    let bytes = Array(http.utf8)
    let (read, problem) = bytes.withUnsafeBufferPointer { ProviderAnswer.read(step, $0) }
    let values = [read?.value ?? [], read?.accessKey ?? [], read?.secretKey ?? [],
                  read?.sessionToken ?? []].map { String(decoding: $0, as: UTF8.self) }
    return (read?.status ?? 0, problem, problem == nil ? values : ["", "", "", ""],
            read?.expiration ?? 0)
}

private func httpAnswer(_ body: String, status: String = "200 OK", chunked: Bool = false) -> String {
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
        let (status, problem, v, expiration) = answer(.imdsCredentials,
                                                      httpAnswer(imdsJSON, chunked: chunked))
        #expect(problem == nil)
        #expect(v[1] == "ASIAIOSFODNN7EXAMPLE")
        #expect(v[2] == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        #expect(v[3] == "IQoJb3JpZ2luX2VjE+/token")
        #expect(expiration == 1796115600)
        #expect(status == 200)
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
    let (_, problem, v, when) = answer(.container, httpAnswer(body))
    #expect(problem == nil)
    #expect(v[1] == "ASIAX" && v[2] == "s" && v[3] == "t")
    #expect(when == unix)
}

// What must not be taken for credentials, and what the error says: never
// the secret or the token.
@Test(arguments: [
    (httpAnswer(#"{"AccessKeyId": "ASIA"#), "not a JSON object"),
    (httpAnswer("{}"), "no usable AccessKeyId"),
    (httpAnswer(#"{"AccessKeyId":"A","Token":"secret-token","Expiration":"2026-12-01T09:00:00Z"}"#),
     "no usable SecretAccessKey"),
    (httpAnswer(#"{"AccessKeyId":"A","SecretAccessKey":"secret-key"}"#), "no Expiration"),
    (httpAnswer(#"{"AccessKeyId":"A","SecretAccessKey":"secret-key","Expiration":"tomorrow"}"#),
     "an Expiration that is not an ISO 8601 time"),
    (httpAnswer(#"{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"A"}"#),
     "Code \"AssumeRoleUnauthorizedAccess\""),
    (httpAnswer(#"{"AccessKeyId":"A","SecretAccessKey":"secret\nkey","Expiration":"2026-12-01T09:00:00Z"}"#),
     "the SecretAccessKey holds a character that is not allowed"),
    // issue 22: what the signer refuses is refused at fetch time
    (httpAnswer(#"{"AccessKeyId":"A","SecretAccessKey":"k","Token":"secret token","Expiration":"2026-12-01T09:00:00Z"}"#),
     "the Token holds a character that is not allowed"),
    (httpAnswer(#"{"AccessKeyId":"A","SecretAccessKey":"k","Token":"secret\u0001","Expiration":"2026-12-01T09:00:00Z"}"#),
     "the Token holds a character that is not allowed"),
    (httpAnswer(#"{"AccessKeyId":"asia-x","SecretAccessKey":"k","Token":"t","Expiration":"2026-12-01T09:00:00Z"}"#),
     "the AccessKeyId holds a character other than A-Z and 0-9"),
    (httpAnswer(#"{"AccessKeyId":"A","SecretAccessKey":"","Token":"t","Expiration":"2026-12-01T09:00:00Z"}"#),
     "no usable SecretAccessKey"),
    (httpAnswer("oops", status: "500 Internal Server Error"), "HTTP status 500"),
    ("garbage", "not an HTTP answer"),
    ("", "no answer"),
    ("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", "not an HTTP answer"),
])
func unusableAnswers(response: String, problem: String) {
    let (_, message, v, _) = answer(.container, response)
    #expect(message == problem)
    #expect(!(message ?? "").contains("secret"))
    #expect(v.allSatisfy { $0.isEmpty })
}

// STS's example answer (the STS API Reference, AssumeRoleWithWebIdentity),
// with the access key id an AWS service issues (A-Z, 0-9: the page's
// "ASIAIOSFODNN7EXAMPLE" is refused, as issue 22 asks).
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
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
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
    let (_, problem, v, expiration) = answer(.sts, httpAnswer(stsXML, chunked: true))
    #expect(problem == nil)
    #expect(v[1] == "ASIAIOSFODNN7EXAMPLE")
    #expect(v[2] == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
    #expect(v[3] == "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE&x")
    #expect(expiration == 1796115600)
}

@Test func stsErrors() {
    let error = """
    <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>\
    <Code>InvalidIdentityToken</Code><Message>secret-bearing message</Message></Error></ErrorResponse>
    """
    let (_, message, _, _) = answer(.sts, httpAnswer(error, status: "400 Bad Request"))
    #expect(message == "HTTP status 400, STS error InvalidIdentityToken")
    let (_, message2, _, _) = answer(.sts, httpAnswer("<Other/>"))
    #expect(message2 == "not an AssumeRoleWithWebIdentityResponse")
}

@Test func imdsTokenAndRole() {
    let (_, p1, v, _) = answer(.imdsToken, httpAnswer("AQAEAFakeToken==\n"))
    #expect(p1 == nil && v[0] == "AQAEAFakeToken==")
    let (_, p2, v2, _) = answer(.imdsRole, httpAnswer("my-role\nsecond\n"))
    #expect(p2 == nil && v2[0] == "my-role")
    let (status, p3, _, _) = answer(.imdsRole, httpAnswer("", status: "404 Not Found"))
    #expect(status == 404 && p3 == "HTTP status 404")
}

// MARK: - The chain and the state machine

/// A provider configured from environment variables (by name), stepped
/// through the C entry points as nginx steps it.
private final class Machine {
    let m = CMemory()
    let env = UnsafeMutablePointer<s3p_environment_t>.allocate(capacity: 1)
    let settings = UnsafeMutablePointer<s3p_settings_t>.allocate(capacity: 1)
    let provider = UnsafeMutablePointer<s3p_provider_t>.allocate(capacity: 1)
    var out = [UInt8](repeating: 0, count: Int(S3P_PROVIDER_REQUEST_MAX))
    var now: Int64 = 1_800_000_000
    var expiration: Int64 = 0
    var failures: UInt32 = 0

    struct Step {
        var action: s3p_do_t
        var request = ""
        var paths: [String] = []
        var keys: [String] = []
        var expires: Int64 = 0
        var refresh: Int64 = 0
        var streak: UInt32 = 0
        var message = ""
        var target: Int32 = 0
        var refused: Int32 = 0
    }

    init(_ vars: [String: String], credentials: s3p_credentials_source_t = S3P_CREDENTIALS_AUTO,
         profile: String = "", files: (String, String) = ("", ""), role: [String] = [])
    {
        env.initialize(to: s3p_environment_t())
        provider.initialize(to: s3p_provider_t())
        let fields = UnsafeMutableRawPointer(env).assumingMemoryBound(to: s3p_str_t.self)
        var i = 0
        while let name = s3p_environment_name(i) {
            if let value = vars[String(cString: name)] { fields[i] = m.str(value) }
            i += 1
        }
        #expect(i == Int(S3P_ENV_VARIABLES))
        let paths = m.buffer(4096)
        #expect(s3p_environment_paths(env, paths, 4096) == S3P_OK)
        env.pointee.credentials_file = m.str(files.0)
        env.pointee.config_file = m.str(files.1)
        var raw = s3p_settings_t()
        raw.credentials = credentials
        raw.profile = m.str(profile)
        let params = role + [String](repeating: "", count: 4 - role.count)
        raw.role = (m.str(params[0]), m.str(params[1]), m.str(params[2]), m.str(params[3]))
        raw.expires = 300
        raw.env = UnsafePointer(env)
        settings.initialize(to: raw)
    }

    /// nil, or the problem with the configuration.
    func configure() -> String? {
        var err = [UInt8](repeating: 0, count: 256)
        let rc = s3p_provider_configure(settings, provider, &err, err.count)
        return rc == S3P_OK ? nil : String(decoding: err.prefix { $0 != 0 }, as: UTF8.self)
    }

    func step(_ event: s3p_event_t, _ data: String = "",
              files: [(s3p_file_t, String)] = [], keys: [String] = []) -> Step
    {
        var s = s3p_provider_step_t()
        if keys.count == 3 { s.keys = (m.str(keys[0]), m.str(keys[1]), m.str(keys[2])) }
        s.event = event
        s.now = now
        s.expiration = expiration
        s.failures = failures
        s.data = m.str(data)
        if files.count > 0 { s.file_status.0 = files[0].0; s.files.0 = m.str(files[0].1) }
        if files.count > 1 { s.file_status.1 = files[1].0; s.files.1 = m.str(files[1].1) }
        out.withUnsafeMutableBufferPointer { s3p_provider_next(provider, &s, $0.baseAddress, $0.count) }
        func text(_ x: s3p_str_t) -> String { String(decoding: Bytes.view(x), as: UTF8.self) }
        var step = Step(action: s.action)
        step.request = text(s.request)
        step.target = s.target
        step.refused = s.refused
        step.paths = [text(s.paths.0), text(s.paths.1)].filter { !$0.isEmpty }
        for path in [s.paths.0, s.paths.1] where path.len > 0 {
            #expect(path.data![path.len] == 0)   // C opens it as it is
        }
        step.keys = [text(s.access_key), text(s.secret_key), text(s.session_token)]
        step.expires = s.expires
        step.refresh = s.refresh
        step.streak = s.streak
        step.message = text(s.message)
        if s.action == S3P_DO_STORE || s.action == S3P_DO_RETRY { failures = s.streak }
        return step
    }

    var name: String { String(decoding: Bytes.view(provider.pointee.name), as: UTF8.self) }
    var id: [UInt8] { withUnsafeBytes(of: provider.pointee.id) { Array($0) } }
}

private func http(_ body: String, status: String = "200 OK") -> String {
    "HTTP/1.1 \(status)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
}

@Test func theChainTakesTheFirstSourceConfigured() {
    let keys = Machine(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s",
                        "AWS_ROLE_ARN": "r", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"])
    #expect(keys.configure() == nil && keys.provider.pointee.source == S3P_CREDENTIALS_ENV)

    let profile = Machine(["AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "r",
                           "HOME": "/home/u"],
                          files: ("[default]\naws_access_key_id = A\naws_secret_access_key = S\n",
                                  ""))
    #expect(profile.configure() == nil)
    #expect(profile.provider.pointee.source == S3P_CREDENTIALS_PROFILE)
    #expect(profile.name == "profile=default")

    let web = Machine(["AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "r",
                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/c",
                       "AWS_DEFAULT_REGION": "eu-west-3"])
    #expect(web.configure() == nil && web.name == "web-identity")
    #expect(Bytes.view(web.provider.pointee.targets.0.url).elementsEqual(
        "https://sts.eu-west-3.amazonaws.com".utf8))
    #expect(web.provider.pointee.targets.0.tls == 1 && web.provider.pointee.targets.0.port == 443)
    #expect(String(cString: web.provider.pointee.ca_bundle.data!)
            == "/etc/ssl/certs/ca-certificates.crt")

    let container = Machine(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/c",
                             "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/x"])
    #expect(container.configure() == nil && container.name == "container")
    #expect(Bytes.view(container.provider.pointee.targets.0.host).elementsEqual("169.254.170.2".utf8))
    #expect(container.provider.pointee.targets.0.port == 80 && container.provider.pointee.targets.0.tls == 0)

    let imds = Machine(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://[::1]:8080"])
    #expect(imds.configure() == nil && imds.name == "imds")
    #expect(Bytes.view(imds.provider.pointee.targets.0.host).elementsEqual("[::1]".utf8))
    #expect(imds.provider.pointee.targets.0.port == 8080)

    let none = Machine(["AWS_EC2_METADATA_DISABLED": "TRUE"])
    #expect(none.configure()?.hasPrefix("AWS_ACCESS_KEY_ID is empty, and no profile") == true)
}

@Test func aNamedSourceNeedsItsSettings() {
    #expect(Machine([:], credentials: S3P_CREDENTIALS_WEB_IDENTITY).configure()
            == "\"s3_proxy_credentials web-identity\" requires AWS_WEB_IDENTITY_TOKEN_FILE "
            + "and AWS_ROLE_ARN in the environment")
    #expect(Machine([:], credentials: S3P_CREDENTIALS_CONTAINER).configure()
            == "\"s3_proxy_credentials container\" requires "
            + "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI "
            + "in the environment")
    #expect(Machine(["AWS_EC2_METADATA_DISABLED": "true"], credentials: S3P_CREDENTIALS_IMDS)
            .configure() == "\"s3_proxy_credentials imds\": AWS_EC2_METADATA_DISABLED is true")
    #expect(Machine(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "ftp://x"]).configure()
            == "the imds endpoint \"ftp://x\" is not an http:// or https:// URL with a host")
}

@Test func plainHTTPToAFullURIOnlyToLocalHosts() {
    let c = Machine(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds"])
    #expect(c.configure() == nil)
    var err = [UInt8](repeating: 0, count: 256)
    for (addr, ok) in [([192, 0, 2, 1], false), ([127, 0, 0, 1], true), ([169, 254, 1, 2], true),
                       ([UInt8](repeating: 0, count: 15) + [1], true),
                       ([0xfd, 0, 0x0e, 0xc2] + [UInt8](repeating: 0, count: 11) + [0x23], true),
                       ([0x20, 1, 0xd, 0xb8] + [UInt8](repeating: 0, count: 12), false)]
        as [([UInt8], Bool)]
    {
        #expect((address(c.provider, addr, &err) == S3P_OK) == ok)
    }
    #expect(String(decoding: err.prefix { $0 != 0 }, as: UTF8.self).hasSuffix(
        "must be https, or name a loopback or link-local host"))
    var unix = sockaddr()       // not the core's to judge
    unix.sa_family = sa_family_t(AF_UNIX)
    #expect(s3p_provider_address(c.provider, &unix, &err, err.count) == S3P_OK)
}

/// s3p_provider_address() of an address as the resolver gives it.
func address(_ provider: UnsafePointer<s3p_provider_t>, _ addr: [UInt8], _ err: inout [UInt8])
    -> Int32
{
    var storage = sockaddr_storage()
    withUnsafeMutableBytes(of: &storage) { raw in
        if addr.count == 4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: addr) }
            raw.storeBytes(of: sin, as: sockaddr_in.self)
        } else {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: addr) }
            raw.storeBytes(of: sin6, as: sockaddr_in6.self)
        }
    }
    return withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            s3p_provider_address(provider, $0, &err, err.count)
        }
    }
}

@Test func endpointProblemsNameTheEndpoint() {
    let c = Machine(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://creds.example/x",
                     "AWS_CA_BUNDLE": "/no/such.pem"])
    #expect(c.configure() == nil)
    var err = [UInt8](repeating: 0, count: 256)
    func said() -> String { String(decoding: err.prefix { $0 != 0 }, as: UTF8.self) }
    #expect(s3p_endpoint_problem(c.provider, S3P_ENDPOINT_UNRESOLVED, 0, "host not found",
                                 &err, err.count) == S3P_E_CONFIG)
    #expect(said().hasPrefix("the container endpoint \"https://creds.example")
            && said().hasSuffix("\": host not found"), "\(said())")
    #expect(s3p_endpoint_problem(c.provider, S3P_ENDPOINT_CA_BUNDLE, -1, nil, &err,
                                 err.count) == S3P_E_CONFIG)
    #expect(said().contains("the CA bundle \"/no/such.pem\" (AWS_CA_BUNDLE"), "\(said())")
    #expect(s3p_endpoint_problem(c.provider, S3P_ENDPOINT_NO_TLS, -1, nil, &err,
                                 err.count) == S3P_E_CONFIG)
    #expect(said().hasSuffix("needs nginx built with SSL"), "\(said())")
    // S3, not resolved now (an upstream{} name): its keys are only not verified
    var signing = s3p_signing_t()
    signing.scheme = c.m.str("http")
    signing.host = c.m.str("s3backend")
    var conf = s3p_config_t()
    conf.bucket = c.m.str("media")
    #expect(s3p_provider_verify_target(c.provider, &signing, &conf, &err, err.count) == 1)
    #expect(s3p_endpoint_problem(c.provider, S3P_ENDPOINT_UNRESOLVED, Int32(S3P_TARGET_S3),
                                 "host not found", &err, err.count) == S3P_OK)
    #expect(said() == "\"http://s3backend\" cannot be resolved now: the keys are not "
            + "verified with S3")
    #expect(c.provider.pointee.targets.2.host.len == 0)
}

@Test func theIdIsTheSourceWhateverItsLength() {
    let a = Machine(["AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": String(repeating: "r", count: 5000)])
    let b = Machine(["AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": String(repeating: "r", count: 5000)])
    let c = Machine(["AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "other"])
    #expect(a.configure() == nil && b.configure() == nil && c.configure() == nil)
    #expect(a.id == b.id && a.id != c.id && a.id.count == Int(S3P_PROVIDER_ID_LEN))
}

@Test func imdsTakesThreeStepsAndRefreshesAhead() {
    let i = Machine([:])
    #expect(i.configure() == nil)
    i.provider.pointee.lead = 300
    var s = i.step(S3P_EVENT_START)
    #expect(s.action == S3P_DO_EXCHANGE)
    #expect(s.request == "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
            + "User-Agent: ngx_http_s3_proxy_module\r\nAccept: */*\r\nConnection: close\r\n"
            + "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n")
    s = i.step(S3P_EVENT_ANSWER, http("TOKEN\n"))
    #expect(s.request == "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n"
            + "Host: 169.254.169.254\r\nUser-Agent: ngx_http_s3_proxy_module\r\nAccept: */*\r\n"
            + "Connection: close\r\nX-aws-ec2-metadata-token: TOKEN\r\n\r\n")
    s = i.step(S3P_EVENT_ANSWER, http("my role\n"))
    #expect(s.request.hasPrefix(
        "GET /latest/meta-data/iam/security-credentials/my%20role HTTP/1.1\r\n"))
    #expect(s.request.hasSuffix("X-aws-ec2-metadata-token: TOKEN\r\n\r\n"))
    let json = #"{"Code":"Success","AccessKeyId":"ASIAX","SecretAccessKey":"sk","Token":"tk","#
        + #""Expiration":"2027-01-15T09:00:00Z"}"#
    let expiration: Int64 = 1_800_003_600  // 2027-01-15T09:00:00Z
    i.now = expiration - 3600
    s = i.step(S3P_EVENT_ANSWER, http(json))
    #expect(s.action == S3P_DO_STORE)
    #expect(s.keys == ["ASIAX", "sk", "tk"] && s.expires == expiration)
    // lead 300 s plus a margin of 300 s before expiry
    #expect(s.refresh == expiration - 600 && s.streak == 0)
    #expect(s.message == "credentials from \"imds\": access key id \"ASIAX\", expiring in "
            + "3600 s, next refresh in 3000 s")
    // a short life: refreshed half-way
    i.provider.pointee.lead = 3000
    _ = i.step(S3P_EVENT_START)
    _ = i.step(S3P_EVENT_ANSWER, http("TOKEN"))
    _ = i.step(S3P_EVENT_ANSWER, http("role"))
    #expect(i.step(S3P_EVENT_ANSWER, http(json)).refresh == i.now + 1800)
}

@Test func imdsV1OnlyWhenAllowed() {
    let v1 = Machine([:])
    #expect(v1.configure() == nil)
    _ = v1.step(S3P_EVENT_START)
    let s = v1.step(S3P_EVENT_ANSWER, http("", status: "403 Forbidden"))
    #expect(s.action == S3P_DO_EXCHANGE)
    #expect(s.request.hasPrefix("GET /latest/meta-data/iam/security-credentials/ HTTP/1.1"))
    #expect(!s.request.contains("X-aws-ec2-metadata-token"))

    let v2 = Machine(["AWS_EC2_METADATA_V1_DISABLED": "true"])
    #expect(v2.configure() == nil)
    _ = v2.step(S3P_EVENT_START)
    let r = v2.step(S3P_EVENT_ANSWER, http("", status: "403 Forbidden"))
    #expect(r.action == S3P_DO_RETRY && r.refresh == v2.now + 1 && r.streak == 1)
    #expect(r.message == "no credentials from \"imds\": HTTP status 403")
}

@Test func failuresBackOffAndAreLoggedOncePerStreak() {
    let c = Machine(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/c"])
    #expect(c.configure() == nil)
    c.expiration = c.now + 100
    var delays: [Int64] = []
    var messages: [String] = []
    for _ in 0..<8 {
        _ = c.step(S3P_EVENT_START)
        let s = c.step(S3P_EVENT_FAILED, "timed out")
        #expect(s.action == S3P_DO_RETRY)
        delays.append(s.refresh - c.now)
        messages.append(s.message)
    }
    #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60])
    #expect(messages[0] == "credentials from \"container\" not refreshed: timed out; the "
            + "current ones stay in use for 100 s")
    #expect(messages.dropFirst().allSatisfy { $0.isEmpty })
}

@Test func webIdentityReadsItsTokenFileEachTime() {
    let w = Machine(["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/token", "AWS_ROLE_ARN":
                     "arn:aws:iam::123456789012:role/r", "AWS_ROLE_SESSION_NAME": "s3-proxy",
                     "AWS_ENDPOINT_URL_STS": "https://localhost:8443"])
    #expect(w.configure() == nil)
    var s = w.step(S3P_EVENT_START)
    #expect(s.action == S3P_DO_READ && s.paths == ["/var/token"])
    s = w.step(S3P_EVENT_FILES, files: [(S3P_FILE_MISSING, "")])
    #expect(s.action == S3P_DO_RETRY)
    #expect(s.message == "no credentials from \"web-identity\": the token file cannot be opened")
    _ = w.step(S3P_EVENT_START)
    s = w.step(S3P_EVENT_FILES, files: [(S3P_FILE_READ, "eyJ.a+b/c=\n")])
    #expect(s.action == S3P_DO_EXCHANGE)
    let form = "Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
        + "&RoleSessionName=s3-proxy&Version=2011-06-15&WebIdentityToken=eyJ.a%2Bb%2Fc%3D"
    #expect(s.request.hasPrefix("POST / HTTP/1.1\r\nHost: localhost:8443\r\n"))
    #expect(s.request.hasSuffix("Content-Length: \(form.utf8.count)\r\n\r\n" + form))
    s = w.step(S3P_EVENT_ANSWER, http(stsXML))
    #expect(s.action == S3P_DO_RETRY)   // the example expired long ago
    #expect(s.message.isEmpty)          // the streak's second failure
}

@Test func containerAuthorizationFromItsFile() {
    let c = Machine(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/v2/c?x=1",
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN": "from-variable",
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/run/auth"])
    #expect(c.configure() == nil)
    var s = c.step(S3P_EVENT_START)
    #expect(s.action == S3P_DO_READ && s.paths == ["/run/auth"])
    s = c.step(S3P_EVENT_FILES, files: [(S3P_FILE_READ, "Bearer x\r\n")])
    #expect(s.request.hasPrefix("GET /v2/c?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"))
    #expect(s.request.hasSuffix("Authorization: Bearer x\r\n\r\n"))
    _ = c.step(S3P_EVENT_START)
    s = c.step(S3P_EVENT_FILES, files: [(S3P_FILE_READ, "Bearer x\r\nEvil: 1")])
    #expect(s.action == S3P_DO_RETRY && s.request.isEmpty)
    #expect(s.message.hasSuffix("the authorization token is not a header value"))

    let v = Machine(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/c",
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer y"])
    #expect(v.configure() == nil)
    s = v.step(S3P_EVENT_START)
    #expect(s.action == S3P_DO_EXCHANGE && s.request.hasSuffix("Authorization: Bearer y\r\n\r\n"))
}

@Test func aProfileIsReadAgainEveryTwoSeconds() {
    let p = Machine(["HOME": "/home/u", "AWS_CONFIG_FILE": "~/cfg"],
                    credentials: S3P_CREDENTIALS_PROFILE, profile: "dev")
    #expect(p.configure() == nil && p.name == "profile=dev")
    var s = p.step(S3P_EVENT_START)
    #expect(s.action == S3P_DO_READ && s.paths == ["/home/u/.aws/credentials", "/home/u/cfg"])
    s = p.step(S3P_EVENT_FILES, files: [(S3P_FILE_MISSING, ""),
                                        (S3P_FILE_READ, "[profile dev]\naws_access_key_id = A\n"
                                         + "aws_secret_access_key = S\n")])
    #expect(s.action == S3P_DO_STORE && s.keys == ["A", "S", ""])
    #expect(s.expires == Int64(S3P_NEVER) && s.refresh == p.now + 2)
    #expect(s.message == "credentials from \"profile=dev\": access key id \"A\"")
    _ = p.step(S3P_EVENT_START)
    s = p.step(S3P_EVENT_FILES, files: [(S3P_FILE_UNREADABLE, ""), (S3P_FILE_MISSING, "")])
    #expect(s.action == S3P_DO_RETRY && s.refresh == p.now + 2)
    #expect(s.message == "credentials from \"profile=dev\" not refreshed: cannot read "
            + "\"/home/u/.aws/credentials\"; the current ones stay in use")
}

// Issue 22: root's ~/.aws/config, which the workers (user nobody) cannot
// open, does not stop the credentials file from being read again; it
// matters only when the keys are not in the credentials file.
@Test func anUnreadableConfigFileDoesNotStopRotation() {
    let p = Machine(["HOME": "/root", "AWS_SHARED_CREDENTIALS_FILE": "/etc/s3/creds"],
                    credentials: S3P_CREDENTIALS_PROFILE, profile: "default")
    #expect(p.configure() == nil)
    _ = p.step(S3P_EVENT_START)
    var s = p.step(S3P_EVENT_FILES, files: [(S3P_FILE_READ, "[default]\naws_access_key_id = B\n"
                                             + "aws_secret_access_key = T\n"),
                                            (S3P_FILE_UNREADABLE, "")])
    #expect(s.action == S3P_DO_STORE && s.keys == ["B", "T", ""])
    _ = p.step(S3P_EVENT_START)
    s = p.step(S3P_EVENT_FILES, files: [(S3P_FILE_READ, "[other]\n"),
                                        (S3P_FILE_UNREADABLE, "")])
    #expect(s.action == S3P_DO_RETRY)
    #expect(s.message.hasSuffix("(cannot read \"/root/.aws/config\"); the current ones stay in use"))
}

// Issue 22: the files every refresh reads, which nginx -t checks the
// workers' user can read: the config file only when the keys are there.
@Test func theFilesARefreshReadsAreNamed() {
    func reads(_ p: Machine) -> [String] {
        [p.provider.pointee.reads.0, p.provider.pointee.reads.1].map {
            String(decoding: Bytes.view($0), as: UTF8.self)
        }
    }
    let inCredentials = Machine(["HOME": "/root"], credentials: S3P_CREDENTIALS_PROFILE,
                                files: ("[default]\naws_access_key_id = A\n", ""))
    #expect(inCredentials.configure() == nil)
    #expect(reads(inCredentials) == ["/root/.aws/credentials", ""])
    let inConfig = Machine(["HOME": "/root"], credentials: S3P_CREDENTIALS_PROFILE,
                           files: ("", "[default]\naws_access_key_id = A\n"))
    #expect(inConfig.configure() == nil)
    #expect(reads(inConfig) == ["/root/.aws/credentials", "/root/.aws/config"])
    var err = [UInt8](repeating: 0, count: 512)
    #expect(s3p_endpoint_problem(inConfig.provider, S3P_ENDPOINT_UNREADABLE, 1, "nobody",
                                 &err, err.count) == S3P_OK)
    #expect(String(decoding: err.prefix { $0 != 0 }, as: UTF8.self)
            == "the worker processes' user \"nobody\" cannot read \"/root/.aws/config\", "
            + "which credentials from \"profile=default\" are refreshed from: they will "
            + "not rotate; make the file and its directories readable by \"nobody\", or "
            + "name a file it can read")
    let web = Machine(["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
                       "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/r"])
    #expect(web.configure() == nil)
    #expect(reads(web) == ["/var/run/token", ""])
    #expect(web.provider.pointee.reads.0.data![web.provider.pointee.reads.0.len] == 0)
    let imds = Machine([:])
    #expect(imds.configure() == nil)
    #expect(reads(imds) == ["", ""])
}

// Issue 22: a profile's keys the signer would refuse are not stored.
@Test func aProfileWithUnusableKeysIsNotStored() {
    let p = Machine(["HOME": "/home/u"], credentials: S3P_CREDENTIALS_PROFILE, profile: "dev")
    #expect(p.configure() == nil)
    _ = p.step(S3P_EVENT_START)
    let s = p.step(S3P_EVENT_FILES, files: [(S3P_FILE_READ, "[dev]\naws_access_key_id = A\n"
                                             + "aws_secret_access_key = S\n"
                                             + "aws_session_token = to ken\n"),
                                            (S3P_FILE_MISSING, "")])
    #expect(s.action == S3P_DO_RETRY)
}

@Test func presignedURLsNeverOutliveTheirKeys() {
    #expect(s3p_presign_cap(300, 60, 1000 + 360, 1000) == 0)
    #expect(s3p_presign_cap(300, 60, 1000 + 359, 1000) == 300)
    #expect(s3p_presign_cap(300, 0, 1000 + 120, 1000) == 120)
    #expect(s3p_presign_cap(300, 0, 1000 + 1, 1000) == 1)
}

// Issue 25: the environment's keys assume a role.  The request's
// signature is checked independently by the STS stand-in
// (Tests/integration/test_assume_role.py); here, its shape.
@Test func theEnvironmentsKeysAssumeARole() {
    let arn = "arn:aws:iam::123456789012:role/reader"
    let r = Machine(["AWS_ACCESS_KEY_ID": "AKIDBASE", "AWS_SECRET_ACCESS_KEY": "base",
                     "AWS_SESSION_TOKEN": "tok", "AWS_REGION": "eu-west-1"],
                    credentials: S3P_CREDENTIALS_ENV,
                    role: [arn, "ext-1", "", "15m"])
    #expect(r.configure() == nil)
    #expect(r.provider.pointee.assume == 1 && r.name == "env role=" + arn)
    #expect(String(decoding: Bytes.view(r.provider.pointee.targets.1.url), as: UTF8.self)
            == "https://sts.eu-west-1.amazonaws.com")
    var s = r.step(S3P_EVENT_START)
    #expect(s.action == S3P_DO_EXCHANGE && s.target == Int32(S3P_TARGET_STS))
    #expect(s.request.hasPrefix("POST / HTTP/1.1\r\nHost: sts.eu-west-1.amazonaws.com\r\n"))
    #expect(s.request.contains("\r\nx-amz-security-token: tok\r\n"))
    #expect(s.request.contains("Authorization: AWS4-HMAC-SHA256 Credential=AKIDBASE/"))
    #expect(s.request.contains("/eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;"
                               + "x-amz-date;x-amz-security-token, Signature="))
    #expect(s.request.hasSuffix("\r\n\r\nAction=AssumeRole&DurationSeconds=900"
                                + "&ExternalId=ext-1&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012"
                                + "%3Arole%2Freader&RoleSessionName=ngx_http_s3_proxy_module"
                                + "&Version=2011-06-15"))
    #expect(!s.request.contains("base"))
    let xml = """
    <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
      <AssumeRoleResult><Credentials>
        <AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>rs</SecretAccessKey>
        <SessionToken>rt</SessionToken><Expiration>2027-01-15T09:00:00Z</Expiration>
      </Credentials></AssumeRoleResult>
    </AssumeRoleResponse>
    """
    s = r.step(S3P_EVENT_ANSWER, http(xml))
    #expect(s.action == S3P_DO_STORE && s.keys == ["ASIAROLE", "rs", "rt"])
    _ = r.step(S3P_EVENT_START)
    s = r.step(S3P_EVENT_ANSWER, http("<ErrorResponse><Error><Code>AccessDenied</Code>"
                                      + "</Error></ErrorResponse>", status: "403 Forbidden"))
    #expect(s.action == S3P_DO_RETRY)
    #expect(s.message.contains("\"env role=" + arn + "\""))
    #expect(s.message.contains("HTTP status 403, STS error AccessDenied"))
}

// Issue 25: a profile's role_arn with source_profile, as the AWS CLI
// reads it; a chained role is refused.
@Test func aProfilesRoleArnIsAssumedWithItsSourceProfile() {
    let config = """
    [profile reader]
    role_arn = arn:aws:iam::123456789012:role/r
    source_profile = base
    external_id = x-1
    [profile chained]
    role_arn = arn:aws:iam::123456789012:role/r2
    source_profile = reader
    """
    let p = Machine(["HOME": "/h"], credentials: S3P_CREDENTIALS_PROFILE, profile: "reader",
                    files: ("[base]\naws_access_key_id = AKB\naws_secret_access_key = sb\n",
                            config))
    #expect(p.configure() == nil)
    #expect(p.name == "profile=reader role=arn:aws:iam::123456789012:role/r")
    var s = p.step(S3P_EVENT_START)
    #expect(s.action == S3P_DO_READ)
    s = p.step(S3P_EVENT_FILES, files: [(S3P_FILE_READ, "[base]\naws_access_key_id = AKB2\n"
                                          + "aws_secret_access_key = sb\n"),
                                         (S3P_FILE_READ, config)])
    #expect(s.action == S3P_DO_EXCHANGE && s.request.contains("Credential=AKB2/"))
    #expect(s.request.contains("&ExternalId=x-1&"))
    let chained = Machine(["HOME": "/h"], credentials: S3P_CREDENTIALS_PROFILE,
                          profile: "chained", files: ("", config))
    #expect(chained.configure()?.contains("chained roles are not supported") == true)
}

@Test(arguments: [
    ("arn:aws:iam::123456789012:role/r", true),
    ("arn:aws-cn:iam::123456789012:role/path/to/r", true),
    ("arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f-g_h", true),
    ("arn:aws:iam::12345678901:role/r", false),
    ("arn:aws:iam::123456789012:user/r", false),
    ("arn:aws:iam::123456789012:role/", false),
    ("arn:aws:iam::123456789012:role/r/", false),
    ("arn:aws:iam:us-east-1:123456789012:role/r", false),
    ("arn:AWS:iam::123456789012:role/r", false),
    ("arn:aws:iam::123456789012:role/r r", false),
])
func roleARNs(arn: String, good: Bool) {
    #expect((RoleParameters.problem(Int(S3P_ROLE_ARN), Array(arn.utf8)) == nil) == good)
}

@Test(arguments: [
    ("900", Int64(900)), ("15m", 900), ("1h30m", 5400), ("12h", 43200), ("3600s", 3600),
])
func roleDurations(text: String, seconds: Int64) {
    #expect(RoleParameters.duration(Array(text.utf8)) == seconds)
    #expect(RoleParameters.problem(Int(S3P_ROLE_DURATION), Array(text.utf8)) == nil)
}

// Issue 22: the keys in use checked with S3: a signed ListObjectsV2 with
// max-keys=0 on the location's bucket, and S3's verdict.  (The S3
// stand-in checks the signature itself: Tests/integration/test_key_checks.py.)
@Test func theKeysInUseAreCheckedWithS3() {
    let e = Machine(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"],
                    credentials: S3P_CREDENTIALS_ENV)
    #expect(e.configure() == nil && e.name == "env")
    var signing = s3p_signing_t()
    signing.scheme = e.m.str("http")
    signing.host = e.m.str("127.0.0.1:9000")
    signing.region = e.m.str("eu-west-1")
    let buckets = UnsafeMutablePointer<s3p_str_t>.allocate(capacity: 2)
    defer { buckets.deallocate() }
    (buckets[0], buckets[1]) = (e.m.str("media"), e.m.str("other"))
    var conf = s3p_config_t()
    (conf.buckets, conf.nbuckets) = (UnsafePointer(buckets), 2)
    var err = [UInt8](repeating: 0, count: 256)
    #expect(s3p_provider_verify_target(e.provider, &signing, &conf, &err, err.count) == 1)
    var s = e.step(S3P_EVENT_VERIFY, keys: ["AKID", "s", ""])
    #expect(s.action == S3P_DO_EXCHANGE && s.target == Int32(S3P_TARGET_S3))
    #expect(s.request.hasPrefix("GET /media?list-type=2&max-keys=0 HTTP/1.1\r\n"
                                + "Host: 127.0.0.1:9000\r\n"))
    #expect(s.request.contains("Credential=AKID/"))
    #expect(s.request.contains("/eu-west-1/s3/aws4_request, SignedHeaders=host;"
                               + "x-amz-content-sha256;x-amz-date, Signature="))
    let refusal = "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>"
    s = e.step(S3P_EVENT_ANSWER, http(refusal, status: "403 Forbidden"))
    #expect(s.action == S3P_DO_VERIFIED && s.refused == 1)
    #expect(s.message == "credentials from \"env\" refused by S3: SignatureDoesNotMatch "
            + "(HTTP 403, ListObjectsV2 on bucket \"media\")")
    _ = e.step(S3P_EVENT_VERIFY, keys: ["AKID", "s", ""])
    s = e.step(S3P_EVENT_ANSWER, http("<ListBucketResult/>"))
    #expect(s.action == S3P_DO_VERIFIED && s.refused == 0)
    _ = e.step(S3P_EVENT_VERIFY, keys: ["AKID", "s", ""])
    s = e.step(S3P_EVENT_FAILED, "timed out")
    #expect(s.action == S3P_DO_VERIFIED && s.refused == -1 && s.message.hasSuffix("timed out"))
    // without a bucket: nothing to check
    let none = Machine(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"],
                       credentials: S3P_CREDENTIALS_ENV)
    #expect(none.configure() == nil)
    var empty = s3p_config_t()
    #expect(s3p_provider_verify_target(none.provider, &signing, &empty, &err, err.count) == 0)
    #expect(String(decoding: err.prefix { $0 != 0 }, as: UTF8.self)
            == "credentials from \"env\" are not verified with S3: no bucket "
            + "(s3_proxy_bucket, s3_proxy_buckets)")
    s = none.step(S3P_EVENT_VERIFY, keys: ["AKID", "s", ""])
    #expect(s.action == S3P_DO_VERIFIED && s.message.isEmpty)
}

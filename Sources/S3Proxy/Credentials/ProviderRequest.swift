// The HTTP/1.1 requests of the credential providers, byte for byte:
//
// - IMDSv2 (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html):
//   PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds, then
//   GET /latest/meta-data/iam/security-credentials/[ROLE] with
//   X-aws-ec2-metadata-token (left out for IMDSv1).
// - The container endpoint (ECS, EKS Pod Identity): GET of its path, with
//   the Authorization header when one is configured.
// - STS AssumeRoleWithWebIdentity
//   (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html):
//   an unsigned form POST.
//
// Each is sent on a connection of its own, "Connection: close".

enum ProviderRequest {
    /// What a step's request carries; empty parts are left out.
    struct Parts {
        var step: ProviderStep
        var host = Bytes.empty            // the Host header: "host[:port]"
        var path = Bytes.empty            // container: the URI's path+query
        var token = Bytes.empty           // IMDS: the session token; container: Authorization
        var role = Bytes.empty            // IMDS: the role; STS: its ARN
        var session_name = Bytes.empty    // STS: RoleSessionName
        var web_identity = Bytes.empty    // STS: the token file's content

        init(_ step: ProviderStep) { self.step = step }
    }

    static let imdsTokenTTL: StaticString = "21600"
    static let credentialsPath: StaticString = "/latest/meta-data/iam/security-credentials/"

    /// The request's length; past `cap` nothing usable is written.
    static func write(_ req: Parts, into writer: inout BufferWriter) {
        switch req.step {
        case .imdsToken:
            writer.write("PUT /latest/api/token HTTP/1.1\r\n")
            head(req, into: &writer)
            writer.write("X-aws-ec2-metadata-token-ttl-seconds: ")
            writer.write(imdsTokenTTL)
            writer.write("\r\nContent-Length: 0\r\n\r\n")
        case .imdsRole, .imdsCredentials:
            writer.write("GET ")
            writer.write(credentialsPath)
            if req.step == .imdsCredentials {
                writer.writeEncoded(req.role, keepSlash: false)
            }
            writer.write(" HTTP/1.1\r\n")
            head(req, into: &writer)
            if !req.token.isEmpty {
                writer.write("X-aws-ec2-metadata-token: ")
                writer.write(req.token)
                writer.write("\r\n")
            }
            writer.write("\r\n")
        case .container:
            writer.write("GET ")
            if !req.path.isEmpty { writer.write(req.path) } else { writer.write("/") }
            writer.write(" HTTP/1.1\r\n")
            head(req, into: &writer)
            if !req.token.isEmpty {
                writer.write("Authorization: ")
                writer.write(req.token)
                writer.write("\r\n")
            }
            writer.write("\r\n")
        default:
            // STS: the form's length goes first, so it is written twice.
            var counter = BufferWriter(base: writer.base, capacity: 0)
            form(req, into: &counter)
            writer.write("POST / HTTP/1.1\r\n")
            head(req, into: &writer)
            writer.write("Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n")
            writer.write("Content-Length: ")
            writer.writeDecimal(UInt32(clamping: counter.count))
            writer.write("\r\n\r\n")
            form(req, into: &writer)
        }
    }

    private static func head(_ req: Parts, into writer: inout BufferWriter) {
        writer.write("Host: ")
        writer.write(req.host)
        writer.write("\r\nUser-Agent: ngx_http_s3_proxy_module\r\nAccept: */*\r\n")
        writer.write("Connection: close\r\n")
    }

    private static func form(_ req: Parts, into writer: inout BufferWriter) {
        writer.write("Action=AssumeRoleWithWebIdentity&RoleArn=")
        writer.writeEncoded(req.role, keepSlash: false)
        writer.write("&RoleSessionName=")
        writer.writeEncoded(req.session_name, keepSlash: false)
        writer.write("&Version=2011-06-15&WebIdentityToken=")
        // A token file usually ends with a newline, which is not the token's.
        var token = req.web_identity
        while let last = token.last, last == 0x0a || last == 0x0d || last == 0x20 {
            token = UnsafeBufferPointer(rebasing: token.dropLast())
        }
        writer.writeEncoded(token, keepSlash: false)
    }
}

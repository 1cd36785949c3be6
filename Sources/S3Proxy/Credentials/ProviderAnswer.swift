// What one step of a provider's exchange answered: a value (IMDS's session
// token, the role's name) or a set of credentials, each checked before C
// sees it.  Problems are said without the secret, the token or the body.

internal import CShim

struct ProviderAnswer {
    var status: Int32 = 0
    var value: [UInt8] = []
    var accessKey: [UInt8] = []
    var secretKey: [UInt8] = []
    var sessionToken: [UInt8] = []
    var expiration: Int64 = 0

    /// Clears the secret parts (the secret key, the session token, an
    /// IMDS token in `value`) in place.
    mutating func wipe() {
        Provider.wipe(&value)
        Provider.wipe(&secretKey)
        Provider.wipe(&sessionToken)
    }

    /// The answer, or the problem with it.
    static func read(_ step: ProviderStep, _ bytes: UnsafeBufferPointer<UInt8>)
        -> (ProviderAnswer?, String?)
    {
        guard let http = HTTPAnswer(bytes) else {
            return (nil, bytes.isEmpty ? "no answer" : "not an HTTP answer")
        }
        var answer = ProviderAnswer()
        answer.status = http.status
        guard http.status == 200 else {
            var problem = "HTTP status " + String(http.status)
            if step == .sts, let code = STSResponse(http.body).errorCode,
               code.count <= 64, ProviderAnswer.printable(code)
            {
                problem += ", STS error " + String(decoding: code, as: UTF8.self)
            }
            return (answer, problem)
        }
        switch step {
        case .imdsToken, .imdsRole:
            var value = ASCII.trimmed(http.body[...])
            if step == .imdsRole, let newline = value.firstIndex(of: 10) {
                value = ASCII.trimmed(value[..<newline])
            }
            guard !value.isEmpty, value.count <= Provider.valueMax, printable(value) else {
                return (answer, step == .imdsToken
                        ? "an unusable IMDS session token" : "an unusable role name")
            }
            answer.value = value
            return (answer, nil)
        case .sts:
            let xml = STSResponse(http.body)
            guard xml.isResponse else {
                return (answer, "not an AssumeRoleWithWebIdentityResponse")
            }
            return answer.credentials(xml.accessKey, xml.secretKey, xml.sessionToken,
                                      xml.expiration, names: ("AccessKeyId", "SecretAccessKey",
                                                              "SessionToken"))
        default:
            guard let json = CredentialsJSON(http.body) else {
                return (answer, "not a JSON object")
            }
            if let code = json.string("Code"), code != Array("Success".utf8) {
                return (answer, code.count <= 64 && printable(code)
                        ? "Code \"" + String(decoding: code, as: UTF8.self) + "\""
                        : "Code not Success")
            }
            return answer.credentials(json.string("AccessKeyId"), json.string("SecretAccessKey"),
                                      json.string("Token"), json.string("Expiration"),
                                      names: ("AccessKeyId", "SecretAccessKey", "Token"))
        }
    }

    private func credentials(
        _ accessKey: [UInt8]?, _ secretKey: [UInt8]?, _ token: [UInt8]?,
        _ expiration: [UInt8]?, names: (StaticString, StaticString, StaticString)
    ) -> (ProviderAnswer?, String?) {
        var answer = self
        guard let accessKey, !accessKey.isEmpty, accessKey.count <= Int(S3P_ACCESS_KEY_MAX),
              ProviderAnswer.printable(accessKey), !accessKey.contains(UInt8(ascii: " "))
        else { return (answer, "no usable " + ProviderAnswer.text(names.0)) }
        guard let secretKey, !secretKey.isEmpty, secretKey.count <= Int(S3P_SECRET_KEY_MAX),
              ProviderAnswer.printable(secretKey)
        else { return (answer, "no usable " + ProviderAnswer.text(names.1)) }
        if let token, !(token.count <= Int(S3P_SESSION_TOKEN_MAX) && ProviderAnswer.printable(token)) {
            return (answer, "no usable " + ProviderAnswer.text(names.2))
        }
        guard let expiration else { return (answer, "no Expiration") }
        guard let when = ISO8601.unixTime(expiration) else {
            return (answer, "an Expiration that is not an ISO 8601 time")
        }
        answer.accessKey = accessKey
        answer.secretKey = secretKey
        answer.sessionToken = token ?? []
        answer.expiration = when
        return (answer, nil)
    }

    private static func text(_ s: StaticString) -> String {
        s.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
    }

    static func printable(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { ASCII.isPrintable($0) }
    }
}

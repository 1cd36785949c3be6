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
            if step == .sts || step == .assumeRole, let code = STSResponse(http.body).errorCode,
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
        case .sts, .assumeRole:
            let xml = STSResponse(http.body)
            let root = step == .sts ? "AssumeRoleWithWebIdentityResponse" : "AssumeRoleResponse"
            guard xml.root == Array(root.utf8) else { return (answer, "not an " + root) }
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
        let values = [accessKey ?? [], secretKey ?? [], token ?? []]
        let labels = [names.0, names.1, names.2]
        // What the signer would refuse never replaces a set it signs with.
        if let (field, reason) = Credentials.unusable(values[0], values[1], values[2],
                                                      issued: true)
        {
            let name = ProviderAnswer.text(labels[field])
            return (answer, values[field].isEmpty && field < 2 ? "no usable " + name
                    : "the " + name + " " + reason)
        }
        guard let expiration else { return (answer, "no Expiration") }
        guard let when = ISO8601.unixTime(expiration) else {
            return (answer, "an Expiration that is not an ISO 8601 time")
        }
        answer.accessKey = values[0]
        answer.secretKey = values[1]
        answer.sessionToken = values[2]
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

// libFuzzer entry point: a credential provider's answer (HTTP/1.1, then
// the JSON of IMDS and the container endpoint, the XML of STS, an IMDS
// token or role) through the same C entry point nginx calls,
// s3p_provider_next(), at each step of each provider.  Built with
// `make fuzz`:
//   swiftc -sanitize=fuzzer,address -D S3P_FUZZ Sources/S3Proxy/**.swift
//       Tests/Fuzz/FuzzProvider.swift
//
// Input layout: STEP BYTES.  STEP's low bits choose the step answered
// (IMDS token, role, credentials; container; STS); with bit 3 BYTES are
// the whole answer, otherwise the body of a 200 with its Content-Length.
// Beyond "does not crash", each action is checked for what must hold:
// - it lies within the output buffer;
// - stored keys fit the zone (S3P_*_MAX), are printable, and expire in
//   the future, refreshed before they expire;
// - a retry comes 1 to 60 s later; messages are printable ASCII that
//   hold no secret key (unless the access key id, which is logged,
//   holds it too).

internal import CShim

nonisolated(unsafe) var providerStorage: [UInt8] = []

public func fuzzProvider(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = Array(UnsafeBufferPointer(start: data, count: size))
    let flags = input.isEmpty ? 0 : input.removeFirst()
    let sources: [(s3p_credentials_source_t, Int, StaticString)] = [
        (S3P_CREDENTIALS_IMDS, 0, "AWS_EC2_METADATA_SERVICE_ENDPOINT"),
        (S3P_CREDENTIALS_IMDS, 1, "AWS_EC2_METADATA_SERVICE_ENDPOINT"),
        (S3P_CREDENTIALS_IMDS, 2, "AWS_EC2_METADATA_SERVICE_ENDPOINT"),
        (S3P_CREDENTIALS_CONTAINER, 0, "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        (S3P_CREDENTIALS_WEB_IDENTITY, 0, "AWS_ENDPOINT_URL_STS"),
    ]
    let (source, answers, variable) = sources[Int(flags & 7) % sources.count]
    let response: [UInt8] = flags & 8 != 0 ? input
        : Array("HTTP/1.1 200 OK\r\nContent-Length: \(input.count)\r\n\r\n".utf8) + input

    var env = s3p_environment_t()
    let values: [(StaticString, [UInt8])] = [
        (variable, Array("http://127.0.0.1:9".utf8)),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", Array("/token".utf8)),
        ("AWS_ROLE_ARN", Array("arn:aws:iam::1:role/r".utf8)),
    ]
    providerStorage = values.flatMap { $0.1 } + response
    providerStorage.withUnsafeBufferPointer { storage in
        guard let base = storage.baseAddress else { return }
        withUnsafeMutablePointer(to: &env) { envp in
            let fields = UnsafeMutableRawPointer(envp).assumingMemoryBound(to: s3p_str_t.self)
            var offset = 0
            for (name, value) in values {
                for i in 0..<Int(S3P_ENV_VARIABLES)
                    where Environment.names[i].utf8Start == name.utf8Start
                        || Array(UnsafeBufferPointer(start: Environment.names[i].utf8Start,
                                                     count: Environment.names[i].utf8CodeUnitCount))
                            == Array(UnsafeBufferPointer(start: name.utf8Start,
                                                         count: name.utf8CodeUnitCount))
                {
                    fields[i] = s3p_str_t(len: value.count, data: base + offset)
                }
                offset += value.count
            }
            var settings = s3p_settings_t()
            settings.credentials = source
            settings.expires = 300
            settings.env = UnsafePointer(envp)
            let provider = UnsafeMutablePointer<s3p_provider_t>.allocate(capacity: 1)
            defer { provider.deallocate() }
            var err = [UInt8](repeating: 0, count: 256)
            guard s3p_provider_configure(&settings, provider, &err, err.count) == S3P_OK else {
                fatalError("the fuzz configuration is refused")
            }
            provider.pointee.lead = 300
            var out = [UInt8](repeating: 0, count: Int(S3P_PROVIDER_REQUEST_MAX))
            out.withUnsafeMutableBufferPointer { out in
                let answer = s3p_str_t(len: response.count, data: base + offset)
                let now: Int64 = 1_800_000_000
                var step = s3p_provider_step_t()
                step.now = now
                step.event = S3P_EVENT_START
                s3p_provider_next(provider, &step, out.baseAddress, out.count)
                if step.action == S3P_DO_READ {
                    let token: StaticString = "eyJ.token"
                    step = s3p_provider_step_t()
                    step.now = now
                    step.event = S3P_EVENT_FILES
                    step.files.0 = s3p_str_t(len: token.utf8CodeUnitCount, data: token.utf8Start)
                    s3p_provider_next(provider, &step, out.baseAddress, out.count)
                }
                // the earlier steps answered as a service would, then this one
                let earlier: [StaticString] = [
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nTOKEN",
                    "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nrole",
                ]
                for k in 0...answers {
                    guard step.action == S3P_DO_EXCHANGE else { break }
                    check(step, out)
                    step = s3p_provider_step_t()
                    step.now = now
                    step.event = S3P_EVENT_ANSWER
                    step.data = k < answers
                        ? s3p_str_t(len: earlier[k].utf8CodeUnitCount, data: earlier[k].utf8Start)
                        : answer
                    s3p_provider_next(provider, &step, out.baseAddress, out.count)
                }
                check(step, out)
                precondition(step.action != S3P_DO_READ)
            }
        }
    }
    return 0
}

private func check(_ step: s3p_provider_step_t, _ out: UnsafeMutableBufferPointer<UInt8>) {
    func inside(_ s: s3p_str_t) {
        guard let data = s.data, s.len > 0 else { return }
        let start = UnsafePointer(out.baseAddress!)
        precondition(data >= start && data + s.len <= start + out.count, "outside the buffer")
    }
    for s in [step.request, step.access_key, step.secret_key, step.session_token, step.message] {
        inside(s)
    }
    for byte in Bytes.view(step.message) {
        precondition(byte >= 0x20 && byte < 0x7f, "a message byte that is not printable")
    }
    switch step.action {
    case S3P_DO_STORE:
        precondition(step.access_key.len > 0 && step.access_key.len <= Int(S3P_ACCESS_KEY_MAX))
        precondition(step.secret_key.len > 0 && step.secret_key.len <= Int(S3P_SECRET_KEY_MAX))
        precondition(step.session_token.len <= Int(S3P_SESSION_TOKEN_MAX))
        precondition(step.expires > step.now && step.refresh > step.now
                     && step.refresh < step.expires)
        for s in [step.access_key, step.secret_key, step.session_token] {
            for byte in Bytes.view(s) { precondition(byte >= 0x20 && byte < 0x7f) }
        }
        // the message names the access key id, which an answer may repeat
        let secret = Array(Bytes.view(step.secret_key))
        let message = Array(Bytes.view(step.message))
        precondition(secret.count < 4 || contains(Array(Bytes.view(step.access_key)), secret)
                     || !contains(message, secret), "a secret in a message")
    case S3P_DO_RETRY:
        precondition(step.refresh >= step.now + 1 && step.refresh <= step.now + 60)
    case S3P_DO_EXCHANGE:
        precondition(step.request.len > 0)
    default:
        preconditionFailure("an action without a step")
    }
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    for i in 0...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle {
        return true
    }
    return false
}

// A provider's refresh as a state machine: C reports what happened (a
// refresh is due, an exchange's answer or failure, the files it read) and
// carries out the one action the core answers.
//
//   profile       read both shared files; the profile's keys, which never
//                 expire, are looked at again every 2 s
//   web identity  read the token file; POST AssumeRoleWithWebIdentity
//   container     (read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, else take
//                 AWS_CONTAINER_AUTHORIZATION_TOKEN); GET the endpoint
//   IMDS          PUT /latest/api/token (IMDSv2); GET the role; GET its
//                 credentials.  A service that answers the PUT with 403,
//                 404 or 405 is asked without a token (IMDSv1), unless
//                 AWS_EC2_METADATA_V1_DISABLED is true.
//
// New credentials are refreshed when at least the longest presigned
// lifetime of the provider's locations (`lead`) plus a margin (a quarter
// of their life, at most 5 minutes) is left, and at most half their life
// ahead.  A failure keeps the credentials in use; the next try comes
// after 1, 2, 4 ... 60 s, and the streak's first failure is logged.

internal import CShim

enum ProviderStep: Int32 {
    case idle = 0
    case imdsToken = 1
    case imdsRole = 2
    case imdsCredentials = 3
    case container = 4
    case sts = 5
    case tokenFile = 6
    case profileFiles = 7
    case assumeRole = 8
    case verify = 9
}

enum Provider {
    static let textCapacity = Int(S3P_PROVIDER_TEXT_MAX)
    /// IMDS's session token and role name, at most.
    static let valueMax = Int(S3P_PROVIDER_VALUE_MAX)
    /// How long each wait of an exchange may take, in milliseconds.
    static let timeout: Int64 = 5000
    /// How often a profile's files are read again, in seconds.
    static let fileCheck: Int64 = 2
    static let backoffMax: Int64 = 60
    static let tokenFileMax = Int(S3P_SESSION_TOKEN_MAX)

    /// How long presigned URLs may live: 0 (the location's own lifetime)
    /// while the credentials outlive it and the presign window; else their
    /// remaining life, at most `expires`.
    static func presignCap(expires: Int64, window: Int64, expiration: Int64, now: Int64)
        -> Int64
    {
        let life = expiration &- now
        if life >= expires &+ window { return 0 }
        return min(expires, life)
    }

    /// The most the shared zone holds of the access key, the secret key
    /// and the session token.
    static let keyMaxima = [Int(S3P_ACCESS_KEY_MAX), Int(S3P_SECRET_KEY_MAX),
                            Int(S3P_SESSION_TOKEN_MAX)]

    /// Puts `keys` one after another into a zone slot's bytes, the old
    /// ones cleared, and their lengths into `lens`; false, the slot left
    /// as it is, when one is too long, or when `held` and the slot holds
    /// the same keys.
    static func store(
        _ keys: [UnsafeBufferPointer<UInt8>], held: Bool,
        slot: UnsafeMutableBufferPointer<UInt8>, lens: UnsafeMutableBufferPointer<Int>
    ) -> Bool {
        var same = held
        var at = 0
        for (i, key) in keys.enumerated() {
            if key.count > keyMaxima[i] { return false }
            let old = lens[i] <= slot.count - at
                ? UnsafeBufferPointer(rebasing: slot[at..<(at + lens[i])])
                : UnsafeBufferPointer(rebasing: slot[at..<at])
            same = same && old.elementsEqual(key)
            at += min(lens[i], slot.count - at)
        }
        if same { return false }
        slot.update(repeating: 0)
        at = 0
        for (i, key) in keys.enumerated() {
            for (j, byte) in key.enumerated() { slot[at + j] = byte }
            lens[i] = key.count
            at += key.count
        }
        return true
    }

    /// Where a fixed-size array of `s3p_provider_t` is: the provider's
    /// own memory, which C never moves.
    private static func address(_ field: UnsafeMutableRawPointer) -> UnsafeMutablePointer<UInt8> {
        field.assumingMemoryBound(to: UInt8.self)
    }

    static func text(_ p: UnsafeMutablePointer<s3p_provider_t>) -> UnsafeMutablePointer<UInt8> {
        address(&p.pointee.text)
    }

    static func id(_ p: UnsafeMutablePointer<s3p_provider_t>) -> UnsafeMutablePointer<UInt8> {
        address(&p.pointee.id)
    }

    private static func token(_ p: UnsafeMutablePointer<s3p_provider_t>) -> UnsafeMutablePointer<UInt8> {
        address(&p.pointee.token)
    }

    private static func role(_ p: UnsafeMutablePointer<s3p_provider_t>) -> UnsafeMutablePointer<UInt8> {
        address(&p.pointee.role)
    }

    static func next(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ out: UnsafeMutablePointer<UInt8>, _ cap: Int
    ) {
        var writer = BufferWriter(base: out, capacity: cap)
        clearOutput(s)
        let step = ProviderStep(rawValue: p.pointee.step) ?? .idle
        guard let env = p.pointee.settings.env?.pointee else {
            return fail(p, s, &writer, "no environment")
        }

        switch s.pointee.event {
        case S3P_EVENT_START:
            forget(p)
            switch p.pointee.source {
            case S3P_CREDENTIALS_ENV where p.pointee.assume != 0:
                assumeRole(p, s, &writer, Array(Bytes.view(env.access_key_id)),
                           Array(Bytes.view(env.secret_access_key)),
                           Array(Bytes.view(env.session_token)))
            case S3P_CREDENTIALS_ENV:
                // keys that never change: as the configuration read them
                s.pointee.action = S3P_DO_STORE
                s.pointee.access_key = env.access_key_id
                s.pointee.secret_key = env.secret_access_key
                s.pointee.session_token = env.session_token
                s.pointee.expires = Int64(S3P_NEVER)
                s.pointee.refresh = Int64(S3P_NEVER)
                s.pointee.streak = 0
            case S3P_CREDENTIALS_PROFILE:
                p.pointee.step = ProviderStep.profileFiles.rawValue
                s.pointee.action = S3P_DO_READ
                s.pointee.paths.0 = env.credentials_path
                s.pointee.paths.1 = env.config_path
                s.pointee.file_max = Int(S3P_FILE_MAX)
            case S3P_CREDENTIALS_WEB_IDENTITY:
                read(p, s, .tokenFile, env.web_identity_token_file, &writer)
            case S3P_CREDENTIALS_CONTAINER:
                if env.container_token_file.len > 0 {
                    read(p, s, .tokenFile, env.container_token_file, &writer)
                } else {
                    exchange(p, s, &writer, .container, token: Bytes.view(env.container_token))
                }
            case S3P_CREDENTIALS_IMDS:
                exchange(p, s, &writer, .imdsToken)
            default:
                fail(p, s, &writer, "not a provider")
            }

        case S3P_EVENT_VERIFY:
            verify(p, s, &writer)

        case S3P_EVENT_FAILED where step == .verify:
            verified(p, s, &writer, refused: -1, "credentials from \"" + name(p)
                     + "\" not verified with S3: "
                     + String(decoding: Bytes.view(s.pointee.data), as: UTF8.self))

        case S3P_EVENT_FAILED:
            fail(p, s, &writer, String(decoding: Bytes.view(s.pointee.data), as: UTF8.self))

        case S3P_EVENT_FILES:
            if step == .profileFiles {
                return profile(p, s, &writer, env)
            }
            guard step == .tokenFile else { return fail(p, s, &writer, "an unexpected file") }
            switch s.pointee.file_status.0 {
            case S3P_FILE_READ where s.pointee.files.0.len > 0:
                break
            case S3P_FILE_MISSING:
                return fail(p, s, &writer, "the token file cannot be opened")
            default:
                return fail(p, s, &writer, "the token file is empty, too large or unreadable")
            }
            let file = Bytes.view(s.pointee.files.0)
            if p.pointee.source == S3P_CREDENTIALS_WEB_IDENTITY {
                exchange(p, s, &writer, .sts, token: file)
            } else {
                // the header's value: the file without its final newline
                var token = file
                while let last = token.last, last == 0x0a || last == 0x0d {
                    token = UnsafeBufferPointer(rebasing: token.dropLast())
                }
                exchange(p, s, &writer, .container, token: token)
            }

        default:
            answer(p, s, &writer, step)
        }
    }

    private static func clearOutput(_ s: UnsafeMutablePointer<s3p_provider_step_t>) {
        let input = s.pointee
        s.pointee = s3p_provider_step_t()
        s.pointee.event = input.event
        s.pointee.now = input.now
        s.pointee.expiration = input.expiration
        s.pointee.failures = input.failures
        s.pointee.data = input.data
        s.pointee.files = input.files
        s.pointee.file_status = input.file_status
        s.pointee.keys = input.keys
        s.pointee.streak = input.failures
    }

    /// A token file named by the environment: its path NUL-terminated in
    /// `out`, as C opens it.
    private static func read(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ step: ProviderStep, _ path: s3p_str_t, _ writer: inout BufferWriter
    ) {
        let written = writer.write(Bytes.view(path))
        writer.write(0)
        guard !writer.overflowed else {
            writer.rewind(to: 0)
            return fail(p, s, &writer, "the token file's name is too long")
        }
        p.pointee.step = step.rawValue
        s.pointee.action = S3P_DO_READ
        s.pointee.paths.0 = written
        s.pointee.file_max = tokenFileMax
    }

    /// The request of `step`, to the provider's endpoint.
    private static func exchange(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, _ step: ProviderStep,
        token: UnsafeBufferPointer<UInt8> = Bytes.empty
    ) {
        let provider = p.pointee
        guard let env = provider.settings.env?.pointee,
              let (hostBytes, path) = hostAndPath(provider.targets.0)
        else { return fail(p, s, &writer, "no endpoint") }
        var tokenBytes = Array(token)
        defer { Provider.wipe(&tokenBytes) }
        withStored(p) { stored in
            hostBytes.withUnsafeBufferPointer { host in
                path.withUnsafeBufferPointer { path in
                    tokenBytes.withUnsafeBufferPointer { token in
                        var req = ProviderRequest.Parts(step)
                        req.host = host
                        req.path = path
                        switch step {
                        case .sts:
                            req.role = Bytes.view(env.role_arn)
                            req.session_name = env.role_session_name.len > 0
                                ? Bytes.view(env.role_session_name) : sessionName
                            req.web_identity = token
                        case .container:
                            req.token = token
                        case .imdsRole, .imdsCredentials:
                            req.token = stored.token
                            req.role = stored.role
                        default:
                            break
                        }
                        // What goes into a header line must not break it.
                        guard ASCII.isPrintable(req.host), ASCII.isPrintable(req.path),
                              ASCII.isPrintable(req.token)
                        else {
                            return fail(p, s, &writer, step == .container
                                        ? "the authorization token is not a header value"
                                        : "the request is not a header value")
                        }
                        let start = writer.count
                        ProviderRequest.write(req, into: &writer)
                        guard !writer.overflowed else {
                            writer.rewind(to: start)
                            return fail(p, s, &writer, "the request does not fit")
                        }
                        p.pointee.step = step.rawValue
                        s.pointee.action = S3P_DO_EXCHANGE
                        s.pointee.request = writer.str(start, writer.count)
                        s.pointee.timeout = timeout
                    }
                }
            }
        }
    }

    /// Where keys are verified: the first location with a bucket decides.
    static func verifyTarget(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ signing: s3p_signing_t,
        _ bucket: [UInt8], _ buckets: [[UInt8]]
    ) {
        guard p.pointee.targets.2.host.len == 0, p.pointee.verify_bucket.len == 0,
              let chosen = bucket.isEmpty ? buckets.first : bucket, !chosen.isEmpty
        else { return }
        var text = BufferWriter(base: text(p), capacity: textCapacity)
        text.skip(p.pointee.text_used)
        let url = Array(Bytes.view(signing.scheme)) + Array("://".utf8)
            + Array(Bytes.view(signing.host))
        guard let parsed = url.withUnsafeBufferPointer({ ProviderURL($0) }) else { return }
        let bundle = p.pointee.ca_bundle
        let target = Chain.target(url, parsed, p.pointee.settings.env?.pointee ?? s3p_environment_t(),
                                  p, &text)
        let bucketStr = text.write(chosen)
        let region = text.write(Bytes.view(signing.region))
        guard !text.overflowed else {
            p.pointee.ca_bundle = bundle
            return
        }
        p.pointee.targets.2 = target
        p.pointee.verify_bucket = bucketStr
        p.pointee.verify_region = region
        p.pointee.text_used = text.count
    }

    /// ListObjectsV2 with max-keys=0 on the bucket, signed with the keys in
    /// use: what S3 thinks of them.
    private static func verify(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter
    ) {
        let provider = p.pointee
        guard provider.targets.2.host.len > 0, let (host, _) = hostAndPath(provider.targets.2)
        else { return verified(p, s, &writer, refused: -1, nil) }
        var secret = Array(Bytes.view(s.pointee.keys.1))
        var token = Array(Bytes.view(s.pointee.keys.2))
        defer {
            wipe(&secret)
            wipe(&token)
        }
        let request = SignedRequest(
            method: "GET", path: Array("/".utf8) + Array(Bytes.view(provider.verify_bucket)),
            query: Array("list-type=2&max-keys=0".utf8), host: host,
            region: Array(Bytes.view(provider.verify_region)), service: "s3", now: s.pointee.now)
        let start = writer.count
        request.write(accessKey: Array(Bytes.view(s.pointee.keys.0)), secretKey: secret,
                      sessionToken: token, into: &writer)
        writer.write("\r\n")
        guard !writer.overflowed else {
            writer.rewind(to: start)
            return verified(p, s, &writer, refused: -1, nil)
        }
        p.pointee.step = ProviderStep.verify.rawValue
        s.pointee.action = S3P_DO_EXCHANGE
        s.pointee.target = Int32(S3P_TARGET_S3)
        s.pointee.request = writer.str(start, writer.count)
        s.pointee.timeout = timeout
    }

    /// S3's answer to the check: a refusal of the keys (their S3 error
    /// code), their acceptance, or neither.
    private static func checked(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter
    ) {
        let bucket = String(decoding: Bytes.view(p.pointee.verify_bucket), as: UTF8.self)
        guard let http = HTTPAnswer(Bytes.view(s.pointee.data)) else {
            return verified(p, s, &writer, refused: -1, "credentials from \"" + name(p)
                            + "\" not verified with S3: not an HTTP answer")
        }
        if http.status == 200 {
            return verified(p, s, &writer, refused: 0, "credentials from \"" + name(p)
                            + "\" verified with S3 (ListObjectsV2 on bucket \"" + bucket + "\")")
        }
        let code = http.body.withUnsafeBufferPointer { S3Error.code(in: $0) }
        let shown = code.count <= 64 && ProviderAnswer.printable(code) && !code.isEmpty
            ? String(decoding: code, as: UTF8.self) : "no code"
        let refusals = ["SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken",
                        "AccessDenied", "InvalidToken", "TokenRefreshRequired"]
        let refused = refusals.contains { Array($0.utf8) == code }
        verified(p, s, &writer, refused: refused ? 1 : -1, "credentials from \"" + name(p)
                 + (refused ? "\" refused by S3: " : "\" not verified with S3: ") + shown
                 + " (HTTP " + String(http.status) + ", ListObjectsV2 on bucket \"" + bucket
                 + "\")")
    }

    private static func verified(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, refused: Int32, _ text: String?
    ) {
        p.pointee.step = ProviderStep.idle.rawValue
        s.pointee.action = S3P_DO_VERIFIED
        s.pointee.refused = refused
        s.pointee.request = s3p_str_t()
        if let text { message(s, &writer, text) }
    }

    /// A target's Host header ("host[:port]") and its URL's path.
    private static func hostAndPath(_ target: s3p_target_t) -> ([UInt8], [UInt8])? {
        let whole = Bytes.view(target.url)
        guard let url = ProviderURL(whole) else { return nil }
        var hostBytes = Array(whole[url.host])
        if url.explicitPort && url.port != (url.tls ? 443 : 80) {
            hostBytes += Array(":".utf8)
            var digits: [UInt8] = []
            var n = url.port
            repeat {
                digits.insert(UInt8(ascii: "0") + UInt8(n % 10), at: 0)
                n /= 10
            } while n > 0
            hostBytes += digits
        }
        return (hostBytes, Array(whole[url.path]))
    }

    /// The source's keys assume the role: AssumeRole to STS, signed with
    /// them.
    private static func assumeRole(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, _ accessKey: [UInt8], _ secretKey: [UInt8],
        _ sessionToken: [UInt8]
    ) {
        let provider = p.pointee
        guard let (host, _) = hostAndPath(provider.targets.1) else {
            return fail(p, s, &writer, "no STS endpoint")
        }
        if let (field, reason) = Credentials.unusable(accessKey, secretKey, sessionToken) {
            return fail(p, s, &writer, "the source's "
                        + ["access key id", "secret key", "session token"][field] + " " + reason)
        }
        var req = AssumeRoleRequest.Parts()
        req.host = host
        req.region = Array(Bytes.view(provider.sts_region))
        req.role = Array(Bytes.view(provider.assume_role.0))
        req.externalId = Array(Bytes.view(provider.assume_role.1))
        req.sessionName = provider.assume_role.2.len > 0 ? Array(Bytes.view(provider.assume_role.2))
            : Array(sessionName)
        req.duration = provider.assume_duration
        req.accessKey = accessKey
        req.secretKey = secretKey
        req.sessionToken = sessionToken
        req.now = s.pointee.now
        defer {
            Provider.wipe(&req.secretKey)
            Provider.wipe(&req.sessionToken)
        }
        let start = writer.count
        guard AssumeRoleRequest.write(req, into: &writer), !writer.overflowed else {
            writer.rewind(to: start)
            return fail(p, s, &writer, "the AssumeRole request does not fit")
        }
        p.pointee.step = ProviderStep.assumeRole.rawValue
        s.pointee.action = S3P_DO_EXCHANGE
        s.pointee.target = Int32(S3P_TARGET_STS)
        s.pointee.request = writer.str(start, writer.count)
        s.pointee.timeout = timeout
    }

    private static var sessionName: UnsafeBufferPointer<UInt8> {
        let name: StaticString = "ngx_http_s3_proxy_module"
        return UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
    }

    /// IMDS's token and role, as kept between steps.
    private static func withStored(
        _ p: UnsafeMutablePointer<s3p_provider_t>,
        _ body: ((token: UnsafeBufferPointer<UInt8>, role: UnsafeBufferPointer<UInt8>)) -> Void
    ) {
        let tokenLen = min(p.pointee.token_len, valueMax)
        let roleLen = min(p.pointee.role_len, valueMax)
        body((UnsafeBufferPointer(start: token(p), count: tokenLen),
              UnsafeBufferPointer(start: role(p), count: roleLen)))
    }

    private static func keep(_ value: [UInt8], token: Bool, _ p: UnsafeMutablePointer<s3p_provider_t>) {
        let n = min(value.count, valueMax)
        let buffer = token ? Provider.token(p) : role(p)
        for i in 0..<n { buffer[i] = value[i] }
        if token { p.pointee.token_len = n } else { p.pointee.role_len = n }
    }

    /// Clears what the last refresh kept (the IMDS token is a secret).
    private static func forget(_ p: UnsafeMutablePointer<s3p_provider_t>) {
        token(p).update(repeating: 0, count: valueMax)
        role(p).update(repeating: 0, count: valueMax)
        p.pointee.token_len = 0
        p.pointee.role_len = 0
        p.pointee.step = ProviderStep.idle.rawValue
    }

    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    private static func answer(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, _ step: ProviderStep
    ) {
        guard step != .idle && step != .tokenFile && step != .profileFiles else {
            return fail(p, s, &writer, "an unexpected answer")
        }
        if step == .verify { return checked(p, s, &writer) }
        var (read, problem) = ProviderAnswer.read(step, Bytes.view(s.pointee.data))
        defer { read?.wipe() }
        if let problem {
            // IMDSv1: no token when the service does not give one
            if step == .imdsToken && p.pointee.v1 != 0,
               let status = read?.status, status == 403 || status == 404 || status == 405
            {
                return exchange(p, s, &writer, .imdsRole)
            }
            return fail(p, s, &writer, problem)
        }
        guard let answer = read else { return fail(p, s, &writer, "no answer") }
        switch step {
        case .imdsToken:
            keep(answer.value, token: true, p)
            exchange(p, s, &writer, .imdsRole)
        case .imdsRole:
            keep(answer.value, token: false, p)
            exchange(p, s, &writer, .imdsCredentials)
        case .assumeRole:
            store(p, s, &writer, answer, final: true)
        default:
            store(p, s, &writer, answer)
        }
    }

    /// New credentials: into the zone, with the next refresh.
    private static func store(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, _ answer: ProviderAnswer, final: Bool = false
    ) {
        let now = s.pointee.now
        let life = answer.expiration - now
        guard life > 0 else { return fail(p, s, &writer, "the credentials have expired") }
        if p.pointee.assume != 0 && !final {
            return assumeRole(p, s, &writer, answer.accessKey, answer.secretKey,
                              answer.sessionToken)
        }
        let margin = min(life / 4, 300)
        var refresh = answer.expiration - p.pointee.lead - margin
        refresh = max(refresh, now + life / 2, now + 1)
        forget(p)
        s.pointee.action = S3P_DO_STORE
        s.pointee.access_key = writer.write(answer.accessKey)
        s.pointee.secret_key = writer.write(answer.secretKey)
        s.pointee.session_token = writer.write(answer.sessionToken)
        s.pointee.expires = answer.expiration
        s.pointee.refresh = refresh
        s.pointee.streak = 0
        message(s, &writer, "credentials from \"" + name(p) + "\": access key id \""
                + String(decoding: answer.accessKey, as: UTF8.self) + "\", expiring in "
                + String(life) + " s, next refresh in " + String(refresh - now) + " s")
    }

    /// A profile's keys, found again in the files as read now.
    private static func profile(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, _ env: s3p_environment_t
    ) {
        var read = env
        let statuses = [s.pointee.file_status.0, s.pointee.file_status.1]
        // The credentials file wins for keys: unreadable, nothing is sure.
        // The config file may be unreadable (root's, under the workers'
        // user) without stopping keys from the credentials file.
        if statuses[0] == S3P_FILE_UNREADABLE {
            return retryProfile(p, s, &writer, "cannot read \""
                                + String(decoding: Bytes.view(env.credentials_path), as: UTF8.self)
                                + "\"")
        }
        read.credentials_file = statuses[0] == S3P_FILE_READ ? s.pointee.files.0 : s3p_str_t()
        read.config_file = statuses[1] == S3P_FILE_READ ? s.pointee.files.1 : s3p_str_t()
        var settings = p.pointee.settings
        settings.credentials = S3P_CREDENTIALS_PROFILE
        switch Credentials.of(settings, env: read, files: SharedFiles(read)) {
        case .problem(let problem):
            retryProfile(p, s, &writer, statuses[1] != S3P_FILE_UNREADABLE ? problem
                         : problem + " (cannot read \""
                         + String(decoding: Bytes.view(env.config_path), as: UTF8.self) + "\")")
        case .found(var keys):
            defer { keys.wipe() }
            if p.pointee.assume != 0 {
                return assumeRole(p, s, &writer, keys.accessKey, keys.secretKey,
                                  keys.sessionToken)
            }
            p.pointee.step = ProviderStep.idle.rawValue
            s.pointee.action = S3P_DO_STORE
            s.pointee.access_key = writer.write(keys.accessKey)
            s.pointee.secret_key = writer.write(keys.secretKey)
            s.pointee.session_token = writer.write(keys.sessionToken)
            s.pointee.expires = Int64(S3P_NEVER)
            s.pointee.refresh = s.pointee.now + fileCheck
            s.pointee.streak = 0
            message(s, &writer, "credentials from \"" + name(p) + "\": access key id \""
                    + String(decoding: keys.accessKey, as: UTF8.self) + "\"")
        }
    }

    private static func retryProfile(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, _ reason: String
    ) {
        p.pointee.step = ProviderStep.idle.rawValue
        let streak = s.pointee.failures &+ 1
        s.pointee.action = S3P_DO_RETRY
        s.pointee.refresh = s.pointee.now + fileCheck
        s.pointee.streak = streak
        if streak == 1 {
            message(s, &writer, "credentials from \"" + name(p) + "\" not refreshed: " + reason
                    + "; the current ones stay in use")
        }
    }

    /// A failed refresh: the credentials in the zone stay in use until
    /// they expire; the next try after 1, 2, 4 ... 60 s.
    private static func fail(
        _ p: UnsafeMutablePointer<s3p_provider_t>, _ s: UnsafeMutablePointer<s3p_provider_step_t>,
        _ writer: inout BufferWriter, _ reason: String
    ) {
        if p.pointee.source == S3P_CREDENTIALS_PROFILE && p.pointee.assume == 0 {
            return retryProfile(p, s, &writer, reason)
        }
        forget(p)
        let now = s.pointee.now
        let streak = s.pointee.failures &+ 1
        let delay = streak > 6 ? backoffMax : min(Int64(1) << Int64(streak - 1), backoffMax)
        s.pointee.action = S3P_DO_RETRY
        s.pointee.refresh = now + delay
        s.pointee.streak = streak
        s.pointee.request = s3p_str_t()
        guard streak == 1 else { return }
        let expiration = s.pointee.expiration
        if expiration > now {
            message(s, &writer, "credentials from \"" + name(p) + "\" not refreshed: " + reason
                    + "; the current ones stay in use for " + String(expiration - now) + " s")
        } else {
            message(s, &writer, "no credentials from \"" + name(p) + "\": " + reason)
        }
    }

    private static func name(_ p: UnsafeMutablePointer<s3p_provider_t>) -> String {
        String(decoding: Bytes.view(p.pointee.name), as: UTF8.self)
    }

    private static func message(
        _ s: UnsafeMutablePointer<s3p_provider_step_t>, _ writer: inout BufferWriter,
        _ text: String
    ) {
        s.pointee.message = printable(&writer, text)
    }

    /// `text` in `writer`, only printable (what reaches the log); empty
    /// if it does not fit.
    private static func printable(_ writer: inout BufferWriter, _ text: String) -> s3p_str_t {
        var bytes = Array(text.utf8)
        for i in bytes.indices where bytes[i] < 0x20 || bytes[i] > 0x7e { bytes[i] = 0x3f }
        let start = writer.count
        writer.write(bytes)
        if writer.overflowed {
            writer.rewind(to: start)
            return s3p_str_t()
        }
        return writer.str(start, writer.count)
    }
}

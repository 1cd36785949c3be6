// Reference implementation (tests only) of s3p_handle(): Router decides,
// Signer signs, in Swift arrays, the way AWS's documentation describes
// each step.  The differential tests and the fuzzer compare every answer
// of the production pipeline with this one.

#if S3P_FUZZ
internal import CShim
#else
import CShim
@testable import S3Proxy
#endif

enum RequestHandler {
    static func handle(
        conf: UnsafePointer<s3p_config_t>, request req: s3p_request_t,
        out: UnsafeMutablePointer<UInt8>, cap: Int,
        result: UnsafeMutablePointer<s3p_result_t>
    ) -> Int32 {
        result.pointee = s3p_result_t()
        result.pointee.max_age = -1
        guard let signing = conf.pointee.signing else { return S3P_E_CONFIG }
        let policy = Policy(conf.pointee)
        let clientSigning = ClientSigning(authorization: req.authorization.bytes,
                                          amzDate: req.amz_date.bytes,
                                          amzContentSHA256: req.amz_content_sha256.bytes)
        let route = Router.route(method: req.method.bytes[...],
                                 path: req.path.bytes[...],
                                 query: req.query.bytes[...],
                                 policy: policy,
                                 userAgent: req.user_agent.bytes[...],
                                 signing: clientSigning,
                                 checksumMode: req.checksum_mode.bytes[...],
                                 fallback: req.fallback != 0)
        let target: S3Target
        switch route {
        case .refuse(let status):
            result.pointee.action = S3P_ACTION_REFUSE
            result.pointee.status = status
            if policy.streams(userAgent: req.user_agent.bytes[...], signing: clientSigning) {
                // S3 clients get S3's XML error (ErrorResponses.html).
                let body = Plain.s3ErrorDocument(status: status)
                var writer = BufferWriter(base: out, capacity: cap)
                result.pointee.url = writer.write(body)
                result.pointee.render = S3P_RENDER_S3_ERROR
            }
            return S3P_OK
        case .redirect(let t), .proxy(let t):
            target = t
        }
        guard let method = HTTPMethod(req.method.bytes) else { return S3P_E_CONFIG }

        let settings = Settings(resolved: signing.pointee)
        // With a presign window W, a presigned URL is signed at the last
        // multiple of W, valid for expires + W, and may be cached until
        // the window ends.
        var signedAt = req.now
        if case .redirect = route, settings.window > 0, req.now >= 0 {
            signedAt = req.now / settings.window * settings.window
            result.pointee.max_age = signedAt + settings.window - req.now
        }
        let date = AmzDate(unixTime: signedAt)
        guard let signingKey = SigningKey.derive(secret: settings.secretKey,
                                                 date: date.date, region: settings.region)
        else {
            return S3P_E_CRYPTO
        }
        let signer = Signer(settings: settings, signingKey: signingKey, date: date)

        var writer = BufferWriter(base: out, capacity: cap)
        result.pointee.bucket = writer.write(target.bucket)
        result.pointee.key = writer.write(target.key)
        switch route {
        case .refuse:
            return S3P_OK
        case .redirect:
            guard let url = signer.presignedURL(method: method, target: target) else {
                return S3P_E_CRYPTO
            }
            result.pointee.action = S3P_ACTION_REDIRECT
            result.pointee.status = 307
            result.pointee.url = writer.write(url)
        case .proxy:
            guard let authorization = signer.authorization(method: method, target: target)
            else {
                return S3P_E_CRYPTO
            }
            result.pointee.action = S3P_ACTION_PROXY
            let url = signer.upstreamURL(target: target)
            result.pointee.url = writer.write(url)
            // The cache key: the URL, the checksum mode asked for, whose
            // credentials sign (as resolved) and what the client gets of
            // the answer: a rendered listing, a folder's index page that
            // its listing replaces on 404 ("fallback"), an S3 client's
            // answer or a browser's.
            var key = url
            if target.checksumMode {
                result.pointee.checksum_mode = writer.write(Array("ENABLED".utf8))
                key += Array(" x-amz-checksum-mode:ENABLED".utf8)
            }
            let variant: String
            switch target.rendering {
            case .listingFirstPage, .listingLaterPage: variant = "listing"
            case .none:
                variant = !target.folderPath.isEmpty ? "fallback"
                    : policy.streams(userAgent: req.user_agent.bytes[...],
                                     signing: clientSigning) ? "s3" : "page"
            }
            key += Array(" ".utf8) + signing.pointee.cache_identity.bytes
                + Array((" " + variant).utf8)
            result.pointee.cache_key = writer.write(key)
            result.pointee.authorization = writer.write(authorization)
            result.pointee.amz_date = writer.write(date.timestamp)
            result.pointee.host = writer.write(target.hostPrefix + settings.host)
            if !target.base.isEmpty {
                result.pointee.base = writer.write(target.base)
            }
            switch target.rendering {
            case .none: result.pointee.render = S3P_RENDER_NONE
            case .listingFirstPage: result.pointee.render = S3P_RENDER_LISTING
            case .listingLaterPage: result.pointee.render = S3P_RENDER_LISTING_MORE
            }
            if !target.folderPath.isEmpty {
                result.pointee.fallback = writer.write(target.folderPath)
            }
        }
        return writer.overflowed ? S3P_E_SPACE : S3P_OK
    }
}

extension Settings {
    /// The resolved settings nginx handed over, as arrays.
    init(resolved conf: s3p_signing_t) {
        self.init(accessKey: conf.access_key.bytes,
                  secretKey: conf.secret_key.bytes,
                  sessionToken: conf.session_token.bytes,
                  region: conf.region.bytes,
                  host: conf.host.bytes,
                  externalHost: conf.external_host.bytes,
                  scheme: conf.scheme.bytes,
                  externalScheme: conf.external_scheme.bytes,
                  addressing: conf.addressing == S3P_ADDRESSING_VIRTUAL ? .virtual : .path,
                  expires: conf.expires)
        window = conf.window
    }
}

extension Policy {
    init(_ conf: s3p_config_t) {
        defer {
            mount = conf.mount.bytes
            bucket = conf.bucket.len > 0 ? conf.bucket.bytes : nil
            if let signing = conf.signing?.pointee {
                virtual = signing.addressing == S3P_ADDRESSING_VIRTUAL
                https = signing.scheme.bytes == Array("https".utf8)
                    || signing.external_scheme.bytes == Array("https".utf8)
            }
        }
        self.init(buckets: s3p_str_t.list(conf.buckets, conf.nbuckets),
                  parameters: s3p_str_t.list(conf.params, conf.nparams))
        if conf.index.len > 0 {
            indexDocument = conf.index.bytes
        }
        listings = conf.listings != 0
        switch conf.download.bytes {
        case []: downloadParameter = Array("download".utf8)
        case Array("off".utf8): downloadParameter = nil
        case let name: downloadParameter = name
        }
        ignoredParameters = s3p_str_t.list(conf.ignore_params, conf.nignore_params)
        switch conf.stream {
        case S3P_STREAM_OFF:
            streamAgents = []
            streamsWithoutAgent = false
            streamsSigned = false
        case S3P_STREAM_LIST:
            streamAgents = s3p_str_t.list(conf.stream_agents, conf.nstream_agents)
            streamsWithoutAgent = conf.stream_match & UInt32(S3P_STREAM_NO_AGENT) != 0
            streamsSigned = conf.stream_match & UInt32(S3P_STREAM_SIGNED) != 0
        default:
            break
        }
    }
}

extension s3p_str_t {
    /// Copies of a C array of strings (empty for NULL).
    static func list(_ items: UnsafePointer<s3p_str_t>?, _ count: Int) -> [[UInt8]] {
        guard let items, count > 0 else { return [] }
        return UnsafeBufferPointer(start: items, count: count).map { $0.bytes }
    }
}

extension Digest {
    /// SHA-256 of `data`; nil only if libcrypto fails.
    static func sha256(_ data: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length)
        let ok = data.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                sha256(into: output.baseAddress!) { $0.feed(input) }
            }
        }
        return ok ? out : nil
    }

    /// HMAC-SHA256 of `data` under `key`; nil only if libcrypto fails.
    static func hmac<K: Collection<UInt8>, D: Collection<UInt8>>(
        key: K, data: D
    ) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length)
        let keyBytes = Array(key)
        let dataBytes = Array(data)
        let ok = keyBytes.withUnsafeBytes { key in
            dataBytes.withUnsafeBytes { data in
                out.withUnsafeMutableBufferPointer { output in
                    hmac(key: key, into: output.baseAddress!) { $0.feed(data) }
                }
            }
        }
        return ok ? out : nil
    }
}

// The $s3_proxy_* variables: their names, which of them nginx may hand
// out by name, and what each is for one request.  C registers them and
// carries the value out (s3p_variable_name(), s3p_variable()).

internal import CShim

/// The variables, in the order of their index at the boundary.
enum Variable: UInt32 {
    case url, authorization, date, host, checksumMode
    case bucket, key, prefix, action, contentSHA256, securityToken, cacheKey
    case credentialsSource, credentialsExpires, s3Error, requestID
    case range, ifRange, ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince

    var name: StaticString {
        switch self {
        case .url: "s3_proxy_url"
        case .authorization: "s3_proxy_authorization"
        case .date: "s3_proxy_date"
        case .host: "s3_proxy_host"
        case .checksumMode: "s3_proxy_checksum_mode"
        case .bucket: "s3_proxy_bucket"
        case .key: "s3_proxy_key"
        case .prefix: "s3_proxy_prefix"
        case .action: "s3_proxy_action"
        case .contentSHA256: "s3_proxy_content_sha256"
        case .securityToken: "s3_proxy_security_token"
        case .cacheKey: "s3_proxy_cache_key"
        case .credentialsSource: "s3_proxy_credentials_source"
        case .credentialsExpires: "s3_proxy_credentials_expires"
        case .s3Error: "s3_proxy_s3_error"
        case .requestID: "s3_proxy_request_id"
        case .range: "s3_proxy_range"
        case .ifRange: "s3_proxy_if_range"
        case .ifMatch: "s3_proxy_if_match"
        case .ifNoneMatch: "s3_proxy_if_none_match"
        case .ifModifiedSince: "s3_proxy_if_modified_since"
        case .ifUnmodifiedSince: "s3_proxy_if_unmodified_since"
        }
    }

    /// What may not be read by name at run time (SSI, perl): a signature,
    /// what it signs, the token it is sent with.
    var unhashed: Bool {
        switch self {
        case .url, .authorization, .date, .host, .checksumMode, .contentSHA256,
             .securityToken:
            true
        default:
            false
        }
    }

    /// The client header a variable passes on to S3.
    var header: s3p_conditional_t? {
        switch self {
        case .range: S3P_CONDITIONAL_RANGE
        case .ifRange: S3P_CONDITIONAL_IF_RANGE
        case .ifMatch: S3P_CONDITIONAL_IF_MATCH
        case .ifNoneMatch: S3P_CONDITIONAL_IF_NONE_MATCH
        case .ifModifiedSince: S3P_CONDITIONAL_IF_MODIFIED_SINCE
        case .ifUnmodifiedSince: S3P_CONDITIONAL_IF_UNMODIFIED_SINCE
        default: nil
        }
    }
}

/// What a variable is for one request.
enum VariableValue {
    case none
    case bytes(s3p_str_t)             // in the request's or configuration's memory
    case text(StaticString)
    case cacheKey(method: StaticString?, s3p_str_t)  // nil: the client's method
    case seconds(Int64)
    case nginx(StaticString)          // the value of nginx's variable of that name
}

extension Variable {
    /// The value for the request `r` describes.
    func value(_ r: s3p_variable_t) -> VariableValue {
        if let header {
            return Variable.passed(header, r)
        }
        switch self {
        case .contentSHA256:
            // every proxied request is a GET or a HEAD: an empty payload
            return r.signing == nil ? .none : .text(Variable.emptySHA256)
        case .securityToken:
            // the request's own: a provider's credentials rotate
            return r.signing.map { .bytes($0.pointee.session_token) } ?? .none
        default:
            break
        }
        guard let result = r.result?.pointee else { return .none }
        switch self {
        case .bucket: return .bytes(result.bucket)
        case .key: return .bytes(result.key)
        case .prefix: return .bytes(result.prefix)
        case .s3Error: return .bytes(r.s3_error)
        case .action:
            switch result.action {
            case S3P_ACTION_REDIRECT: return .text("redirect")
            case S3P_ACTION_PROXY: return .text("proxy")
            default: return .text("refuse")
            }
        case .credentialsSource, .credentialsExpires:
            return result.action == S3P_ACTION_REFUSE ? .none : Variable.credentials(self, r)
        default:
            break
        }
        // the URL, its signed headers and S3's answer: proxied requests only
        guard result.action == S3P_ACTION_PROXY else { return .none }
        switch self {
        case .url: return .bytes(result.url)
        case .date: return .bytes(result.amz_date)
        case .host: return .bytes(result.host)
        case .checksumMode: return .bytes(result.checksum_mode)
        case .requestID: return .nginx("upstream_http_x_amz_request_id")
        case .authorization:
            // a HEAD that proxy_cache fetches as a GET: the GET's
            return Variable.fetchedAsGet(r) && result.get_authorization.len > 0
                ? .bytes(result.get_authorization) : .bytes(result.authorization)
        case .cacheKey:
            // the method S3 is asked with: proxy_cache evaluates it after
            // turning a HEAD into a GET, so both share the cached GET
            return .cacheKey(method: Variable.fetchedAsGet(r) ? "GET" : nil,
                             result.cache_key)
        default:
            return .none
        }
    }

    /// S3P_EMPTY_PAYLOAD_SHA256 and S3P_CREDENTIALS_ENV_NAME, which Swift
    /// sees as Strings, as bytes that outlive the call (VariableTests
    /// checks they are the header's).
    static let emptySHA256: StaticString =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let environment: StaticString = "env"

    /// Whether proxy_cache turned this HEAD into a GET for S3
    /// (proxy_cache_convert_head): only it sets the upstream's method.
    static func fetchedAsGet(_ r: s3p_variable_t) -> Bool {
        Bytes.view(r.upstream_method).elementsEqual("GET".utf8)
    }

    /// For the access log: the credentials' source, the seconds until they
    /// expire (none for keys that never do).
    static func credentials(_ v: Variable, _ r: s3p_variable_t) -> VariableValue {
        if v == .credentialsSource {
            return r.source.len > 0 ? .bytes(r.source) : .text(Variable.environment)
        }
        guard r.source.len > 0, r.expiration != S3P_NEVER else { return .none }
        return .seconds(max(r.expiration - r.now, 0))
    }

    /// A range or conditional header of the client's, for S3.  A request
    /// proxy_cache may store fetches the whole object instead (a partial
    /// or 304 answer would be cached for everyone) and nginx answers the
    /// client from it; its revalidation (proxy_cache_revalidate) sends the
    /// cached Last-Modified and ETag, as proxy_cache does.  An error
    /// document is a whole object: none.
    static func passed(_ header: s3p_conditional_t, _ r: s3p_variable_t) -> VariableValue {
        guard r.cacheable == 0 else {
            switch header {
            case S3P_CONDITIONAL_IF_MODIFIED_SINCE: return .nginx("upstream_cache_last_modified")
            case S3P_CONDITIONAL_IF_NONE_MATCH: return .nginx("upstream_cache_etag")
            default: return .none
            }
        }
        if let result = r.result?.pointee, result.render == S3P_RENDER_DOCUMENT {
            return .none
        }
        switch header {
        case S3P_CONDITIONAL_RANGE: return .bytes(r.headers.0)
        case S3P_CONDITIONAL_IF_RANGE: return .bytes(r.headers.1)
        case S3P_CONDITIONAL_IF_MATCH: return .bytes(r.headers.2)
        case S3P_CONDITIONAL_IF_NONE_MATCH: return .bytes(r.headers.3)
        case S3P_CONDITIONAL_IF_MODIFIED_SINCE: return .bytes(r.headers.4)
        default: return .bytes(r.headers.5)
        }
    }
}

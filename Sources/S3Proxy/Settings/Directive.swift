// A location directive checked where it stands (s3p_settings_directive()):
// each value's check, and the whole message nginx -t shows for it.

internal import CShim

enum Directive {
    /// s3_proxy_stream_agents off, in `kinds`
    static let streamNobody: Int32 = -1

    /// The message for `name`'s `values`, nil when they are good; what each
    /// value means goes into `kinds` (s3_proxy_credentials: the source,
    /// then each role parameter's S3P_ROLE_* plus one; s3_proxy_addressing;
    /// s3_proxy_stream_agents: 0 for a User-Agent substring, else
    /// S3P_STREAM_NO_AGENT, S3P_STREAM_SIGNED or `streamNobody`;
    /// s3_proxy_error_document: its status second).  A directive the core
    /// does not know is refused, so that one C reads unchecked shows at
    /// once.
    static func problem(
        name: [UInt8], values: [[UInt8]], seconds: Int64, kinds: inout [Int32]
    ) -> String? {
        let quotedName = quoted(name)
        let first = values.first ?? []
        let named = { (directive: String) in name == Array(directive.utf8) }
        switch name {
        case _ where named("s3_proxy_expires") || named("s3_proxy_presign_window"):
            // a window is a presigned URL lifetime too: 1 second to 7 days
            return Settings.expiresProblem(seconds).map { quotedName + " " + $0 }
        case _ where named("s3_proxy_index"):
            return Rules.indexProblem(first).map {
                quotedName + " " + $0 + ", not " + quoted(first)
            }
        case _ where named("s3_proxy_bucket"):
            return valueProblem(quotedName, first, BucketName.problem(first))
        case _ where named("s3_proxy_prefix"):
            return valueProblem(quotedName, first, KeyPrefix.problem(first))
        case _ where named("s3_proxy_endpoint") || named("s3_proxy_external_endpoint"):
            let parsed = first.withUnsafeBufferPointer { Endpoint.parse($0) }
            guard case .problem(let why) = parsed else { return nil }
            return valueProblem(quotedName, first, why)
        case _ where named("s3_proxy_region"):
            return valueProblem(quotedName, first, Settings.regionProblem(first))
        case _ where named("s3_proxy_credentials"):
            if let problem = credentials(quotedName, first, kinds: &kinds) { return problem }
            return roleParameters(quotedName, Array(values.dropFirst()), kinds: &kinds)
        case _ where named("s3_proxy_addressing"):
            // any case, as nginx's ngx_conf_set_enum_slot() reads words
            switch ASCII.lowercased(first) {
            case Array("path".utf8): kinds[0] = Int32(S3P_ADDRESSING_PATH.rawValue)
            case Array("virtual".utf8): kinds[0] = Int32(S3P_ADDRESSING_VIRTUAL.rawValue)
            default: return "invalid value " + quoted(first)
            }
            return nil
        case _ where named("s3_proxy_buckets") || named("s3_proxy_allow_params")
            || named("s3_proxy_ignore_params"):
            if values.isEmpty {
                return quotedName + " directive needs at least one name"
            }
            for value in values {
                let problem = named("s3_proxy_buckets")
                    ? BucketName.problem(value) : Rules.parameterProblem(value)
                if let problem {
                    return quotedName + ": " + quoted(value) + " " + problem
                }
            }
            return nil
        case _ where named("s3_proxy_download_param"):
            if first == Array("off".utf8) { return nil }
            return valueProblem(quotedName, first, Rules.parameterProblem(first))
        case _ where named("s3_proxy_proxy_types"):
            for value in values where !Rules.isMediaType(value) {
                return quotedName + ": " + quoted(value) + " is not a MIME type"
            }
            return nil
        case _ where named("s3_proxy_error_document"):
            // key [status]: any status a page may answer with
            if let problem = Rules.errorDocumentProblem(first) {
                return quotedName + " " + quoted(first) + " " + problem
            }
            guard values.count > 1 else { return nil }
            guard let status = ASCII.decimal(values[1], maxDigits: 3),
                  status >= 200 && status <= 599
            else {
                return quotedName + " takes a status from 200 to 599, not "
                    + quoted(values[1])
            }
            kinds[1] = Int32(status)
            return nil
        case _ where named("s3_proxy_stream_agents"):
            return streamAgents(quotedName, values, kinds: &kinds)
        default:
            return quotedName + " is not a directive the core checks"
        }
    }

    /// s3_proxy_credentials auto | env | profile=NAME | web-identity |
    /// container | imds
    private static func credentials(
        _ quotedName: String, _ value: [UInt8], kinds: inout [Int32]
    ) -> String? {
        let sources: [(String, s3p_credentials_source_t)] = [
            ("auto", S3P_CREDENTIALS_AUTO), ("env", S3P_CREDENTIALS_ENV),
            ("web-identity", S3P_CREDENTIALS_WEB_IDENTITY),
            ("container", S3P_CREDENTIALS_CONTAINER), ("imds", S3P_CREDENTIALS_IMDS),
        ]
        for (word, source) in sources where Array(word.utf8) == value {
            kinds[0] = Int32(source.rawValue)
            return nil
        }
        let prefix = Array("profile=".utf8)
        if value.count > prefix.count && Array(value.prefix(prefix.count)) == prefix {
            kinds[0] = Int32(S3P_CREDENTIALS_PROFILE.rawValue)
            let profile = Array(value.dropFirst(prefix.count))
            let problem = profile.withUnsafeBufferPointer {
                Credentials.profileNameProblem($0)
            }
            return valueProblem(quotedName, profile, problem)
        }
        return quotedName + " takes auto, env, profile=NAME, web-identity, container"
            + " or imds, not " + quoted(value)
    }

    /// s3_proxy_credentials SOURCE role=ARN [external_id=ID]
    /// [session_name=NAME] [duration=TIME]: each once, role= first among
    /// them; kinds[i] is the parameter's S3P_ROLE_* plus one.
    private static func roleParameters(
        _ quotedName: String, _ values: [[UInt8]], kinds: inout [Int32]
    ) -> String? {
        var seen = [Bool](repeating: false, count: RoleParameters.names.count)
        for (i, value) in values.enumerated() {
            guard let equals = value.firstIndex(of: UInt8(ascii: "=")),
                  let index = RoleParameters.names.firstIndex(where: {
                      $0.withUTF8Buffer { Array($0) } == Array(value[..<equals])
                  })
            else {
                return quotedName + " takes role=ARN, external_id=ID, session_name=NAME"
                    + " and duration=TIME after the source, not " + quoted(value)
            }
            let name = String(decoding: value[..<equals], as: UTF8.self)
            if seen[index] { return quotedName + ": \"" + name + "=\" is duplicate" }
            seen[index] = true
            let parameter = Array(value[(equals + 1)...])
            if let problem = RoleParameters.problem(index, parameter) {
                return quotedName + ": " + name + "=" + quoted(parameter) + " " + problem
            }
            kinds[i + 1] = Int32(index + 1)
        }
        if !values.isEmpty && !seen[Int(S3P_ROLE_ARN)] {
            return quotedName + ": external_id=, session_name= and duration= need role=ARN"
        }
        return nil
    }

    /// s3_proxy_stream_agents off | none | signed | substring ...
    ///
    /// "none" and "signed" name clients by what they send rather than by a
    /// User-Agent substring, as valid_referers' "none" does: no User-Agent
    /// at all, and S3's own signature headers.
    private static func streamAgents(
        _ quotedName: String, _ values: [[UInt8]], kinds: inout [Int32]
    ) -> String? {
        let off = Array("off".utf8)
        if values.count > 1 && values.contains(off) {
            return quotedName + " directive takes \"off\" alone: with other values it"
                + " would stream to clients whose User-Agent holds \"off\""
        }
        if values.first == off {
            kinds[0] = streamNobody
            return nil
        }
        for (i, value) in values.enumerated() {
            switch value {
            case []:
                return quotedName + " directive takes no empty User-Agent substring:"
                    + " \"none\" names clients that send no User-Agent"
            case Array("none".utf8): kinds[i] = S3P_STREAM_NO_AGENT
            case Array("signed".utf8): kinds[i] = S3P_STREAM_SIGNED
            default: kinds[i] = 0
            }
        }
        return nil
    }

    private static func valueProblem(
        _ quotedName: String, _ value: [UInt8], _ problem: String?
    ) -> String? {
        problem.map { quotedName + " " + quoted(value) + " " + $0 }
    }

    static func quoted(_ bytes: [UInt8]) -> String {
        "\"" + String(decoding: bytes, as: UTF8.self) + "\""
    }
}

extension Directive {
    /// The names of a list's `values`, split at commas, spaces and tabs:
    /// each as the range of its bytes in its value.
    static func names(in value: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var names: [Range<Int>] = []
        var start: Int? = nil
        for (at, byte) in value.enumerated() {
            let separator = byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ")
                || byte == UInt8(ascii: "\t")
            if separator, let from = start {
                names.append(from..<at)
                start = nil
            } else if !separator && start == nil {
                start = at
            }
        }
        if let from = start { names.append(from..<value.count) }
        return names
    }
}

// A location directive read into the location's raw settings
// (s3p_settings_directive()): what nginx's slot setters did for each (a
// second one at the same level "is duplicate", flags, times, bitmasks),
// the core's checks (Directive.problem()), and lists split at commas,
// spaces and tabs into memory from C's allocator.

internal import CShim

extension Directive {
    /// What reading one directive came to.
    enum Reading {
        /// read; `decidesWhere`: it decides which hosts requests go to;
        /// `warning`: what nginx -t warns about
        case read(decidesWhere: Bool, warning: String?)
        /// refused with the whole message
        case refused(String)
        case noMemory
    }

    /// Memory for `count` strings, from C's allocator.
    typealias Allocate = (Int) -> UnsafeMutablePointer<s3p_str_t>?

    private enum Setting {
        case expires, window, buckets, params, ignoreParams, proxyTypes
        case streamAgents, listing, website, types, index, endpoint
        case externalEndpoint, region, download, credentials, addressing
        case passHeaders, errorDocument, bucket, prefix
    }

    private static let settings: [(StaticString, Setting)] = [
        ("s3_proxy_expires", .expires), ("s3_proxy_presign_window", .window),
        ("s3_proxy_buckets", .buckets), ("s3_proxy_allow_params", .params),
        ("s3_proxy_ignore_params", .ignoreParams),
        ("s3_proxy_proxy_types", .proxyTypes),
        ("s3_proxy_stream_agents", .streamAgents), ("s3_proxy_listing", .listing),
        ("s3_proxy_website", .website), ("s3_proxy_types", .types),
        ("s3_proxy_index", .index), ("s3_proxy_endpoint", .endpoint),
        ("s3_proxy_external_endpoint", .externalEndpoint),
        ("s3_proxy_region", .region), ("s3_proxy_download_param", .download),
        ("s3_proxy_credentials", .credentials),
        ("s3_proxy_addressing", .addressing),
        ("s3_proxy_pass_headers", .passHeaders),
        ("s3_proxy_error_document", .errorDocument),
        ("s3_proxy_bucket", .bucket), ("s3_proxy_prefix", .prefix),
    ]

    /// s3_proxy_pass_headers' words and bits; "off" has a bit of its own,
    /// so that "off" alone is a value configured, which hides them all.
    private static let passHeaders: [(StaticString, UInt32)] = [
        ("off", 0x0100), ("request-id", UInt32(S3P_PASS_REQUEST_ID)),
        ("sse", UInt32(S3P_PASS_SSE)),
    ]

    /// Reads `args`, the directive's name and values as nginx read them,
    /// into `raw`, which keeps slices of them; s3_proxy_bucket and
    /// s3_proxy_prefix, which C keeps, are checked only.
    static func read(
        _ args: [s3p_str_t], into raw: inout s3p_settings_t, allocate: Allocate
    ) -> Reading {
        let name = args.first?.bytes ?? []
        let values = Array(args.dropFirst())
        let written = values.map { $0.bytes }
        let first = written.first ?? []
        let quotedName = quoted(name)
        let duplicate = Reading.refused(quotedName + " directive is duplicate")
        let done = Reading.read(decidesWhere: false, warning: nil)
        let decides = Reading.read(decidesWhere: true, warning: nil)
        var kinds = [Int32](repeating: 0, count: max(values.count, 2))

        guard let setting = settings.first(where: { entry in
            entry.0.withUTF8Buffer { $0.elementsEqual(name) }
        })?.1
        else {
            return .refused(quotedName + " is not a directive the core checks")
        }

        /// The core's verdict on `checked`.
        func check(_ checked: [[UInt8]], seconds: Int64 = 0) -> Reading? {
            problem(name: name, values: checked, seconds: seconds, kinds: &kinds)
                .map { Reading.refused($0) }
        }

        switch setting {
        case .expires, .window:
            let off = Array("off".utf8)
            if setting == .window && raw.window == Int64(S3P_UNSET) && first == off {
                raw.window = 0
                return done
            }
            let field = setting == .window ? raw.window : raw.expires
            guard field == Int64(S3P_UNSET) else { return duplicate }
            guard let seconds = NginxTime.seconds(first) else {
                return .refused(quotedName + " directive invalid value")
            }
            if setting == .window { raw.window = seconds } else { raw.expires = seconds }
            return check(written, seconds: seconds) ?? done

        case .index, .endpoint, .externalEndpoint, .region, .download:
            // as ngx_conf_set_str_slot(): set once, even to ""
            let value = values.first ?? s3p_str_t()
            func take(_ field: inout s3p_str_t) -> Bool {
                guard field.data == nil else { return false }
                field = value
                return true
            }
            let taken: Bool
            switch setting {
            case .index: taken = take(&raw.index)
            case .endpoint: taken = take(&raw.endpoint)
            case .externalEndpoint: taken = take(&raw.external_endpoint)
            case .region: taken = take(&raw.region)
            default: taken = take(&raw.download)
            }
            guard taken else { return duplicate }
            let whereTo = setting != .index && setting != .download
            return check(written) ?? (whereTo ? decides : done)

        case .buckets, .params, .ignoreParams, .proxyTypes:
            let set: UnsafePointer<s3p_str_t>?
            switch setting {
            case .buckets: set = raw.buckets
            case .params: set = raw.params
            case .ignoreParams: set = raw.ignore_params
            default: set = raw.proxy_types
            }
            guard set == nil else { return duplicate }
            let names = split(values)
            if let refused = check(names.map { $0.bytes }) { return refused }
            guard let list = store(names, allocate) else { return .noMemory }
            switch setting {
            case .buckets: (raw.buckets, raw.nbuckets) = (list, names.count)
            case .params: (raw.params, raw.nparams) = (list, names.count)
            case .ignoreParams:
                (raw.ignore_params, raw.nignore_params) = (list, names.count)
            default: (raw.proxy_types, raw.nproxy_types) = (list, names.count)
            }
            return setting == .buckets ? decides : done

        case .streamAgents:
            guard raw.stream == S3P_UNSET else { return duplicate }
            if let refused = check(written) { return refused }
            if kinds[0] == streamNobody {
                raw.stream = Int32(S3P_STREAM_OFF.rawValue)
                return done
            }
            // User-Agent substrings, and clients named by what they send
            var agents: [s3p_str_t] = []
            var match: UInt32 = 0
            for (i, value) in values.enumerated() {
                if kinds[i] == 0 { agents.append(value) } else { match |= UInt32(kinds[i]) }
            }
            guard let list = store(agents, allocate) else { return .noMemory }
            raw.stream = Int32(S3P_STREAM_LIST.rawValue)
            raw.stream_agents = list
            raw.nstream_agents = agents.count
            raw.stream_match = match
            return done

        case .listing, .website, .types:
            let field = setting == .listing ? raw.listing
                : setting == .website ? raw.website : raw.types
            guard field == S3P_UNSET else { return duplicate }
            let on: Int32
            if ASCII.lowercased(first) == Array("on".utf8) {
                on = 1
            } else if ASCII.lowercased(first) == Array("off".utf8) {
                on = 0
            } else {
                return .refused("invalid value " + quoted(first) + " in " + quotedName
                                + " directive, it must be \"on\" or \"off\"")
            }
            switch setting {
            case .listing: raw.listing = on
            case .website: raw.website = on
            default: raw.types = on
            }
            return done

        case .credentials:
            guard values.count <= 1 + Int(S3P_ROLE_PARAMS) else {
                return .refused(quotedName + " directive has too many parameters")
            }
            if let refused = check(written) { return refused }
            // the role's parameters: each value after its '='
            for i in values.indices.dropFirst() {
                setRole(&raw.role, Int(kinds[i]) - 1, afterEquals(values[i]))
            }
            guard raw.credentials == S3P_CREDENTIALS_UNSET else { return duplicate }
            raw.credentials = s3p_credentials_source_t(rawValue: .init(kinds[0]))
            if raw.credentials == S3P_CREDENTIALS_PROFILE {
                // profile=NAME: the profile's region decides the endpoint
                raw.profile = afterEquals(values[0])
            }
            return decides

        case .addressing:
            guard raw.addressing == S3P_ADDRESSING_UNSET else { return duplicate }
            if let refused = check(written) { return refused }
            raw.addressing = s3p_addressing_t(rawValue: .init(kinds[0]))
            return decides

        case .passHeaders:
            // as ngx_conf_set_bitmask_slot(): any case; a value given twice
            // is a warning; another directive at the same level adds to the
            // first
            var warning: String? = nil
            for value in written {
                guard let bit = passHeaders.first(where: { entry in
                    entry.0.withUTF8Buffer { ASCII.lowercased(value).elementsEqual($0) }
                })?.1
                else {
                    return .refused("invalid value " + quoted(value))
                }
                if raw.pass_headers & bit != 0 {
                    warning = warning ?? "duplicate value " + quoted(value)
                }
                raw.pass_headers |= bit
            }
            return .read(decidesWhere: false, warning: warning)

        case .errorDocument:
            guard raw.error_status == S3P_UNSET else { return duplicate }
            if let refused = check(written) { return refused }
            raw.error_document = values.first ?? s3p_str_t()
            raw.error_status = kinds[1]
            return done

        case .bucket, .prefix:
            return check(written) ?? decides
        }
    }

    /// The names of a list directive's values (or of S3_PROXY_BUCKETS),
    /// each a slice of its value.
    static func split(_ values: [s3p_str_t]) -> [s3p_str_t] {
        var names: [s3p_str_t] = []
        for value in values {
            guard let data = value.data else { continue }
            for range in Directive.names(in: Bytes.view(value)) {
                names.append(s3p_str_t(len: range.count, data: data + range.lowerBound))
            }
        }
        return names
    }

    /// `list` copied into memory from `allocate`: never NULL for a list
    /// configured, even an empty one; nil when there is none.
    static func store(
        _ list: [s3p_str_t], _ allocate: Allocate
    ) -> UnsafePointer<s3p_str_t>? {
        guard let memory = allocate(max(list.count, 1)) else { return nil }
        memory.initialize(from: list, count: list.count)
        return UnsafePointer(memory)
    }

    /// What follows the first '=' of `value` (checked to hold one).
    private static func afterEquals(_ value: s3p_str_t) -> s3p_str_t {
        let bytes = Bytes.view(value)
        guard let data = value.data,
              let equals = bytes.firstIndex(of: UInt8(ascii: "="))
        else { return s3p_str_t() }
        return s3p_str_t(len: value.len - equals - 1, data: data + equals + 1)
    }

    private typealias Role = (s3p_str_t, s3p_str_t, s3p_str_t, s3p_str_t)

    private static func setRole(_ role: inout Role, _ index: Int, _ value: s3p_str_t) {
        switch index {
        case 0: role.0 = value
        case 1: role.1 = value
        case 2: role.2 = value
        case 3: role.3 = value
        default: break
        }
    }
}

// A location as nginx merges it (s3p_location()): whether the shipped
// snippet is exactly where "s3_proxy on" is, and the location's mount.

internal import CShim

/// What nginx knows of a location when it merges it: S3P_LOCATION_* flags
/// and its name.
struct Location {
    let flags: UInt32
    let name: UnsafeBufferPointer<UInt8>

    private func has(_ flag: Int32) -> Bool { flags & UInt32(flag) != 0 }

    /// An "if" or "limit_except" block: it has its location's snippet and
    /// mount.
    var isBlock: Bool { has(S3P_LOCATION_IF) || has(S3P_LOCATION_LIMIT_EXCEPT) }

    /// The mount of a location whose outer one has `outer`: a prefix
    /// location's prefix; none for a regex, exact or named one, whose
    /// requests name the whole path; a block's location's.
    func mount(outer: s3p_str_t) -> s3p_str_t {
        if isBlock { return outer }
        if has(S3P_LOCATION_WHOLE_PATH) { return s3p_str_t() }
        return s3p_str_t(len: name.count, data: name.baseAddress)
    }

    /// Why the snippet is not exactly where "s3_proxy on" is, or nil, as
    /// nginx -t shows it (C adds where): without the snippet's proxy_pass,
    /// with another content handler in its place, or with the snippet where
    /// requests are not signed, they would go to S3 unsigned.
    var snippetProblem: String? {
        let inherited = isBlock && !has(S3P_LOCATION_SNIPPET)
        let snippet = has(S3P_LOCATION_SNIPPET) || (isBlock && has(S3P_LOCATION_OUTER_SNIPPET))
        let handler = has(S3P_LOCATION_HANDLER)
        return Location.snippetProblem(
            enable: has(S3P_LOCATION_ON), snippet: snippet, inherited: inherited,
            handler: handler, limitExcept: has(S3P_LOCATION_LIMIT_EXCEPT)
        ).map { "\"s3_proxy\" in location \"" + String(decoding: name, as: UTF8.self) + "\" " + $0 }
    }

    static func snippetProblem(
        enable: Bool, snippet: Bool, inherited: Bool, handler: Bool, limitExcept: Bool
    ) -> String? {
        if !enable {
            return snippet && !inherited
                ? "includes s3_proxy.conf without \"s3_proxy on\", so its requests "
                    + "would go unsigned,"
                : nil
        }
        if !snippet {
            return handler
                ? "has a content handler of its own (a proxy_pass?), which would get "
                    + "the requests unsigned: use \"include s3_proxy.conf;\" instead "
                    + "(an s3_proxy.conf without \"s3_proxy_snippet;\" is older than "
                    + "the module: install the new one)"
                : "needs proxy_pass: add \"include s3_proxy.conf;\" to it"
        }
        if inherited && handler && limitExcept {
            // nginx gives the block the location's proxy_pass, or its own:
            // nothing public tells them apart.
            return "has a \"limit_except\" block, whose content handler may be a "
                + "proxy_pass of its own: remove it (methods but GET and HEAD get 405; "
                + "allow, deny and auth_basic restrict the rest),"
        }
        return inherited && handler
            ? "has an \"if\" block with a content handler of its own (a "
                + "proxy_pass?), which would get the requests unsigned,"
            : nil
    }
}

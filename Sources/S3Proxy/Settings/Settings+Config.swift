// What a location's merged raw settings decide of its answers, with each
// default applied (s3p_config_settings()): the signing is resolved apart
// (s3p_signing_resolve()), and C sets what needs nginx.

internal import CShim

extension s3p_config_t {
    /// Takes `raw`'s allowlists, streaming, index page, listings and
    /// website settings; false when `allocate` has no memory for
    /// S3_PROXY_BUCKETS's names.
    mutating func take(_ raw: s3p_settings_t, allocate: Directive.Allocate) -> Bool {
        if raw.buckets != nil {
            (buckets, nbuckets) = (raw.buckets, raw.nbuckets)
        } else if let env = raw.env, env.pointee.buckets.len > 0 {
            // the default allowlist, as `make run` passes it
            let names = Directive.split([env.pointee.buckets])
            guard let list = Directive.store(names, allocate) else { return false }
            (buckets, nbuckets) = (list, names.count)
        }
        (params, nparams) = (raw.params, raw.nparams)
        (ignore_params, nignore_params) = (raw.ignore_params, raw.nignore_params)
        (proxy_types, nproxy_types) = (raw.proxy_types, raw.nproxy_types)

        switch raw.stream {
        case Int32(S3P_STREAM_OFF.rawValue):
            stream = S3P_STREAM_OFF
        case Int32(S3P_STREAM_LIST.rawValue):
            stream = S3P_STREAM_LIST
            (stream_agents, nstream_agents) = (raw.stream_agents, raw.nstream_agents)
            stream_match = raw.stream_match
        default:
            stream = S3P_STREAM_DEFAULT
        }

        index = raw.index
        listings = raw.listing == 1 ? 1 : 0
        website = raw.website == 1 ? 1 : 0
        types = raw.types == 1 ? 1 : 0
        download = raw.download
        error_document = raw.error_document
        error_status = max(raw.error_status, 0)
        return true
    }
}

// A location's raw settings before its block (s3p_settings_init()),
// inherited from the level above it as nginx inherits a directive's value
// (s3p_settings_merge()), and compared, so that locations that sign alike
// share one resolved s3p_signing_t (s3_proxy_core.h).

internal import CShim

extension s3p_settings_t {
    /// Nothing configured.
    static var unset: s3p_settings_t {
        var raw = s3p_settings_t()
        raw.credentials = S3P_CREDENTIALS_UNSET
        raw.addressing = S3P_ADDRESSING_UNSET
        raw.expires = Int64(S3P_UNSET)
        raw.window = Int64(S3P_UNSET)
        raw.stream = S3P_UNSET
        raw.listing = S3P_UNSET
        raw.website = S3P_UNSET
        raw.types = S3P_UNSET
        raw.error_status = S3P_UNSET
        return raw
    }

    /// Each setting not configured here (NULL data, *_UNSET, no bits)
    /// taken from `outer`; the profile name and role go with
    /// s3_proxy_credentials, the agents with s3_proxy_stream_agents, the
    /// key with its status.
    mutating func inherit(_ outer: s3p_settings_t) {
        if endpoint.data == nil { endpoint = outer.endpoint }
        if external_endpoint.data == nil { external_endpoint = outer.external_endpoint }
        if region.data == nil { region = outer.region }
        if credentials == S3P_CREDENTIALS_UNSET {
            credentials = outer.credentials
            profile = outer.profile
            role = outer.role
        }
        if addressing == S3P_ADDRESSING_UNSET { addressing = outer.addressing }
        if expires == Int64(S3P_UNSET) { expires = outer.expires }
        if window == Int64(S3P_UNSET) { window = outer.window }

        if buckets == nil { (buckets, nbuckets) = (outer.buckets, outer.nbuckets) }
        if params == nil { (params, nparams) = (outer.params, outer.nparams) }
        if ignore_params == nil {
            (ignore_params, nignore_params) = (outer.ignore_params, outer.nignore_params)
        }
        if proxy_types == nil {
            (proxy_types, nproxy_types) = (outer.proxy_types, outer.nproxy_types)
        }
        if stream == S3P_UNSET {
            stream = outer.stream
            stream_match = outer.stream_match
            (stream_agents, nstream_agents) = (outer.stream_agents, outer.nstream_agents)
        }
        if listing == S3P_UNSET { listing = outer.listing }
        if index.data == nil { index = outer.index }
        if pass_headers == 0 { pass_headers = outer.pass_headers }
        if website == S3P_UNSET { website = outer.website }
        if types == S3P_UNSET { types = outer.types }
        if download.data == nil { download = outer.download }
        if error_status == S3P_UNSET {
            error_document = outer.error_document
            error_status = outer.error_status
        }
    }

    /// Whether `other` signs alike: every raw signing value equal (a
    /// window off, configured or not, is one), `env` aside.
    func same(as other: s3p_settings_t) -> Bool {
        Bytes.view(endpoint).elementsEqual(Bytes.view(other.endpoint))
            && Bytes.view(external_endpoint).elementsEqual(Bytes.view(other.external_endpoint))
            && Bytes.view(region).elementsEqual(Bytes.view(other.region))
            && Bytes.view(profile).elementsEqual(Bytes.view(other.profile))
            && Bytes.view(role.0).elementsEqual(Bytes.view(other.role.0))
            && Bytes.view(role.1).elementsEqual(Bytes.view(other.role.1))
            && Bytes.view(role.2).elementsEqual(Bytes.view(other.role.2))
            && Bytes.view(role.3).elementsEqual(Bytes.view(other.role.3))
            && credentials == other.credentials && addressing == other.addressing
            && expires == other.expires && max(window, 0) == max(other.window, 0)
    }
}

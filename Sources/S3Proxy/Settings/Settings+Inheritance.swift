// A location's raw settings inherited from the level above it, as nginx
// inherits a directive's value, and compared, so that locations that sign
// alike share one resolved s3p_signing_t (s3_proxy_core.h).

internal import CShim

extension s3p_settings_t {
    /// Each setting not configured here (empty data, *_UNSET) taken from
    /// `outer`; the profile name goes with s3_proxy_credentials.
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
    }

    /// Whether `other` resolves alike: every raw value equal, `env` aside.
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
            && expires == other.expires && window == other.window
    }
}

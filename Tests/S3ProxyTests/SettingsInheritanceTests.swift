// s3p_settings_merge() and s3p_settings_same(): a location's raw settings
// inherited as nginx inherits a directive's value (a value configured at
// a level replaces the outer one; the profile name goes with
// s3_proxy_credentials), and compared to share one resolved signing.
//
// Source of the rules: nginx's ngx_conf_merge_*_value() macros
// (src/core/ngx_conf_file.h) and s3_proxy_core.h.

import CShim
import Testing
@testable import S3Proxy

@Suite struct SettingsInheritanceTests {

    /// Raw settings with nothing configured, as a location's start.
    static func unset() -> s3p_settings_t {
        var raw = s3p_settings_t()
        raw.credentials = S3P_CREDENTIALS_UNSET
        raw.addressing = S3P_ADDRESSING_UNSET
        raw.expires = Int64(S3P_UNSET)
        raw.window = Int64(S3P_UNSET)
        return raw
    }

    static let outerEndpoint = Array("http://outer:9000".utf8)
    static let innerRegion = Array("eu-west-1".utf8)
    static let outerProfile = Array("outer".utf8)

    @Test func unsetValuesComeFromOutside() {
        Self.outerEndpoint.withUnsafeBufferPointer { endpoint in
            Self.outerProfile.withUnsafeBufferPointer { profile in
                Self.innerRegion.withUnsafeBufferPointer { region in
                    var outer = Self.unset()
                    outer.endpoint = s3p_str_t(len: endpoint.count, data: endpoint.baseAddress)
                    outer.credentials = S3P_CREDENTIALS_PROFILE
                    outer.profile = s3p_str_t(len: profile.count, data: profile.baseAddress)
                    outer.addressing = S3P_ADDRESSING_VIRTUAL
                    outer.expires = 60

                    var inner = Self.unset()
                    inner.region = s3p_str_t(len: region.count, data: region.baseAddress)
                    inner.credentials = S3P_CREDENTIALS_ENV
                    inner.window = 0

                    s3p_settings_merge(&inner, &outer)

                    #expect(Bytes.view(inner.endpoint).elementsEqual(Self.outerEndpoint))
                    #expect(Bytes.view(inner.region).elementsEqual(Self.innerRegion))
                    // the inner credentials keep no outer profile name
                    #expect(inner.credentials == S3P_CREDENTIALS_ENV)
                    #expect(inner.profile.len == 0)
                    #expect(inner.addressing == S3P_ADDRESSING_VIRTUAL)
                    #expect(inner.expires == 60)
                    // "off" configured inside stays off
                    #expect(inner.window == 0)

                    var bare = Self.unset()
                    s3p_settings_merge(&bare, &outer)
                    #expect(Bytes.view(bare.profile).elementsEqual(Self.outerProfile))
                    #expect(s3p_settings_same(&bare, &outer) == 1)
                    #expect(s3p_settings_same(&inner, &outer) == 0)
                }
            }
        }
    }

    @Test func sameComparesBytesNotPointers() {
        let a = Array("eu-west-1".utf8)
        let b = Array("eu-west-1".utf8)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                var x = Self.unset()
                var y = Self.unset()
                x.region = s3p_str_t(len: pa.count, data: pa.baseAddress)
                y.region = s3p_str_t(len: pb.count, data: pb.baseAddress)
                #expect(s3p_settings_same(&x, &y) == 1)
                y.expires = 300
                #expect(s3p_settings_same(&x, &y) == 0)
            }
        }
    }
}

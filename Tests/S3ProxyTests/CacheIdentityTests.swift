// CacheIdentity.tag: what the cache key says about whose credentials
// signed (issue 22): the source and what names it, never a secret; a
// role assumed with a source's keys is an identity of its own.

import CShim
import Testing
@testable import S3Proxy

@Suite struct CacheIdentityTests {

    static func tag(_ m: CMemory, role: [String] = []) -> String {
        var raw = s3p_settings_t()
        raw.credentials = S3P_CREDENTIALS_IMDS
        let params = role + [String](repeating: "", count: 4 - role.count)
        raw.role = (m.str(params[0]), m.str(params[1]), m.str(params[2]),
                    m.str(params[3]))
        return String(decoding: CacheIdentity.tag(raw, region: Array("eu-west-1".utf8)),
                      as: UTF8.self)
    }

    @Test func twoRolesFromOneSourceNeverShare() {
        let m = CMemory()
        let a = "arn:aws:iam::123456789012:role/reader-a"
        let b = "arn:aws:iam::123456789012:role/reader-b"
        let base = Self.tag(m)
        let roleA = Self.tag(m, role: [a])
        #expect(base.hasPrefix("eu-west-1 imds:"))
        #expect(roleA.hasPrefix("eu-west-1 imds+role:"))
        #expect(Set([base, roleA, Self.tag(m, role: [b]),
                     Self.tag(m, role: [a, "other-external-id"])]).count == 4)
        // the same role, asked again: the same identity (it outlives rotation)
        #expect(Self.tag(m, role: [a]) == roleA)
        #expect(!roleA.contains("reader"))
    }
}

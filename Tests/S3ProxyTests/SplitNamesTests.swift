// s3p_split_names(): a list directive's values (s3_proxy_buckets,
// s3_proxy_allow_params, s3_proxy_ignore_params) and S3_PROXY_BUCKETS
// split at commas, spaces and tabs, as the README's directive reference
// says ("space- or comma-separated").

import CShim
import Testing
@testable import S3Proxy

@Suite struct SplitNamesTests {

    static let cases: [([String], [String])] = [
        (["a"], ["a"]),
        (["a,b c\td"], ["a", "b", "c", "d"]),
        ([",, a ,b,,", "c"], ["a", "b", "c"]),
        ([", \t,"], []),
        ([""], []),
        (["one", "two,three"], ["one", "two", "three"]),
    ]

    @Test(arguments: cases)
    func splits(_ values: [String], _ expected: [String]) {
        let storage = values.map { Array($0.utf8) }
        let pointers = storage.map { bytes -> UnsafeMutablePointer<UInt8> in
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            p.initialize(from: bytes, count: bytes.count)
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        let strs = zip(storage, pointers).map {
            s3p_str_t(len: $0.0.count, data: UnsafePointer($0.1))
        }
        let count = s3p_split_names(strs, strs.count, nil, 0)
        #expect(count == expected.count)
        var out = [s3p_str_t](repeating: s3p_str_t(), count: count)
        #expect(s3p_split_names(strs, strs.count, &out, count) == count)
        #expect(out.map { String(decoding: $0.bytes, as: UTF8.self) } == expected)
        // too little room: as many as fit, and the whole count
        if count > 1 {
            var one = [s3p_str_t()]
            #expect(s3p_split_names(strs, strs.count, &one, 1) == count)
            #expect(String(decoding: one[0].bytes, as: UTF8.self) == expected[0])
        }
    }
}

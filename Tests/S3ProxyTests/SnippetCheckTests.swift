// s3p_location(): the shipped snippet exactly where "s3_proxy on" is, and
// no content handler besides its proxy_pass, or requests would reach S3
// unsigned; and the location's mount.  The integration side:
// Tests/integration/test_snippet.py, test_mounts.py.

import CShim
import Testing
@testable import S3Proxy

private let on: Int32 = S3P_LOCATION_ON
private let snippet: Int32 = S3P_LOCATION_SNIPPET
private let outer: Int32 = S3P_LOCATION_OUTER_SNIPPET
private let handler: Int32 = S3P_LOCATION_HANDLER
private let inIf: Int32 = S3P_LOCATION_IF
private let inLimitExcept: Int32 = S3P_LOCATION_LIMIT_EXCEPT
private let wholePath: Int32 = S3P_LOCATION_WHOLE_PATH

@Suite struct SnippetCheckTests {
    /// s3p_location() for `flags` in a location named "/docs/" whose outer
    /// location's mount is "/": its verdict, message and mount.
    static func location(_ flags: Int32) -> (Int32, String, String) {
        var message = [UInt8](repeating: 0, count: 1024)
        let (name, outerMount) = (Array("/docs/".utf8), Array("/".utf8))
        return name.withUnsafeBufferPointer { n in
            outerMount.withUnsafeBufferPointer { o in
                var location = s3p_str_t(len: n.count, data: n.baseAddress)
                var mount = s3p_str_t(len: o.count, data: o.baseAddress)
                let status = s3p_location(UInt32(flags), &location, &mount, &message,
                                          message.count)
                return (status, String(decoding: message.prefix { $0 != 0 }, as: UTF8.self),
                        String(decoding: mount.bytes, as: UTF8.self))
            }
        }
    }

    // S3P_LOCATION_* flags: nil where nginx -t passes, else a word of the
    // message
    @Test(arguments: [
        ([], nil),
        ([handler], nil),                               // a plain proxy_pass
        ([outer, handler, inIf], nil),                  // "if" in an off location
        ([snippet, handler], "without \"s3_proxy on\""),
        ([on, snippet, handler], nil),                  // the snippet's proxy_pass
        ([on, outer, inIf], nil),                       // an "if" block inherits it
        ([on, outer, inLimitExcept], nil),
        ([on, snippet, handler, inIf], nil),            // the snippet in the "if"
        ([on, outer, handler, inIf], "\"if\" block"),
        ([on, outer, handler, inLimitExcept], "\"limit_except\" block"),
        ([on, outer], "needs proxy_pass"),              // a nested location
        ([on], "needs proxy_pass"),
        ([on, handler], "content handler of its own"),
    ] as [([Int32], String?)])
    func snippetCheck(_ flags: [Int32], _ expected: String?) {
        let (status, message, _) = Self.location(flags.reduce(0, |))
        if let expected {
            #expect(status == S3P_E_CONFIG)
            #expect(message.hasPrefix("\"s3_proxy\" in location \"/docs/\" "))
            #expect(message.contains(expected))
        } else {
            #expect(status == S3P_OK)
        }
    }

    // a prefix location's prefix; none for regex, exact and named ones;
    // a block's location's
    @Test(arguments: [
        ([on, snippet, handler], "/docs/"),
        ([on, snippet, handler, wholePath], ""),
        ([on, outer, inIf], "/"),
        ([on, outer, inLimitExcept], "/"),
        ([], "/docs/"),
    ] as [([Int32], String)])
    func mountChoice(_ flags: [Int32], _ expected: String) {
        #expect(Self.location(flags.reduce(0, |)).2 == expected)
    }
}

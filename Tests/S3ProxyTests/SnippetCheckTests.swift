// s3p_check_snippet(): the shipped snippet exactly where "s3_proxy on" is,
// and no content handler besides its proxy_pass, or requests would reach S3
// unsigned.  The integration side: Tests/integration/test_snippet.py.

import CShim
import Testing
@testable import S3Proxy

@Suite struct SnippetCheckTests {
    // (enable, snippet, inherited, handler): nil where nginx -t passes,
    // else a word of the message
    @Test(arguments: [
        (false, false, false, false, nil),
        (false, false, false, true, nil),           // an ordinary proxy_pass
        (false, true, true, true, nil),             // "if" in an off location
        (false, true, false, true, "without \"s3_proxy on\""),
        (true, true, false, true, nil),             // the snippet's proxy_pass
        (true, true, true, false, nil),             // an "if" block inherits it
        (true, true, true, true, "\"if\" block"),
        (true, true, true, true, "\"limit_except\" block"),
        (true, false, false, false, "needs proxy_pass"),
        (true, false, false, true, "content handler of its own"),
    ] as [(Bool, Bool, Bool, Bool, String?)])
    func snippet(_ enable: Bool, _ snippet: Bool, _ inherited: Bool, _ handler: Bool,
                 _ expected: String?)
    {
        var message = [UInt8](repeating: 0, count: Int(S3P_MESSAGE_MAX))
        // an "if" block's (1), or a "limit_except" block's (2)
        let block: Int32 = expected?.contains("limit_except") == true ? 2 : 1
        let status = s3p_check_snippet(enable ? 1 : 0, snippet ? 1 : 0,
                                       inherited ? block : 0,
                                       handler ? 1 : 0, &message, message.count)
        if let expected {
            #expect(status == S3P_E_CONFIG)
            #expect(String(decoding: message.prefix { $0 != 0 }, as: UTF8.self)
                        .contains(expected))
        } else {
            #expect(status == S3P_OK)
        }
    }
}

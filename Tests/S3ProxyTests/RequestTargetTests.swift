// Where a request's path and query come from (s3p_request_t's `target`
// and `decoded`).
//
// Source of the expectations: nginx's ngx_escape_uri() with NGX_ESCAPE_URI
// escapes what RFC 3986 does not allow in a URI, "%" and the delimiters
// "#" and "?" (its comment: %00-%1F, %7F-%FF, " ", """, "<", ">", "\",
// "^", "`", "{", "|", "}", and " ", "#", "%", "?"), as "%XX" in uppercase
// hex; an HTTP request target's query begins after its first "?".

import CShim
import Testing
@testable import S3Proxy

@Suite struct RequestTargetTests {

    /// Whether nginx escapes `byte`, from its comment's list.
    static func escaped(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte >= 0x7F || Array(" \"#%<>?\\^`{|}".utf8).contains(byte)
    }

    static func reference(_ path: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in path {
            if escaped(byte) {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            } else {
                out.append(byte)
            }
        }
        return text(out)
    }

    @Test func everyByteAsNginxEscapesIt() {
        for value in 0...255 {
            let byte = UInt8(value)
            #expect(NginxEscape.escapes(byte) == Self.escaped(byte), "byte \(value)")
        }
    }

    @Test func aDecodedPathIsEscapedBack() {
        let memory = CMemory()
        let path = (0...255).map { UInt8($0) }
        var req = s3p_request_t()
        req.path = memory.str(path)
        req.query = memory.str("a=%20")
        req.decoded = 1
        let room = RequestTarget.room(req)
        #expect(room == Self.reference(path).utf8.count)
        let out = memory.buffer(room)
        let target = RequestTarget(req, out: out)
        #expect(text(target.path) == Self.reference(path))
        #expect(text(target.query) == "a=%20")
        #expect(RequestTarget.lengths(req) == (room, 5))
    }

    @Test func aTargetSplitsAtItsFirstQuestionMark() {
        let memory = CMemory()
        let out = memory.buffer(1)
        for (raw, path, query) in [("/b/a?x=1?y", "/b/a", "x=1?y"), ("/b/a", "/b/a", ""),
                                   ("/b/a?", "/b/a", ""), ("?x", "", "x"),
                                   ("/b/%3F?q", "/b/%3F", "q")]
        {
            var req = s3p_request_t()
            req.target = memory.str(raw)
            // a target wins over a path, decoded or not
            req.path = memory.str("/other")
            req.decoded = 1
            let target = RequestTarget(req, out: out)
            #expect(text(target.path) == path)
            #expect(text(target.query) == query)
            #expect(RequestTarget.room(req) == 0)
            #expect(RequestTarget.lengths(req) == (path.utf8.count, query.utf8.count))
        }
    }

    // The three forms C passes give one answer: the request line's raw
    // target, $uri after an internal redirect, and a path and query.
    @Test func theFormsAnswerAlike() {
        let memory = CMemory()
        var conf = CAPITests.config(memory)
        let given = CAPITests.request(memory, "GET", "/bkt/dir/a%20b%25.txt")
        var raw = CAPITests.request(memory, "GET", "")
        raw.target = memory.str("/bkt/dir/a%20b%25.txt")
        var decoded = CAPITests.request(memory, "GET", "/bkt/dir/a b%.txt")
        decoded.decoded = 1
        let expected = CAPITests.handle(&conf, given)
        #expect(expected.action == S3P_ACTION_REDIRECT)
        #expect(expected.key == "dir/a b%.txt")
        for req in [raw, decoded] {
            let outcome = CAPITests.handle(&conf, req)
            #expect(outcome.status == S3P_OK)
            #expect(outcome.key == expected.key)
            #expect(outcome.url == expected.url)
        }
    }

    // s3p_output_bound() counts the escaped path: a path of bytes nginx
    // escapes all fits, and a buffer without room for it does not.
    @Test func theBoundHasRoomForTheEscapedPath() {
        let memory = CMemory()
        var conf = CAPITests.config(memory)
        var req = CAPITests.request(memory, "GET", "/bkt/"
            + String(repeating: "{", count: 300))
        req.decoded = 1
        let bound = s3p_output_bound(&conf, &req)
        let outcome = CAPITests.handle(&conf, req, cap: bound)
        #expect(outcome.status == S3P_OK)
        #expect(outcome.action == S3P_ACTION_REDIRECT)
        #expect(outcome.url.contains("/bkt/" + String(repeating: "%7B", count: 300) + "?"))
        let room = "/bkt/".utf8.count + 3 * 300
        #expect(CAPITests.handle(&conf, req, cap: room - 1).status == S3P_E_SPACE)
    }
}

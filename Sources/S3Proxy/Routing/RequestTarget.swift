// Where a request's path and query come from (s3p_request_t): the raw
// target split at its first '?', nginx's decoded URI escaped back into a
// path, or the path and query as C gave them.

internal import CShim

struct RequestTarget {
    let path: UnsafeBufferPointer<UInt8>
    let query: UnsafeBufferPointer<UInt8>

    /// `req`'s path and query; an escaped path is written at `out`, which
    /// has room(`req`) bytes for it.
    init(_ req: s3p_request_t, out: UnsafeMutablePointer<UInt8>) {
        let target = Bytes.view(req.target)
        if !target.isEmpty {
            let end = RequestTarget.pathEnd(target)
            path = UnsafeBufferPointer(rebasing: target[..<end])
            query = UnsafeBufferPointer(rebasing: target[min(end + 1, target.count)...])
            return
        }
        query = Bytes.view(req.query)
        guard req.decoded != 0 else {
            path = Bytes.view(req.path)
            return
        }
        var count = 0
        for byte in Bytes.view(req.path) {
            if NginxEscape.escapes(byte) {
                out[count] = UInt8(ascii: "%")
                out[count + 1] = Hex.upper(byte >> 4)
                out[count + 2] = Hex.upper(byte & 0x0f)
                count += 3
            } else {
                out[count] = byte
                count += 1
            }
        }
        path = UnsafeBufferPointer(start: out, count: count)
    }

    /// The bytes of the output buffer an escaped path takes first.
    static func room(_ req: s3p_request_t) -> Int {
        guard req.target.len == 0 && req.decoded != 0 else { return 0 }
        var count = 0
        for byte in Bytes.view(req.path) {
            count += NginxEscape.escapes(byte) ? 3 : 1
        }
        return count
    }

    /// The lengths of `req`'s path and query.
    static func lengths(_ req: s3p_request_t) -> (path: Int, query: Int) {
        let target = Bytes.view(req.target)
        if !target.isEmpty {
            let end = pathEnd(target)
            return (end, max(target.count - end - 1, 0))
        }
        return (req.decoded != 0 ? room(req) : req.path.len, req.query.len)
    }

    /// Where a target's path ends: at its first '?', else at its end.
    private static func pathEnd(_ target: UnsafeBufferPointer<UInt8>) -> Int {
        target.firstIndex(of: UInt8(ascii: "?")) ?? target.count
    }
}

/// ngx_escape_uri() with NGX_ESCAPE_URI, as nginx escapes $uri back into a
/// request line (ngx_http_proxy_module): nginx's table, bit for bit.
enum NginxEscape {
    /// Whether `byte` is written as `%XX`: the controls, " ", `"`, "#",
    /// "%", "<", ">", "?", "\", "^", "`", "{", "|", "}", DEL and every byte
    /// from 0x80 on.
    @inline(__always)
    static func escapes(_ byte: UInt8) -> Bool {
        // one word of 32 bits for each 32 byte values, as nginx's
        let words: (UInt32, UInt32, UInt32, UInt32) =
            (0xffff_ffff, 0xd000_002d, 0x5000_0000, 0xb800_0001)
        let bit = UInt32(byte & 0x1f)
        switch byte >> 5 {
        case 0: return words.0 >> bit & 1 == 1
        case 1: return words.1 >> bit & 1 == 1
        case 2: return words.2 >> bit & 1 == 1
        case 3: return words.3 >> bit & 1 == 1
        default: return true
        }
    }
}

// A provider's HTTP/1.1 answer, read whole after the server closed the
// connection (RFC 9112): the status line, the headers, then a body that is
// chunked, sized by Content-Length, or runs to the close.  Small and
// strict: anything else is not an answer.

internal import CShim

struct HTTPAnswer {
    var status: Int32 = 0
    var body: [UInt8] = []

    /// The largest answer read: credentials are a few kilobytes.
    static let maxLength = Int(S3P_PROVIDER_ANSWER_MAX)

    /// nil for bytes that are not an HTTP/1.x answer.
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= HTTPAnswer.maxLength,
              let headEnd = HTTPAnswer.find([13, 10, 13, 10], in: bytes, from: 0)
        else { return nil }
        let head = Array(bytes[0..<headEnd])
        guard head.count >= 12, Array(head[0..<7]) == Array("HTTP/1.".utf8) else {
            return nil
        }
        guard let code = ASCII.decimal(head[9..<12]) else { return nil }
        status = Int32(code)

        var chunked = false
        var length: Int? = nil
        var lineStart = 0
        var lines: [ArraySlice<UInt8>] = []
        for (i, byte) in head.enumerated() where byte == 10 {
            lines.append(head[lineStart..<i])
            lineStart = i + 1
        }
        lines.append(head[lineStart...])
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = ASCII.lowercased(line[line.startIndex..<colon])
            let value = ASCII.trimmed(line[(colon + 1)...])
            if name == Array("transfer-encoding".utf8) {
                chunked = ASCII.lowercased(value[...]) == Array("chunked".utf8)
            } else if name == Array("content-length".utf8) {
                guard let n = ASCII.decimal(value[...]) else { return nil }
                length = n
            }
        }

        let rest = UnsafeBufferPointer(rebasing: bytes[(headEnd + 4)...])
        if chunked {
            guard let decoded = HTTPAnswer.dechunk(rest) else { return nil }
            body = decoded
        } else if let length {
            guard rest.count >= length else { return nil }
            body = Array(rest[0..<length])
        } else {
            body = Array(rest)
        }
    }

    static func find(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= bytes.count {
            var hit = true
            for j in 0..<needle.count where bytes[i + j] != needle[j] {
                hit = false
                break
            }
            if hit { return i }
            i += 1
        }
        return nil
    }

    private static func dechunk(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = find([13, 10], in: bytes, from: i) else { return nil }
            var size = 0
            var digits = 0
            for byte in bytes[i..<lineEnd] {
                guard let v = Hex.value(byte) else { break }  // ";ext" follows
                size = size * 16 + Int(v)
                digits += 1
                guard size <= maxLength else { return nil }
            }
            guard digits > 0 else { return nil }
            i = lineEnd + 2
            if size == 0 { return out }
            guard i + size + 2 <= bytes.count else { return nil }
            out.append(contentsOf: bytes[i..<(i + size)])
            i += size + 2
        }
    }
}

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
        var code: Int32 = 0
        for byte in head[9..<12] {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            code = code * 10 + Int32(byte - 0x30)
        }
        status = code

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
            let name = ASCIIText.lowercased(line[line.startIndex..<colon])
            let value = ASCIIText.trimmed(line[(colon + 1)...])
            if name == Array("transfer-encoding".utf8) {
                chunked = ASCIIText.lowercased(value[...]) == Array("chunked".utf8)
            } else if name == Array("content-length".utf8) {
                guard let n = ASCIIText.decimal(value[...]) else { return nil }
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

/// Small helpers over ASCII bytes.
enum ASCIIText {
    static func lowercased(_ s: ArraySlice<UInt8>) -> [UInt8] {
        s.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
    }

    static func trimmed(_ s: ArraySlice<UInt8>) -> [UInt8] {
        var slice = s
        while let f = slice.first, f == 0x20 || f == 0x09 || f == 0x0d || f == 0x0a {
            slice = slice.dropFirst()
        }
        while let l = slice.last, l == 0x20 || l == 0x09 || l == 0x0d || l == 0x0a {
            slice = slice.dropLast()
        }
        return Array(slice)
    }

    static func decimal(_ s: ArraySlice<UInt8>) -> Int? {
        guard !s.isEmpty, s.count <= 9 else { return nil }
        var n = 0
        for byte in s {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            n = n * 10 + Int(byte - 0x30)
        }
        return n
    }

    /// Visible ASCII and spaces only: safe in a header line or a log.
    static func isPrintable(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in s where byte < 0x20 || byte > 0x7e { return false }
        return true
    }
}

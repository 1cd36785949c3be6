// The one XML reader of the core: S3's ListObjectsV2 pages, S3's error
// documents and STS's answers are read element by element through it.
// https://www.w3.org/TR/xml/ and https://www.w3.org/TR/xml-names/
//
// Not a general XML parser: a pull reader over bytes that reports each
// element's start and end, with the character data directly inside it.
//
// - Names are compared without their namespace prefix (`<s3:Key>` is
//   `Key`): the answers read here use one namespace each.
// - Character data is decoded: the five predefined entities and numeric
//   character references (`&#38;`, `&#x26;`); an unknown or broken
//   reference stays as it was written.  CDATA sections are character data,
//   taken as written.  Comments and processing instructions are skipped.
// - A DOCTYPE is refused (it could declare entities; S3 and STS send
//   none), and so are an end tag that does not close the open element,
//   more than `maxDepth` open elements, and text outside the root element
//   other than white space (a UTF-8 byte order mark first is skipped).
// - The root element's end finishes the reading: what follows is not
//   read.  Input that ends before it is `truncated`: what was read before
//   stays read.

struct XMLReader {
    enum Event {
        /// An element starts: `name` is its name, `depth` counts it.
        case start
        /// The element `name` ends, with the character data directly
        /// inside it (after its last child element, if any), decoded.
        case end([UInt8])
        /// The root element ended.
        case finished
        /// The input ended inside the document.
        case truncated
        /// Not XML this reader accepts; nothing more is read.
        case malformed
    }

    /// Deeper than any answer read here; deeper input is malformed.
    static let maxDepth = 32

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    /// The local names of the open elements, the innermost last.
    private(set) var path: [[UInt8]] = []
    /// The element's character data so far: `text` decoded, then `raw`,
    /// read since the last markup and not yet decoded.
    private var text: [UInt8] = []
    private var raw: [UInt8] = []
    /// An empty-element tag (`<a/>`) was reported as a start: its end is
    /// next.
    private var emptyElement = false
    /// The last event was an end: its element is closed on the next call.
    private var closing = false
    private var done: Event?
    /// Where the last tag read began (its `<`).
    private(set) var tagStart = 0

    /// Where reading goes on: after a start event, where the element's
    /// content begins; after an end event, after its end tag.
    var offset: Int { index }

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            index = 3
        }
    }

    /// The element the last start or end event was about.
    var name: [UInt8] { path.last ?? [] }

    /// How many elements are open, the one just started or ended included.
    var depth: Int { path.count }

    /// The element around `name`; empty at the root.
    var parent: [UInt8] { path.count >= 2 ? path[path.count - 2] : [] }

    /// Whether the element just started or ended is `name`, directly
    /// inside `parent`.
    func at(_ name: StaticString, in parent: StaticString) -> Bool {
        path.count >= 2 && XMLReader.same(path[path.count - 1], name)
            && XMLReader.same(path[path.count - 2], parent)
    }

    func isNamed(_ name: StaticString) -> Bool {
        !path.isEmpty && XMLReader.same(path[path.count - 1], name)
    }

    mutating func next() -> Event {
        if let done { return done }
        if closing {
            closing = false
            path.removeLast()
            if path.isEmpty { return stop(.finished) }
        }
        if emptyElement {
            emptyElement = false
            closing = true
            text.removeAll(keepingCapacity: true)
            return .end([])
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte != UInt8(ascii: "<") {
                if path.isEmpty {
                    guard ASCII.isSpace(byte) else { return stop(.malformed) }
                } else {
                    raw.append(byte)
                }
                index += 1
                continue
            }
            if !raw.isEmpty {
                text.append(contentsOf: XMLText.decode(raw))
                raw.removeAll(keepingCapacity: true)
            }
            if let event = markup() { return event }
        }
        return stop(.truncated)
    }

    // MARK: Markup

    /// Reads the markup at `index` (a `<`): an event for a tag, nil for
    /// what is skipped or taken as text.
    private mutating func markup() -> Event? {
        tagStart = index
        let start = index + 1
        guard start < bytes.count else { return stop(.truncated) }
        switch bytes[start] {
        case UInt8(ascii: "?"):
            return skip(past: "?>")
        case UInt8(ascii: "!"):
            if follows("!--", at: start) { return skip(past: "-->") }
            if follows("![CDATA[", at: start) {
                guard !path.isEmpty else { return stop(.malformed) }
                let from = start + 8
                guard let end = find("]]>", from: from) else { return stop(.truncated) }
                text.append(contentsOf: bytes[from..<end])
                index = end + 3
                return nil
            }
            return stop(.malformed)
        case UInt8(ascii: "/"):
            guard let end = tagEnd(from: start + 1) else { return stop(.truncated) }
            let local = XMLReader.localName(bytes, from: start + 1, to: end)
            guard !path.isEmpty, local == path[path.count - 1],
                  XMLReader.onlySpace(bytes, from: start + 1 + XMLReader.nameLength(
                      bytes, from: start + 1, to: end), to: end)
            else {
                return stop(.malformed)
            }
            index = end + 1
            let value = text
            text.removeAll(keepingCapacity: true)
            closing = true
            return .end(value)
        default:
            guard let end = tagEnd(from: start) else { return stop(.truncated) }
            let local = XMLReader.localName(bytes, from: start, to: end)
            guard !local.isEmpty, path.count < XMLReader.maxDepth else {
                return stop(.malformed)
            }
            index = end + 1
            emptyElement = bytes[end - 1] == UInt8(ascii: "/")
            path.append(local)
            text.removeAll(keepingCapacity: true)
            return .start
        }
    }

    private mutating func stop(_ event: Event) -> Event {
        done = event
        return event
    }

    private mutating func skip(past terminator: StaticString) -> Event? {
        guard let end = find(terminator, from: index + 2) else { return stop(.truncated) }
        index = end + terminator.utf8CodeUnitCount
        return nil
    }

    /// The index of the `>` that ends a tag whose inside starts at `from`;
    /// a `>` within a quoted attribute value does not.
    private func tagEnd(from: Int) -> Int? {
        var quote: UInt8 = 0
        var i = from
        while i < bytes.count {
            let byte = bytes[i]
            if quote != 0 {
                if byte == quote { quote = 0 }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: ">") {
                return i
            }
            i += 1
        }
        return nil
    }

    private func follows(_ word: StaticString, at from: Int) -> Bool {
        word.withUTF8Buffer { word in
            guard from + word.count <= bytes.count else { return false }
            for offset in 0..<word.count where bytes[from + offset] != word[offset] {
                return false
            }
            return true
        }
    }

    private func find(_ word: StaticString, from: Int) -> Int? {
        var i = from
        while i + word.utf8CodeUnitCount <= bytes.count {
            if follows(word, at: i) { return i }
            i += 1
        }
        return nil
    }

    // MARK: Names

    /// The length of the name that starts a tag's inside.
    private static func nameLength(
        _ bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int
    ) -> Int {
        var i = from
        while i < end && !ASCII.isSpace(bytes[i]) && bytes[i] != UInt8(ascii: "/") { i += 1 }
        return i - from
    }

    /// The name that starts a tag's inside, without its prefix.
    private static func localName(
        _ bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int
    ) -> [UInt8] {
        let stop = from + nameLength(bytes, from: from, to: end)
        var start = from
        var i = from
        while i < stop {
            if bytes[i] == UInt8(ascii: ":") { start = i + 1 }
            i += 1
        }
        return Array(bytes[start..<stop])
    }

    private static func onlySpace(
        _ bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int
    ) -> Bool {
        var i = from
        while i < end {
            if !ASCII.isSpace(bytes[i]) { return false }
            i += 1
        }
        return true
    }

    static func same(_ bytes: [UInt8], _ name: StaticString) -> Bool {
        name.withUTF8Buffer { name in
            name.count == bytes.count && bytes.withUnsafeBufferPointer { $0.elementsEqual(name) }
        }
    }
}

/// XML character data: the five predefined entities and numeric
/// character references (`&#38;`, `&#x26;`).
enum XMLText {
    static func decode(_ text: [UInt8]) -> [UInt8] {
        guard text.contains(UInt8(ascii: "&")) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            guard text[i] == UInt8(ascii: "&"),
                  let semicolon = text[i...].prefix(12).firstIndex(of: UInt8(ascii: ";"))
            else {
                out.append(text[i])
                i += 1
                continue
            }
            let entity = text[(i + 1)..<semicolon]
            if let decoded = reference(entity) {
                out.append(contentsOf: decoded)
                i = semicolon + 1
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }

    private static func reference(_ entity: ArraySlice<UInt8>) -> [UInt8]? {
        switch Array(entity) {
        case Array("amp".utf8): return [UInt8(ascii: "&")]
        case Array("lt".utf8): return [UInt8(ascii: "<")]
        case Array("gt".utf8): return [UInt8(ascii: ">")]
        case Array("quot".utf8): return [UInt8(ascii: "\"")]
        case Array("apos".utf8): return [UInt8(ascii: "'")]
        default: break
        }
        guard entity.first == UInt8(ascii: "#") else { return nil }
        var digits = entity.dropFirst()
        var radix: UInt32 = 10
        if digits.first == UInt8(ascii: "x") || digits.first == UInt8(ascii: "X") {
            radix = 16
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.count <= 8 else { return nil }
        var value: UInt32 = 0
        for digit in digits {
            guard let d = Hex.value(digit), UInt32(d) < radix else { return nil }
            value = value * radix + UInt32(d)
        }
        guard let scalar = Unicode.Scalar(value) else { return nil }
        var bytes: [UInt8] = []
        UTF8.encode(scalar) { bytes.append($0) }
        return bytes
    }
}

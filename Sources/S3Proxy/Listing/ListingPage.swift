// One page of a ListObjectsV2 answer, read from S3's XML:
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
//
// A small scanner, not a general XML parser: it reads the elements a
// listing page holds (Contents/Key, Size, LastModified; CommonPrefixes/
// Prefix; IsTruncated; NextContinuationToken), decodes XML's character
// references, and ignores everything else.  Malformed input yields what
// was readable, never a trap.

internal import CShim

struct ListingPage {
    struct Object {
        var key: [UInt8] = []
        var size: [UInt8] = []
        var lastModified: [UInt8] = []
    }

    var folders: [[UInt8]] = []
    var objects: [Object] = []
    var isTruncated = false
    var nextToken: [UInt8] = []

    var isEmpty: Bool { folders.isEmpty && objects.isEmpty }

    init(xml: UnsafeBufferPointer<UInt8>) {
        var path: [[UInt8]] = []
        var text: [UInt8] = []
        var object = Object()
        var i = 0
        let n = xml.count
        while i < n {
            let byte = xml[i]
            if byte != UInt8(ascii: "<") {
                text.append(byte)
                i += 1
                continue
            }
            // A tag: find its end.
            var end = i + 1
            while end < n && xml[end] != UInt8(ascii: ">") { end += 1 }
            guard end < n else { break }
            let tag = xml[(i + 1)..<end]
            i = end + 1
            guard let first = tag.first else { continue }
            if first == UInt8(ascii: "?") || first == UInt8(ascii: "!") {
                continue
            }
            if tag.last == UInt8(ascii: "/") {
                continue
            }
            if first == UInt8(ascii: "/") {
                let name = ListingPage.name(tag.dropFirst())
                let value = XMLText.decode(text)
                text.removeAll(keepingCapacity: true)
                let parent = path.count >= 2 ? path[path.count - 2] : []
                switch (parent, name) {
                case (ListingPage.contents, ListingPage.keyTag):
                    object.key = value
                case (ListingPage.contents, ListingPage.sizeTag):
                    object.size = value
                case (ListingPage.contents, ListingPage.lastModifiedTag):
                    object.lastModified = value
                case (ListingPage.commonPrefixes, ListingPage.prefixTag):
                    // No more entries than one page can show are kept.
                    if folders.count + objects.count < Int(S3P_LISTING_ROWS) + 1 {
                        folders.append(value)
                    }
                case (ListingPage.root, ListingPage.isTruncatedTag):
                    isTruncated = value == ListingPage.trueValue
                case (ListingPage.root, ListingPage.nextTokenTag):
                    nextToken = value
                default:
                    break
                }
                if name == ListingPage.contents && path.count == 2 {
                    if folders.count + objects.count < Int(S3P_LISTING_ROWS) + 1 {
                        objects.append(object)
                    }
                    object = Object()
                }
                if !path.isEmpty { path.removeLast() }
            } else {
                path.append(ListingPage.name(tag[...]))
                text.removeAll(keepingCapacity: true)
            }
        }
    }

    /// The element name of a tag's inside: up to the first space.
    private static func name(_ tag: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8] {
        var out: [UInt8] = []
        for byte in tag {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
                || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
            {
                break
            }
            out.append(byte)
        }
        return out
    }

    private static let root = Array("ListBucketResult".utf8)
    private static let contents = Array("Contents".utf8)
    private static let commonPrefixes = Array("CommonPrefixes".utf8)
    private static let keyTag = Array("Key".utf8)
    private static let sizeTag = Array("Size".utf8)
    private static let lastModifiedTag = Array("LastModified".utf8)
    private static let prefixTag = Array("Prefix".utf8)
    private static let isTruncatedTag = Array("IsTruncated".utf8)
    private static let nextTokenTag = Array("NextContinuationToken".utf8)
    private static let trueValue = Array("true".utf8)
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

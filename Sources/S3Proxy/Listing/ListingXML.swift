// S3's ListObjects answer (V1 or V2) for a location with a key prefix
// (s3_proxy_prefix), as the client sees the bucket: its keys relative to
// the prefix, so that SDKs and CLIs (`aws s3 ls`, `aws s3 sync`) list the
// mount's subtree with the keys they ask for through it.
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html
//
// The document is copied byte for byte but for the text of the elements
// that hold keys: Contents/Key, CommonPrefixes/Prefix, and the root's
// Prefix, StartAfter, Marker and NextMarker, whose prefix is removed
// (S3 was asked with it, RequestRouter.confine).  The folder's own marker
// object (the key that is the prefix itself) is left out, as no key of
// the client's is empty.  With `EncodingType` url, S3 percent-encodes
// those values: they are decoded, made relative and encoded again
// (UriEncode, `/` kept), which the SDKs decode.  A value that does not
// begin with the prefix, or a document that is not one whole
// ListBucketResult, is refused (nil): nothing outside the prefix is shown.
// S3's NextMarker is a key; a server whose NextMarker is a token of its
// own (moto's) has it left out, and clients go on from the last key, as
// they do when S3 sends none.  A StartAfter or Marker that is the prefix
// itself (the proxy's, not the client's) is left out too.

struct ListingXML {
    /// A part of the document replaced: `start..<end` by `value`'s key
    /// made relative (nil: removed).  A value outside the prefix refuses
    /// the document, or with `element` set, removes that element instead.
    private struct Edit {
        var start: Int
        var end: Int
        var value: [UInt8]?
        var element: Range<Int>? = nil
    }

    static func relative(_ xml: UnsafeBufferPointer<UInt8>, prefix: [UInt8]) -> [UInt8]? {
        var reader = XMLReader(xml)
        var edits: [Edit] = []
        var encoded = false
        var contentStart = 0          // of the element that holds a key
        var elementStart = 0          // and where its start tag begins
        var contentsStart = 0         // of the Contents element being read
        var keyIsPrefix = false       // its Key is the prefix itself
        while true {
            let event = reader.next()
            let inRoot = reader.depth == 2 && XMLReader.same(reader.parent, "ListBucketResult")
            let inEntry = reader.depth == 3
            switch event {
            case .start:
                if reader.depth == 1 && !reader.isNamed("ListBucketResult") { return nil }
                if inRoot && reader.isNamed("Contents") {
                    contentsStart = reader.tagStart
                    keyIsPrefix = false
                }
                contentStart = reader.offset
                elementStart = reader.tagStart
            case .end(let value):
                if (inEntry && (reader.at("Key", in: "Contents")
                                || reader.at("Prefix", in: "CommonPrefixes")))
                    || (inRoot && (reader.isNamed("Prefix") || reader.isNamed("StartAfter")
                                   || reader.isNamed("Marker") || reader.isNamed("NextMarker")))
                {
                    // An empty value (`<Prefix/>`) names nothing: kept.
                    if value.isEmpty || contentStart > reader.tagStart { continue }
                    var edit = Edit(start: contentStart, end: reader.tagStart, value: value)
                    if inRoot && !reader.isNamed("Prefix") {
                        edit.element = elementStart..<reader.offset
                    }
                    edits.append(edit)
                    if inEntry && reader.isNamed("Key") {
                        keyIsPrefix = isPrefixItself(value, prefix)
                    }
                } else if inRoot && reader.isNamed("EncodingType") {
                    encoded = XMLReader.same(value, "url")
                } else if inRoot && reader.isNamed("Contents") && keyIsPrefix {
                    edits.removeAll { $0.start >= contentsStart }
                    edits.append(Edit(start: contentsStart, end: reader.offset, value: nil))
                }
            case .finished:
                return apply(edits, to: xml, prefix: prefix, encoded: encoded)
            case .truncated, .malformed:
                return nil
            }
        }
    }

    /// Whether a Key's text is the prefix itself (the folder's marker),
    /// read as S3 wrote it.
    private static func isPrefixItself(_ value: [UInt8], _ prefix: [UInt8]) -> Bool {
        value == prefix || decoded(value) == prefix
    }

    private static func apply(
        _ edits: [Edit], to xml: UnsafeBufferPointer<UInt8>, prefix: [UInt8], encoded: Bool
    ) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(xml.count)
        var at = 0
        for edit in edits {
            out += xml[at..<edit.start]
            at = edit.end
            guard let value = edit.value else { continue }
            let key = encoded ? decoded(value) : value
            guard let key, key.count >= prefix.count, key.starts(with: prefix),
                  !(key.count == prefix.count && edit.element != nil)
            else {
                guard let element = edit.element else { return nil }
                // Out with the element: what was copied of it, and the rest.
                out.removeLast(edit.start - element.lowerBound)
                at = element.upperBound
                continue
            }
            let rest = key[prefix.count...]
            if encoded {
                var again: [UInt8] = []
                PercentEncoding.encode(rest, keepSlash: true, into: &again)
                escape(again, into: &out)
            } else {
                escape(rest, into: &out)
            }
        }
        out += xml[at...]
        return out
    }

    /// `%XX` decoded, and `+` as a space, as the SDKs read S3's url
    /// encoding; nil for a broken escape.
    static func decoded(_ text: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            let byte = text[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < text.count, let high = Hex.value(text[i + 1]),
                      let low = Hex.value(text[i + 2])
                else {
                    return nil
                }
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                i += 1
            }
        }
        return out
    }

    /// XML character data: markup characters as entities, control bytes
    /// as character references, as S3 writes them.
    static func escape<C: Collection<UInt8>>(_ text: C, into out: inout [UInt8]) {
        for byte in text {
            switch byte {
            case UInt8(ascii: "&"): out += Array("&amp;".utf8)
            case UInt8(ascii: "<"): out += Array("&lt;".utf8)
            case UInt8(ascii: ">"): out += Array("&gt;".utf8)
            case UInt8(ascii: "\""): out += Array("&quot;".utf8)
            case 0..<0x20, 0x7f:
                out += Array("&#x".utf8)
                out.append(Hex.upper(byte >> 4))
                out.append(Hex.upper(byte & 0x0f))
                out.append(UInt8(ascii: ";"))
            default: out.append(byte)
            }
        }
    }
}

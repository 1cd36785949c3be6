// The Content-Disposition of a download link (`?download`): an attachment
// named after the key's last segment.
//
// https://www.rfc-editor.org/rfc/rfc6266#section-4.3 and
// https://www.rfc-editor.org/rfc/rfc5987#section-3.2:
//   attachment; filename="<ASCII fallback>"; filename*=UTF-8''<pct-encoded>
// The fallback is a quoted-string of visible ASCII without `"`, `\`, `%`
// and `;` (each other byte, and each non-ASCII character, becomes `_`); the
// extended value is written only when the fallback is not the name
// itself, and percent-encodes every byte but RFC 5987's attr-char.  A key
// holding quotes, `;`, CR, LF or other control bytes cannot end the value
// early or start another header.

enum ContentDisposition {
    /// The file name of `key`: its last segment ("download" when empty).
    static func fileName(_ key: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        let start = (key.lastIndex(of: UInt8(ascii: "/")) ?? -1) + 1
        return UnsafeBufferPointer(rebasing: key[start...])
    }

    static func write(name: UnsafeBufferPointer<UInt8>, into writer: inout BufferWriter) {
        writer.write("attachment; filename=\"")
        guard !name.isEmpty else {
            writer.write("download\"")
            return
        }
        var plain = true
        var index = 0
        while index < name.count {
            let byte = name[index]
            index += 1
            if byte >= 0x80 {
                // one `_` for a whole UTF-8 character
                while index < name.count && name[index] & 0xC0 == 0x80 { index += 1 }
            }
            if isFallbackByte(byte) {
                writer.write(byte)
            } else {
                writer.write(UInt8(ascii: "_"))
                plain = false
            }
        }
        writer.write(UInt8(ascii: "\""))
        if plain { return }
        writer.write("; filename*=UTF-8''")
        for byte in name {
            if isAttrChar(byte) {
                writer.write(byte)
            } else {
                writer.write(UInt8(ascii: "%"))
                writer.write(Hex.upper(byte >> 4))
                writer.write(Hex.upper(byte & 0x0f))
            }
        }
    }

    /// The most bytes write(name:) writes for a name of `count` bytes.
    static func bound(_ count: Int) -> Int { 64 + 4 * count }

    /// Kept as is in the quoted fallback.
    static func isFallbackByte(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"")
            && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "%")
            && byte != UInt8(ascii: ";")
    }

    /// RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" /
    /// "-" / "." / "^" / "_" / "`" / "|" / "~".
    static func isAttrChar(_ byte: UInt8) -> Bool {
        ASCII.isAlphanumeric(byte) || "!#$&+-.^_`|~".utf8.contains(byte)
    }
}

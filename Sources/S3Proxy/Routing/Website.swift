// What S3 is asked for a path, in turn: the object first, then, each time
// S3 answers the one before with a status its fallback names, the next
// step (the module asks again, with the request's `fallback` one more):
//
//   listing         a folder's built-in listing, when its index page is
//                   missing (s3_proxy_listing on)
//   folderCheck     a website's `/folder` without its object: whether
//                   `folder/<index>` exists, answered 302 to `/folder/`
//                   as S3's website endpoint does
//   errorDocument   s3_proxy_error_document's object, answered with S3's
//                   status or the one configured
//
// S3 clients get S3's answers: only the listing applies to them, as it
// always has.

internal import CShim

enum Step {
    case object, listing, folderCheck, errorDocument
}

struct Plan {
    var listing = false
    var folderCheck = false
    var errorDocument = false

    /// The n-th step (0: the object), or nil past the last.
    func step(_ n: Int32) -> Step? {
        var left = n
        if left == 0 { return .object }
        if listing {
            left -= 1
            if left == 0 { return .listing }
        }
        if folderCheck {
            left -= 1
            if left == 0 { return .folderCheck }
        }
        if errorDocument {
            left -= 1
            if left == 0 { return .errorDocument }
        }
        return nil
    }

    /// Which of S3's answers to the n-th step lead to the next one
    /// (S3P_FALLBACK_*): 404, and 403 (S3's answer for a missing key to
    /// whoever may not list the bucket) before a website's own steps.  The
    /// listing and the folder redirect happen whatever error_page the
    /// location has; the error document gives way to it.
    func fallbackOn(after n: Int32) -> UInt32 {
        switch step(n + 1) {
        case .listing?:
            return UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_ERROR_PAGE)
        case .folderCheck?:
            return UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403 | S3P_FALLBACK_ERROR_PAGE)
        case .errorDocument?:
            return UInt32(S3P_FALLBACK_404 | S3P_FALLBACK_403)
        default:
            return 0
        }
    }

    /// Whether S3's `status` is one of the answers `on` (S3P_FALLBACK_*)
    /// names.
    static func fallsBack(_ on: UInt32, status: Int32) -> Bool {
        switch status {
        case 404: return on & UInt32(S3P_FALLBACK_404) != 0
        case 403: return on & UInt32(S3P_FALLBACK_403) != 0
        default: return false
        }
    }
}

/// The Location of a folder redirect: the client's raw path and `/`, then
/// its query.  What a browser could read as another host's address is
/// escaped: a leading `//` (as `/%2F`), a `\` (which browsers take for
/// `/`), and every byte that is not visible ASCII.
enum FolderRedirect {
    static func write(
        path: UnsafeBufferPointer<UInt8>, query: UnsafeBufferPointer<UInt8>,
        into writer: inout BufferWriter
    ) {
        for (index, byte) in path.enumerated() {
            let leadingSlash = index == 1 && byte == UInt8(ascii: "/")
            if leadingSlash || byte == UInt8(ascii: "\\") || !ASCII.isVisible(byte) {
                writer.write(UInt8(ascii: "%"))
                writer.write(Hex.upper(byte >> 4))
                writer.write(Hex.upper(byte & 0x0f))
            } else {
                writer.write(byte)
            }
        }
        writer.write(UInt8(ascii: "/"))
        guard !query.isEmpty else { return }
        writer.write(UInt8(ascii: "?"))
        for byte in query {
            if byte == UInt8(ascii: "\\") || !ASCII.isVisible(byte) {
                writer.write(UInt8(ascii: "%"))
                writer.write(Hex.upper(byte >> 4))
                writer.write(Hex.upper(byte & 0x0f))
            } else {
                writer.write(byte)
            }
        }
    }
}

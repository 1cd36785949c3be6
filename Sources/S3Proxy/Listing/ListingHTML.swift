// The built-in folder listing: one ListObjectsV2 page (delimiter `/`) as
// an HTML page that works without JavaScript.  A breadcrumb, the
// sub-folders, then the files with size and last-modified, in S3's order;
// every link goes through the proxy, below the location's mount (folders
// to their listing, files to the object path, where the redirect rule
// applies), and a "next page" link carries the continuation token.
//
// Keys are untrusted: hrefs are built with SigV4's percent-encoding (which
// leaves only unreserved characters and `/`), and text is HTML-escaped.

internal import CShim

struct ListingHTML {
    let bucket: [UInt8]
    /// The folder: "" for the bucket's root, otherwise ending in `/`.
    let prefix: [UInt8]
    /// Where links start: the client's path of the bucket, ending in `/`
    /// (`/<bucket>/` at `/`, `/<mount>/<bucket>/`, or `/<mount>/` in a
    /// location with its own bucket).
    let base: [UInt8]
    /// The query parameter of download links (s3_proxy_download_param),
    /// shown beside each file; empty: none.
    var download: [UInt8] = []

    /// The Content-Security-Policy sent with the page: nothing but its own
    /// inline style may load or run.
    static let contentSecurityPolicy: StaticString = """
        default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; \
        base-uri 'none'; form-action 'none'; frame-ancestors 'none'
        """

    /// The page of a folder that holds nothing: nginx's own 404 page, as
    /// for any other missing key.
    static let notFoundPage =
        "<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
        + "<body><h1>404 Not Found</h1></body></html>\n"

    func render(_ page: ListingPage) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024 + (page.folders.count + page.objects.count) * 200)
        let title = Array("/".utf8) + bucket + Array("/".utf8) + prefix

        out += Array("""
            <!DOCTYPE html>
            <html><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Index of 
            """.utf8)
        ListingHTML.escape(title, into: &out)
        out += Array("""
            </title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse}td,th{padding:.2em 1em;text-align:left}
            td.size{text-align:right;font-variant-numeric:tabular-nums}
            a{text-decoration:none}a:hover{text-decoration:underline}
            </style></head>
            <body>
            <h1>Index of 
            """.utf8)
        breadcrumb(into: &out)
        out += Array("</h1>\n<table>\n<thead><tr><th>Name</th><th>Size</th>".utf8)
        out += Array("<th>Last modified</th></tr></thead>\n<tbody>\n".utf8)

        if !prefix.isEmpty {
            out += Array("<tr><td><a href=\"".utf8)
            link(to: parent(of: prefix), into: &out)
            out += Array("\">../</a></td><td class=\"size\"></td><td></td></tr>\n".utf8)
        }
        // S3's pages hold at most S3P_LISTING_ROWS keys and folders of at
        // most Rules.maxKeyLength bytes; nothing else is rendered, whatever
        // the XML holds, so that the page's size stays bounded.
        var rows = 0
        for folder in page.folders where folder.starts(with: prefix)
            && folder.count <= Rules.maxKeyLength
        {
            rows += 1
            if rows > Int(S3P_LISTING_ROWS) { break }
            out += Array("<tr><td><a href=\"".utf8)
            link(to: folder, into: &out)
            out += Array("\">".utf8)
            ListingHTML.escape(folder[prefix.count...], into: &out)
            out += Array("</a></td><td class=\"size\">-</td><td></td></tr>\n".utf8)
        }
        for object in page.objects where object.key.starts(with: prefix)
            && object.key.count <= Rules.maxKeyLength
        {
            let name = object.key[prefix.count...]
            if name.isEmpty {
                continue  // the folder's own marker object
            }
            rows += 1
            if rows > Int(S3P_LISTING_ROWS) { break }
            out += Array("<tr><td><a href=\"".utf8)
            link(to: object.key, into: &out)
            out += Array("\">".utf8)
            ListingHTML.escape(name, into: &out)
            out += Array("</a></td><td class=\"size\">".utf8)
            ListingHTML.escape(object.size.prefix(ListingHTML.maxField), into: &out)
            out += Array("</td><td>".utf8)
            ListingHTML.escape(ListingHTML.shortDate(object.lastModified)
                .prefix(ListingHTML.maxField), into: &out)
            if !download.isEmpty {
                out += Array("</td><td><a href=\"".utf8)
                link(to: object.key, into: &out)
                out.append(UInt8(ascii: "?"))
                PercentEncoding.encode(download, keepSlash: false, into: &out)
                out += Array("\">download</a>".utf8)
            }
            out += Array("</td></tr>\n".utf8)
        }
        out += Array("</tbody>\n</table>\n".utf8)

        if page.isTruncated && !page.nextToken.isEmpty
            && page.nextToken.count <= ListingHTML.maxField * 16
        {
            out += Array("<p><a rel=\"next\" href=\"?".utf8)
            Rules.pageParameter.withUTF8Buffer { out += $0 }
            out.append(UInt8(ascii: "="))
            PercentEncoding.encode(page.nextToken, keepSlash: false, into: &out)
            out += Array("\">Next page</a></p>\n".utf8)
        }
        out += Array("</body></html>\n".utf8)
        return out
    }

    /// The most bytes of a size or date shown (S3's are under 32).
    static let maxField = 64

    /// The most folder levels the breadcrumb links: a deeper folder shows
    /// the first and the last ones around an ellipsis, so that the page
    /// stays linear in the folder's length.
    static let breadcrumbLevels = 12

    /// `bucket / dir / sub /`, each part linking to its listing.
    private func breadcrumb(into out: inout [UInt8]) {
        out += Array("<a href=\"".utf8)
        link(to: [], into: &out)
        out += Array("\">".utf8)
        ListingHTML.escape(bucket, into: &out)
        out += Array("</a>/".utf8)
        let ends = prefix.indices.filter { prefix[$0] == UInt8(ascii: "/") }
        let keepFirst = ListingHTML.breadcrumbLevels / 2
        let keepLast = ListingHTML.breadcrumbLevels - keepFirst
        var start = 0
        for (level, end) in ends.enumerated() {
            defer { start = end + 1 }
            if ends.count > ListingHTML.breadcrumbLevels
                && level >= keepFirst && level < ends.count - keepLast
            {
                if level == keepFirst { out += Array("&hellip;/".utf8) }
                continue
            }
            out += Array("<a href=\"".utf8)
            link(to: Array(prefix[0...end]), into: &out)
            out += Array("\">".utf8)
            ListingHTML.escape(prefix[start..<end], into: &out)
            out += Array("</a>/".utf8)
        }
    }

    /// An absolute href through the proxy: `<base><encoded key>`.  A key's
    /// leading `/` is written `%2F`: after the base's own `/` it would
    /// start `//`, which a browser reads as another host's address at a
    /// location mounted at `/` (key `/evil.example`), and which nginx's
    /// merge_slashes would fold elsewhere.  The proxy decodes it back.
    private func link(to key: [UInt8], into out: inout [UInt8]) {
        ListingHTML.escape(base, into: &out)
        var rest = key[...]
        if rest.first == UInt8(ascii: "/") {
            out += Array("%2F".utf8)
            rest = rest.dropFirst()
        }
        PercentEncoding.encode(rest, keepSlash: true, into: &out)
    }

    /// `a/b/` -> `a/`, `a/` -> ``.
    private func parent(of folder: [UInt8]) -> [UInt8] {
        let trimmed = folder.dropLast()
        guard let slash = trimmed.lastIndex(of: UInt8(ascii: "/")) else { return [] }
        return Array(folder[...slash])
    }

    /// `2026-11-29T01:19:20.000Z` -> `2026-11-29 01:19:20 UTC`.
    static func shortDate(_ iso: [UInt8]) -> [UInt8] {
        guard iso.count >= 19, iso[10] == UInt8(ascii: "T") else { return iso }
        var out = Array(iso[0..<10])
        out.append(UInt8(ascii: " "))
        out += iso[11..<19]
        out += Array(" UTC".utf8)
        return out
    }

    /// HTML-escapes text for element content and quoted attributes.
    static func escape<C: Collection<UInt8>>(_ text: C, into out: inout [UInt8]) {
        for byte in text {
            switch byte {
            case UInt8(ascii: "&"): out += Array("&amp;".utf8)
            case UInt8(ascii: "<"): out += Array("&lt;".utf8)
            case UInt8(ascii: ">"): out += Array("&gt;".utf8)
            case UInt8(ascii: "\""): out += Array("&quot;".utf8)
            case UInt8(ascii: "'"): out += Array("&#39;".utf8)
            case 0..<0x20, 0x7f:
                // Control bytes in a key: shown as U+FFFD, never raw.
                out += [0xEF, 0xBF, 0xBD]
            default: out.append(byte)
            }
        }
    }
}

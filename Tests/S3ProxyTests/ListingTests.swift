// Built-in folder listings: ListingPage (the scanner of S3's
// ListObjectsV2 XML) and ListingHTML (the page rendered from it).
//
// Source of the expectations:
// - the ListObjectsV2 response syntax of the S3 API reference
//   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html):
//   ListBucketResult with IsTruncated, Contents (Key, LastModified, ETag,
//   ChecksumAlgorithm, Size, StorageClass, Owner/ID/DisplayName,
//   RestoreStatus), Name, Prefix, Delimiter, MaxKeys, CommonPrefixes/Prefix,
//   EncodingType, KeyCount, ContinuationToken, NextContinuationToken,
//   StartAfter; keys are XML character data, so `&`, `<`, `>`, `"`, `'`
//   arrive as the predefined entities or numeric character references;
// - XML 1.0 (predefined entities, `&#NN;` and `&#xHH;` references);
// - docs/browsing.md: a breadcrumb, the sub-folders, then the
//   files with size and last-modified, in S3's order; folder links lead to
//   their listing and file links to the object path through the proxy;
//   keys HTML-escaped and percent-encoded in links; a "Next page" link with
//   the continuation token as `?page=<token>`;
// - Route.swift: `?page=<token>` on a folder asks for the page of that
//   continuation token (so the link must survive the round trip).

import CShim
import Testing
@testable import S3Proxy

// MARK: Helpers

/// Parses `xml` (any bytes) as a listing page.
fileprivate func listingPage(_ xml: [UInt8]) -> ListingPage {
    xml.withUnsafeBufferPointer { ListingPage(xml: $0) }
}

fileprivate func listingPage(_ xml: String) -> ListingPage {
    listingPage(bytes(xml))
}

/// A page built field by field (ListingPage has only the XML initializer).
fileprivate func makePage(
    folders: [String] = [],
    objects: [(key: String, size: String, modified: String)] = [],
    truncated: Bool = false, token: String = ""
) -> ListingPage {
    var page = listingPage("")
    page.folders = folders.map(bytes)
    page.objects = objects.map {
        ListingPage.Object(key: bytes($0.key), size: bytes($0.size),
                           lastModified: bytes($0.modified))
    }
    page.isTruncated = truncated
    page.nextToken = bytes(token)
    return page
}

fileprivate func renderListing(bucket: String, prefix: String,
                               _ page: ListingPage) -> String {
    text(ListingHTML(bucket: bytes(bucket), prefix: bytes(prefix),
                     base: bytes("/" + bucket + "/")).render(page))
}

/// A minimal reading of the rendered HTML: its start tags in order, each
/// with its name, attributes and the text up to the next tag.  The page is
/// machine-generated with double-quoted attributes, so this is enough to
/// see which elements a browser would build from it.
fileprivate struct HTMLElement {
    var name: String
    var attributes: [String: String]
    /// The character data that follows the start tag, references still
    /// encoded.
    var followingText: String
}

fileprivate func htmlElements(_ html: String) -> [HTMLElement] {
    var out: [HTMLElement] = []
    let chars = Array(html.unicodeScalars)
    func string(_ range: Range<Int>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: chars[range])
        return String(view)
    }
    var i = 0
    while i < chars.count {
        guard chars[i] == "<" else { i += 1; continue }
        var end = i + 1
        var quoted = false
        while end < chars.count && (chars[end] != ">" || quoted) {
            if chars[end] == "\"" { quoted.toggle() }
            end += 1
        }
        let inside = string((i + 1)..<min(end, chars.count))
        var textEnd = min(end + 1, chars.count)
        while textEnd < chars.count && chars[textEnd] != "<" { textEnd += 1 }
        let following = string(min(end + 1, chars.count)..<textEnd)
        i = end + 1
        if inside.hasPrefix("/") || inside.hasPrefix("!") { continue }
        var name = ""
        var rest = Substring(inside)
        while let c = rest.first, c != " " { name.append(c); rest = rest.dropFirst() }
        var attributes: [String: String] = [:]
        while true {
            rest = rest.drop { $0 == " " }
            guard let eq = rest.firstIndex(of: "=") else { break }
            let attr = String(rest[..<eq])
            rest = rest[rest.index(after: eq)...]
            guard rest.first == "\"" else { break }
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: "\"") else { break }
            attributes[attr] = String(rest[..<close])
            rest = rest[rest.index(after: close)...]
        }
        out.append(HTMLElement(name: name.lowercased(), attributes: attributes,
                               followingText: following))
    }
    return out
}

/// The links of a page in order: (href, link text as sent).
fileprivate func htmlLinks(_ html: String) -> [(href: String, text: String)] {
    htmlElements(html).filter { $0.name == "a" }.map {
        ($0.attributes["href"] ?? "", $0.followingText)
    }
}

/// The table's links (the entries, `../` first if any), without the
/// breadcrumb and the next-page link.
fileprivate func entryLinks(_ html: String) -> [(href: String, text: String)] {
    guard let tbody = html.firstRange(of: "<tbody>"),
          let end = html.firstRange(of: "</tbody>")
    else { return [] }
    return htmlLinks(String(html[tbody.upperBound..<end.lowerBound]))
}

/// Decodes the HTML character references the renderer writes.
fileprivate func unescapeHTML(_ s: String) -> String {
    s.replacing("&lt;", with: "<").replacing("&gt;", with: ">")
        .replacing("&quot;", with: "\"").replacing("&#39;", with: "'")
        .replacing("&amp;", with: "&")
}

/// The decoded path of an href as the proxy decodes it (once, `+` kept).
fileprivate func decodedPath(_ href: String) -> String? {
    Plain.percentDecoded(ArraySlice(bytes(href)), plusIsSpace: false).map { text($0) }
}

// MARK: ListingPage

@Suite struct ListingPageTests {

    /// A ListObjectsV2 answer with every element of the documented syntax.
    static let fullAnswer = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>example-bucket</Name>
          <Prefix>photos/</Prefix>
          <KeyCount>4</KeyCount>
          <MaxKeys>3</MaxKeys>
          <Delimiter>/</Delimiter>
          <EncodingType>url</EncodingType>
          <IsTruncated>true</IsTruncated>
          <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>
          <NextContinuationToken>2/ueGcxL+PRx1Tr/XYE=</NextContinuationToken>
          <StartAfter>photos/2005/</StartAfter>
          <Contents>
            <Key>photos/sample.jpg</Key>
            <LastModified>2011-02-26T01:56:20.000Z</LastModified>
            <ETag>&quot;bf1d737a4d46a19f3bced6905cc8b902&quot;</ETag>
            <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
            <Size>142863</Size>
            <Owner>
              <ID>canonical-user-id</ID>
              <DisplayName>display-name</DisplayName>
            </Owner>
            <StorageClass>STANDARD</StorageClass>
          </Contents>
          <Contents>
            <Key>photos/notes.txt</Key>
            <LastModified>2012-03-04T05:06:07.000Z</LastModified>
            <ETag>"0123456789abcdef0123456789abcdef"</ETag>
            <Size>0</Size>
            <StorageClass>GLACIER</StorageClass>
            <RestoreStatus>
              <IsRestoreInProgress>false</IsRestoreInProgress>
              <RestoreExpiryDate>2012-12-21T00:00:00.000Z</RestoreExpiryDate>
            </RestoreStatus>
          </Contents>
          <CommonPrefixes>
            <Prefix>photos/2006/</Prefix>
          </CommonPrefixes>
          <CommonPrefixes>
            <Prefix>photos/2007/</Prefix>
          </CommonPrefixes>
        </ListBucketResult>
        """

    @Test func documentedElements() {
        let page = listingPage(Self.fullAnswer)
        #expect(page.objects.map { text($0.key) } == ["photos/sample.jpg", "photos/notes.txt"])
        #expect(page.objects.map { text($0.size) } == ["142863", "0"])
        #expect(page.objects.map { text($0.lastModified) }
                == ["2011-02-26T01:56:20.000Z", "2012-03-04T05:06:07.000Z"])
        // The root's own <Prefix> is not a folder; only CommonPrefixes are.
        #expect(page.folders.map(text) == ["photos/2006/", "photos/2007/"])
        #expect(page.isTruncated)
        // The next page's token, not the token of this request.
        #expect(text(page.nextToken) == "2/ueGcxL+PRx1Tr/XYE=")
        #expect(!page.isEmpty)
    }

    @Test func lastPageIsNotTruncated() {
        let page = listingPage("""
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>\
            <Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>\
            <Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>\
            <Contents><Key>a.txt</Key><LastModified>2020-01-01T00:00:00.000Z</LastModified>\
            <ETag>"x"</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>\
            </ListBucketResult>
            """)
        #expect(!page.isTruncated)
        #expect(page.nextToken.isEmpty)
        #expect(page.objects.count == 1)
        #expect(page.folders.isEmpty)
    }

    @Test func emptyAnswerIsEmpty() {
        let page = listingPage("""
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Name>b</Name><Prefix>nope/</Prefix><KeyCount>0</KeyCount>\
            <MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>\
            <IsTruncated>false</IsTruncated></ListBucketResult>
            """)
        #expect(page.isEmpty)
        #expect(!page.isTruncated)
        // Self-closing empty elements (as some servers write them).
        let selfClosing = listingPage(
            "<ListBucketResult><Prefix/><NextContinuationToken/>"
            + "<IsTruncated>false</IsTruncated></ListBucketResult>")
        #expect(selfClosing.isEmpty)
        #expect(selfClosing.nextToken.isEmpty)
    }

    @Test func s3ErrorDocumentIsEmpty() {
        let page = listingPage("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>\
            <BucketName>b</BucketName><Key>k</Key></Error>
            """)
        #expect(page.isEmpty)
    }

    @Test func entityEscapedKeys() {
        let page = listingPage("""
            <ListBucketResult><Contents>\
            <Key>a &amp; b &lt; c &gt; d &quot; e &apos; f &#38; g &#x26; h &#X3C; i</Key>\
            <Size>1</Size></Contents>\
            <CommonPrefixes><Prefix>&lt;dir&gt; &amp;/</Prefix></CommonPrefixes>\
            </ListBucketResult>
            """)
        #expect(page.objects.map { text($0.key) }
                == [#"a & b < c > d " e ' f & g & h < i"#])
        #expect(page.folders.map(text) == ["<dir> &/"])
    }

    @Test func numericReferencesBeyondASCII() {
        let page = listingPage(
            "<ListBucketResult><Contents><Key>&#233;t&#xE9; &#x1F600; &#8364;</Key>"
            + "</Contents></ListBucketResult>")
        #expect(page.objects.map { text($0.key) } == ["été 😀 €"])
    }

    @Test func unknownOrBrokenReferencesStayLiteral() {
        let cases: [(String, String)] = [
            ("&nbsp;", "&nbsp;"),          // not predefined in XML
            ("&amp", "&amp"),              // no semicolon
            ("&;", "&;"),
            ("&#;", "&#;"),
            ("&#x;", "&#x;"),
            ("&#xZZ;", "&#xZZ;"),
            ("&#12a;", "&#12a;"),
            ("&#xD800;", "&#xD800;"),      // a surrogate is no scalar
            ("&#x110000;", "&#x110000;"),  // beyond Unicode
            ("&#99999999;", "&#99999999;"),
            ("&#xFFFFFFFF;", "&#xFFFFFFFF;"),
            ("&#x000000026;", "&#x000000026;"),  // too many digits
            ("a&amp;&amp;b", "a&&b"),
            ("&&amp;", "&&"),
            ("&amp;amp;", "&amp;"),        // decoded once
        ]
        for (raw, expected) in cases {
            let page = listingPage("<ListBucketResult><Contents><Key>\(raw)</Key>"
                                   + "</Contents></ListBucketResult>")
            #expect(page.objects.map { text($0.key) } == [expected], "\(raw)")
        }
    }

    @Test func utf8Keys() {
        let key = "fötter/日本語 ファイル 🎉.txt"
        let page = listingPage("<ListBucketResult><Contents><Key>\(key)</Key>"
                               + "<Size>3</Size></Contents><CommonPrefixes>"
                               + "<Prefix>ünïcødé/</Prefix></CommonPrefixes>"
                               + "</ListBucketResult>")
        #expect(page.objects.map(\.key) == [bytes(key)])
        #expect(page.folders == [bytes("ünïcødé/")])
    }

    @Test func rawGreaterThanAndWhitespaceInKeys() {
        // `>` needs no escape in XML character data; spaces, tabs and line
        // breaks are part of the key.
        let page = listingPage("<ListBucketResult><Contents><Key> a>b\tc\nd </Key>"
                               + "</Contents></ListBucketResult>")
        #expect(page.objects.map { text($0.key) } == [" a>b\tc\nd "])
    }

    @Test func keyElementsOutsideContentsAreIgnored() {
        // Owner/ID or a stray Key elsewhere never becomes a key, size or
        // folder; elements of Contents only count directly inside it.
        let page = listingPage("""
            <ListBucketResult><Key>stray</Key><Size>9</Size>\
            <Contents><Key>real</Key><Owner><Key>owner-key</Key><Size>7</Size></Owner>\
            <Size>1</Size></Contents>\
            <Other><Prefix>not/a/folder/</Prefix></Other>\
            <Contents><Other><IsTruncated>true</IsTruncated></Other></Contents>\
            </ListBucketResult>
            """)
        #expect(page.objects.count == 2)
        #expect(text(page.objects[0].key) == "real")
        #expect(text(page.objects[0].size) == "1")
        #expect(page.objects[1].key.isEmpty)
        #expect(page.folders.isEmpty)
        #expect(!page.isTruncated)
    }

    @Test func thousandEntries() {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
            + "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsTruncated>true"
            + "</IsTruncated><KeyCount>1000</KeyCount>"
        for i in 0..<1000 {
            xml += "<Contents><Key>listing/item-\(i).txt</Key><Size>\(i)</Size>"
                + "<LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>"
        }
        xml += "<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"
        let page = listingPage(xml)
        #expect(page.objects.count == 1000)
        #expect(text(page.objects[999].key) == "listing/item-999.txt")
        #expect(text(page.objects[999].size) == "999")
        #expect(page.isTruncated && text(page.nextToken) == "tok")
    }

    @Test func truncatedXMLYieldsWhatWasReadable() {
        let whole = Self.fullAnswer
        let full = Array(whole.utf8)
        // Every prefix of a real answer: no trap, and never more than the
        // whole answer holds.
        for cut in 0...full.count {
            let page = listingPage(Array(full[..<cut]))
            #expect(page.objects.count <= 2)
            #expect(page.folders.count <= 2)
            for object in page.objects {
                #expect(["photos/sample.jpg", "photos/notes.txt"].contains(text(object.key)))
            }
        }
        // What was closed before the cut is kept.
        let cut = listingPage("<ListBucketResult><CommonPrefixes><Prefix>a/</Prefix>"
                              + "</CommonPrefixes><Contents><Key>b")
        #expect(cut.folders.map(text) == ["a/"])
        #expect(cut.objects.isEmpty)
    }

    @Test(arguments: [
        "", "<", ">", "<>", "</>", "<<<<", ">>>>", "</", "<?", "<!", "<!--", "<a",
        "</Contents></Contents></ListBucketResult></ListBucketResult>",
        "</Key>", "&", "&#", "&#x", "<Key>&</Key>",
        "<ListBucketResult><Contents></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key></Key></Contents></ListBucketResult>",
        "<ListBucketResult><CommonPrefixes><Prefix></CommonPrefixes>",
        "<ListBucketResult><IsTruncated>true</IsTruncated>",
        "<ListBucketResult><NextContinuationToken>abc",
        "<ListBucketResult><Contents><Key>a</Contents></Key></ListBucketResult>",
        "<ListBucketResult/><Contents><Key>k</Key></Contents>",
        "<ListBucketResult><![CDATA[<Contents><Key>x</Key></Contents>]]></ListBucketResult>",
        "<ListBucketResult><!-- <Contents> --><Contents><Key>k</Key></Contents></ListBucketResult>",
        "\u{0}\u{1}<\u{0}>\u{7f}",
    ])
    func malformedInputDoesNotTrap(_ xml: String) {
        let page = listingPage(xml)
        #expect(page.objects.count <= 2)
    }

    @Test func invalidUTF8AndNULDoNotTrap() {
        let xml = bytes("<ListBucketResult><Contents><Key>") + [0xFF, 0xC0, 0xAF, 0x00, 0x80]
            + bytes("</Key></Contents></ListBucketResult>")
        let page = listingPage(xml)
        #expect(page.objects.map(\.key) == [[0xFF, 0xC0, 0xAF, 0x00, 0x80]])
    }

    @Test func deepNestingDoesNotTrap() {
        let depth = 50_000
        let xml = String(repeating: "<a>", count: depth)
            + String(repeating: "</a>", count: depth + 10)
        let page = listingPage(xml)
        #expect(page.isEmpty)
    }

    @Test(arguments: [UInt64(1), 2, 3, 0xBEEF, 0x5EED])
    func randomBytesDoNotTrap(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let alphabet = bytes("<>/&#;x?!\"' =ListBucketResultContentsKeySizeCommonPrefixesPrefix"
                             + "IsTruncatedtrueNextContinuationToken0123456789abcdefamp")
            + [0x00, 0xFF, 0xC3, 0xA9]
        for _ in 0..<200 {
            let count = Int(rng.next() % 400)
            let xml = (0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            _ = listingPage(xml)
        }
        // Fragments of real element names glued at random.
        let pieces = ["<ListBucketResult>", "</ListBucketResult>", "<Contents>",
                      "</Contents>", "<Key>", "</Key>", "<Size>", "</Size>",
                      "<CommonPrefixes>", "</CommonPrefixes>", "<Prefix>", "</Prefix>",
                      "<IsTruncated>", "</IsTruncated>", "true",
                      "<NextContinuationToken>", "</NextContinuationToken>",
                      "&amp;", "&#x26;", "&", "a/", "k", "<", ">", "<Key/>"]
        for _ in 0..<300 {
            let count = Int(rng.next() % 60)
            let xml = (0..<count).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }
                .joined()
            let page = listingPage(xml)
            #expect(page.objects.count <= count)
            #expect(page.folders.count <= count)
        }
    }
}

// MARK: ListingHTML

@Suite struct ListingHTMLTests {

    static let awkward: [(key: String, href: String)] = [
        ("files/with space.txt", "/demo/files/with%20space.txt"),
        ("files/hash#tag.txt", "/demo/files/hash%23tag.txt"),
        ("files/question?.txt", "/demo/files/question%3F.txt"),
        ("files/100% sure.txt", "/demo/files/100%25%20sure.txt"),
        ("files/plus+sign.txt", "/demo/files/plus%2Bsign.txt"),
        ("files/ünïcødé.txt", "/demo/files/%C3%BCn%C3%AFc%C3%B8d%C3%A9.txt"),
        ("files/日本 語.txt", "/demo/files/%E6%97%A5%E6%9C%AC%20%E8%AA%9E.txt"),
        ("files/a&b=c;d,e@f:g$h!i*j'k(l)m[n]o.txt",
         "/demo/files/a%26b%3Dc%3Bd%2Ce%40f%3Ag%24h%21i%2Aj%27k%28l%29m%5Bn%5Do.txt"),
        ("files/tilde~dash-under_dot.txt", "/demo/files/tilde~dash-under_dot.txt"),
        ("files/back\\slash.txt", "/demo/files/back%5Cslash.txt"),
    ]

    @Test func scriptKeyAppearsOnlyEscaped() {
        let key = #"xss/"><script>alert(1)</script>"#
        let page = makePage(folders: [#"xss/"><img src=x onerror=alert(1)>/"#],
                            objects: [(key, "12", "2026-11-29T01:19:20.000Z"),
                                      (#"xss/' onmouseover='alert(1)"#, "1", ""),
                                      ("xss/a&b.txt", "1", ""),
                                      ("xss/it's.txt", "1", "")])
        let html = renderListing(bucket: "browse", prefix: "xss/", page)
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
        #expect(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;/"))
        #expect(html.contains("&#39; onmouseover=&#39;alert(1)"))
        #expect(html.contains(">a&amp;b.txt<"))
        #expect(html.contains(">it&#39;s.txt<"))
        // Only the renderer's own elements; attributes only those it writes.
        let allowed: Set<String> = ["html", "head", "meta", "title", "style", "body",
                                    "h1", "table", "thead", "tbody", "tr", "th", "td",
                                    "a", "p"]
        for element in htmlElements(html) {
            #expect(allowed.contains(element.name), "\(element.name)")
            #expect(Set(element.attributes.keys).isSubset(of: ["charset", "name", "content",
                                                               "href", "class", "rel"]),
                    "\(element.attributes)")
        }
        // Every href is made of unreserved characters, `/` and escapes.
        for link in htmlLinks(html) {
            #expect(link.href.unicodeScalars.allSatisfy {
                $0.isASCII && (PercentEncoding.isUnreserved(UInt8($0.value))
                               || "/%?=".unicodeScalars.contains($0))
            }, "\(link.href)")
        }
        // The links decode to exactly the keys.
        let entries = entryLinks(html)
        #expect(entries.map { decodedPath($0.href) } == [
            "/browse/",
            #"/browse/xss/"><img src=x onerror=alert(1)>/"#,
            "/browse/" + key,
            #"/browse/xss/' onmouseover='alert(1)"#,
            "/browse/xss/a&b.txt",
            "/browse/xss/it's.txt",
        ])
        #expect(entries.map { unescapeHTML($0.text) } == [
            "../", #""><img src=x onerror=alert(1)>/"#, #""><script>alert(1)</script>"#,
            #"' onmouseover='alert(1)"#, "a&b.txt", "it's.txt",
        ])
    }

    @Test func titleAndHeadingAreEscaped() {
        // A folder named like markup shows as text in <title> and <h1>.
        let prefix = "</title><script>x</script>/"
        let html = renderListing(bucket: "b", prefix: prefix,
                          makePage(objects: [(prefix + "f", "1", "")]))
        #expect(!html.contains("<script"))
        #expect(!html.contains("</title><"))
        #expect(html.contains("<title>Index of /b/&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;/</title>"))
    }

    @Test func controlBytesNeverAppearRaw() {
        let key = "ctl/a\u{0}b\u{1b}c\r\nd\u{7f}.txt"
        let html = renderListing(bucket: "b", prefix: "ctl/", makePage(objects: [(key, "1", "")]))
        #expect(!html.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        #expect(!html.unicodeScalars.contains { $0.value == 0x7f })
        #expect(html.contains("a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}d\u{FFFD}.txt"))
        #expect(entryLinks(html).last?.href == "/b/ctl/a%00b%1Bc%0D%0Ad%7F.txt")
    }

    @Test func awkwardKeysArePercentEncodedInLinks() {
        let page = makePage(objects: Self.awkward.map { ($0.key, "1", "") })
        let html = renderListing(bucket: "demo", prefix: "files/", page)
        let entries = entryLinks(html).dropFirst()  // ../
        #expect(entries.map(\.href) == Self.awkward.map(\.href))
        for (entry, expected) in zip(entries, Self.awkward) {
            #expect(decodedPath(entry.href) == "/demo/" + expected.key)
            #expect(unescapeHTML(entry.text) == String(expected.key.dropFirst("files/".count)))
        }
    }

    @Test func awkwardLinksRouteToTheirObjects() {
        // Following a rendered link reaches the very key it shows.
        let page = makePage(objects: Self.awkward.map { ($0.key, "1", "") })
        let html = renderListing(bucket: "demo", prefix: "files/", page)
        for (entry, expected) in zip(entryLinks(html).dropFirst(), Self.awkward) {
            let route = Router.route(method: ArraySlice(bytes("GET")),
                                     path: ArraySlice(bytes(entry.href)), query: [])
            guard case .redirect(let target) = route else {
                Issue.record("\(entry.href): \(route)")
                continue
            }
            #expect(text(target.bucket) == "demo")
            #expect(text(target.key) == expected.key)
        }
    }

    @Test(arguments: ["/evil.example", "//evil.example/x", "/", "///a/"])
    func linksStayOnTheSiteAtARootMount(key: String) {
        // A location mounted at `/` with its own bucket: links start with
        // the base `/`; a key's own leading `/` must not make `//host`.
        let page = makePage(objects: [(key, "1", "")])
        let html = text(ListingHTML(bucket: bytes("site"), prefix: [],
                                    base: bytes("/")).render(page))
        for link in htmlLinks(html) where !link.href.hasPrefix("?") {
            #expect(link.href.hasPrefix("/"))
            #expect(!link.href.hasPrefix("//"))
            #expect(!link.href.contains("\\"))
        }
        let entry = entryLinks(html).first
        #expect(entry.flatMap { decodedPath($0.href) } == "/" + key)
    }

    @Test func foldersFirstThenFilesInS3Order() {
        let page = makePage(
            folders: ["files/nested/", "files/a b#?/", "files/ü/"],
            objects: [("files/", "0", "2026-01-01T00:00:00.000Z"),   // folder marker
                      ("files/b.txt", "20", "2026-11-29T01:19:20.000Z"),
                      ("files/a.txt", "65536", "2025-02-03T04:05:06.789Z"),
                      ("other/x.txt", "1", "")])                      // not below prefix
        let html = renderListing(bucket: "demo", prefix: "files/", page)
        let entries = entryLinks(html)
        #expect(entries.map(\.href) == ["/demo/", "/demo/files/nested/",
                                        "/demo/files/a%20b%23%3F/", "/demo/files/%C3%BC/",
                                        "/demo/files/b.txt", "/demo/files/a.txt"])
        #expect(entries.map(\.text) == ["../", "nested/", "a b#?/", "ü/", "b.txt", "a.txt"])
        // Sizes as S3 reports them; folders have none; dates shortened.
        let cells = htmlElements(html).filter { $0.name == "td" }.map(\.followingText)
        #expect(cells.contains("20"))
        #expect(cells.contains("65536"))
        #expect(cells.contains("2026-11-29 01:19:20 UTC"))
        #expect(cells.contains("2025-02-03 04:05:06 UTC"))
        #expect(cells.filter { $0 == "-" }.count == 3)
        #expect(!html.contains("other/x.txt"))
    }

    @Test func shortDate() {
        #expect(text(ListingHTML.shortDate(bytes("2026-11-29T01:19:20.000Z")))
                == "2026-11-29 01:19:20 UTC")
        #expect(text(ListingHTML.shortDate(bytes("2026-11-29T01:19:20Z")))
                == "2026-11-29 01:19:20 UTC")
        #expect(text(ListingHTML.shortDate(bytes("yesterday"))) == "yesterday")
        #expect(text(ListingHTML.shortDate(bytes(""))) == "")
    }

    @Test func breadcrumbLinksEveryAncestor() {
        let html = renderListing(bucket: "demo", prefix: "files/nested dir/deep#1/",
                          makePage(objects: [("files/nested dir/deep#1/x", "1", "")]))
        guard let h1 = html.firstRange(of: "<h1>"), let h1End = html.firstRange(of: "</h1>") else {
            Issue.record("no heading")
            return
        }
        let crumbs = htmlLinks(String(html[h1.lowerBound..<h1End.upperBound]))
        #expect(crumbs.map(\.href) == ["/demo/", "/demo/files/", "/demo/files/nested%20dir/",
                                       "/demo/files/nested%20dir/deep%231/"])
        #expect(crumbs.map(\.text) == ["demo", "files", "nested dir", "deep#1"])
        #expect(html.contains("<title>Index of /demo/files/nested dir/deep#1/</title>"))
    }

    @Test func parentLink() {
        let deep = renderListing(bucket: "demo", prefix: "a/b c/",
                          makePage(objects: [("a/b c/x", "1", "")]))
        #expect(entryLinks(deep).first?.href == "/demo/a/")
        #expect(entryLinks(deep).first?.text == "../")
        let top = renderListing(bucket: "demo", prefix: "a/", makePage(objects: [("a/x", "1", "")]))
        #expect(entryLinks(top).first?.href == "/demo/")
        // The bucket's root has no parent row.
        let root = renderListing(bucket: "demo", prefix: "", makePage(folders: ["a/"],
                                                              objects: [("x", "1", "")]))
        #expect(entryLinks(root).map(\.href) == ["/demo/a/", "/demo/x"])
        #expect(!root.contains("../"))
    }

    @Test func nextPageLinkCarriesTheEncodedToken() {
        let token = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=+x y&z"
        let html = renderListing(bucket: "demo", prefix: "listing/",
                          makePage(objects: [("listing/item-0000.txt", "1", "")],
                                   truncated: true, token: token))
        let next = htmlElements(html).filter { $0.name == "a" && $0.attributes["rel"] == "next" }
        #expect(next.count == 1)
        let href = next.first?.attributes["href"] ?? ""
        #expect(href == "?page=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D%2Bx%20y%26z")
        #expect(next.first?.followingText == "Next page")

        // The link, resolved against the folder, asks the router for
        // exactly that continuation token.
        let route = Router.route(method: ArraySlice(bytes("GET")),
                                 path: ArraySlice(bytes("/demo/listing/")),
                                 query: ArraySlice(bytes(String(href.dropFirst()))),
                                 policy: Policy(listings: true))
        guard case .proxy(let target) = route else {
            Issue.record("\(route)")
            return
        }
        var query: [UInt8] = []
        target.query.write(to: &query)
        #expect(text(query) == "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2F"
                 + "wm36Hy4vbOwM%3D%2Bx%20y%26z&delimiter=%2F&list-type=2&prefix=listing%2F")
        #expect(target.rendering == .listingLaterPage)
    }

    @Test func noNextPageLinkOnTheLastPage() {
        let last = renderListing(bucket: "demo", prefix: "", makePage(objects: [("x", "1", "")],
                                                              truncated: false, token: "t"))
        #expect(!last.contains("Next page"))
        // Truncated without a token: nothing to link to.
        let tokenless = renderListing(bucket: "demo", prefix: "",
                               makePage(objects: [("x", "1", "")], truncated: true))
        #expect(!tokenless.contains("Next page"))
    }

    @Test func renderedFromS3XML() {
        // The whole path: S3's escaped XML to links and text.
        let page = listingPage("""
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\
            <Name>browse</Name><Prefix>xss/</Prefix><KeyCount>2</KeyCount>\
            <MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>\
            <Contents><Key>xss/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;.txt</Key>\
            <LastModified>2026-11-29T01:19:20.000Z</LastModified><ETag>&quot;e&quot;</ETag>\
            <Size>7</Size><StorageClass>STANDARD</StorageClass></Contents>\
            <CommonPrefixes><Prefix>xss/&lt;b&gt;/</Prefix></CommonPrefixes>\
            </ListBucketResult>
            """)
        let html = renderListing(bucket: "browse", prefix: "xss/", page)
        #expect(!html.contains("<script") && !html.contains("<b>"))
        #expect(entryLinks(html).map(\.href) == [
            "/browse/", "/browse/xss/%3Cb%3E/",
            "/browse/xss/%22%3E%3Cscript%3Ealert%281%29%3C/script%3E.txt",
        ])
    }
}

// MARK: The C entry point

@Suite struct ListingCAPITests {

    /// What an allocator was asked for, and what it handed out: a buffer
    /// of the size asked followed by a guard region.
    final class Allocations {
        var sizes: [Int] = []
        var buffers: [UnsafeMutableBufferPointer<UInt8>] = []
        var refuse = false
        static let guardSize = 256
        deinit { buffers.forEach { $0.deallocate() } }
    }

    static let allocate: s3p_alloc_t = { data, size in
        let allocations = Unmanaged<Allocations>.fromOpaque(data!).takeUnretainedValue()
        allocations.sizes.append(size)
        if allocations.refuse { return nil }
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(
            capacity: size + Allocations.guardSize)
        buffer.initialize(repeating: 0xA5)
        allocations.buffers.append(buffer)
        return buffer.baseAddress
    }

    /// Calls s3p_render_listing as the module does, with an allocator
    /// that checks it is asked once, at most, and written within what it
    /// gave.
    static func renderC(bucket: String, key: String, xml: [UInt8],
                        render: s3p_render_t = S3P_RENDER_LISTING)
        -> (rc: Int32, status: Int32, html: String)
    {
        let memory = CMemory()
        var result = s3p_result_t()
        result.action = S3P_ACTION_PROXY
        result.bucket = memory.str(bucket)
        result.key = memory.str(key)
        result.render = render
        let allocations = Allocations()
        var page = s3p_str_t()
        var status: Int32 = 0
        let rc = xml.withUnsafeBufferPointer {
            s3p_render_listing(&result, $0.baseAddress, xml.count, allocate,
                               Unmanaged.passUnretained(allocations).toOpaque(), &page,
                               &status)
        }
        #expect(allocations.sizes.count <= 1, "the page was allocated more than once")
        if rc == S3P_OK && status == 404 {
            // Nothing to list: the page says 404 Not Found.
            #expect(allocations.sizes.count == 1 && page.len > 0)
        }
        guard let buffer = allocations.buffers.first else {
            return (rc, status, "")
        }
        let size = allocations.sizes[0]
        #expect(buffer[size...].allSatisfy { $0 == 0xA5 }, "wrote past the allocation")
        #expect(page.data == UnsafePointer(buffer.baseAddress) && page.len == size,
                "the size was not exact")
        return (rc, status, text(buffer[..<size]))
    }

    @Test func failedAllocationIsNoSpace() {
        let memory = CMemory()
        var result = s3p_result_t()
        result.bucket = memory.str("demo")
        result.key = memory.str("a/")
        result.render = S3P_RENDER_LISTING
        let xml = Array("""
            <ListBucketResult><Contents><Key>a/b</Key></Contents></ListBucketResult>
            """.utf8)
        let allocations = Allocations()
        allocations.refuse = true
        var page = s3p_str_t()
        var status: Int32 = 0
        let rc = xml.withUnsafeBufferPointer {
            s3p_render_listing(&result, $0.baseAddress, xml.count, Self.allocate,
                               Unmanaged.passUnretained(allocations).toOpaque(), &page,
                               &status)
        }
        #expect(rc == S3P_E_SPACE && page.len == 0 && allocations.sizes.count == 1)
    }

    @Test func emptyFirstPageIs404() {
        let xml = bytes("<ListBucketResult><KeyCount>0</KeyCount>"
                        + "<IsTruncated>false</IsTruncated></ListBucketResult>")
        let first = Self.renderC(bucket: "demo", key: "nope/", xml: xml)
        #expect(first.rc == S3P_OK && first.status == 404)
        #expect(first.html.contains("<h1>404 Not Found</h1>"))
        // A later page may be empty (S3 can end on an empty page): rendered.
        let later = Self.renderC(bucket: "demo", key: "nope/", xml: xml,
                                 render: S3P_RENDER_LISTING_MORE)
        #expect(later.rc == S3P_OK && later.status == 200)
        #expect(later.html.contains("<table>"))
    }

    @Test func rendersWithinTheBound() {
        let xml = bytes("<ListBucketResult><Contents><Key>d/&quot;&gt;x</Key><Size>1</Size>"
                        + "</Contents></ListBucketResult>")
        let r = Self.renderC(bucket: "demo", key: "d/", xml: xml)
        #expect(r.rc == S3P_OK && r.status == 200)
        #expect(r.html.contains("&quot;&gt;x"))
    }

    /// Keys made of the bytes that grow most when rendered (each is
    /// escaped in text and percent-encoded in the href), in the densest
    /// XML that carries them, with the longest bucket name.
    @Test(arguments: ["'", "\"", "<", "&", "\u{1}", "é", "a"])
    func worstCaseStaysWithinTheBound(_ unit: String) {
        let bucket = String(repeating: "b", count: 63)
        let raw: String
        switch unit {
        case "<": raw = "&lt;"
        case "&": raw = "&amp;"
        default: raw = unit
        }
        for length in [0, 1, 2, 10, 300] {
            let name = String(repeating: raw, count: length)
            var xml = "<ListBucketResult>"
            for _ in 0..<200 {
                xml += "<CommonPrefixes><Prefix>\(name)</Prefix></CommonPrefixes>"
                    + "<Contents><Key>\(name)</Key><Size>\(name)</Size>"
                    + "<LastModified>\(name)</LastModified></Contents>"
            }
            xml += "<IsTruncated>true</IsTruncated><NextContinuationToken>\(name)"
                + "</NextContinuationToken></ListBucketResult>"
            let r = Self.renderC(bucket: bucket, key: "", xml: bytes(xml))
            #expect(r.rc == S3P_OK, "\(unit) x \(length)")
        }
    }

    /// Whatever the XML holds, a page shows at most S3P_LISTING_ROWS rows
    /// (S3's page size) of keys of at most 1,024 bytes, so the page's size
    /// is bounded: here 5,000 entries of the worst-growing key, and keys
    /// too long to be S3's.
    @Test func rowsAreCappedWhateverTheXMLHolds() {
        let name = String(repeating: "\"", count: 1000)
        var xml = "<ListBucketResult>"
        for index in 0..<5000 {
            xml += "<Contents><Key>\(name)\(index)</Key><Size>1</Size></Contents>"
        }
        xml += "<Contents><Key>\(String(repeating: "k", count: 1025))</Key></Contents>"
        xml += "</ListBucketResult>"
        let r = Self.renderC(bucket: String(repeating: "b", count: 63), key: "",
                             xml: bytes(xml))
        #expect(r.rc == S3P_OK && r.status == 200)
        // The table's heading row, then the rows.
        #expect(r.html.split(separator: "<tr>", omittingEmptySubsequences: false).count - 1
                == 1 + Int(S3P_LISTING_ROWS))
        #expect(!r.html.contains(String(repeating: "k", count: 1025)))
        // The documented bound: about 10 KB a row at worst.
        #expect(r.html.utf8.count <= Int(S3P_LISTING_ROWS) * 10_500 + 16_384)
        // More than one S3 page of XML is refused.
        var page = s3p_str_t()
        var status: Int32 = 0
        var result = s3p_result_t()
        let allocations = Allocations()
        let oversized = s3p_render_listing(
            &result, nil, Int(S3P_LISTING_XML_MAX) + 1, Self.allocate,
            Unmanaged.passUnretained(allocations).toOpaque(), &page, &status)
        #expect(oversized == S3P_E_SPACE && allocations.sizes.isEmpty)
    }

    /// The breadcrumb links every ancestor of the folder, each link
    /// repeating the path up to it: its size grows with the square of the
    /// folder's depth.  Probes how deep a folder renders.
    static func deepFolder(depth: Int, segment: String, bucket: String = "demo")
        -> (rc: Int32, status: Int32, html: String)
    {
        let folder = String(repeating: segment + "/", count: depth)
        // What moto/S3 answer for the folder: the request's Prefix, one key.
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
            + "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>\(bucket)</Name>"
            + "<Prefix>\(folder)</Prefix><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>"
            + "<IsTruncated>false</IsTruncated><Contents><Key>\(folder)x.txt</Key>"
            + "<LastModified>2026-11-29T01:19:20.000Z</LastModified><ETag>"
            + "&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>1</Size>"
            + "<StorageClass>STANDARD</StorageClass></Contents><KeyCount>1</KeyCount>"
            + "</ListBucketResult>"
        return renderC(bucket: bucket, key: folder, xml: bytes(xml))
    }

    @Test(arguments: [(1, "a"), (20, "a"), (150, "a"), (8, "long folder name é"),
                      (75, "é"), (100, "folder")])
    func moderatelyDeepFoldersRender(_ depth: Int, _ segment: String) {
        let r = Self.deepFolder(depth: depth, segment: segment)
        #expect(r.rc == S3P_OK && r.status == 200)
        #expect(r.html.contains("x.txt</a>"))
    }

    /// Found by this suite (fixed): a folder 154 levels deep (`a/a/.../`, a 308-byte key, far
    /// below S3's 1,024-byte key limit), 79 levels of a two-byte name such
    /// as `é/` (237 bytes) or 112 levels of `folder/` (784 bytes) renders
    /// larger than the bound the module then allocated, so the request
    /// failed.  Cause: ListingHTML.breadcrumb wrote one link per ancestor,
    /// each with the whole encoded path up to it (quadratic in depth); it
    /// now links at most breadcrumbLevels, and the module allocates the
    /// page's exact size.
    @Test(arguments: [(154, "a"), (200, "a"), (511, "a"), (79, "é"), (112, "folder")])
    func deepFoldersRender(_ depth: Int, _ segment: String) {
        let r = Self.deepFolder(depth: depth, segment: segment)
        #expect(r.rc == S3P_OK && r.status == 200)
    }

    // The policy a rendered listing is answered with (s3p_answer_plan).
    @Test func contentSecurityPolicy() {
        var result = s3p_result_t()
        result.render = S3P_RENDER_LISTING
        var answer = s3p_answer_t()
        s3p_answer_plan(&result, 200, 200, UInt32(S3P_ANSWER_BODY), &answer)
        let headers = AnswerPlanTests.headers(answer)
        guard let policy = headers["Content-Security-Policy"] else {
            Issue.record("no policy")
            return
        }
        #expect(headers["X-Content-Type-Options"] == "nosniff")
        let directives = policy.split(separator: ";").map {
            $0.split(separator: " ").map(String.init)
        }
        #expect(directives.contains(["default-src", "'none'"]))
        #expect(!policy.contains("script-src"))
        #expect(!policy.contains("unsafe-eval"))
    }
}

// The core's one XML reader (XMLReader), and the three readers built on
// it agreeing on what they accept: ListObjectsV2 pages (ListingPage),
// S3's error documents (S3Error.code) and STS's answers (STSResponse).
//
// Sources of the expectations:
// - XML 1.0 (https://www.w3.org/TR/xml/): predefined entities and
//   character references (4.1, 4.6), CDATA sections (2.7), comments (2.5),
//   processing instructions (2.6), element type match (3, WFC);
// - Namespaces in XML 1.0 (https://www.w3.org/TR/xml-names/): a prefixed
//   name's local part follows its colon;
// - the S3 and STS answers quoted in ListingTests, S3ErrorTests and
//   CredentialsTests.

import Testing
@testable import S3Proxy

/// Every event of `xml`, written as `<name`, `name>text` and the final
/// event's name.
fileprivate func events(_ xml: String) -> [String] {
    let bytes = Array(xml.utf8)
    return bytes.withUnsafeBufferPointer { buffer in
        var reader = XMLReader(buffer)
        var out: [String] = []
        while true {
            switch reader.next() {
            case .start:
                out.append("<" + String(decoding: reader.name, as: UTF8.self))
            case .end(let text):
                out.append(String(decoding: reader.name, as: UTF8.self) + ">"
                           + String(decoding: text, as: UTF8.self))
            case .finished: out.append("finished"); return out
            case .truncated: out.append("truncated"); return out
            case .malformed: out.append("malformed"); return out
            }
        }
    }
}

@Test(arguments: [
    // elements, empty elements, attributes (a quoted `>` is no tag end)
    ("<a><b>x</b><c/></a>", ["<a", "<b", "b>x", "<c", "c>", "a>", "finished"]),
    ("<a k=\"1>2\" j='>'>t</a>", ["<a", "a>t", "finished"]),
    ("<a\n>t</a\t>", ["<a", "a>t", "finished"]),
    // namespace prefixes: compared by local name
    ("<s3:a xmlns:s3=\"u\"><s3:b>x</s3:b></s3:a>", ["<a", "<b", "b>x", "a>", "finished"]),
    // declaration, comments and processing instructions are skipped,
    // a byte order mark first too
    ("\u{FEFF}<?xml version=\"1.0\"?>\n<!-- <a> --><a>x<!-- > -->y<?pi ?>z</a>",
     ["<a", "a>xyz", "finished"]),
    // references decoded once; unknown ones stay
    ("<a>&lt;&amp;amp;&#x41;&#66;&nbsp;</a>", ["<a", "a><&amp;AB&nbsp;", "finished"]),
    // CDATA is character data as written, markup and references included
    ("<a>1<![CDATA[<b>&amp;]]>2</a>", ["<a", "a>1<b>&amp;2", "finished"]),
    // the root's end finishes the reading
    ("<a/><b>", ["<a", "a>", "finished"]),
    // truncated: what was read before stays read
    ("<a><b>x</b><c>y", ["<a", "<b", "b>x", "<c", "truncated"]),
    ("<a><b", ["<a", "truncated"]),
    ("<a><!-- x", ["<a", "truncated"]),
    ("<a><![CDATA[x", ["<a", "truncated"]),
    ("", ["truncated"]),
    // refused
    ("<a></b>", ["<a", "malformed"]),
    ("<a><b></a>", ["<a", "<b", "malformed"]),
    ("</a>", ["malformed"]),
    ("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", ["malformed"]),
    ("text<a/>", ["malformed"]),
    ("<![CDATA[x]]><a/>", ["malformed"]),
    ("<>", ["malformed"]),
    ("<a></a x>", ["<a", "malformed"]),
])
func readerEvents(_ xml: String, _ expected: [String]) {
    #expect(events(xml) == expected)
}

@Test func depthIsCapped() {
    let deep = String(repeating: "<a>", count: XMLReader.maxDepth + 1)
    let seen = events(deep)
    #expect(seen.count == XMLReader.maxDepth + 1)
    #expect(seen.last == "malformed")
}

@Test func everyPrefixOfADocumentEndsCleanly() {
    let whole = "<?xml version=\"1.0\"?><r a='1'><x>&amp;<![CDATA[c]]></x><!--n--><y/></r>"
    let full = Array(whole.utf8)
    for cut in 0..<full.count {
        let seen = events(String(decoding: full[..<cut], as: UTF8.self))
        #expect(["truncated", "malformed"].contains(seen.last ?? ""), "cut \(cut)")
    }
    #expect(events(whole).last == "finished")
}

// MARK: The readers agree on prefixes

@Test func listingWithAPrefixedNamespace() {
    let xml = Array("""
        <s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">\
        <s3:Contents><s3:Key>a&amp;b</s3:Key><s3:Size>1</s3:Size></s3:Contents>\
        <s3:CommonPrefixes><s3:Prefix>d/</s3:Prefix></s3:CommonPrefixes>\
        <s3:IsTruncated>true</s3:IsTruncated>\
        <s3:NextContinuationToken>t</s3:NextContinuationToken></s3:ListBucketResult>
        """.utf8)
    let page = xml.withUnsafeBufferPointer { ListingPage(xml: $0) }
    #expect(page.objects.map(\.key) == [Array("a&b".utf8)])
    #expect(page.folders == [Array("d/".utf8)])
    #expect(page.isTruncated && page.nextToken == Array("t".utf8))
}

@Test func listingKeyInCDATA() {
    let xml = Array("""
        <ListBucketResult><Contents><Key><![CDATA[a<b]]></Key></Contents></ListBucketResult>
        """.utf8)
    let page = xml.withUnsafeBufferPointer { ListingPage(xml: $0) }
    #expect(page.objects.map(\.key) == [Array("a<b".utf8)])
}

@Test func listingOfAnotherRootIsEmpty() {
    let xml = Array("<Other><Contents><Key>k</Key></Contents></Other>".utf8)
    #expect(xml.withUnsafeBufferPointer { ListingPage(xml: $0) }.isEmpty)
}

@Test(arguments: [
    ("<s3:Error xmlns:s3=\"x\"><s3:Code>NoSuchKey</s3:Code></s3:Error>", "NoSuchKey"),
    ("<Error><Code><![CDATA[SlowDown]]></Code></Error>", "SlowDown"),
    ("<Error><Message>m</Message><Code>AccessDenied</Code></Error>", "AccessDenied"),
    ("<Error><Code>No&amp;Key</Code></Error>", ""),            // not a plain code
    ("<Error><Resource><Code>NoSuchKey</Code></Resource></Error>", ""),  // not the Error's
    ("<Other><Code>NoSuchKey</Code></Other>", ""),
    ("<!DOCTYPE Error><Error><Code>NoSuchKey</Code></Error>", ""),
])
func errorCodes(_ xml: String, _ code: String) {
    let bytes = Array(xml.utf8)
    #expect(bytes.withUnsafeBufferPointer { S3Error.code(in: $0) } == Array(code.utf8))
}

@Test func stsAnswerWithAPrefixedNamespace() {
    let answer = STSResponse(Array("""
        <sts:AssumeRoleWithWebIdentityResponse xmlns:sts="https://sts.amazonaws.com/doc/2011-06-15/">\
        <sts:AssumeRoleWithWebIdentityResult><sts:Credentials>\
        <sts:AccessKeyId>ASIA1</sts:AccessKeyId><sts:SecretAccessKey>s&amp;k</sts:SecretAccessKey>\
        <sts:SessionToken>tok</sts:SessionToken><sts:Expiration>2026-12-01T09:00:00Z</sts:Expiration>\
        </sts:Credentials></sts:AssumeRoleWithWebIdentityResult></sts:AssumeRoleWithWebIdentityResponse>
        """.utf8))
    #expect(answer.root == Array("AssumeRoleWithWebIdentityResponse".utf8))
    #expect(answer.accessKey == Array("ASIA1".utf8))
    #expect(answer.secretKey == Array("s&k".utf8))
    #expect(answer.sessionToken == Array("tok".utf8))
    #expect(answer.expiration == Array("2026-12-01T09:00:00Z".utf8))
}

@Test func stsErrorWithAPrefixedNamespace() {
    let answer = STSResponse(Array("""
        <x:ErrorResponse xmlns:x="https://sts.amazonaws.com/doc/2011-06-15/"><x:Error>\
        <x:Code>InvalidIdentityToken</x:Code></x:Error></x:ErrorResponse>
        """.utf8))
    #expect(answer.root.isEmpty)
    #expect(answer.errorCode == Array("InvalidIdentityToken".utf8))
}

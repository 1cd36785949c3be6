// STS's AssumeRoleWithWebIdentityResponse
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html):
//
//   <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//     <AssumeRoleWithWebIdentityResult>
//       <Credentials>
//         <SessionToken>...</SessionToken>
//         <SecretAccessKey>...</SecretAccessKey>
//         <Expiration>2026-12-01T09:00:00Z</Expiration>
//         <AccessKeyId>ASIA...</AccessKeyId>
//       </Credentials> ...
//
// and its ErrorResponse (<Error><Code>...</Code>).  A scanner of the
// elements it needs, like ListingPage's; character references decoded.

struct STSResponse {
    var accessKey: [UInt8]?
    var secretKey: [UInt8]?
    var sessionToken: [UInt8]?
    var expiration: [UInt8]?
    var errorCode: [UInt8]?
    var isResponse = false

    init(_ xml: [UInt8]) {
        var path: [[UInt8]] = []
        var text: [UInt8] = []
        var i = 0
        let n = xml.count
        while i < n {
            let byte = xml[i]
            if byte != UInt8(ascii: "<") {
                text.append(byte)
                i += 1
                continue
            }
            var end = i + 1
            while end < n && xml[end] != UInt8(ascii: ">") { end += 1 }
            guard end < n else { break }
            let tag = xml[(i + 1)..<end]
            i = end + 1
            guard let first = tag.first, first != UInt8(ascii: "?"),
                  first != UInt8(ascii: "!"), tag.last != UInt8(ascii: "/")
            else { continue }
            if first == UInt8(ascii: "/") {
                let name = STSResponse.name(tag.dropFirst())
                let parent = path.count >= 2 ? path[path.count - 2] : []
                let value = XMLText.decode(text)
                if parent == Array("Credentials".utf8) && path.count == 4 {
                    switch name {
                    case Array("AccessKeyId".utf8): accessKey = value
                    case Array("SecretAccessKey".utf8): secretKey = value
                    case Array("SessionToken".utf8): sessionToken = value
                    case Array("Expiration".utf8): expiration = value
                    default: break
                    }
                } else if parent == Array("Error".utf8) && name == Array("Code".utf8) {
                    errorCode = value
                }
                if !path.isEmpty { path.removeLast() }
            } else {
                let name = STSResponse.name(tag[...])
                if path.isEmpty && name == Array("AssumeRoleWithWebIdentityResponse".utf8) {
                    isResponse = true
                }
                path.append(name)
                guard path.count <= 16 else { break }
            }
            text.removeAll(keepingCapacity: true)
        }
    }

    /// An element's name: up to the first space, without a prefix.
    private static func name(_ tag: ArraySlice<UInt8>) -> [UInt8] {
        var end = tag.startIndex
        while end < tag.endIndex && tag[end] != 0x20 && tag[end] != 0x09
            && tag[end] != 0x0a && tag[end] != 0x0d && tag[end] != UInt8(ascii: "/")
        {
            end += 1
        }
        var name = tag[tag.startIndex..<end]
        if let colon = name.firstIndex(of: UInt8(ascii: ":")) {
            name = name[(colon + 1)...]
        }
        return Array(name)
    }
}

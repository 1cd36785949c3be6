// Reference implementation (tests only).
//
// A query string as SigV4 canonicalises it.
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// ("CanonicalQueryString"): each name and value is UriEncoded (with `/`
// encoded), the pairs are sorted by name then value, a parameter without a
// value is written `name=`, and pairs are joined with `&`.
//
// The client's query is decoded once first, with a raw `+` as a space (a
// literal plus arrives as `%2B`), so that the result does not depend on
// how the client chose to encode it.
#if !S3P_FUZZ
@testable import S3Proxy
#endif

struct QueryParameter {
    /// Decoded name and value.
    var name: [UInt8]
    var value: [UInt8]
}

struct CanonicalQuery {
    /// Encoded names and values, kept sorted by name then value.
    private(set) var items: [(name: [UInt8], value: [UInt8])] = []

    var isEmpty: Bool { items.isEmpty }

    /// Decodes the raw query of a request.  Empty items (`a&&b`) are
    /// skipped.  Returns nil for a malformed escape or bytes that are not
    /// UTF-8.
    static func parse(_ raw: ArraySlice<UInt8>) -> [QueryParameter]? {
        var parameters: [QueryParameter] = []
        for item in raw.split(separator: UInt8(ascii: "&"),
                              omittingEmptySubsequences: true)
        {
            let name: ArraySlice<UInt8>
            let value: ArraySlice<UInt8>
            if let equals = item.firstIndex(of: UInt8(ascii: "=")) {
                name = item[..<equals]
                value = item[(equals + 1)...]
            } else {
                name = item
                value = []
            }
            guard let decodedName = Plain.percentDecoded(name, plusIsSpace: true),
                  let decodedValue = Plain.percentDecoded(value, plusIsSpace: true),
                  Plain.isUTF8(decodedName),
                  Plain.isUTF8(decodedValue)
            else {
                return nil
            }
            parameters.append(QueryParameter(name: decodedName, value: decodedValue))
        }
        return parameters
    }

    /// Adds one decoded parameter.
    mutating func append<N: Collection<UInt8>, V: Collection<UInt8>>(
        name: N, value: V
    ) {
        var encodedName: [UInt8] = []
        encodedName += Plain.uriEncoded(name, keepSlash: false)
        var encodedValue: [UInt8] = []
        encodedValue += Plain.uriEncoded(value, keepSlash: false)
        appendEncoded(name: encodedName, value: encodedValue)
    }

    /// Adds a parameter whose name and value are already encoded.
    mutating func appendEncoded(name: [UInt8], value: [UInt8]) {
        var index = items.endIndex
        while index > items.startIndex
            && CanonicalQuery.precedes((name, value), items[index - 1])
        {
            index -= 1
        }
        items.insert((name, value), at: index)
    }

    /// Byte order of names, then of values.
    private static func precedes(
        _ a: (name: [UInt8], value: [UInt8]),
        _ b: (name: [UInt8], value: [UInt8])
    ) -> Bool {
        if a.name != b.name {
            return a.name.lexicographicallyPrecedes(b.name)
        }
        return a.value.lexicographicallyPrecedes(b.value)
    }

    /// Appends `name=value&name=value...` to `out`.
    func write(to out: inout [UInt8]) {
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            out.append(contentsOf: item.name)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: item.value)
        }
    }

    /// The number of bytes `write(to:)` appends.
    var byteCount: Int {
        items.reduce(max(items.count * 2 - 1, 0)) {
            $0 + $1.name.count + $1.value.count
        }
    }
}

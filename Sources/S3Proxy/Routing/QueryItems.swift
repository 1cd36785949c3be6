// The query of a request as SigV4 canonicalises it.
//
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// ("CanonicalQueryString"): each name and value is UriEncoded (with `/`
// encoded), the pairs are sorted by name then value, a parameter without a
// value is written `name=`, and pairs are joined with `&`.
//
// The client's query is decoded once first, with a raw `+` as a space (a
// literal plus arrives as `%2B`), so that the result does not depend on
// how the client chose to encode it.  Items live in the answer's buffer;
// their list lives on the stack (Rules.maxQueryItems, and the module's own).

struct QueryItem {
    var name: UnsafeBufferPointer<UInt8>
    var value: UnsafeBufferPointer<UInt8>
}

struct QueryItems {
    private let storage: UnsafeMutableBufferPointer<QueryItem>
    private(set) var count = 0

    init(storage: UnsafeMutableBufferPointer<QueryItem>) {
        self.storage = storage
    }

    subscript(index: Int) -> QueryItem { storage[index] }

    mutating func removeAll() { count = 0 }

    /// Decodes the items of a raw query into `writer`; empty items (`a&&b`)
    /// are skipped, and SDK bookkeeping (Rules.ignoredParameters) and the
    /// parameters the location ignores dropped (each still counts towards
    /// the limit).  False for a malformed escape, bytes that are not UTF-8,
    /// or more than Rules.maxQueryItems items.  The caller checks
    /// `writer.overflowed`.
    mutating func parse(
        _ raw: UnsafeBufferPointer<UInt8>, policy: LocationPolicy, writer: inout BufferWriter
    ) -> Bool {
        var parsed = 0
        var start = 0
        while start < raw.count {
            let end = raw[start...].firstIndex(of: UInt8(ascii: "&")) ?? raw.count
            defer { start = end + 1 }
            if end == start { continue }
            parsed += 1
            guard parsed <= Rules.maxQueryItems else { return false }

            let item = UnsafeBufferPointer(rebasing: raw[start..<end])
            let equals = item.firstIndex(of: UInt8(ascii: "="))
            let rawName = UnsafeBufferPointer(rebasing: item[..<(equals ?? item.count)])
            let rawValue = equals.map { UnsafeBufferPointer(rebasing: item[($0 + 1)...]) }
                ?? Bytes.empty

            let nameStart = writer.count
            guard writer.writeDecoded(rawName, plusIsSpace: true) else { return false }
            let valueStart = writer.count
            guard writer.writeDecoded(rawValue, plusIsSpace: true) else { return false }
            if writer.overflowed { return true }
            let name = writer.slice(nameStart, valueStart)
            let value = writer.slice(from: valueStart)
            guard UTF8Validation.isValid(name), UTF8Validation.isValid(value) else {
                return false
            }
            if isIgnored(name) || policy.ignores(parameter: name) {
                writer.rewind(to: nameStart)
                continue
            }
            storage[count] = QueryItem(name: name, value: value)
            count += 1
        }
        return true
    }

    /// Removes the items named `name`; whether there were any.
    mutating func remove(named name: UnsafeBufferPointer<UInt8>) -> Bool {
        var kept = 0
        for index in 0..<count where !storage[index].name.elementsEqual(name) {
            storage[kept] = storage[index]
            kept += 1
        }
        defer { count = kept }
        return kept < count
    }

    /// Keeps the items `keep` accepts, in their order.
    mutating func keep(where keep: (QueryItem) -> Bool) {
        var kept = 0
        for index in 0..<count where keep(storage[index]) {
            storage[kept] = storage[index]
            kept += 1
        }
        count = kept
    }

    /// Whether an item is named `name`.
    func contains(named name: UnsafeBufferPointer<UInt8>) -> Bool {
        for index in 0..<count where storage[index].name.elementsEqual(name) {
            return true
        }
        return false
    }

    /// Whether an item is named `name`.
    func contains(named name: StaticString) -> Bool {
        for index in 0..<count where name.matches(storage[index].name) {
            return true
        }
        return false
    }

    /// Replaces the items with these three.
    mutating func set(_ a: QueryItem, _ b: QueryItem, _ c: QueryItem) {
        count = 0
        append(a)
        append(b)
        append(c)
    }

    mutating func replaceValue(at index: Int, with value: UnsafeBufferPointer<UInt8>) {
        storage[index].value = value
    }

    mutating func append(_ item: QueryItem) {
        storage[count] = item
        count += 1
    }

    /// UriEncodes every item into `writer` and sorts them by encoded name,
    /// then value, as bytes (insertion sort: there are few).
    mutating func encode(writer: inout BufferWriter) {
        for index in 0..<count {
            let nameStart = writer.count
            writer.writeEncoded(storage[index].name, keepSlash: false)
            let valueStart = writer.count
            writer.writeEncoded(storage[index].value, keepSlash: false)
            storage[index] = QueryItem(name: writer.slice(nameStart, valueStart),
                                       value: writer.slice(from: valueStart))
        }
        guard count > 1 else { return }
        for index in 1..<count {
            let item = storage[index]
            var at = index
            while at > 0 && QueryItems.precedes(item, storage[at - 1]) {
                storage[at] = storage[at - 1]
                at -= 1
            }
            storage[at] = item
        }
    }

    /// Writes `name=value&...` of the items in `range`; `&` first if
    /// `separate`.
    func write(_ range: Range<Int>, separate: Bool, into writer: inout BufferWriter) {
        for index in range {
            if index > range.lowerBound || separate { writer.write(UInt8(ascii: "&")) }
            writer.write(storage[index].name)
            writer.write(UInt8(ascii: "="))
            writer.write(storage[index].value)
        }
    }

    /// The number of (encoded, sorted) items that sort before `name`.
    func countPreceding(_ name: StaticString) -> Int {
        name.withUTF8Buffer { name in
            var preceding = 0
            while preceding < count
                && storage[preceding].name.lexicographicallyPrecedes(name)
            {
                preceding += 1
            }
            return preceding
        }
    }

    private static func precedes(_ a: QueryItem, _ b: QueryItem) -> Bool {
        if !a.name.elementsEqual(b.name) {
            return a.name.lexicographicallyPrecedes(b.name)
        }
        return a.value.lexicographicallyPrecedes(b.value)
    }

    private func isIgnored(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        for ignored in Rules.ignoredParameters where ignored.matches(name) {
            return true
        }
        return false
    }
}

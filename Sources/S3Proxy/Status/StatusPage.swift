// The status page (s3_proxy_status): the counters every worker adds to in
// the shared zone, and each credential source's health, as JSON or in
// Prometheus's text exposition format 0.0.4.
// https://prometheus.io/docs/instrumenting/exposition_formats/
// https://prometheus.io/docs/practices/naming/

internal import CShim

struct StatusPage {
    enum Format {
        case json
        case prometheus
    }

    /// The names of the routes, at their s3p_route_t.
    static let routes: [StaticString] = [
        "redirect", "index_page", "xml_listing", "builtin_listing", "stream", "refused",
        "unavailable",
    ]

    static let prometheusType: StaticString = "text/plain; version=0.0.4; charset=utf-8"
    static let jsonType: StaticString = "application/json"

    let requests: [UInt64]
    let cached: UInt64
    let refused: [UInt64]
    let answers: [UInt64]
    let errors: [UInt64]
    let rows: [UInt64]
    let now: Int64
    let sources: [s3p_status_source_t]
    let locations: [s3p_status_location_t]

    init(_ status: s3p_status_t) {
        var counters = status.counters
        requests = StatusPage.integers(&counters.requests)
        cached = counters.redirects_cached
        refused = StatusPage.integers(&counters.refused)
        answers = StatusPage.integers(&counters.s3_answers)
        errors = StatusPage.integers(&counters.s3_errors)
        rows = StatusPage.integers(&counters.locations)
        now = status.now
        sources = StatusPage.sources(status)
        locations = StatusPage.listed(
            UnsafeBufferPointer(start: status.locations,
                                count: status.locations == nil ? 0 : status.nlocations))
    }

    /// The configuration's credential sources: the providers', then the
    /// environment's static keys, which never expire, if a location signs
    /// with them.
    static func sources(_ status: s3p_status_t) -> [s3p_status_source_t] {
        var out = Array(UnsafeBufferPointer(
            start: status.sources, count: status.sources == nil ? 0 : status.nsources))
        if let key = status.env_access_key {
            var env = s3p_status_source_t()
            env.name = s3p_str_t(len: Variable.environment.utf8CodeUnitCount,
                                 data: Variable.environment.utf8Start)
            env.access_key = key.pointee
            env.expiration = Int64(S3P_NEVER)
            out.append(env)
        }
        return out
    }

    /// Each location and bucket once, where it first appears: C adds one
    /// per location block, and blocks of the same name and bucket (in
    /// other servers) share a row.
    static func listed(_ all: UnsafeBufferPointer<s3p_status_location_t>)
        -> [s3p_status_location_t]
    {
        var out: [s3p_status_location_t] = []
        for location in all where !out.contains(where: {
            Bytes.view($0.name).elementsEqual(Bytes.view(location.name))
                && Bytes.view($0.bucket).elementsEqual(Bytes.view(location.bucket))
        }) {
            out.append(location)
        }
        return out
    }

    /// A C array of integers (nested ones flattened), copied.
    private static func integers<T>(_ tuple: inout T) -> [UInt64] {
        withUnsafeBytes(of: &tuple) { Array($0.bindMemory(to: UInt64.self)) }
    }

    // MARK: Which format

    /// Prometheus's when the query has format=prometheus, or Accept names
    /// text/plain with version=0.0.4; JSON otherwise.
    static func format(query: UnsafeBufferPointer<UInt8>, accept: UnsafeBufferPointer<UInt8>)
        -> Format
    {
        let wanted: StaticString = "format=prometheus"
        for item in query.split(separator: UInt8(ascii: "&"))
            where wanted.withUTF8Buffer({ $0.elementsEqual(item) })
        {
            return .prometheus
        }
        for range in Array(accept).split(separator: UInt8(ascii: ",")) {
            let parts = range.split(separator: UInt8(ascii: ";")).map { ASCII.trimmed($0) }
            guard let type = parts.first, isWord(type, "text/plain") else { continue }
            for parameter in parts.dropFirst() where isWord(parameter, "version=0.0.4") {
                return .prometheus
            }
        }
        return .json
    }

    private static func isWord(_ bytes: [UInt8], _ word: StaticString) -> Bool {
        bytes.withUnsafeBufferPointer { ASCII.equalsIgnoringCase($0, word) }
    }

    // MARK: What a source shows

    /// The access key id as the page shows it: its first and last four
    /// characters; a shorter id not at all.
    static func shortened(_ key: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard key.count > 8 else { return key.isEmpty ? [] : Array("...".utf8) }
        return Array(key.prefix(4)) + Array("...".utf8) + Array(key.suffix(4))
    }

    static func verification(_ v: s3p_verification_t) -> StaticString {
        switch v {
        case S3P_VERIFICATION_OK: return "ok"
        case S3P_VERIFICATION_FAILED: return "failed"
        default: return "unknown"
        }
    }

    /// Seconds until the source's credentials expire; nil for none yet or
    /// keys that never expire.
    func expiresIn(_ source: s3p_status_source_t) -> Int64? {
        guard source.expiration > 0 && source.expiration != Int64(S3P_NEVER) else { return nil }
        return source.expiration - now
    }

    /// The S3 error codes counted, with their counts: the known codes,
    /// then "other".
    var errorCounts: [([UInt8], UInt64)] {
        var out: [([UInt8], UInt64)] = []
        for (index, code) in S3Error.counted.enumerated() where errors[index + 1] > 0 {
            out.append((code.withUTF8Buffer { Array($0) }, errors[index + 1]))
        }
        if errors[0] > 0 { out.append((Array("other".utf8), errors[0])) }
        return out
    }

    /// A location's counters, by route (zeros for a location without a row).
    func row(_ location: s3p_status_location_t) -> [UInt64] {
        let row = Int(location.row)
        guard row < Int(S3P_STATUS_LOCATIONS) else {
            return [UInt64](repeating: 0, count: Int(S3P_ROUTES.rawValue))
        }
        let width = Int(S3P_ROUTES.rawValue)
        return Array(rows[(row * width)..<((row + 1) * width)])
    }
}

// The status page (StatusPage, s3p_status): which format, what a source
// shows, the JSON and the Prometheus text written from a snapshot.
//
// Source of the expectations:
// - Prometheus's text exposition format 0.0.4
//   (https://prometheus.io/docs/instrumenting/exposition_formats/): HELP
//   and TYPE lines, label values with `\`, `"` and line feed escaped, the
//   scraper's Accept header ("application/openmetrics-text;version=1.0.0;
//   q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2");
// - Prometheus's naming practices
//   (https://prometheus.io/docs/practices/naming/): counters end in
//   _total, units in the name;
// - RFC 8259 (JSON): strings escape `"`, `\` and control characters;
// - issue 24: access key ids shortened to their first and last four.

import CShim
import Testing
@testable import S3Proxy

private func page(_ status: s3p_status_t) -> (String, String) {
    var status = status
    var out = s3p_str_t()
    var type: UnsafePointer<CChar>? = nil
    let alloc: s3p_alloc_t = { _, size in UnsafeMutablePointer<UInt8>.allocate(capacity: max(size, 1)) }
    let rc = s3p_status(&status, alloc, nil, &out, &type)
    #expect(rc == S3P_OK)
    let body = String(decoding: UnsafeBufferPointer(start: out.data, count: out.len),
                      as: UTF8.self)
    out.data.map { UnsafeMutablePointer(mutating: $0).deallocate() }
    return (body, type.map { String(cString: $0) } ?? "")
}

private func str(_ s: StaticString) -> s3p_str_t {
    s3p_str_t(len: s.utf8CodeUnitCount, data: s.utf8Start)
}

@Test(arguments: [
    ("", "", false),
    ("format=prometheus", "", true),
    ("a=1&format=prometheus", "", true),
    ("format=prometheusx", "", false),
    ("xformat=prometheus", "", false),
    ("", "text/plain; version=0.0.4", true),
    ("", "TEXT/PLAIN;VERSION=0.0.4", true),
    ("", "application/openmetrics-text;version=1.0.0;q=0.5,"
         + "text/plain;version=0.0.4;q=0.3,*/*;q=0.2", true),
    ("", "text/plain", false),
    ("", "application/json", false),
    ("", "text/html, text/plain;version=0.0.5", false),
])
func formatChosen(query: String, accept: String, prometheus: Bool) {
    let q = Array(query.utf8), a = Array(accept.utf8)
    let format = q.withUnsafeBufferPointer { q in
        a.withUnsafeBufferPointer { a in StatusPage.format(query: q, accept: a) }
    }
    #expect((format == .prometheus) == prometheus)
}

@Test(arguments: [
    ("ASIAEXAMPLE0123456789", "ASIA...6789"),
    ("AKIDS3PROXYTEST", "AKID...TEST"),
    ("ABCDEFGHI", "ABCD...FGHI"),
    ("ABCDEFGH", "..."),
    ("", ""),
])
func accessKeyShortened(key: String, shown: String) {
    let bytes = Array(key.utf8)
    let short = bytes.withUnsafeBufferPointer { StatusPage.shortened($0) }
    #expect(String(decoding: short, as: UTF8.self) == shown)
}

@Test func s3ErrorCodesAreCountedByTheOneTable() {
    #expect(S3Error.counted.count < Int(S3P_S3_ERRORS))
    for (index, code) in S3Error.counted.enumerated() {
        #expect(code.withUTF8Buffer { S3Error.counter(of: $0) } == UInt32(index + 1))
    }
    let other = Array("SomethingNew".utf8)
    #expect(other.withUnsafeBufferPointer { S3Error.counter(of: $0) } == 0)
}

/// A snapshot: routes 1..7, one refusal, S3's 200s and a NoSuchKey, an
/// unknown code, a source with a quote and a line feed in its error, a
/// location.
private func snapshot(
    _ body: (s3p_status_t) -> Void
) {
    var status = s3p_status_t()
    withUnsafeMutableBytes(of: &status.counters.requests) { raw in
        let counts = raw.bindMemory(to: UInt64.self)
        for i in 0..<counts.count { counts[i] = UInt64(i + 1) }
    }
    status.counters.redirects_cached = 9
    withUnsafeMutableBytes(of: &status.counters.refused) {
        $0.bindMemory(to: UInt64.self)[403 - 100] = 2
    }
    withUnsafeMutableBytes(of: &status.counters.s3_answers) {
        $0.bindMemory(to: UInt64.self)[200 - 100] = 5
    }
    let noSuchKey = Array("NoSuchKey".utf8).withUnsafeBufferPointer { S3Error.counter(of: $0) }
    withUnsafeMutableBytes(of: &status.counters.s3_errors) {
        $0.bindMemory(to: UInt64.self)[Int(noSuchKey)] = 3
        $0.bindMemory(to: UInt64.self)[0] = 1
    }
    withUnsafeMutableBytes(of: &status.counters.locations) {
        $0.bindMemory(to: UInt64.self)[Int(S3P_ROUTES.rawValue) + 0] = 4   // row 1
    }
    status.now = 1000
    var sources = [
        s3p_status_source_t(
            name: str("imds"), access_key: str("ASIAEXAMPLE0123456789"),
            error: str("not refreshed: \"x\"\nHTTP status 500"), expiration: 1300,
            refreshed: 990, successes: 7, failures: 2, streak: 1,
            verification: S3P_VERIFICATION_UNKNOWN),
        s3p_status_source_t(
            name: str("env"), access_key: str("AKIDS3PROXYTEST"), error: s3p_str_t(),
            expiration: Int64(S3P_NEVER), refreshed: 0, successes: 0, failures: 0,
            streak: 0, verification: S3P_VERIFICATION_OK),
    ]
    var locations = [
        s3p_status_location_t(name: str("/files/"), bucket: str("demo"), row: 1),
        s3p_status_location_t(name: str("/none/"), bucket: s3p_str_t(),
                              row: UInt32(S3P_STATUS_LOCATIONS)),
    ]
    sources.withUnsafeMutableBufferPointer { s in
        locations.withUnsafeMutableBufferPointer { l in
            status.sources = UnsafePointer(s.baseAddress)
            status.nsources = s.count
            status.locations = UnsafePointer(l.baseAddress)
            status.nlocations = l.count
            body(status)
        }
    }
}

@Test func jsonPage() {
    snapshot { status in
        let (body, type) = page(status)
        #expect(type == "application/json")
        #expect(body.contains("""
            {"requests": {"redirect": 1, "index_page": 2, "xml_listing": 3, \
            "builtin_listing": 4, "stream": 5, "refused": 6, "unavailable": 7},
             "redirects_cached": 9,
             "refused": {"403": 2},
             "s3_responses": {"200": 5},
             "s3_errors": {"NoSuchKey": 3, "other": 1},
            """))
        #expect(body.contains("""
            {"source": "imds", "access_key_id": "ASIA...6789", "expires_in": 300, \
            "last_refresh": 990, "refreshes": 7, "refresh_failures": 2, \
            "failure_streak": 1, "last_error": "not refreshed: \\"x\\"\\u000aHTTP status 500", \
            "verification": "unknown"}
            """))
        #expect(body.contains("""
            {"source": "env", "access_key_id": "AKID...TEST", "expires_in": null, \
            "last_refresh": null, "refreshes": 0, "refresh_failures": 0, \
            "failure_streak": 0, "last_error": null, "verification": "ok"}
            """))
        #expect(body.contains("""
            {"location": "/files/", "bucket": "demo", "requests": {"redirect": 4, \
            "index_page": 0,
            """))
        #expect(body.contains("""
            {"location": "/none/", "bucket": null, "requests": {"redirect": 0,
            """))
    }
}

@Test func prometheusPage() {
    snapshot { var status = $0
        let query: StaticString = "format=prometheus"
        status.query = str(query)
        let (body, type) = page(status)
        #expect(type == "text/plain; version=0.0.4; charset=utf-8")
        let lines = body.split(separator: "\n").map(String.init)
        for expected in [
            "# TYPE s3_proxy_requests_total counter",
            "s3_proxy_requests_total{route=\"redirect\"} 1",
            "s3_proxy_requests_total{route=\"unavailable\"} 7",
            "s3_proxy_redirect_cache_hits_total 9",
            "s3_proxy_refused_total{status=\"403\"} 2",
            "s3_proxy_s3_responses_total{status=\"200\"} 5",
            "s3_proxy_s3_errors_total{code=\"NoSuchKey\"} 3",
            "s3_proxy_s3_errors_total{code=\"other\"} 1",
            "# TYPE s3_proxy_credentials_expiry_seconds gauge",
            "s3_proxy_credentials_expiry_seconds{source=\"imds\"} 300",
            "s3_proxy_credentials_last_refresh_timestamp_seconds{source=\"imds\"} 990",
            "s3_proxy_credentials_refreshes_total{source=\"imds\",result=\"success\"} 7",
            "s3_proxy_credentials_refreshes_total{source=\"imds\",result=\"failure\"} 2",
            "s3_proxy_credentials_failure_streak{source=\"imds\"} 1",
            "s3_proxy_credentials_info{source=\"imds\",access_key_id=\"ASIA...6789\","
                + "verification=\"unknown\",last_error=\"not refreshed: \\\"x\\\"\\nHTTP "
                + "status 500\"} 1",
            "s3_proxy_location_requests_total{location=\"/files/\",bucket=\"demo\","
                + "route=\"redirect\"} 4",
        ] {
            #expect(lines.contains(expected), "\(expected)")
        }
        // keys that never expire have no expiry; every family has its HELP
        #expect(!body.contains("expiry_seconds{source=\"env\"}"))
        for line in lines where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(lines.contains { $0.hasPrefix("# HELP \(name) ") })
            if line.hasSuffix(" counter") { #expect(name.hasSuffix("_total")) }
        }
    }
}

// Each request's route, as the status counters count it (issue 24).
@Test(arguments: [
    ("GET", "/bkt/x.txt", "", "curl/8.0", S3P_ROUTE_REDIRECT),
    ("GET", "/bkt/dir/", "", "curl/8.0", S3P_ROUTE_INDEX_PAGE),
    ("GET", "/bkt/dir/index.html", "", "curl/8.0", S3P_ROUTE_INDEX_PAGE),
    ("GET", "/bkt/", "list-type=2", "curl/8.0", S3P_ROUTE_XML_LISTING),
    ("GET", "/bkt/x.txt", "", "", S3P_ROUTE_STREAM),
    ("DELETE", "/bkt/x.txt", "", "curl/8.0", S3P_ROUTE_REFUSED),
    ("GET", "/", "", "curl/8.0", S3P_ROUTE_REFUSED),
])
func routeCounted(method: String, path: String, query: String, agent: String,
                  route: s3p_route_t)
{
    let memory = CMemory()
    var conf = CAPITests.config(memory)
    var request = CAPITests.request(memory, method, path, query)
    request.user_agent = memory.str(agent)
    var result = s3p_result_t()
    #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
    #expect(result.route == route)
    #expect(result.cached == 0)
}

@Test func folderListingAndHotKeyCounted() {
    let memory = CMemory()
    var signing = CAPITests.signing(memory)
    signing.window = 60
    var conf = s3p_config_t()
    conf.signing = memory.resolve(signing)
    conf.listings = 1
    var result = s3p_result_t()
    var request = CAPITests.request(memory, "GET", "/bkt/dir/")
    request.fallback = 1
    #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
    #expect(result.route == S3P_ROUTE_BUILTIN_LISTING)
    var cached: [Int32] = []
    for _ in 0..<2 {
        var again = CAPITests.request(memory, "GET", "/bkt/hot-\(#line).txt")
        #expect(s3p_handle(&conf, &again, memory.buffer(8192), 8192, &result) == S3P_OK)
        #expect(result.route == S3P_ROUTE_REDIRECT)
        cached.append(result.cached)
    }
    #expect(cached == [0, 1])
}

// The request's bucket's place in the allowlist: the row it counts under.
@Test func allowedBucketsPlace() {
    let memory = CMemory()
    var conf = CAPITests.config(memory)
    var result = s3p_result_t()
    var request = CAPITests.request(memory, "GET", "/bkt/x.txt")
    #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
    #expect(result.allowed == -1)
    let allowed = [memory.str("other"), memory.str("bkt")]
    allowed.withUnsafeBufferPointer { list in
        conf.buckets = list.baseAddress
        conf.nbuckets = list.count
        #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
        #expect(result.allowed == 1)
        var refused = CAPITests.request(memory, "DELETE", "/bkt/x.txt")
        #expect(s3p_handle(&conf, &refused, memory.buffer(8192), 8192, &result) == S3P_OK)
        #expect(result.allowed == -1)
    }
}

// What one event counts (s3p_status_count): applied to zeroed counters the
// way the workers add, then read back by the counters' field names.  A
// request's event carries its result and its location's rows; S3's none.

private let none = UInt32(S3P_STATUS_LOCATIONS)
private let s3 = S3P_ROUTES.rawValue

private func counted(
    route: UInt32, status: Int32 = 0, code: UInt32 = 0, allowed: Int32 = -1,
    rows: [UInt32] = [], cached: Int32 = 0
) -> s3p_status_counters_t {
    var result = s3p_result_t()
    result.route = s3p_route_t(rawValue: route)
    result.status = status
    result.allowed = allowed
    result.cached = cached
    let locations = rows.map { s3p_status_location_t(name: s3p_str_t(), bucket: s3p_str_t(),
                                                     row: $0) }
    var counters = s3p_status_counters_t()
    var at = [Int](repeating: -1, count: Int(S3P_STATUS_BUMPS))
    let n = withUnsafePointer(to: &result) { result in
        locations.withUnsafeBufferPointer { rows in
            var event = s3p_status_event_t(
                result: route == s3 ? nil : result, status: status, code: code,
                rows: rows.baseAddress, nrows: rows.count)
            return s3p_status_count(&event, &at)
        }
    }
    withUnsafeMutableBytes(of: &counters) { raw in
        let all = raw.bindMemory(to: UInt64.self)
        for i in at.prefix(n) { all[i] += 1 }
    }
    return counters
}

private func total(_ counters: s3p_status_counters_t) -> UInt64 {
    var counters = counters
    return withUnsafeBytes(of: &counters) { $0.bindMemory(to: UInt64.self).reduce(0, +) }
}

private func at<T>(_ tuple: T, _ i: Int) -> UInt64 {
    var tuple = tuple
    return withUnsafeBytes(of: &tuple) { $0.bindMemory(to: UInt64.self)[i] }
}

private func location(_ c: s3p_status_counters_t, row: Int, route: UInt32) -> UInt64 {
    at(c.locations, row * Int(S3P_ROUTES.rawValue) + Int(route))
}

@Test func countsARefusalByRouteStatusAndRow() {
    let route = S3P_ROUTE_REFUSED.rawValue
    let c = counted(route: route, status: 403, rows: [2])
    #expect(at(c.requests, Int(route)) == 1)
    #expect(at(c.refused, 303) == 1)
    #expect(location(c, row: 2, route: route) == 1)
    #expect(total(c) == 3)
}

@Test func countsACachedRedirectWithoutARow() {
    let route = S3P_ROUTE_REDIRECT.rawValue
    let c = counted(route: route, rows: [none], cached: 1)
    #expect(at(c.requests, Int(route)) == 1)
    #expect(c.redirects_cached == 1)
    #expect(total(c) == 2)
}

@Test func countsTheLastRowAndRoute() {
    let route = S3P_ROUTE_UNAVAILABLE.rawValue
    let c = counted(route: route, status: 503, rows: [none - 1])
    #expect(at(c.locations, Int(S3P_STATUS_LOCATIONS) * Int(S3P_ROUTES.rawValue) - 1) == 1)
    #expect(total(c) == 2)
}

// The row of a request's allowed bucket (its place in the allowlist, the
// row after the location's own), else the location's own: not allowed
// (-1), or a place beyond the location's rows.
@Test(arguments: [(Int32(-1), 7), (0, 8), (1, 9), (2, 7), (-2, 7)])
func countsTheAllowedBucketsRow(allowed: Int32, row: Int) {
    let route = S3P_ROUTE_REDIRECT.rawValue
    let c = counted(route: route, allowed: allowed, rows: [7, 8, 9])
    #expect(location(c, row: row, route: route) == 1)
    #expect(total(c) == 2)
}

@Test func countsNoRowWithoutRows() {
    let c = counted(route: S3P_ROUTE_REDIRECT.rawValue, allowed: 0)
    #expect(total(c) == 1)
}

@Test func countsS3sAnswersAndErrors() {
    var c = counted(route: s3, status: 200, rows: [0])
    #expect(at(c.s3_answers, 100) == 1)
    #expect(total(c) == 1)
    c = counted(route: s3, code: 5)
    #expect(at(c.s3_errors, 5) == 1)
    #expect(total(c) == 1)
}

@Test(arguments: [
    (s3, Int32(0), UInt32(S3P_S3_ERRORS), Int32(0)),
    (s3, 600, 0, 0),
    (s3 + 1, 200, 0, 1),
])
func countsNothingOutOfRange(route: UInt32, status: Int32, code: UInt32, cached: Int32) {
    #expect(total(counted(route: route, status: status, code: code, rows: [0],
                          cached: cached)) == 0)
}

@Test func refusalsOutsideHTTPStatusesCountTheRouteOnly() {
    let c = counted(route: S3P_ROUTE_REFUSED.rawValue, status: 99)
    #expect(total(c) == 1)
}

// A location's rows (s3p_status_location): its own with its bucket as
// written (none: empty), then its allowlist's, none given a row yet.

@Test func locationRowsAreItsOwnThenItsAllowlists() {
    let buckets = [str("b1"), str("b2")]
    buckets.withUnsafeBufferPointer { list in
        var conf = s3p_config_t()
        conf.buckets = list.baseAddress
        conf.nbuckets = list.count
        var name = str("/files/"), bucket = str("$arg_b")
        var out = [s3p_status_location_t](repeating: s3p_status_location_t(), count: 3)
        s3p_status_location(&conf, &name, &bucket, &out)
        #expect(out.map { String(decoding: Bytes.view($0.bucket), as: UTF8.self) }
                == ["$arg_b", "b1", "b2"])
        #expect(out.allSatisfy { Bytes.view($0.name).elementsEqual("/files/".utf8) })
        #expect(out.allSatisfy { $0.row == none })
        var one = s3p_status_location_t()
        conf.nbuckets = 0
        s3p_status_location(&conf, &name, nil, &one)
        #expect(one.bucket.len == 0 && one.row == none)
    }
}

// The zone's rows (s3p_status_rows): a location keeps its row across
// reloads, a new one takes the first free row, names are capped, and a
// full table gives no row.

private func location(_ name: StaticString, _ bucket: StaticString) -> s3p_status_location_t {
    s3p_status_location_t(name: str(name), bucket: str(bucket), row: 0)
}

@Test func rowsAreKeptAcrossConfigurations() {
    var rows = s3p_status_rows_t()
    var first = [location("/a/", ""), location("/a/", "b1"), location("/c/", "")]
    s3p_status_rows(&first, first.count, &rows)
    #expect(first.map(\.row) == [0, 1, 2])

    var second = [location("/c/", ""), location("/d/", ""), location("/a/", "b1")]
    s3p_status_rows(&second, second.count, &rows)
    #expect(second.map(\.row) == [2, 3, 1])
}

@Test func rowsKeyTheNameAndBucketApart() {
    var rows = s3p_status_rows_t()
    var locs = [location("/ab", ""), location("/a", "b")]
    s3p_status_rows(&locs, locs.count, &rows)
    #expect(locs.map(\.row) == [0, 1])
}

@Test func rowsCapLongNames() {
    let long = [UInt8](repeating: UInt8(ascii: "x"), count: 300)
    var rows = s3p_status_rows_t()
    long.withUnsafeBufferPointer { bytes in
        let name = s3p_str_t(len: bytes.count, data: bytes.baseAddress)
        var locs = [s3p_status_location_t(name: name, bucket: name, row: 0)]
        s3p_status_rows(&locs, 1, &rows)
        #expect(locs[0].row == 0)
    }
    #expect(rows.len.0 == 2 * Int(S3P_STATUS_NAME_MAX) + 1)
}

@Test func rowsRunOut() {
    var rows = s3p_status_rows_t()
    let names = (0...Int(S3P_STATUS_LOCATIONS)).map { Array("/l\($0)/".utf8) }
    var found: [UInt32] = []
    for name in names {
        name.withUnsafeBufferPointer { bytes in
            var loc = s3p_status_location_t(
                name: s3p_str_t(len: bytes.count, data: bytes.baseAddress), bucket: s3p_str_t(),
                row: 0)
            s3p_status_rows(&loc, 1, &rows)
            found.append(loc.row)
        }
    }
    #expect(found == (0...UInt32(S3P_STATUS_LOCATIONS)).map { $0 })
}

@Test func rowsLayoutIsTheHeaders() {
    let count = Int(S3P_STATUS_LOCATIONS), keyMax = 2 * Int(S3P_STATUS_NAME_MAX) + 1
    #expect(MemoryLayout<s3p_status_rows_t>.offset(of: \s3p_status_rows_t.key)
            == count * MemoryLayout<Int>.stride)
    #expect(MemoryLayout<s3p_status_rows_t>.size == count * (MemoryLayout<Int>.stride + keyMax))
}

// A location and bucket listed once (StatusPage.listed): the same name
// with another bucket, or the same bytes split otherwise, is another.
@Test func listsALocationByNameAndBucketOnce() {
    let locs = [location("/a/", ""), location("/a/", "b1"), location("/a", "/b1"),
                location("/a/", "b1"), location("/a/", ""), location("/a/", "b2")]
    let listed = locs.withUnsafeBufferPointer { StatusPage.listed($0) }
        .map { (String(decoding: Bytes.view($0.name), as: UTF8.self),
                String(decoding: Bytes.view($0.bucket), as: UTF8.self)) }
    #expect(listed.map { $0.0 } == ["/a/", "/a/", "/a", "/a/"])
    #expect(listed.map { $0.1 } == ["", "b1", "/b1", "b2"])
}

// The environment's static keys, when a location signs with them, are
// listed after the providers as "env", never expiring.
@Test func theEnvironmentsKeysAreListedLast() {
    let provider = [s3p_status_source_t(
        name: str("imds"), access_key: str("ASIAEXAMPLE0123456789"), error: s3p_str_t(),
        expiration: 1300, refreshed: 990, successes: 7, failures: 0, streak: 0,
        verification: S3P_VERIFICATION_UNKNOWN)]
    var key = str("AKIDS3PROXYTEST")
    let names = { (sources: [s3p_status_source_t]) in
        sources.map { String(decoding: Bytes.view($0.name), as: UTF8.self) }
    }
    provider.withUnsafeBufferPointer { p in
        withUnsafePointer(to: &key) { k in
            var status = s3p_status_t()
            status.sources = p.baseAddress
            status.nsources = 1
            #expect(names(StatusPage.sources(status)) == ["imds"])
            status.env_access_key = k
            let listed = StatusPage.sources(status)
            #expect(names(listed) == ["imds", "env"])
            #expect(String(decoding: Bytes.view(listed[1].access_key), as: UTF8.self)
                    == "AKIDS3PROXYTEST")
            #expect(listed[1].expiration == Int64(S3P_NEVER))
        }
    }
}

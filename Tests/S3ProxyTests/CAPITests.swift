// The C boundary (CShim/include/s3_proxy_core.h), called through its C
// signatures with memory laid out as the nginx module lays it out.
//
// Source of the expectations: the header's contract (C owns all memory;
// results are slices of the caller's buffer; refusals are S3P_OK with
// action REFUSE; S3P_E_SPACE when the buffer is too small; the per-day
// signing key cache in key_date/signing_key), AWS's SigV4 examples in
// /work/shared/sigv4-vectors.md for the signing key of 20130524, and the
// Swift Signer (pinned to AWS's examples in SignerTests) for the signed
// values.

import CShim
import COpenSSL
import Testing
@testable import S3Proxy

/// C memory owned by a test: every string lives as long as this object.
final class CMemory {
    private var allocations: [UnsafeMutableBufferPointer<UInt8>] = []

    func str(_ string: String) -> s3p_str_t {
        str(bytes(string))
    }

    func str(_ value: [UInt8]) -> s3p_str_t {
        if value.isEmpty {
            return s3p_str_t(len: 0, data: nil)
        }
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: value.count)
        _ = buffer.initialize(from: value)
        allocations.append(buffer)
        return s3p_str_t(len: value.count, data: UnsafePointer(buffer.baseAddress))
    }

    /// Uninitialised bytes that live as long as this object.
    func buffer(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(count, 1))
        buffer.initialize(repeating: 0)
        allocations.append(buffer)
        return buffer.baseAddress!
    }

    /// A C struct that lives as long as this object.
    func store<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let stored = UnsafeMutableRawPointer(buffer(MemoryLayout<T>.stride))
            .bindMemory(to: T.self, capacity: 1)
        stored.initialize(to: value)
        return stored
    }

    /// Resolves raw settings as nginx does once its configuration is read,
    /// into memory that lives as long as this object.
    func resolve(_ raw: RawSigning) -> UnsafePointer<s3p_signing_t> {
        var settings = raw.settings(self)
        let stored = store(s3p_signing_t())
        let bound = s3p_signing_bound(&settings)
        precondition(s3p_signing_resolve(&settings, stored, buffer(bound), bound, nil, 0)
                     == S3P_OK)
        return UnsafePointer(stored)
    }

    deinit {
        for buffer in allocations { buffer.deallocate() }
    }
}

/// A location's raw signing settings, the environment's included, as
/// Swift values: `settings(_:)` lays them out as nginx does.
struct RawSigning {
    // the environment
    var accessKey = ""
    var secretKey = ""
    var sessionToken = ""
    var envProfile = ""
    var envRegion = ""
    var region = ""           // AWS_DEFAULT_REGION
    var host = ""
    var scheme = ""
    var externalHost = ""
    var externalScheme = ""
    var credentialsFile = ""
    var configFile = ""
    // the location's directives
    var endpoint = ""
    var externalEndpoint = ""
    var regionDirective = ""
    var credentials = S3P_CREDENTIALS_AUTO
    var profile = ""
    var addressing = S3P_ADDRESSING_PATH
    var expires = Int64(S3P_UNSET)
    var window = Int64(S3P_UNSET)

    func settings(_ memory: CMemory) -> s3p_settings_t {
        var env = s3p_environment_t()
        env.access_key_id = memory.str(accessKey)
        env.secret_access_key = memory.str(secretKey)
        env.session_token = memory.str(sessionToken)
        env.profile = memory.str(envProfile)
        env.region = memory.str(envRegion)
        env.default_region = memory.str(region)
        env.host = memory.str(host)
        env.scheme = memory.str(scheme)
        env.external_host = memory.str(externalHost)
        env.external_scheme = memory.str(externalScheme)
        env.credentials_file = memory.str(credentialsFile)
        env.credentials_path = memory.str("/test/credentials")
        env.config_file = memory.str(configFile)
        env.config_path = memory.str("/test/config")
        var raw = s3p_settings_t()
        raw.env = UnsafePointer(memory.store(env))
        raw.endpoint = memory.str(endpoint)
        raw.external_endpoint = memory.str(externalEndpoint)
        raw.region = memory.str(regionDirective)
        raw.credentials = credentials
        raw.profile = memory.str(profile)
        raw.addressing = addressing
        raw.expires = expires
        raw.window = window
        return raw
    }
}

/// What one s3p_handle call gave, copied out of the output buffer.
struct Outcome {
    var status: Int32
    var action: s3p_action_t
    var httpStatus: Int32
    var bucket: String
    var key: String
    var url: String
    var authorization: String
    var amzDate: String
    /// Where nginx comes back if S3 answers 404 for a folder's index page.
    var fallback: String
    /// A proxied HEAD signed as a GET.
    var getAuthorization: String
    /// The header the answer carries, "Name: value" (empty: none).
    var header: String
    /// The x-amz-checksum-mode sent and the cache key (after the method).
    var checksumMode = ""
    var cacheKey = ""
    /// The end of the last slice: the bytes of the buffer in use.
    var used: Int
}

@Suite struct CAPITests {

    static let host = "s3.internal:9000"
    static let externalHost = "files.example.com"

    /// A configuration built from Swift arrays: AWS's example credentials,
    /// us-east-1, an internal and an external host.
    static func config(_ memory: CMemory, sessionToken: String = "") -> s3p_config_t {
        var conf = s3p_config_t()
        conf.signing = memory.resolve(signing(memory, sessionToken: sessionToken))
        conf.resolver = 1
        return conf
    }

    static func signing(_ memory: CMemory, sessionToken: String = "") -> RawSigning {
        var signing = RawSigning()
        signing.accessKey = AWSExample.accessKey
        signing.secretKey = AWSExample.secretKey
        signing.sessionToken = sessionToken
        signing.region = AWSExample.region
        signing.host = host
        signing.externalHost = externalHost
        signing.scheme = "https"
        signing.expires = 300
        return signing
    }

    static func request(_ memory: CMemory, _ method: String, _ path: String,
                        _ query: String = "",
                        now: Int64 = AWSExample.unixTime) -> s3p_request_t
    {
        s3p_request_t(method: memory.str(method), path: memory.str(path),
                      query: memory.str(query), user_agent: memory.str("curl/8.0"),
                      authorization: s3p_str_t(), amz_date: s3p_str_t(),
                      amz_content_sha256: s3p_str_t(), checksum_mode: s3p_str_t(),
                      now: now, fallback: 0, status: 0,
                      bucket: s3p_str_t(), prefix: s3p_str_t(),
                      target: s3p_str_t(), decoded: 0)
    }

    /// The Swift signer the C entry point should agree with.
    static func signer(unixTime: Int64 = AWSExample.unixTime,
                       sessionToken: String = "",
                       signingKey: [UInt8]? = nil) -> Signer
    {
        let date = AmzDate(unixTime: unixTime)
        let settings = Settings(
            accessKey: bytes(AWSExample.accessKey),
            secretKey: bytes(AWSExample.secretKey),
            sessionToken: bytes(sessionToken), region: bytes(AWSExample.region),
            host: bytes(host), externalHost: bytes(externalHost),
            scheme: bytes("https"), expires: 300)
        let key = signingKey ?? SigningKey.derive(
            secret: settings.secretKey, date: date.date, region: settings.region)!
        return Signer(settings: settings, signingKey: key, date: date)
    }

    /// Calls s3p_handle with a buffer of `cap` bytes followed by a guard
    /// region, checks that the guard is intact and that every slice lies
    /// inside the first `cap` bytes, and copies the slices out.
    static func handle(_ conf: inout s3p_config_t, _ req: s3p_request_t,
                       cap: Int = 8192) -> Outcome
    {
        let guardSize = 256
        let pattern: UInt8 = 0xA5
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: cap + guardSize)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: pattern)
        var result = s3p_result_t()
        var request = req
        let status = s3p_handle(&conf, &request, buffer.baseAddress, cap, &result)

        #expect(buffer[cap...].allSatisfy { $0 == pattern },
                "s3p_handle wrote past cap \(cap)")
        let start = UnsafePointer(buffer.baseAddress!)
        var used = 0
        func copy(_ slice: s3p_str_t) -> String {
            guard slice.len > 0 else { return "" }
            guard let data = slice.data else {
                Issue.record("slice of \(slice.len) bytes without data")
                return ""
            }
            let offset = data - start
            guard offset >= 0, offset + slice.len <= cap else {
                Issue.record("slice [\(offset), +\(slice.len)) outside cap \(cap)")
                return ""
            }
            used = max(used, offset + slice.len)
            return text(UnsafeBufferPointer(start: data, count: slice.len))
        }
        return Outcome(
            status: status, action: result.action, httpStatus: result.status,
            bucket: copy(result.bucket), key: copy(result.key),
            url: copy(result.url), authorization: copy(result.authorization),
            amzDate: copy(result.amz_date), fallback: copy(result.fallback),
            getAuthorization: copy(result.get_authorization),
            header: result.header.map { String(cString: $0) + ": "
                + text(result.header_value.bytes) } ?? "",
            checksumMode: copy(result.checksum_mode), cacheKey: copy(result.cache_key),
            used: used)
    }

    /// This thread's day key slot for `conf`'s signing settings.
    static func slot(_ conf: s3p_config_t) -> UnsafeMutablePointer<s3p_day_key_t>? {
        for index in 0..<UInt32(S3P_DAY_KEYS) {
            let slot = s3p_day_key_slot(index)
            if slot.pointee.generation == conf.signing!.pointee.generation { return slot }
        }
        return nil
    }

    static func keyDate(_ conf: s3p_config_t) -> String {
        guard let slot = slot(conf) else { return String(repeating: "\0", count: 8) }
        return withUnsafeBytes(of: slot.pointee.date) { text($0) }
    }

    static func signingKey(_ conf: s3p_config_t) -> [UInt8] {
        guard let slot = slot(conf) else { return [] }
        return Array(UnsafeBufferPointer(start: s3p_day_key_bytes(slot), count: 32))
    }

    // MARK: Results

    @Test func redirect() throws {
        let memory = CMemory()
        var conf = Self.config(memory)
        let outcome = Self.handle(&conf, Self.request(memory, "GET", "/bkt/dir/a%20b.txt"))
        #expect(outcome.status == S3P_OK)
        #expect(outcome.action == S3P_ACTION_REDIRECT)
        #expect(outcome.httpStatus == 307)
        #expect(outcome.bucket == "bkt")
        #expect(outcome.key == "dir/a b.txt")
        #expect(outcome.authorization == "")
        #expect(outcome.amzDate == "")

        let key = bytes("dir/a b.txt")
        let target = S3Target(bucket: bytes("bkt"), key: key,
                              canonicalPath: Router.canonicalPath(bytes("bkt"), key),
                              query: CanonicalQuery())
        let expected = try #require(Self.signer().presignedURL(method: .get, target: target))
        #expect(outcome.url == text(expected))
        #expect(outcome.url.hasPrefix("https://files.example.com/bkt/dir/a%20b.txt?"
            + "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature="))
    }

    // s3_proxy_presign_window: signed at the window's start, valid for
    // expires + window, cacheable until the window ends; the same URL for
    // every request of the window.
    @Test func presignWindow() throws {
        let memory = CMemory()
        var signing = Self.signing(memory)
        signing.window = 3600
        var conf = s3p_config_t()
        conf.signing = memory.resolve(signing)
        let start = AWSExample.unixTime            // 2013-05-24T00:00:00Z
        var result = s3p_result_t()
        var urls: Set<String> = []
        for now in [start, start + 1, start + 1800, start + 3599] {
            var request = Self.request(memory, "GET", "/bkt/hot.txt", now: now)
            let out = memory.buffer(8192)
            #expect(s3p_handle(&conf, &request, out, 8192, &result) == S3P_OK)
            #expect(result.max_age == start + 3600 - now)
            #expect(String(cString: try #require(result.header)) == "Cache-Control")
            #expect(text(result.header_value.bytes)
                    == "private, max-age=\(start + 3600 - now)")
            let url = text(result.url.bytes)
            #expect(url.contains("&X-Amz-Date=20130524T000000Z&X-Amz-Expires=3900&"))
            urls.insert(url)
        }
        #expect(urls.count == 1)
        var request = Self.request(memory, "GET", "/bkt/hot.txt", now: start + 3600)
        #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
        #expect(text(result.url.bytes).contains("&X-Amz-Date=20130524T010000Z&"))
        #expect(result.max_age == 3600)

        // Proxied requests sign the time itself.
        request = Self.request(memory, "GET", "/bkt/", now: start + 1800)
        #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
        #expect(text(result.amz_date.bytes) == "20130524T003000Z")
        #expect(result.max_age == -1)

        // Without a window: no max-age.
        var plain = Self.config(memory)
        request = Self.request(memory, "GET", "/bkt/hot.txt", now: start + 5)
        #expect(s3p_handle(&plain, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
        #expect(result.max_age == -1 && result.header == nil)
        #expect(text(result.url.bytes).contains("&X-Amz-Date=20130524T000005Z&X-Amz-Expires=300&"))
    }

    // A hot key's redirect copies the signature the thread kept: changing
    // the kept signature changes the answer, for that request only.
    @Test func hotKeyCopiesTheKeptSignature() throws {
        let memory = CMemory()
        var signing = Self.signing(memory)
        signing.window = 60
        var conf = s3p_config_t()
        conf.signing = memory.resolve(signing)
        func url(_ path: String, _ method: String = "GET") -> String {
            var result = s3p_result_t()
            var request = Self.request(memory, method, path, now: AWSExample.unixTime + 7)
            #expect(s3p_handle(&conf, &request, memory.buffer(8192), 8192, &result) == S3P_OK)
            return text(result.url.bytes)
        }
        let first = url("/bkt/hot.txt")
        let signature = String(first.suffix(64))
        var marked = 0
        for index in 0..<UInt64(S3P_URL_SLOTS) {
            guard let slot = s3p_url_slot(index),
                  slot.pointee.generation == conf.signing!.pointee.generation
            else { continue }
            let kept = withUnsafeBytes(of: slot.pointee.signature) { text(Array($0)) }
            if kept == signature {
                withUnsafeMutableBytes(of: &slot.pointee.signature) { $0[0] = UInt8(ascii: "x") }
                marked += 1
            }
        }
        #expect(marked == 1)
        #expect(url("/bkt/hot.txt") == String(first.dropLast(64)) + "x" + signature.dropFirst())
        // Another key, another method: signed afresh.
        #expect(!url("/bkt/cold.txt").hasSuffix("x" + signature.dropFirst()))
        #expect(url("/bkt/hot.txt", "HEAD").suffix(64) != signature.suffix(64))
    }

    // A HEAD is presigned for HEAD: a different signature from GET.
    @Test func redirectHeadSignsHead() throws {
        let memory = CMemory()
        var conf = Self.config(memory)
        let get = Self.handle(&conf, Self.request(memory, "GET", "/bkt/x"))
        let head = Self.handle(&conf, Self.request(memory, "HEAD", "/bkt/x"))
        #expect(head.action == S3P_ACTION_REDIRECT)
        #expect(head.url != get.url)
        let target = S3Target(bucket: bytes("bkt"), key: bytes("x"),
                              canonicalPath: bytes("/bkt/x"), query: CanonicalQuery())
        #expect(head.url
            == text(try #require(Self.signer().presignedURL(method: .head, target: target))))
    }

    @Test func proxy() throws {
        let memory = CMemory()
        var conf = Self.config(memory)
        let outcome = Self.handle(&conf, Self.request(
            memory, "GET", "/bkt/", "prefix=dir/&delimiter=/"))
        #expect(outcome.status == S3P_OK)
        #expect(outcome.action == S3P_ACTION_PROXY)
        #expect(outcome.bucket == "bkt")
        #expect(outcome.key == "")
        #expect(outcome.url == "https://s3.internal:9000/bkt/?delimiter=%2F&prefix=dir%2F")
        #expect(outcome.amzDate == "20130524T000000Z")

        var query = CanonicalQuery()
        query.append(name: bytes("delimiter"), value: bytes("/"))
        query.append(name: bytes("prefix"), value: bytes("dir/"))
        let target = S3Target(bucket: bytes("bkt"), key: [],
                              canonicalPath: bytes("/bkt/"), query: query)
        let expected = try #require(Self.signer().authorization(method: .get, target: target))
        #expect(outcome.authorization == text(expected))
        #expect(outcome.authorization.hasPrefix("AWS4-HMAC-SHA256 "
            + "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="))
    }

    @Test func proxyIndexWithSessionToken() throws {
        let memory = CMemory()
        var conf = Self.config(memory, sessionToken: "tok/en+1")
        let outcome = Self.handle(&conf, Self.request(memory, "HEAD", "/bkt/dir/"))
        #expect(outcome.status == S3P_OK)
        #expect(outcome.action == S3P_ACTION_PROXY)
        #expect(outcome.key == "dir/index.html")
        #expect(outcome.url == "https://s3.internal:9000/bkt/dir/index.html")
        let target = S3Target(bucket: bytes("bkt"), key: bytes("dir/index.html"),
                              canonicalPath: bytes("/bkt/dir/index.html"),
                              query: CanonicalQuery())
        let expected = try #require(Self.signer(sessionToken: "tok/en+1")
            .authorization(method: .head, target: target))
        #expect(outcome.authorization == text(expected))
        #expect(outcome.authorization.contains(
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
        // Signed as a GET too, for proxy_cache's GET of a HEAD's miss.
        let get = try #require(Self.signer(sessionToken: "tok/en+1")
            .authorization(method: .get, target: target))
        #expect(outcome.getAuthorization == text(get))
        let asGet = Self.handle(&conf, Self.request(memory, "GET", "/bkt/dir/"))
        #expect(asGet.authorization == text(get) && asGet.getAuthorization.isEmpty)
    }

    struct RefusalCase: Sendable, CustomTestStringConvertible {
        let method: String
        let path: String
        let query: String
        let status: Int32
        var testDescription: String { "\(method) \(path)?\(query) -> \(status)" }
    }

    // Source: the routing rules (RouteTests); here only that a refusal
    // crosses the boundary as S3P_OK + REFUSE + status, hands back no
    // slice and does not touch the key cache.  (Routing decodes into the
    // buffer, so a refusal needs s3p_output_bound() bytes like any answer.)
    @Test(arguments: [
        RefusalCase(method: "POST", path: "/bkt/x", query: "", status: 405),
        RefusalCase(method: "GET", path: "/", query: "", status: 403),
        RefusalCase(method: "GET", path: "/bkt/x", query: "acl", status: 403),
        RefusalCase(method: "GET", path: "/bkt/%zz", query: "", status: 400),
        RefusalCase(method: "GET", path: "/bkt%2Fc/x", query: "", status: 400),
    ])
    func refusal(_ refusal: RefusalCase) {
        let memory = CMemory()
        var conf = Self.config(memory)
        var request = Self.request(memory, refusal.method, refusal.path, refusal.query)
        for cap in [s3p_output_bound(&conf, &request), 8192] {
            let outcome = Self.handle(&conf, request, cap: cap)
            #expect(outcome.status == S3P_OK)
            #expect(outcome.action == S3P_ACTION_REFUSE)
            #expect(outcome.httpStatus == refusal.status)
            #expect(outcome.used == 0)
            #expect(outcome.url == "")
            #expect(outcome.header == (refusal.status == 405 ? "Allow: GET, HEAD" : ""))
        }
        #expect(Self.keyDate(conf) == String(repeating: "\0", count: 8))
    }

    // MARK: Buffer space

    struct SpaceCase: Sendable, CustomTestStringConvertible {
        let name: String
        let method: String
        let path: String
        let query: String
        let sessionToken: String
        var testDescription: String { name }
    }

    // Every cap below what a request needs gives S3P_E_SPACE and writes
    // nothing past cap; the exact need gives S3P_OK with the same answer
    // as a large buffer; s3p_output_bound() is at least the need.
    @Test(arguments: [
        SpaceCase(name: "redirect", method: "GET", path: "/bkt/a%20b.txt",
                  query: "", sessionToken: ""),
        SpaceCase(name: "redirect with token", method: "GET", path: "/bkt/!!!!",
                  query: "x-id=GetObject", sessionToken: "tok/en+1"),
        SpaceCase(name: "proxied listing", method: "GET", path: "/bkt",
                  query: "prefix=++++&delimiter=/&marker&&start-after=!!", sessionToken: ""),
        SpaceCase(name: "proxied listing, valueless", method: "GET", path: "/bkt",
                  query: "prefix&marker&delimiter&max-keys", sessionToken: "t"),
        SpaceCase(name: "proxied index", method: "GET", path: "/bkt/d/",
                  query: "", sessionToken: ""),
        SpaceCase(name: "proxied index of an encoded dir", method: "GET",
                  path: "/bkt/()()()()/", query: "", sessionToken: "tok"),
        SpaceCase(name: "proxied HEAD, signed as GET too", method: "HEAD",
                  path: "/bkt/()()/", query: "", sessionToken: "tok"),
    ])
    func tooSmallBuffer(_ space: SpaceCase) {
        let memory = CMemory()
        var conf = Self.config(memory, sessionToken: space.sessionToken)
        var request = Self.request(memory, space.method, space.path, space.query)
        let full = Self.handle(&conf, request)
        #expect(full.status == S3P_OK)
        #expect(full.action != S3P_ACTION_REFUSE, "refused \(full.httpStatus)")
        let need = full.used
        #expect(need > 0)
        let bound = s3p_output_bound(&conf, &request)
        #expect(bound >= need, "bound \(bound) < need \(need)")

        for cap in 0..<need {
            let outcome = Self.handle(&conf, request, cap: cap)
            #expect(outcome.status == S3P_E_SPACE, "cap \(cap)")
            if outcome.status != S3P_E_SPACE { break }
        }
        let exact = Self.handle(&conf, request, cap: need)
        #expect(exact.status == S3P_OK)
        #expect(exact.url == full.url)
        #expect(exact.authorization == full.authorization)
        #expect(exact.getAuthorization == full.getAuthorization)
        #expect(exact.used == need)
    }

    // Property: with a buffer of s3p_output_bound() bytes, no request that
    // routes to a redirect or a proxy gets S3P_E_SPACE.  Random paths and
    // listing queries drawn from bytes that grow the most when encoded
    // (sub-delims, `+` that becomes %20, value-less parameters that gain
    // `=`); seeded, so a failure names a reproducible seed.
    @Test(arguments: [UInt64(7), 42, 0xB0B])
    func outputBoundSuffices(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let memory = CMemory()
        var conf = Self.config(memory, sessionToken: "t/+=")
        let pathBytes = bytes("!*'()+$&=:@,;a/~")
        let queryBytes = bytes("!*'()+$:@,;/=&a")
        let names = ["prefix", "delimiter", "marker", "start-after",
                     "continuation-token", "max-keys"]
        var checked = 0
        for _ in 0..<300 {
            let pathLength = Int.random(in: 0...40, using: &random)
            var path = "/bkt/" + text((0..<pathLength).map { _ in
                pathBytes.randomElement(using: &random)! })
            var query = ""
            if Bool.random(using: &random) {
                // A listing: the bucket path with listing parameters.
                path = Bool.random(using: &random) ? "/bkt" : "/bkt/"
                for index in 0..<Int.random(in: 1...6, using: &random) {
                    if index > 0 { query += "&" }
                    query += names.randomElement(using: &random)!
                    let valueLength = Int.random(in: 0...12, using: &random)
                    if valueLength > 0 {
                        query += "=" + text((0..<valueLength).map { _ in
                            queryBytes.randomElement(using: &random)! })
                    }
                }
            }
            var request = Self.request(memory, "GET", path, query)
            let bound = s3p_output_bound(&conf, &request)
            let outcome = Self.handle(&conf, request, cap: bound)
            if outcome.action == S3P_ACTION_REFUSE { continue }
            checked += 1
            #expect(outcome.status == S3P_OK,
                    "seed \(seed): GET \(path)?\(query), bound \(bound)")
        }
        #expect(checked > 100)
    }

    // Source: the header ("Every function returns a small status; nothing
    // traps on input"): NULL arguments are errors, not crashes.
    @Test func nullArguments() {
        let memory = CMemory()
        var conf = Self.config(memory)
        var request = Self.request(memory, "GET", "/bkt/x")
        var result = s3p_result_t()
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(s3p_output_bound(nil, &request) == 0)
        #expect(s3p_output_bound(&conf, nil) == 0)
        #expect(s3p_handle(nil, &request, &buffer, buffer.count, &result) == S3P_E_CONFIG)
        #expect(s3p_handle(&conf, nil, &buffer, buffer.count, &result) == S3P_E_CONFIG)
        #expect(s3p_handle(&conf, &request, nil, 0, &result) == S3P_E_CONFIG)
        #expect(s3p_handle(&conf, &request, &buffer, buffer.count, nil) == S3P_E_CONFIG)
        #expect(s3p_config_check(nil, &buffer, buffer.count) == S3P_E_CONFIG)
    }

    // MARK: Signing key cache

    // The first request fills key_date and signing_key with the key of its
    // day (sigv4-vectors.md: dbb893... for 20130524).
    @Test func cacheIsFilled() {
        let memory = CMemory()
        var conf = Self.config(memory)
        #expect(Self.keyDate(conf) == String(repeating: "\0", count: 8))
        let outcome = Self.handle(&conf, Self.request(memory, "GET", "/bkt/"))
        #expect(outcome.status == S3P_OK)
        #expect(Self.keyDate(conf) == "20130524")
        #expect(hex(Self.signingKey(conf)) == AWSExample.signingKeyHex)
    }

    // A one-bucket location's mount without its "/" is the bucket to S3
    // clients (s3p_bucket_root), and routes as its root: ListObjects,
    // HeadBucket.  Browsers, other methods and paths keep nginx's 301.
    @Test func mountWithoutItsSlashIsTheBucketForS3Clients() {
        let memory = CMemory()
        var conf = Self.config(memory)
        conf.mount = memory.str("/eu/")
        conf.bucket = memory.str("real")
        func root(_ method: String, _ path: String, _ agent: String,
                  _ query: String = "") -> Int32
        {
            var request = Self.request(memory, method, path, query)
            request.user_agent = memory.str(agent)
            return s3p_bucket_root(&conf, &request)
        }
        #expect(root("GET", "/eu", "Boto3/1.34", "list-type=2") == 1)
        #expect(root("HEAD", "/eu", "aws-cli/2.15") == 1)
        #expect(root("GET", "/eu", "Mozilla/5.0", "list-type=2") == 0)
        #expect(root("PUT", "/eu", "Boto3/1.34") == 0)
        #expect(root("GET", "/eu/", "Boto3/1.34") == 0)
        #expect(root("GET", "/e", "Boto3/1.34") == 0)
        #expect(root("GET", "/euro", "Boto3/1.34") == 0)

        // the result's bucket is the configuration's own: read the URL only
        func answer(_ method: String, _ query: String, _ agent: String)
            -> (s3p_action_t, Int32, String)
        {
            var request = Self.request(memory, method, "/eu", query)
            request.user_agent = memory.str(agent)
            var out = [UInt8](repeating: 0, count: 8192)
            var result = s3p_result_t()
            let rc = s3p_handle(&conf, &request, &out, out.count, &result)
            #expect(rc == S3P_OK)
            return (result.action, result.status, text(result.url.bytes))
        }
        let listed = answer("GET", "list-type=2&prefix=a%2F", "Boto3/1.34")
        #expect(listed.0 == S3P_ACTION_PROXY)
        #expect(listed.2.hasSuffix("/real?list-type=2&prefix=a%2F"), "\(listed.2)")
        #expect(answer("HEAD", "", "Boto3/1.34").2.hasSuffix("/real"))
        // a browser reaching the location so is refused, not listed
        let browser = answer("GET", "", "Mozilla/5.0")
        #expect(browser.0 == S3P_ACTION_REFUSE && browser.1 == 400)

        var everyBucket = Self.config(memory)
        everyBucket.mount = memory.str("/eu/")
        var request2 = Self.request(memory, "GET", "/eu", "list-type=2")
        request2.user_agent = memory.str("Boto3/1.34")
        #expect(s3p_bucket_root(&everyBucket, &request2) == 0)
    }

    // The cache key after the URL: the region, the credentials' identity
    // (never the secret) and what the client gets made of S3's answer.
    @Test func cacheKeySeparatesIdentityAndVariant() {
        let memory = CMemory()
        func key(_ change: (inout RawSigning) -> Void, _ path: String = "/bkt/d/",
                 listings: Bool = false, agent: String = "curl/8.0") -> String
        {
            var signing = Self.signing(memory)
            change(&signing)
            var conf = s3p_config_t()
            conf.signing = memory.resolve(signing)
            conf.resolver = 1
            conf.listings = listings ? 1 : 0
            var request = Self.request(memory, "GET", path)
            request.user_agent = memory.str(agent)
            return Self.handle(&conf, request).cacheKey
        }
        let plain = key { _ in }
        #expect(plain.hasPrefix("https://s3.internal:9000/bkt/d/index.html us-east-1 auto:"))
        #expect(plain.hasSuffix(" page"))
        #expect(!plain.contains(AWSExample.secretKey))
        // another secret for the same key id: the same identity
        #expect(key { $0.secretKey = "another" } == plain)
        // another key pair, another region, another source: another entry
        #expect(key { $0.accessKey = "AKIDOTHER" } != plain)
        #expect(key { $0.regionDirective = "eu-west-1" }.contains(" eu-west-1 auto:"))
        #expect(key { $0.credentials = S3P_CREDENTIALS_ENV }.contains(" env:"))
        // a folder's index page with listings, its listing, the page
        // asked by name, and an S3 client's object
        #expect(key({ _ in }, listings: true).hasSuffix(" fallback"))
        #expect(key({ _ in }, "/bkt/d/index.html", listings: true).hasSuffix(" page"))
        #expect(key({ _ in }, "/bkt/d/index.html", agent: "Boto3/1.0").hasSuffix(" s3"))
    }


    // A later request of the same day uses the cached key instead of
    // deriving it again: with the cached key replaced, the Authorization
    // is the one that key gives.
    @Test func cacheIsReused() throws {
        let memory = CMemory()
        var conf = Self.config(memory)
        let request = Self.request(memory, "GET", "/bkt/")
        let first = Self.handle(&conf, request)

        let planted = [UInt8](repeating: 0x42, count: 32)
        let slot = try #require(Self.slot(conf))
        s3p_day_key_bytes(slot).update(from: planted, count: 32)
        let later = Self.handle(&conf, Self.request(
            memory, "GET", "/bkt/", now: AWSExample.unixTime + 3_600))
        #expect(later.authorization != first.authorization)
        let target = S3Target(bucket: bytes("bkt"), key: bytes("index.html"),
                              canonicalPath: bytes("/bkt/index.html"),
                              query: CanonicalQuery())
        let expected = try #require(
            Self.signer(unixTime: AWSExample.unixTime + 3_600, signingKey: planted)
                .authorization(method: .get, target: target))
        #expect(later.authorization == text(expected))
        #expect(Self.keyDate(conf) == "20130524")
        #expect(Self.signingKey(conf) == planted)
    }

    // On another UTC day the key is derived again: a different
    // Authorization for the same request, and the cache holds the new day.
    @Test func cacheIsRefreshedOnANewDay() throws {
        let memory = CMemory()
        var conf = Self.config(memory)
        let first = Self.handle(&conf, Self.request(memory, "GET", "/bkt/"))
        #expect(Self.keyDate(conf) == "20130524")
        let firstKey = Self.signingKey(conf)

        // 2013-05-25T00:00:00Z (date -u -d '2013-05-25' +%s).
        let nextDay: Int64 = 1_369_440_000
        let second = Self.handle(&conf, Self.request(memory, "GET", "/bkt/", now: nextDay))
        #expect(second.status == S3P_OK)
        #expect(second.amzDate == "20130525T000000Z")
        #expect(second.authorization != first.authorization)
        #expect(second.authorization.contains("/20130525/us-east-1/s3/aws4_request"))
        #expect(Self.keyDate(conf) == "20130525")
        let expectedKey = try #require(SigningKey.derive(
            secret: bytes(AWSExample.secretKey), date: bytes("20130525")[...],
            region: bytes(AWSExample.region)))
        #expect(Self.signingKey(conf) == expectedKey)
        #expect(Self.signingKey(conf) != firstKey)

        let target = S3Target(bucket: bytes("bkt"), key: bytes("index.html"),
                              canonicalPath: bytes("/bkt/index.html"),
                              query: CanonicalQuery())
        let expected = try #require(Self.signer(unixTime: nextDay)
            .authorization(method: .get, target: target))
        #expect(second.authorization == text(expected))

        // And back to the first day: derived again, same answer as before.
        let third = Self.handle(&conf, Self.request(memory, "GET", "/bkt/"))
        #expect(third.authorization == first.authorization)
        #expect(Self.keyDate(conf) == "20130524")
    }

    // MARK: s3p_signing_resolve and s3p_config_check

    @Test func configCheckAcceptsAValidConfig() {
        let memory = CMemory()
        var conf = Self.config(memory)
        var message = [UInt8](repeating: 0xA5, count: 64)
        #expect(s3p_config_check(&conf, &message, message.count) == S3P_OK)
        #expect(message.allSatisfy { $0 == 0xA5 })
    }

    @Test func configCheckRefusesAnAllowlistOfNoBucket() {
        let memory = CMemory()
        var conf = Self.config(memory)
        var none = s3p_str_t()
        withUnsafePointer(to: &none) { none in
            conf.buckets = none
            conf.nbuckets = 0
            var message = [UInt8](repeating: 0, count: 128)
            #expect(s3p_config_check(&conf, &message, message.count) == S3P_E_CONFIG)
            #expect(String(decoding: message.prefix { $0 != 0 }, as: UTF8.self)
                == "S3_PROXY_BUCKETS names no bucket")
        }
    }

    @Test func configCheckRefusesUnresolvedSettings() {
        let memory = CMemory()
        var signing = s3p_signing_t()
        var conf = s3p_config_t()
        withUnsafePointer(to: &signing) { signing in
            conf.signing = signing
            var message = [UInt8](repeating: 0, count: 128)
            #expect(s3p_config_check(&conf, &message, message.count) == S3P_E_CONFIG)
            var result = s3p_result_t()
            var request = Self.request(memory, "GET", "/bkt/a")
            let out = memory.buffer(4096)
            #expect(s3p_handle(&conf, &request, out, 4096, &result) == S3P_E_CONFIG)
        }
    }

    static func resolveProblem(_ signing: RawSigning, cap: Int = 256) -> (Int32, [UInt8]) {
        let memory = CMemory()
        var raw = signing.settings(memory)
        var resolved = s3p_signing_t()
        var message = [UInt8](repeating: 0xA5, count: cap + 16)
        let bound = s3p_signing_bound(&raw)
        let status = s3p_signing_resolve(&raw, &resolved, memory.buffer(bound), bound,
                                         &message, cap)
        return (status, message)
    }

    @Test func resolveNamesTheSetting() throws {
        let memory = CMemory()
        var signing = Self.signing(memory)
        signing.scheme = "ftp"
        let (status, message) = Self.resolveProblem(signing)
        #expect(status == S3P_E_CONFIG)
        let end = try #require(message.firstIndex(of: 0))
        #expect(text(message[..<end])
            == "AWS_ENDPOINT_SCHEME must be \"http\" or \"https\"")
    }

    // A short buffer gets a truncated, NUL-terminated message and nothing
    // past cap; cap 0 writes nothing.
    @Test(arguments: [0, 1, 2, 10])
    func resolveTruncates(cap: Int) {
        let memory = CMemory()
        var signing = Self.signing(memory)
        signing.accessKey = ""
        let (status, message) = Self.resolveProblem(signing, cap: cap)
        #expect(status == S3P_E_CONFIG)
        #expect(message[cap...].allSatisfy { $0 == 0xA5 })
        if cap > 0 {
            #expect(message[cap - 1] == 0)
            #expect(text(message[..<(cap - 1)])
                == String("AWS_ACCESS_KEY_ID is empty, and no profile".prefix(cap - 1)))
        }
    }

    // The defaults: region us-east-1, host s3.<region>.amazonaws.com,
    // external host the host, scheme https, 300 s; hosts normalised.
    @Test func resolveAppliesTheDefaults() {
        let memory = CMemory()
        var raw = RawSigning()
        raw.accessKey = "AK"
        raw.secretKey = "SK"
        let signing = memory.resolve(raw).pointee
        #expect(text(signing.region.bytes) == "us-east-1")
        #expect(text(signing.host.bytes) == "s3.us-east-1.amazonaws.com")
        #expect(text(signing.external_host.bytes) == "s3.us-east-1.amazonaws.com")
        #expect(text(signing.scheme.bytes) == "https")
        #expect(signing.expires == 300)
        #expect(signing.generation != 0)

        raw.region = "eu-west-3"
        raw.host = "MinIO.Local:443"
        let other = memory.resolve(raw).pointee
        #expect(text(other.host.bytes) == "minio.local")
        #expect(text(other.external_host.bytes) == "minio.local")
        #expect(other.generation != signing.generation)
    }

    // s3p_signing_resolve(): too small a buffer is refused and leaves the
    // settings unresolved; its bound is enough, whatever the settings.
    @Test(arguments: ["", "tok/en+=", String(repeating: "Zz9/+=", count: 300)])
    func resolveNeedsItsBound(sessionToken: String) {
        let memory = CMemory()
        var signing = Self.signing(memory, sessionToken: sessionToken)
        signing.expires = 604_800
        var raw = signing.settings(memory)
        let bound = s3p_signing_bound(&raw)
        for cap in [0, 1, Prepared.tableSize, bound / 8] {
            var resolved = s3p_signing_t()
            #expect(s3p_signing_resolve(&raw, &resolved, memory.buffer(cap), cap, nil, 0)
                    == S3P_E_CONFIG, "cap \(cap)")
            #expect(resolved.prepared.len == 0 && resolved.generation == 0)
        }
        var resolved = s3p_signing_t()
        #expect(s3p_signing_resolve(&raw, &resolved, memory.buffer(bound), bound, nil, 0)
                == S3P_OK)
        #expect(resolved.prepared.len > Prepared.tableSize && resolved.prepared.len <= bound)
        #expect(s3p_signing_resolve(nil, &resolved, memory.buffer(bound), bound, nil, 0)
                == S3P_E_CONFIG)
    }
}

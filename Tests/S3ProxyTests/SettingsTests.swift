// Configuration checks: s3p_signing_resolve() names the bad setting, and
// applies the defaults in the order s3_proxy_core.h gives.
//
// Source of the rules: Sources/S3Proxy/Settings.swift (the setting names
// are the environment variables the module reads), the SigV4 limit on
// X-Amz-Expires (1 to 604800 seconds, "Authenticating Requests: Using
// Query Parameters"), RFC 3986 section 3.2.2/3.2.3 for `host[:port]` and
// `[IPv6]:port`, and the port range 1-65535 (RFC 6335 section 6; 0 is
// reserved).

import CShim
import Testing
@testable import S3Proxy

@Suite struct SettingsTests {

    static let valid = RawSigning(
        accessKey: "AKIAIOSFODNN7EXAMPLE",
        secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1", host: "s3.amazonaws.com", scheme: "https",
        externalHost: "s3.amazonaws.com", expires: 300)

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let change: @Sendable (inout RawSigning) -> Void
        /// nil: valid; otherwise text the message must contain.
        let message: String?
        var testDescription: String { name }

        init(_ name: String, _ message: String?,
             _ change: @escaping @Sendable (inout RawSigning) -> Void)
        {
            self.name = name
            self.message = message
            self.change = change
        }
    }

    static let cases: [Case] = [
        Case("the valid base", nil) { _ in },

        // Credentials.
        Case("empty access key", "AWS_ACCESS_KEY_ID is empty") { $0.accessKey = "" },
        Case("access key with a space", "AWS_ACCESS_KEY_ID") {
            $0.accessKey = "AKIA EXAMPLE"
        },
        Case("access key with a newline", "AWS_ACCESS_KEY_ID") {
            $0.accessKey = "AKIA\n"
        },
        Case("empty secret", "AWS_SECRET_ACCESS_KEY is empty") { $0.secretKey = "" },
        Case("secret with a control byte", "AWS_SECRET_ACCESS_KEY") {
            $0.secretKey = "abc\u{7f}"
        },
        Case("session token with a space", "AWS_SESSION_TOKEN") {
            $0.sessionToken = "tok en"
        },
        Case("session token with symbols", nil) {
            $0.sessionToken = "FwoGZXIvYXdzE/+="
        },

        // Region.
        Case("region US East", "AWS_DEFAULT_REGION \"US East\"") {
            $0.region = "US East"
        },
        Case("empty region: us-east-1", nil) { $0.region = "" },
        Case("region with a leading hyphen", "AWS_DEFAULT_REGION") {
            $0.region = "-east-1"
        },
        Case("region with a trailing hyphen", "AWS_DEFAULT_REGION") {
            $0.region = "east-"
        },
        Case("region of 33 characters", "AWS_DEFAULT_REGION") {
            $0.region = String(repeating: "a", count: 33)
        },
        Case("region eu-central-2", nil) { $0.region = "eu-central-2" },
        Case("region auto", nil) { $0.region = "auto" },

        // Host.
        Case("host with a scheme", "AWS_ENDPOINT_HOST must be a host name") {
            $0.host = "https://s3.amazonaws.com"
        },
        Case("host with a path", "AWS_ENDPOINT_HOST must be a host name") {
            $0.host = "s3.amazonaws.com/path"
        },
        Case("host with credentials", "AWS_ENDPOINT_HOST") {
            $0.host = "user@s3.amazonaws.com"
        },
        Case("empty host: the region's", nil) { $0.host = "" },
        Case("host of 256 bytes", "AWS_ENDPOINT_HOST is too long") {
            $0.host = String(repeating: "a", count: 256)
        },
        Case("host with a space", "AWS_ENDPOINT_HOST") { $0.host = "s3 host" },
        Case("port 0", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = "h:0"
        },
        Case("port 99999", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = "h:99999"
        },
        Case("port 65536", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = "h:65536"
        },
        Case("empty port", "AWS_ENDPOINT_HOST has an empty port") {
            $0.host = "h:"
        },
        Case("port of letters", "AWS_ENDPOINT_HOST has a port that is not a number") {
            $0.host = "h:http"
        },
        Case("port of 6 digits", "AWS_ENDPOINT_HOST has a port that is not a number") {
            $0.host = "h:000080"
        },
        Case("two colons", "AWS_ENDPOINT_HOST") { $0.host = "h:1:2" },
        Case("port without a name", "AWS_ENDPOINT_HOST has no host name") {
            $0.host = ":9000"
        },
        Case("unclosed IPv6", "AWS_ENDPOINT_HOST has an unclosed") {
            $0.host = "[::1"
        },
        Case("empty IPv6", "AWS_ENDPOINT_HOST is not a valid IPv6 address") {
            $0.host = "[]:9000"
        },
        Case("IPv6 with a bad character", "AWS_ENDPOINT_HOST is not a valid IPv6 address") {
            $0.host = "[::g]"
        },
        Case("IPv6 followed by junk", "AWS_ENDPOINT_HOST") {
            $0.host = "[::1]x"
        },
        Case("IPv6 with an empty port", "AWS_ENDPOINT_HOST") {
            $0.host = "[::1]:"
        },
        Case("IPv6 with port 0", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = "[::1]:0"
        },
        Case("h:1 ok", nil) { $0.host = "h:1" },
        Case("h:65535 ok", nil) { $0.host = "h:65535" },
        Case("[::1]:9000 ok", nil) { $0.host = "[::1]:9000" },
        Case("[::1] ok", nil) { $0.host = "[::1]" },
        Case("[::ffff:127.0.0.1]:80 ok", nil) { $0.host = "[::ffff:127.0.0.1]:80" },
        Case("127.0.0.1:9000 ok", nil) { $0.host = "127.0.0.1:9000" },
        Case("minio:9000 ok", nil) { $0.host = "minio:9000" },
        Case("external host checked separately",
             "AWS_ENDPOINT_HOST_EXTERNAL has a port outside 1-65535") {
            $0.externalHost = "h:0"
        },
        Case("external host with a scheme", "AWS_ENDPOINT_HOST_EXTERNAL must be") {
            $0.externalHost = "http://localhost:8080"
        },

        // Scheme.
        Case("scheme ftp", "AWS_ENDPOINT_SCHEME") { $0.scheme = "ftp" },
        Case("scheme HTTPS", "AWS_ENDPOINT_SCHEME") { $0.scheme = "HTTPS" },
        Case("empty scheme: https", nil) { $0.scheme = "" },
        Case("scheme http", nil) { $0.scheme = "http" },

        // Expiry: 1 second to 7 days.
        Case("expires 0", "s3_proxy_expires must be between 1s and 7d") { $0.expires = 0 },
        Case("expires 604801", "between 1s and 7d") { $0.expires = 604_801 },
        Case("expires Int64.max", "between 1s and 7d") { $0.expires = .max },
        Case("expires 1", nil) { $0.expires = 1 },
        Case("expires 604800", nil) { $0.expires = 604_800 },
    ]

    @Test(arguments: cases)
    func problem(_ settingsCase: Case) {
        var settings = Self.valid
        settingsCase.change(&settings)
        let problem = Self.problem(settings)
        if let expected = settingsCase.message {
            #expect(problem?.contains(expected) == true,
                    "message: \(problem ?? "nil")")
        } else {
            #expect(problem == nil)
        }
    }

    /// The message of s3p_signing_resolve(), or nil when it resolves.
    static func problem(_ raw: RawSigning) -> String? {
        let (status, message) = CAPITests.resolveProblem(raw)
        guard status != S3P_OK else { return nil }
        return text(message.prefix { $0 != 0 })
    }

    // The first problem found is reported: credentials before region
    // before scheme before hosts before expiry.
    @Test func firstProblemWins() {
        var settings = Self.valid
        settings.expires = 0
        settings.scheme = "ftp"
        settings.region = "Bad"
        settings.secretKey = ""
        #expect(Self.problem(settings) == "AWS_SECRET_ACCESS_KEY is empty")
    }
}

// Hosts as clients send them back in the Host header (RFC 9110 §7.2: a
// default port is omitted; host names are case-insensitive and clients such
// as urllib3 and browsers lowercase them); botocore signs that form.
@Suite struct CanonicalHostTests {
    @Test(arguments: [
        ("s3.example.com:443", "https", "s3.example.com"),
        ("s3.example.com:80", "http", "s3.example.com"),
        ("s3.example.com:80", "https", "s3.example.com:80"),
        ("s3.example.com:443", "http", "s3.example.com:443"),
        ("S3.Example.COM", "https", "s3.example.com"),
        ("127.0.0.1:9000", "http", "127.0.0.1:9000"),
        ("[::1]:443", "https", "[::1]"),
        ("[::1]:9000", "https", "[::1]:9000"),
        ("h:4430", "https", "h:4430"),
    ])
    func canonicalHost(_ host: String, _ scheme: String, _ expected: String) {
        #expect(Settings.canonicalHost(bytes(host), scheme: bytes(scheme)) == bytes(expected))
    }
}

// Where each value comes from (s3p_signing_resolve() in s3_proxy_core.h):
// the directive, then the environment, then the shared files, then the
// default; the endpoints as pairs.
@Suite struct SettingsOrderTests {
    static func resolved(_ raw: RawSigning) -> s3p_signing_t? {
        let memory = CMemory()
        var settings = raw.settings(memory)
        var signing = s3p_signing_t()
        let bound = s3p_signing_bound(&settings)
        guard s3p_signing_resolve(&settings, &signing, memory.buffer(bound), bound, nil, 0)
            == S3P_OK
        else {
            return nil
        }
        // copy the strings out before the memory goes
        return signing.copied()
    }

    static let keys = RawSigning(accessKey: "AK", secretKey: "SK")

    /// s3p_signing_bound() reads only the raw values' lengths: it must
    /// hold what resolving writes when every value is as long as it can
    /// be and grows most when UriEncoded (`/`, `+` and `=` in keys and
    /// token), from the environment or from the shared files.
    @Test(arguments: [false, true])
    func boundHoldsTheLongestValues(fromFiles: Bool) {
        let token = String(repeating: "/+=", count: 2730)
        let key = String(repeating: "/", count: 128)
        let secret = String(repeating: "+", count: 256)
        let region = "a" + String(repeating: "-b", count: 15)
        var raw = RawSigning()
        if fromFiles {
            raw.credentialsFile = "[default]\naws_access_key_id = \(key)\n"
                + "aws_secret_access_key = \(secret)\naws_session_token = \(token)\n"
            raw.configFile = "[default]\nregion = \(region)\n"
        } else {
            raw = RawSigning(accessKey: key, secretKey: secret)
            raw.sessionToken = token
            raw.envRegion = region
        }
        raw.externalEndpoint = "https://" + String(repeating: "e", count: 200) + ":8443"
        raw.window = 60
        let memory = CMemory()
        var settings = raw.settings(memory)
        var signing = s3p_signing_t()
        let bound = s3p_signing_bound(&settings)
        #expect(s3p_signing_resolve(&settings, &signing, memory.buffer(bound), bound, nil, 0)
                == S3P_OK)
        #expect(signing.session_token.len == token.utf8.count)
        #expect(signing.external_host.len == 205)
    }

    @Test func regionOrder() {
        var raw = Self.keys
        raw.configFile = "[default]\nregion = ap-east-1\n"
        #expect(Self.resolved(raw)?.regionText == "ap-east-1")
        raw.region = "us-west-1"
        #expect(Self.resolved(raw)?.regionText == "us-west-1")
        raw.envRegion = "eu-west-3"
        #expect(Self.resolved(raw)?.regionText == "eu-west-3")
        raw.regionDirective = "sa-east-1"
        #expect(Self.resolved(raw)?.regionText == "sa-east-1")
        raw = Self.keys
        #expect(Self.resolved(raw)?.regionText == "us-east-1")
    }

    @Test func endpointDirectiveAndItsScheme() {
        var raw = Self.keys
        raw.host = "env.example:9000"
        raw.scheme = "http"
        raw.externalHost = "files.example"
        raw.endpoint = "minio.internal:9000"
        var signing = Self.resolved(raw)
        // a scheme left out is AWS_ENDPOINT_SCHEME's; the external endpoint
        // of the environment does not apply to a configured endpoint
        #expect(signing?.text(\.scheme) == "http")
        #expect(signing?.text(\.host) == "minio.internal:9000")
        #expect(signing?.text(\.external_host) == "minio.internal:9000")
        raw.endpoint = "HTTPS://S3.Example.com:443"
        raw.externalEndpoint = "http://cdn.example:80"
        signing = Self.resolved(raw)
        #expect(signing?.text(\.scheme) == "https")
        #expect(signing?.text(\.host) == "s3.example.com")
        #expect(signing?.text(\.external_scheme) == "http")
        #expect(signing?.text(\.external_host) == "cdn.example")
    }

    @Test func environmentExternalPair() {
        var raw = Self.keys
        raw.host = "s3.internal:9000"
        raw.scheme = "http"
        raw.externalHost = "files.example.com:443"
        raw.externalScheme = "https"
        let signing = Self.resolved(raw)
        #expect(signing?.text(\.external_scheme) == "https")
        #expect(signing?.text(\.external_host) == "files.example.com")
        #expect(signing?.text(\.scheme) == "http")
    }

    @Test(arguments: [
        ("ftp://h", "has the unknown scheme \"ftp\""),
        ("https://h/path", "must be [http://|https://]host[:port]"),
        ("https://u:p@h", "must be [http://|https://]host[:port]"),
        ("http://h?x", "must be [http://|https://]host[:port]"),
        ("http://", "has a host that is empty"),
        ("h:0", "has a host that has a port outside 1-65535"),
    ])
    func badEndpoints(endpoint: String, message: String) {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        let (rc, _, said) = memory.read(["s3_proxy_endpoint", endpoint], into: &raw)
        #expect(rc == S3P_E_CONFIG)
        #expect(said.contains(message), "\(said)")
    }

    // the whole message nginx -t shows
    @Test(arguments: [
        ("s3_proxy_credentials", ["imds"], nil),
        ("s3_proxy_credentials", ["profile=dev"], nil),
        ("s3_proxy_credentials", ["profile="],
         "\"s3_proxy_credentials\" takes auto, env, profile=NAME, web-identity,"
         + " container or imds, not \"profile=\""),
        ("s3_proxy_stream_agents", ["off"], nil),
        ("s3_proxy_stream_agents", ["none", "curl/", "signed"], nil),
        ("s3_proxy_stream_agents", ["", "off"],
         "\"s3_proxy_stream_agents\" directive takes \"off\" alone: with other values"
         + " it would stream to clients whose User-Agent holds \"off\""),
        ("s3_proxy_buckets", [","],
         "\"s3_proxy_buckets\" directive needs at least one name"),
        ("s3_proxy_allow_params", ["v", "X-Amz-Date"],
         "\"s3_proxy_allow_params\": \"X-Amz-Date\" "),
        ("s3_proxy_index", ["a/b.html"], "\"s3_proxy_index\" must be a file name"),
        ("s3_proxy_addressing", ["Virtual"], nil),
        ("s3_proxy_addressing", ["host"], "invalid value \"host\""),
        ("s3_proxy_snippet", [], "\"s3_proxy_snippet\" is not a directive"),
    ] as [(String, [String], String?)])
    func directives(name: String, values: [String], message: String?) {
        let memory = CMemory()
        var raw = s3p_settings_t.unset
        let (rc, _, said) = memory.read([name] + values, into: &raw)
        if let message {
            #expect(rc == S3P_E_CONFIG)
            #expect(said.hasPrefix(message), "\(said)")
        } else {
            #expect(rc == S3P_OK, "\(said)")
        }
    }

    @Test func profiles() {
        var raw = RawSigning()
        raw.credentialsFile = """
            # comment
            [default]
            aws_access_key_id = AKDEFAULT
            aws_secret_access_key = skdefault

            [ci]
            AWS_ACCESS_KEY_ID=AKCI
            aws_secret_access_key: skci
            aws_session_token = tok/en+
            """
        raw.configFile = """
            [profile ci]
            region = eu-north-1
            s3 =
              addressing_style = virtual
            [profile cfgonly]
            aws_access_key_id = AKCFG
            aws_secret_access_key = skcfg
            [cfgonly]
            aws_access_key_id = NOTAPROFILE
            """
        #expect(Self.resolved(raw)?.text(\.access_key) == "AKDEFAULT")
        raw.envProfile = "ci"
        var signing = Self.resolved(raw)
        #expect(signing?.text(\.access_key) == "AKCI")
        #expect(signing?.text(\.session_token) == "tok/en+")
        #expect(signing?.regionText == "eu-north-1")
        raw.credentials = S3P_CREDENTIALS_PROFILE
        raw.profile = "cfgonly"
        signing = Self.resolved(raw)
        #expect(signing?.text(\.access_key) == "AKCFG")
        // the environment wins in auto, not with a profile named
        raw.accessKey = "AKENV"
        raw.secretKey = "skenv"
        #expect(Self.resolved(raw)?.text(\.access_key) == "AKCFG")
        raw.credentials = S3P_CREDENTIALS_AUTO
        raw.profile = ""
        #expect(Self.resolved(raw)?.text(\.access_key) == "AKENV")
        raw.credentials = S3P_CREDENTIALS_PROFILE
        raw.profile = "nope"
        #expect(SettingsTests.problem(raw)
                == "profile \"nope\" is not in /test/credentials or /test/config")
        raw.credentials = S3P_CREDENTIALS_ENV
        raw.accessKey = ""
        #expect(SettingsTests.problem(raw) == "AWS_ACCESS_KEY_ID is empty")
    }
}

extension s3p_signing_t {
    /// The resolved strings, copied into memory of their own.
    func copied() -> s3p_signing_t {
        var copy = self
        for path in [\s3p_signing_t.access_key, \.secret_key, \.session_token, \.region,
                     \.scheme, \.host, \.external_scheme, \.external_host]
        {
            let bytes = self[keyPath: path].bytes
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            buffer.initialize(from: bytes, count: bytes.count)
            copy[keyPath: path] = s3p_str_t(len: bytes.count, data: UnsafePointer(buffer))
        }
        copy.prepared = s3p_str_t()
        return copy
    }

    func text(_ path: KeyPath<s3p_signing_t, s3p_str_t>) -> String {
        String(decoding: self[keyPath: path].bytes, as: UTF8.self)
    }

    var regionText: String { text(\.region) }
}

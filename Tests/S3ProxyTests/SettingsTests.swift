// Configuration checks: Settings.problem() names the bad setting.
//
// Source of the rules: Sources/S3Proxy/Settings.swift (the setting names
// are the environment variables the module reads), the SigV4 limit on
// X-Amz-Expires (1 to 604800 seconds, "Authenticating Requests: Using
// Query Parameters"), RFC 3986 section 3.2.2/3.2.3 for `host[:port]` and
// `[IPv6]:port`, and the port range 1-65535 (RFC 6335 section 6; 0 is
// reserved).

import Testing
@testable import S3Proxy

@Suite struct SettingsTests {

    static let valid = Settings(
        accessKey: bytes("AKIAIOSFODNN7EXAMPLE"),
        secretKey: bytes("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        sessionToken: [], region: bytes("us-east-1"),
        host: bytes("s3.amazonaws.com"), externalHost: bytes("s3.amazonaws.com"),
        scheme: bytes("https"), expires: 300)

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let change: @Sendable (inout Settings) -> Void
        /// nil: valid; otherwise text the message must contain.
        let message: String?
        var testDescription: String { name }

        init(_ name: String, _ message: String?,
             _ change: @escaping @Sendable (inout Settings) -> Void)
        {
            self.name = name
            self.message = message
            self.change = change
        }
    }

    static let cases: [Case] = [
        Case("the valid base", nil) { _ in },

        // Credentials.
        Case("empty access key", "AWS_ACCESS_KEY_ID is empty") { $0.accessKey = [] },
        Case("access key with a space", "AWS_ACCESS_KEY_ID") {
            $0.accessKey = bytes("AKIA EXAMPLE")
        },
        Case("access key with a newline", "AWS_ACCESS_KEY_ID") {
            $0.accessKey = bytes("AKIA\n")
        },
        Case("empty secret", "AWS_SECRET_ACCESS_KEY is empty") { $0.secretKey = [] },
        Case("secret with a control byte", "AWS_SECRET_ACCESS_KEY") {
            $0.secretKey = bytes("abc\u{7f}")
        },
        Case("session token with a space", "AWS_SESSION_TOKEN") {
            $0.sessionToken = bytes("tok en")
        },
        Case("session token with symbols", nil) {
            $0.sessionToken = bytes("FwoGZXIvYXdzE/+=")
        },

        // Region.
        Case("region US East", "AWS_DEFAULT_REGION \"US East\"") {
            $0.region = bytes("US East")
        },
        Case("empty region", "AWS_DEFAULT_REGION \"\"") { $0.region = [] },
        Case("region with a leading hyphen", "AWS_DEFAULT_REGION") {
            $0.region = bytes("-east-1")
        },
        Case("region with a trailing hyphen", "AWS_DEFAULT_REGION") {
            $0.region = bytes("east-")
        },
        Case("region of 33 characters", "AWS_DEFAULT_REGION") {
            $0.region = bytes(String(repeating: "a", count: 33))
        },
        Case("region eu-central-2", nil) { $0.region = bytes("eu-central-2") },
        Case("region auto", nil) { $0.region = bytes("auto") },

        // Host.
        Case("host with a scheme", "AWS_ENDPOINT_HOST must be a host name") {
            $0.host = bytes("https://s3.amazonaws.com")
        },
        Case("host with a path", "AWS_ENDPOINT_HOST must be a host name") {
            $0.host = bytes("s3.amazonaws.com/path")
        },
        Case("host with credentials", "AWS_ENDPOINT_HOST") {
            $0.host = bytes("user@s3.amazonaws.com")
        },
        Case("empty host", "AWS_ENDPOINT_HOST is empty") { $0.host = [] },
        Case("host of 256 bytes", "AWS_ENDPOINT_HOST is too long") {
            $0.host = bytes(String(repeating: "a", count: 256))
        },
        Case("host with a space", "AWS_ENDPOINT_HOST") { $0.host = bytes("s3 host") },
        Case("port 0", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = bytes("h:0")
        },
        Case("port 99999", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = bytes("h:99999")
        },
        Case("port 65536", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = bytes("h:65536")
        },
        Case("empty port", "AWS_ENDPOINT_HOST has an empty port") {
            $0.host = bytes("h:")
        },
        Case("port of letters", "AWS_ENDPOINT_HOST has a port that is not a number") {
            $0.host = bytes("h:http")
        },
        Case("port of 6 digits", "AWS_ENDPOINT_HOST has a port that is not a number") {
            $0.host = bytes("h:000080")
        },
        Case("two colons", "AWS_ENDPOINT_HOST") { $0.host = bytes("h:1:2") },
        Case("port without a name", "AWS_ENDPOINT_HOST has no host name") {
            $0.host = bytes(":9000")
        },
        Case("unclosed IPv6", "AWS_ENDPOINT_HOST has an unclosed") {
            $0.host = bytes("[::1")
        },
        Case("empty IPv6", "AWS_ENDPOINT_HOST is not a valid IPv6 address") {
            $0.host = bytes("[]:9000")
        },
        Case("IPv6 with a bad character", "AWS_ENDPOINT_HOST is not a valid IPv6 address") {
            $0.host = bytes("[::g]")
        },
        Case("IPv6 followed by junk", "AWS_ENDPOINT_HOST") {
            $0.host = bytes("[::1]x")
        },
        Case("IPv6 with an empty port", "AWS_ENDPOINT_HOST") {
            $0.host = bytes("[::1]:")
        },
        Case("IPv6 with port 0", "AWS_ENDPOINT_HOST has a port outside 1-65535") {
            $0.host = bytes("[::1]:0")
        },
        Case("h:1 ok", nil) { $0.host = bytes("h:1") },
        Case("h:65535 ok", nil) { $0.host = bytes("h:65535") },
        Case("[::1]:9000 ok", nil) { $0.host = bytes("[::1]:9000") },
        Case("[::1] ok", nil) { $0.host = bytes("[::1]") },
        Case("[::ffff:127.0.0.1]:80 ok", nil) { $0.host = bytes("[::ffff:127.0.0.1]:80") },
        Case("127.0.0.1:9000 ok", nil) { $0.host = bytes("127.0.0.1:9000") },
        Case("minio:9000 ok", nil) { $0.host = bytes("minio:9000") },
        Case("external host checked separately",
             "AWS_ENDPOINT_HOST_EXTERNAL has a port outside 1-65535") {
            $0.externalHost = bytes("h:0")
        },
        Case("external host with a scheme", "AWS_ENDPOINT_HOST_EXTERNAL must be") {
            $0.externalHost = bytes("http://localhost:8080")
        },

        // Scheme.
        Case("scheme ftp", "AWS_ENDPOINT_SCHEME") { $0.scheme = bytes("ftp") },
        Case("scheme HTTPS", "AWS_ENDPOINT_SCHEME") { $0.scheme = bytes("HTTPS") },
        Case("empty scheme", "AWS_ENDPOINT_SCHEME") { $0.scheme = [] },
        Case("scheme http", nil) { $0.scheme = bytes("http") },

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
        let problem = settings.problem()
        if let expected = settingsCase.message {
            #expect(problem?.contains(expected) == true,
                    "message: \(problem ?? "nil")")
        } else {
            #expect(problem == nil)
        }
    }

    // The first problem found is reported: credentials before region
    // before hosts before scheme before expiry.
    @Test func firstProblemWins() {
        var settings = Self.valid
        settings.expires = 0
        settings.scheme = bytes("ftp")
        settings.region = []
        settings.secretKey = []
        #expect(settings.problem() == "AWS_SECRET_ACCESS_KEY is empty")
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

// Small helpers shared by the unit tests: byte strings from Swift strings
// and back, the common inputs of AWS's SigV4 examples, and a seeded random
// number generator for the property tests.

@testable import S3Proxy

/// The UTF-8 bytes of `string`.
func bytes(_ string: String) -> [UInt8] {
    Array(string.utf8)
}

/// `bytes` as a string (invalid UTF-8 shown with replacement characters),
/// for readable expectation failures.
func text<C: Collection<UInt8>>(_ bytes: C) -> String {
    String(decoding: Array(bytes), as: UTF8.self)
}

/// Bytes from a hex string such as "C0AF".
func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    precondition(digits.count % 2 == 0)
    return stride(from: 0, to: digits.count, by: 2).map {
        Hex.value(digits[$0])! << 4 | Hex.value(digits[$0 + 1])!
    }
}

/// Lowercase hex of `bytes`.
func hex<C: Collection<UInt8>>(_ bytes: C) -> String {
    var out: [UInt8] = []
    Hex.appendLower(bytes, to: &out)
    return text(out)
}

/// The common inputs of every SigV4 example in /work/shared/sigv4-vectors.md
/// (AWS S3 API reference, "Signature Calculations for the Authorization
/// Header" and "Authenticating Requests: Using Query Parameters").
enum AWSExample {
    static let accessKey = "AKIAIOSFODNN7EXAMPLE"
    static let secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let region = "us-east-1"
    static let host = "examplebucket.s3.amazonaws.com"
    /// 2013-05-24T00:00:00Z
    static let unixTime: Int64 = 1_369_353_600
    static let timestamp = "20130524T000000Z"
    static let signingKeyHex =
        "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378"
    static let emptyPayloadHash =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func settings(expires: Int64 = 86_400) -> Settings {
        Settings(accessKey: bytes(accessKey), secretKey: bytes(secretKey),
                 sessionToken: [], region: bytes(region), host: bytes(host),
                 externalHost: bytes(host), scheme: bytes("https"),
                 expires: expires)
    }

    static func signer(expires: Int64 = 86_400) -> Signer {
        let date = AmzDate(unixTime: unixTime)
        let key = SigningKey.derive(secret: bytes(secretKey), date: date.date,
                                    region: bytes(region))!
        return Signer(settings: settings(expires: expires), signingKey: key,
                      date: date)
    }

    /// The virtual-hosted object of the examples: /test.txt.
    static func target(path: String = "/test.txt",
                       query: CanonicalQuery = CanonicalQuery()) -> S3Target {
        S3Target(bucket: bytes("examplebucket"), key: bytes("test.txt"),
                 canonicalPath: bytes(path), query: query)
    }
}

/// SplitMix64: a small deterministic generator, so that a failing property
/// test can be reproduced from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// One of `items`, uniformly.
    mutating func pick<T>(_ items: [T]) -> T {
        items[Int(next() % UInt64(items.count))]
    }
}

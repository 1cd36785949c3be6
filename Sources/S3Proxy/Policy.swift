// What the operator lets clients reach, beyond the routing rules: which
// buckets, and which query parameters besides the listing ones.

struct Policy {
    /// Buckets that may be reached; empty means any.
    var buckets: [[UInt8]] = []
    /// Query parameters that requests may carry and that are signed and
    /// forwarded (for example `versionId`, `response-content-disposition`).
    var parameters: [[UInt8]] = []

    /// Bucket names compare exactly: S3 bucket names are case-sensitive, so
    /// `/OK/` is not `/ok/`.
    func allows(bucket: [UInt8]) -> Bool {
        buckets.isEmpty || buckets.contains(bucket)
    }

    func allows(parameter name: [UInt8]) -> Bool {
        parameters.contains(name)
    }

    /// Why an allowed-parameter name cannot be allowed, or nil.
    static func parameterProblem(_ name: [UInt8]) -> String? {
        if name.isEmpty {
            return "is empty"
        }
        let lowered = name.map { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
        }
        if lowered.starts(with: "x-amz-".utf8) {
            return "is an authentication parameter"
        }
        if !name.allSatisfy(Settings.isTokenByte) {
            return "holds a character that is not allowed"
        }
        return nil
    }
}

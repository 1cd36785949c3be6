// An endpoint as s3_proxy_endpoint and s3_proxy_external_endpoint take
// it: `[http://|https://]host[:port]`, nothing more.  A path, a query or
// credentials would change what is signed, so they are refused, never
// ignored.

enum Endpoint {
    enum Parsed {
        /// The scheme as written (nil: none written) and the host.
        case endpoint(scheme: [UInt8]?, host: [UInt8])
        case problem(String)
    }

    static func parse(_ value: UnsafeBufferPointer<UInt8>) -> Parsed {
        let bytes = Array(value)
        var scheme: [UInt8]? = nil
        var rest = bytes[...]
        let separator = Array("://".utf8)
        if let at = Endpoint.find(separator, in: bytes) {
            let written = ASCII.lowercased(Array(bytes[..<at]))
            guard written == Array("http".utf8) || written == Array("https".utf8) else {
                return .problem("has the unknown scheme \""
                    + String(decoding: bytes[..<at], as: UTF8.self)
                    + "\": use http:// or https://")
            }
            scheme = written
            rest = bytes[(at + separator.count)...]
        }
        let host = Array(rest)
        if let problem = Settings.hostProblem(host) {
            if host.contains(UInt8(ascii: "/")) || host.contains(UInt8(ascii: "@"))
                || host.contains(UInt8(ascii: "?")) || host.contains(UInt8(ascii: "#"))
            {
                return .problem("must be [http://|https://]host[:port], "
                    + "without credentials, a path or a query")
            }
            return .problem("has a host that " + problem)
        }
        return .endpoint(scheme: scheme, host: host)
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        for start in 0...(bytes.count - needle.count)
            where bytes[start..<(start + needle.count)].elementsEqual(needle)
        {
            return start
        }
        return nil
    }
}

// The parts of every signed answer that depend on the signing settings
// alone: URL bases, the credential and scope, the canonical headers.  They
// are written once, where nginx reads its configuration
// (s3p_signing_resolve), into memory nginx allocated; a request copies
// them and adds only its path, query and time.
//
// Layout of `signing.prepared`: a table of (offset, length) pairs, two
// little-endian UInt32 per Part in Part order, then the bytes.

internal import CShim

enum Prepared {
    enum Part: Int, CaseIterable {
        /// `<external scheme>://`
        case redirectScheme
        /// `<external host>`: with virtual addressing, after `<bucket>.`
        case externalHost
        /// `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<key>%2F`
        case presignCredential
        /// `%2F<region>%2Fs3%2Faws4_request&X-Amz-Date=`
        case presignScope
        /// `&X-Amz-Expires=<expires + window>[&X-Amz-Security-Token=<token>]
        /// &X-Amz-SignedHeaders=host`
        case presignTail
        /// `\n\nhost\nUNSIGNED-PAYLOAD`: the end of a presigned URL's
        /// canonical request, after its host.
        case presignHeaders
        /// `<scheme>://`
        case proxyScheme
        /// `<host>`: with virtual addressing, after `<bucket>.`
        case host
        /// `AWS4-HMAC-SHA256 Credential=<key>/`
        case authorizationCredential
        /// `/<region>/s3/aws4_request, SignedHeaders=<names>, Signature=`
        case authorizationScope
        /// `\nx-amz-content-sha256:<empty hash>\nx-amz-date:`: after the host
        case proxyHeaders
        /// `[\nx-amz-security-token:<token>]\n\n<names>\n<empty hash>`
        case proxyHeadersTail
        /// `/<region>/s3/aws4_request\n`: the string to sign's scope after
        /// its date.
        case scope
        /// authorizationScope and proxyHeadersTail of a request that also
        /// signs `x-amz-checksum-mode` (between host and
        /// x-amz-content-sha256 in the names).
        case checksumAuthorizationScope
        case checksumHeadersTail
    }

    static let tableSize = Part.allCases.count * 8

    /// Writes the parts for resolved settings into `out`; nil if `cap` is
    /// too small.
    static func write(
        _ conf: s3p_signing_t, into out: UnsafeMutablePointer<UInt8>, cap: Int
    ) -> s3p_str_t? {
        var writer = BufferWriter(base: out, capacity: cap)
        writer.skip(tableSize)
        let token = conf.session_token.len > 0
        let names: StaticString = token
            ? "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
            : "host;x-amz-content-sha256;x-amz-date"
        let checksumNames: StaticString = token
            ? "host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date;x-amz-security-token"
            : "host;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date"
        for part in Part.allCases {
            let start = writer.count
            switch part {
            case .redirectScheme:
                writer.write(conf.external_scheme)
                writer.write("://")
            case .externalHost:
                writer.write(conf.external_host)
            case .presignCredential:
                writer.write("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=")
                writer.writeEncoded(conf.access_key, keepSlash: false)
                writer.write("%2F")
            case .presignScope:
                writer.write("%2F")
                writer.writeEncoded(conf.region, keepSlash: false)
                writer.write("%2Fs3%2Faws4_request&X-Amz-Date=")
            case .presignTail:
                writer.write("&X-Amz-Expires=")
                writer.writeDecimal(UInt32(conf.expires + conf.window))
                if token {
                    writer.write("&X-Amz-Security-Token=")
                    writer.writeEncoded(conf.session_token, keepSlash: false)
                }
                writer.write("&X-Amz-SignedHeaders=host")
            case .presignHeaders:
                writer.write("\n\nhost\nUNSIGNED-PAYLOAD")
            case .proxyScheme:
                writer.write(conf.scheme)
                writer.write("://")
            case .host:
                writer.write(conf.host)
            case .authorizationCredential:
                writer.write("AWS4-HMAC-SHA256 Credential=")
                writer.write(conf.access_key)
                writer.write("/")
            case .authorizationScope, .checksumAuthorizationScope:
                writer.write("/")
                writer.write(conf.region)
                writer.write("/s3/aws4_request, SignedHeaders=")
                writer.write(part == .authorizationScope ? names : checksumNames)
                writer.write(", Signature=")
            case .proxyHeaders:
                writer.write("\nx-amz-content-sha256:")
                writer.write(Array(S3P_EMPTY_PAYLOAD_SHA256.utf8))
                writer.write("\nx-amz-date:")
            case .proxyHeadersTail, .checksumHeadersTail:
                if token {
                    writer.write("\nx-amz-security-token:")
                    writer.write(conf.session_token)
                }
                writer.write("\n\n")
                writer.write(part == .proxyHeadersTail ? names : checksumNames)
                writer.write("\n")
                writer.write(Array(S3P_EMPTY_PAYLOAD_SHA256.utf8))
            case .scope:
                writer.write("/")
                writer.write(conf.region)
                writer.write("/s3/aws4_request\n")
            }
            guard !writer.overflowed, writer.count <= Int(UInt32.max) else { return nil }
            let entry = UnsafeMutableRawPointer(out + 8 * part.rawValue)
            entry.storeBytes(of: UInt32(start).littleEndian, as: UInt32.self)
            entry.storeBytes(of: UInt32(writer.count - start).littleEndian,
                             toByteOffset: 4, as: UInt32.self)
        }
        return writer.str(0, writer.count)
    }
}

/// The prepared parts of resolved signing settings.
struct PreparedParts {
    let base: UnsafeRawPointer

    /// nil when `prepared` was not written (settings not resolved).
    init?(_ prepared: s3p_str_t) {
        guard prepared.len >= Prepared.tableSize, let data = prepared.data else {
            return nil
        }
        base = UnsafeRawPointer(data)
    }

    @inline(__always)
    subscript(_ part: Prepared.Part) -> UnsafeBufferPointer<UInt8> {
        let entry = base + 8 * part.rawValue
        let offset = Int(UInt32(littleEndian: entry.loadUnaligned(as: UInt32.self)))
        let length = Int(UInt32(littleEndian: entry.loadUnaligned(fromByteOffset: 4,
                                                                    as: UInt32.self)))
        return UnsafeBufferPointer(
            start: (base + offset).assumingMemoryBound(to: UInt8.self), count: length)
    }
}

// The SigV4 timestamp: `YYYYMMDD'T'HHMMSS'Z'` in UTC, and its first eight
// bytes, the date of the credential scope.  Both come from one clock
// reading per request, which the caller passes in.

internal import COpenSSL

struct AmzDate {
    /// `YYYYMMDDTHHMMSSZ`, 16 ASCII bytes.
    let timestamp: [UInt8]

    /// `YYYYMMDD`: the first 8 bytes of the timestamp.
    var date: ArraySlice<UInt8> { timestamp[0..<8] }

    /// Formats Unix time `seconds` (clamped to years 1970...9999).
    init(unixTime seconds: Int64) {
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes { AmzDate.format(unixTime: seconds, into: $0) }
        timestamp = out
    }

    /// Writes the 16-byte timestamp of `seconds` into `out` (at least 16
    /// bytes), without allocating.
    static func format(unixTime seconds: Int64, into out: UnsafeMutableRawBufferPointer) {
        guard out.count >= 16 else { return }
        let clamped = min(max(seconds, 0), 253_402_300_799)
        let days = clamped / 86_400
        let secondsOfDay = clamped % 86_400
        let (year, month, day) = AmzDate.civil(fromDays: days)
        digits(year, 4, at: 0, in: out)
        digits(month, 2, at: 4, in: out)
        digits(day, 2, at: 6, in: out)
        out[8] = UInt8(ascii: "T")
        digits(secondsOfDay / 3600, 2, at: 9, in: out)
        digits(secondsOfDay / 60 % 60, 2, at: 11, in: out)
        digits(secondsOfDay % 60, 2, at: 13, in: out)
        out[15] = UInt8(ascii: "Z")
    }

    /// Writes `value` as `count` decimal digits (zero-padded) at `at`.
    @inline(__always)
    private static func digits(
        _ value: Int64, _ count: Int, at: Int, in out: UnsafeMutableRawBufferPointer
    ) {
        var rest = value
        for index in stride(from: at + count - 1, through: at, by: -1) {
            out[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
    }

    /// The timestamp of `seconds` as 16 bytes in two words.  The thread
    /// keeps the last one: nginx passes its cached time, the same for every
    /// request of a second.
    static func threadStamp(unixTime seconds: Int64) -> (UInt64, UInt64) {
        let cache = s3p_thread_cache()
        var stamp: (UInt64, UInt64) = (0, 0)
        if cache.pointee.stamp.0 != 0 && cache.pointee.stamp_time == seconds {
            withUnsafeMutableBytes(of: &stamp) { stamp in
                withUnsafeBytes(of: cache.pointee.stamp) { stamp.copyMemory(from: $0) }
            }
            return stamp
        }
        withUnsafeMutableBytes(of: &stamp) { format(unixTime: seconds, into: $0) }
        withUnsafeMutableBytes(of: &cache.pointee.stamp) { cached in
            withUnsafeBytes(of: stamp) { cached.copyMemory(from: $0) }
        }
        cache.pointee.stamp_time = seconds
        return stamp
    }

    /// Year, month and day of `days` since 1970-01-01 in the proleptic
    /// Gregorian calendar (Howard Hinnant's days_from_civil, inverted).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524
            - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4
            - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}

/// The SigV4 timestamp of one request, as 16 bytes in two words (from the
/// thread's cache of the current second).
struct AmzStamp {
    let words: (UInt64, UInt64)

    init(unixTime: Int64) {
        words = AmzDate.threadStamp(unixTime: unixTime)
    }

    /// "YYYYMMDD", the credential scope's date, as a word.
    var date: UInt64 { words.0 }

    func write(into writer: inout BufferWriter) {
        withUnsafeBytes(of: words) { _ = writer.write($0.bindMemory(to: UInt8.self)) }
    }

    func writeDate(into writer: inout BufferWriter) {
        withUnsafeBytes(of: words.0) { _ = writer.write($0.bindMemory(to: UInt8.self)) }
    }
}

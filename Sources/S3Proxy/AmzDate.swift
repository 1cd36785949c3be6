// The SigV4 timestamp: `YYYYMMDD'T'HHMMSS'Z'` in UTC, and its first eight
// bytes, the date of the credential scope.  Both come from one clock
// reading per request, which the caller passes in.

struct AmzDate {
    /// `YYYYMMDDTHHMMSSZ`, 16 ASCII bytes.
    let timestamp: [UInt8]

    /// `YYYYMMDD`: the first 8 bytes of the timestamp.
    var date: ArraySlice<UInt8> { timestamp[0..<8] }

    /// Formats Unix time `seconds` (clamped to years 1970...9999).
    init(unixTime seconds: Int64) {
        let clamped = min(max(seconds, 0), 253_402_300_799)
        let days = clamped / 86_400
        let secondsOfDay = clamped % 86_400
        let (year, month, day) = AmzDate.civil(fromDays: days)

        var out: [UInt8] = []
        out.reserveCapacity(16)
        AmzDate.append(year, digits: 4, to: &out)
        AmzDate.append(month, digits: 2, to: &out)
        AmzDate.append(day, digits: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        AmzDate.append(secondsOfDay / 3600, digits: 2, to: &out)
        AmzDate.append(secondsOfDay / 60 % 60, digits: 2, to: &out)
        AmzDate.append(secondsOfDay % 60, digits: 2, to: &out)
        out.append(UInt8(ascii: "Z"))
        timestamp = out
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

    private static func append(
        _ value: Int64, digits: Int, to out: inout [UInt8]
    ) {
        var divisor: Int64 = 1
        for _ in 1..<digits { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}

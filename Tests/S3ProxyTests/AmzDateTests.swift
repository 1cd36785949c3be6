// The SigV4 timestamp, from Unix time.
//
// Source of the Unix times: GNU date, `date -u -d '<date>' +%s`, and the
// Unix epoch itself; of 1369353600: the time of AWS's SigV4 examples
// (/work/shared/sigv4-vectors.md, 20130524T000000Z).  Leap years follow the
// Gregorian rule (2000 and 2024 leap, 2100 not).

import Testing
@testable import S3Proxy

@Suite struct AmzDateTests {

    static let vectors: [(Int64, String)] = [
        // The Unix epoch.
        (0, "19700101T000000Z"),
        (1, "19700101T000001Z"),
        (86_399, "19700101T235959Z"),
        (86_400, "19700102T000000Z"),
        // sigv4-vectors.md: the examples' time.
        (1_369_353_600, "20130524T000000Z"),
        // date -u -d '2013-05-25 00:00:00' +%s (the next day).
        (1_369_440_000, "20130525T000000Z"),
        // date -u -d '2024-02-29 12:34:56' +%s (leap day).
        (1_709_210_096, "20240229T123456Z"),
        // date -u -d '2000-02-29 23:59:59' +%s (leap day of a 400-year).
        (951_868_799, "20000229T235959Z"),
        // date -u -d '2000-03-01 00:00:00' +%s.
        (951_868_800, "20000301T000000Z"),
        // date -u -d '2023-12-31 23:59:59' +%s (end of year).
        (1_704_067_199, "20231231T235959Z"),
        (1_704_067_200, "20240101T000000Z"),
        // date -u -d '2100-02-28 23:59:59' +%s / '2100-03-01' (2100 is not
        // a leap year).
        (4_107_542_399, "21000228T235959Z"),
        (4_107_542_400, "21000301T000000Z"),
        // date -u -d '9999-12-31 23:59:59' +%s: the last representable
        // second; later times clamp to it.
        (253_402_300_799, "99991231T235959Z"),
        (253_402_300_800, "99991231T235959Z"),
        (Int64.max, "99991231T235959Z"),
        // Negative times clamp to the epoch.
        (-1, "19700101T000000Z"),
        (Int64.min, "19700101T000000Z"),
    ]

    @Test(arguments: vectors)
    func timestamp(_ unixTime: Int64, _ expected: String) {
        let date = AmzDate(unixTime: unixTime)
        #expect(text(date.timestamp) == expected)
        #expect(text(date.date) == String(expected.prefix(8)))
        #expect(date.timestamp.count == 16)
    }

    // Every day from 1970 to 2100 against a plain day-by-day calendar walk:
    // civil(fromDays:) must agree with counting days through each month.
    @Test func civilAgreesWithCalendarWalk() {
        var year: Int64 = 1970, month: Int64 = 1, day: Int64 = 1
        func daysIn(_ year: Int64, _ month: Int64) -> Int64 {
            switch month {
            case 2:
                let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
                return leap ? 29 : 28
            case 4, 6, 9, 11: return 30
            default: return 31
            }
        }
        for days in Int64(0)..<47_847 {  // through 2100-12-31
            let civil = AmzDate.civil(fromDays: days)
            if civil != (year, month, day) {
                Issue.record("day \(days): \(civil) != \((year, month, day))")
                return
            }
            day += 1
            if day > daysIn(year, month) {
                day = 1
                month += 1
                if month > 12 {
                    month = 1
                    year += 1
                }
            }
        }
        #expect((year, month, day) == (2101, 1, 1))
    }
}

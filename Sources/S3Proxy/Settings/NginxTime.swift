// A time value in seconds as nginx reads one for its directives
// (ngx_parse_time() with is_sec set, src/core/ngx_parse.c, for
// ngx_conf_set_sec_slot()): "300", "90s", "1h 30m", "1y 2M 3w 4d 5h 6m 7s".
//
// Each unit comes at most once, from the largest down (y 365 days, M 30
// days, w, d, h, m, s); a number without a unit is seconds and ends the
// value; spaces may follow a unit.  "ms" is refused in seconds.  A value
// beyond Int64 is refused, as nginx refuses one beyond its time_t.

enum NginxTime {
    private static let units: [(byte: UInt8, step: Int, scale: Int64)] = [
        (UInt8(ascii: "y"), 1, 365 * 86_400), (UInt8(ascii: "M"), 2, 30 * 86_400),
        (UInt8(ascii: "w"), 3, 7 * 86_400), (UInt8(ascii: "d"), 4, 86_400),
        (UInt8(ascii: "h"), 5, 3_600), (UInt8(ascii: "m"), 6, 60),
        (UInt8(ascii: "s"), 7, 1),
    ]

    /// The number without a unit, before a space: nothing may follow it.
    private static let last = 8

    /// The seconds `text` stands for, or nil where nginx says "invalid
    /// value".
    static func seconds(_ text: [UInt8]) -> Int64? {
        var step = 0
        var value: Int64 = 0
        var total: Int64 = 0
        var valid = false
        var at = 0
        while at < text.count {
            let byte = text[at]
            at += 1
            if ASCII.isDigit(byte) {
                let digit = Int64(byte - UInt8(ascii: "0"))
                guard value <= (Int64.max - digit) / 10 else { return nil }
                value = value * 10 + digit
                valid = true
                continue
            }
            let scale: Int64
            if byte == UInt8(ascii: " ") {
                guard step < 7 else { return nil }
                step = last
                scale = 1
            } else if let unit = units.first(where: { $0.byte == byte }) {
                // "ms": milliseconds, which a value in seconds cannot hold
                if byte == UInt8(ascii: "m") && at < text.count
                    && text[at] == UInt8(ascii: "s")
                {
                    return nil
                }
                guard step < unit.step else { return nil }
                step = unit.step
                scale = unit.scale
            } else {
                return nil
            }
            guard value <= Int64.max / scale else { return nil }
            value *= scale
            guard total <= Int64.max - value else { return nil }
            total += value
            value = 0
            while at < text.count && text[at] == UInt8(ascii: " ") {
                at += 1
            }
        }
        guard valid, total <= Int64.max - value else { return nil }
        return total + value
    }
}

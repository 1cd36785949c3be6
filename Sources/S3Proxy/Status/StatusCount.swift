// Which counters of the status zone (s3p_status_counters_t) one event adds
// to: the workers add with atomic adds in C, the choice is made here.

internal import CShim

enum StatusCount {
    static let routes = Int(S3P_ROUTES.rawValue)
    static let codes = Int(S3P_STATUS_CODES)
    static let errors = Int(S3P_S3_ERRORS)

    // Where each array of the counters starts, counted in integers.
    static let cached = routes
    static let refused = cached + 1
    static let answers = refused + codes
    static let s3Errors = answers + codes
    static let locations = s3Errors + errors

    /// The indexes, into the counters read as integers, that `event` adds
    /// one to, into `out` (room for S3P_STATUS_BUMPS); how many.  A
    /// request's route, its cached redirect, its refusal's status and its
    /// location's row; or S3's status, or its error's code.  Once per
    /// request: no allocation.
    static func indexes(_ event: s3p_status_event_t, into out: UnsafeMutablePointer<Int>) -> Int {
        let route = Int(event.route)
        let status = Int(event.status)
        let counted = (100..<600).contains(status)
        guard route < routes else {
            if route != routes {
                return 0
            }
            if counted {
                out[0] = answers + status - 100
                return 1
            }
            guard status == 0 && Int(event.code) < errors else { return 0 }
            out[0] = s3Errors + Int(event.code)
            return 1
        }
        var n = 0
        out[n] = route
        n += 1
        if event.cached != 0 {
            out[n] = cached
            n += 1
        }
        if route == Int(S3P_ROUTE_REFUSED.rawValue) && counted {
            out[n] = refused + status - 100
            n += 1
        }
        if Int(event.row) < Int(S3P_STATUS_LOCATIONS) {
            out[n] = locations + Int(event.row) * routes + route
            n += 1
        }
        return n
    }
}

/// The zone's rows (s3p_status_rows_t): each location and bucket keeps the
/// row it found or took first, across reloads, while the zone lives.
enum StatusRows {
    static let nameMax = Int(S3P_STATUS_NAME_MAX)
    static let keyMax = 2 * nameMax + 1
    static let count = Int(S3P_STATUS_LOCATIONS)

    /// A location's key: its name, a NUL, its bucket, each capped.
    static func key(_ location: s3p_status_location_t) -> [UInt8] {
        var key = Array(Bytes.view(location.name).prefix(nameMax))
        key.append(0)
        key += Bytes.view(location.bucket).prefix(nameMax)
        return key
    }

    /// The row holding `key`, else the first free one, taken for it;
    /// `count` when every row is another's.
    static func row(
        _ key: [UInt8], lens: UnsafeMutableBufferPointer<Int>, keys: UnsafeMutableRawBufferPointer
    ) -> UInt32 {
        for j in 0..<count {
            let slot = UnsafeMutableRawBufferPointer(rebasing: keys[j * keyMax..<(j + 1) * keyMax])
            if lens[j] == 0 {
                slot.copyBytes(from: key)
                lens[j] = key.count
                return UInt32(j)
            }
            if lens[j] == key.count && slot.prefix(key.count).elementsEqual(key) {
                return UInt32(j)
            }
        }
        return UInt32(count)
    }
}

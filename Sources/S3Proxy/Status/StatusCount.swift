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
        guard let result = event.result?.pointee else {
            let status = Int(event.status)
            if (100..<600).contains(status) {
                out[0] = answers + status - 100
                return 1
            }
            guard status == 0 && Int(event.code) < errors else { return 0 }
            out[0] = s3Errors + Int(event.code)
            return 1
        }
        let route = Int(result.route.rawValue)
        let status = Int(result.status)
        guard route < routes else { return 0 }
        var n = 0
        out[n] = route
        n += 1
        if result.cached != 0 {
            out[n] = cached
            n += 1
        }
        if route == Int(S3P_ROUTE_REFUSED.rawValue) && (100..<600).contains(status) {
            out[n] = refused + status - 100
            n += 1
        }
        let row = Int(self.row(allowed: result.allowed, of: event.rows, event.nrows))
        if row < Int(S3P_STATUS_LOCATIONS) {
            out[n] = locations + row * routes + route
            n += 1
        }
        return n
    }

    /// A request's row: its allowed bucket's, the `allowed + 1`th of its
    /// location's rows, else its location's own, the first; none without
    /// rows.
    static func row(
        allowed: Int32, of rows: UnsafePointer<s3p_status_location_t>?, _ n: Int
    ) -> UInt32 {
        guard let rows, n > 0 else { return UInt32(S3P_STATUS_LOCATIONS) }
        let k = allowed >= 0 && Int(allowed) < n - 1 ? Int(allowed) + 1 : 0
        return rows[k].row
    }
}

/// A location's rows (s3p_status_location): its own, with the bucket it
/// has as written, then one per bucket of its allowlist; no row yet.
enum StatusLocation {
    static func fill(
        _ conf: s3p_config_t, name: s3p_str_t, bucket: s3p_str_t,
        into out: UnsafeMutablePointer<s3p_status_location_t>
    ) {
        let none = UInt32(S3P_STATUS_LOCATIONS)
        out[0] = s3p_status_location_t(name: name, bucket: bucket, row: none)
        guard let buckets = conf.buckets else { return }
        for k in 0..<conf.nbuckets {
            out[k + 1] = s3p_status_location_t(name: name, bucket: buckets[k], row: none)
        }
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

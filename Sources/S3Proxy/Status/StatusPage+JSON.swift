// The status page as JSON, the default:
//
//   {"requests": {"redirect": 3, ...}, "redirects_cached": 1,
//    "refused": {"403": 1}, "s3_responses": {"200": 4, "404": 1},
//    "s3_errors": {"NoSuchKey": 1},
//    "credentials": [{"source": "imds", "access_key_id": "ASIA...WXYZ",
//                     "expires_in": 3540, "last_refresh": 1700000000,
//                     "refreshes": 2, "refresh_failures": 1,
//                     "failure_streak": 0, "last_error": "...",
//                     "verification": "unknown"}],
//    "locations": [{"location": "/files/", "bucket": "b",
//                   "requests": {"redirect": 3, ...}}]}

internal import CShim

extension StatusPage {
    func json() -> [UInt8] {
        var t = StatusText()
        t.write("{\"requests\": ")
        writeRoutes(requests, &t)
        t.write(",\n \"redirects_cached\": ")
        t.write(cached)
        t.write(",\n \"refused\": ")
        writeStatuses(refused, &t)
        t.write(",\n \"s3_responses\": ")
        writeStatuses(answers, &t)
        t.write(",\n \"s3_errors\": {")
        for (index, (code, count)) in errorCounts.enumerated() {
            if index > 0 { t.write(", ") }
            t.writeJSONString(code)
            t.write(": ")
            t.write(count)
        }
        t.write("},\n \"credentials\": [")
        for (index, source) in sources.enumerated() {
            t.write(index > 0 ? ",\n  {\"source\": " : "\n  {\"source\": ")
            t.writeJSONString(Bytes.view(source.name))
            t.write(", \"access_key_id\": ")
            let key = StatusPage.shortened(Bytes.view(source.access_key))
            if key.isEmpty { t.write("null") } else { t.writeJSONString(key) }
            t.write(", \"expires_in\": ")
            if let seconds = expiresIn(source) { t.write(seconds) } else { t.write("null") }
            t.write(", \"last_refresh\": ")
            if source.refreshed > 0 { t.write(source.refreshed) } else { t.write("null") }
            t.write(", \"refreshes\": ")
            t.write(source.successes)
            t.write(", \"refresh_failures\": ")
            t.write(source.failures)
            t.write(", \"failure_streak\": ")
            t.write(UInt64(source.streak))
            t.write(", \"last_error\": ")
            if source.error.len > 0 {
                t.writeJSONString(Bytes.view(source.error))
            } else {
                t.write("null")
            }
            t.write(", \"verification\": ")
            t.writeJSONString(StatusPage.verification(source.verification))
            t.write("}")
        }
        t.write("],\n \"locations\": [")
        for (index, location) in locations.enumerated() {
            t.write(index > 0 ? ",\n  {\"location\": " : "\n  {\"location\": ")
            t.writeJSONString(Bytes.view(location.name))
            t.write(", \"bucket\": ")
            if location.bucket.len > 0 {
                t.writeJSONString(Bytes.view(location.bucket))
            } else {
                t.write("null")
            }
            t.write(", \"requests\": ")
            writeRoutes(row(location), &t)
            t.write("}")
        }
        t.write("]}\n")
        return t.bytes
    }

    private func writeRoutes(_ counts: [UInt64], _ t: inout StatusText) {
        t.write("{")
        for (index, name) in StatusPage.routes.enumerated() {
            if index > 0 { t.write(", ") }
            t.writeJSONString(name)
            t.write(": ")
            t.write(counts[index])
        }
        t.write("}")
    }

    /// Counts by HTTP status, those above zero.
    private func writeStatuses(_ counts: [UInt64], _ t: inout StatusText) {
        t.write("{")
        var first = true
        for (index, count) in counts.enumerated() where count > 0 {
            t.write(first ? "\"" : ", \"")
            t.write(UInt64(index + 100))
            t.write("\": ")
            t.write(count)
            first = false
        }
        t.write("}")
    }
}

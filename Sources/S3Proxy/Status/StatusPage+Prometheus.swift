// The status page in Prometheus's text exposition format, version 0.0.4:
// each family with its HELP and TYPE lines, counters named *_total, units
// in the names.
// https://prometheus.io/docs/instrumenting/exposition_formats/

internal import CShim

extension StatusPage {
    func prometheus() -> [UInt8] {
        var t = StatusText()

        family(&t, "s3_proxy_requests_total", "counter", "Requests by route.")
        for (index, name) in StatusPage.routes.enumerated() {
            t.write("s3_proxy_requests_total{route=")
            t.writeLabel(name.withUTF8Buffer { Array($0) })
            t.write("} ")
            sample(&t, requests[index])
        }

        family(&t, "s3_proxy_redirect_cache_hits_total", "counter",
               "Redirects whose signature came from the hot-key cache.")
        t.write("s3_proxy_redirect_cache_hits_total ")
        sample(&t, cached)

        family(&t, "s3_proxy_refused_total", "counter", "Requests refused, by status.")
        statuses(&t, "s3_proxy_refused_total{status=\"", refused)

        family(&t, "s3_proxy_s3_responses_total", "counter",
               "S3's answers to proxied requests, by status.")
        statuses(&t, "s3_proxy_s3_responses_total{status=\"", answers)

        family(&t, "s3_proxy_s3_errors_total", "counter",
               "S3's error answers to proxied requests, by S3 error code.")
        for (code, count) in errorCounts {
            t.write("s3_proxy_s3_errors_total{code=")
            t.writeLabel(code)
            t.write("} ")
            sample(&t, count)
        }

        family(&t, "s3_proxy_credentials_expiry_seconds", "gauge",
               "Seconds until a source's credentials expire.")
        for source in sources {
            guard let seconds = expiresIn(source) else { continue }
            sourceSample(&t, "s3_proxy_credentials_expiry_seconds", source)
            t.write(seconds)
            t.write("\n")
        }

        family(&t, "s3_proxy_credentials_last_refresh_timestamp_seconds", "gauge",
               "When a source's credentials were last refreshed, Unix time.")
        for source in sources where source.refreshed > 0 {
            sourceSample(&t, "s3_proxy_credentials_last_refresh_timestamp_seconds", source)
            t.write(source.refreshed)
            t.write("\n")
        }

        family(&t, "s3_proxy_credentials_refreshes_total", "counter",
               "Refreshes of a source's credentials, by result.")
        for source in sources {
            for (result, count) in [("success" as StaticString, source.successes),
                                    ("failure", source.failures)]
            {
                t.write("s3_proxy_credentials_refreshes_total{source=")
                t.writeLabel(Bytes.view(source.name))
                t.write(",result=")
                t.writeLabel(result.withUTF8Buffer { Array($0) })
                t.write("} ")
                sample(&t, count)
            }
        }

        family(&t, "s3_proxy_credentials_failure_streak", "gauge",
               "Failed refreshes of a source in a row, now.")
        for source in sources {
            sourceSample(&t, "s3_proxy_credentials_failure_streak", source)
            sample(&t, UInt64(source.streak))
        }

        family(&t, "s3_proxy_credentials_info", "gauge",
               "A source's access key id (shortened), last verification and last error.")
        for source in sources {
            t.write("s3_proxy_credentials_info{source=")
            t.writeLabel(Bytes.view(source.name))
            t.write(",access_key_id=")
            t.writeLabel(StatusPage.shortened(Bytes.view(source.access_key)))
            t.write(",verification=")
            t.writeLabel(StatusPage.verification(source.verification).withUTF8Buffer { Array($0) })
            t.write(",last_error=")
            t.writeLabel(Bytes.view(source.error))
            t.write("} 1\n")
        }

        family(&t, "s3_proxy_location_requests_total", "counter",
               "Requests by location, bucket and route.")
        for location in locations {
            for (index, count) in row(location).enumerated() {
                t.write("s3_proxy_location_requests_total{location=")
                t.writeLabel(Bytes.view(location.name))
                t.write(",bucket=")
                t.writeLabel(Bytes.view(location.bucket))
                t.write(",route=")
                t.writeLabel(StatusPage.routes[index].withUTF8Buffer { Array($0) })
                t.write("} ")
                sample(&t, count)
            }
        }
        return t.bytes
    }

    private func family(
        _ t: inout StatusText, _ name: StaticString, _ type: StaticString, _ help: StaticString
    ) {
        t.write("# HELP ")
        t.write(name)
        t.write(" ")
        t.write(help)
        t.write("\n# TYPE ")
        t.write(name)
        t.write(" ")
        t.write(type)
        t.write("\n")
    }

    private func sample(_ t: inout StatusText, _ value: UInt64) {
        t.write(value)
        t.write("\n")
    }

    private func sourceSample(
        _ t: inout StatusText, _ name: StaticString, _ source: s3p_status_source_t
    ) {
        t.write(name)
        t.write("{source=")
        t.writeLabel(Bytes.view(source.name))
        t.write("} ")
    }

    /// Counts by HTTP status, those above zero; `prefix` opens the label.
    private func statuses(_ t: inout StatusText, _ prefix: StaticString, _ counts: [UInt64]) {
        for (index, count) in counts.enumerated() where count > 0 {
            t.write(prefix)
            t.write(UInt64(index + 100))
            t.write("\"} ")
            sample(&t, count)
        }
    }
}

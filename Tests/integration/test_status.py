"""s3_proxy_status (issue 24): known traffic against two workers, then the
status page, in JSON and in Prometheus's text format (read with
prometheus_client's own parser), equals what was sent, and keeps it across
a reload; each credential source's health (a rotation, a failed refresh,
an expiry that counts down); and the log variables in a JSON access log."""

import http.client
import json
import os
import re
import signal
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from credentials import CredServer, rotating_s3
from harness import ACCESS_KEY, s3_environment, wait_until

DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                         "grafana-dashboard.json")
# every metric the tests below check, each a panel of the dashboard
CHECKED_METRICS = {
    "s3_proxy_requests_total", "s3_proxy_redirect_cache_hits_total",
    "s3_proxy_refused_total", "s3_proxy_s3_responses_total",
    "s3_proxy_s3_errors_total", "s3_proxy_location_requests_total",
    "s3_proxy_credentials_expiry_seconds",
    "s3_proxy_credentials_last_refresh_timestamp_seconds",
    "s3_proxy_credentials_refreshes_total",
    "s3_proxy_credentials_failure_streak", "s3_proxy_credentials_info",
}

NO_UA = None
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"

LOG_FORMAT = (
    "log_format s3json escape=json '{"
    '"uri":"$request_uri","status":"$status","pid":"$pid",'
    '"source":"$s3_proxy_credentials_source",'
    '"expires":"$s3_proxy_credentials_expires",'
    '"s3_error":"$s3_proxy_s3_error",'
    '"request_id":"$s3_proxy_request_id"'
    "}';")

# Three sources: a provider that rotates (IMDS), static keys with the
# hot-key cache, and one that never gives credentials (503).
LOCATIONS = """
        location / {
            s3_proxy on;
            s3_proxy_credentials imds;
            s3_proxy_buckets demo;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }
        location /d/ {
            s3_proxy on;
            s3_proxy_credentials env;
            s3_proxy_bucket demo;
            s3_proxy_presign_window 1h;
            include s3_proxy.conf;
        }
        location /w/ {
            s3_proxy on;
            s3_proxy_credentials web-identity;
            s3_proxy_bucket demo;
            include s3_proxy.conf;
        }
        location = /status {
            s3_proxy_status;
            allow 127.0.0.1;
            deny all;
        }
"""


def inject(s3, path, status, code):
    """The S3 stand-in answers the next request for `path` with this error."""
    body = json.dumps({"path": path, "status": status, "code": code}).encode()
    urllib.request.urlopen(urllib.request.Request(
        s3.endpoint + "/__s3server/faults", data=body, method="POST")).read()


def request(nginx, method, path, ua=BROWSER, conn=None, headers=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    try:
        h = dict(headers or {})
        if ua:
            h["User-Agent"] = ua
        c.request(method, path, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        if conn is None:
            c.close()


def status_json(nginx):
    status, headers, body = request(nginx, "GET", "/status")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    return json.loads(body)


def status_prometheus(nginx, how="query"):
    if how == "query":
        status, headers, body = request(nginx, "GET", "/status?format=prometheus")
    else:
        # as Prometheus's own scraper asks
        status, headers, body = request(nginx, "GET", "/status", headers={
            "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,"
                      "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"})
    assert status == 200, body
    assert headers["content-type"] == PROMETHEUS
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def prometheus_view(samples):
    """The counters in the JSON page's shape, from the Prometheus samples."""
    view = {"requests": {}, "refused": {}, "s3_responses": {},
            "s3_errors": {}, "locations": {}}
    for (name, labels), value in samples.items():
        labels = dict(labels)
        if name == "s3_proxy_requests_total":
            view["requests"][labels["route"]] = int(value)
        elif name == "s3_proxy_redirect_cache_hits_total":
            view["redirects_cached"] = int(value)
        elif name == "s3_proxy_refused_total":
            view["refused"][labels["status"]] = int(value)
        elif name == "s3_proxy_s3_responses_total":
            view["s3_responses"][labels["status"]] = int(value)
        elif name == "s3_proxy_s3_errors_total":
            view["s3_errors"][labels["code"]] = int(value)
        elif name == "s3_proxy_location_requests_total":
            view["locations"].setdefault(
                (labels["location"], labels["bucket"]), {})[labels["route"]] = int(value)
    return view


def json_view(page):
    view = {k: page[k] for k in ("requests", "redirects_cached", "refused",
                                 "s3_responses", "s3_errors")}
    view["locations"] = {(loc["location"], loc["bucket"] or ""): loc["requests"]
                         for loc in page["locations"]}
    return view


def source(page, name):
    found = [s for s in page["credentials"] if s["source"] == name]
    assert len(found) == 1, page["credentials"]
    return found[0]


def shortened(key):
    return key[:4] + "..." + key[-4:]


def routes(**counts):
    names = ("redirect", "index_page", "xml_listing", "builtin_listing",
             "stream", "refused", "unavailable")
    return {name: counts.get(name, 0) for name in names}


def log_lines(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def reload(nginx, workers=2):
    """SIGHUP; returns once the new workers started and the old exited."""
    log = nginx.log_text()
    started = log.count("start worker process")
    exited = log.count("exited with code 0")
    nginx.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: nginx.log_text().count("start worker process")
               >= started + workers
               and nginx.log_text().count("exited with code 0") >= exited + workers,
               20, "the new workers, and the old ones gone")


@pytest.fixture
def cred():
    server = CredServer(lifetime=12)
    yield server
    server.stop()


@pytest.fixture
def s3(cred):
    server = rotating_s3(cred)
    yield server
    server.stop()


@pytest.fixture
def nginx(make_nginx, s3, cred):
    env = s3_environment(s3, AWS_EC2_METADATA_DISABLED=None,
                         AWS_WEB_IDENTITY_TOKEN_FILE="/nonexistent/token",
                         AWS_ROLE_ARN="arn:aws:iam::123456789012:role/s3p",
                         AWS_ENDPOINT_URL_STS=cred.endpoint,
                         **cred.env("imds"))
    n = make_nginx(env, start=False, locations=LOCATIONS, workers=2,
                   http_extra=LOG_FORMAT)
    n.json_log = os.path.join(n.prefix, "s3json.log")
    with open(n.conf) as f:
        conf = f.read()
    with open(n.conf, "w") as f:
        # reuseport: each worker its own socket, connections spread by
        # the kernel, so that both workers count
        f.write(conf.replace(LOG_FORMAT, LOG_FORMAT
                             + f"\n    access_log {n.json_log} s3json;")
                .replace(f"listen 127.0.0.1:{n.port};",
                         f"listen 127.0.0.1:{n.port} reuseport;"))
    n.start()
    # the IMDS location has credentials; the web-identity one failed
    wait_until(lambda: request(n, "GET", "/status") and
               source(status_json(n), "imds")["access_key_id"], 15,
               lambda: n.log_text()[-2000:])
    wait_until(lambda: 'no credentials from "web-identity"' in n.log_text(),
               15, "the web-identity failure")
    return n


def send_known_traffic(nginx, s3):
    """Requests of every route; returns what the page must then count."""
    inject(s3, "/demo/files/slow.txt", 503, "SlowDown")
    sent = [
        ("GET", "/demo/files/hello.txt", BROWSER, 307),      # redirect
        ("GET", "/demo/", BROWSER, 200),                     # index page
        ("GET", "/demo/?list-type=2&prefix=files/", "aws-cli/2.15.0", 200),
        ("GET", "/demo/files/", BROWSER, 200),               # index 404, listing
        ("GET", "/demo/files/hello.txt", NO_UA, 200),        # streamed
        ("GET", "/demo/files/missing.txt", NO_UA, 404),      # NoSuchKey
        ("GET", "/demo/files/slow.txt", NO_UA, 503),         # SlowDown
        ("DELETE", "/demo/files/hello.txt", BROWSER, 405),
        ("GET", "/", BROWSER, 403),
        ("GET", "/w/files/hello.txt", BROWSER, 503),         # no credentials
    ]
    for method, path, ua, expected in sent:
        status, headers, body = request(nginx, method, path, ua=ua)
        assert status == expected, (path, status, body[:300])
        assert "x-amz-request-id" not in headers
    # the hot-key cache: one connection, one worker, the same key
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    try:
        locations = {request(nginx, "GET", "/d/files/hello.txt", conn=conn)[1]["location"]
                     for _ in range(3)}
    finally:
        conn.close()
    assert len(locations) == 1
    return {
        "requests": routes(redirect=4, index_page=2, xml_listing=1,
                           builtin_listing=1, stream=3, refused=2,
                           unavailable=1),
        "redirects_cached": 2,
        "refused": {"403": 1, "405": 1},
        "s3_responses": {"200": 4, "404": 2, "503": 1},
        "s3_errors": {"NoSuchKey": 1, "SlowDown": 1},
        "locations": {
            # refusals before the bucket is known: the location's own row
            ("/", ""): routes(refused=2),
            ("/", "demo"): routes(redirect=1, index_page=2, xml_listing=1,
                                  builtin_listing=1, stream=3),
            ("/d/", "demo"): routes(redirect=3),
            ("/w/", "demo"): routes(unavailable=1),
        },
    }


def test_counters_equal_the_traffic_in_json_and_prometheus_across_a_reload(nginx, s3):
    expected = send_known_traffic(nginx, s3)
    # both workers served the traffic counted
    lines = wait_until(lambda: (lambda l: l if len(l) >= 13 else None)(
        [x for x in log_lines(nginx.json_log) if x["uri"] != "/status"]),
        10, "the access log's lines")
    assert len({line["pid"] for line in lines}) == 2
    assert json_view(status_json(nginx)) == expected
    assert prometheus_view(status_prometheus(nginx)) == expected
    assert prometheus_view(status_prometheus(nginx, how="accept")) == expected

    reload(nginx)
    assert json_view(status_json(nginx)) == expected
    # the new workers add to the same counters (a new worker's hot-key
    # cache is empty)
    assert request(nginx, "GET", "/d/files/hello.txt")[0] == 307
    expected["requests"]["redirect"] += 1
    expected["locations"][("/d/", "demo")]["redirect"] += 1
    assert json_view(status_json(nginx)) == expected
    samples = status_prometheus(nginx)
    assert prometheus_view(samples)["requests"] == expected["requests"]
    assert not nginx.bad_log_lines()

    # the Grafana dashboard: a panel per metric checked here, titled with
    # it, whose queries name metrics the page has
    with open(DASHBOARD) as f:
        panels = json.load(f)["panels"]
    assert {p["title"] for p in panels} == CHECKED_METRICS
    page = {name for name, _ in samples}
    assert CHECKED_METRICS <= page
    for p in panels:
        names = set(re.findall(r"s3_proxy_[a-z0-9_]+", " ".join(
            t["expr"] for t in p["targets"])))
        assert p["title"] in names and names <= page, (p["title"], names)


def test_credential_sources_rotation_failure_and_expiry(nginx, cred):
    page = status_json(nginx)
    env = source(page, "env")
    assert env["access_key_id"] == shortened(ACCESS_KEY)
    assert env["expires_in"] is None
    web = source(page, "web-identity")
    assert web["access_key_id"] is None and web["refresh_failures"] >= 1
    assert "no credentials" in web["last_error"]
    assert web["failure_streak"] >= 1
    imds = source(page, "imds")
    # each source's keys are checked with S3 once in use (issue 22): the
    # S3 stand-in takes the set IMDS issued and the static keys
    wait_until(lambda: source(status_json(nginx), "imds")["verification"]
               == "ok" and source(status_json(nginx), "env")["verification"]
               == "ok", 10, "the keys checked with S3")
    imds = source(status_json(nginx), "imds")
    issued = cred.issued()[-1]
    assert imds["access_key_id"] == shortened(issued["access_key"])
    assert abs(imds["expires_in"] - (issued["expires"] - time.time())) <= 2

    # the expiry counts down
    first = imds["expires_in"]
    wait_until(lambda: source(status_json(nginx), "imds")["expires_in"] < first,
               10, "a smaller expires_in")

    # a rotation: a new set, one more refresh, its time
    refreshes = imds["refreshes"]
    wait_until(lambda: source(status_json(nginx), "imds")["refreshes"] > refreshes,
               15, "a refresh")
    now = source(status_json(nginx), "imds")
    assert now["access_key_id"] == shortened(cred.issued()[-1]["access_key"])
    assert now["access_key_id"] != shortened(issued["access_key"])
    assert abs(now["last_refresh"] - time.time()) <= 15
    assert now["refresh_failures"] == 0 and now["last_error"] is None

    # a failed refresh: counted, its error kept; then it recovers
    cred.fault("500")
    failed = wait_until(lambda: (lambda s: s if s["refresh_failures"] >= 1 else None)(
        source(status_json(nginx), "imds")), 15, "a failed refresh")
    assert "HTTP status 500" in failed["last_error"]
    assert failed["failure_streak"] >= 1
    cred.fault("none")
    wait_until(lambda: source(status_json(nginx), "imds")["failure_streak"] == 0,
               15, "a successful refresh")

    samples = status_prometheus(nginx)
    imds = source(status_json(nginx), "imds")
    labels = (("source", "imds"),)
    assert samples[("s3_proxy_credentials_refreshes_total",
                    (("result", "failure"), ("source", "imds")))] \
        == imds["refresh_failures"]
    assert samples[("s3_proxy_credentials_refreshes_total",
                    (("result", "success"), ("source", "imds")))] == imds["refreshes"]
    assert abs(samples[("s3_proxy_credentials_expiry_seconds", labels)]
               - imds["expires_in"]) <= 2
    assert samples[("s3_proxy_credentials_last_refresh_timestamp_seconds", labels)] \
        == imds["last_refresh"]
    info = [dict(k[1]) for k in samples if k[0] == "s3_proxy_credentials_info"]
    assert {"source": "imds", "access_key_id": imds["access_key_id"],
            "verification": imds["verification"],
            "last_error": imds["last_error"]} in info
    assert ("s3_proxy_credentials_expiry_seconds", (("source", "env"),)) not in samples

    # kept across a reload: the zone's slots outlive it
    reload(nginx)
    after = source(status_json(nginx), "imds")
    assert after["refreshes"] >= imds["refreshes"]
    assert after["refresh_failures"] == imds["refresh_failures"]


def test_log_variables_in_a_json_access_log(nginx, s3):
    send_known_traffic(nginx, s3)
    want = 13
    lines = wait_until(lambda: (lambda l: l if len(
        [x for x in l if x["uri"] != "/status"]) >= want else None)(
            log_lines(nginx.json_log)), 10, "the access log's lines")
    by = {}
    for line in lines:
        by.setdefault(line["uri"], []).append(line)

    streamed = [l for l in by["/demo/files/hello.txt"] if l["status"] == "200"][0]
    assert streamed["source"] == "imds"
    assert 0 < int(streamed["expires"]) <= 12
    assert streamed["s3_error"] == ""
    assert re.fullmatch(r"[0-9A-F]{16}", streamed["request_id"])

    redirect = [l for l in by["/demo/files/hello.txt"] if l["status"] == "307"][0]
    assert redirect["source"] == "imds" and redirect["expires"]
    assert redirect["request_id"] == ""          # S3 was not asked

    assert by["/demo/files/missing.txt"][0]["s3_error"] == "NoSuchKey"
    assert by["/demo/files/slow.txt"][0]["s3_error"] == "SlowDown"
    assert by["/demo/files/slow.txt"][0]["request_id"]

    for line in by["/d/files/hello.txt"]:
        assert (line["source"], line["expires"]) == ("env", "")

    refused = by["/"][0]
    assert (refused["status"], refused["source"], refused["s3_error"]) == ("403", "", "")
    assert by["/w/files/hello.txt"][0]["status"] == "503"


def test_status_answers_get_and_head_only(nginx):
    assert request(nginx, "POST", "/status")[0] == 405
    status, headers, body = request(nginx, "HEAD", "/status")
    assert (status, body) == (200, b"")
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("where,line,message", [
    ("location = /status { s3_proxy_status on; }", "s3_proxy_status on;",
     'invalid number of arguments in "s3_proxy_status" directive'),
    ("s3_proxy_status;", "s3_proxy_status;",
     '"s3_proxy_status" directive is not allowed here'),
])
def test_misplaced_status_fails_nginx_t(make_nginx, s3, where, line, message):
    n = make_nginx(s3_environment(s3), start=False, locations=where)
    rc, out = n.check()
    assert rc != 0
    lineno = open(n.conf).read().splitlines().index(
        next(l for l in open(n.conf).read().splitlines() if line in l)) + 1
    assert f"{message} in {n.conf}:{lineno}" in out, out

"""The module's security behaviour, pinned against the real nginx and the
strict local S3.

Every case asserts both sides: what the client got back, and what reached
the S3 server (demo/s3server.py records every request it receives).  A
second bucket, "secret", is seeded next to "demo" so that any way around
the bucket allowlist would be observable as a request for it.

Requests go over raw sockets wherever the client must not normalise the
target (dot segments, escapes, CR LF, raw bytes) or where the raw bytes of
the answer matter (header injection).
"""

import concurrent.futures
import datetime as dt
import hashlib
import hmac
import http.client
import re
import socket
import subprocess
import time
import urllib.parse

import boto3
import botocore.config
import pytest
import requests

from harness import ACCESS_KEY, REGION, SECRET_KEY, Nginx, S3Server, s3_environment
from s3server import DEMO_OBJECTS

SESSION_TOKEN = "IQoJb3JpZ2luX2VjE/s3p+Test=Token42"
# Fragments that survive any percent-encoding of the credentials: finding
# one of them anywhere means (part of) the credential leaked.
TOKEN_FRAGMENT = "IQoJb3JpZ2luX2VjE"
SECRET_FRAGMENT = "s3-proxy-test-secret"

SECRET_OBJECTS = {
    "x": b"TOP SECRET x\n",
    "index.html": b"<p>TOP SECRET index</p>\n",
}
OTHER_OK_OBJECTS = {
    "x": b"other-ok x\n",
    "meta/index.html": b"<p>other-ok index with metadata</p>\n",
}

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# What a proxied request may carry to S3: the signed headers and the
# client's range and conditional headers, nothing else.
SIGNED_HEADERS = {"host", "authorization", "x-amz-date", "x-amz-content-sha256"}
CLIENT_HEADERS_FORWARDED = {"range", "if-match", "if-none-match", "if-modified-since",
                            "if-unmodified-since", "if-range"}
ALLOWED_UPSTREAM = SIGNED_HEADERS | {"x-amz-security-token"} | CLIENT_HEADERS_FORWARDED

# Headers nginx itself puts on the answers the module generates.
NGINX_RESPONSE_HEADERS = {"server", "date", "content-type", "content-length",
                          "connection", "location", "allow"}

GUARD = """
        location / {
            s3_proxy on;
            s3_proxy_buckets %s;
            include s3_proxy.conf;
        }
"""

OTHER_METHODS = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "PROPPATCH",
                 "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "BREW"]
# object, index page, listing (v2, v1), root
EVERY_KIND_OF_PATH = ["/demo/files/hello.txt", "/demo/index.html", "/demo/",
                      "/demo?list-type=2", "/demo/?delimiter=/", "/"]

SUB_RESOURCES = [
    "acl", "policy", "tagging", "versions", "versionId=1", "uploads", "torrent",
    "attributes", "cors", "lifecycle", "logging", "replication", "encryption",
    "object-lock", "location", "website", "response-content-type=text/html",
    "X-Amz-Security-Token=evil", "X-Amz-Credential=..", "ACL", "Acl", "acl=",
    "uploadId=1", "restore", "select&select-type=2",
    "notification", "requestPayment", "accelerate", "ownershipControls",
    "publicAccessBlock", "policyStatus", "legal-hold", "retention",
    "X-Amz-Signature=00", "X-Amz-Expires=604800",
    # a sub-resource hidden among listing parameters
    "prefix=docs/&acl", "list-type=2&versions", "delimiter=/&policy",
]


# --------------------------------------------------------------------------
# Raw HTTP
# --------------------------------------------------------------------------

class RawResponse:
    """A response as bytes: the head, the parsed headers and the body.
    Interim 1xx answers (Expect: 100-continue) are skipped."""

    def __init__(self, data):
        self.data = data
        rest = data
        while True:
            head, _, body = rest.partition(b"\r\n\r\n")
            if re.match(rb"HTTP/1\.\d 1\d\d ", head) and body:
                rest = body
                continue
            break
        self.head, self.body = head, body
        lines = head.split(b"\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1])
        self.header_lines = lines[1:]
        self.headers = []
        for line in self.header_lines:
            name, _, value = line.partition(b":")
            self.headers.append((name.strip().lower().decode("latin-1"),
                                 value.strip().decode("latin-1")))

    def get_all(self, name):
        return [v for n, v in self.headers if n == name]

    def get(self, name):
        values = self.get_all(name)
        assert len(values) <= 1, (name, values)
        return values[0] if values else None

    @property
    def names(self):
        return {n for n, _ in self.headers}

    def __repr__(self):
        return f"<{self.status_line!r} {self.headers!r}>"


def _bytes(value):
    return value if isinstance(value, bytes) else value.encode("latin-1")


def exchange(nginx, data, timeout=10):
    """Send raw bytes, read until the server closes; the bytes received."""
    chunks = []
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # nginx may answer (414, 400) and close before reading it all
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


# A request without a User-Agent is an S3 client's (s3cmd sends none) and
# gets objects streamed; these requests are a browser's unless they say.
AGENT = "User-Agent: s3-proxy-tests (like curl)"


def build(method, target, headers=(), body=b"", host="localhost", version="HTTP/1.1"):
    lines = [_bytes(method) + b" " + _bytes(target) + b" " + _bytes(version)]
    if host is not None:
        lines.append(b"Host: " + _bytes(host))
    if not any(_bytes(h).lower().startswith(b"user-agent:") for h in headers):
        lines.append(_bytes(AGENT))
    lines += [_bytes(h) for h in headers]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def send(nginx, method, target, headers=(), body=b"", timeout=10, **kwargs):
    return RawResponse(exchange(nginx, build(method, target, headers, body, **kwargs),
                                timeout=timeout))


def ask(nginx, s3, method, target, headers=(), body=b"", **kwargs):
    """One request on a fresh connection: (response, what reached S3)."""
    s3.clear()
    response = send(nginx, method, target, headers, body, **kwargs)
    return response, s3.requests()


def assert_refused(response, seen, status, allow=None):
    """The module answered by itself: the status, no Location, no S3."""
    assert response.status == status, response
    assert response.get_all("location") == [], response
    assert seen == [], seen
    if allow is not None:
        assert response.get_all("allow") == [allow], response


def follow(location, method="GET"):
    """Fetch a presigned URL exactly as written (no dot-segment removal):
    (status, headers, body)."""
    url = urllib.parse.urlsplit(location)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, url.path + ("?" + url.query if url.query else ""))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, \
            response.read()
    finally:
        conn.close()


def query_of(location):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query,
                                 keep_blank_values=True)


def wait_for_records(s3, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        seen = s3.requests()
        if len(seen) >= count or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def worker_pids(nginx, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(nginx.proc.pid)],
                             capture_output=True, text=True).stdout
        pids = {int(p) for p in out.split()}
        if pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def signing_key_hex(date):
    """The SigV4 signing key for `date` (YYYYMMDD): the secret that signs
    every request of that day."""
    key = ("AWS4" + SECRET_KEY).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key.hex()


# --------------------------------------------------------------------------
# Servers and nginx instances, one per configuration, shared by the module
# --------------------------------------------------------------------------

def seed_extra_buckets(s3):
    client = boto3.client(
        "s3", endpoint_url=s3.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))
    client.create_bucket(Bucket="secret")
    for key, body in SECRET_OBJECTS.items():
        client.put_object(Bucket="secret", Key=key, Body=body,
                          ContentType="text/html" if key.endswith(".html") else "text/plain")
    client.create_bucket(Bucket="other-ok")
    for key, body in OTHER_OK_OBJECTS.items():
        client.put_object(Bucket="other-ok", Key=key, Body=body,
                          Metadata={"owner": "alice"},
                          ContentType="text/html" if key.endswith(".html") else "text/plain")


@pytest.fixture(scope="module")
def servers():
    """The plain S3 (demo, secret, other-ok) and one that requires a session
    token (demo), started side by side."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(S3Server), pool.submit(S3Server, session_token=SESSION_TOKEN)]
        started, errors = [], []
        for future in futures:
            try:
                started.append(future.result())
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
    if errors:
        for server in started:
            server.stop()
        raise errors[0]
    plain, token = started
    try:
        seed_extra_buckets(plain)
    except Exception:
        plain.stop()
        token.stop()
        raise
    yield plain, token
    plain.stop()
    token.stop()


@pytest.fixture(scope="module")
def s3(servers):
    """Overrides the session-wide `s3`: this module's own S3 with the extra
    buckets, so that seeding them does not touch other modules."""
    return servers[0]


@pytest.fixture(scope="module")
def token_s3(servers):
    return servers[1]


@pytest.fixture(scope="module")
def instances():
    started = []
    yield started
    problems = []
    for nginx in started:
        problems += nginx.bad_log_lines()
        if nginx.proc is not None and nginx.proc.poll() is None:
            if worker_pids(nginx, timeout=0) != nginx.initial_workers:
                problems.append(f"nginx on {nginx.port}: workers changed from "
                                f"{nginx.initial_workers} to {worker_pids(nginx, 0)}")
        nginx.cleanup()
    assert not problems, "\n".join(problems)


@pytest.fixture(autouse=True)
def error_logs_stay_clean(instances):
    """No alert, crit or crashed worker in any of this module's nginx logs
    after any test."""
    yield
    bad = [line for nginx in instances for line in nginx.bad_log_lines()]
    assert not bad, "error log:\n" + "\n".join(bad)


def start(instances, env, **kwargs):
    nginx = Nginx(env, **kwargs).start()
    instances.append(nginx)
    nginx.initial_workers = worker_pids(nginx)
    assert nginx.initial_workers, "no worker process"
    return nginx


@pytest.fixture(scope="module")
def guarded(instances, s3):
    """`s3_proxy_buckets demo other-ok;` (space-separated)."""
    return start(instances, s3_environment(s3), locations=GUARD % "demo other-ok")


@pytest.fixture(scope="module")
def guarded_comma(instances, s3):
    """`s3_proxy_buckets demo,other-ok;` (comma-separated)."""
    return start(instances, s3_environment(s3), locations=GUARD % "demo,other-ok")


@pytest.fixture(scope="module")
def guarded_env(instances, s3):
    """No directive: S3_PROXY_BUCKETS="demo,other-ok" is the default."""
    return start(instances, s3_environment(s3, S3_PROXY_BUCKETS="demo,other-ok"))


@pytest.fixture(scope="module")
def open_proxy(instances, s3):
    """No allowlist at all: every bucket is reachable (the control case)."""
    return start(instances, s3_environment(s3, S3_PROXY_BUCKETS=None))


@pytest.fixture(scope="module")
def params_proxy(instances, s3):
    return start(instances, s3_environment(s3), locations="""
        location / {
            s3_proxy on;
            s3_proxy_buckets demo;
            s3_proxy_allow_params versionId response-content-disposition;
            include s3_proxy.conf;
        }
""")


@pytest.fixture(scope="module")
def token_proxy(instances, token_s3):
    """A session token configured, and the error log at debug level."""
    return start(instances, s3_environment(token_s3), locations=GUARD % "demo other-ok",
                 log_level="debug")


GUARDS = ["guarded", "guarded_comma", "guarded_env"]


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method", OTHER_METHODS)
def test_methods_other_than_get_and_head_get_405_with_allow_and_reach_nothing(
        guarded, s3, method):
    for path in EVERY_KIND_OF_PATH:
        response, seen = ask(guarded, s3, method, path,
                             headers=["Content-Type: text/plain", "Content-Length: 5"],
                             body=b"hello")
        assert_refused(response, seen, 405, allow="GET, HEAD")


@pytest.mark.parametrize("method", OTHER_METHODS[:3])
def test_methods_other_than_get_and_head_are_refused_for_disallowed_buckets_too(
        guarded, s3, method):
    # the method is checked first: a write to any bucket never gets further
    for path in ["/secret/x", "/secret/", "/demo/../secret/x"]:
        response, seen = ask(guarded, s3, method, path, headers=["Content-Length: 0"])
        assert_refused(response, seen, 405, allow="GET, HEAD")


@pytest.mark.parametrize("method,target", [
    ("TRACE", "/demo/files/hello.txt"), ("TRACE", "/demo/"), ("TRACE", "/"),
    ("TRACE", "/demo?list-type=2"),
    ("CONNECT", "/demo/files/hello.txt"), ("CONNECT", "/demo/"),
    ("CONNECT", "127.0.0.1:443"), ("CONNECT", "s3.amazonaws.com:443"),
])
def test_trace_and_connect_are_refused_by_nginx_itself_and_reach_nothing(
        guarded, s3, method, target):
    response, seen = ask(guarded, s3, method, target)
    assert 400 <= response.status < 500, response
    if target.startswith("/"):
        assert response.status == 405  # nginx's own 405, without Allow
    assert response.get_all("location") == []
    assert b"Max-Forwards" not in response.body and b"Host: localhost" not in response.body
    assert seen == []


@pytest.mark.parametrize("method", ["get", "Get", "G\x00T", "GET\x01"])
def test_malformed_method_tokens_are_refused_by_nginx(guarded, s3, method):
    response, seen = ask(guarded, s3, method, "/demo/files/hello.txt")
    assert response.status == 400, response
    assert response.get_all("location") == []
    assert seen == []


def test_method_override_headers_do_not_change_the_method(guarded, s3):
    override = ["X-HTTP-Method-Override: DELETE", "X-HTTP-Method: PUT",
                "X-Method-Override: POST"]
    response, seen = ask(guarded, s3, "GET", "/demo/files/hello.txt", headers=override)
    assert response.status == 307 and seen == []
    status, _, _ = follow(response.get("location"))
    assert status == 200
    response, seen = ask(guarded, s3, "GET", "/demo/", headers=override)
    assert response.status == 200
    assert [(r["method"], r["path"]) for r in seen] == [("GET", "/demo/index.html")]
    assert set(seen[0]["headers"]) <= ALLOWED_UPSTREAM


# --------------------------------------------------------------------------
# Bucket allowlist
# --------------------------------------------------------------------------

def test_secret_bucket_is_reachable_without_an_allowlist(open_proxy, s3):
    """The control: without an allowlist the secret bucket is one request
    away, so every refusal below is a real refusal."""
    response, _ = ask(open_proxy, s3, "GET", "/secret/x")
    assert response.status == 307
    status, _, body = follow(response.get("location"))
    assert (status, body) == (200, SECRET_OBJECTS["x"])
    response, seen = ask(open_proxy, s3, "GET", "/secret/")
    assert response.status == 200 and response.body == SECRET_OBJECTS["index.html"]
    assert [r["path"] for r in seen] == ["/secret/index.html"]


@pytest.mark.parametrize("guard", GUARDS)
def test_allowed_buckets_are_served(request, s3, guard):
    nginx = request.getfixturevalue(guard)
    response, seen = ask(nginx, s3, "GET", "/demo/files/hello.txt")
    assert response.status == 307 and seen == []
    assert follow(response.get("location"))[2] == DEMO_OBJECTS["files/hello.txt"]
    response, seen = ask(nginx, s3, "GET", "/other-ok/x")
    assert response.status == 307 and seen == []
    assert follow(response.get("location"))[2] == OTHER_OK_OBJECTS["x"]
    response, seen = ask(nginx, s3, "GET", "/demo/")
    assert response.status == 200 and response.body == DEMO_OBJECTS["index.html"]
    assert [(r["path"], r["verified"]) for r in seen] == [("/demo/index.html", True)]


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("method,target", [
    ("GET", "/secret/x"), ("HEAD", "/secret/x"), ("GET", "/secret/"),
    ("GET", "/secret/index.html"), ("HEAD", "/secret/index.html"), ("GET", "/secret"),
    ("GET", "/secret?list-type=2"), ("GET", "/secret/?delimiter=/&prefix="),
    ("GET", "/demo-other/x"), ("GET", "/other-ok2/x"), ("GET", "/other/x"),
])
def test_buckets_outside_the_allowlist_get_403_without_contacting_s3(
        request, s3, guard, method, target):
    nginx = request.getfixturevalue(guard)
    response, seen = ask(nginx, s3, method, target)
    assert_refused(response, seen, 403)


def test_the_allowlist_directive_overrides_the_environment_default(instances, s3):
    nginx = start(instances, s3_environment(s3, S3_PROXY_BUCKETS="secret"),
                  locations=GUARD % "demo")
    response, seen = ask(nginx, s3, "GET", "/secret/x")
    assert_refused(response, seen, 403)
    response, seen = ask(nginx, s3, "GET", "/demo/files/hello.txt")
    assert response.status == 307 and seen == []


@pytest.mark.parametrize("method,target", [
    ("GET", "/demo/../secret/x"),
    ("HEAD", "/demo/../secret/x"),
    ("GET", "/demo/%2e%2e/secret/x"),
    ("GET", "/demo/%2E%2E/secret/x"),
    ("GET", "/demo/.%2e/secret/x"),
    ("GET", "/demo/%2e./secret/x"),
    ("GET", "/demo/..%2fsecret/x"),
    ("GET", "/demo/..%2Fsecret/x"),
    ("GET", "/demo/%2e%2e%2fsecret/x"),
    ("GET", "/demo/a/../../secret/x"),
    ("GET", "/demo/a/%2e%2e/%2e%2e/secret/x"),
    ("GET", "/demo/./../secret/x"),
    ("GET", "/demo//../secret/x"),
    ("GET", "/demo/files/../../secret/x"),
    ("GET", "/demo/../secret/"),
    ("GET", "/demo/../secret/index.html"),
    ("GET", "/demo/../secret/?list-type=2"),
    ("GET", "/demo/.."),
    ("GET", "/demo/../"),
    ("GET", "/other-ok/../demo/files/hello.txt"),
])
def test_dot_segments_cannot_leave_the_allowed_bucket(guarded, s3, method, target):
    response, seen = ask(guarded, s3, method, target)
    assert_refused(response, seen, 403)


def test_dot_segments_sent_by_curl_path_as_is_are_refused(guarded, s3):
    s3.clear()
    result = subprocess.run(
        ["curl", "--silent", "--path-as-is", "--output", "/dev/null",
         "--write-out", "%{http_code} %{redirect_url}",
         guarded.url + "/demo/../secret/x"],
        capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "403"
    assert s3.requests() == []
    # curl really sent the dot segments
    assert '"GET /demo/../secret/x HTTP/1.1"' in guarded.log_text()


@pytest.mark.parametrize("target", ["//secret/x", "//demo/files/hello.txt", "//secret/",
                                    "///secret/x", "//"])
def test_an_empty_bucket_segment_is_a_bad_request(guarded, s3, target):
    response, seen = ask(guarded, s3, "GET", target)
    assert_refused(response, seen, 400)


@pytest.mark.parametrize("target", ["/secret%2Fdemo/x", "/secret%2fdemo/x", "/demo%2Fx",
                                    "/demo%2F..%2Fsecret/x", "/demo%2F", "/demo%5Csecret/x",
                                    "/demo%20/x", "/de%zzmo/x", "/demo%00/x"])
def test_escapes_that_break_the_bucket_segment_are_a_bad_request(guarded, s3, target):
    response, seen = ask(guarded, s3, "GET", target)
    assert_refused(response, seen, 400)


@pytest.mark.parametrize("target", ["/DEMO/x", "/Demo/x", "/dEmO/files/hello.txt", "/DEMO/",
                                    "/Demo?list-type=2", "/OTHER-OK/x", "/SECRET/x"])
def test_bucket_names_are_case_sensitive(guarded, s3, target):
    response, seen = ask(guarded, s3, "GET", target)
    assert_refused(response, seen, 403)


def test_percent_encoded_bucket_names_are_decoded_before_the_allowlist(guarded, s3):
    response, seen = ask(guarded, s3, "GET", "/%73ecret/x")
    assert_refused(response, seen, 403)
    response, seen = ask(guarded, s3, "GET", "/%73%65%63%72%65%74/")
    assert_refused(response, seen, 403)
    response, seen = ask(guarded, s3, "GET", "/%64emo/files/hello.txt")
    assert response.status == 307 and seen == []
    assert urllib.parse.urlsplit(response.get("location")).path == "/demo/files/hello.txt"


def test_absolute_form_request_target_cannot_reach_another_bucket(guarded, s3):
    port = guarded.port
    for target, status in [
        (f"http://127.0.0.1:{port}/secret/x", 403),
        ("http://demo/secret/x", 403),
        ("http://demo/secret/", 403),
        ("http://demo/demo/../secret/x", 403),
        ("http://secret/x", 400),
        ("http://secret.s3.amazonaws.com/x", 400),
        ("http://secret.s3.amazonaws.com/", 403),
        ("https://secret/secret/index.html", 403),
    ]:
        response, seen = ask(guarded, s3, "GET", target)
        assert_refused(response, seen, status)
    # the authority is ignored: the path decides, and the Location goes to S3
    response, seen = ask(guarded, s3, "GET", "http://secret/demo/files/hello.txt")
    assert response.status == 307 and seen == []
    location = urllib.parse.urlsplit(response.get("location"))
    assert (location.netloc, location.path) == (s3.host, "/demo/files/hello.txt")


@pytest.mark.parametrize("host", ["secret", "secret.s3.amazonaws.com",
                                  "secret.s3.us-east-1.amazonaws.com", "evil.example:1234"])
def test_host_header_cannot_select_a_bucket_or_endpoint(guarded, s3, host):
    response, seen = ask(guarded, s3, "GET", "/x", host=host)
    assert_refused(response, seen, 400)          # "x" is no bucket name
    response, seen = ask(guarded, s3, "GET", "/", host=host)
    assert_refused(response, seen, 403)          # no ListBuckets
    response, seen = ask(guarded, s3, "GET", "/index.html", host=host)
    assert_refused(response, seen, 403)          # bucket "index.html" is not allowed
    response, seen = ask(guarded, s3, "GET", "/demo/files/hello.txt", host=host)
    assert response.status == 307 and seen == []
    location = urllib.parse.urlsplit(response.get("location"))
    assert (location.netloc, location.path) == (s3.host, "/demo/files/hello.txt")
    response, seen = ask(guarded, s3, "GET", "/demo/", host=host)
    assert response.status == 200 and response.body == DEMO_OBJECTS["index.html"]
    assert [(r["path"], r["headers"]["host"], r["verified"]) for r in seen] == \
        [("/demo/index.html", s3.host, True)]


def test_forwarding_headers_cannot_select_a_bucket_or_endpoint(guarded, s3):
    forwarding = ["X-Forwarded-Host: secret", "X-Forwarded-Proto: https",
                  "X-Forwarded-Prefix: /secret", "Forwarded: host=secret;proto=https",
                  "X-Original-URL: /secret/x", "X-Rewrite-URL: /secret/x",
                  "X-Original-Host: secret", "X-Host: secret"]
    response, seen = ask(guarded, s3, "GET", "/x", headers=forwarding)
    assert_refused(response, seen, 400)
    response, seen = ask(guarded, s3, "GET", "/", headers=forwarding)
    assert_refused(response, seen, 403)
    response, seen = ask(guarded, s3, "GET", "/demo/files/hello.txt", headers=forwarding)
    assert response.status == 307 and seen == []
    location = urllib.parse.urlsplit(response.get("location"))
    assert (location.scheme, location.netloc, location.path) == \
        ("http", s3.host, "/demo/files/hello.txt")
    response, seen = ask(guarded, s3, "GET", "/demo/", headers=forwarding)
    assert response.status == 200 and response.body == DEMO_OBJECTS["index.html"]
    assert [(r["path"], r["headers"]["host"]) for r in seen] == [("/demo/index.html", s3.host)]
    assert set(seen[0]["headers"]) <= ALLOWED_UPSTREAM


@pytest.mark.parametrize("target,key_path", [
    ("/demo/a/../b.txt", "/demo/a/../b.txt"),
    ("/demo/./files/hello.txt", "/demo/./files/hello.txt"),
    ("/demo/files/./../files/hello.txt", "/demo/files/./../files/hello.txt"),
    ("/demo/%252e%252e/secret/x", "/demo/%252e%252e/secret/x"),
    ("/demo/a/..%5C..%5Csecret/x", "/demo/a/..%5C..%5Csecret/x"),
])
def test_dot_segments_that_stay_in_the_bucket_are_kept_literally(guarded, s3, target,
                                                                    key_path):
    response, seen = ask(guarded, s3, "GET", target)
    assert response.status == 307 and seen == []
    location = response.get("location")
    assert urllib.parse.urlsplit(location).path == key_path
    # S3 reads the key literally, in the demo bucket, and the signature
    # covers the literal path
    s3.clear()
    status, _, body = follow(location)
    seen = s3.requests()
    assert [(r["path"], r["verified"]) for r in seen] == [(key_path, True)], seen
    assert status in (200, 404)
    assert SECRET_OBJECTS["x"] not in body


def test_pipelined_requests_are_routed_one_by_one(guarded, s3):
    s3.clear()
    data = exchange(guarded, b"".join([
        b"GET /demo/ HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n",
        b"GET /secret/ HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n",
        b"GET /demo/../secret/x HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n",
        b"GET http://a/secret/index.html HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n",
        b"GET /demo/files/hello.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n"
        b"Connection: close\r\n\r\n",
    ]))
    assert re.findall(rb"^HTTP/1\.1 (\d+)", data, re.M) == [b"200", b"403", b"403", b"403",
                                                          b"307"]
    assert [r["path"] for r in s3.requests()] == ["/demo/index.html"]
    assert SECRET_OBJECTS["index.html"] not in data


@pytest.mark.parametrize("version", ["HTTP/1.0", None])
def test_old_protocol_versions_cannot_reach_another_bucket(guarded, s3, version):
    s3.clear()
    if version is None:  # HTTP/0.9: a bare request line, a bare body back
        # No User-Agent: an S3 client's request, refused in S3's XML.
        data = exchange(guarded, b"GET /secret/x\r\n")
        assert b"<Code>AccessDenied</Code>" in data and SECRET_OBJECTS["x"] not in data
    else:
        response = send(guarded, "GET", "/secret/index.html", host=None, version=version)
        assert_refused(response, [], 403)
    assert s3.requests() == []


# --------------------------------------------------------------------------
# Sub-resources and query parameters
# --------------------------------------------------------------------------

@pytest.mark.parametrize("query", SUB_RESOURCES)
def test_sub_resources_are_refused_on_objects_and_buckets(guarded, s3, query):
    for path in ["/demo/files/hello.txt", "/demo/index.html", "/demo", "/demo/",
                 "/demo/docs/"]:
        response, seen = ask(guarded, s3, "GET", f"{path}?{query}")
        assert_refused(response, seen, 403)
        response, seen = ask(guarded, s3, "HEAD", f"{path}?{query}")
        assert_refused(response, seen, 403)


def test_sdk_x_id_is_dropped_not_signed_or_forwarded(guarded, s3):
    response, seen = ask(guarded, s3, "GET", "/demo/files/hello.txt?x-id=GetObject")
    assert response.status == 307 and seen == []
    location = response.get("location")
    assert "x-id" not in query_of(location)
    assert follow(location)[0] == 200
    response, seen = ask(guarded, s3, "GET", "/demo?list-type=2&x-id=ListObjectsV2")
    assert response.status == 200
    assert [(r["path"], r["query"], r["verified"]) for r in seen] == \
        [("/demo", "list-type=2", True)]


def test_listing_forwards_only_listing_parameters(guarded, s3):
    response, seen = ask(
        guarded, s3, "GET",
        "/demo/?list-type=2&prefix=docs/&delimiter=/&max-keys=5&start-after=a"
        "&encoding-type=url&fetch-owner=true")
    assert response.status == 200
    assert [(r["query"], r["verified"]) for r in seen] == [(
        "delimiter=%2F&encoding-type=url&fetch-owner=true&list-type=2&max-keys=5"
        "&prefix=docs%2F&start-after=a", True)]
    response, seen = ask(guarded, s3, "GET", "/demo?marker=&prefix=docs/")
    assert response.status == 200
    assert [r["query"] for r in seen] == ["marker=&prefix=docs%2F"]


def test_allowed_parameter_is_signed_into_the_location_and_verifies(params_proxy, s3):
    response, seen = ask(params_proxy, s3, "GET",
                         "/demo/files/hello.txt?response-content-disposition=attachment")
    assert response.status == 307 and seen == []
    location = response.get("location")
    query = query_of(location)
    assert query["response-content-disposition"] == ["attachment"]
    assert "X-Amz-Signature" in query
    s3.clear()
    status, headers, body = follow(location)
    assert (status, body) == (200, DEMO_OBJECTS["files/hello.txt"])
    # (moto ignores response-* overrides; real S3 would set the header)
    seen = s3.requests()
    assert len(seen) == 1 and seen[0]["verified"], seen
    assert "response-content-disposition=attachment" in seen[0]["query"]
    # the other allowed parameter, through HEAD
    response, seen = ask(params_proxy, s3, "HEAD", "/demo/files/hello.txt?versionId=null")
    assert response.status == 307 and seen == []
    assert query_of(response.get("location"))["versionId"] == ["null"]


@pytest.mark.parametrize("query", ["acl", "tagging", "versions", "versionId=1&acl",
                                   "response-content-disposition=a&tagging",
                                   "response-content-type=text/html", "VersionId=1",
                                   "versionid=1", "Response-Content-Disposition=a",
                                   "X-Amz-Expires=604800", "X-Amz-Security-Token=evil"])
def test_allowed_parameters_open_no_other_sub_resource(params_proxy, s3, query):
    for path in ["/demo/files/hello.txt", "/demo/", "/demo"]:
        response, seen = ask(params_proxy, s3, "GET", f"{path}?{query}")
        assert_refused(response, seen, 403)


def test_allowed_parameter_values_cannot_inject_parameters_or_headers(params_proxy, s3):
    response, seen = ask(
        params_proxy, s3, "GET",
        "/demo/files/hello.txt?response-content-disposition="
        "attachment%26X-Amz-Expires%3D604800%26acl%26X-Amz-Credential%3Devil")
    assert response.status == 307 and seen == []
    location = response.get("location")
    query = query_of(location)
    assert query["X-Amz-Expires"] == ["300"]
    assert "acl" not in query and len(query["X-Amz-Credential"]) == 1
    assert query["X-Amz-Credential"][0].startswith(ACCESS_KEY + "/")
    assert query["response-content-disposition"] == [
        "attachment&X-Amz-Expires=604800&acl&X-Amz-Credential=evil"]
    s3.clear()
    assert follow(location)[0] == 200
    assert [r["verified"] for r in s3.requests()] == [True]

    response, seen = ask(params_proxy, s3, "GET",
                         "/demo/files/hello.txt?response-content-disposition="
                         "a%0D%0ASet-Cookie:%20x=1%0D%0AX-Injected:%201")
    assert response.status == 307 and seen == []
    for line in response.header_lines:
        assert b"\r" not in line and b"\n" not in line
    assert response.names <= NGINX_RESPONSE_HEADERS
    assert "%0D%0ASet-Cookie%3A%20x%3D1%0D%0A" in response.get("location")


# --------------------------------------------------------------------------
# Request headers on proxied requests, response headers back
# --------------------------------------------------------------------------

HOSTILE_HEADERS = [
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEVIL/20200101/us-east-1/s3/"
    "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "Cookie: session=stolen; other=1",
    "X-Amz-Security-Token: evil-token",
    "X-Amz-Date: 20200101T000000Z",
    "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD",
    "X-Amz-Server-Side-Encryption-Customer-Algorithm: AES256",
    "X-Amz-Server-Side-Encryption-Customer-Key: " + "a" * 44,
    "X-Amz-Server-Side-Encryption-Customer-Key-MD5: " + "b" * 24,
    "X-Amz-Request-Payer: requester",
    "X-Amz-Expected-Bucket-Owner: 111122223333",
    "X-Amz-Acl: public-read",
    "X-Amz-Meta-Evil: 1",
    "X-Forwarded-For: 1.2.3.4",
    "X-Real-IP: 1.2.3.4",
    "Forwarded: for=1.2.3.4;host=secret",
    "Via: 1.1 evil",
    "Expect: 100-continue",
    "User-Agent: evil-agent",
    "Referer: http://evil.example/",
    "Origin: http://evil.example",
    "Accept-Encoding: gzip, deflate",
    "TE: trailers",
    "Upgrade: h2c",
    "Proxy-Authorization: Basic ZXZpbDpldmls",
    "Keep-Alive: timeout=5",
    "X-HTTP-Method-Override: DELETE",
    "Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==",
    "Content-Type: application/xml",
]


@pytest.mark.parametrize("nginx_name", ["guarded", "token_proxy"])
@pytest.mark.parametrize("method,target,s3_path", [
    ("GET", "/demo/", "/demo/index.html"),
    ("HEAD", "/demo/docs/index.html", "/demo/docs/index.html"),
    ("GET", "/demo?list-type=2&prefix=docs/", "/demo"),
    ("GET", "/demo/?delimiter=/", "/demo/"),
])
def test_only_signed_and_conditional_headers_reach_s3(request, nginx_name, method, target,
                                                      s3_path):
    nginx = request.getfixturevalue(nginx_name)
    s3 = request.getfixturevalue("s3" if nginx_name == "guarded" else "token_s3")
    # conditions that hold, so that the answer is a plain 200/206
    etag = send(nginx, "HEAD", target).get("etag") or '"any"'
    conditional = ["Range: bytes=0-3", f"If-Range: {etag}", f"If-Match: {etag}",
                   'If-None-Match: "nope"', "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT",
                   "If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT"]
    response, seen = ask(nginx, s3, method, target, headers=HOSTILE_HEADERS + conditional)
    assert response.status in (200, 206), response
    assert len(seen) == 1, seen
    record = seen[0]
    assert (record["method"], record["path"], record["verified"]) == (method, s3_path, True)
    expected = SIGNED_HEADERS | CLIENT_HEADERS_FORWARDED
    if s3.session_token:
        expected |= {"x-amz-security-token"}
    assert set(record["headers"]) == expected
    headers = record["headers"]
    assert headers["host"] == s3.host
    assert headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "AKIDEVIL" not in headers["authorization"]
    assert headers["x-amz-date"] != "20200101T000000Z"
    assert headers["x-amz-content-sha256"] == EMPTY_SHA256
    assert headers.get("x-amz-security-token") == s3.session_token
    assert headers["range"] == "bytes=0-3"
    assert headers["if-none-match"] == '"nope"'


@pytest.mark.parametrize("target", ["/demo/", "/demo?list-type=2"])
def test_headers_without_a_body_never_add_to_what_reaches_s3(guarded, s3, target):
    """Hop-by-hop tricks without a body: nothing but the signed set."""
    response, seen = ask(guarded, s3, "GET", target,
                         headers=["Connection: X-Amz-Date, Authorization",
                                  "Transfer-Encoding:", "X-Amz-Date:", "Authorization:"])
    # nginx refuses an empty Transfer-Encoding itself (501); either way
    # nothing extra reaches S3
    if response.status == 200:
        assert len(seen) == 1 and seen[0]["verified"]
        assert set(seen[0]["headers"]) == SIGNED_HEADERS
    else:
        assert response.status in (400, 501) and seen == [], response


# Found by this suite: nginx's built-in `Content-Length:
# $proxy_internal_body_length` reached S3 (and, with a body, left S3 waiting
# for it until proxy_read_timeout) until s3_proxy.conf cleared it.
@pytest.mark.parametrize("headers,body", [
    (["Content-Length: 0"], b""),
    (["Transfer-Encoding: chunked"], b"0\r\n\r\n"),
], ids=["content-length-0", "empty-chunked-body"])
def test_body_framing_headers_never_reach_s3(guarded, s3, headers, body):
    response, seen = ask(guarded, s3, "GET", "/demo/", headers=headers, body=body)
    assert response.status == 200
    assert len(seen) == 1 and seen[0]["verified"], seen
    assert set(seen[0]["headers"]) == SIGNED_HEADERS, seen[0]["headers"]


@pytest.mark.parametrize("headers,body", [
    (["Content-Length: 5"], b"hello"),
    (["Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\n\r\n"),
], ids=["content-length", "chunked"])
def test_request_body_on_a_proxied_get_is_dropped_without_stalling(guarded, s3, headers,
                                                                  body):
    s3.clear()
    try:
        data = exchange(guarded, build("GET", "/demo/", headers, body), timeout=2)
    except socket.timeout:
        data = None
    # wait for S3's record of the abandoned upstream request so that it
    # cannot spill into the next test
    seen = wait_for_records(s3, 1, timeout=5)
    assert data is not None, f"no answer within 2 s; S3 saw {seen}"
    response = RawResponse(data)
    assert response.status == 200 and response.body == DEMO_OBJECTS["index.html"]
    assert len(seen) == 1 and seen[0]["verified"], seen
    assert set(seen[0]["headers"]) == SIGNED_HEADERS


def test_request_body_on_a_redirected_get_contacts_nothing(guarded, s3):
    for headers, body in [(["Content-Length: 5"], b"hello"),
                          (["Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\n\r\n")]:
        response, seen = ask(guarded, s3, "GET", "/demo/files/hello.txt", headers=headers,
                             body=body)
        assert response.status == 307 and seen == []


@pytest.mark.parametrize("headers", [
    ["Transfer-Encoding: identity"],
    ["Transfer-Encoding: gzip, chunked"],
    ["Transfer-Encoding: chunked", "Content-Length: 5"],
    ["Content-Length: 5", "Content-Length: 6"],
    ["Content-Length: -1"],
    ["Content-Length: 5x"],
], ids=["te-identity", "te-gzip-chunked", "te-and-cl", "two-cl", "negative-cl", "bad-cl"])
def test_transfer_encoding_tricks_nginx_rejects_reach_nothing(guarded, s3, headers):
    for target in ["/demo/", "/demo?list-type=2", "/demo/files/hello.txt"]:
        response, seen = ask(guarded, s3, "GET", target, headers=headers,
                             body=b"5\r\nhello\r\n0\r\n\r\n")
        assert 400 <= response.status < 600 and response.status != 504, response
        assert response.get_all("location") == []
        assert seen == []


def test_proxied_responses_carry_no_request_ids(guarded, s3):
    # S3 itself sends them: metadata, request ids.  Proxied answers keep
    # the object's metadata (as a redirected client sees it), never S3's
    # request ids or other headers of its own.
    status, headers, _ = follow(
        send(guarded, "GET", "/other-ok/x").get("location"))
    assert status == 200 and headers.get("x-amz-meta-owner") == "alice"
    assert any(name.startswith("x-amz") for name in headers)
    for method, target, status in [
        ("GET", "/other-ok/meta/index.html", 200),
        ("HEAD", "/other-ok/meta/index.html", 200),
        ("GET", "/demo/", 200),
        ("GET", "/demo?list-type=2&prefix=docs/", 200),
        ("GET", "/demo/files/", 404),                  # S3's own error answer
    ]:
        response, seen = ask(guarded, s3, method, target)
        assert response.status == status, (target, response)
        assert len(seen) == 1 and seen[0]["verified"]
        amz = [name for name in response.names if name.startswith(("x-amz", "x-amzn"))]
        assert all(name.startswith("x-amz-meta-") for name in amz), (target, response)
        assert "set-cookie" not in response.names


# --------------------------------------------------------------------------
# Bytes that would break the protocol
# --------------------------------------------------------------------------

@pytest.mark.parametrize("target,encoded", [
    ("/demo/a%0d%0aSet-Cookie:%20x=1", "/demo/a%0D%0ASet-Cookie%3A%20x%3D1"),
    ("/demo/a%0D%0AX-Injected:%201", "/demo/a%0D%0AX-Injected%3A%201"),
    ("/demo/a%0aX-Injected:%201", "/demo/a%0AX-Injected%3A%201"),
    ("/demo/a%0dX-Injected:%201", "/demo/a%0DX-Injected%3A%201"),
    ("/demo/a%0d%0a%0d%0a<html>injected", "/demo/a%0D%0A%0D%0A%3Chtml%3Einjected"),
])
def test_crlf_in_the_path_is_percent_encoded_in_the_location(guarded, s3, target, encoded):
    response, seen = ask(guarded, s3, "GET", target)
    assert response.status == 307 and seen == []
    for line in response.header_lines:
        assert b"\r" not in line and b"\n" not in line
    assert response.names <= NGINX_RESPONSE_HEADERS, response
    assert b"injected" not in response.body.lower()
    location = response.get("location")
    assert urllib.parse.urlsplit(location).path == encoded
    s3.clear()
    status, _, _ = follow(location)
    assert status == 404
    assert [(r["path"], r["verified"]) for r in s3.requests()] == [(encoded, True)]


def test_crlf_in_a_proxied_path_reaches_s3_encoded(guarded, s3):
    response, seen = ask(guarded, s3, "GET", "/demo/a%0d%0aX-Injected:%201/")
    assert response.status == 404
    assert response.names.isdisjoint({"x-injected", "set-cookie"})
    assert [(r["path"], r["verified"]) for r in seen] == \
        [("/demo/a%0D%0AX-Injected%3A%201/index.html", True)]
    assert "x-injected" not in seen[0]["headers"]


@pytest.mark.parametrize("target", ["/demo/a%00b", "/demo/a%00", "/demo/%00/x",
                                    "/demo/?prefix=%00", "/demo/files/hello.txt?x-id=%00"])
def test_nul_is_refused_or_encoded_never_raw(guarded, s3, target):
    response, seen = ask(guarded, s3, "GET", target)
    assert b"\x00" not in response.head
    if response.status == 307:
        location = response.get("location")
        assert seen == []
        if "x-id=" in target:
            assert "x-id" not in query_of(location)     # dropped, value and all
        else:
            assert "%00" in location
    elif response.status == 200:
        assert len(seen) == 1 and seen[0]["verified"] and "\x00" not in seen[0]["query"]
    else:
        assert_refused(response, seen, 400)


@pytest.mark.parametrize("target", [b"/demo/a\xffb", b"/demo/\x80", b"/demo/\xc0\xaf",
                                    b"/demo/\xed\xa0\x80", b"/demo/\xe2\x82",
                                    b"/demo/\xf4\x90\x80\x80", b"/demo/?prefix=\xff"])
def test_raw_bytes_that_are_not_utf8_are_refused(guarded, s3, target):
    response, seen = ask(guarded, s3, "GET", target)
    assert_refused(response, seen, 400)


def test_raw_utf8_in_the_path_is_percent_encoded_in_the_location(guarded, s3):
    key = "files/ünïcødé.txt"
    response, seen = ask(guarded, s3, "GET", b"/demo/" + key.encode())
    assert response.status == 307 and seen == []
    location = response.get("location")
    assert location.isascii()
    assert urllib.parse.urlsplit(location).path == "/demo/" + urllib.parse.quote(key)
    assert follow(location)[2] == DEMO_OBJECTS[key]


@pytest.mark.parametrize("target", ["/demo/a%", "/demo/a%z", "/demo/a%zz", "/demo/a%4",
                                    "/demo/a%c0%afb", "/demo/%c0%ae%c0%ae/secret/x",
                                    "/demo/a%ed%a0%80", "/demo/a%ff", "/demo/a%e2%82",
                                    "/demo/a%f4%90%80%80", "/demo/%%32%65"])
def test_bad_escapes_in_the_path_are_refused(guarded, s3, target):
    response, seen = ask(guarded, s3, "GET", target)
    assert_refused(response, seen, 400)


@pytest.mark.parametrize("query", ["prefix=%zz", "prefix=%", "prefix=%c0%af",
                                   "pre%zzfix=a", "list-type=2&prefix=%e2%82",
                                   "delimiter=%ff"])
def test_bad_escapes_in_a_listing_query_are_refused(guarded, s3, query):
    for path in ["/demo", "/demo/"]:
        response, seen = ask(guarded, s3, "GET", f"{path}?{query}")
        assert_refused(response, seen, 400)


@pytest.mark.parametrize("target", ["/demo/a\x01b", "/demo/a\x7f", "/demo/a\tb",
                                    "/demo/a b", "/demo/a\rb"])
def test_control_bytes_in_the_request_line_are_refused(guarded, s3, target):
    response, seen = ask(guarded, s3, "GET", target)
    assert 400 <= response.status < 500, response
    assert response.get_all("location") == [] and seen == []


def test_oversized_requests_are_refused_and_the_worker_survives(guarded, s3):
    before = worker_pids(guarded)
    assert before == guarded.initial_workers
    cases = [
        (build("GET", "/demo/" + "a" * 100_000), {414, 400}),
        (build("GET", "/demo?prefix=" + "a" * 100_000), {414, 400}),
        (build("GET", "/demo/", ["Cookie: " + "c" * 20_000]), {400, 431, 494}),
        (build("GET", "/demo/files/hello.txt", ["Range: bytes=" + "0-1," * 5000]),
         {400, 431, 494}),
        (build("GET", "/demo/", [f"X-H{i}: {'v' * 1000}" for i in range(64)]),
         {400, 431, 494}),
    ]
    for request, statuses in cases:
        s3.clear()
        response = RawResponse(exchange(guarded, request))
        assert response.status in statuses, response
        assert response.get_all("location") == []
        assert s3.requests() == []
    # a key at the edge of what nginx takes still signs without trouble
    response, seen = ask(guarded, s3, "GET", "/demo/" + "%C3%A9" * 1300)
    assert response.status in (307, 400, 414) and seen == []
    assert worker_pids(guarded) == before
    response, seen = ask(guarded, s3, "GET", "/demo/files/hello.txt")
    assert response.status == 307


def test_hostile_requests_do_not_kill_the_worker(guarded, s3):
    """Everything above once more on one instance, then the same workers."""
    before = worker_pids(guarded)
    assert before == guarded.initial_workers
    targets = ([f"/demo/{b}" for b in ["%0d%0a", "%00", "%", "%zz", "%c0%af", "..", "%2e%2e"]]
               + ["//secret/x", "/secret%2Fdemo/x", "/DEMO/x", "/", "/demo?acl",
                  "/demo/files/hello.txt?" + "&".join(SUB_RESOURCES)])
    for target in targets:
        for method in ["GET", "HEAD", "POST", "TRACE"]:
            exchange(guarded, build(method, target))
    close = b"Connection: close\r\n"
    for raw in [b"\xff\xfe\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"GET /demo/ HTTP/1.1\r\nHost: a\r\n" + close + b"X: y\r\n" * 2000 + b"\r\n",
                b"GET /demo/ HTTP/1.1\r\nHost: a\r\n" + close + b"Range: bytes=-\r\n\r\n",
                b"GET /demo/ HTTP/1.1\r\n" + close + b"Host: " + b"h" * 9000 + b"\r\n\r\n"]:
        exchange(guarded, raw)
    assert worker_pids(guarded) == before
    response, seen = ask(guarded, s3, "GET", "/demo/")
    assert response.status == 200 and len(seen) == 1


# --------------------------------------------------------------------------
# The secret stays secret
# --------------------------------------------------------------------------

def test_secret_key_signing_key_and_token_never_leak(token_proxy, token_s3):
    nginx, s3 = token_proxy, token_s3
    requests_sent = [
        ("GET", "/demo/files/hello.txt", [], 307),                  # redirect
        ("HEAD", "/demo/files/data.bin", [], 307),                  # redirect, HEAD
        ("GET", "/demo/files/hello.txt", ['If-None-Match: "x"', "Range: bytes=0-1"], 307),
        ("GET", "/demo/", [], 200),                                 # proxied index
        ("HEAD", "/demo/docs/index.html", [], 200),                 # proxied HEAD
        ("GET", "/demo?list-type=2&prefix=docs/", [], 200),         # listing v2
        ("GET", "/demo/?delimiter=/", [], 200),                     # listing v1
        ("GET", "/demo/", HOSTILE_HEADERS, 200),                    # hostile headers
        ("GET", "/secret/x", [], 403),                              # not allowed
        ("GET", "/demo/../secret/x", [], 403),                      # dot segments
        ("GET", "/demo/files/hello.txt?acl", [], 403),              # sub-resource
        ("GET", "/", [], 403),                                      # root
        ("POST", "/demo/x", ["Content-Length: 0"], 405),            # method
        ("GET", "/demo/a%zz", [], 400),                             # bad escape
        ("GET", "/demo/files/", [], 404),                           # S3 404: no index
        ("GET", "/other-ok/", [], 404),                             # S3 404: no bucket
        ("GET", "/demo/" + "a" * 100_000, [], 414),                 # nginx error page
    ]
    responses = []
    for method, target, headers, status in requests_sent:
        s3.clear()
        data = exchange(nginx, build(method, target, headers))
        response = RawResponse(data)
        assert response.status == status, (method, target[:60], response)
        seen = s3.requests()
        if status in (200, 404):
            # the token really was in play on every proxied request
            assert len(seen) == 1 and seen[0]["verified"], seen
            assert seen[0]["headers"]["x-amz-security-token"] == SESSION_TOKEN
        else:
            assert seen == []
        responses.append(response)
    # a request after the signed ones, logged at debug level too
    send(nginx, "GET", "/demo/files/zz-after-signing.txt")

    locations = [r.get("location") for r in responses if r.status == 307]
    assert len(locations) == 3
    # the Location necessarily carries the token to the client, and it works
    for location in locations:
        assert query_of(location)["X-Amz-Security-Token"] == [SESSION_TOKEN]
    status, _, body = follow(locations[0])
    assert (status, body) == (200, DEMO_OBJECTS["files/hello.txt"])

    dates = {query_of(loc)["X-Amz-Date"][0][:8] for loc in locations}
    today = dt.datetime.now(dt.timezone.utc).date()
    dates |= {(today + dt.timedelta(days=d)).strftime("%Y%m%d") for d in (-1, 0, 1)}
    secrets = [SECRET_KEY, urllib.parse.quote(SECRET_KEY, safe=""), SECRET_FRAGMENT]
    for date in dates:
        secrets += [signing_key_hex(date), signing_key_hex(date).upper()]
    token_forms = [SESSION_TOKEN, urllib.parse.quote(SESSION_TOKEN, safe=""),
                   TOKEN_FRAGMENT]

    for response in responses:
        text = response.data.decode("latin-1")
        for needle in secrets:
            assert needle not in text, (response, needle)
        # the token: in the Location header and nowhere else
        without_location = b"\r\n".join(
            line for line in response.head.split(b"\r\n")
            if not line.lower().startswith(b"location:")) + response.body
        for needle in token_forms:
            assert needle.encode() not in without_location, (response, needle)

    error_log = nginx.log_text()
    with open(nginx.access_log, errors="replace") as f:
        access_log = f.read()
    # the logs were really written at debug level, before and after signing
    assert "[debug]" in error_log
    assert 's3 proxy: proxy "' in error_log and 's3 proxy: redirect "' in error_log
    assert 'http request line: "GET /demo/files/zz-after-signing.txt HTTP/1.1"' in error_log
    assert "/demo/files/zz-after-signing.txt" in access_log
    # the secret and signing keys in neither log, the token not in the
    # access log; at debug level nginx's error log shows the requests it
    # proxies and the headers it answers with, the token included (the
    # module changes no log level: logging is the operator's)
    for name, log in [("error log", error_log), ("access log", access_log)]:
        for needle in secrets + (token_forms if name == "access log" else []):
            assert needle not in log, (name, needle)


# --------------------------------------------------------------------------
# Configuration mistakes
# --------------------------------------------------------------------------

FAKE_S3 = type("FakeS3", (), {"host": "127.0.0.1:9", "session_token": None})


@pytest.mark.parametrize("directives,env,expected", [
    ("s3_proxy_buckets Not_A/Bucket;", {}, ['"s3_proxy_buckets"', '"Not_A/Bucket"']),
    ("s3_proxy_buckets ab;", {}, ['"ab"', "not a valid bucket name"]),
    ("s3_proxy_buckets demo,ab;", {}, ['"ab"', "not a valid bucket name"]),
    ("s3_proxy_buckets -demo;", {}, ['"-demo"', "not a valid bucket name"]),
    ("s3_proxy_allow_params X-Amz-Date;", {}, ['"X-Amz-Date"', "authentication parameter"]),
    ("s3_proxy_allow_params x-amz-signature;", {},
     ['"x-amz-signature"', "authentication parameter"]),
    ("s3_proxy_allow_params X-AMZ-Security-Token;", {},
     ['"X-AMZ-Security-Token"', "authentication parameter"]),
    ("s3_proxy_buckets demo;\n            s3_proxy_buckets other-ok;", {},
     ['"s3_proxy_buckets"', "duplicate"]),
    ("s3_proxy_allow_params a;\n            s3_proxy_allow_params b;", {},
     ['"s3_proxy_allow_params"', "duplicate"]),
    ("s3_proxy_buckets ,;", {}, ['"s3_proxy_buckets"', "at least one"]),
    ("", {"S3_PROXY_BUCKETS": "demo,Bad/One"}, ['"Bad/One"', "not a valid bucket name"]),
], ids=["invalid-name", "too-short", "invalid-in-list", "leading-hyphen",
        "x-amz-date-param", "x-amz-signature-param", "x-amz-token-param",
        "duplicate-buckets", "duplicate-params", "empty-list", "invalid-env"])
def test_config_mistakes_fail_nginx_t_naming_the_setting(directives, env, expected):
    nginx = Nginx(s3_environment(FAKE_S3, **env), locations=f"""
        location / {{
            s3_proxy on;
            {directives}
            include s3_proxy.conf;
        }}
""")
    try:
        rc, output = nginx.check()
    finally:
        nginx.cleanup()
    assert rc != 0, output
    assert "[emerg]" in output
    for text in expected:
        assert text in output, output


@pytest.mark.parametrize("directives", [
    "s3_proxy_buckets demo other-ok;", "s3_proxy_buckets demo,other-ok;",
    "s3_proxy_buckets demo, other-ok;",
    "s3_proxy_allow_params versionId response-content-disposition;",
])
def test_valid_allowlist_spellings_pass_nginx_t(directives):
    nginx = Nginx(s3_environment(FAKE_S3), locations=f"""
        location / {{
            s3_proxy on;
            {directives}
            include s3_proxy.conf;
        }}
""")
    try:
        rc, output = nginx.check()
    finally:
        nginx.cleanup()
    assert rc == 0, output

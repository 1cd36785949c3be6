"""Tests for demo/s3server.py (moto S3 behind a strict SigV4 gate).

Run with:  cd /work/main && python3 -m pytest -q demo/test_s3server.py

Most tests talk to a real s3server.py subprocess with boto3/botocore (an
independent SigV4 implementation) or urllib; a few call the verifier
in-process to check time-dependent rules without waiting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

HERE = Path(__file__).resolve().parent
SERVER = HERE / "s3server.py"
sys.path.insert(0, str(HERE))

import s3server  # noqa: E402  (needs the sys.path entry above)
from s3server import DEMO_OBJECTS, LISTING_COUNT  # noqa: E402

ACCESS_KEY = "AKIDTEST"
SECRET_KEY = "test-secret-do-not-leak"
REGION = "us-east-1"
TOKEN = "session-token-123"
BUCKET = "demo"

AWKWARD_KEYS = [
    "files/with space.txt",
    "files/plus+sign.txt",
    "files/100% sure.txt",
    "files/ünïcødé.txt",
    "files/question?.txt",
    "files/hash#tag.txt",
]

# urllib without any proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------------
# Server process management
# ---------------------------------------------------------------------------

@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log_path: Path
    stdout_line: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(tmp: Path, *extra: str, port: int = 0, timeout: float = 30) -> Server:
    ready = tmp / "ready"
    log_path = tmp / "requests.jsonl"
    cmd = [sys.executable, str(SERVER), "--port", str(port),
           "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
           "--region", REGION, "--ready-file", str(ready), "--log", str(log_path),
           *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"s3server exited early: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("s3server did not become ready in time")
        time.sleep(0.05)
    actual_port = int(ready.read_text().strip())
    line = proc.stdout.readline().strip()
    return Server(proc, actual_port, log_path, line)


def stop_server(server: Server, sig: int = signal.SIGTERM) -> int:
    server.proc.send_signal(sig)
    try:
        return server.proc.wait(timeout=15)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.stdout.close()
        server.proc.stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    tmp = tmp_path_factory.mktemp("s3server")
    srv = start_server(tmp, "--seed", "demo", port=free_port())
    yield srv
    assert stop_server(srv, signal.SIGTERM) == 0


@pytest.fixture(scope="module")
def token_server(tmp_path_factory) -> Server:
    tmp = tmp_path_factory.mktemp("s3server-token")
    srv = start_server(tmp, "--session-token", TOKEN)
    yield srv
    assert stop_server(srv, signal.SIGINT) == 0


# ---------------------------------------------------------------------------
# Client helpers
# ---------------------------------------------------------------------------

def client(srv: Server, secret: str = SECRET_KEY, token: str | None = None):
    return boto3.client(
        "s3", endpoint_url=srv.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                      retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def s3(server):
    return client(server)


def http_get(url: str, method: str = "GET") -> tuple[int, dict, bytes]:
    """Plain urllib request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, method=method)
    try:
        with OPENER.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def error_code(body: bytes) -> str | None:
    match = re.search(rb"<Code>([^<]*)</Code>", body)
    return match.group(1).decode() if match else None


def signed_request(srv: Server, method: str, sign_target: str, send_target: str | None = None,
                   headers: dict | None = None, body: bytes = b"", send_body: bytes | None = None,
                   creds: Credentials | None = None, conn: http.client.HTTPConnection | None = None,
                   extra_unsigned: dict | None = None) -> tuple[int, dict, bytes]:
    """Sign `sign_target` with botocore and send `send_target` (default: same).

    botocore's S3 signer uses the URL path and query verbatim, so
    `sign_target` must already be in canonical (AWS-encoded) form. Sending a
    different but equivalent raw target checks the gate's canonicalisation.
    """
    request = AWSRequest(method=method, url=srv.endpoint + sign_target, data=body,
                         headers=dict(headers or {}))
    S3SigV4Auth(creds or Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    out_headers = dict(request.headers.items())
    out_headers.update(extra_unsigned or {})
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.request(method, send_target or sign_target,
                     body=body if send_body is None else send_body, headers=out_headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        if own:
            conn.close()


def key_path(key: str) -> str:
    return f"/{BUCKET}/" + urllib.parse.quote(key, safe="/~")


def control(srv: Server, method: str = "GET"):
    status, _, body = http_get(srv.endpoint + "/__s3server/requests", method)
    return status, (json.loads(body) if body else None)


# ---------------------------------------------------------------------------
# Startup
# ---------------------------------------------------------------------------

def test_ready_line_and_file(server):
    assert server.stdout_line == f"s3server ready on http://127.0.0.1:{server.port}"


# ---------------------------------------------------------------------------
# Header-signed requests (boto3)
# ---------------------------------------------------------------------------

def test_all_demo_objects_round_trip(s3):
    for key, data in DEMO_OBJECTS.items():
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data, key
    head = s3.head_object(Bucket=BUCKET, Key="index.html")
    assert head["ContentType"].startswith("text/html")
    assert head["ContentLength"] == len(DEMO_OBJECTS["index.html"])


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_key_signed_get(s3, key):
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == DEMO_OBJECTS[key]


def test_list_objects_v2_paginates_listing(s3):
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="listing/"))
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    assert len(pages) == 2
    assert keys == [f"listing/item-{i:04d}.txt" for i in range(LISTING_COUNT)]


def test_list_with_delimiter(s3):
    resp = s3.list_objects_v2(Bucket=BUCKET, Prefix="files/", Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["files/nested/"]
    assert set(obj["Key"] for obj in resp["Contents"]) == {
        k for k in DEMO_OBJECTS if k.startswith("files/") and "/nested/" not in k}


def test_range_request(s3):
    resp = s3.get_object(Bucket=BUCKET, Key="files/data.bin", Range="bytes=100-199")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert resp["ContentRange"] == "bytes 100-199/65536"
    assert resp["Body"].read() == DEMO_OBJECTS["files/data.bin"][100:200]


@pytest.mark.parametrize("key", [
    "put/a//double.txt", "put/./dot.txt", "put/../dotdot.txt", "put/semi;colon.txt",
    "put/sp  two+plus%pct.txt", "put/ünï/日本.txt", "put/star*()!'@:=&$,.txt",
])
def test_put_then_get_odd_keys(s3, key):
    body = f"content of {key}".encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body


def test_large_object_streams(s3):
    data = os.urandom(1 << 20) * 24  # 24 MiB
    s3.put_object(Bucket=BUCKET, Key="big/blob.bin", Body=data)
    body = s3.get_object(Bucket=BUCKET, Key="big/blob.bin")["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_wrong_secret_is_rejected(server):
    bad = client(server, secret="wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        bad.get_object(Bucket=BUCKET, Key="files/hello.txt")
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "CanonicalRequest" in err["Error"]["Message"]
    assert "StringToSign" in err["Error"]["Message"]


def test_secret_never_appears_in_responses_or_log(server):
    status, _, body = signed_request(server, "GET", key_path("files/hello.txt"),
                                     creds=Credentials(ACCESS_KEY, "other"))
    assert status == 403
    assert SECRET_KEY.encode() not in body
    assert SECRET_KEY not in server.log_path.read_text(encoding="utf-8")


def test_unsigned_request_is_denied(server):
    status, headers, body = http_get(server.endpoint + key_path("files/hello.txt"))
    assert status == 403
    assert error_code(body) == "AccessDenied"
    assert headers["Content-Type"] == "application/xml"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_unsigned_boto3_request_is_denied(server):
    anon = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                        config=Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"}))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        anon.get_object(Bucket=BUCKET, Key="files/hello.txt")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# ---------------------------------------------------------------------------
# Raw signed requests: canonicalisation and strictness
# ---------------------------------------------------------------------------

def test_equivalent_raw_encodings_verify(server):
    # A raw '+' in a path is a literal plus, i.e. canonical %2B.
    status, _, body = signed_request(server, "GET", "/demo/files/plus%2Bsign.txt",
                                     send_target="/demo/files/plus+sign.txt")
    assert (status, body) == (200, DEMO_OBJECTS["files/plus+sign.txt"])
    # Lower-case escapes are decoded once and re-encoded upper-case.
    status, _, body = signed_request(server, "GET", "/demo/files/%C3%BCn%C3%AFc%C3%B8d%C3%A9.txt",
                                     send_target="/demo/files/%c3%bcn%c3%afc%c3%b8d%c3%a9.txt")
    assert (status, body) == (200, DEMO_OBJECTS["files/ünïcødé.txt"])
    # In a query '/' is encoded as %2F in canonical form but may be sent raw.
    status, _, body = signed_request(
        server, "GET", "/demo?list-type=2&max-keys=1&prefix=files%2Fh",
        send_target="/demo?prefix=files/h&max-keys=1&list-type=2")
    assert status == 200 and b"<Key>files/hash#tag.txt</Key>" in body
    # A raw '+' in a query is a space (canonical %20).
    status, _, body = signed_request(
        server, "GET", "/demo?list-type=2&prefix=files%2Fwith%20sp",
        send_target="/demo?list-type=2&prefix=files/with+sp")
    assert status == 200 and b"<Key>files/with space.txt</Key>" in body


def test_raw_semicolon_in_path_reaches_the_right_key(server, s3):
    s3.put_object(Bucket=BUCKET, Key="semi/a;b.txt", Body=b"semicolon")
    status, _, body = signed_request(server, "GET", "/demo/semi/a%3Bb.txt",
                                     send_target="/demo/semi/a;b.txt")
    assert (status, body) == (200, b"semicolon")


def test_tampered_path_is_rejected(server):
    status, _, body = signed_request(server, "GET", key_path("files/hello.txt"),
                                     send_target=key_path("files/data.bin"))
    assert status == 403 and error_code(body) == "SignatureDoesNotMatch"


def test_unsigned_amz_header_is_rejected(server):
    status, _, body = signed_request(server, "GET", key_path("files/hello.txt"),
                                     extra_unsigned={"x-amz-meta-sneaky": "1"})
    assert status == 403 and error_code(body) == "AccessDenied"
    assert b"x-amz-meta-sneaky" in body


def test_payload_hash_is_checked(server):
    status, _, _ = signed_request(server, "PUT", "/demo/hash/ok.txt", body=b"right")
    assert status == 200
    status, _, body = signed_request(server, "PUT", "/demo/hash/bad.txt", body=b"right",
                                     send_body=b"wrong")
    assert status == 403 and error_code(body) == "XAmzContentSHA256Mismatch"


def test_head_error_has_no_body(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("HEAD", key_path("files/hello.txt"))
    resp = conn.getresponse()
    assert resp.status == 403 and resp.read() == b""
    conn.close()


def test_keep_alive_reuses_the_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        status, _, body = signed_request(server, "GET", key_path("files/hello.txt"), conn=conn)
        sock = conn.sock
        assert (status, body) == (200, DEMO_OBJECTS["files/hello.txt"])
        status, _, _ = signed_request(server, "HEAD", key_path("files/data.bin"), conn=conn)
        assert status == 200
        # An auth failure without a body keeps the connection usable too.
        status, _, _ = signed_request(server, "GET", key_path("files/hello.txt"), conn=conn,
                                      creds=Credentials(ACCESS_KEY, "nope"))
        assert status == 403
        status, _, body = signed_request(server, "GET", key_path("docs/guide.txt"), conn=conn)
        assert (status, body) == (200, DEMO_OBJECTS["docs/guide.txt"])
        assert conn.sock is sock
    finally:
        conn.close()


def test_chunked_upload_is_forwarded(server, s3):
    body = b"chunked body " * 1000
    request = AWSRequest(method="PUT", url=server.endpoint + "/demo/chunked/up.txt",
                         data=body, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    headers = dict(request.headers.items())
    headers.pop("Content-Length", None)
    headers["Transfer-Encoding"] = "chunked"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("PUT", "/demo/chunked/up.txt",
                 body=iter([body[:5000], body[5000:]]), headers=headers, encode_chunked=True)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200
    assert s3.get_object(Bucket=BUCKET, Key="chunked/up.txt")["Body"].read() == body


# ---------------------------------------------------------------------------
# Presigned URLs
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["files/with space.txt", "files/plus+sign.txt",
                                 "files/ünïcødé.txt", "files/hash#tag.txt"])
def test_presigned_get(s3, key):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key},
                                    ExpiresIn=300)
    status, _, body = http_get(url)
    assert (status, body) == (200, DEMO_OBJECTS[key])


def test_presigned_head(s3):
    url = s3.generate_presigned_url("head_object",
                                    Params={"Bucket": BUCKET, "Key": "files/hello.txt"},
                                    ExpiresIn=300, HttpMethod="HEAD")
    status, headers, _ = http_get(url, "HEAD")
    assert status == 200 and headers["Content-Length"] == "20"


def test_presigned_get_fails_for_head(s3):
    url = s3.generate_presigned_url("get_object",
                                    Params={"Bucket": BUCKET, "Key": "files/hello.txt"},
                                    ExpiresIn=300)
    status, _, body = http_get(url, "HEAD")
    assert status == 403 and body == b""


def test_presigned_tampered_signature(s3):
    url = s3.generate_presigned_url("get_object",
                                    Params={"Bucket": BUCKET, "Key": "files/hello.txt"},
                                    ExpiresIn=300)
    head, sig = url.rsplit("X-Amz-Signature=", 1)
    tampered = head + "X-Amz-Signature=" + sig[:-1] + ("0" if sig[-1] != "0" else "1")
    status, _, body = http_get(tampered)
    assert status == 403 and error_code(body) == "SignatureDoesNotMatch"


def test_presigned_tampered_query(s3):
    url = s3.generate_presigned_url("get_object",
                                    Params={"Bucket": BUCKET, "Key": "files/hello.txt"},
                                    ExpiresIn=300)
    status, _, body = http_get(url.replace("X-Amz-Expires=300", "X-Amz-Expires=301"))
    assert status == 403 and error_code(body) == "SignatureDoesNotMatch"


def test_presigned_malformed(s3):
    url = s3.generate_presigned_url("get_object",
                                    Params={"Bucket": BUCKET, "Key": "files/hello.txt"},
                                    ExpiresIn=300)
    status, _, body = http_get(re.sub(r"X-Amz-Expires=\d+&", "", url))
    assert status == 403 and error_code(body) == "AuthorizationQueryParametersError"


def test_presigned_expired(s3):
    url = s3.generate_presigned_url("get_object",
                                    Params={"Bucket": BUCKET, "Key": "files/hello.txt"},
                                    ExpiresIn=1)
    # a second later it expires: polled, not slept
    deadline = time.monotonic() + 10
    while (status := http_get(url)[0]) == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    status, _, body = http_get(url)
    assert status == 403 and error_code(body) == "AccessDenied"
    assert b"Request has expired" in body


# ---------------------------------------------------------------------------
# Request log and control endpoint
# ---------------------------------------------------------------------------

def test_request_log(server, s3):
    assert control(server, "DELETE") == (204, None)
    s3.get_object(Bucket=BUCKET, Key="files/with space.txt")
    http_get(server.endpoint + "/demo/files/hello.txt?x=1")
    status, records = control(server)
    assert status == 200
    assert [r["auth"] for r in records] == ["header", "none"]
    signed, anon = records
    assert signed["method"] == "GET"
    assert signed["path"] == "/demo/files/with%20space.txt"
    assert signed["query"] == ""
    assert signed["verified"] is True and signed["error"] is None
    assert signed["status"] == 200
    assert signed["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert "x-amz-date" in signed["headers"]
    assert anon["query"] == "x=1"
    assert anon["verified"] is False and anon["status"] == 403
    assert anon["error"].startswith("AccessDenied")

    # The JSON-lines log has the same records (and no control requests).
    lines = [json.loads(line) for line in server.log_path.read_text("utf-8").splitlines()]
    assert lines[-2:] == records
    assert not any(r["path"].startswith("/__s3server") for r in lines)


def test_log_records_failures_with_canonical_request(server, s3):
    control(server, "DELETE")
    url = s3.generate_presigned_url("get_object",
                                    Params={"Bucket": BUCKET, "Key": "files/plus+sign.txt"},
                                    ExpiresIn=300)
    http_get(url, "HEAD")
    _, records = control(server)
    assert len(records) == 1
    rec = records[0]
    assert rec["auth"] == "presigned" and rec["verified"] is False and rec["status"] == 403
    assert rec["path"] == "/demo/files/plus%2Bsign.txt"
    assert "X-Amz-Signature=" in rec["query"]
    assert "CanonicalRequest:\nHEAD\n/demo/files/plus%2Bsign.txt\n" in rec["error"]
    assert "StringToSign:\nAWS4-HMAC-SHA256\n" in rec["error"]


# ---------------------------------------------------------------------------
# Session tokens
# ---------------------------------------------------------------------------

def test_session_token_required(token_server):
    good = client(token_server, token=TOKEN)
    good.create_bucket(Bucket="tok")
    good.put_object(Bucket="tok", Key="k y+z.txt", Body=b"with token")
    assert good.get_object(Bucket="tok", Key="k y+z.txt")["Body"].read() == b"with token"

    for bad in (client(token_server), client(token_server, token="wrong-token")):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            bad.get_object(Bucket="tok", Key="k y+z.txt")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    params = {"Bucket": "tok", "Key": "k y+z.txt"}
    url = good.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    assert "X-Amz-Security-Token=" in url
    assert http_get(url)[0::2] == (200, b"with token")
    url = client(token_server).generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    assert http_get(url)[0] == 403


# ---------------------------------------------------------------------------
# Verifier unit tests (in-process, time can be shifted)
# ---------------------------------------------------------------------------

def _botocore_signed(method: str, url: str, headers: dict | None = None, body: bytes = b""):
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    parts = urllib.parse.urlsplit(url)
    items = [("Host", parts.netloc)] + list(request.headers.items())
    return parts.path, parts.query, items


def _verifier(token: str | None = None) -> s3server.SigV4Verifier:
    return s3server.SigV4Verifier(ACCESS_KEY, SECRET_KEY, REGION, token)


def test_verifier_accepts_botocore_header_signatures():
    for key in list(DEMO_OBJECTS) + ["a//b/./c/../d", "~tilde", "x%y"]:
        path, query, headers = _botocore_signed(
            "GET", "http://h:1" + key_path(key) + "?versionId=a%2Fb&acl=")
        result = _verifier().verify("GET", path, query, headers)
        assert result.auth == "header"


def test_verifier_clock_skew():
    path, query, headers = _botocore_signed("GET", "http://h:1/demo/x")
    now = dt.datetime.now(dt.timezone.utc)
    _verifier().verify("GET", path, query, headers, now=now + dt.timedelta(minutes=14))
    for shift in (dt.timedelta(minutes=16), -dt.timedelta(minutes=16)):
        with pytest.raises(s3server.AuthError) as info:
            _verifier().verify("GET", path, query, headers, now=now + shift)
        assert info.value.code == "RequestTimeTooSkewed"


def test_verifier_presign_expiry_window():
    request = AWSRequest(method="GET", url="http://h:1/demo/files/with%20space.txt")
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION,
                     expires=60).add_auth(request)
    parts = urllib.parse.urlsplit(request.url)
    headers = [("Host", "h:1")]
    now = dt.datetime.now(dt.timezone.utc)
    verifier = _verifier()
    assert verifier.verify("GET", parts.path, parts.query, headers, now=now).auth == "presigned"
    verifier.verify("GET", parts.path, parts.query, headers, now=now + dt.timedelta(seconds=55))
    with pytest.raises(s3server.AuthError) as info:
        verifier.verify("GET", parts.path, parts.query, headers, now=now + dt.timedelta(seconds=62))
    assert (info.value.code, info.value.message.splitlines()[0]) == ("AccessDenied",
                                                                     "Request has expired")
    with pytest.raises(s3server.AuthError) as info:
        verifier.verify("GET", parts.path, parts.query, headers, now=now - dt.timedelta(minutes=16))
    assert info.value.code == "RequestTimeTooSkewed"


def test_verifier_requires_signed_token():
    token_headers = {"x-amz-security-token": TOKEN}
    path, query, headers = _botocore_signed("GET", "http://h:1/demo/x", token_headers)
    _verifier(TOKEN).verify("GET", path, query, headers)
    with pytest.raises(s3server.AuthError):
        _verifier("other").verify("GET", path, query, headers)
    path, query, headers = _botocore_signed("GET", "http://h:1/demo/x")
    with pytest.raises(s3server.AuthError):
        _verifier(TOKEN).verify("GET", path, query, headers)
    # Present but not signed.
    with pytest.raises(s3server.AuthError) as info:
        _verifier(TOKEN).verify("GET", path, query,
                                headers + [("x-amz-security-token", TOKEN)])
    assert info.value.code == "AccessDenied"


def test_canonical_forms():
    assert s3server.canonical_uri("/b/a%2fb+c d") == "/b/a/b%2Bc%20d"
    assert s3server.canonical_uri("/b//./../%7e~") == "/b//./../~~"
    assert s3server.canonical_uri("/b/100%") == "/b/100%25"
    pairs = s3server.parse_query("b=2&a=x+y&a=%2B&flag&c=/")
    assert s3server.canonical_query(pairs) == "a=%2B&a=x%20y&b=2&c=%2F&flag="


# ---------------------------------------------------------------------------
# Checksums, folder markers and parts, as S3 keeps them
# ---------------------------------------------------------------------------

def test_checksum_functions_give_the_check_values():
    # The CRC catalogue's check values, over b"123456789".
    import base64
    value = lambda algorithm: int.from_bytes(
        base64.b64decode(s3server.checksum(algorithm, b"123456789")), "big")
    assert value("crc32") == 0xCBF43926
    assert value("crc32c") == 0xE3069283
    assert value("crc64nvme") == 0xAE8B14860A799888
    # The digests of nothing, FIPS 180-4's, base64-encoded.
    empty = {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709"}
    for algorithm, digest in empty.items():
        assert s3server.checksum(algorithm, b"") == base64.b64encode(
            bytes.fromhex(digest)).decode()


@pytest.mark.parametrize("algorithm", s3server.CHECKSUM_ALGORITHMS)
def test_checksums_are_kept_and_returned_only_when_asked(server, algorithm):
    key = f"sums/{algorithm}.txt"
    body = f"checked by {algorithm}\n".encode()
    value = s3server.checksum(algorithm, body)
    header = {f"x-amz-checksum-{algorithm}": value}
    status, _, _ = signed_request(server, "PUT", key_path(key), body=body, headers=header)
    assert status == 200
    mode = {"x-amz-checksum-mode": "ENABLED"}
    for method in ("GET", "HEAD"):
        status, headers, got = signed_request(server, method, key_path(key), headers=mode)
        assert status == 200 and got == (body if method == "GET" else b"")
        assert headers[f"x-amz-checksum-{algorithm}"] == value
        assert headers["x-amz-checksum-type"] == "FULL_OBJECT"
        _, headers, _ = signed_request(server, method, key_path(key))
        assert not any(h.lower().startswith("x-amz-checksum") for h in headers)
    # A range has no checksum of the whole.
    status, headers, got = signed_request(server, "GET", key_path(key),
                                          headers={**mode, "Range": "bytes=0-3"})
    assert status == 206 and got == body[:4]
    assert not any(h.lower().startswith("x-amz-checksum") for h in headers)


def test_a_wrong_checksum_is_bad_digest(server):
    status, _, body = signed_request(server, "PUT", key_path("sums/wrong.txt"), body=b"x",
                                     headers={"x-amz-checksum-sha256": "AAAA"})
    assert (status, error_code(body)) == (400, "BadDigest")
    status, _, _ = signed_request(server, "HEAD", key_path("sums/wrong.txt"))
    assert status == 404


def test_folder_markers_with_and_without_a_body(s3):
    s3.put_object(Bucket=BUCKET, Key="markers/empty/", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="markers/full/", Body=b"marker body")
    assert s3.get_object(Bucket=BUCKET, Key="markers/empty/")["Body"].read() == b""
    full = s3.get_object(Bucket=BUCKET, Key="markers/full/")
    assert full["Body"].read() == b"marker body" and full["ContentLength"] == 11
    assert full["ChecksumCRC32"] == s3server.checksum("crc32", b"marker body")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="markers/")
    assert [o["Key"] for o in listed["Contents"]] == ["markers/empty/", "markers/full/"]


@pytest.fixture(scope="module")
def multipart(s3):
    """A two-part object uploaded with SHA-256 checksums: (key, parts)."""
    key, parts = "parts/two.bin", [os.urandom(5 << 20), b"the last part"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="SHA256")
    done = []
    for number, body in enumerate(parts, 1):
        part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                              PartNumber=number, Body=body, ChecksumAlgorithm="SHA256")
        done.append({"PartNumber": number, "ETag": part["ETag"],
                     "ChecksumSHA256": part["ChecksumSHA256"]})
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": done})
    return key, parts


def test_part_numbers_read_one_part(s3, multipart):
    key, parts = multipart
    total = sum(map(len, parts))
    first = 0
    for number, body in enumerate(parts, 1):
        got = s3.get_object(Bucket=BUCKET, Key=key, PartNumber=number)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == body
        assert got["PartsCount"] == 2
        assert got["ContentRange"] == f"bytes {first}-{first + len(body) - 1}/{total}"
        assert got["ChecksumSHA256"] == s3server.checksum("sha256", body)
        head = s3.head_object(Bucket=BUCKET, Key=key, PartNumber=number)
        assert head["ContentLength"] == len(body) and head["PartsCount"] == 2
        first += len(body)
    whole = s3.get_object(Bucket=BUCKET, Key=key)
    assert whole["Body"].read() == b"".join(parts)
    assert "PartsCount" not in whole
    assert whole["ChecksumType"] == "COMPOSITE"
    assert whole["ChecksumSHA256"] == s3server.composite_checksum(
        "sha256", [s3server.checksum("sha256", body) for body in parts])


def test_part_number_refusals(server, s3, multipart):
    key, _ = multipart
    for query, status, code in [("partNumber=3", 416, "InvalidPartNumber"),
                                ("partNumber=0", 400, "InvalidArgument"),
                                ("partNumber=10001", 400, "InvalidArgument")]:
        got, _, body = signed_request(server, "GET", key_path(key) + "?" + query)
        assert (got, error_code(body)) == (status, code), query
    got, _, body = signed_request(server, "GET", key_path(key) + "?partNumber=1",
                                  headers={"Range": "bytes=0-1"})
    assert (got, error_code(body)) == (400, "InvalidRequest")
    # A single-part object is its own part 1, and no more.
    one = s3.get_object(Bucket=BUCKET, Key="files/hello.txt", PartNumber=1)
    assert one["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert one["Body"].read() == DEMO_OBJECTS["files/hello.txt"]
    got, _, body = signed_request(server, "GET", key_path("files/hello.txt") + "?partNumber=2")
    assert (got, error_code(body)) == (416, "InvalidPartNumber")


def test_corrupt_switch_changes_one_byte_of_the_next_get(server, s3):
    body = DEMO_OBJECTS["files/hello.txt"]
    fault = json.dumps({"path": "/demo/files/hello.txt", "corrupt": True}).encode()
    OPENER.open(urllib.request.Request(server.endpoint + "/__s3server/faults",
                                       data=fault, method="POST")).read()
    assert s3.head_object(Bucket=BUCKET, Key="files/hello.txt")["ContentLength"] == len(body)
    status, headers, got = signed_request(server, "GET", key_path("files/hello.txt"))
    assert status == 200 and len(got) == len(body) and got != body
    assert sum(a != b for a, b in zip(got, body)) == 1
    assert signed_request(server, "GET", key_path("files/hello.txt"))[2] == body


# ---------------------------------------------------------------------------
# Process lifecycle
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_clean_exit_on_signal(tmp_path, sig):
    srv = start_server(tmp_path)
    assert srv.stdout_line == f"s3server ready on http://127.0.0.1:{srv.port}"
    assert stop_server(srv, sig) == 0
    assert not (tmp_path / "ready").exists()

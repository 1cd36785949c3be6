"""S3's error answers to proxied requests reach the client clean: the
status (and Retry-After) kept, a parseable S3 error document with S3's
Code, and none of S3's debugging fields (the access key id, string to sign,
canonical request, session token, request and host ids).  The operator
reads the code in nginx's error log: `error` for the proxy's own problems
(credentials, permissions, throttling, S3 failing), `info` for the
client's (a missing key).  An operator's own error_page wins.

Each test asserts what the client got, what reached S3 (the stand-in,
demo/s3server.py, records it and sends S3's debugging fields) and what
nginx logged."""

import json
import os
import re
import subprocess
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore
import botocore.config
import botocore.exceptions
import pytest
import requests

from harness import ACCESS_KEY, SECRET_KEY, S3Server, client_env, s3_environment

SDK_UA = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"
DEBUG_FIELDS = ("AWSAccessKeyId", "StringToSign", "StringToSignBytes",
                "CanonicalRequest", "CanonicalRequestBytes", "SignatureProvided",
                "RequestId", "HostId", "Resource")
TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token/for+tests=="

LOCATION_LISTING = """
        location / {
            s3_proxy on;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }
"""


def inject(s3, path, status, code, times=1, headers=None, extra=None):
    """The stand-in answers the next `times` verified requests for `path`
    with this S3 error."""
    body = json.dumps({"path": path, "status": status, "code": code,
                       "times": times, "headers": headers or {},
                       "extra": extra or {}}).encode()
    req = urllib.request.Request(s3.endpoint + "/__s3server/faults", data=body,
                                 method="POST")
    urllib.request.urlopen(req).read()


def clear_faults(s3):
    req = urllib.request.Request(s3.endpoint + "/__s3server/faults", method="DELETE")
    urllib.request.urlopen(req).read()


def sdk_get(nginx, path, method="GET", **headers):
    return requests.request(method, nginx.url + path,
                            headers={"User-Agent": SDK_UA, **headers},
                            allow_redirects=False, timeout=30)


def unsigned_client(url, **config):
    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=None, aws_secret_access_key=None,
        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1},
                                      connect_timeout=5, read_timeout=30,
                                      **config))


def assert_clean(resp, code, secrets=()):
    """A clean S3 error document with `code`, nothing else of S3's."""
    assert resp.headers["Content-Type"] == "application/xml"
    root = ET.fromstring(resp.content)
    assert root.tag == "Error"
    assert [child.tag for child in root] == ["Code", "Message"]
    assert root.findtext("Code") == code
    text = resp.text + "\n" + "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
    for field in DEBUG_FIELDS:
        assert field not in text
    for secret in (ACCESS_KEY, SECRET_KEY, "AWS4-HMAC-SHA256", "x-amz-date",
                   "s3server", *secrets):
        assert secret not in text
    for name in resp.headers:
        assert name.lower() not in ("x-amz-request-id", "x-amz-id-2")


def log_lines(nginx, pattern):
    return [line for line in nginx.log_text().splitlines() if re.search(pattern, line)]


@pytest.fixture(scope="module")
def token_s3():
    server = S3Server(session_token=TOKEN)
    yield server
    server.stop()


# --------------------------------------------------------------------------
# the proxy's credentials are wrong: 403, cleaned, logged at error
# --------------------------------------------------------------------------

@pytest.mark.parametrize("override, code", [
    ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "SignatureDoesNotMatch"),
    ({"AWS_ACCESS_KEY_ID": "AKIDNOTKNOWNTOS3"}, "InvalidAccessKeyId"),
])
def test_credential_errors_are_cleaned_and_logged(s3, make_nginx, override, code):
    nginx = make_nginx(s3_environment(s3, **override), locations=LOCATION_LISTING)
    s3.clear()
    resp = sdk_get(nginx, "/demo/files/hello.txt")
    assert resp.status_code == 403
    assert_clean(resp, code, secrets=override.values())

    # what S3 sent carried the debugging fields the client did not get
    [seen] = s3.requests()
    assert seen["status"] == 403 and seen["error"].startswith(code)

    [line] = log_lines(nginx, r"S3 answered")
    assert "[error]" in line and f'S3 answered 403 "{code}"' in line
    assert "not-the-secret" not in nginx.log_text()


def test_session_token_never_reaches_the_client(token_s3, make_nginx):
    env = s3_environment(token_s3, AWS_SESSION_TOKEN=TOKEN + "-stale")
    nginx = make_nginx(env, locations=LOCATION_LISTING)
    for path in ("/demo/files/hello.txt", "/demo/docs/", "/demo?list-type=2"):
        resp = sdk_get(nginx, path)
        assert resp.status_code == 403, path
        assert_clean(resp, "InvalidToken", secrets=(TOKEN,))
    lines = log_lines(nginx, r"S3 answered 403")
    assert len(lines) == 3 and all("[error]" in line and '"InvalidToken"' in line
                                   for line in lines)


def test_sdk_reads_the_code_of_a_cleaned_error(s3, make_nginx):
    env = s3_environment(s3, AWS_SECRET_ACCESS_KEY="not-the-secret")
    nginx = make_nginx(env)
    client = unsigned_client(nginx.url)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.get_object(Bucket="demo", Key="files/hello.txt")
    error = info.value.response["Error"]
    assert error["Code"] == "SignatureDoesNotMatch"
    assert set(error) == {"Code", "Message"}
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_head_keeps_the_status_and_logs_it(s3, make_nginx):
    env = s3_environment(s3, AWS_SECRET_ACCESS_KEY="not-the-secret")
    nginx = make_nginx(env)
    resp = sdk_get(nginx, "/demo/files/hello.txt", method="HEAD")
    assert resp.status_code == 403 and resp.content == b""
    assert "x-amz-request-id" not in {k.lower() for k in resp.headers}
    [line] = log_lines(nginx, r"S3 answered")
    assert "[error]" in line and line.split("S3 answered ")[1].startswith("403 while")


# --------------------------------------------------------------------------
# the client's errors: status and code kept, logged at info
# --------------------------------------------------------------------------

def test_missing_key_is_a_clean_nosuchkey(proxy, s3):
    s3.clear()
    resp = sdk_get(proxy, "/demo/files/absent.txt")
    assert resp.status_code == 404
    assert_clean(resp, "NoSuchKey")
    assert [r["status"] for r in s3.requests()] == [404]
    [line] = log_lines(proxy, r"S3 answered 404 .*absent\.txt")
    assert "[info]" in line and '"NoSuchKey"' in line

    client = unsigned_client(proxy.url)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.get_object(Bucket="demo", Key="files/absent.txt")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"


def test_missing_bucket_listing_for_the_aws_cli(proxy, tmp_path):
    r = subprocess.run(["aws", "s3api", "list-objects-v2", "--no-sign-request",
                        "--endpoint-url", proxy.url, "--bucket", "s3p-no-such-bucket"],
                       env=client_env(str(tmp_path)), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0
    assert "NoSuchBucket" in r.stderr
    assert "RequestId" not in r.stderr and "HostId" not in r.stderr


def test_failed_precondition_and_range(proxy, s3):
    resp = sdk_get(proxy, "/demo/files/hello.txt", **{"If-Match": '"0000"'})
    assert resp.status_code == 412
    assert_clean(resp, "PreconditionFailed")
    resp = sdk_get(proxy, "/demo/files/hello.txt", Range="bytes=1000-2000")
    assert resp.status_code == 416
    assert_clean(resp, "InvalidRange")
    for code in ("PreconditionFailed", "InvalidRange"):
        [line] = log_lines(proxy, f'"{code}"')
        assert "[info]" in line


# --------------------------------------------------------------------------
# S3 failing or throttling: status and Retry-After kept, logged at error
# --------------------------------------------------------------------------

@pytest.mark.parametrize("status, code, headers", [
    (500, "InternalError", {}),
    (503, "SlowDown", {"Retry-After": "7"}),
])
def test_s3_failures_keep_status_and_retry_after(s3, make_nginx, status, code, headers):
    nginx = make_nginx(s3_environment(s3))
    key = f"/demo/files/hello.txt"
    inject(s3, key, status, code, headers=headers)
    try:
        resp = sdk_get(nginx, key)
    finally:
        clear_faults(s3)
    assert resp.status_code == status
    assert_clean(resp, code)
    for name, value in headers.items():
        assert resp.headers[name] == value
    [line] = log_lines(nginx, r"S3 answered")
    assert "[error]" in line and f'S3 answered {status} "{code}"' in line


def test_sdk_retries_on_slowdown(s3, make_nginx):
    nginx = make_nginx(s3_environment(s3))
    inject(s3, "/demo/files/hello.txt", 503, "SlowDown", times=1,
           headers={"Retry-After": "0"})
    s3.clear()
    try:
        client = boto3.session.Session().client(
            "s3", endpoint_url=nginx.url, region_name="us-east-1",
            config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                          s3={"addressing_style": "path"},
                                          retries={"max_attempts": 3,
                                                   "mode": "standard"}))
        body = client.get_object(Bucket="demo", Key="files/hello.txt")["Body"].read()
    finally:
        clear_faults(s3)
    assert body == b"hello from s3-proxy\n"
    assert [r["status"] for r in s3.requests()] == [503, 200]


# --------------------------------------------------------------------------
# the operator's own error pages win
# --------------------------------------------------------------------------

def test_operators_error_page_wins(s3, make_nginx):
    locations = """
        location / {
            s3_proxy on;
            include s3_proxy.conf;
            proxy_intercept_errors on;
            error_page 403 /denied.html;
        }
        location = /denied.html {
            internal;
            default_type text/plain;
            return 200 "ask the operator\\n";
        }
"""
    env = s3_environment(s3, AWS_SECRET_ACCESS_KEY="not-the-secret")
    nginx = make_nginx(env, locations=locations)
    resp = sdk_get(nginx, "/demo/files/hello.txt")
    assert resp.status_code == 403
    assert resp.text == "ask the operator\n"


# --------------------------------------------------------------------------
# redirects and refusals are the module's own: untouched
# --------------------------------------------------------------------------

def test_refusals_and_redirects_are_untouched(proxy):
    before = len(log_lines(proxy, "S3 answered"))
    resp = requests.get(proxy.url + "/demo/files/hello.txt", allow_redirects=False)
    assert resp.status_code == 307
    resp = requests.put(proxy.url + "/demo/files/hello.txt", data=b"x")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, HEAD"
    resp = requests.get(proxy.url + "/", allow_redirects=False)
    assert resp.status_code == 403 and "<Error>" not in resp.text
    assert len(log_lines(proxy, "S3 answered")) == before


# --------------------------------------------------------------------------
# S3's redirects: the status kept, no Location, the document cleaned
# --------------------------------------------------------------------------

ELSEWHERE = ["https://evil.example/demo/files/hello.txt", "/evil/path",
             "//evil.example/x"]


@pytest.mark.parametrize("location", ELSEWHERE)
@pytest.mark.parametrize("status, code", [(301, "PermanentRedirect"),
                                          (307, "TemporaryRedirect")])
def test_redirect_of_a_streamed_object_is_cleaned(proxy, s3, status, code, location):
    pattern = rf'S3 answered {status} "{code}"'
    before = len(log_lines(proxy, pattern))
    s3.clear()
    inject(s3, "/demo/files/hello.txt", status, code,
           headers={"Location": location, "x-amz-bucket-region": "eu-west-1"},
           extra={"Endpoint": "demo.s3.eu-west-1.amazonaws.com", "Bucket": "demo"})
    try:
        resp = sdk_get(proxy, "/demo/files/hello.txt")
    finally:
        clear_faults(s3)
    assert resp.status_code == status
    assert "Location" not in resp.headers
    assert_clean(resp, code)
    assert "amazonaws.com" not in resp.text and "evil" not in resp.text
    [seen] = s3.requests()
    assert (seen["status"], seen["verified"]) == (status, True)
    lines = log_lines(proxy, pattern)
    assert len(lines) == before + 1 and "[error]" in lines[-1]


def test_redirect_of_a_head_keeps_the_status_without_location(proxy, s3):
    s3.clear()
    inject(s3, "/demo/files/hello.txt", 301, "PermanentRedirect",
           headers={"Location": "https://evil.example/"})
    try:
        resp = sdk_get(proxy, "/demo/files/hello.txt", method="HEAD")
    finally:
        clear_faults(s3)
    assert resp.status_code == 301 and resp.content == b""
    assert "Location" not in resp.headers
    assert [r["method"] for r in s3.requests()] == ["HEAD"]
    assert log_lines(proxy, r"S3 answered 301 while")


@pytest.mark.parametrize("path, s3_path", [
    ("/demo/", "/demo/index.html"),          # a bucket's index page
    ("/demo/docs/", "/demo/docs/index.html"),  # a folder's, listings on
    ("/demo?list-type=2", "/demo"),          # an XML listing
])
def test_redirect_of_a_proxied_page_is_cleaned(s3, make_nginx, path, s3_path):
    nginx = make_nginx(s3_environment(s3), locations=LOCATION_LISTING)
    s3.clear()
    inject(s3, s3_path, 301, "PermanentRedirect",
           headers={"Location": "https://evil.example/phish"},
           extra={"Endpoint": "demo.s3.eu-west-1.amazonaws.com"})
    try:
        resp = requests.get(nginx.url + path, allow_redirects=False, timeout=30,
                            headers={"User-Agent": "Mozilla/5.0"})
    finally:
        clear_faults(s3)
    assert resp.status_code == 301
    assert "Location" not in resp.headers
    assert_clean(resp, "PermanentRedirect")
    assert [(r["path"], r["status"]) for r in s3.requests()] == [(s3_path, 301)]
    [line] = log_lines(nginx, r'S3 answered 301 "PermanentRedirect"')
    assert "[error]" in line

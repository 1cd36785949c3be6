"""Every S3 client downloads: clients are known by their User-Agent, by
sending none (Debian's s3cmd 2.3.0) or by signing their requests as S3
clients do, and get objects streamed instead of a 307 they cannot follow.
Each test asserts what the client got and what reached S3.  Also
s3_proxy_ignore_params, which drops cache busters instead of refusing
them."""

import os
import shutil
import subprocess

import boto3
import botocore.config
import pytest
import requests
from urllib3.util import SKIP_HEADER

from harness import client_env, s3_environment
from s3server import DEMO_OBJECTS
from test_streaming_clients import (BROWSER_UA, FILES_KEYS, assert_streamed,
                                    location_block, object_path)


S3CMD = shutil.which("s3cmd")

# requests (urllib3) sends a User-Agent of its own unless told to skip it.
NO_AGENT = SKIP_HEADER


@pytest.fixture(scope="module")
def s3cmd():
    if S3CMD is None:
        pytest.fail("s3cmd is not installed: `make deps` installs Debian's")
    out = subprocess.run([S3CMD, "--version"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return S3CMD


@pytest.fixture
def home(tmp_path):
    return str(tmp_path)


def s3cmd_run(s3cmd, proxy, home, *args):
    """Debian's s3cmd with path-style addressing at the proxy; its
    credentials are a dummy (the proxy signs), its User-Agent none."""
    host = f"127.0.0.1:{proxy.port}"
    command = [s3cmd, "--no-ssl", f"--host={host}", f"--host-bucket={host}",
               "--access_key=dummy-id", "--secret_key=dummy-secret",
               "--region=us-east-1", "--no-check-md5", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env=client_env(home))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------
# s3cmd: no User-Agent, signs every request
# --------------------------------------------------------------------------

def test_s3cmd_sends_no_user_agent_and_signs_what_it_sends(s3cmd, proxy, home):
    """What makes it an S3 client here: no User-Agent, and its signature."""
    before = len(open(proxy.access_log).read().splitlines())
    r = s3cmd_run(s3cmd, proxy, home, "get", "--force", "s3://demo/files/hello.txt",
                  os.path.join(home, "hello.txt"))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = open(proxy.access_log).read().splitlines()[before:]
    assert lines and all(line.endswith('"-"') for line in lines), lines


def test_s3cmd_get_streams_the_object(s3cmd, proxy, s3, home):
    out = os.path.join(home, "data.bin")
    s3.clear()
    r = s3cmd_run(s3cmd, proxy, home, "get", "--force", "s3://demo/files/data.bin", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert read(out) == DEMO_OBJECTS["files/data.bin"]
    seen = s3.requests()
    assert [x["path"] for x in seen if x["method"] == "GET"][-1] == \
        object_path("demo", "files/data.bin")
    for x in seen:
        assert x["verified"] and x["auth"] == "header", x
        assert "dummy-id" not in x["headers"]["authorization"], x


def test_s3cmd_sync_downloads_every_key_byte_for_byte(s3cmd, proxy, s3, home):
    target = os.path.join(home, "sync") + "/"
    s3.clear()
    r = s3cmd_run(s3cmd, proxy, home, "sync", "s3://demo/files/", target)
    assert r.returncode == 0, r.stdout + r.stderr
    for key in FILES_KEYS:
        assert read(os.path.join(target, key[len("files/"):])) == DEMO_OBJECTS[key], key
    seen = s3.requests()
    listings = [x for x in seen if x["path"] == "/demo/"]
    objects = [x for x in seen if x["path"] != "/demo/"]
    assert listings, seen
    assert {x["path"] for x in objects} == {object_path("demo", k) for k in FILES_KEYS}
    assert_streamed(objects)
    # A second sync finds everything in place and downloads nothing.
    s3.clear()
    r = s3cmd_run(s3cmd, proxy, home, "sync", "s3://demo/files/", target)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [x for x in s3.requests() if x["path"] != "/demo/"] == []


def test_s3cmd_info_reports_the_object_and_sub_resources_as_none(s3cmd, proxy, s3, home):
    """s3cmd info asks for ?policy, ?cors and ?acl too; the proxy serves
    none of them and says so the way S3 does (501 NotImplemented, in
    XML), which s3cmd reports as "none"; none of them reaches S3."""
    s3.clear()
    r = s3cmd_run(s3cmd, proxy, home, "info", "s3://demo/files/hello.txt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "File size: 20" in r.stdout, r.stdout
    for line in ["Policy:    none", "CORS:      none", "ACL:       none"]:
        assert line in r.stdout, r.stdout
    seen = s3.requests()
    assert [(x["method"], x["path"], x["query"]) for x in seen] == \
        [("HEAD", "/demo/files/hello.txt", "")], seen
    assert_streamed(seen, method="HEAD")


def test_s3cmd_refusal_is_s3_xml(s3cmd, proxy, s3, home):
    s3.clear()
    r = s3cmd_run(s3cmd, proxy, home, "put", __file__, "s3://demo/uploaded.py")
    assert r.returncode != 0
    assert "405" in r.stdout + r.stderr and "MethodNotAllowed" in r.stdout + r.stderr
    assert s3.requests() == []


# --------------------------------------------------------------------------
# the other clients, by what they send
# --------------------------------------------------------------------------

def test_aws_cli_signed_with_a_browser_user_agent_is_streamed(proxy, s3, home):
    """Signed requests are S3 clients' whatever their User-Agent says."""
    s3.clear()
    out = os.path.join(home, "hello.txt")
    r = subprocess.run(
        ["aws", "s3api", "get-object", "--endpoint-url", proxy.url, "--bucket", "demo",
         "--key", "files/hello.txt", out],
        capture_output=True, text=True, timeout=120,
        env=client_env(home, AWS_ACCESS_KEY_ID="client-id",
                       AWS_SECRET_ACCESS_KEY="client-secret",
                       AWS_SDK_UA_APP_ID="x",
                       AWS_CONFIG_FILE=os.path.join(home, "none")))
    assert r.returncode == 0, r.stderr
    assert read(out) == DEMO_OBJECTS["files/hello.txt"]
    seen = s3.requests()
    assert_streamed(seen)
    assert all("client-id" not in x["headers"]["authorization"] for x in seen)


@pytest.mark.parametrize("headers", [
    {"Authorization": "AWS4-HMAC-SHA256 Credential=client/20260101/us-east-1/s3/"
                      "aws4_request, SignedHeaders=host, Signature=00"},
    {"Authorization": "AWS client:c2lnbmF0dXJl"},
    {"x-amz-date": "20260101T000000Z"},
    {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    {"User-Agent": ""},
], ids=["sigv4", "sigv2", "x-amz-date", "x-amz-content-sha256", "no-agent"])
def test_what_s3_clients_send_gets_the_object_streamed(proxy, s3, headers):
    headers = {"User-Agent": BROWSER_UA, **headers}
    if headers["User-Agent"] == "":
        headers["User-Agent"] = NO_AGENT
    s3.clear()
    r = requests.get(f"{proxy.url}/demo/files/data.bin", headers=headers,
                     allow_redirects=False, timeout=10)
    assert r.status_code == 200
    assert r.content == DEMO_OBJECTS["files/data.bin"]
    seen = s3.requests()
    assert_streamed(seen)
    # The client's own signature never reaches S3.
    for x in seen:
        assert "client" not in x["headers"]["authorization"], x


@pytest.mark.parametrize("headers", [
    {"User-Agent": BROWSER_UA},
    {"User-Agent": "curl/8.0", "Authorization": "Basic dXNlcjpwYXNz"},
    {"User-Agent": "curl/8.0", "Authorization": "Bearer abc"},
])
def test_browsers_and_other_authorization_keep_the_307(proxy, s3, headers):
    s3.clear()
    r = requests.get(f"{proxy.url}/demo/files/data.bin", headers=headers,
                     allow_redirects=False, timeout=10)
    assert r.status_code == 307
    assert s3.requests() == []


def test_boto3_unsigned_gets_the_object_and_a_parseable_refusal(proxy, s3):
    client = boto3.session.Session().client(
        "s3", endpoint_url=proxy.url, region_name="us-east-1",
        aws_access_key_id="client-id", aws_secret_access_key="client-secret",
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      user_agent="Mozilla/5.0 (pretending)",
                                      retries={"max_attempts": 1}))
    s3.clear()
    body = client.get_object(Bucket="demo", Key="files/hello.txt")["Body"].read()
    assert body == DEMO_OBJECTS["files/hello.txt"]
    assert_streamed(s3.requests())
    s3.clear()
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.get_object_acl(Bucket="demo", Key="files/hello.txt")
    assert err.value.response["Error"]["Code"] == "NotImplemented"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.put_object(Bucket="demo", Key="x", Body=b"x")
    assert err.value.response["Error"]["Code"] == "MethodNotAllowed"
    assert s3.requests() == []


def test_browser_refusals_stay_html_and_403(proxy, s3):
    s3.clear()
    r = requests.get(f"{proxy.url}/demo/files/hello.txt?acl",
                     headers={"User-Agent": BROWSER_UA}, timeout=10)
    assert r.status_code == 403
    assert r.headers["Content-Type"].startswith("text/html")
    assert s3.requests() == []


# --------------------------------------------------------------------------
# s3_proxy_stream_agents none | signed
# --------------------------------------------------------------------------

@pytest.mark.parametrize("agents,no_agent,signed", [
    ("curl/", 307, 307),
    ("none", 200, 307),
    ("signed", 307, 200),
    ("curl/ none signed", 200, 200),
    ("off", 307, 307),
])
def test_stream_agents_none_and_signed(s3, make_nginx, agents, no_agent, signed):
    nginx = make_nginx(s3_environment(s3), locations=location_block(
        f"s3_proxy_stream_agents {agents};"))
    url = f"{nginx.url}/demo/files/hello.txt"
    r = requests.get(url, headers={"User-Agent": NO_AGENT}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == no_agent
    r = requests.get(url, headers={"User-Agent": BROWSER_UA,
                                   "x-amz-date": "20260101T000000Z"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == signed
    r = requests.get(url, headers={"User-Agent": "curl/8.0"}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == (307 if agents in ("none", "signed", "off") else 200)


# --------------------------------------------------------------------------
# s3_proxy_ignore_params
# --------------------------------------------------------------------------

def test_ignored_parameters_are_dropped_from_redirects_and_proxied_requests(
        s3, make_nginx):
    nginx = make_nginx(s3_environment(s3), locations=location_block(
        "s3_proxy_ignore_params v _;"))
    r = requests.get(f"{nginx.url}/demo/files/hello.txt?v=3&_=1700000000",
                     headers={"User-Agent": BROWSER_UA}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    location = r.headers["Location"]
    assert "v=3" not in location and "_=17" not in location
    assert requests.get(location, timeout=10).content == DEMO_OBJECTS["files/hello.txt"]
    s3.clear()
    r = requests.get(f"{nginx.url}/demo/files/hello.txt?_=1", timeout=10,
                     headers={"User-Agent": "aws-cli/2"})
    assert r.status_code == 200 and r.content == DEMO_OBJECTS["files/hello.txt"]
    assert [x["query"] for x in s3.requests()] == [""]
    # Other parameters are still refused, before anything reaches S3.
    s3.clear()
    r = requests.get(f"{nginx.url}/demo/files/hello.txt?v=3&w=1",
                     headers={"User-Agent": BROWSER_UA}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 403
    assert s3.requests() == []


def test_without_ignore_params_cache_busters_are_refused(proxy, s3):
    s3.clear()
    r = requests.get(f"{proxy.url}/demo/files/hello.txt?v=3",
                     headers={"User-Agent": BROWSER_UA}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 403
    assert s3.requests() == []

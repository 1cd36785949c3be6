"""S3 SDKs and CLIs get objects streamed through the proxy, everyone else
keeps the 307: the real aws CLI, boto3/s3transfer and rclone against the
real nginx and the local S3 (demo/s3server.py), byte for byte, with the
read-only and allowlist rules applied to streamed requests exactly as to
redirects."""

import hashlib
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import boto3
import botocore
import botocore.config
import botocore.exceptions
import pytest
import requests

from harness import client_env, ACCESS_KEY, REGION, SECRET_KEY, s3_environment
from s3server import DEMO_OBJECTS, LISTING_COUNT, listing_objects

FILES_KEYS = sorted(k for k in DEMO_OBJECTS if k.startswith("files/"))
AWKWARD_KEYS = ["files/with space.txt", "files/plus+sign.txt",
                "files/100% sure.txt", "files/ünïcødé.txt",
                "files/question?.txt", "files/hash#tag.txt"]

# What the module signs, and the client headers the snippet forwards.
SIGNED_HEADERS = {"host", "authorization", "x-amz-date", "x-amz-content-sha256"}
# Signed too for an S3 client that asks for checksums, as botocore 1.36 and
# later does on every GetObject.
CHECKSUM_MODE = {"x-amz-checksum-mode"}
FORWARDED_CLIENT_HEADERS = {"range", "if-range", "if-match", "if-none-match",
                            "if-modified-since", "if-unmodified-since"}

BIG_KEY = "streaming-test/big.bin"
BIG_SIZE = 24 * 1024 * 1024
OTHER_BUCKET = "s3p-streaming-other"
OTHER_OBJECT = b"an object in a bucket outside the allowlist\n"

BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
BOTOCORE_UA = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"

# The seed's documented workaround, verbatim but for the prefix.
DOCUMENTED_PIPELINE = (
    "aws s3api list-objects-v2 --no-sign-request --endpoint-url $PROXY "
    "--bucket demo --prefix files/nested | jq -r '.Contents[].Key' | "
    "xargs -I{} curl --location --create-dirs --output \"out/{}\" \"$PROXY/demo/{}\""
)

# One line of nginx's default "combined" access log.
ACCESS_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) \S+ "[^"]*" "(?P<ua>[^"]*)"')


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="s3p-stream-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(args, home, timeout=60, **extra_env):
    return subprocess.run(args, cwd=home, env=client_env(home, **extra_env),
                          capture_output=True, timeout=timeout)


def aws_s3(proxy, home, *args):
    r = run(["aws", "s3", *args, "--no-sign-request", "--endpoint-url", proxy.url],
            home)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r


def files_under(root):
    """{relative path: bytes} of every file below root."""
    found = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


def files_expected():
    """FILES_KEYS as they land below a local copy of s3://demo/files."""
    return {k[len("files/"):]: DEMO_OBJECTS[k] for k in FILES_KEYS}


def unsigned_client(url, **config):
    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=None, aws_secret_access_key=None,
        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"},
                                      connect_timeout=5, read_timeout=30,
                                      **config))


def direct_client(s3):
    """Signed, straight to the S3 server: what S3 itself reports."""
    return boto3.session.Session().client(
        "s3", endpoint_url=s3.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      connect_timeout=5, read_timeout=30))


def object_path(bucket, key):
    return f"/{bucket}/" + urllib.parse.quote(key, safe="/-._~")


def object_requests(seen, bucket, key):
    """The recorded requests for one object."""
    return [r for r in seen if r["path"] == object_path(bucket, key)]


def assert_streamed(seen, method="GET"):
    """Each request reached S3 signed by the proxy (header auth, verified)
    and carried nothing but the signed headers and forwarded conditionals."""
    assert seen, "nothing reached S3"
    for r in seen:
        assert r["method"] == method, r
        assert r["verified"] and r["auth"] == "header", r
        assert r["headers"]["authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"), r
        assert SIGNED_HEADERS <= set(r["headers"]) \
            <= SIGNED_HEADERS | CHECKSUM_MODE | FORWARDED_CLIENT_HEADERS, r
        assert r["headers"].get("x-amz-checksum-mode", "ENABLED") == "ENABLED", r


def access_lines(nginx):
    with open(nginx.access_log, errors="replace") as f:
        return f.read().splitlines()


def parsed_access_lines(nginx, before, count, timeout=3.0):
    """(request, status, user agent) of the access log lines after the
    first `before`, once there are at least `count` (nginx logs after
    sending the response, so a fast client can be ahead of the log)."""
    deadline = time.monotonic() + timeout
    while len(access_lines(nginx)) - before < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    out = []
    for line in access_lines(nginx)[before:]:
        m = ACCESS_LINE.search(line)
        assert m, line
        out.append((m["request"], int(m["status"]), m["ua"]))
    return out


def location_block(extra):
    return f"""
        location / {{
            s3_proxy on;
            {extra}
            include s3_proxy.conf;
        }}
"""


# --------------------------------------------------------------------------
# module fixtures: the big object, the bucket outside the allowlist, rclone
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seeded(s3):
    """A 24 MiB deterministic object in demo and a second bucket, put
    straight into S3; removed afterwards so other modules see the seed."""
    big = random.Random(20240611).randbytes(BIG_SIZE)
    client = direct_client(s3)
    client.put_object(Bucket="demo", Key=BIG_KEY, Body=big)
    client.create_bucket(Bucket=OTHER_BUCKET)
    client.put_object(Bucket=OTHER_BUCKET, Key="x.txt", Body=OTHER_OBJECT)
    yield big
    client.delete_object(Bucket="demo", Key=BIG_KEY)
    client.delete_object(Bucket=OTHER_BUCKET, Key="x.txt")
    client.delete_bucket(Bucket=OTHER_BUCKET)


@pytest.fixture(scope="module")
def rclone():
    """rclone on PATH, installed from Debian (1.60) when missing."""
    found = shutil.which("rclone")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("rclone is not installed and this is not root: "
                    "run `apt-get install -y rclone`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log = []
    for step in (["apt-get", "install", "-y", "-qq", "rclone"],
                 ["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "rclone"]):
        r = subprocess.run(step, env=env, capture_output=True, text=True, timeout=300)
        log.append(f"$ {' '.join(step)} -> {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        if step[1] == "install" and r.returncode == 0 and shutil.which("rclone"):
            return shutil.which("rclone")
    pytest.fail("could not install rclone with apt-get:\n" + "\n".join(log))


def rclone_run(rclone, proxy, home, *args):
    """An anonymous S3 remote `px:` on the proxy, configured by environment."""
    return run([rclone, *args], home, timeout=60,
               RCLONE_CONFIG_PX_TYPE="s3",
               RCLONE_CONFIG_PX_PROVIDER="Other",
               RCLONE_CONFIG_PX_ENDPOINT=proxy.url,
               RCLONE_CONFIG_PX_ENV_AUTH="false",
               RCLONE_CONFIG_PX_FORCE_PATH_STYLE="true",
               RCLONE_CONFIG_PX_REGION="us-east-1")


# --------------------------------------------------------------------------
# aws CLI
# --------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["files/hello.txt"] + AWKWARD_KEYS)
def test_aws_s3_cp_to_stdout_streams_the_object_byte_for_byte(proxy, s3, workdir, key):
    s3.clear()
    r = aws_s3(proxy, workdir, "cp", f"s3://demo/{key}", "-")
    assert r.stdout == DEMO_OBJECTS[key]
    seen = object_requests(s3.requests(), "demo", key)
    assert [x["method"] for x in seen] == ["HEAD", "GET"]
    assert_streamed(seen[:1], "HEAD")
    assert_streamed(seen[1:], "GET")


def test_aws_s3_cp_to_a_file_streams_the_object_byte_for_byte(proxy, s3, workdir):
    s3.clear()
    target = os.path.join(workdir, "out", "data.bin")
    aws_s3(proxy, workdir, "cp", "s3://demo/files/data.bin", target)
    with open(target, "rb") as f:
        assert f.read() == DEMO_OBJECTS["files/data.bin"]
    gets = [x for x in s3.requests() if x["method"] == "GET"]
    assert [x["path"] for x in gets] == ["/demo/files/data.bin"]
    assert_streamed(gets)


def test_aws_s3_sync_downloads_every_key_and_a_second_sync_is_a_no_op(
        proxy, s3, workdir):
    target = os.path.join(workdir, "dir")
    s3.clear()
    first = aws_s3(proxy, workdir, "sync", "s3://demo/files", target)
    assert files_under(target) == files_expected()
    assert "nested/deep/readme.md" in files_under(target)
    gets = [x for x in s3.requests() if x["path"] != "/demo"]
    assert sorted(x["path"] for x in gets) == sorted(
        object_path("demo", k) for k in FILES_KEYS)
    assert_streamed(gets)
    assert first.stdout.decode().count("download:") == len(FILES_KEYS)

    s3.clear()
    second = aws_s3(proxy, workdir, "sync", "s3://demo/files", target)
    assert b"download:" not in second.stdout
    seen = s3.requests()
    # only the listing: not one object was fetched again
    assert seen and all(x["path"] == "/demo" and "list-type=2" in x["query"]
                        for x in seen), seen
    assert files_under(target) == files_expected()


def test_documented_list_then_curl_workaround_still_works_and_curl_is_redirected(
        proxy, s3, workdir):
    s3.clear()
    before = len(access_lines(proxy))
    r = subprocess.run(["bash", "-o", "pipefail", "-c", DOCUMENTED_PIPELINE],
                       cwd=workdir, env=client_env(workdir, PROXY=proxy.url),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    key = "files/nested/deep/readme.md"
    assert files_under(os.path.join(workdir, "out")) == {key: DEMO_OBJECTS[key]}
    log = parsed_access_lines(proxy, before, 2)
    curl_lines = [(req, status) for req, status, ua in log if ua.startswith("curl/")]
    assert curl_lines == [(f"GET /demo/{key} HTTP/1.1", 307)], log
    # the bytes came from S3 on the presigned URL, not through the proxy
    seen = object_requests(s3.requests(), "demo", key)
    assert [(x["method"], x["auth"], x["verified"]) for x in seen] == [
        ("GET", "presigned", True)]


# --------------------------------------------------------------------------
# everyone else keeps the 307
# --------------------------------------------------------------------------

def test_curl_gets_the_307_for_an_object_sdks_get_streamed(proxy, s3):
    url = f"{proxy.url}/demo/files/data.bin"
    s3.clear()
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout == "307"
    assert s3.requests() == []
    # the same object, asked for by an SDK, is streamed
    streamed = requests.get(url, headers={"User-Agent": BOTOCORE_UA}, timeout=10,
                            allow_redirects=False)
    assert streamed.status_code == 200
    assert streamed.content == DEMO_OBJECTS["files/data.bin"]
    assert_streamed(s3.requests())


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget is not installed")
def test_wget_gets_the_307_and_downloads_from_s3_directly(proxy, s3, workdir):
    url = f"{proxy.url}/demo/files/data.bin"
    s3.clear()
    r = run(["wget", "-S", "--max-redirect=0", "-O", "/dev/null", url], workdir)
    assert "HTTP/1.1 307 Temporary Redirect" in r.stderr.decode(), r.stderr
    assert s3.requests() == []
    out = os.path.join(workdir, "data.bin")
    r = run(["wget", "-q", "-O", out, url], workdir)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        assert f.read() == DEMO_OBJECTS["files/data.bin"]
    assert [(x["method"], x["auth"]) for x in s3.requests()] == [("GET", "presigned")]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_browser_user_agent_gets_the_307(proxy, s3, method):
    s3.clear()
    r = requests.request(method, f"{proxy.url}/demo/files/data.bin",
                         headers={"User-Agent": BROWSER_UA}, allow_redirects=False,
                         timeout=10)
    assert r.status_code == 307
    assert r.headers["Location"].startswith(s3.endpoint + "/demo/files/data.bin?")
    assert s3.requests() == []


def test_no_user_agent_is_streamed_as_s3cmd_needs(proxy, s3, workdir):
    """s3cmd 2.3.0 sends no User-Agent, and cannot follow a 307."""
    s3.clear()
    out = os.path.join(workdir, "data.bin")
    r = subprocess.run(["curl", "-s", "-A", "", "-o", out, "-w", "%{http_code}",
                        f"{proxy.url}/demo/files/data.bin"],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout == "200"
    with open(out, "rb") as f:
        assert f.read() == DEMO_OBJECTS["files/data.bin"]
    assert_streamed(s3.requests())


# --------------------------------------------------------------------------
# boto3
# --------------------------------------------------------------------------

def test_boto3_get_object_streams_the_bytes(proxy, s3):
    s3.clear()
    r = unsigned_client(proxy.url).get_object(Bucket="demo", Key="files/data.bin")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["Body"].read() == DEMO_OBJECTS["files/data.bin"]
    assert r["ContentLength"] == len(DEMO_OBJECTS["files/data.bin"])
    seen = s3.requests()
    assert [x["path"] for x in seen] == ["/demo/files/data.bin"]
    assert_streamed(seen)
    # nothing of botocore's own headers went upstream, but its checksum
    # mode, which the proxy signed
    assert set(seen[0]["headers"]) == SIGNED_HEADERS | CHECKSUM_MODE


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_boto3_get_object_of_awkward_keys_streams_byte_for_byte(proxy, key):
    r = unsigned_client(proxy.url).get_object(Bucket="demo", Key=key)
    assert r["Body"].read() == DEMO_OBJECTS[key]


def test_boto3_ranged_get_object_gets_206_with_content_range(proxy, s3):
    s3.clear()
    r = unsigned_client(proxy.url).get_object(Bucket="demo", Key="files/data.bin",
                                              Range="bytes=10-19")
    data = DEMO_OBJECTS["files/data.bin"]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["Body"].read() == data[10:20]
    assert r["ContentLength"] == 10
    assert r["ContentRange"] == f"bytes 10-19/{len(data)}"
    seen = s3.requests()
    assert_streamed(seen)
    assert seen[0]["headers"]["range"] == "bytes=10-19"
    assert set(seen[0]["headers"]) == SIGNED_HEADERS | CHECKSUM_MODE | {"range"}


def test_boto3_head_object_reports_what_s3_reports(proxy, s3):
    direct = direct_client(s3).head_object(Bucket="demo", Key="files/data.bin")
    s3.clear()
    r = unsigned_client(proxy.url).head_object(Bucket="demo", Key="files/data.bin")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ContentLength"] == direct["ContentLength"] == len(DEMO_OBJECTS["files/data.bin"])
    assert r["ETag"] == direct["ETag"]
    assert r["LastModified"] == direct["LastModified"]
    assert_streamed(s3.requests(), "HEAD")


def test_boto3_get_object_if_none_match_raises_304(proxy, s3):
    etag = direct_client(s3).head_object(Bucket="demo", Key="files/data.bin")["ETag"]
    s3.clear()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        unsigned_client(proxy.url).get_object(Bucket="demo", Key="files/data.bin",
                                              IfNoneMatch=etag)
    assert info.value.response["Error"]["Code"] == "304"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    seen = s3.requests()
    assert_streamed(seen)
    assert seen[0]["headers"]["if-none-match"] == etag
    assert seen[0]["status"] == 304


def test_boto3_download_file_of_24_mib_uses_parallel_ranged_gets(
        proxy, s3, seeded, workdir):
    target = os.path.join(workdir, "big.bin")
    s3.clear()
    unsigned_client(proxy.url).download_file("demo", BIG_KEY, target)
    with open(target, "rb") as f:
        got = f.read()
    assert len(got) == BIG_SIZE
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(seeded).hexdigest()
    seen = object_requests(s3.requests(), "demo", BIG_KEY)
    heads = [x for x in seen if x["method"] == "HEAD"]
    gets = [x for x in seen if x["method"] == "GET"]
    assert len(heads) == 1
    assert_streamed(heads, "HEAD")
    assert_streamed(gets)
    ranges = sorted(x["headers"].get("range", "") for x in gets)
    assert len(gets) >= 3 and all(r.startswith("bytes=") for r in ranges), ranges
    # the ranges cover the object exactly once (s3transfer leaves the last
    # one open-ended: "bytes=16777216-")
    spans = sorted((int(first), int(last or BIG_SIZE - 1)) for first, last in
                   (r[len("bytes="):].split("-") for r in ranges))
    assert spans[0][0] == 0 and spans[-1][1] == BIG_SIZE - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:])), spans


def test_boto3_list_objects_v2_paginator_returns_1100_keys(proxy):
    pages = unsigned_client(proxy.url).get_paginator("list_objects_v2").paginate(
        Bucket="demo", Prefix="listing/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert len(keys) == LISTING_COUNT
    assert sorted(keys) == sorted(listing_objects())


def test_boto3_list_objects_v1_paginator_returns_1100_keys(proxy):
    pages = unsigned_client(proxy.url).get_paginator("list_objects").paginate(
        Bucket="demo", Prefix="listing/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert len(keys) == LISTING_COUNT
    assert sorted(keys) == sorted(listing_objects())


# --------------------------------------------------------------------------
# what streamed requests carry, both ways
# --------------------------------------------------------------------------

def test_streamed_request_carries_only_signed_and_conditional_headers(proxy, s3):
    direct = direct_client(s3).head_object(
        Bucket="demo", Key="files/data.bin")["ResponseMetadata"]["HTTPHeaders"]
    s3.clear()
    r = requests.get(f"{proxy.url}/demo/files/data.bin", timeout=10,
                     allow_redirects=False, headers={
                         "User-Agent": "aws-sdk-go/1.44.0 (go1.21; linux; amd64)",
                         "Range": "bytes=10-19",
                         "If-Match": direct["etag"],
                         "If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT",
                         "Authorization": "AWS4-HMAC-SHA256 Credential=EVIL/x",
                         "X-Amz-Security-Token": "evil",
                         "X-Amz-Date": "19990101T000000Z",
                         "X-Amz-Meta-Evil": "1",
                         "Cookie": "session=1",
                         "X-Forwarded-For": "203.0.113.9",
                     })
    assert r.status_code == 206, r.text
    assert r.content == DEMO_OBJECTS["files/data.bin"][10:20]
    # the response keeps what clients need to resume and revalidate
    assert r.headers["Content-Length"] == "10"
    assert r.headers["Content-Range"] == "bytes 10-19/65536"
    assert r.headers["ETag"] == direct["etag"]
    assert r.headers["Last-Modified"] == direct["last-modified"]
    assert not [h for h in r.headers if h.lower().startswith("x-amz-")]
    seen = s3.requests()
    assert_streamed(seen)
    assert set(seen[0]["headers"]) == SIGNED_HEADERS | {"range", "if-match",
                                                        "if-modified-since"}
    assert seen[0]["headers"]["if-match"] == direct["etag"]
    assert "EVIL" not in seen[0]["headers"]["authorization"]


def test_streamed_head_keeps_length_etag_and_last_modified(proxy, s3):
    s3.clear()
    r = requests.head(f"{proxy.url}/demo/files/data.bin", timeout=10,
                      headers={"User-Agent": BOTOCORE_UA}, allow_redirects=False)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(len(DEMO_OBJECTS["files/data.bin"]))
    assert r.headers["ETag"].startswith('"') and r.headers["Last-Modified"]
    assert_streamed(s3.requests(), "HEAD")


# --------------------------------------------------------------------------
# rclone
# --------------------------------------------------------------------------

def assert_rclone_never_refused(proxy, before, s3):
    lines = parsed_access_lines(proxy, before, 1)
    rclone_lines = [x for x in lines if x[2].startswith("rclone/")]
    assert rclone_lines, lines
    assert not [x for x in rclone_lines if x[1] in (400, 403, 405)], rclone_lines
    assert all(x["verified"] and x["auth"] == "header" for x in s3.requests())
    return rclone_lines


def test_rclone_lsf_lists_the_files(proxy, s3, rclone, workdir):
    before = len(access_lines(proxy))
    s3.clear()
    r = rclone_run(rclone, proxy, workdir, "lsf", "px:demo/files")
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    top = {k[len("files/"):] for k in FILES_KEYS if "/" not in k[len("files/"):]}
    assert set(r.stdout.decode().splitlines()) == top | {"nested/"}
    r = rclone_run(rclone, proxy, workdir, "lsf", "-R", "--files-only", "px:demo/files")
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert sorted(r.stdout.decode().splitlines()) == sorted(files_expected())
    lines = assert_rclone_never_refused(proxy, before, s3)
    # rclone first asks whether "files" is an object: a streamed HEAD that
    # S3 answers 404, which tells rclone it is a directory
    assert ("HEAD /demo/files HTTP/1.1", 404) in [(x[0], x[1]) for x in lines]


def test_rclone_copy_downloads_byte_for_byte_and_again_copies_nothing(
        proxy, s3, rclone, workdir):
    target = os.path.join(workdir, "dir")
    before = len(access_lines(proxy))
    s3.clear()
    r = rclone_run(rclone, proxy, workdir, "copy", "px:demo/files", target)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert files_under(target) == files_expected()
    gets = [x for x in s3.requests() if x["method"] == "GET" and x["path"] != "/demo"]
    assert sorted(x["path"] for x in gets) == sorted(
        object_path("demo", k) for k in FILES_KEYS)
    assert_streamed(gets)
    assert_rclone_never_refused(proxy, before, s3)

    s3.clear()
    r = rclone_run(rclone, proxy, workdir, "copy", "px:demo/files", target)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert not [x for x in s3.requests() if x["method"] == "GET" and x["path"] != "/demo"]
    assert files_under(target) == files_expected()


# --------------------------------------------------------------------------
# s3_proxy_stream_agents
# --------------------------------------------------------------------------

def test_stream_agents_off_redirects_boto3_and_streams_nothing(s3, make_nginx):
    nginx = make_nginx(s3_environment(s3),
                       locations=location_block("s3_proxy_stream_agents off;"))
    s3.clear()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        unsigned_client(nginx.url).get_object(Bucket="demo", Key="files/hello.txt")
    response = info.value.response
    assert response["Error"]["Code"] == "307"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 307
    assert response["ResponseMetadata"]["HTTPHeaders"]["location"].startswith(
        s3.endpoint + "/demo/files/hello.txt?")
    # botocore takes the 307 for a region redirect and asks HeadBucket; the
    # object itself never reached S3
    assert object_requests(s3.requests(), "demo", "files/hello.txt") == []


def test_stream_agents_list_streams_that_tool_and_redirects_boto3(s3, make_nginx):
    nginx = make_nginx(s3_environment(s3),
                       locations=location_block("s3_proxy_stream_agents MyTool;"))
    url = f"{nginx.url}/demo/files/hello.txt"
    s3.clear()
    r = requests.get(url, headers={"User-Agent": "mytool/1.0"}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 200 and r.content == DEMO_OBJECTS["files/hello.txt"]
    assert_streamed(s3.requests())
    s3.clear()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        unsigned_client(nginx.url).get_object(Bucket="demo", Key="files/hello.txt")
    assert info.value.response["Error"]["Code"] == "307"
    assert object_requests(s3.requests(), "demo", "files/hello.txt") == []


# --------------------------------------------------------------------------
# read-only and allowlists apply to streamed requests
# --------------------------------------------------------------------------

def test_bucket_outside_the_allowlist_is_403_for_boto3_and_reaches_nothing(
        s3, seeded, proxy, make_nginx):
    # the control: without an allowlist the other bucket streams to boto3
    r = unsigned_client(proxy.url).get_object(Bucket=OTHER_BUCKET, Key="x.txt")
    assert r["Body"].read() == OTHER_OBJECT
    nginx = make_nginx(s3_environment(s3),
                       locations=location_block("s3_proxy_buckets demo;"))
    client = unsigned_client(nginx.url)
    for operation in ("get_object", "head_object"):
        s3.clear()
        with pytest.raises(botocore.exceptions.ClientError) as info:
            getattr(client, operation)(Bucket=OTHER_BUCKET, Key="x.txt")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert s3.requests() == []
    # the allowed bucket still streams
    s3.clear()
    r = client.get_object(Bucket="demo", Key="files/hello.txt")
    assert r["Body"].read() == DEMO_OBJECTS["files/hello.txt"]
    assert_streamed(s3.requests())


@pytest.mark.parametrize("operation,kwargs", [
    ("put_object", {"Body": b"overwritten"}),
    ("delete_object", {}),
])
def test_boto3_writes_get_405_and_reach_nothing(proxy, s3, operation, kwargs):
    s3.clear()
    # a fresh client, closed at once: see the keep-alive test below
    client = unsigned_client(proxy.url)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        getattr(client, operation)(Bucket="demo", Key="files/hello.txt", **kwargs)
    client.close()
    # S3's own error, which botocore parses
    assert info.value.response["Error"]["Code"] == "MethodNotAllowed"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert s3.requests() == []
    body = direct_client(s3).get_object(Bucket="demo", Key="files/hello.txt")["Body"]
    assert body.read() == DEMO_OBJECTS["files/hello.txt"]


# Found by this suite: a refusal kept the connection alive although the
# client had announced a body it would never send (Expect: 100-continue),
# so nginx ate the next request as that body.
def test_boto3_client_keeps_working_after_a_refused_put(proxy, s3):
    client = unsigned_client(proxy.url, retries={"max_attempts": 1})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.put_object(Bucket="demo", Key="files/hello.txt", Body=b"overwritten")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    r = client.get_object(Bucket="demo", Key="files/hello.txt")
    assert r["Body"].read() == DEMO_OBJECTS["files/hello.txt"]


def test_boto3_get_object_with_version_id_is_501_unless_allowed(s3, proxy, make_nginx):
    """An S3 client is told NotImplemented, as S3 says, in its XML."""
    s3.clear()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        unsigned_client(proxy.url).get_object(Bucket="demo", Key="files/hello.txt",
                                              VersionId="null")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert info.value.response["Error"]["Code"] == "NotImplemented"
    assert s3.requests() == []

    nginx = make_nginx(s3_environment(s3),
                       locations=location_block("s3_proxy_allow_params versionId;"))
    s3.clear()
    r = unsigned_client(nginx.url).get_object(Bucket="demo", Key="files/hello.txt",
                                              VersionId="null")
    assert r["Body"].read() == DEMO_OBJECTS["files/hello.txt"]
    seen = s3.requests()
    assert_streamed(seen)
    assert seen[0]["query"] == "versionId=null"

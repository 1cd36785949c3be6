"""Real clients against the proxy: the aws CLI, the documented bash
download pipeline, boto3 and curl, plus the settings that change what the
clients see (session token, external host, expiry)."""

import json
import os
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

from harness import client_env, S3Server, s3_environment
from s3server import DEMO_OBJECTS, LISTING_COUNT, listing_objects

SESSION_TOKEN = "FQoGZXIvYXdzE//token+with/slashes=="

FILES_KEYS = sorted(k for k in DEMO_OBJECTS if k.startswith("files/"))
# Keys under files/ that a raw, unencoded curl URL cannot reach.
RAW_URL_BREAKERS = {
    "files/with space.txt",   # curl: a space is not allowed in a URL (exit 3)
    "files/100% sure.txt",    # same, and a raw "% s" is not an escape either
    "files/hash#tag.txt",     # curl cuts the URL at '#' (a fragment)
    "files/question?.txt",    # curl sends ".txt" as the query
}
RAW_URL_SAFE_KEYS = [k for k in FILES_KEYS if k not in RAW_URL_BREAKERS]

# The seed's documented workaround, verbatim but for the prefix.
DOCUMENTED_PIPELINE = (
    "aws s3api list-objects-v2 --no-sign-request --endpoint-url $PROXY "
    "--bucket demo --prefix {prefix} | jq -r '.Contents[].Key' | "
    "xargs -I{{}} curl --silent --fail --location --create-dirs "
    "--output \"out/{{}}\" \"$PROXY/demo/{{}}\""
)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="s3p-client-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def aws(proxy_url, home, *args):
    r = subprocess.run(["aws", "s3api", *args, "--no-sign-request",
                        "--endpoint-url", proxy_url, "--output", "json"],
                       env=client_env(home), cwd=home, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else {}


def bash(script, home, proxy_url):
    return subprocess.run(["bash", "-c", script], cwd=home,
                          env=client_env(home, PROXY=proxy_url),
                          capture_output=True, text=True, timeout=60)


def downloaded(home):
    """{key: bytes} of everything under home/out."""
    out = os.path.join(home, "out")
    files = {}
    for root, _dirs, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, out)] = f.read()
    return files


def curl(*args):
    return subprocess.run(["curl", "--silent", "--show-error", *args],
                          capture_output=True, timeout=30)


def access_log_lines(nginx):
    with open(nginx.access_log, errors="replace") as f:
        return f.read().splitlines()


def new_access_lines(nginx, before, count, timeout=3.0):
    """The access log lines after the first `before`, once there are at
    least `count` of them (nginx logs after it has sent the response, so a
    fast client can be ahead of the log), plus any straggler."""
    deadline = time.monotonic() + timeout
    while True:
        lines = access_log_lines(nginx)[before:]
        if len(lines) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    time.sleep(0.1)
    return access_log_lines(nginx)[before:]


def request_lines(lines):
    """'METHOD /target' of each access log line."""
    return [line.split('"')[1].rsplit(" ", 1)[0] for line in lines]


def query_of(location):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def unsigned_s3_client(proxy_url):
    return boto3.session.Session().client(
        "s3", endpoint_url=proxy_url, region_name="us-east-1",
        aws_access_key_id=None, aws_secret_access_key=None,
        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"},
                                      connect_timeout=5, read_timeout=10))


@pytest.fixture(scope="module")
def token_s3():
    server = S3Server(session_token=SESSION_TOKEN)
    yield server
    server.stop()


# --------------------------------------------------------------------------
# aws CLI
# --------------------------------------------------------------------------

def test_aws_cli_list_objects_v2_paginates_all_1100_keys(proxy, workdir):
    listing = aws(proxy.url, workdir, "list-objects-v2", "--bucket", "demo",
                  "--prefix", "listing/")
    keys = [o["Key"] for o in listing["Contents"]]
    assert len(keys) == LISTING_COUNT
    assert sorted(keys) == sorted(listing_objects())


def test_aws_cli_list_objects_v2_decodes_awkward_keys(proxy, workdir):
    listing = aws(proxy.url, workdir, "list-objects-v2", "--bucket", "demo",
                  "--prefix", "files/")
    assert sorted(o["Key"] for o in listing["Contents"]) == FILES_KEYS
    sizes = {o["Key"]: o["Size"] for o in listing["Contents"]}
    assert sizes == {k: len(DEMO_OBJECTS[k]) for k in FILES_KEYS}
    # the CLI asked for url-encoded keys and decoded them itself
    assert any("encoding-type=url" in line and "prefix=files%2F" in line
               for line in access_log_lines(proxy))


def test_aws_cli_list_objects_v1_paginates_all_1100_keys(proxy, workdir):
    listing = aws(proxy.url, workdir, "list-objects", "--bucket", "demo",
                  "--prefix", "listing/")
    keys = [o["Key"] for o in listing["Contents"]]
    assert sorted(keys) == sorted(listing_objects())


def test_aws_cli_list_objects_v1_decodes_awkward_keys(proxy, workdir):
    listing = aws(proxy.url, workdir, "list-objects", "--bucket", "demo",
                  "--prefix", "files/")
    assert sorted(o["Key"] for o in listing["Contents"]) == FILES_KEYS


# --------------------------------------------------------------------------
# the documented bash download pipeline
# --------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["docs/", "files/nested/"])
def test_documented_pipeline_downloads_prefix_without_awkward_keys(
        proxy, workdir, prefix):
    r = bash(DOCUMENTED_PIPELINE.format(prefix=prefix), workdir, proxy.url)
    assert r.returncode == 0, r.stderr
    expected = {k: v for k, v in DEMO_OBJECTS.items() if k.startswith(prefix)}
    assert expected and downloaded(workdir) == expected


def test_documented_pipeline_on_files_misses_exactly_the_keys_curl_cannot_parse(
        proxy, workdir):
    """The workaround as documented, on files/: every key curl can take
    raw arrives byte for byte; the four keys with a space, '%', '#' or '?'
    do not (xargs reports that a curl failed: exit 123)."""
    r = bash(DOCUMENTED_PIPELINE.format(prefix="files/"), workdir, proxy.url)
    assert r.returncode == 123, (r.returncode, r.stderr)
    got = downloaded(workdir)
    assert got == {k: DEMO_OBJECTS[k] for k in RAW_URL_SAFE_KEYS}


@pytest.mark.parametrize("key,curl_exit,reached", [
    # curl refuses the URL itself: nothing is sent
    ("files/with space.txt", 3, None),
    ("files/100% sure.txt", 3, None),
    # curl drops "#tag.txt" as a fragment: asks for a key that does not
    # exist, redirected, then S3 answers 404
    ("files/hash#tag.txt", 22, "GET /demo/files/hash"),
    # curl sends "?.txt" as a query: objects take no parameters, so the
    # proxy refuses with 403
    ("files/question?.txt", 22, "GET /demo/files/question?.txt"),
])
def test_raw_curl_url_breaks_on_awkward_key(proxy, workdir, key, curl_exit,
                                             reached):
    before = len(access_log_lines(proxy))
    r = curl("--fail", "--location", "--output", os.path.join(workdir, "x"),
             f"{proxy.url}/demo/{key}")
    assert r.returncode == curl_exit, r.stderr
    lines = new_access_lines(proxy, before, 0 if reached is None else 1)
    if reached is None:
        assert lines == []
    else:
        assert request_lines(lines) == [reached]
        expected_status = 403 if "?" in key else 307
        assert f'" {expected_status} ' in lines[0]


def test_pipeline_with_jq_uri_encoding_downloads_every_key_byte_for_byte(
        proxy, workdir):
    """Each key is passed twice: raw for the output file, @uri-encoded for
    the URL ('/' becomes %2F, which the proxy decodes back)."""
    script = (
        "aws s3api list-objects-v2 --no-sign-request --endpoint-url $PROXY "
        "--bucket demo --prefix files/ "
        "| jq -j '.Contents[].Key | (., \"\\u0000\", @uri, \"\\u0000\")' "
        "| xargs -0 -n2 sh -c 'curl --silent --fail --location --create-dirs "
        "--output \"out/$1\" \"$PROXY/demo/$2\"' sh"
    )
    r = bash(script, workdir, proxy.url)
    assert r.returncode == 0, r.stderr
    assert downloaded(workdir) == {k: DEMO_OBJECTS[k] for k in FILES_KEYS}


def test_documented_pipeline_with_only_uri_added_downloads_every_key(
        proxy, workdir):
    """The one-word change `'.Contents[].Key | @uri'` fetches every key;
    the files are then saved under their encoded names (flat, %2F)."""
    script = DOCUMENTED_PIPELINE.format(prefix="files/").replace(
        "'.Contents[].Key'", "'.Contents[].Key | @uri'")
    r = bash(script, workdir, proxy.url)
    assert r.returncode == 0, r.stderr
    got = {urllib.parse.unquote(name): data
           for name, data in downloaded(workdir).items()}
    assert got == {k: DEMO_OBJECTS[k] for k in FILES_KEYS}


# --------------------------------------------------------------------------
# boto3, unsigned
# --------------------------------------------------------------------------

def test_boto3_list_objects_v2_paginator_returns_1100_keys(proxy):
    client = unsigned_s3_client(proxy.url)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket="demo", Prefix="listing/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert len(keys) == LISTING_COUNT
    assert sorted(keys) == sorted(listing_objects())


def test_boto3_list_objects_v1_with_delimiter_returns_common_prefixes(proxy):
    client = unsigned_s3_client(proxy.url)
    r = client.list_objects(Bucket="demo", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["docs/", "files/", "listing/"]
    assert [o["Key"] for o in r["Contents"]] == ["index.html"]


def test_boto3_list_objects_v2_decodes_awkward_keys(proxy):
    client = unsigned_s3_client(proxy.url)
    r = client.list_objects_v2(Bucket="demo", Prefix="files/")
    assert sorted(o["Key"] for o in r["Contents"]) == FILES_KEYS


def test_boto3_get_object_of_index_page_is_proxied(proxy):
    client = unsigned_s3_client(proxy.url)
    r = client.get_object(Bucket="demo", Key="docs/index.html")
    assert r["Body"].read() == DEMO_OBJECTS["docs/index.html"]


def test_boto3_get_object_is_streamed_through_the_proxy(proxy, s3):
    """SDK User-Agents (botocore/, boto3/, ...) get objects proxied, since
    they cannot follow a 307 (s3_proxy_stream_agents' default)."""
    client = unsigned_s3_client(proxy.url)
    s3.clear()
    r = client.get_object(Bucket="demo", Key="files/data.bin")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["Body"].read() == DEMO_OBJECTS["files/data.bin"]
    part = client.get_object(Bucket="demo", Key="files/data.bin", Range="bytes=0-9")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["Body"].read() == DEMO_OBJECTS["files/data.bin"][:10]
    head = client.head_object(Bucket="demo", Key="files/ünïcødé.txt")
    assert head["ContentLength"] == len(DEMO_OBJECTS["files/ünïcødé.txt"])
    seen = s3.requests()
    assert [(x["method"], x["auth"], x["verified"], x["status"]) for x in seen] == [
        ("GET", "header", True, 200), ("GET", "header", True, 206),
        ("HEAD", "header", True, 200)]


@pytest.mark.parametrize("key", FILES_KEYS)
def test_boto3_get_object_of_awkward_key_byte_for_byte(proxy, key):
    client = unsigned_s3_client(proxy.url)
    assert client.get_object(Bucket="demo", Key=key)["Body"].read() == DEMO_OBJECTS[key]


@pytest.mark.parametrize("operation", ["get_object", "head_object"])
def test_boto3_does_not_follow_the_307_when_streaming_is_off(
        s3, make_nginx, operation):
    """The redirect gap, with `s3_proxy_stream_agents off`: botocore takes
    the 307 for a wrong-region answer and asks HeadBucket (HEAD /demo) for
    the bucket's region.  If it learns one it sends the request once more
    and gets the same 307; either way it then raises ClientError '307'.
    S3 never sees a request for the object itself; the Location the error
    carries still works."""
    nginx = make_nginx(s3_environment(s3), locations="""
        location / {
            s3_proxy on;
            s3_proxy_stream_agents off;
            include s3_proxy.conf;
        }
""")
    client = unsigned_s3_client(nginx.url)
    method = "GET" if operation == "get_object" else "HEAD"
    s3.clear()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        getattr(client, operation)(Bucket="demo", Key="files/hello.txt")
    response = info.value.response
    assert response["Error"] == {"Code": "307", "Message": "Temporary Redirect"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 307
    location = response["ResponseMetadata"]["HTTPHeaders"]["location"]
    assert location.startswith(s3.endpoint + "/demo/files/hello.txt?")
    lines = new_access_lines(nginx, 0, 2)
    seen = request_lines(lines)
    assert seen[:2] == [f"{method} /demo/files/hello.txt", "HEAD /demo"], seen
    assert seen[2:] in ([], [f"{method} /demo/files/hello.txt"]), seen
    assert all('" 307 ' in line for i, line in enumerate(lines) if i != 1)
    # S3 only answered the region probe
    assert [(x["method"], x["path"]) for x in s3.requests()] == [("HEAD", "/demo")]
    # following the redirect by hand is what boto3 would have had to do
    followed = requests.request(method, location, timeout=10)
    assert followed.status_code == 200
    assert int(followed.headers["Content-Length"]) == len(DEMO_OBJECTS["files/hello.txt"])


# --------------------------------------------------------------------------
# curl -L
# --------------------------------------------------------------------------

def test_curl_follows_redirect_and_gets_the_bytes(proxy, workdir):
    out = os.path.join(workdir, "data.bin")
    r = curl("--location", "--output", out, "--write-out",
             "%{http_code} %{num_redirects}", f"{proxy.url}/demo/files/data.bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "200 1"
    with open(out, "rb") as f:
        assert f.read() == DEMO_OBJECTS["files/data.bin"]


def test_curl_head_follows_redirect_to_s3(proxy, s3):
    s3.clear()
    r = curl("--location", "--head", f"{proxy.url}/demo/files/data.bin")
    assert r.returncode == 0, r.stderr
    blocks = [b for b in r.stdout.decode().split("\r\n\r\n") if b.strip()]
    assert len(blocks) == 2
    assert blocks[0].startswith("HTTP/1.1 307")
    assert blocks[1].startswith("HTTP/1.1 200")
    headers = dict(line.split(": ", 1) for line in blocks[1].splitlines()[1:])
    headers = {k.lower(): v for k, v in headers.items()}
    assert int(headers["content-length"]) == len(DEMO_OBJECTS["files/data.bin"])
    seen = s3.requests()
    assert [(x["method"], x["auth"], x["verified"]) for x in seen] == [
        ("HEAD", "presigned", True)]


def test_curl_range_through_redirect_gets_206(proxy, workdir):
    out = os.path.join(workdir, "part")
    r = curl("--location", "--range", "0-9", "--output", out, "--write-out",
             "%{http_code}", f"{proxy.url}/demo/files/data.bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "206"
    with open(out, "rb") as f:
        assert f.read() == DEMO_OBJECTS["files/data.bin"][:10]


def test_curl_if_none_match_gets_304_from_s3(proxy, s3):
    location = requests.get(proxy.url + "/demo/files/data.bin",
                            allow_redirects=False, timeout=10).headers["Location"]
    # the Location is signed for GET only
    etag = requests.get(location, timeout=10).headers["ETag"]
    assert etag.startswith('"')
    s3.clear()
    r = curl("--location", "--header", f"If-None-Match: {etag}", "--output",
             "/dev/null", "--write-out", "%{http_code} %{num_redirects}",
             f"{proxy.url}/demo/files/data.bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "304 1"
    seen = s3.requests()
    assert [(x["status"], x["headers"].get("if-none-match")) for x in seen] == [
        (304, etag)]


# --------------------------------------------------------------------------
# session token
# --------------------------------------------------------------------------

def test_session_token_is_signed_into_the_presigned_url(token_s3, make_nginx):
    nginx = make_nginx(s3_environment(token_s3))
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    query = query_of(r.headers["Location"])
    assert query["X-Amz-Security-Token"] == SESSION_TOKEN
    token_s3.clear()
    body = requests.get(r.headers["Location"], timeout=10)
    assert body.status_code == 200, body.text
    assert body.content == DEMO_OBJECTS["files/hello.txt"]
    seen = token_s3.requests()
    assert [(x["auth"], x["verified"]) for x in seen] == [("presigned", True)]


@pytest.mark.parametrize("path", ["/demo/docs/", "/demo?list-type=2&prefix=docs/"])
def test_session_token_header_is_signed_for_proxied_requests(
        token_s3, make_nginx, path):
    nginx = make_nginx(s3_environment(token_s3))
    token_s3.clear()
    r = requests.get(nginx.url + path, timeout=10)
    assert r.status_code == 200, r.text
    if "?" not in path:
        assert r.content == DEMO_OBJECTS["docs/index.html"]
    else:
        assert "<Key>docs/guide.txt</Key>" in r.text
    seen = token_s3.requests()
    assert len(seen) == 1 and seen[0]["verified"], seen
    assert seen[0]["headers"]["x-amz-security-token"] == SESSION_TOKEN
    signed = seen[0]["headers"]["authorization"].split("SignedHeaders=")[1]
    assert "x-amz-security-token" in signed.split(",")[0].split(";")


def test_without_session_token_s3_refuses_redirects_and_proxied_pages(
        token_s3, make_nginx):
    nginx = make_nginx(s3_environment(token_s3, AWS_SESSION_TOKEN=None))
    token_s3.clear()
    page = requests.get(nginx.url + "/demo/docs/index.html", timeout=10)
    assert page.status_code == 403
    listing = requests.get(nginx.url + "/demo?prefix=docs/", timeout=10)
    assert listing.status_code == 403
    redirect = requests.get(nginx.url + "/demo/files/hello.txt",
                            allow_redirects=False, timeout=10)
    assert redirect.status_code == 307
    assert "X-Amz-Security-Token" not in query_of(redirect.headers["Location"])
    assert requests.get(redirect.headers["Location"], timeout=10).status_code == 403
    seen = token_s3.requests()
    assert len(seen) == 3
    assert all(x["status"] == 403 and not x["verified"]
               and x["error"].startswith("InvalidToken") for x in seen), seen


# --------------------------------------------------------------------------
# AWS_ENDPOINT_HOST_EXTERNAL and s3_proxy_expires
# --------------------------------------------------------------------------

def test_external_host_is_in_location_and_signed(s3, make_nginx):
    external = f"localhost:{s3.port}"
    nginx = make_nginx(s3_environment(s3, AWS_ENDPOINT_HOST_EXTERNAL=external))
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    url = urllib.parse.urlsplit(r.headers["Location"])
    assert (url.scheme, url.netloc) == ("http", external)
    s3.clear()
    body = requests.get(r.headers["Location"], timeout=10)
    assert body.status_code == 200, body.text
    assert body.content == DEMO_OBJECTS["files/hello.txt"]
    # proxied requests still go to the internal host
    page = requests.get(nginx.url + "/demo/docs/", timeout=10)
    assert page.status_code == 200
    seen = s3.requests()
    assert [(x["headers"]["host"], x["auth"], x["verified"]) for x in seen] == [
        (external, "presigned", True), (s3.host, "header", True)]


def test_s3_proxy_expires_sets_x_amz_expires(s3, make_nginx):
    nginx = make_nginx(s3_environment(s3), locations="""
        location / {
            s3_proxy on;
            s3_proxy_expires 60s;
            include s3_proxy.conf;
        }
""")
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    assert query_of(r.headers["Location"])["X-Amz-Expires"] == "60"
    assert requests.get(r.headers["Location"], timeout=10).status_code == 200

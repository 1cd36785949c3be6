"""proxy_cache in front of S3: index pages, XML listings, built-in listings
and streamed objects are cached and served correctly, for GET and HEAD.
The location is the recipe of docs/caching.md, with short validity.

Each test asserts what the client got (the X-Cache header is
$upstream_cache_status) and what reached S3 (the stand-in,
demo/s3server.py, records every request and checks its signature)."""

import concurrent.futures
import glob
import json
import os
import re
import shutil
import tempfile
import time
import urllib.request

import boto3
import botocore
import botocore.config
import pytest
import requests

from harness import ACCESS_KEY, REGION, SECRET_KEY, s3_environment, wait_until
from s3server import DEMO_OBJECTS

SDK_UA = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"
VALID = 2  # seconds: proxy_cache_valid of the recipe, shortened

# The recipe of docs/caching.md, with the cache in a temporary directory.
CACHE_LOCATIONS = """
        location / {
            s3_proxy on;
            s3_proxy_listing on;
            include s3_proxy.conf;

            proxy_cache            s3;
            proxy_cache_valid      200 404 %(valid)ds;
            proxy_cache_use_stale  error timeout updating
                                   http_500 http_502 http_503 http_504;
            proxy_cache_background_update on;
            proxy_cache_lock       on;
            add_header             X-Cache $upstream_cache_status always;
        }
"""


@pytest.fixture
def cached(s3, make_nginx):
    cache = tempfile.mkdtemp(prefix="s3p-cache-")
    os.chmod(cache, 0o777)
    http_extra = (f"proxy_cache_path {cache} levels=1:2 keys_zone=s3:1m "
                  f"max_size=64m inactive=1h use_temp_path=off;")
    nginx = make_nginx(s3_environment(s3), start=False, http_extra=http_extra,
                       locations=CACHE_LOCATIONS % {"valid": VALID})
    os.chmod(nginx.prefix, 0o755)  # workers write the cache as nobody
    nginx.start()
    nginx.cache = cache
    s3.clear()
    yield nginx
    shutil.rmtree(cache, ignore_errors=True)


def get(nginx, path, method="GET", ua=None, **headers):
    if ua:
        headers["User-Agent"] = ua
    return requests.request(method, nginx.url + path, headers=headers,
                            allow_redirects=False, timeout=30)


def seen(s3):
    """(method, path?query) of what reached S3, each verified."""
    records = s3.requests()
    assert all(r["verified"] for r in records), records
    return [(r["method"], r["path"] + ("?" + r["query"] if r["query"] else ""))
            for r in records]


def inject(s3, path, status, code, times=1):
    body = json.dumps({"path": path, "status": status, "code": code,
                       "times": times}).encode()
    urllib.request.urlopen(urllib.request.Request(
        s3.endpoint + "/__s3server/faults", data=body, method="POST")).read()


def clear_faults(s3):
    urllib.request.urlopen(urllib.request.Request(
        s3.endpoint + "/__s3server/faults", method="DELETE")).read()


def direct_client(s3):
    return boto3.session.Session().client(
        "s3", endpoint_url=s3.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "path"}))


def test_index_page_is_cached(cached, s3):
    first, second = get(cached, "/demo/"), get(cached, "/demo/")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["X-Cache"] == "MISS" and second.headers["X-Cache"] == "HIT"
    assert first.content == second.content == DEMO_OBJECTS["index.html"]
    assert seen(s3) == [("GET", "/demo/index.html")]


def test_xml_listing_is_cached_for_sdks(cached, s3):
    client = boto3.session.Session().client(
        "s3", endpoint_url=cached.url, region_name="us-east-1",
        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"}))
    answers = [client.list_objects_v2(Bucket="demo", Prefix="docs/") for _ in range(3)]
    keys = [[o["Key"] for o in a["Contents"]] for a in answers]
    assert keys[0] == keys[1] == keys[2] == ["docs/guide.txt", "docs/index.html"]
    statuses = [a["ResponseMetadata"]["HTTPHeaders"]["x-cache"] for a in answers]
    assert statuses == ["MISS", "HIT", "HIT"]
    assert len(seen(s3)) == 1


def test_built_in_listing_is_cached(cached, s3):
    first, second = get(cached, "/demo/files/"), get(cached, "/demo/files/")
    for answer in (first, second):
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "hello.txt" in answer.text and "nested/" in answer.text
        assert "Content-Security-Policy" in answer.headers
    assert first.text == second.text
    # S3 answered the index page's 404 and the listing once each; the
    # second request found both in the cache
    assert seen(s3) == [
        ("GET", "/demo/files/index.html"),
        ("GET", "/demo?delimiter=%2F&list-type=2&prefix=files%2F"),
    ]
    assert second.headers["X-Cache"] == "HIT"


def test_head_of_a_miss_is_signed_as_the_get_nginx_sends(cached, s3):
    for path, ua in [("/demo/files/data.bin", SDK_UA), ("/demo/docs/", None),
                     ("/demo/files/nested/", None)]:
        head = get(cached, path, method="HEAD", ua=ua)
        assert head.status_code == 200, (path, head.status_code)
        assert head.headers["X-Cache"] == "MISS"
        full = get(cached, path, ua=ua)
        assert full.status_code == 200 and full.headers["X-Cache"] == "HIT"
        if path.endswith(".bin"):
            assert head.headers["Content-Length"] == str(len(DEMO_OBJECTS["files/data.bin"]))
            assert full.content == DEMO_OBJECTS["files/data.bin"]
        again = get(cached, path, method="HEAD", ua=ua)
        assert again.status_code == 200 and again.headers["X-Cache"] == "HIT"
    # proxy_cache fetched each HEAD of a miss as a GET, signed as one
    assert {method for method, _ in seen(s3)} == {"GET"}
    assert all(r["status"] in (200, 404) for r in s3.requests())


def test_ranges_and_conditionals_are_answered_from_the_cache(cached, s3):
    data = DEMO_OBJECTS["files/data.bin"]
    part = get(cached, "/demo/files/data.bin", ua=SDK_UA, Range="bytes=100-199")
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    # S3 got no Range: the whole object was fetched, and cached for everyone
    [record] = s3.requests()
    assert "range" not in record["headers"]
    full = get(cached, "/demo/files/data.bin", ua=SDK_UA)
    assert full.status_code == 200 and full.content == data
    assert full.headers["X-Cache"] == "HIT"
    later = get(cached, "/demo/files/data.bin", ua=SDK_UA, Range="bytes=-10")
    assert later.status_code == 206 and later.content == data[-10:]
    etag = full.headers["ETag"]
    same = get(cached, "/demo/files/data.bin", ua=SDK_UA, **{"If-None-Match": etag})
    assert same.status_code == 304
    assert len(s3.requests()) == 1


def test_cache_key_is_the_method_and_the_s3_url(cached, s3):
    get(cached, "/demo/files/hello.txt", ua=SDK_UA)
    # another spelling of the same key, another client Authorization
    again = get(cached, "/demo/files/%68ello.txt", ua=SDK_UA,
                Authorization="AWS4-HMAC-SHA256 Credential=someone-else")
    assert again.headers["X-Cache"] == "HIT"
    keys = []
    for path in glob.glob(os.path.join(cached.cache, "*", "*", "*")):
        with open(path, "rb") as f:
            head = f.read(4096)
        keys.append(head.split(b"\nKEY: ", 1)[1].split(b"\n", 1)[0].decode())
    # the URL proxy_pass fetches: an endpoint with a port of its own is
    # named there as its upstream, "<host>_<port>" (a host name holds no
    # "_", so no other endpoint's key can be the same), then the region,
    # the credentials' identity (their source, a hash; never the secret)
    # and what the client gets of S3's answer (an S3 client's object)
    host, port = s3.endpoint.rsplit(":", 1)
    [key] = keys
    url, region, identity, variant = key.removeprefix("GET ").split(" ")
    assert (url, region, variant) == (f"{host}_{port}/demo/files/hello.txt", REGION, "s3")
    assert re.fullmatch(r"env:[0-9a-f]{12}", identity), identity
    assert len(s3.requests()) == 1


def test_expired_entries_are_refetched_and_stale_ones_serve_when_s3_fails(cached, s3):
    bucket, key = "s3p-cache-test", "changing.txt"
    path = f"/{bucket}/{key}"
    client = direct_client(s3)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=key, Body=b"version 1\n")
    s3.clear()
    assert get(cached, path, ua=SDK_UA).content == b"version 1\n"
    client.put_object(Bucket=bucket, Key=key, Body=b"version 2\n")
    assert get(cached, path, ua=SDK_UA).content == b"version 1\n"

    # purged by expiry: a later request refetches (with
    # proxy_cache_background_update the stale copy answers meanwhile)
    statuses = set()
    deadline = time.monotonic() + VALID + 15
    while True:
        answer = get(cached, path, ua=SDK_UA)
        assert answer.content in (b"version 1\n", b"version 2\n")
        statuses.add(answer.headers["X-Cache"])
        if answer.content == b"version 2\n":
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert statuses & {"EXPIRED", "STALE"}

    # S3 throttling once the entry expired: the stale copy answers.  Hits
    # reach no S3; the first answer that is not a hit comes after expiry.
    inject(s3, path, 503, "SlowDown", times=5)
    try:
        def after_expiry():
            answer = get(cached, path, ua=SDK_UA)
            return [answer] if answer.headers.get("X-Cache") != "HIT" else None
        stale, = wait_until(after_expiry, VALID + 10, "the entry to expire")
        assert stale.status_code == 200 and stale.content == b"version 2\n"
        assert stale.headers["X-Cache"] in ("STALE", "UPDATING", "HIT")
    finally:
        clear_faults(s3)


def test_cache_lock_sends_one_request_to_s3(cached, s3):
    path = "/demo/files/nested/deep/readme.md"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: get(cached, path, ua=SDK_UA), range(8)))
    assert {a.status_code for a in answers} == {200}
    assert {a.content for a in answers} == {DEMO_OBJECTS["files/nested/deep/readme.md"]}
    assert seen(s3) == [("GET", path)]


def test_cached_errors_stay_clean(cached, s3):
    answers = [get(cached, "/demo/files/absent.txt", ua=SDK_UA) for _ in range(2)]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.text.count("<Code>NoSuchKey</Code>") == 1
        assert "RequestId" not in answer.text and "HostId" not in answer.text
    assert [a.headers["X-Cache"] for a in answers] == ["MISS", "HIT"]
    assert len(s3.requests()) == 1

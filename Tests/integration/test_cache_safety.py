"""A cached answer is only served where the same request would be allowed
to fetch it (issue 22).

One nginx, one cache zone, two locations that sign the same bucket on the
same endpoint with two key pairs: /a/ with the environment's (A), /b/ with
profile "bravo" of the shared credentials file (B).  The S3 stand-in
(demo/s3server.py --key, --deny) refuses B everything under demo/secret/,
as a bucket policy would.  Both locations follow docs/caching.md's recipe.

Each test asserts what the client got (X-Cache is $upstream_cache_status),
what reached S3 (the stand-in's record: path, key pair, status) and what
was logged.
"""

import glob
import os
import shutil
import tempfile
import textwrap
import time

import boto3
import botocore.config
import pytest
import requests

from harness import (ACCESS_KEY, REGION, SECRET_KEY, Nginx, S3Server, s3_environment,
                     wait_until)

B_KEY, B_SECRET = "AKIDBRAVOREFUSED", "bravo-secret/Key+2"
# bravo's keys after a rotation: the same principal, as S3 sees it
C_KEY, C_SECRET = "AKIDBRAVOROTATED", "bravo-rotated/Key+3"
SDK_UA = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"
SECRET_BODY = b"for key pair A only\n"

RECIPE = """
            s3_proxy_listing on;
            include s3_proxy.conf;
            proxy_cache            s3;
            proxy_cache_valid      200 404 10m;
            proxy_cache_use_stale  error timeout updating
                                   http_500 http_502 http_503 http_504;
            proxy_cache_background_update on;
            proxy_cache_lock       on;
            add_header             X-Cache $upstream_cache_status always;
"""

LOCATIONS = """
        location /a/ {
            s3_proxy on;
%(recipe)s
        }
        location /b/ {
            s3_proxy on;
            s3_proxy_credentials profile=bravo;
%(recipe)s
        }
""" % {"recipe": RECIPE}


@pytest.fixture(scope="module")
def s3():
    server = S3Server(seed="demo-small", extra_args=[
        "--key", f"{B_KEY}:{B_SECRET}", "--deny", f"{B_KEY}:/demo/secret/",
        "--key", f"{C_KEY}:{C_SECRET}", "--deny", f"{C_KEY}:/demo/secret/"])
    boto3.client(
        "s3", endpoint_url=server.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    ).put_object(Bucket="demo", Key="secret/x.txt", Body=SECRET_BODY)
    yield server
    server.stop()


@pytest.fixture
def cached(s3):
    """A fresh nginx and an empty cache for each test."""
    home = tempfile.mkdtemp(prefix="s3p-home-")
    cache = os.path.join(home, "cache")
    os.makedirs(os.path.join(home, ".aws"))
    with open(os.path.join(home, ".aws", "credentials"), "w") as f:
        f.write(textwrap.dedent(f"""\
            [bravo]
            aws_access_key_id = {B_KEY}
            aws_secret_access_key = {B_SECRET}
            """))
    for path in (home, cache, os.path.join(home, ".aws")):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o777)
    os.chmod(os.path.join(home, ".aws", "credentials"), 0o644)
    nginx = Nginx(s3_environment(s3, HOME=home), locations=LOCATIONS,
                  http_extra=f"proxy_cache_path {cache} levels=1:2 keys_zone=s3:1m "
                             f"max_size=64m inactive=1h use_temp_path=off;")
    os.chmod(nginx.prefix, 0o755)  # workers write the cache as nobody
    code, out = nginx.check()
    assert code == 0, out
    nginx.start()
    nginx.cache = cache
    nginx.home = home
    s3.clear()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    shutil.rmtree(home, ignore_errors=True)
    assert not bad, "error log:\n" + "\n".join(bad)


def get(nginx, path, ua, method="GET"):
    return requests.request(method, nginx.url + path, headers={"User-Agent": ua},
                            allow_redirects=False, timeout=30)


def seen(s3):
    """(method, path?query, key pair, status) of what reached S3."""
    records = s3.requests()
    assert all(r["verified"] for r in records), records
    return [(r["method"], r["path"] + ("?" + r["query"] if r["query"] else ""),
             r["access_key"], r["status"]) for r in records]


def cache_keys(nginx):
    keys = []
    for path in glob.glob(os.path.join(nginx.cache, "*", "*", "*")):
        with open(path, "rb") as f:
            head = f.read(4096)
        keys.append(head.split(b"\nKEY: ", 1)[1].split(b"\n", 1)[0].decode())
    return sorted(keys)


# -- two key pairs, one zone ---------------------------------------------------

def test_allowed_answer_is_not_served_to_the_refused_key_pair(cached, s3):
    allowed = get(cached, "/a/demo/secret/x.txt", SDK_UA)
    assert (allowed.status_code, allowed.content) == (200, SECRET_BODY)
    assert allowed.headers["X-Cache"] == "MISS"
    again = get(cached, "/a/demo/secret/x.txt", SDK_UA)
    assert (again.status_code, again.headers["X-Cache"]) == (200, "HIT")

    refused = get(cached, "/b/demo/secret/x.txt", SDK_UA)
    assert refused.status_code == 403
    assert refused.headers["X-Cache"] == "MISS"
    assert "<Code>AccessDenied</Code>" in refused.text
    assert SECRET_BODY not in refused.content

    assert seen(s3) == [
        ("GET", "/demo/secret/x.txt", ACCESS_KEY, 200),
        ("GET", "/demo/secret/x.txt", B_KEY, 403),
    ]
    assert 'S3 answered 403 "AccessDenied"' in cached.log_text()
    # the keys name each identity (its source, a hash), never a secret
    keys = cache_keys(cached)
    assert len(keys) == 1 and keys[0].endswith(" s3")
    assert f" {REGION} env:" in keys[0]
    text = "".join(keys)
    assert SECRET_KEY not in text and B_SECRET not in text


def test_refused_first_then_allowed_is_fetched_for_the_allowed(cached, s3):
    refused = get(cached, "/b/demo/secret/x.txt", SDK_UA)
    assert refused.status_code == 403
    allowed = get(cached, "/a/demo/secret/x.txt", SDK_UA)
    assert (allowed.status_code, allowed.content) == (200, SECRET_BODY)
    assert allowed.headers["X-Cache"] == "MISS"
    assert [(s[2], s[3]) for s in seen(s3)] == [(B_KEY, 403), (ACCESS_KEY, 200)]


def test_listing_of_the_allowed_is_not_served_to_the_refused(cached, s3):
    allowed = get(cached, "/a/demo/secret/", BROWSER_UA)
    assert allowed.status_code == 200 and "x.txt" in allowed.text
    refused = get(cached, "/b/demo/secret/", BROWSER_UA)
    assert refused.status_code == 403 and "x.txt" not in refused.text
    assert refused.headers["X-Cache"] == "MISS"
    assert [(s[1].split("?")[0], s[2], s[3]) for s in seen(s3)] == [
        ("/demo/secret/index.html", ACCESS_KEY, 404),
        ("/demo", ACCESS_KEY, 200),
        ("/demo/secret/index.html", B_KEY, 403),
    ]


def test_what_both_may_read_is_cached_per_key_pair(cached, s3):
    """Shared between the locations: nothing signed by another key pair.
    Two locations of one key pair share entries (docs/caching.md)."""
    for location in ("/a", "/b", "/a", "/b"):
        answer = get(cached, location + "/demo/files/hello.txt", SDK_UA)
        assert answer.status_code == 200
    assert [(s[2], s[3]) for s in seen(s3)] == [(ACCESS_KEY, 200), (B_KEY, 200)]
    assert len(cache_keys(cached)) == 2


def test_the_key_names_the_profile_and_outlives_its_rotation(cached, s3):
    """The identity is the configured source (profile bravo of its file),
    not the keys it holds now: the cache keys say so, and a rotation of
    the file keeps them, so the entries stay."""
    first = get(cached, "/b/demo/files/hello.txt", SDK_UA)
    assert (first.status_code, first.headers["X-Cache"]) == (200, "MISS")
    [key] = cache_keys(cached)
    assert f" {REGION} profile:" in key and " env:" not in key, key
    assert B_KEY not in key

    credentials = os.path.join(cached.home, ".aws", "credentials")
    stamp = os.stat(credentials).st_mtime
    wait_until(lambda: time.time() >= int(stamp) + 1.05, 3, "the next second")
    with open(credentials + ".new", "w") as f:
        f.write(f"[bravo]\naws_access_key_id = {C_KEY}\n"
                f"aws_secret_access_key = {C_SECRET}\n")
    os.chmod(credentials + ".new", 0o644)
    os.rename(credentials + ".new", credentials)
    # redirects are never cached: their URL shows the keys in use
    wait_until(lambda: C_KEY in get(cached, "/b/demo/files/hello.txt", BROWSER_UA)
               .headers.get("Location", ""), 10, "the rotated keys in use")

    s3.clear()
    again = get(cached, "/b/demo/files/hello.txt", SDK_UA)
    assert (again.status_code, again.headers["X-Cache"]) == (200, "HIT")
    assert s3.requests() == []
    assert cache_keys(cached) == [key]


# -- a cached 404 of an index page and the folder's listing --------------------

@pytest.mark.parametrize("ua", [BROWSER_UA, SDK_UA])
def test_cached_index_404_never_stands_in_for_the_listing(cached, s3, ua):
    missing = get(cached, "/a/demo/files/index.html", ua)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/xml"
    assert "<Code>NoSuchKey</Code>" in missing.text
    listing = get(cached, "/a/demo/files/", BROWSER_UA)
    assert listing.status_code == 200
    assert listing.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "hello.txt" in listing.text
    assert listing.headers["X-Cache"] == "MISS"
    assert [(s[1].split("?")[0], s[3]) for s in seen(s3)] == [
        ("/demo/files/index.html", 404),
        ("/demo/files/index.html", 404),
        ("/demo", 200),
    ]
    assert 'S3 answered 404 "NoSuchKey"' in cached.log_text()


@pytest.mark.parametrize("ua", [BROWSER_UA, SDK_UA])
def test_cached_listing_never_stands_in_for_the_index_page(cached, s3, ua):
    listing = get(cached, "/a/demo/files/", BROWSER_UA)
    assert listing.status_code == 200 and "hello.txt" in listing.text
    again = get(cached, "/a/demo/files/", BROWSER_UA)
    assert again.status_code == 200 and again.headers["X-Cache"] == "HIT"
    missing = get(cached, "/a/demo/files/index.html", ua)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/xml"
    assert "<Code>NoSuchKey</Code>" in missing.text
    assert "hello.txt" not in missing.text
    assert missing.headers["X-Cache"] == "MISS"
    assert [(s[1].split("?")[0], s[3]) for s in seen(s3)] == [
        ("/demo/files/index.html", 404),
        ("/demo", 200),
        ("/demo/files/index.html", 404),
    ]

"""s3_proxy_presign_window (issue #13): repeated requests within a window
get the same Location, cacheable until the window ends, valid for at least
s3_proxy_expires after they are handed out."""

import re
import subprocess
import time
import urllib.parse

import pytest
import requests

from harness import s3_environment


def window_locations(window, expires="5m"):
    return f"""
        location / {{
            s3_proxy on;
            s3_proxy_expires {expires};
            s3_proxy_presign_window {window};
            include s3_proxy.conf;
        }}
    """


def test_same_location_within_the_window(make_nginx, s3):
    nginx = make_nginx(s3_environment(s3), locations=window_locations("1h"))
    s3.clear()
    answers = [requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                            timeout=10) for _ in range(3)]
    assert {r.status_code for r in answers} == {307}
    assert len({r.headers["Location"] for r in answers}) == 1
    location = answers[0].headers["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["3900"]            # 5m + 1h
    signed = time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    assert signed.tm_min == 0 and signed.tm_sec == 0     # the hour's start
    now = int(time.time())
    for r in answers:
        m = re.fullmatch(r"private, max-age=(\d+)", r.headers["Cache-Control"])
        assert m, r.headers.get("Cache-Control")
        assert abs(int(m.group(1)) - (3600 - now % 3600)) <= 2
    # the URL works, and nothing but the download reached S3
    assert requests.get(location, timeout=10).content == b"hello from s3-proxy\n"
    assert [x["path"] for x in s3.requests()] == ["/demo/files/hello.txt"]


def test_different_objects_and_methods_differ(make_nginx, s3):
    nginx = make_nginx(s3_environment(s3), locations=window_locations("10m"))
    get = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                       timeout=10).headers["Location"]
    other = requests.get(nginx.url + "/demo/docs/guide.txt", allow_redirects=False,
                         timeout=10).headers["Location"]
    head = requests.head(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                         timeout=10).headers["Location"]
    assert get != other and get.split("X-Amz-Signature=")[1] != head.split(
        "X-Amz-Signature=")[1]
    assert requests.head(head, timeout=10).status_code == 200


def test_without_a_window_no_cache_control(make_nginx, s3):
    nginx = make_nginx(s3_environment(s3))
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307 and "Cache-Control" not in r.headers
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert query["X-Amz-Expires"] == ["300"]


def test_proxied_answers_are_signed_now(make_nginx, s3):
    nginx = make_nginx(s3_environment(s3), locations=window_locations("1d"))
    s3.clear()
    r = requests.get(nginx.url + "/demo/", timeout=10)
    assert r.status_code == 200
    date = s3.requests()[0]["headers"]["x-amz-date"]
    signed = time.mktime(time.strptime(date, "%Y%m%dT%H%M%SZ")) - time.timezone
    assert abs(signed - time.time()) < 60


@pytest.mark.parametrize("settings, message", [
    ("s3_proxy_presign_window 0;", '"s3_proxy_presign_window" must be between 1s and 7d'),
    ("s3_proxy_presign_window 8d;", '"s3_proxy_presign_window" must be between 1s and 7d'),
    ("s3_proxy_presign_window soon;", '"s3_proxy_presign_window" directive invalid value'),
    ("s3_proxy_expires 7d; s3_proxy_presign_window 1h;",
     "s3_proxy_expires plus s3_proxy_presign_window must not exceed 7d"),
])
def test_bad_window_fails_nginx_t(make_nginx, s3, settings, message):
    nginx = make_nginx(s3_environment(s3), start=False, locations=f"""
        location / {{ s3_proxy on; {settings} include s3_proxy.conf; }}
    """)
    code, out = nginx.check()
    assert code != 0 and message in out, out

"""Cases found by review of the module against nginx's internals: each one
pins a behaviour that an earlier version got wrong."""

import socket
import time

import pytest
import requests

from harness import ACCESS_KEY, SECRET_KEY, Nginx, S3Server, s3_environment

TOKEN = "FQoGZXIvYXdzEXAMPLE-review-token+/="


@pytest.fixture(scope="module")
def token_s3():
    server = S3Server(session_token=TOKEN)
    yield server
    server.stop()


def test_trickled_body_puts_no_secret_in_the_log(token_s3, make_nginx):
    # A GET whose body arrives late: proxy_pass builds the signed request
    # once the body is read.  Below debug level nothing of it is logged;
    # at debug level nginx logs the request it proxies, session token
    # included (logging is the operator's: the module changes no level).
    nginx = make_nginx(s3_environment(token_s3), log_level="info")
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=5) as sock:
        sock.sendall(b"GET /demo/docs/index.html HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 4\r\nConnection: close\r\n\r\nab")
        time.sleep(0.3)
        sock.sendall(b"cd")
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    log = nginx.log_text()
    assert TOKEN not in log
    assert SECRET_KEY not in log


@pytest.mark.parametrize("value", [",", " ", ", ,"])
def test_s3_proxy_buckets_without_names_fails_nginx_t(s3, value):
    nginx = Nginx(s3_environment(s3, S3_PROXY_BUCKETS=value))
    try:
        code, output = nginx.check()
    finally:
        nginx.cleanup()
    assert code != 0
    assert "S3_PROXY_BUCKETS" in output


def test_an_if_block_inside_the_location_keeps_working(s3, make_nginx):
    locations = """
        location / {
            s3_proxy on;
            include s3_proxy.conf;
            if ($http_x_flag) {
                add_header X-Flag seen;
            }
        }
"""
    nginx = make_nginx(s3_environment(s3), locations=locations)
    r = requests.get(nginx.url + "/demo/docs/", headers={"X-Flag": "1"}, timeout=10)
    assert r.status_code == 200 and r.headers.get("X-Flag") == "seen"
    assert b"guide.txt" in r.content
    r = requests.get(nginx.url + "/demo/files/hello.txt", headers={"X-Flag": "1"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 307


def test_keys_longer_than_s3_allows_are_refused(proxy, s3):
    s3.clear()
    r = requests.get(proxy.url + "/demo/" + "a" * 1025, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 400
    r = requests.get(proxy.url + "/demo/" + "a/" * 600, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 400
    assert s3.requests() == []
    r = requests.get(proxy.url + "/demo/" + "a" * 1024, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307


def test_the_fallback_marker_from_a_client_is_an_ordinary_parameter(s3, make_nginx):
    # Only error_page's own internal redirect may carry the marker; a
    # rewrite that keeps the client's query must not force a listing.
    locations = """
        location /alias/ {
            rewrite ^/alias/(.*)$ /$1 last;
        }
        location / {
            s3_proxy on;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }
"""
    nginx = make_nginx(s3_environment(s3), locations=locations)
    r = requests.get(nginx.url + "/alias/demo/docs/?s3-proxy-fallback", timeout=10)
    assert r.status_code == 403
    r = requests.get(nginx.url + "/demo/docs/?s3-proxy-fallback", timeout=10)
    assert r.status_code == 403


@pytest.mark.parametrize("directive,name", [
    ("s3_proxy_buckets", "Not_A/Bucket"),
    ("s3_proxy_buckets", "ab"),
    ("s3_proxy_allow_params", "X-Amz-Date"),
])
def test_allowlist_names_are_checked_where_they_stand(s3, directive, name):
    # Even at http level, with no location using the module yet, nginx -t
    # names the directive, the bad name and its line.
    nginx = Nginx(s3_environment(s3), locations="location /x/ { root /tmp; }",
                  http_extra=f"{directive} {name};")
    try:
        code, output = nginx.check()
    finally:
        nginx.cleanup()
    assert code != 0
    assert directive in output and name in output and "nginx.conf:" in output

"""Browser apps on another origin: the CORS recipe of docs/cors.md, driven
by headless Chromium.  A page served from one origin fetch()es objects,
listings and a refused request through the proxy on another; the 307 is
followed to S3 (the local S3 answers CORS for every origin, as a bucket
with a CORS rule does), or the object is streamed to the browser."""

import functools
import http.server
import re
import threading

import pytest
import requests

from harness import free_port, s3_environment
from s3server import DEMO_OBJECTS
from test_browsing import chromium  # noqa: F401

APP_PAGE = """<!DOCTYPE html>
<html><body><pre id="result">pending</pre>
<script>
const proxy = "{proxy}";
async function probe(name, path, init) {{
  try {{
    const r = await fetch(proxy + path, init);
    const text = await r.text();
    return name + "=" + r.status + ":" + text.length;
  }} catch (e) {{
    return name + "=blocked";
  }}
}}
(async () => {{
  const results = [];
  results.push(await probe("object", "/demo/files/hello.txt"));
  results.push(await probe("preflighted", "/demo/files/hello.txt",
                           {{headers: {{"If-None-Match": "\\"nothing\\""}}}}));
  results.push(await probe("listing", "/demo?list-type=2&prefix=files/"));
  results.push(await probe("index", "/demo/docs/"));
  results.push(await probe("refused", "/demo/files/hello.txt?acl"));
  document.getElementById("result").textContent = results.join(" ");
}})();
</script></body></html>
"""

# The recipe of docs/cors.md, as an operator pastes it (the origin adjusted).
CORS_MAP = """
    map $http_origin $s3_cors_origin {{
        default "";
        "{origin}" $http_origin;
    }}
"""

CORS_LOCATION = """
        location / {{
            s3_proxy on;
            {extra}
            include s3_proxy.conf;

            if ($request_method = OPTIONS) {{
                add_header Access-Control-Allow-Origin $s3_cors_origin always;
                add_header Access-Control-Allow-Methods "GET, HEAD" always;
                add_header Access-Control-Allow-Headers "Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since" always;
                add_header Access-Control-Max-Age 600 always;
                add_header Vary Origin always;
                return 204;
            }}
            add_header Access-Control-Allow-Origin $s3_cors_origin always;
            add_header Access-Control-Expose-Headers "Content-Length, Content-Range, ETag, Last-Modified" always;
            add_header Vary Origin always;
            proxy_hide_header Access-Control-Allow-Origin;
            proxy_hide_header Access-Control-Allow-Credentials;
            proxy_hide_header Access-Control-Expose-Headers;
        }}
"""

PLAIN_LOCATION = """
        location / {
            s3_proxy on;
            include s3_proxy.conf;
        }
"""


@pytest.fixture(scope="module")
def app_origin():
    """A static server on its own port: another origin for the browser."""
    port = free_port()
    pages = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{port}"
    yield origin, pages
    server.shutdown()


def run_app(chromium, app_origin, nginx, name):  # noqa: F811
    origin, pages = app_origin
    pages[f"/{name}.html"] = APP_PAGE.format(proxy=nginx.url)
    dom = chromium.dump_dom(f"{origin}/{name}.html")
    m = re.search(r'<pre id="result">([^<]*)</pre>', dom)
    assert m, dom
    return dict(item.split("=", 1) for item in m.group(1).split())


def hello():
    return f"200:{len(DEMO_OBJECTS['files/hello.txt'])}"


def test_without_cors_a_browser_app_on_another_origin_is_blocked(
        s3, make_nginx, chromium, app_origin):  # noqa: F811
    """The 307 and the refusal carry no CORS header; the preflight gets
    405.  Proxied answers carry S3's own CORS headers (the local S3 allows
    every origin), so listings and index pages get through."""
    nginx = make_nginx(s3_environment(s3), locations=PLAIN_LOCATION)
    results = run_app(chromium, app_origin, nginx, "plain")
    assert results["object"] == "blocked"
    assert results["preflighted"] == "blocked"
    assert results["refused"] == "blocked"
    assert results["listing"].startswith("200:")


def test_recipe_follows_the_307_to_a_bucket_with_cors(
        s3, make_nginx, chromium, app_origin):  # noqa: F811
    origin, _ = app_origin
    nginx = make_nginx(s3_environment(s3), http_extra=CORS_MAP.format(origin=origin),
                       locations=CORS_LOCATION.format(extra=""))
    s3.clear()
    results = run_app(chromium, app_origin, nginx, "redirect")
    assert results["object"] == hello()
    # Followed to S3, a request with a non-simple header is preflighted
    # there too, and the local S3 answers no OPTIONS: the bucket's own CORS
    # rule must allow it (docs/cors.md).
    assert results["preflighted"] == "blocked"
    assert results["listing"].startswith("200:")
    assert results["index"] == f"200:{len(DEMO_OBJECTS['docs/index.html'])}"
    assert results["refused"].startswith("403:")
    seen = s3.requests()
    # The object came from S3 by the presigned URL, the listing and the
    # index page through the proxy; the refused request reached nothing.
    objects = [x for x in seen if x["path"] == "/demo/files/hello.txt"]
    assert objects and all(x["auth"] == "presigned" for x in objects), seen
    assert not any("acl" in x["query"] for x in seen)


def test_recipe_with_streaming_to_browsers(s3, make_nginx, chromium, app_origin):  # noqa: F811
    """A bucket without CORS: stream objects to browsers instead."""
    origin, _ = app_origin
    nginx = make_nginx(s3_environment(s3), http_extra=CORS_MAP.format(origin=origin),
                       locations=CORS_LOCATION.format(
                           extra="s3_proxy_stream_agents Mozilla none signed;"))
    s3.clear()
    results = run_app(chromium, app_origin, nginx, "streamed")
    assert results["object"] == hello()
    assert results["preflighted"] == hello()
    # A client the location streams to gets S3's XML error.
    assert results["refused"].startswith("501:")
    objects = [x for x in s3.requests() if x["path"] == "/demo/files/hello.txt"]
    assert objects and all(x["auth"] == "header" for x in objects), objects


def test_recipe_headers_on_every_kind_of_answer(s3, make_nginx, app_origin):
    origin, _ = app_origin
    nginx = make_nginx(s3_environment(s3), http_extra=CORS_MAP.format(origin=origin),
                       locations=CORS_LOCATION.format(extra=""))
    ua = {"User-Agent": "Mozilla/5.0", "Origin": origin}
    s3.clear()
    r = requests.options(nginx.url + "/demo/files/hello.txt", timeout=10, headers={
        **ua, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert r.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert "Range" in r.headers["Access-Control-Allow-Headers"]
    assert s3.requests() == []
    for path, status in [("/demo/files/hello.txt", 307), ("/demo/docs/", 200),
                         ("/demo/files/hello.txt?acl", 403),
                         ("/demo/files/missing/", 404)]:
        r = requests.get(nginx.url + path, headers=ua, allow_redirects=False, timeout=10)
        assert r.status_code == status, path
        # One header, the proxy's: S3's own is hidden.
        assert r.headers["Access-Control-Allow-Origin"] == origin, path
        assert r.headers["Vary"] == "Origin", path
    # Another origin gets no CORS header at all.
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     headers={**ua, "Origin": "https://evil.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers
    # Other methods are still refused.
    r = requests.delete(nginx.url + "/demo/files/hello.txt", headers=ua, timeout=10)
    assert r.status_code == 405

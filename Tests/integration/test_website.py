"""Private buckets as websites (issue 23): `s3_proxy_website`,
`s3_proxy_proxy_types`, `s3_proxy_error_document`, `s3_proxy_types` and
download links (`s3_proxy_download_param`).

The real nginx with the module in front of the strict SigV4 stand-in
(demo/s3server.py), browsed by headless Chromium: a multi-page static
site (`/www/`), a single-page app (`/spa/`) and CI logs (`/ci/`), each a
private bucket.  The aws CLI, boto3 and rclone against the same locations
get S3's answers: XML errors, no folder redirect, no error document.
Expectations come from the README's directive reference and
docs/websites.md.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from html.parser import HTMLParser

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from harness import (ACCESS_KEY, REGION, SECRET_KEY, Nginx, client_env, s3_environment,
                     wait_until)
from test_browsing import chromium  # noqa: F401

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120"}

# Each page reports, once loaded, where it is, what it is, and every link
# as the browser resolved it: Chromium's DOM dump then shows them.
PROBE = """<script>
document.addEventListener("DOMContentLoaded", () => {
  const p = document.createElement("pre"); p.id = "probe";
  p.textContent = JSON.stringify({url: location.href, type: document.contentType,
    links: Array.from(document.links).map(a => a.href)});
  document.body.appendChild(p);
});
</script>"""


def page(title, *links):
    anchors = "".join(f'<a href="{href}">{href}</a>\n' for href in links)
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{title}</title>"
            f'<link rel="stylesheet" href="/www/style.css"></head>'
            f"<body><h1>{title}</h1>\n{anchors}{PROBE}</body></html>\n").encode()


SITE = {
    "index.html": page("home", "about.html", "docs/", "docs", "docs/guide.html",
                       "logs/build.log", "missing.html"),
    "about.html": page("about", "index.html", "./", "docs/guide.html"),
    "docs/index.html": page("docs", "guide.html", "../about.html", "../"),
    "docs/guide.html": page("guide", "../index.html", "index.html", "../docs"),
    "404.html": page("not found", "/www/", "/www/about.html"),
    "style.css": b"h1 { color: #333 }\n",
    "logs/build.log": b"step 1: ok\nstep 2: ok\n",
    "files/r\u00e9sum\u00e9 \u00fcn\u00ef.txt": "non-ASCII name\n".encode(),
    'files/q"uo;te\\%0A.txt': b"hostile name\n",
}
SITE_TYPES = {"style.css": "text/css", "logs/build.log": "binary/octet-stream"}

APP_PAGE = (b"<!DOCTYPE html><html><head><meta charset=utf-8><title>app</title></head>"
            b"<body><div id=route></div><script>"
            b'document.getElementById("route").textContent = "route:" + location.pathname;'
            b"</script></body></html>\n")
APP = {"index.html": APP_PAGE, "app.js": b"console.log(1)\n"}

CI = {
    "build/42/test.log": b"PASS test_one\nFAIL test_two\n",
    "build/42/junit.xml": b"<testsuite/>\n",
}

LOCATIONS = """
        location /www/ {
            s3_proxy on;
            s3_proxy_bucket site;
            s3_proxy_website on;
            s3_proxy_error_document 404.html;
            s3_proxy_types on;
            s3_proxy_ignore_params utm_source y;
            include s3_proxy.conf;
        }
        location /spa/ {
            s3_proxy on;
            s3_proxy_bucket app;
            s3_proxy_website on;
            s3_proxy_error_document index.html 200;
            include s3_proxy.conf;
        }
        location /ci/ {
            s3_proxy on;
            s3_proxy_bucket ci-logs;
            s3_proxy_types on;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }
        location /cilogs/ {
            s3_proxy on;
            s3_proxy_bucket ci-logs;
            s3_proxy_types on;
            s3_proxy_proxy_types text/plain text/html;
            s3_proxy_download_param save;
            include s3_proxy.conf;
        }
        location / {
            s3_proxy on;
            s3_proxy_website on;
            s3_proxy_error_document 404.html;
            s3_proxy_types on;
            include s3_proxy.conf;
        }
        location /bare/ {
            s3_proxy on;
            s3_proxy_bucket site;
            s3_proxy_website on;
            include s3_proxy.conf;
        }
        location /plain/ {
            s3_proxy on;
            s3_proxy_bucket site;
            s3_proxy_download_param off;
            include s3_proxy.conf;
        }
"""

TYPES = """
    types {
        text/html html;
        text/css css;
        text/plain log txt;
        application/xml xml;
    }
    default_type application/octet-stream;
    charset utf-8;
"""


def s3_client(endpoint):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name=REGION,
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def site(s3):
    client = s3_client(s3.endpoint)
    for bucket, objects in (("site", SITE), ("app", APP), ("ci-logs", CI)):
        try:
            client.create_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
        for key, body in objects.items():
            kind = SITE_TYPES.get(key, "text/html" if key.endswith(".html")
                                  else "binary/octet-stream")
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=kind)
    nginx = Nginx(s3_environment(s3), locations=LOCATIONS, http_extra=TYPES).start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    assert not bad, "error log:\n" + "\n".join(bad)


def get(url, headers=BROWSER, **kwargs):
    return requests.get(url, headers=headers, allow_redirects=False, timeout=10, **kwargs)


def probe(dom):
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<") \
        .replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(text)


def chromium_download(binary, url, directory, timeout=30):
    """Opens `url` in headless Chromium allowed to download into
    `directory` (DevTools protocol over --remote-debugging-pipe: commands
    on fd 3, answers on fd 4, each JSON message ended by a NUL) and returns
    the name of the file saved, once complete."""
    to_chrome, from_chrome = os.pipe(), os.pipe()

    def pipes():
        os.dup2(to_chrome[0], 3)
        os.dup2(from_chrome[1], 4)

    profile = tempfile.mkdtemp(prefix="s3p-chromium-dl-")
    proc = subprocess.Popen(
        [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
        preexec_fn=pipes, close_fds=False,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_chrome[0])
    os.close(from_chrome[1])
    commands = os.fdopen(to_chrome[1], "wb", buffering=0)
    answers = os.fdopen(from_chrome[0], "rb", buffering=0)
    pending = b""
    sent = 0

    def send(method, **params):
        nonlocal pending, sent
        sent += 1
        commands.write(json.dumps({"id": sent, "method": method,
                                   "params": params}).encode() + b"\0")
        while True:
            while b"\0" not in pending:
                chunk = answers.read(65536)
                assert chunk, "chromium closed its DevTools pipe"
                pending += chunk
            message, pending = pending.split(b"\0", 1)
            answer = json.loads(message)
            if answer.get("id") == sent:
                assert "error" not in answer, answer
                return answer

    try:
        send("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(directory))
        send("Target.createTarget", url=url)
        return wait_until(
            lambda: next((f for f in os.listdir(directory)
                          if not f.endswith(".crdownload")), None),
            timeout, lambda: f"no download in {os.listdir(directory)}")
    finally:
        try:
            send("Browser.close")
        except (AssertionError, OSError):
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        commands.close()
        answers.close()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------
# in a browser
# --------------------------------------------------------------------------

def test_every_link_of_every_page_works_in_chromium(site, chromium):  # noqa: F811
    """From the home page, every link followed in Chromium lands on a page
    of the proxy's (never S3's origin), whose own links stay on the site."""
    start = site.url + "/www/"
    seen, queue, pages = set(), [start], {}
    while queue:
        url = queue.pop()
        if url in seen or not url.endswith((".html", "/", "docs")):
            continue
        seen.add(url)
        report = probe(chromium.dump_dom(url))
        pages[url] = report
        assert report["url"].startswith(site.url + "/www/"), (url, report)
        assert report["type"] == "text/html", (url, report)
        for link in report["links"]:
            assert link.startswith(site.url + "/www/"), (url, link)
            queue.append(link)
    # `/www/docs` followed in the browser ended at `/www/docs/`
    assert pages[site.url + "/www/docs"]["url"] == site.url + "/www/docs/"
    titles = {url: r["url"] for url, r in pages.items()}
    assert len(pages) >= 8, titles
    # the missing page showed the error document, whose links work too
    assert site.url + "/www/missing.html" in pages


def test_missing_page_shows_the_error_document_with_404(site, chromium):  # noqa: F811
    r = get(site.url + "/www/no/such/page.html")
    assert r.status_code == 404
    assert r.text == SITE["404.html"].decode()
    assert r.headers["Content-Type"].startswith("text/html")
    dom = chromium.dump_dom(site.url + "/www/no/such/page.html")
    assert "<h1>not found</h1>" in dom


def test_app_route_shows_the_app_with_200(site, chromium):  # noqa: F811
    r = get(site.url + "/spa/users/42/settings")
    assert r.status_code == 200
    assert r.content == APP_PAGE
    dom = chromium.dump_dom(site.url + "/spa/users/42/settings")
    assert "route:/spa/users/42/settings" in dom


def test_log_shows_as_text_in_chromium(site, chromium):  # noqa: F811
    """Uploaded as binary/octet-stream, the log opens as text/plain: the
    redirect asks S3 for nginx's type."""
    r = get(site.url + "/ci/build/42/test.log")
    assert r.status_code == 307
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert query["response-content-type"] == ["text/plain"]
    followed = requests.get(r.headers["Location"], timeout=10)
    assert followed.headers["Content-Type"] == "text/plain"
    dom = chromium.dump_dom(site.url + "/ci/build/42/test.log")
    assert "FAIL test_two" in dom and "<pre" in dom


def test_proxied_log_has_nginx_type_and_charset(site, chromium):  # noqa: F811
    """s3_proxy_proxy_types text/plain: the log is proxied with nginx's
    type and charset; a page of the proxy reads its document.contentType."""
    r = get(site.url + "/cilogs/build/42/test.log")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.content == CI["build/42/test.log"]
    # a redirected type keeps the 307
    assert get(site.url + "/cilogs/build/42/junit.xml").status_code == 307


@pytest.mark.parametrize("path, name", [
    ("/www/files/" + urllib.parse.quote("r\u00e9sum\u00e9 \u00fcn\u00ef.txt"),
     "r\u00e9sum\u00e9 \u00fcn\u00ef.txt"),
    ("/www/about.html", "about.html"),
    ("/ci/build/42/test.log", "test.log"),
])
def test_chromium_saves_a_download_under_its_name(site, chromium, tmp_path,  # noqa: F811
                                                 path, name):
    saved = chromium_download(chromium.binary, site.url + path + "?download", tmp_path)
    assert saved == name
    key = urllib.parse.unquote(path.split("/", 2)[2])
    body = (tmp_path / saved).read_bytes()
    assert body == (SITE.get(key) or CI.get(key))


def test_download_link_of_a_redirected_object(site):
    r = get(site.url + "/ci/build/42/test.log?download")
    assert r.status_code == 307
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert query["response-content-disposition"] == ['attachment; filename="test.log"']
    assert "download" not in query
    followed = requests.get(r.headers["Location"], timeout=10)
    assert followed.status_code == 200
    assert followed.headers["Content-Disposition"] == 'attachment; filename="test.log"'


def test_download_link_of_a_proxied_page(site):
    r = get(site.url + "/www/about.html?download")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="about.html"'
    assert r.content == SITE["about.html"]


def test_download_of_a_unicode_name(site):
    key = "files/r\u00e9sum\u00e9 \u00fcn\u00ef.txt"
    r = get(site.url + "/www/" + urllib.parse.quote(key) + "?download")
    assert r.status_code == 307
    followed = requests.get(r.headers["Location"], timeout=10)
    disposition = followed.headers["Content-Disposition"]
    assert disposition == ("attachment; filename=\"r_sum_ _n_.txt\"; filename*=UTF-8''"
                           + urllib.parse.quote("r\u00e9sum\u00e9 \u00fcn\u00ef.txt", safe=""))
    assert followed.content == SITE[key]


def test_hostile_name_cannot_break_the_header(site):
    """Quotes, `;`, `\\` and `%` stay inside the header (CR, LF and other
    control bytes: Tests/S3ProxyTests/WebsiteTests.swift)."""
    key = 'files/q"uo;te\\%0A.txt'
    r = get(site.url + "/www/" + urllib.parse.quote(key) + "?download")
    assert r.status_code == 307
    followed = requests.get(r.headers["Location"], timeout=10)
    disposition = followed.headers["Content-Disposition"]
    assert disposition == ("attachment; filename=\"q_uo_te__0A.txt\"; filename*=UTF-8''"
                           + urllib.parse.quote('q"uo;te\\%0A.txt', safe="!#$&+-.^_`|~"))
    assert followed.content == SITE[key]


def test_download_param_is_configurable_and_can_be_off(site):
    r = get(site.url + "/cilogs/build/42/test.log?save")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="test.log"'
    # off: the name is an ordinary parameter, refused as any other
    assert get(site.url + "/plain/about.html?download").status_code == 403


def test_client_cannot_set_response_parameters(site):
    r = get(site.url + "/www/style.css?response-content-type=text/html")
    assert r.status_code == 403


def test_listing_has_download_links(site):
    r = get(site.url + "/ci/build/42/")
    assert r.status_code == 200
    assert 'href="/ci/build/42/test.log?download"' in r.text
    assert 'href="/ci/build/42/test.log"' in r.text


def test_folder_redirect_keeps_the_query(site):
    r = get(site.url + "/www/docs?utm_source=x&y=%2F")
    assert r.status_code == 302
    assert r.headers["Location"] == "/www/docs/?utm_source=x&y=%2F"
    assert r.content == b""
    head = requests.head(site.url + "/www/docs", headers=BROWSER, timeout=10)
    assert head.status_code == 302


def test_missing_folder_gets_the_error_document(site):
    r = get(site.url + "/www/nothing")
    assert r.status_code == 404
    assert r.text == SITE["404.html"].decode()


def test_assets_keep_the_redirect_with_their_type(site):
    r = get(site.url + "/www/style.css")
    assert r.status_code == 307
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert query["response-content-type"] == ["text/css"]


def test_pages_get_the_proxy_header_hygiene(site):
    r = get(site.url + "/www/about.html")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert not [h for h in r.headers if h.lower().startswith("x-amz-request")]


def test_operator_error_page_wins(s3, site, make_nginx):
    locations = """
        location /www/ {
            s3_proxy on;
            s3_proxy_bucket site;
            s3_proxy_website on;
            s3_proxy_error_document 404.html;
            proxy_intercept_errors on;
            error_page 404 /own404;
            include s3_proxy.conf;
        }
        location = /own404 { return 404 "operator's own\\n"; }
"""
    nginx = make_nginx(s3_environment(s3), locations=locations, http_extra=TYPES)
    r = get(nginx.url + "/www/missing.html")
    assert r.status_code == 404
    assert r.text == "operator's own\n"


@pytest.mark.parametrize("directive, message", [
    ("s3_proxy_error_document 404.html 99;", "takes a status from 200 to 599"),
    ("s3_proxy_error_document ../x.html;", "must be an object's key"),
    ("s3_proxy_proxy_types html;", "is not a MIME type"),
    ("s3_proxy_download_param x-amz-date;", "is an authentication parameter"),
])
def test_bad_directives_fail_nginx_t(s3, directive, message):
    nginx = Nginx(s3_environment(s3), locations=f"""
        location / {{
            s3_proxy on;
            {directive}
            include s3_proxy.conf;
        }}
""")
    try:
        code, output = nginx.check()
        assert code != 0
        assert message in output and "nginx.conf:" in output, output
    finally:
        nginx.cleanup()


# --------------------------------------------------------------------------
# S3 clients get S3's answers in website mode
# --------------------------------------------------------------------------

def test_boto3_gets_s3_semantics(site):
    client = s3_client(site.url)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.get_object(Bucket="site", Key="docs")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    body = client.get_object(Bucket="site", Key="style.css")["Body"].read()
    assert body == SITE["style.css"]


def test_boto3_missing_page_is_s3s_error(site):
    r = requests.get(site.url + "/app/users/42", timeout=10,
                     headers={"User-Agent": "Boto3/1.34 md/Botocore#1.34"})
    assert r.status_code == 404
    assert "<Code>NoSuchKey</Code>" in r.text


def test_aws_cli_gets_s3_semantics(site, tmp_path):
    env = client_env(str(tmp_path), AWS_ACCESS_KEY_ID="anything",
                     AWS_SECRET_ACCESS_KEY="anything")
    out = tmp_path / "about.html"
    r = subprocess.run([sys.executable, "-m", "awscli", "s3", "cp", "--endpoint-url", site.url,
                        "s3://site/about.html", str(out)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == SITE["about.html"]
    r = subprocess.run([sys.executable, "-m", "awscli", "s3api", "get-object", "--endpoint-url",
                        site.url, "--bucket", "site", "--key", "docs",
                        str(tmp_path / "docs")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0 and "NoSuchKey" in r.stderr, r.stderr


def test_rclone_gets_s3_semantics(site, tmp_path):
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"""[proxy]
type = s3
provider = Other
access_key_id = anything
secret_access_key = anything
endpoint = {site.url}
force_path_style = true
""")
    env = client_env(str(tmp_path))
    r = subprocess.run(["rclone", "--config", str(conf), "cat", "proxy:site/docs/guide.html"],
                       capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == SITE["docs/guide.html"]
    # no error document: the missing page is missing (rclone cat finds
    # nothing to print)
    r = subprocess.run(["rclone", "--config", str(conf), "cat", "proxy:site/missing.html"],
                       capture_output=True, env=env, timeout=120)
    assert r.stdout == b""
    # `docs` is a prefix to rclone, listed as S3 lists it
    r = subprocess.run(["rclone", "--config", str(conf), "lsf", "proxy:site/docs"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["guide.html", "index.html"]


def test_steps_keep_the_connection_and_answer_head(site):
    """Each step is a subrequest: HEAD gets the last step's headers, and
    the client's connection serves the next request."""
    with requests.Session() as session:
        session.headers.update(BROWSER)
        for method, path, status in [
                ("HEAD", "/spa/users/42", 200),       # object, folder check, document
                ("GET", "/spa/users/42", 200),
                ("HEAD", "/www/missing.html", 404),   # page, document
                ("HEAD", "/www/docs", 302),           # object, folder check
                ("GET", "/www/docs/", 200),
                ("GET", "/www/nothing/at/all", 404)]:
            r = session.request(method, site.url + path, allow_redirects=False, timeout=10)
            assert r.status_code == status, (method, path)
            if method == "HEAD":
                assert r.content == b""
            elif path.startswith("/spa/"):
                assert r.content == APP_PAGE


def test_website_without_error_document(site):
    """S3's 404, cleaned, where no error document is configured; the
    folder redirect still happens."""
    r = get(site.url + "/bare/nothing")
    assert r.status_code == 404
    assert "<Code>NoSuchKey</Code>" in r.text and "RequestId" not in r.text
    r = get(site.url + "/bare/docs")
    assert r.status_code == 302 and r.headers["Location"] == "/bare/docs/"
    assert get(site.url + "/bare/missing.html").status_code == 404


@pytest.mark.parametrize("path, status, body", [
    ("/spa/users/42", 200, APP_PAGE),
    ("/www/missing.html", 404, SITE["404.html"]),
], ids=["app-route", "missing-page"])
def test_error_document_ignores_the_clients_range_and_conditionals(site, path, status, body):
    """The error document answers for another URL, with a status of its
    own: a browser's revalidation of an app route (If-None-Match with the
    app page's ETag) or a Range gets the whole document, never S3's 304 or
    206 answered with the document's status and an empty or partial
    body."""
    first = get(site.url + path)
    assert first.status_code == status and first.content == body
    for headers in ({"If-None-Match": first.headers["ETag"]},
                    {"If-Modified-Since": first.headers["Last-Modified"]},
                    {"Range": "bytes=0-3"}):
        r = get(site.url + path, headers={**BROWSER, **headers})
        assert (r.status_code, r.content) == (status, body), headers
        assert "Content-Range" not in r.headers


def test_website_ignores_the_query_as_s3s_website_endpoint_does(site, s3):
    """A link with a query the location does not serve (a campaign's
    `?lang=en&fbclid=...`) opens the page: the folder redirect keeps the
    query, S3 is asked without it.  A client's `response-*` and `X-Amz-*`
    parameters stay refused; S3 clients keep S3's refusal."""
    r = get(site.url + "/www/docs?lang=en&fbclid=a%2Fb")
    assert r.status_code == 302
    assert r.headers["Location"] == "/www/docs/?lang=en&fbclid=a%2Fb"
    s3.clear()
    r = get(site.url + "/www/docs/?lang=en&fbclid=a%2Fb")
    assert (r.status_code, r.content) == (200, SITE["docs/index.html"])
    r = get(site.url + "/www/about.html?ref=mail&acl&page=2&prefix=x")
    assert (r.status_code, r.content) == (200, SITE["about.html"])
    r = get(site.url + "/www/?ref=home")
    assert (r.status_code, r.content) == (200, SITE["index.html"])
    assert [(x["path"], x["query"]) for x in s3.requests()] == [
        ("/site/docs/index.html", ""), ("/site/about.html", ""), ("/site/index.html", "")]
    r = get(site.url + "/www/style.css?v=3&download")
    assert r.status_code == 307
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert "v" not in query and "response-content-disposition" in query
    for refused in ("response-content-type=text/html", "Response-Expires=0",
                    "X-Amz-Expires=1", "x-amz-security-token=t"):
        assert get(site.url + "/www/style.css?" + refused).status_code == 403, refused
    sdk = requests.get(site.url + "/www/about.html?ref=mail",
                       headers={"User-Agent": "Boto3/1.34 md/Botocore#1.34"}, timeout=10)
    assert sdk.status_code == 501
    # without website mode, a browser's unknown parameter is refused
    assert get(site.url + "/plain/about.html?ref=mail").status_code == 403


def test_a_listing_keeps_s3s_type(site):
    """s3_proxy_types names the type of an object's key: a bucket's
    ListObjects XML is no key's, and keeps S3's type (not default_type)."""
    for path in ("/site", "/site?list-type=2&prefix=docs/", "/site/?delimiter=/"):
        r = get(site.url + path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith("application/xml"), path
        assert b"<ListBucketResult" in r.content

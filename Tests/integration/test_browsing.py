"""Browsing folders: the built-in HTML listing (`s3_proxy_listing on`),
uploaded index pages, and what browsers and crawlers make of both.

The real nginx with the module, in front of the local S3 (demo/s3server.py).
Expectations come from the README ("How requests are answered",
`s3_proxy_listing`, `s3_proxy_index`) and docs/browsing.md: a path ending in `/` serves the
folder's index page; without one, and with listings on, the module renders
the folder's ListObjectsV2 page as HTML (breadcrumb, sub-folders, then files
with size and last-modified, a "Next page" link `?page=<token>` past 1,000
entries, a Content-Security-Policy, 404 for a prefix without objects).

Own seeds go to buckets `browse` and `spa` (created here through boto3,
directly at the local S3) so that the shared `demo` bucket stays untouched.
"""

import json
import re
import os
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import zlib
from html.parser import HTMLParser

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from harness import ACCESS_KEY, REGION, SECRET_KEY, Nginx, s3_environment
from s3server import DEMO_OBJECTS, listing_objects

PAGES = os.path.join(os.path.dirname(__file__), "pages")
BROWSER_PAGE = os.path.join(PAGES, "bucket-browser.html")

LISTING_LOCATIONS = """
        location / {
            s3_proxy on;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }
"""

# The elements and attributes the built-in listing is made of.
LISTING_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "table",
                "thead", "tbody", "tr", "th", "td", "a", "p"}
LISTING_ATTRIBUTES = {"charset", "name", "content", "href", "class", "rel"}

# Keys that try to break out of the HTML; each downloads as itself.
XSS_OBJECTS = {
    'xss/"><script>alert(1)</script>.txt': b"script key\n",
    "xss/<img src=x onerror=alert(1)>": b"img key\n",
    "xss/a&b.txt": b"ampersand key\n",
    "xss/it's.txt": b"apostrophe key\n",
    'xss/x" onmouseover="alert(1).txt': b"attribute key\n",
    "xss/&lt;entity&gt;.txt": b"literal entity key\n",
}
SITE_OBJECTS = {
    "site/default.htm": b"<!DOCTYPE html><title>site</title><p>default.htm page</p>\n",
    "site/notes.txt": b"notes next to default.htm\n",
}
# A folder 160 levels deep: a 325-byte prefix, well inside S3's 1,024 bytes.
DEEP_FOLDER = "deep/" + "a/" * 160
DEEP_OBJECTS = {DEEP_FOLDER + "x.txt": b"deep\n"}
BROWSE_OBJECTS = {**XSS_OBJECTS, **SITE_OBJECTS, **DEEP_OBJECTS}

# The bucket browsed by the uploaded JavaScript page.
SPA_PAGE_FOLDERS = ["", "a/", "a/b/", "a/sp ace#?/", "many/"]
SPA_OBJECTS = {
    "top.txt": b"top of the spa bucket\n",
    "a/hello world.txt": b"hello world\n",
    "a/hash#1.txt": b"hash\n",
    "a/100%.txt": b"percent\n",
    "a/plus+sign.txt": b"plus\n",
    "a/\u00fcn\u00ef code.txt": "non-ASCII \u00fcn\u00ef\n".encode(),
    "a/quote'(x).txt": b"quote and parentheses\n",
    "a/b/deep.txt": b"one level down\n",
    "a/sp ace#?/inner.txt": b"inside an awkward folder\n",
    **{f"many/f{i:02d}.txt": f"file {i}\n".encode() for i in range(10)},
    "many/d1/x.txt": b"d1\n",
    "many/d2/x.txt": b"d2\n",
}


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

def s3_client(s3):
    return boto3.client(
        "s3", endpoint_url=s3.endpoint, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name=REGION,
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def create_bucket(client, name):
    try:
        client.create_bucket(Bucket=name)
    except botocore.exceptions.ClientError as err:
        if err.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


@pytest.fixture(scope="module")
def seeded(s3):
    """Buckets `browse` and `spa`, filled once for this module."""
    client = s3_client(s3)
    create_bucket(client, "browse")
    for key, body in BROWSE_OBJECTS.items():
        content_type = "text/html" if key.endswith(".htm") else "text/plain"
        client.put_object(Bucket="browse", Key=key, Body=body, ContentType=content_type)
    create_bucket(client, "spa")
    with open(BROWSER_PAGE, "rb") as f:
        page = f.read()
    for folder in SPA_PAGE_FOLDERS:
        client.put_object(Bucket="spa", Key=folder + "index.html", Body=page,
                          ContentType="text/html; charset=utf-8")
    for key, body in SPA_OBJECTS.items():
        client.put_object(Bucket="spa", Key=key, Body=body, ContentType="text/plain")
    return {"page": page}


@pytest.fixture(scope="module")
def browse(s3, seeded):
    """nginx with built-in listings on, for the whole module."""
    nginx = Nginx(s3_environment(s3), locations=LISTING_LOCATIONS).start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    assert not bad, "error log:\n" + "\n".join(bad)


@pytest.fixture
def log_stays_clean(browse):
    yield
    bad = browse.bad_log_lines()
    assert not bad, "error log:\n" + "\n".join(bad)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

class Listing(HTMLParser):
    """The built-in listing page, read with the standard HTML parser."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.start_tags = []   # (tag, {attr: value}) in document order
        self.title = ""
        self.heading = ""
        self.breadcrumb = []   # (href, text)
        self.rows = []         # {"href", "name", "size", "modified"}
        self.next_href = None
        self._in = set()
        self._row = None
        self._link = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.start_tags.append((tag, attributes))
        if tag in ("title", "h1", "tbody"):
            self._in.add(tag)
        elif tag == "tr" and "tbody" in self._in:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._row.append({"text": "", "href": None})
        elif tag == "a":
            self._link = {"href": attributes.get("href"), "text": "",
                          "rel": attributes.get("rel")}
            if self._row:
                self._row[-1]["href"] = attributes.get("href")

    def handle_endtag(self, tag):
        if tag in ("title", "h1", "tbody"):
            self._in.discard(tag)
        elif tag == "tr" and self._row is not None:
            cells = self._row + [{"text": "", "href": None}] * (3 - len(self._row))
            self.rows.append({"href": cells[0]["href"], "name": cells[0]["text"],
                              "size": cells[1]["text"], "modified": cells[2]["text"]})
            self._row = None
        elif tag == "a" and self._link is not None:
            if "h1" in self._in:
                self.breadcrumb.append((self._link["href"], self._link["text"]))
            if self._link["rel"] == "next":
                self.next_href = self._link["href"]
            self._link = None

    def handle_data(self, data):
        if "title" in self._in:
            self.title += data
        if "h1" in self._in:
            self.heading += data
        if self._link is not None:
            self._link["text"] += data
        if self._row:
            self._row[-1]["text"] += data

    @property
    def parent(self):
        return self.rows[0] if self.rows and self.rows[0]["name"] == "../" else None

    @property
    def entries(self):
        return [row for row in self.rows if row["name"] != "../"]


def fetch_listing(url):
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 200, (url, r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith("text/html"), r.headers
    return r, Listing(r.text)


def expected_entries(objects, prefix):
    """Folders, then files directly below `prefix`, in S3's (byte) order."""
    folders, files = set(), []
    for key in objects:
        if not key.startswith(prefix) or key == prefix:
            continue
        rest = key[len(prefix):]
        if "/" in rest:
            folders.add(rest.split("/")[0] + "/")
        else:
            files.append(rest)
    order = lambda name: name.encode()  # noqa: E731
    return sorted(folders, key=order), sorted(files, key=order)


def download(url):
    """Follows the link as a browser or curl -L would: 307, then S3."""
    first = requests.get(url, allow_redirects=False, timeout=10)
    assert first.status_code == 307, (url, first.status_code, first.text[:300])
    final = requests.get(url, timeout=10)
    assert final.status_code == 200, (url, final.status_code, final.text[:300])
    return first, final


def path_of(url):
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path)


# --------------------------------------------------------------------------
# the built-in listing
# --------------------------------------------------------------------------

def test_files_folder_lists_folders_then_files_with_sizes(browse, s3, log_stays_clean):
    r, page = fetch_listing(browse.url + "/demo/files/")
    assert page.title == "Index of /demo/files/"
    folders, files = expected_entries(DEMO_OBJECTS, "files/")
    assert folders == ["nested/"]
    names = [row["name"] for row in page.entries]
    assert names == folders + files
    for row in page.entries:
        if row["name"].endswith("/"):
            assert row["size"] == "-" and row["modified"] == ""
            continue
        key = "files/" + row["name"]
        assert row["size"] == str(len(DEMO_OBJECTS[key])), row
        assert len(row["modified"]) == len("2026-11-29 01:19:20 UTC")
        assert row["modified"].endswith(" UTC"), row
    assert page.parent["href"] == "/demo/"
    assert page.next_href is None


def test_file_links_download_the_exact_bytes(browse, s3, log_stays_clean):
    url = browse.url + "/demo/files/"
    _, page = fetch_listing(url)
    files = [row for row in page.entries if not row["name"].endswith("/")]
    assert len(files) == len(expected_entries(DEMO_OBJECTS, "files/")[1])
    for row in files:
        key = "files/" + row["name"]
        link = urllib.parse.urljoin(url, row["href"])
        # the href names exactly the key: every awkward byte percent-encoded
        assert path_of(link) == "/demo/" + key
        assert "#" not in row["href"] and "?" not in row["href"] and " " not in row["href"]
        first, final = download(link)
        location = urllib.parse.urlsplit(first.headers["Location"])
        assert f"{location.scheme}://{location.netloc}" == s3.endpoint
        assert final.content == DEMO_OBJECTS[key], key


def test_folder_links_breadcrumb_and_parent(browse, log_stays_clean):
    base = browse.url
    _, files = fetch_listing(base + "/demo/files/")
    nested_href = files.entries[0]["href"]
    assert nested_href == "/demo/files/nested/"
    _, nested = fetch_listing(urllib.parse.urljoin(base + "/demo/files/", nested_href))
    assert nested.title == "Index of /demo/files/nested/"
    assert [row["name"] for row in nested.entries] == ["deep/"]
    deep_url = urllib.parse.urljoin(base + "/demo/files/nested/", nested.entries[0]["href"])
    _, deep = fetch_listing(deep_url)
    assert [row["name"] for row in deep.entries] == ["readme.md"]
    _, readme = download(urllib.parse.urljoin(deep_url, deep.entries[0]["href"]))
    assert readme.content == DEMO_OBJECTS["files/nested/deep/readme.md"]

    # breadcrumb: every ancestor, each leading to its listing (or index page)
    assert deep.breadcrumb == [("/demo/", "demo"), ("/demo/files/", "files"),
                               ("/demo/files/nested/", "nested"),
                               ("/demo/files/nested/deep/", "deep")]
    assert deep.heading == "Index of demo/files/nested/deep/"
    root = requests.get(urllib.parse.urljoin(deep_url, "/demo/"), timeout=10)
    assert root.status_code == 200 and root.content == DEMO_OBJECTS["index.html"]
    for href, name in deep.breadcrumb[1:]:
        _, crumb = fetch_listing(urllib.parse.urljoin(deep_url, href))
        assert crumb.title == "Index of " + href

    # ../ goes one folder up
    assert deep.parent["href"] == "/demo/files/nested/"
    _, up = fetch_listing(urllib.parse.urljoin(deep_url, deep.parent["href"]))
    assert up.title == "Index of /demo/files/nested/"


@pytest.mark.parametrize("path, key", [("/demo/", "index.html"),
                                       ("/demo/docs/", "docs/index.html")])
def test_existing_index_pages_take_precedence(browse, s3, path, key, log_stays_clean):
    s3.clear()
    r = requests.get(browse.url + path, allow_redirects=False, timeout=10)
    assert r.status_code == 200
    assert r.content == DEMO_OBJECTS[key]
    assert "Content-Security-Policy" not in r.headers
    seen = s3.requests()
    # the index page only: no listing was asked for
    assert [(x["method"], x["path"], x["query"]) for x in seen] == [("GET", "/demo/" + key, "")]


@pytest.mark.parametrize("path", ["/demo/nope/", "/demo/files/nest/", "/demo/docs/guide.txt/"])
def test_prefix_without_objects_is_404(browse, s3, path, log_stays_clean):
    s3.clear()
    r = requests.get(browse.url + path, allow_redirects=False, timeout=10)
    assert r.status_code == 404
    assert "<table" not in r.text
    # S3 was asked for the index page, then for the listing
    seen = [(x["method"], x["path"]) for x in s3.requests()]
    assert seen == [("GET", path + "index.html"), ("GET", "/demo")]


@pytest.mark.parametrize("path, key", [("/demo/files/nested", "files/nested"),
                                       ("/demo/files/hello.txt", "files/hello.txt")])
def test_path_without_slash_stays_a_redirect(browse, s3, path, key, log_stays_clean):
    s3.clear()
    r = requests.get(browse.url + path, allow_redirects=False, timeout=10)
    assert r.status_code == 307
    assert path_of(r.headers["Location"]) == "/demo/" + key
    assert s3.requests() == []


def test_large_folder_pages_reach_every_key_once(browse, log_stays_clean):
    url = browse.url + "/demo/listing/"
    r, page = fetch_listing(url)
    assert len(page.entries) == 1000
    assert page.next_href is not None and page.next_href.startswith("?page=")
    keys, pages = [], 0
    while True:
        pages += 1
        for row in page.entries:
            keys.append("listing/" + row["name"])
            assert path_of(urllib.parse.urljoin(url, row["href"])) == "/demo/listing/" + row["name"]
        if page.next_href is None:
            break
        url = urllib.parse.urljoin(url, page.next_href)
        assert urllib.parse.urlsplit(url).path == "/demo/listing/"
        r, page = fetch_listing(url)
        # later pages keep the breadcrumb and the parent link
        assert page.title == "Index of /demo/listing/"
        assert page.parent["href"] == "/demo/"
    assert pages == 2
    assert len(keys) == 1100 and len(set(keys)) == 1100
    assert keys == sorted(listing_objects())


def test_keys_render_as_text_never_markup(browse, log_stays_clean):
    url = browse.url + "/browse/xss/"
    r, page = fetch_listing(url)
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in [d.strip() for d in csp.split(";")]
    assert "script-src" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"

    tags = [tag for tag, _ in page.start_tags]
    assert "script" not in tags and "img" not in tags
    assert set(tags) <= LISTING_TAGS, set(tags) - LISTING_TAGS
    for tag, attributes in page.start_tags:
        assert set(attributes) <= LISTING_ATTRIBUTES, (tag, attributes)
    assert "<script" not in r.text and "<img" not in r.text

    folders, files = expected_entries(XSS_OBJECTS, "xss/")
    assert folders == ['"><script>alert(1)</']
    assert [row["name"] for row in page.entries] == folders + files

    # every link leads to the object it names
    for row in page.entries:
        link = urllib.parse.urljoin(url, row["href"])
        assert urllib.parse.urlsplit(link).path == urllib.parse.urlsplit(
            browse.url + row["href"]).path  # absolute, same origin
        assert path_of(link) == "/browse/xss/" + row["name"]
        if row["name"].endswith("/"):
            _, inner = fetch_listing(link)
            assert [e["name"] for e in inner.entries] == ["script>.txt"]
            assert "script" not in [tag for tag, _ in inner.start_tags]
            _, final = download(urllib.parse.urljoin(link, inner.entries[0]["href"]))
            assert final.content == XSS_OBJECTS['xss/"><script>alert(1)</script>.txt']
        else:
            _, final = download(link)
            assert final.content == XSS_OBJECTS["xss/" + row["name"]], row


def test_crawlers_without_javascript_get_every_file(browse, tmp_path, log_stays_clean):
    if shutil.which("wget") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wget"], check=True,
                       capture_output=True)
    for start, objects in [("/demo/files/", DEMO_OBJECTS), ("/browse/xss/", XSS_OBJECTS)]:
        out = tmp_path / start.strip("/").replace("/", "_")
        out.mkdir()
        r = subprocess.run(["wget", "--recursive", "--no-parent", "-e", "robots=off",
                            "--level=3", "--no-verbose", browse.url + start],
                           cwd=out, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        root = out / f"127.0.0.1:{browse.port}"
        prefix = start[len("/" + start.split("/")[1] + "/"):]
        bucket = start.split("/")[1]
        wanted = {k: v for k, v in objects.items() if k.startswith(prefix)}
        for key, body in wanted.items():
            local = root / bucket / key
            assert local.is_file(), (key, r.stderr)
            assert local.read_bytes() == body, key
        # the listings themselves were saved as the folders' index.html
        assert (root / bucket / prefix / "index.html").is_file()
        # wget stayed below the start (--no-parent): nothing else downloaded
        downloaded = {str(p.relative_to(root / bucket)) for p in root.rglob("*") if p.is_file()}
        # each file's download link (s3_proxy_download_param) saved the
        # same bytes under `<name>?download`
        for link in [d for d in downloaded if d.endswith("?download")]:
            assert (root / bucket / link).read_bytes() == \
                (root / bucket / link[:-len("?download")]).read_bytes(), link
        downloaded = {d for d in downloaded if not d.endswith("?download")}
        assert {d for d in downloaded if not d.endswith("index.html")} == set(wanted)


def test_lynx_dump_lists_the_folder(browse, log_stays_clean):
    if shutil.which("lynx") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "lynx"], check=True,
                       capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    r = subprocess.run(["lynx", "-dump", "-nolist", browse.url + "/demo/files/"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for name in expected_entries(DEMO_OBJECTS, "files/")[1]:
        assert name in r.stdout


# --------------------------------------------------------------------------
# listings off, other index documents, methods
# --------------------------------------------------------------------------

def test_listing_off_by_default(proxy, s3):
    s3.clear()
    r = requests.get(proxy.url + "/demo/files/", allow_redirects=False, timeout=10)
    assert r.status_code == 404
    assert "<Code>NoSuchKey</Code>" in r.text
    assert "xml" in r.headers["Content-Type"]
    assert "Content-Security-Policy" not in r.headers
    assert [(x["path"], x["query"]) for x in s3.requests()] == [("/demo/files/index.html", "")]
    # ?page= is not a parameter objects or index pages take
    s3.clear()
    for path in ["/demo/files/?page=x", "/demo/listing/?page=abc%2B%2F%3D"]:
        r = requests.get(proxy.url + path, allow_redirects=False, timeout=10)
        assert r.status_code == 403, path
    assert s3.requests() == []


def test_custom_index_document(make_nginx, s3, seeded):
    nginx = make_nginx(s3_environment(s3), locations="""
        location / {
            s3_proxy on;
            s3_proxy_listing on;
            s3_proxy_index default.htm;
            include s3_proxy.conf;
        }
""")
    # a folder with the configured page is served it
    r = requests.get(nginx.url + "/browse/site/", allow_redirects=False, timeout=10)
    assert r.status_code == 200
    assert r.content == SITE_OBJECTS["site/default.htm"]
    # ...which is itself proxied by name, not redirected
    r = requests.get(nginx.url + "/browse/site/default.htm", allow_redirects=False, timeout=10)
    assert r.status_code == 200 and r.content == SITE_OBJECTS["site/default.htm"]

    # /demo/docs/ has only index.html: now it is listed
    _, docs = fetch_listing(nginx.url + "/demo/docs/")
    assert [row["name"] for row in docs.entries] == ["guide.txt", "index.html"]
    _, root = fetch_listing(nginx.url + "/demo/")
    assert [row["name"] for row in root.entries] == ["docs/", "files/", "listing/",
                                                     "index.html"]

    # and index.html is an ordinary object: a redirect, not proxied
    s3.clear()
    r = requests.get(nginx.url + "/demo/docs/index.html", allow_redirects=False, timeout=10)
    assert r.status_code == 307
    assert path_of(r.headers["Location"]) == "/demo/docs/index.html"
    assert s3.requests() == []
    _, final = download(nginx.url + "/demo/docs/index.html")
    assert final.content == DEMO_OBJECTS["docs/index.html"]

    # a missing default.htm by name is S3's 404, not a listing
    r = requests.get(nginx.url + "/demo/docs/default.htm", allow_redirects=False, timeout=10)
    assert r.status_code == 404 and "<Code>NoSuchKey</Code>" in r.text


def test_listings_reach_s3_only_with_get_and_head(browse, s3, log_stays_clean):
    s3.clear()
    _, first = fetch_listing(browse.url + "/demo/listing/")
    requests.head(browse.url + "/demo/files/", timeout=10)
    requests.get(browse.url + "/demo/nope/", timeout=10)
    requests.get(browse.url + "/demo/listing/" + first.next_href, timeout=10)
    seen = s3.requests()
    assert seen and all(x["verified"] for x in seen), seen
    assert {x["method"] for x in seen} <= {"GET", "HEAD"}
    assert [(x["method"], x["path"], x["query"]) for x in seen[:2]] == [
        ("GET", "/demo/listing/index.html", ""),
        ("GET", "/demo", "delimiter=%2F&list-type=2&prefix=listing%2F"),
    ]

    for method in ["POST", "PUT", "DELETE", "PATCH"]:
        for path in ["/demo/files/", "/demo/nope/", "/demo/listing/" + first.next_href,
                     "/browse/xss/"]:
            s3.clear()
            r = requests.request(method, browse.url + path, data=b"<x/>",
                                 allow_redirects=False, timeout=10)
            assert r.status_code == 405, (method, path)
            assert r.headers["Allow"] == "GET, HEAD"
            assert s3.requests() == [], (method, path)


def test_errors_of_later_pages_pass_through(browse, log_stays_clean):
    # An empty continuation token: S3 (here moto) refuses it; the module
    # renders nothing and passes S3's answer on.
    r = requests.get(browse.url + "/demo/listing/?page=", timeout=10)
    assert r.status_code == 400
    assert "<Code>InvalidArgument</Code>" in r.text
    assert "Content-Security-Policy" not in r.headers


# Found by this suite: the header filter checked r->header_only, which
# nginx sets only later, so a HEAD was rendered as an empty page and 404.
def test_head_of_listed_folder_matches_get(browse, log_stays_clean):
    get = requests.get(browse.url + "/demo/files/", timeout=10)
    head = requests.head(browse.url + "/demo/files/", timeout=10)
    assert get.status_code == 200
    assert head.status_code == get.status_code
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Content-Security-Policy"] == get.headers["Content-Security-Policy"]
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    # a prefix without objects: 404 for a HEAD too
    assert requests.head(browse.url + "/demo/nope/", timeout=10).status_code == 404


def test_s3_error_for_the_listing_reaches_the_client(browse, s3):
    # The listing answers in place of the index page's 404: when S3 fails
    # it, the client gets S3's status and cleaned error document.
    fault = {"path": "/demo", "status": 503, "code": "SlowDown", "times": 1}
    urllib.request.urlopen(urllib.request.Request(
        s3.endpoint + "/__s3server/faults", data=json.dumps(fault).encode(),
        method="POST")).read()
    r = requests.get(browse.url + "/demo/files/", timeout=10)
    assert r.status_code == 503
    assert "<Code>SlowDown</Code>" in r.text and "RequestId" not in r.text
    assert "Content-Security-Policy" not in r.headers
    r = requests.get(browse.url + "/demo/files/", timeout=10)
    assert r.status_code == 200 and "hello.txt" in r.text


# Found by this suite: the breadcrumb of a deep folder (quadratic in its
# depth) outgrew s3p_render_bound, and the request failed.
def test_deep_folder_is_listed(browse, log_stays_clean):
    try:
        r = requests.get(browse.url + "/browse/" + DEEP_FOLDER, timeout=10)
    except requests.ConnectionError as err:
        pytest.fail(f"no answer: {err}")
    assert r.status_code == 200
    assert [row["name"] for row in Listing(r.text).entries] == ["x.txt"]


# --------------------------------------------------------------------------
# a real browser
# --------------------------------------------------------------------------

class Chromium:
    def __init__(self, binary):
        self.binary = binary
        self.profile = tempfile.mkdtemp(prefix="s3p-chromium-")

    def run(self, *args, timeout=60):
        command = [self.binary, "--headless=new", "--no-sandbox", "--disable-gpu",
                   f"--user-data-dir={self.profile}", "--no-first-run", *args]
        r = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, (command, r.stderr[-3000:])
        return r

    def dump_dom(self, url):
        return self.run("--virtual-time-budget=5000", "--dump-dom", url).stdout

    def cleanup(self):
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium():
    binary = shutil.which("chromium")
    if binary is None:
        started = time.monotonic()
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", "chromium"]
        r = subprocess.run(install, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
            r = subprocess.run(install, capture_output=True, text=True, env=env)
        binary = shutil.which("chromium")
        if binary is None:
            pytest.fail("cannot install Debian's chromium (apt-get install -y -qq "
                        f"chromium exited {r.returncode}):\n{r.stdout[-2000:]}"
                        f"\n{r.stderr[-2000:]}")
        print(f"installed chromium in {time.monotonic() - started:.1f}s")
    browser = Chromium(binary)
    yield browser
    browser.cleanup()


class BrowserPage(HTMLParser):
    """What the JavaScript page rendered (from Chromium's DOM dump)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.lists = {}          # ul id -> [(href, text)]
        self.status = ""
        self.state = None
        self.pages = None
        self.title = ""
        self._ul = None
        self._link = None
        self._in = set()
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "ul":
            self._ul = attributes.get("id")
            self.lists.setdefault(self._ul, [])
        elif tag == "a" and self._ul is not None:
            self._link = [attributes.get("href"), ""]
        elif tag == "p" and attributes.get("id") == "status":
            self._in.add("status")
            self.state = attributes.get("data-state")
            self.pages = attributes.get("data-pages")
        elif tag == "h1":
            self._in.add("h1")

    def handle_endtag(self, tag):
        if tag == "ul":
            self._ul = None
        elif tag == "a" and self._link is not None:
            self.lists[self._ul].append(tuple(self._link))
            self._link = None
        elif tag in ("p", "h1"):
            self._in.discard("status" if tag == "p" else "h1")

    def handle_data(self, data):
        if self._link is not None:
            self._link[1] += data
        if "status" in self._in:
            self.status += data
        if "h1" in self._in:
            self.title += data


def spa_expected(prefix):
    folders, files = expected_entries(
        {**SPA_OBJECTS, **{f + "index.html": b"" for f in SPA_PAGE_FOLDERS}}, prefix)
    files = [f for f in files if f != "index.html"]
    folder_links = [(urllib.parse.quote(f[:-1], safe="!'()*") + "/", f) for f in folders]
    file_links = [("/spa/" + "/".join(urllib.parse.quote(s, safe="!'()*~")
                                      for s in (prefix + f).split("/")), f) for f in files]
    return folder_links, file_links


@pytest.mark.parametrize("folder", ["", "a/", "a/b/", "a/sp ace#?/"])
def test_uploaded_listing_page_renders_in_chromium(browse, chromium, seeded, folder):
    url = browse.url + "/spa/" + urllib.parse.quote(folder)
    page = BrowserPage(chromium.dump_dom(url))
    assert page.state == "done", page.status
    assert page.title == "/spa/" + folder
    folder_links, file_links = spa_expected(folder)
    assert page.lists["folders"] == folder_links
    assert page.lists["files"] == file_links
    assert page.lists["parent"] == ([("../", "../")] if folder else [])
    # the relative folder links load the same page from the sub-folder
    for href, _ in folder_links:
        sub = requests.get(urllib.parse.urljoin(url, href), allow_redirects=False, timeout=10)
        assert sub.status_code == 200 and sub.content == seeded["page"]


def test_uploaded_listing_page_follows_next_marker(browse, chromium, s3):
    s3.clear()
    page = BrowserPage(chromium.dump_dom(browse.url + "/spa/many/#max-keys=3"))
    assert page.state == "done", page.status
    folder_links, file_links = spa_expected("many/")
    assert page.lists["folders"] == folder_links
    assert page.lists["files"] == file_links       # each file exactly once
    assert int(page.pages) >= 4
    listed = [x for x in s3.requests() if x["path"] == "/spa/"]
    assert len(listed) == int(page.pages)
    assert all(x["verified"] and x["method"] == "GET" for x in listed)
    markers = [dict(urllib.parse.parse_qsl(x["query"], keep_blank_values=True))["marker"]
               for x in listed]
    assert markers[0] == "" and len(set(markers)) == len(markers)


def test_file_links_from_the_browser_download(browse, chromium):
    page = BrowserPage(chromium.dump_dom(browse.url + "/spa/a/"))
    assert page.state == "done", page.status
    assert page.lists["files"]
    for href, name in page.lists["files"]:
        first, final = download(urllib.parse.urljoin(browse.url + "/spa/a/", href))
        assert path_of(first.url) == "/spa/a/" + name
        assert final.content == SPA_OBJECTS["a/" + name], name


def png_pixels(data):
    """(width, height, distinct byte values of the decoded image data)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_builtin_listing_in_chromium(browse, chromium, tmp_path):
    url = browse.url + "/demo/files/"
    # rendered without JavaScript, under its CSP: the links are all there
    dom = chromium.dump_dom(url)
    page = Listing(dom)
    _, served = fetch_listing(url)
    assert [(row["href"], row["name"]) for row in page.rows] == \
        [(row["href"], row["name"]) for row in served.rows]

    shot = tmp_path / "listing.png"
    chromium.run(f"--screenshot={shot}", "--window-size=1024,768", url)
    data = shot.read_bytes()
    width, height, distinct = png_pixels(data)
    assert (width, height) == (1024, 768)
    assert len(data) > 10_000
    assert distinct > 16     # text on a background, not a blank page


# --------------------------------------------------------------------------
# links that could leave the site
# --------------------------------------------------------------------------

HOSTILE_OBJECTS = {"/evil.example.com": b"a key with a leading slash\n",
                   "ok.txt": b"an ordinary key\n"}


def test_listing_links_never_leave_the_site_at_a_root_mount(s3, seeded):
    """A location mounted at `/` with its own bucket: a key `/evil...`
    would make `href="//evil.example.com"` (another host) after the base
    `/`; its link stays on the proxy and still reaches that key."""
    client = s3_client(s3)
    create_bucket(client, "hostile")
    for key, body in HOSTILE_OBJECTS.items():
        client.put_object(Bucket="hostile", Key=key, Body=body,
                          ContentType="text/plain")
    nginx = Nginx(s3_environment(s3), locations="""
        location / {
            s3_proxy on;
            s3_proxy_bucket hostile;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }""").start()
    try:
        # the root lists the folder "/" (S3's common prefix of "/evil...");
        # its listing holds the key itself
        hrefs = []
        for path in ("/", "/%2F"):
            r = requests.get(nginx.url + path, allow_redirects=False,
                             timeout=10)
            assert r.status_code == 200, (path, r.text[:300])
            hrefs += re.findall(r'href="([^"]*)"', r.text)
        assert "/%2F" in hrefs, hrefs
        for href in hrefs:
            assert not href.startswith("//"), href
            assert "\\" not in href, href
            assert href.startswith("/") or href.startswith("?"), href
        evil = [h for h in hrefs if "evil.example.com" in h]
        assert evil == ["/%2Fevil.example.com", "/%2Fevil.example.com?download"], hrefs
        first = requests.get(nginx.url + evil[0], allow_redirects=False,
                             timeout=10)
        assert first.status_code == 307, (evil[0], first.status_code)
        final = requests.get(nginx.url + evil[0], timeout=10)
        assert final.status_code == 200
        assert final.content == HOSTILE_OBJECTS["/evil.example.com"]
        assert not nginx.bad_log_lines()
    finally:
        nginx.cleanup()

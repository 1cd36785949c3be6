"""Every link of a built-in listing stays on the proxy, whatever the key
(issue 22): a leading `/` or `//`, backslashes (which browsers read as
`/`), schemes (`javascript:`, `https:`, `data:`), spaces and control bytes.

The worst case is a location mounted at `/` with its own bucket, where
every link is `/` and the key.  Headless Chromium resolves every link of
every listing page (crawling the folders the listings link to) with its
own URL parser, as a click would, and no link's origin may differ from
the proxy's.  Each key's link still reaches that key.
"""

import json
import os
import re
import shutil
import tempfile

import boto3
import botocore.config
import pytest
import requests

from harness import ACCESS_KEY, REGION, SECRET_KEY, Nginx, s3_environment
from test_browsing import chromium  # noqa: F401 (the fixture)

HOSTILE_KEYS = [
    "/evil1.example.com",
    "//evil2.example.com/x",
    "///evil3.example.com",
    "\\evil4.example.com",
    "\\\\evil5.example.com",
    "/\\evil6.example.com",
    "\\/evil7.example.com",
    "javascript:alert(1)",
    "javascript:/x/alert(2)",
    "JaVaScRiPt:alert(3)",
    "https:evil8.example.com",
    "https://evil9.example.com/z",
    "http:\\\\evil10.example.com",
    "data:text/html,<script>alert(4)</script>",
    " //evil11.example.com",
    "\t//evil12.example.com",
    "\x01/evil13.example.com",
    "\x1f//evil14.example.com",
    "\x7f//evil15.example.com",
    "%2F%2Fevil16.example.com",
    "?x=//evil17.example.com",
    "#//evil18.example.com",
    "ok.txt",
]

# Loaded from the proxy's own origin: fetches each listing, resolves each
# href against the listing's URL as Chromium does when a link is
# followed, and crawls the folders.  The listings' CSP forbids framing
# and scripts, so the check runs beside them, not inside.
CHECKER = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>links</title></head><body>
<pre id="out">running</pre>
<script>
(async () => {
  const seen = new Set(), queue = ["/"], links = [];
  while (queue.length && seen.size < 200) {
    const page = new URL(queue.shift(), location.origin).href;
    if (seen.has(page)) continue;
    seen.add(page);
    const answer = await fetch(page, {redirect: "manual"});
    if (!(answer.headers.get("content-type") || "").startsWith("text/html")) continue;
    const doc = new DOMParser().parseFromString(await answer.text(), "text/html");
    for (const a of doc.querySelectorAll("a[href]")) {
      const raw = a.getAttribute("href");
      const url = new URL(raw, page);
      links.push({page: page, href: raw, resolved: url.href, origin: url.origin,
                  text: a.textContent});
      if (url.origin === location.origin && url.pathname.endsWith("/")
          && !url.search) queue.push(url.href);
    }
  }
  document.getElementById("out").textContent =
      JSON.stringify({origin: location.origin, pages: [...seen], links: links});
})().catch(e => { document.getElementById("out").textContent = "ERROR " + e; });
</script></body></html>
"""


@pytest.fixture(scope="module")
def hostile(s3):
    client = boto3.client(
        "s3", endpoint_url=s3.endpoint, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name=REGION,
        config=botocore.config.Config(s3={"addressing_style": "path"}))
    try:
        client.create_bucket(Bucket="hostile-links")
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    for i, key in enumerate(HOSTILE_KEYS):
        client.put_object(Bucket="hostile-links", Key=key, Body=b"key %d\n" % i,
                          ContentType="text/plain")
    pages = tempfile.mkdtemp(prefix="s3p-links-")
    with open(os.path.join(pages, "check.html"), "w") as f:
        f.write(CHECKER)
    os.chmod(pages, 0o755)
    nginx = Nginx(s3_environment(s3), locations=f"""
        location = /__check.html {{
            root {pages};
            try_files /check.html =404;
        }}
        location / {{
            s3_proxy on;
            s3_proxy_bucket hostile-links;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }}""").start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    shutil.rmtree(pages, ignore_errors=True)
    assert not bad, "error log:\n" + "\n".join(bad)


def test_no_listing_link_leaves_the_site_in_chromium(hostile, chromium, s3):  # noqa: F811
    s3.clear()
    dom = chromium.dump_dom(hostile.url + "/__check.html")
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<") \
        .replace("&gt;", ">").replace("&amp;", "&")
    assert not text.startswith("ERROR") and text != "running", text
    result = json.loads(text)
    origin = result["origin"]
    assert origin == hostile.url
    links = result["links"]
    assert len(result["pages"]) >= 3 and len(links) >= len(HOSTILE_KEYS)
    away = [link for link in links if link["origin"] != origin]
    assert away == [], away
    for link in links:
        assert link["resolved"].startswith(origin + "/"), link
        assert not link["href"].startswith("//"), link
        assert "\\" not in link["href"], link
        assert link["href"].startswith("/") or link["href"].startswith("?"), link
    # what reached S3: folders' index pages and listings, each signed, and
    # the favicon Chromium asks for; no hostile key was fetched
    records = s3.requests()
    assert records and all(r["verified"] for r in records)
    paths = {r["path"] for r in records}
    assert "/hostile-links" in paths
    assert all(p == "/hostile-links" or p.endswith("/index.html")
               or p == "/hostile-links/favicon.ico" for p in paths), paths
    assert not hostile.bad_log_lines()


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_each_hostile_key_link_reaches_its_key(hostile, key):
    """The listing that holds the key links to it, on the proxy, and the
    link downloads that key (a 307 to S3, followed)."""
    folder = key[:key.rfind("/") + 1] if "/" in key else ""
    pages = ["/" + "".join("%2F" if i == 0 and c == "/" else
                           requests.utils.quote(c, safe="/")
                           for i, c in enumerate(folder))]
    body = None
    for page in pages:
        r = requests.get(hostile.url + page, timeout=10)
        assert r.status_code == 200, (page, r.status_code)
        body = r.text
    rows = re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', body)
    name = key[len(folder):]
    hrefs = [href for href, text in rows
             if text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
             .replace("&quot;", '"').replace("&#39;", "'") == name]
    assert len(hrefs) == 1, (key, rows)
    href = hrefs[0].replace("&amp;", "&")
    assert href.startswith("/") and not href.startswith("//"), href
    first = requests.get(hostile.url + href, allow_redirects=False, timeout=10)
    assert first.status_code == 307, (key, href, first.status_code)
    final = requests.get(hostile.url + href, timeout=10)
    assert final.status_code == 200
    assert final.content == b"key %d\n" % HOSTILE_KEYS.index(key)

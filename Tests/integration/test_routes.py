"""What each kind of request gets, against the real nginx and the local S3."""

import urllib.parse

import pytest
import requests

from s3server import DEMO_OBJECTS


def get(proxy, path, method="GET", **kwargs):
    return requests.request(method, proxy.url + path, allow_redirects=False,
                            timeout=10, **kwargs)


def test_object_get_redirects_to_presigned_url(proxy, s3):
    r = get(proxy, "/demo/files/hello.txt")
    assert r.status_code == 307
    location = r.headers["Location"]
    url = urllib.parse.urlsplit(location)
    assert f"{url.scheme}://{url.netloc}" == s3.endpoint
    assert url.path == "/demo/files/hello.txt"
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query["X-Amz-Expires"] == "300"
    assert query["X-Amz-SignedHeaders"] == "host"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    # the client downloads from S3 itself, which checks the signature
    body = requests.get(location, timeout=10)
    assert body.status_code == 200
    assert body.content == DEMO_OBJECTS["files/hello.txt"]


def test_redirect_contacts_nothing(proxy, s3):
    s3.clear()
    assert get(proxy, "/demo/files/data.bin").status_code == 307
    assert s3.requests() == []


def test_head_redirect_is_signed_for_head(proxy, s3):
    r = get(proxy, "/demo/files/data.bin", method="HEAD")
    assert r.status_code == 307
    head = requests.head(r.headers["Location"], timeout=10)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(DEMO_OBJECTS["files/data.bin"])


def test_range_request_through_redirect(proxy):
    r = requests.get(proxy.url + "/demo/files/data.bin",
                     headers={"Range": "bytes=100-199"}, timeout=10)
    assert r.status_code == 206
    assert r.content == DEMO_OBJECTS["files/data.bin"][100:200]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_and_reach_nothing(proxy, s3, method):
    s3.clear()
    r = get(proxy, "/demo/files/hello.txt", method=method, data=b"x")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"
    assert s3.requests() == []


@pytest.mark.parametrize("path", ["/demo/", "/demo/index.html",
                                  "/demo/docs/", "/demo/docs/index.html"])
def test_index_pages_are_proxied(proxy, s3, path):
    s3.clear()
    r = get(proxy, path)
    assert r.status_code == 200
    key = path[len("/demo/"):]
    if key == "" or key.endswith("/"):
        key += "index.html"
    assert r.content == DEMO_OBJECTS[key]
    seen = s3.requests()
    assert len(seen) == 1 and seen[0]["verified"], seen
    assert seen[0]["auth"] == "header"
    assert seen[0]["path"] == "/demo/" + key


def test_head_of_index_page_is_proxied_as_head(proxy, s3):
    s3.clear()
    r = get(proxy, "/demo/docs/index.html", method="HEAD")
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(DEMO_OBJECTS["docs/index.html"])
    seen = s3.requests()
    assert [x["method"] for x in seen] == ["HEAD"] and seen[0]["verified"]


def test_listing_v1_with_raw_slash_like_s3_bucket_listing(proxy, s3):
    s3.clear()
    r = get(proxy, "/demo/?delimiter=/&prefix=docs/&marker=")
    assert r.status_code == 200
    assert "<Key>docs/guide.txt</Key>" in r.text
    seen = s3.requests()
    assert seen[0]["verified"], seen
    assert seen[0]["query"] == "delimiter=%2F&marker=&prefix=docs%2F"


def test_listing_v2_paginates_past_1000(proxy):
    keys, token = [], None
    while True:
        params = {"list-type": "2", "prefix": "listing/"}
        if token:
            params["continuation-token"] = token
        r = get(proxy, "/demo?" + urllib.parse.urlencode(params))
        assert r.status_code == 200, r.text
        import xml.etree.ElementTree as ET
        root = ET.fromstring(r.content)
        ns = {"s3": root.tag.split("}")[0][1:]}
        keys += [k.text for k in root.findall("s3:Contents/s3:Key", ns)]
        token_el = root.find("s3:NextContinuationToken", ns)
        if root.find("s3:IsTruncated", ns).text != "true":
            break
        token = token_el.text
    assert len(keys) == 1100
    assert len(set(keys)) == 1100


def test_missing_index_page_is_404(proxy):
    assert get(proxy, "/demo/files/").status_code == 404


def test_root_is_refused(proxy, s3):
    s3.clear()
    assert get(proxy, "/").status_code == 403
    assert s3.requests() == []


@pytest.mark.parametrize("key", ["files/with space.txt", "files/plus+sign.txt",
                                 "files/100% sure.txt", "files/ünïcødé.txt",
                                 "files/question?.txt", "files/hash#tag.txt"])
@pytest.mark.parametrize("quote", [
    lambda k: urllib.parse.quote(k, safe="/"),          # RFC 3986 style
    lambda k: urllib.parse.quote(k, safe="/!*'()+"),    # encodeURIComponent-ish, raw +
])
def test_awkward_keys_download_byte_for_byte(proxy, key, quote):
    r = requests.get(proxy.url + "/demo/" + quote(key), timeout=10)
    assert r.status_code == 200, (key, r.text)
    assert r.content == DEMO_OBJECTS[key]

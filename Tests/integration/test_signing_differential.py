"""Differential fuzzing of the signer against botocore: hypothesis draws
keys, listing queries, settings and signing instants; the module's answer
(s3p-sign, through the same C entry point nginx calls) must equal what
botocore's S3 signers compute for the same inputs.  Where the module
refuses, the input must be one S3 could not take (a key over 1,024 bytes, a
`..` climbing out of the bucket)."""

import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from test_signing_botocore import (Config, botocore_authorization,
                                   botocore_presigned_url, s3p_sign, url_parts)

# Keys: any Unicode text without surrogates, biased toward the characters
# that encoders disagree on.
awkward = st.sampled_from(list(" +%#?&=;:@!*'()[]$,~/\\\"<>^`{|}") + ["é", "日", "😀", "\x01", "\x7f"])
key_text = st.lists(st.one_of(awkward, st.characters(blacklist_categories=("Cs",))),
                    min_size=1, max_size=60).map("".join)
configs = st.builds(
    Config,
    token=st.sampled_from(["", "FQoG/token+with=chars"]),
    region=st.sampled_from(["us-east-1", "eu-west-3", "auto"]),
    host=st.sampled_from(["127.0.0.1:9000", "s3.eu-west-3.amazonaws.com", "[::1]:9000"]),
    scheme=st.sampled_from(["http", "https"]),
    expires=st.integers(min_value=1, max_value=604_800),
)
instants = st.integers(min_value=0, max_value=4_102_444_800)


def stays_in_bucket(key):
    depth = 0
    for segment in key.split("/"):
        if segment == "..":
            depth -= 1
            if depth < 0:
                return False
        elif segment not in ("", "."):
            depth += 1
    return True


def is_redirected_object(key):
    last = key.rsplit("/", 1)[-1]
    return not key.endswith("/") and last != "index.html"


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(key=key_text, cfg=configs, when=instants, method=st.sampled_from(["GET", "HEAD"]),
       encoding=st.sampled_from(["rfc3986", "component"]))
def test_presigned_urls_equal_botocore(key, cfg, when, method, encoding):
    safe = "/" if encoding == "rfc3986" else "/!*'()"
    raw_path = "/bucket-1/" + urllib.parse.quote(key, safe=safe)
    out = s3p_sign(cfg, method, raw_path, when=when)
    encoded = key.encode()
    if len(encoded) > 1024 or not stays_in_bucket(key):
        assert out["action"] == "refuse", out
        return
    if not is_redirected_object(key):
        assert out["action"] == "proxy", out
        return
    assert out["action"] == "redirect", out
    path = "/bucket-1/" + urllib.parse.quote(key, safe="/~")
    expected = botocore_presigned_url(method, f"{cfg.scheme}://{out['url'].split('://')[1].split('/')[0]}{path}",
                                      cfg, when)
    assert url_parts(out["url"]) == url_parts(expected)


listing_params = st.dictionaries(
    st.sampled_from(["prefix", "delimiter", "marker", "start-after", "max-keys",
                     "continuation-token", "encoding-type", "fetch-owner"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    max_size=5)


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(params=listing_params, v2=st.booleans(), cfg=configs, when=instants,
       slash=st.booleans())
def test_listing_authorization_equals_botocore(params, v2, cfg, when, slash):
    query = dict(params)
    if v2:
        query["list-type"] = "2"
    raw_query = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    raw_path = "/bucket-1/" if slash else "/bucket-1"
    out = s3p_sign(cfg, "GET", raw_path, raw_query, when=when)
    if not query and slash:
        assert out["action"] == "proxy"  # the bucket's index page
        return
    assert out["action"] == "proxy", out
    expected = botocore_authorization("GET", out["url"], cfg, when)
    assert out["authorization"] == expected

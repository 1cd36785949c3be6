"""The module's SigV4 signatures, checked against botocore (the AWS SDK for
Python) and against an independent SigV4 written below with hmac/hashlib.

Three references agree or the test fails:

* s3p-sign (Sources/s3p-sign), which answers one request through the same
  C entry points as the nginx module, at a fixed `--time`;
* botocore's S3 signers, `S3SigV4QueryAuth` for presigned URLs and
  `S3SigV4Auth` for header auth, with their clock frozen at the same instant;
* `ref_*` below: SigV4 for S3 straight from the AWS pages, pinned to AWS's
  published examples (/work/shared/sigv4-vectors.md) in the last section.

How botocore was checked to be a fair reference (botocore 1.43, auth.py):

* The clock: every SigV4 signer takes `botocore.auth.get_current_datetime()`
  (imported from botocore.compat, `datetime.datetime.now(timezone.utc)` with
  the tzinfo dropped) and formats it as the timestamp; `frozen_clock` patches
  that name in botocore.auth, and every botocore result is checked to carry
  the frozen X-Amz-Date so a silently ineffective patch cannot pass.
* The path: botocore's plain `SigV4Auth` normalises the path
  (`normalize_url_path`: `.`/`..` resolved, `//` merged) and quotes it again,
  right for other services and wrong for S3.  The S3 classes override
  `_normalize_url_path` to return the path untouched, and `AWSRequest` keeps
  the URL as given, so for S3 botocore signs the path we give it byte for
  byte, including `//`, `/./` and `/../`.  We give it the key UriEncoded
  (`/` kept); `test_botocore_s3_signers_sign_the_path_verbatim` pins this,
  so no key needs the independent implementation instead of botocore.  The
  independent one is compared on every case anyway.
* The query: for a URL, botocore splits and sorts the query without
  re-encoding it; for `params` it UriEncodes names and values itself.
  Header-auth cases use both: the printed URL (what the module sends
  upstream) and the client's parameters decoded here and handed over as
  `params`, so botocore canonicalises them independently of the module.
* The host: botocore takes the host header from the URL, lowercased, without
  a default port (`_host_from_url`), as browsers, curl and urllib3 send it.

Run: S3P_SIGN=$PWD/.build/debug/s3p-sign python3 -m pytest -q \
         -p no:cacheprovider Tests/integration/test_signing_botocore.py
"""

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import os
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass, replace
from unittest import mock

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import (ACCESS_KEY, REGION, ROOT, SECRET_KEY, Nginx, S3Server,
                     s3_environment)
from s3server import DEMO_OBJECTS

S3P_SIGN = os.environ.get("S3P_SIGN") or os.path.join(ROOT, ".build", "debug", "s3p-sign")

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

# 2023-11-14T22:13:20Z: the instant every offline case is signed at.
NOW = 1_700_000_000

# Credentials with the characters that need encoding in a URL.
TEST_ACCESS_KEY = "AKIDEXAMPLE42"
TEST_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TEST_TOKEN = ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+"
              "s3proxy/test+token/AAAA==")
BUCKET = "demo-bucket.v2"


# ---------------------------------------------------------------------------
# Independent SigV4 for S3 (hmac/hashlib only)
# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
# ---------------------------------------------------------------------------

UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def uri_encode(data, keep_slash):
    """AWS UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as %XX (uppercase)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return "".join(chr(b) if b in UNRESERVED or (keep_slash and b == 0x2F)
                   else f"%{b:02X}" for b in data)


def parse_raw_query(raw):
    """A client's raw query as S3 reads it: `&`-separated, empty items
    skipped, `+` a space, %XX decoded once.  Returns (name, value) bytes."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    pairs = []
    for item in raw.split(b"&"):
        if not item:
            continue
        name, _, value = item.partition(b"=")
        pairs.append((urllib.parse.unquote_to_bytes(name.replace(b"+", b" ")),
                      urllib.parse.unquote_to_bytes(value.replace(b"+", b" "))))
    return pairs


def ref_canonical_query(pairs):
    encoded = sorted((uri_encode(n, False), uri_encode(v, False)) for n, v in pairs)
    return "&".join(f"{n}={v}" for n, v in encoded)


def ref_signing_key(secret, date, region):
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def ref_canonical_request(method, path, query, headers, payload_hash):
    """`headers`: (lowercase name, value) pairs, sorted by name."""
    return "\n".join([
        method, path, query,
        "".join(f"{n}:{v}\n" for n, v in headers),
        ";".join(n for n, _ in headers),
        payload_hash,
    ])


def ref_signature(canonical_request, amz_date, region, secret):
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    string_to_sign = "\n".join([
        ALGORITHM, amz_date, scope,
        hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    key = ref_signing_key(secret, amz_date[:8], region)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def amz_date(when):
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def ref_presigned_url(method, path, cfg, when):
    """The presigned URL, its query in canonical order, then the signature."""
    date = amz_date(when)
    params = [
        (b"X-Amz-Algorithm", ALGORITHM.encode()),
        (b"X-Amz-Credential",
         f"{cfg.access_key}/{date[:8]}/{cfg.region}/s3/aws4_request".encode()),
        (b"X-Amz-Date", date.encode()),
        (b"X-Amz-Expires", str(cfg.expires).encode()),
        (b"X-Amz-SignedHeaders", b"host"),
    ]
    if cfg.token:
        params.append((b"X-Amz-Security-Token", cfg.token.encode()))
    query = ref_canonical_query(params)
    canonical = ref_canonical_request(method, path, query,
                                      [("host", cfg.external_host)], UNSIGNED_PAYLOAD)
    signature = ref_signature(canonical, date, cfg.region, cfg.secret_key)
    return (f"{cfg.scheme}://{cfg.external_host}{path}?{query}"
            f"&X-Amz-Signature={signature}")


def ref_authorization(method, path, query, cfg, when, host=None):
    date = amz_date(when)
    headers = [("host", host or cfg.host), ("x-amz-content-sha256", EMPTY_SHA256),
               ("x-amz-date", date)]
    if cfg.token:
        headers.append(("x-amz-security-token", cfg.token))
    canonical = ref_canonical_request(method, path, query, headers, EMPTY_SHA256)
    signature = ref_signature(canonical, date, cfg.region, cfg.secret_key)
    return (f"{ALGORITHM} Credential={cfg.access_key}/{date[:8]}/{cfg.region}/s3/"
            f"aws4_request, SignedHeaders={';'.join(n for n, _ in headers)}, "
            f"Signature={signature}")


# ---------------------------------------------------------------------------
# botocore, with its clock frozen
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def frozen_clock(when):
    """Every botocore SigV4 signer reads the time through
    botocore.auth.get_current_datetime (naive UTC)."""
    instant = dt.datetime.fromtimestamp(when, dt.timezone.utc).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime",
                           lambda *args, **kwargs: instant):
        yield


def credentials(cfg):
    return Credentials(cfg.access_key, cfg.secret_key, cfg.token or None)


def botocore_presigned_url(method, url, cfg, when):
    request = AWSRequest(method=method, url=url)
    with frozen_clock(when):
        S3SigV4QueryAuth(credentials(cfg), "s3", cfg.region,
                         expires=cfg.expires).add_auth(request)
    assert f"X-Amz-Date={amz_date(when)}&" in request.url, "frozen clock not used"
    return request.url


def botocore_authorization(method, url, cfg, when, params=None, extra=None):
    """S3SigV4Auth over `url` (and `params`, which botocore encodes itself)
    with the headers the module sends (and `extra` ones).  botocore sets
    X-Amz-Date, X-Amz-Content-SHA256 and X-Amz-Security-Token itself as
    well; the values given here must survive that."""
    headers = {"X-Amz-Date": amz_date(when), "X-Amz-Content-SHA256": EMPTY_SHA256,
               **(extra or {})}
    if cfg.token:
        headers["X-Amz-Security-Token"] = cfg.token
    request = AWSRequest(method=method, url=url, headers=headers, params=params)
    with frozen_clock(when):
        S3SigV4Auth(credentials(cfg), "s3", cfg.region).add_auth(request)
    assert request.headers["X-Amz-Date"] == amz_date(when), "frozen clock not used"
    assert request.headers["X-Amz-Content-SHA256"] == EMPTY_SHA256
    return request.headers["Authorization"]


def url_parts(url):
    """scheme, host, path and the query items as sent (still encoded),
    sorted: botocore puts X-Amz-Security-Token after X-Amz-SignedHeaders,
    the module writes the query in canonical order; the order is not signed."""
    parts = urllib.parse.urlsplit(url)
    assert not parts.fragment, url
    return parts.scheme, parts.netloc, parts.path, sorted(parts.query.split("&"))


# ---------------------------------------------------------------------------
# s3p-sign
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    access_key: str = TEST_ACCESS_KEY
    secret_key: str = TEST_SECRET_KEY
    token: str = ""
    region: str = "us-east-1"
    host: str = "127.0.0.1:9000"
    external_host: str = "127.0.0.1:9000"
    scheme: str = "http"
    expires: int = 300

    def env(self):
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_HOST": self.host,
            "AWS_ENDPOINT_SCHEME": self.scheme,
            "S3_PROXY_EXPIRES": str(self.expires),
        }
        if self.external_host != self.host:
            env["AWS_ENDPOINT_HOST_EXTERNAL"] = self.external_host
        if self.token:
            env["AWS_SESSION_TOKEN"] = self.token
        return env


def s3p_sign(cfg, method, raw_path, raw_query=None, when=NOW, user_agent=None,
             checksum_mode=None):
    """Runs s3p-sign; raw_path/raw_query are str or bytes (raw UTF-8 is
    passed through as bytes, as nginx would see it on the request line).
    By default it asks as a browser; `user_agent` and the client's
    `checksum_mode` header ask as another client."""
    if not os.path.isfile(S3P_SIGN):
        pytest.fail(f"s3p-sign not found at {S3P_SIGN}: build it with "
                    "`swift build --product s3p-sign` or set S3P_SIGN")
    args = [S3P_SIGN, "--time", str(when)]
    if user_agent is not None:
        args += ["--user-agent", user_agent]
    if checksum_mode is not None:
        args += ["--checksum-mode", checksum_mode]
    args += [method, raw_path]
    if raw_query is not None:
        args.append(raw_query)
    args = [os.fsencode(a) for a in args]
    run = subprocess.run(args, env=cfg.env(), capture_output=True, timeout=10)
    out = run.stdout.decode("utf-8", "surrogateescape")
    assert run.returncode == 0, (args, out, run.stderr)
    fields = dict(line.split("=", 1) for line in out.split("\n") if "=" in line)
    assert set(fields) >= {"action", "status", "bucket", "key", "url",
                           "authorization", "amz_date"}, out
    return fields


# ---------------------------------------------------------------------------
# Keys and how clients encode them
# ---------------------------------------------------------------------------

def _long_key(size=1000):
    """A valid UTF-8 key of exactly `size` bytes, mixing 1-4 byte characters,
    spaces, `+`, `%` and slashes."""
    piece = "lång kéy+%/日本/😀-"
    text = ""
    while len((text + piece).encode()) <= size:
        text += piece
    return text + "x" * (size - len(text.encode()))


# id -> key (str; every key is valid UTF-8, as the module requires)
KEYS = {
    "plain": "files/report-2024_v1.0.txt",
    "space": "dir with space/file name.txt",
    "plus": "a+b/c++.txt",
    "percent": "100% sure/%41%2F%zz.txt",
    "hash": "tag#1/#.txt",
    "question": "what?/why?.txt",
    "sub-delims": "bang!/star*/quote'/paren(x).txt",
    "tilde": "~user/~tilde~.txt",
    "other-ascii": "semi;comma,eq=amp&dollar$at@colon:[b]{c}|^`\"<>\\.txt",
    "latin-nfc": "ünïcødé/ü.txt",
    "latin-nfd": "u\u0308ber.txt",
    "cjk": "日本語/中文.txt",
    "emoji": "emoji/😀 🎉.txt",
    "double-slash-lead": "//double",
    "double-slash-inner": "a//b///c.txt",
    "dot-segment": "a/./b",
    "dotdot-segment": "a/../b",
    "dotdot-back-to-top": "a/b/../../c/..",
    "trailing-dots": "trailing./dots..",
    "long-1000-bytes": _long_key(),
    "control-bytes": "ctl\x01/del\x7f.txt",
}
assert len(KEYS["long-1000-bytes"].encode()) == 1000


def _encode(key, safe=b"/", raw_non_ascii=False, lower_hex=False):
    out = []
    for b in key.encode("utf-8"):
        if b in UNRESERVED or b in safe or (raw_non_ascii and b >= 0x80):
            out.append(bytes([b]))
        else:
            out.append((f"%{b:02x}" if lower_hex else f"%{b:02X}").encode())
    return b"".join(out)


# How a client may put a key on the request line.  Every one must give the
# same presigned URL.
ENCODINGS = {
    # RFC 3986: everything but unreserved characters and `/`.
    "rfc3986": lambda k: _encode(k),
    # JavaScript encodeURIComponent per segment: `!*'()` stay raw.
    "uri-component": lambda k: _encode(k, safe=b"/!*'()"),
    # Lowercase hex digits.
    "lower-hex": lambda k: _encode(k, lower_hex=True),
    # What a browser leaves raw in a path: sub-delims, `:` and `@`.
    "sub-delims-raw": lambda k: _encode(k, safe=b"/!$&'()*+,;=:@"),
    # Non-ASCII bytes raw on the request line (nginx accepts them).
    "raw-utf8": lambda k: _encode(k, raw_non_ascii=True),
    # Every byte escaped, even letters, dots and `~`; only `/` raw.
    "over-encoded": lambda k: b"".join(
        b"/" if b == 0x2F else f"%{b:02X}".encode() for b in k.encode("utf-8")),
    # `/` inside the key as %2F (S3 decodes it to the same key).
    "slash-as-%2F": lambda k: _encode(k, safe=b""),
}


def raw_object_path(key, encoding="rfc3986", bucket=BUCKET):
    return b"/" + bucket.encode() + b"/" + ENCODINGS[encoding](key)


def canonical_object_path(key, bucket=BUCKET):
    return "/" + uri_encode(bucket, False) + "/" + uri_encode(key, True)


# ---------------------------------------------------------------------------
# 0. botocore is a fair reference for S3 paths
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", [pytest.param(k, id=i) for i, k in KEYS.items()])
def test_botocore_s3_signers_sign_the_path_verbatim(key):
    path = canonical_object_path(key)
    cfg = Config()
    for signer in (S3SigV4QueryAuth(credentials(cfg), "s3", cfg.region, expires=300),
                   S3SigV4Auth(credentials(cfg), "s3", cfg.region)):
        request = AWSRequest(method="GET", url=f"http://{cfg.host}{path}")
        request.context["timestamp"] = amz_date(NOW)
        canonical = signer.canonical_request(request)
        assert canonical.split("\n")[1] == path


def test_plain_sigv4_would_normalise_so_it_is_not_used():
    # Why only the S3 classes are a reference: SigV4Auth resolves `..`,
    # merges `//` and quotes `%` again.
    cfg = Config()
    request = AWSRequest(method="GET", url=f"http://{cfg.host}/b/a//x/../%20")
    request.context["timestamp"] = amz_date(NOW)
    canonical = SigV4Auth(credentials(cfg), "s3", cfg.region).canonical_request(request)
    assert canonical.split("\n")[1] != "/b/a//x/../%20"


# ---------------------------------------------------------------------------
# 1. Presigned URLs (redirects)
# ---------------------------------------------------------------------------

# Endpoints: (AWS_ENDPOINT_HOST, AWS_ENDPOINT_HOST_EXTERNAL, scheme)
HOSTS = {
    "aws": ("s3.eu-west-3.amazonaws.com", "s3.eu-west-3.amazonaws.com", "https"),
    "port": ("127.0.0.1:9000", "127.0.0.1:9000", "http"),
    "external": ("10.0.0.7:9000", "downloads.example.com", "https"),
}
REGIONS = ["us-east-1", "eu-west-3"]


def make_config(host, region="us-east-1", token=False):
    internal, external, scheme = HOSTS[host]
    return Config(token=TEST_TOKEN if token else "", region=region, host=internal,
                  external_host=external, scheme=scheme)


def check_presigned(cfg, method, key, raw_path, when=NOW):
    out = s3p_sign(cfg, method, raw_path, when=when)
    assert (out["action"], out["status"]) == ("redirect", "307"), out
    assert out["bucket"] == BUCKET
    assert out["key"] == key
    path = canonical_object_path(key)
    url = f"{cfg.scheme}://{cfg.external_host}{path}"
    expected = botocore_presigned_url(method, url, cfg, when)
    assert url_parts(out["url"]) == url_parts(expected), (
        f"\nraw path: {raw_path!r}\nmodule:   {out['url']}\nbotocore: {expected}")
    # The same, byte for byte, with the query in canonical order.
    assert out["url"] == ref_presigned_url(method, path, cfg, when)
    return out["url"]


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("token", [False, True], ids=["no-token", "token"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("key", [pytest.param(k, id=i) for i, k in KEYS.items()])
def test_presigned_url_matches_botocore(key, method, token, region, host):
    cfg = make_config(host, region, token)
    check_presigned(cfg, method, key, raw_object_path(key))


def _encoding_cases():
    for key_id, key in KEYS.items():
        seen = {raw_object_path(key)}
        for name in ENCODINGS:
            raw = raw_object_path(key, name)
            if raw not in seen:
                seen.add(raw)
                yield pytest.param(key, name, id=f"{key_id}-{name}")


@pytest.mark.parametrize("key, encoding", list(_encoding_cases()))
def test_every_client_encoding_gives_the_same_presigned_url(key, encoding):
    cfg = make_config("external", "eu-west-3", token=True)
    baseline = s3p_sign(cfg, "GET", raw_object_path(key))["url"]
    assert check_presigned(cfg, "GET", key, raw_object_path(key, encoding)) == baseline


@pytest.mark.parametrize("key", ["../x", "..", "a/../../x", "./../x"])
def test_key_climbing_out_of_the_bucket_is_never_a_wrong_signature(key):
    # Whether such keys are served is a routing decision (they are refused
    # while this is written, since a client resolving dot segments would
    # leave the bucket); if one is redirected, it must be signed right.
    cfg = make_config("port", token=True)
    raw_path = raw_object_path(key)
    out = s3p_sign(cfg, "GET", raw_path)
    if out["action"] == "redirect":
        check_presigned(cfg, "GET", key, raw_path)
    else:
        assert out["action"] == "refuse" and out["url"] == "", out


@pytest.mark.parametrize("when", [
    pytest.param(0, id="epoch"),
    pytest.param(951_868_799, id="2000-02-29-last-second"),
    pytest.param(1_709_251_199, id="2024-02-29-23:59:59"),
    pytest.param(1_709_251_200, id="2024-03-01-midnight"),
    pytest.param(4_102_444_800, id="2100-after-2038"),
])
def test_presigned_url_at_other_instants(when):
    cfg = make_config("port", token=True)
    key = KEYS["space"]
    check_presigned(cfg, "GET", key, raw_object_path(key), when=when)


@pytest.mark.parametrize("expires", [1, 3600, 604_800])
def test_presigned_url_with_other_expiries(expires):
    cfg = replace(make_config("aws"), expires=expires)
    url = check_presigned(cfg, "HEAD", KEYS["cjk"], raw_object_path(KEYS["cjk"]))
    assert f"X-Amz-Expires={expires}&" in url


# Endpoints spelled in ways that clients do not send back as the Host
# header: curl, browsers and urllib3 drop a default port; browsers and
# urllib3 lowercase the host name (curl keeps the case).  botocore signs
# what they send.
EDGE_HOSTS = [
    pytest.param("[::1]:9000", "http", "[::1]:9000", id="ipv6-with-port"),
    pytest.param("s3.example.com:8443", "https", "s3.example.com:8443",
                 id="https-non-default-port"),
    pytest.param("s3.example.com:443", "https", "s3.example.com",
                 id="https-default-port"),
    pytest.param("s3.example.com:80", "http", "s3.example.com",
                 id="http-default-port"),
    pytest.param("S3.Example.COM", "https", "s3.example.com", id="uppercase-host"),
    pytest.param("S3.Example.COM:443", "http", "s3.example.com:443",
                 id="uppercase-host-443-over-http"),
]


def _signature(url):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]


@pytest.mark.parametrize("host, scheme, canonical", EDGE_HOSTS)
def test_presigned_url_for_edge_case_hosts(host, scheme, canonical):
    """The module writes and signs the host as clients send it back in the
    Host header (lowercase, no default port), which is what botocore signs
    for the configured spelling too."""
    cfg = Config(host=host, external_host=host, scheme=scheme)
    key = KEYS["plain"]
    out = s3p_sign(cfg, "GET", raw_object_path(key))
    assert out["action"] == "redirect", out
    path = canonical_object_path(key)
    expected = botocore_presigned_url("GET", f"{scheme}://{canonical}{path}", cfg, NOW)
    assert out["url"] == expected
    as_configured = botocore_presigned_url("GET", f"{scheme}://{host}{path}", cfg, NOW)
    assert _signature(as_configured) == _signature(out["url"])


# ---------------------------------------------------------------------------
# 2. Header auth: proxied listings and index pages
# ---------------------------------------------------------------------------

CONT_TOKEN = base64.b64encode(bytes(range(250, 256)) + b"\x00?>~\xfb\xff\xfe").decode()
assert set("+/=") <= set(CONT_TOKEN), CONT_TOKEN

# id -> (raw path, raw query)
LISTINGS = {
    "v2-prefix-raw-space": ("/bkt-1", "list-type=2&prefix=a b&encoding-type=url"),
    "v2-prefix-%20": ("/bkt-1", "list-type=2&prefix=a%20b&encoding-type=url"),
    "v1-delimiter-raw-slash": ("/bkt-1/", "delimiter=/&prefix=dir/&marker="),
    "prefix-raw-plus-is-space": ("/bkt-1", "prefix=a+b"),
    "prefix-%2B-is-plus": ("/bkt-1", "prefix=a%2Bb"),
    "continuation-token-encoded": (
        "/bkt-1", "list-type=2&continuation-token="
        + urllib.parse.quote(CONT_TOKEN, safe="")),
    "continuation-token-raw": (  # raw `+` reads as a space, at S3 too
        "/bkt-1", "list-type=2&continuation-token=" + CONT_TOKEN),
    "max-keys-start-after-fetch-owner": (
        "/bkt-1", "max-keys=5&start-after=x&fetch-owner=true"),
    "unsorted-params": ("/bkt-1/", "prefix=z&list-type=2&delimiter=%2F&max-keys=10"),
    "value-less-param": ("/bkt-1", "list-type=2&fetch-owner"),
    "empty-items": ("/bkt-1", "&&list-type=2&&prefix=p&"),
    "unicode-prefix-lower-hex": ("/bkt-1", "prefix=%c3%bc/%e6%97%a5&delimiter=%2f"),
    "unicode-prefix-raw-utf8": ("/bkt-1", "prefix=ü/日&delimiter=/"),
    "awkward-prefix": ("/bkt-1", "prefix=" + urllib.parse.quote("~!*'();:@&=$,?#[] %", safe="")),
    "x-id-dropped": ("/bkt-1", "list-type=2&x-id=ListObjectsV2&prefix=q"),
    "bare-bucket": ("/bkt-1", ""),
}

# id -> raw path of an index page
INDEX_PAGES = {
    "bucket-root": "/bkt-1/",
    "dir": "/bkt-1/dir/",
    "dir-index": "/bkt-1/dir/index.html",
    "space-and-unicode": "/bkt-1/with%20space/%C3%BC/",
    "raw-utf8": "/bkt-1/日本/index.html",
    "plus": "/bkt-1/a+b/index.html",
    "sub-delims": "/bkt-1/x!*'()/",
    "percent-question-hash": "/bkt-1/100%25%3F%23/",
    "dot-segments-and-slashes": "/bkt-1/a//b/./c/../",
    "lower-hex": "/bkt-1/%e6%97%a5%e6%9c%ac/index.html",
}

X_ID = (b"x-id",)


def expected_upstream(raw_path, raw_query):
    """(canonical path, canonical query) computed here from the client's raw
    request, plus the decoded parameters to hand botocore as `params`."""
    raw_path = raw_path.encode() if isinstance(raw_path, str) else raw_path
    bucket, slash, raw_key = raw_path[1:].partition(b"/")
    key = urllib.parse.unquote_to_bytes(raw_key)
    pairs = [p for p in parse_raw_query(raw_query or "") if p[0] not in X_ID]
    if slash and (key == b"" and not pairs or key.endswith(b"/")
                  or key.rsplit(b"/", 1)[-1] == b"index.html"):
        if key == b"" or key.endswith(b"/"):
            key += b"index.html"
        return "/" + bucket.decode() + "/" + uri_encode(key, True), "", []
    path = "/" + bucket.decode() + ("/" if slash else "")
    params = [(n.decode("utf-8"), v.decode("utf-8")) for n, v in pairs]
    return path, ref_canonical_query(pairs), params


def check_header_auth(cfg, method, raw_path, raw_query, when=NOW):
    out = s3p_sign(cfg, method, raw_path, raw_query, when=when)
    assert out["action"] == "proxy", out
    assert out["amz_date"] == amz_date(when)
    path, query, params = expected_upstream(raw_path, raw_query)
    assert out["url"] == f"{cfg.scheme}://{cfg.host}{path}" + (f"?{query}" if query else "")
    # botocore over the URL the module sends upstream ...
    assert out["authorization"] == botocore_authorization(method, out["url"], cfg, when)
    # ... over the client's parameters, canonicalised by botocore itself ...
    assert out["authorization"] == botocore_authorization(
        method, f"{cfg.scheme}://{cfg.host}{path}", cfg, when, params=params)
    # ... and the independent implementation.
    assert out["authorization"] == ref_authorization(method, path, query, cfg, when)


HEADER_CASES = ([pytest.param(p, q, id=f"listing-{i}") for i, (p, q) in LISTINGS.items()]
                + [pytest.param(p, None, id=f"index-{i}") for i, p in INDEX_PAGES.items()])


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("token", [False, True], ids=["no-token", "token"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("raw_path, raw_query", HEADER_CASES)
def test_authorization_header_matches_botocore(raw_path, raw_query, method, token, host):
    cfg = make_config(host, "eu-west-3" if host == "aws" else "us-east-1", token)
    check_header_auth(cfg, method, raw_path, raw_query)


@pytest.mark.parametrize("when", [0, 1_709_251_199, 4_102_444_800])
def test_authorization_header_at_other_instants(when):
    cfg = make_config("port", token=True)
    check_header_auth(cfg, "GET", *LISTINGS["continuation-token-encoded"], when=when)


# ---------------------------------------------------------------------------
# 2b. S3 clients: x-amz-checksum-mode, folder markers, partNumber
# ---------------------------------------------------------------------------

SDK_AGENT = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"

# id -> (raw path, raw query, canonical path, canonical query)
S3_CLIENT_CASES = {
    "object": ("/bkt-1/report.csv", None, "/bkt-1/report.csv", ""),
    "folder-marker": ("/bkt-1/docs/", None, "/bkt-1/docs/", ""),
    "encoded-marker": ("/bkt-1/d%C3%BCr%20x/", None, "/bkt-1/d%C3%BCr%20x/", ""),
    "part-number": ("/bkt-1/big.bin", "partNumber=3", "/bkt-1/big.bin", "partNumber=3"),
    "part-number-encoded": ("/bkt-1/big.bin", "part%4Eumber=%31%30000",
                            "/bkt-1/big.bin", "partNumber=10000"),
}


@pytest.mark.parametrize("token", [False, True], ids=["no-token", "token"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("raw_path, raw_query, path, query",
                         [pytest.param(*c, id=i) for i, c in S3_CLIENT_CASES.items()])
def test_s3_clients_checksum_mode_is_signed_like_botocore(raw_path, raw_query, path,
                                                          query, method, token):
    cfg = make_config("port", token=token)
    url = f"{cfg.scheme}://{cfg.host}{path}" + (f"?{query}" if query else "")
    mode = {"x-amz-checksum-mode": "ENABLED"}
    out = s3p_sign(cfg, method, raw_path, raw_query, user_agent=SDK_AGENT,
                   checksum_mode="ENABLED")
    assert (out["action"], out["url"], out["checksum_mode"]) == ("proxy", url, "ENABLED")
    assert out["authorization"] == botocore_authorization(method, url, cfg, NOW, extra=mode)
    assert ";x-amz-checksum-mode;" in out["authorization"]
    # Without the header: signed without it.
    out = s3p_sign(cfg, method, raw_path, raw_query, user_agent=SDK_AGENT)
    assert (out["url"], out["checksum_mode"]) == (url, "")
    assert out["authorization"] == botocore_authorization(method, url, cfg, NOW)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_part_number_in_a_presigned_url_matches_botocore(method):
    cfg = make_config("external", token=True)
    out = s3p_sign(cfg, method, "/bkt-1/big.bin", "partNumber=2", checksum_mode="ENABLED")
    assert (out["action"], out["checksum_mode"]) == ("redirect", "")
    expected = botocore_presigned_url(
        method, f"https://{cfg.external_host}/bkt-1/big.bin?partNumber=2", cfg, NOW)
    assert url_parts(out["url"]) == url_parts(expected)


# ---------------------------------------------------------------------------
# 3. Live, through the real nginx and the local S3
# ---------------------------------------------------------------------------

def live_config(s3):
    return Config(access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                  token=s3.session_token or "", region=REGION, host=s3.host,
                  external_host=s3.host, scheme="http")


def raw_request(nginx, method, target, headers=()):
    """One request with the request line exactly as given (bytes allowed,
    raw UTF-8 included): (status, lowercased headers, body)."""
    if isinstance(target, str):
        target = target.encode("utf-8")
    lines = [method.encode() + b" " + target + b" HTTP/1.1",
             f"Host: 127.0.0.1:{nginx.port}".encode(), b"Connection: close"]
    # A request without a User-Agent is an S3 client's, and streamed.
    if not any(name.lower() == "user-agent" for name, _ in headers):
        lines.append(b"User-Agent: s3-proxy-tests")
    lines += [f"{name}: {value}".encode() for name, value in headers]
    with socket.create_connection(("127.0.0.1", nginx.port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    response_headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        response_headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), response_headers, body


def check_live_redirect(nginx, s3, method, target, key):
    status, headers, _ = raw_request(nginx, method, target)
    assert status == 307, (target, status, headers)
    location = headers["location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    when = int(dt.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
               .replace(tzinfo=dt.timezone.utc).timestamp())
    cfg = live_config(s3)
    path = canonical_object_path(key, bucket="demo")
    expected = botocore_presigned_url(method, f"http://{s3.host}{path}", cfg, when)
    if not cfg.token:
        # Without a token botocore's parameter order is the canonical one.
        assert location == expected
    assert url_parts(location) == url_parts(expected)
    assert location == ref_presigned_url(method, path, cfg, when)
    return location


LIVE_KEYS = ["files/hello.txt", "files/nested/deep/readme.md", "files/with space.txt",
             "files/plus+sign.txt", "files/100% sure.txt", "files/ünïcødé.txt",
             "files/question?.txt", "files/hash#tag.txt"]
assert set(LIVE_KEYS) <= set(DEMO_OBJECTS)


@pytest.mark.parametrize("encoding", ["rfc3986", "uri-component", "lower-hex",
                                      "sub-delims-raw", "raw-utf8"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("key", LIVE_KEYS)
def test_live_redirect_is_botocores_presigned_url(proxy, s3, key, method, encoding):
    target = raw_object_path(key, encoding, bucket="demo")
    location = check_live_redirect(proxy, s3, method, target, key)
    if encoding == "rfc3986":
        # The local S3 verifies SigV4 strictly and serves the object.
        status, body = follow(method, location)
        assert status == 200, body
        if method == "GET":
            assert body == DEMO_OBJECTS[key]


def follow(method, location):
    """Fetches a presigned URL with the target exactly as given (requests
    and urllib3 would resolve dot segments): (status, body)."""
    url = urllib.parse.urlsplit(location)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, f"{url.path}?{url.query}")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def only_record(s3):
    seen = s3.requests()
    assert len(seen) == 1, seen
    record = seen[0]
    assert record["verified"], record
    assert record["auth"] == "header", record
    return record


def check_live_proxied(s3, record, method, raw_path, raw_query):
    """The recorded upstream request is the canonical one, and botocore
    computes the same Authorization at the recorded x-amz-date."""
    cfg = live_config(s3)
    headers = record["headers"]
    path, query, params = expected_upstream(raw_path, raw_query)
    assert record["method"] == method
    assert (record["path"], record["query"]) == (path, query)
    assert headers["host"] == s3.host
    assert headers["x-amz-content-sha256"] == EMPTY_SHA256
    when = int(dt.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
               .replace(tzinfo=dt.timezone.utc).timestamp())
    if cfg.token:
        assert headers["x-amz-security-token"] == cfg.token
    else:
        assert "x-amz-security-token" not in headers
    url = f"http://{s3.host}{record['path']}" + (f"?{record['query']}" if record["query"] else "")
    assert headers["authorization"] == botocore_authorization(method, url, cfg, when)
    assert headers["authorization"] == botocore_authorization(
        method, f"http://{s3.host}{path}", cfg, when, params=params)
    assert headers["authorization"] == ref_authorization(method, path, query, cfg, when)


LIVE_PROXIED = [
    pytest.param("GET", "/demo/", None, 200, id="bucket-index"),
    pytest.param("GET", "/demo/index.html", None, 200, id="bucket-index-by-name"),
    pytest.param("HEAD", "/demo/docs/", None, 200, id="docs-index-head"),
    pytest.param("GET", "/demo/docs/index.html", None, 200, id="docs-index-by-name"),
    pytest.param("GET", "/demo/no%20such/%C3%BC/", None, 404, id="missing-awkward-index"),
    pytest.param("GET", "/demo", "list-type=2&prefix=files/&encoding-type=url", 200,
                 id="listing-v2-encoding-type"),
    pytest.param("GET", "/demo/", "delimiter=/&prefix=docs/&marker=", 200,
                 id="listing-v1-raw-slash"),
    pytest.param("GET", "/demo", "list-type=2&prefix=files/with+space", 200,
                 id="listing-prefix-plus-is-space"),
    pytest.param("GET", "/demo", "list-type=2&prefix=files/plus%2Bsign", 200,
                 id="listing-prefix-%2B"),
    pytest.param("GET", "/demo", "max-keys=5&start-after=files/&fetch-owner=true", 200,
                 id="listing-max-keys-start-after"),
    pytest.param("GET", "/demo", "list-type=2&prefix=files/%c3%bc", 200,
                 id="listing-unicode-prefix-lower-hex"),
    pytest.param("GET", "/demo", "prefix=files/ü&x-id=ListObjects", 200,
                 id="listing-raw-utf8-x-id-dropped"),
]


@pytest.mark.parametrize("method, raw_path, raw_query, status", LIVE_PROXIED)
def test_live_proxied_request_is_signed_like_botocore(proxy, s3, method, raw_path,
                                                      raw_query, status):
    s3.clear()
    target = raw_path + (f"?{raw_query}" if raw_query is not None else "")
    got, _, _ = raw_request(proxy, method, target)
    assert got == status
    check_live_proxied(s3, only_record(s3), method, raw_path, raw_query)


def test_live_continuation_token_is_signed_like_botocore(proxy, s3):
    import xml.etree.ElementTree as ET
    status, _, body = raw_request(proxy, "GET", "/demo?list-type=2&prefix=listing/&max-keys=5")
    assert status == 200
    root = ET.fromstring(body if body.startswith(b"<") else _dechunk(body))
    ns = {"s3": root.tag.split("}")[0][1:]}
    token = root.find("s3:NextContinuationToken", ns).text
    query = "list-type=2&prefix=listing/&max-keys=5&continuation-token=" + \
        urllib.parse.quote(token, safe="")
    s3.clear()
    status, _, _ = raw_request(proxy, "GET", "/demo?" + query)
    assert status == 200
    check_live_proxied(s3, only_record(s3), "GET", "/demo", query)


def _dechunk(body):
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2:]
    return out


CLIENT_HEADERS = [
    ("Cookie", "session=secret"),
    ("Authorization", "Bearer x"),
    ("X-Amz-Security-Token", "evil"),
    ("X-Amz-Date", "19700101T000000Z"),
    ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
    ("X-Amz-Meta-Evil", "1"),
    ("X-Forwarded-For", "203.0.113.9"),
    ("Referer", "http://evil.example/"),
    ("User-Agent", "client-agent/1.0"),
    ("Range", "bytes=0-9"),
    ("If-None-Match", '"no-such-etag"'),
]
# What reaches S3: the signed headers and the client's range and
# conditional headers, nothing else (nginx/s3_proxy.conf).
UPSTREAM_HEADERS = {"host", "authorization", "x-amz-date", "x-amz-content-sha256",
                    "range", "if-none-match"}


@pytest.mark.parametrize("method, raw_path, raw_query", [
    pytest.param("GET", "/demo/docs/index.html", None, id="index-get"),
    pytest.param("HEAD", "/demo/", None, id="index-head"),
    pytest.param("GET", "/demo", "list-type=2&prefix=docs/", id="listing"),
])
def test_live_only_signed_range_and_conditional_headers_reach_s3(
        proxy, s3, method, raw_path, raw_query):
    s3.clear()
    target = raw_path + (f"?{raw_query}" if raw_query else "")
    status, _, _ = raw_request(proxy, method, target, CLIENT_HEADERS)
    assert status in (200, 206), status
    record = only_record(s3)
    headers = record["headers"]
    assert set(headers) == UPSTREAM_HEADERS, headers
    for name in ("cookie", "x-forwarded-for", "x-amz-security-token", "x-amz-meta-evil",
                 "referer", "user-agent"):
        assert name not in headers, (name, headers)
    assert headers["authorization"].startswith(ALGORITHM + " Credential=")
    assert headers["x-amz-content-sha256"] == EMPTY_SHA256
    assert headers["x-amz-date"] != "19700101T000000Z"
    assert headers["range"] == "bytes=0-9"
    assert headers["if-none-match"] == '"no-such-etag"'
    # Range and If-None-Match are not signed (the module signs only host and
    # x-amz-*), so the signature is still botocore's.
    check_live_proxied(s3, record, method, raw_path, raw_query)


LIVE_TOKEN = "FQoGZXIvYXdzEJr//////////wEaDLiveToken+s3proxy/ABC=="


@pytest.fixture(scope="module")
def token_stack():
    """A second local S3 that requires a session token (no objects: the
    gate verifies and records before moto answers 404) and an nginx with
    the module configured with that token."""
    server = S3Server(session_token=LIVE_TOKEN, seed=None)
    nginx = None
    try:
        nginx = Nginx(s3_environment(server)).start()
        yield nginx, server
        bad = nginx.bad_log_lines()
        assert not bad, "error log:\n" + "\n".join(bad)
    finally:
        if nginx is not None:
            nginx.cleanup()
        server.stop()


@pytest.mark.parametrize("key", ["files/with space.txt", "files/ünïcødé.txt",
                                 "a//b/../c"])
def test_live_redirect_with_session_token(token_stack, key):
    nginx, server = token_stack
    location = check_live_redirect(nginx, server, "GET", raw_object_path(key, bucket="demo"),
                                   key)
    server.clear()
    follow("GET", location)
    seen = server.requests()
    assert len(seen) == 1 and seen[0]["auth"] == "presigned"
    assert seen[0]["verified"], seen[0]["error"]


@pytest.mark.parametrize("raw_path, raw_query", [
    pytest.param("/demo/", "list-type=2&prefix=a+b&delimiter=/", id="listing"),
    pytest.param("/demo/dir%20x/", None, id="index"),
])
def test_live_proxied_request_with_session_token(token_stack, raw_path, raw_query):
    nginx, server = token_stack
    server.clear()
    target = raw_path + (f"?{raw_query}" if raw_query else "")
    raw_request(nginx, "GET", target, [("X-Amz-Security-Token", "evil")])
    record = only_record(server)
    assert set(record["headers"]) == {"host", "authorization", "x-amz-date",
                                      "x-amz-content-sha256", "x-amz-security-token"}
    check_live_proxied(server, record, "GET", raw_path, raw_query)


# ---------------------------------------------------------------------------
# 4. AWS's published examples pin both references
# Source: /work/shared/sigv4-vectors.md (AWS S3 API reference examples).
# ---------------------------------------------------------------------------

EXAMPLE = Config(access_key="AKIAIOSFODNN7EXAMPLE",
                 secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 region="us-east-1", host="examplebucket.s3.amazonaws.com",
                 external_host="examplebucket.s3.amazonaws.com", scheme="https",
                 expires=86400)
EXAMPLE_TIME = 1_369_353_600  # 20130524T000000Z
assert amz_date(EXAMPLE_TIME) == "20130524T000000Z"

# Example 5: presigned GET.
EXAMPLE5_CANONICAL = "\n".join([
    "GET",
    "/test.txt",
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
    "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
    "&X-Amz-SignedHeaders=host",
    "host:examplebucket.s3.amazonaws.com",
    "",
    "host",
    "UNSIGNED-PAYLOAD",
])
EXAMPLE5_SIGNATURE = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
EXAMPLE5_URL = (
    "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=" + EXAMPLE5_SIGNATURE)


def test_example5_presign_pins_both_references():
    assert hashlib.sha256(EXAMPLE5_CANONICAL.encode()).hexdigest() == \
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    assert ref_signature(EXAMPLE5_CANONICAL, "20130524T000000Z", "us-east-1",
                         EXAMPLE.secret_key) == EXAMPLE5_SIGNATURE
    assert ref_presigned_url("GET", "/test.txt", EXAMPLE, EXAMPLE_TIME) == EXAMPLE5_URL
    assert botocore_presigned_url("GET", "https://examplebucket.s3.amazonaws.com/test.txt",
                                  EXAMPLE, EXAMPLE_TIME) == EXAMPLE5_URL


def test_signing_key_of_the_examples():
    assert ref_signing_key(EXAMPLE.secret_key, "20130524", "us-east-1").hex() == \
        "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378"


def test_example1_get_with_range_pins_both_references():
    signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    canonical = ref_canonical_request(
        "GET", "/test.txt", "",
        [("host", EXAMPLE.host), ("range", "bytes=0-9"),
         ("x-amz-content-sha256", EMPTY_SHA256), ("x-amz-date", "20130524T000000Z")],
        EMPTY_SHA256)
    assert hashlib.sha256(canonical.encode()).hexdigest() == \
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    assert ref_signature(canonical, "20130524T000000Z", "us-east-1",
                         EXAMPLE.secret_key) == signature
    request = AWSRequest(method="GET", url="https://examplebucket.s3.amazonaws.com/test.txt",
                         headers={"Range": "bytes=0-9"})
    with frozen_clock(EXAMPLE_TIME):
        S3SigV4Auth(credentials(EXAMPLE), "s3", "us-east-1").add_auth(request)
    assert request.headers["Authorization"].endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=" + signature)


def test_example3_listing_pins_both_references():
    signature = "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    expected = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                "Signature=" + signature)
    assert ref_authorization("GET", "/", "max-keys=2&prefix=J", EXAMPLE,
                             EXAMPLE_TIME) == expected
    assert botocore_authorization("GET", "https://examplebucket.s3.amazonaws.com/",
                                  EXAMPLE, EXAMPLE_TIME,
                                  params=[("max-keys", "2"), ("prefix", "J")]) == expected


def test_example5_inputs_through_s3p_sign():
    # The module is path-style: with AWS_ENDPOINT_HOST=examplebucket.s3.
    # amazonaws.com, `/test.txt` is bucket `test.txt` (a listing), and
    # `/examplebucket/test.txt` signs the path /examplebucket/test.txt, so the
    # published signature cannot come out.  Everything else does: the same
    # credential, date and expiry parameters byte for byte, and the signature
    # the two pinned references give for the path-style request.
    out = s3p_sign(EXAMPLE, "GET", "/examplebucket/test.txt", when=EXAMPLE_TIME)
    assert out["action"] == "redirect"
    published = EXAMPLE5_URL.split("?", 1)[1].split("&X-Amz-Signature=")[0]
    got = out["url"].split("?", 1)[1].split("&X-Amz-Signature=")[0]
    assert got == published
    assert out["url"] == ref_presigned_url("GET", "/examplebucket/test.txt", EXAMPLE,
                                           EXAMPLE_TIME)
    expected = botocore_presigned_url(
        "GET", "https://examplebucket.s3.amazonaws.com/examplebucket/test.txt",
        EXAMPLE, EXAMPLE_TIME)
    assert out["url"] == expected

    # And /test.txt is indeed not an object for the module.
    assert s3p_sign(EXAMPLE, "GET", "/test.txt", when=EXAMPLE_TIME)["action"] == "proxy"


def test_example3_inputs_through_s3p_sign():
    # Example 3's listing, path-style: /examplebucket?max-keys=2&prefix=J.
    out = s3p_sign(EXAMPLE, "GET", "/examplebucket", "max-keys=2&prefix=J",
                   when=EXAMPLE_TIME)
    assert out["url"] == "https://examplebucket.s3.amazonaws.com/examplebucket?max-keys=2&prefix=J"
    assert out["authorization"] == ref_authorization(
        "GET", "/examplebucket", "max-keys=2&prefix=J", EXAMPLE, EXAMPLE_TIME)
    assert out["authorization"] == botocore_authorization(
        "GET", out["url"], EXAMPLE, EXAMPLE_TIME)

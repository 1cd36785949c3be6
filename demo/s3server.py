#!/usr/bin/env python3
"""Local S3-compatible server with strict AWS SigV4 verification.

Architecture::

    client (nginx s3-proxy, curl, boto3)
        |
        v
    "gate": ThreadingHTTPServer on --host:--port
        - verifies SigV4 (Authorization header or presigned query)
        - records every request (memory + optional JSON-lines log)
        - forwards verified requests unchanged (raw path and query)
        |
        v
    moto's S3 (ThreadedMotoServer) on an ephemeral loopback port

moto ignores signatures completely, so all authentication happens in the gate.
The SigV4 implementation below is self-contained (hmac + hashlib only) so that
it is an independent check of the signing done by the code under test.

Usage::

    python3 demo/s3server.py --port 9000 --access-key AKID --secret-key SECRET \
        [--host 127.0.0.1] [--region us-east-1] [--session-token TOKEN] \
        [--seed demo|demo-small] [--log FILE] [--ready-file FILE] [--verbose]
        [--keys-file FILE]   # also the sets demo/credserver.py issues
        [--key ACCESS:SECRET]... [--deny ACCESS:/bucket/prefix/]...

Control endpoint (no authentication, never recorded):

    GET    /__s3server/requests   -> JSON list of recorded requests
    DELETE /__s3server/requests   -> clear the list (204)
    POST   /__s3server/faults     -> JSON {"path", "status", "code"[,
                                     "headers", "extra", "times"]}: the next
                                     `times` (default 1) verified requests
                                     for `path` get that S3 error (204),
                                     with these headers (a 301's own
                                     Location) and elements (Endpoint);
                                     {"path", "corrupt": true[, "times"]}:
                                     the next GET bodies for `path` have
                                     their first byte changed, headers kept
    DELETE /__s3server/faults     -> forget them (204)

What S3 keeps and moto does not, the gate keeps (ObjectStore), as S3 does:

* checksums: an object or part uploaded with x-amz-checksum-crc32,
  -crc32c, -crc64nvme, -sha1 or -sha256 is checked against it (400
  BadDigest) and keeps it; GetObject and HeadObject return it, with
  x-amz-checksum-type, only with `x-amz-checksum-mode: ENABLED` and never
  for a Range.  A multipart object's is COMPOSITE: the checksum of its
  parts' checksums, "-N".
* parts: GetObject and HeadObject with partNumber (1 to 10000) answer 206
  with that part's bytes, its Content-Range and checksum, and
  x-amz-mp-parts-count for a multipart object; a single-part object is its
  own part 1; a part beyond the last is 416 InvalidPartNumber.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime as dt
import hashlib
import hmac
import http.client
import http.server
import json
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable
from xml.sax.saxutils import escape as xml_escape

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = dt.timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800  # 7 days, the S3 limit

CONTROL_PATH = "/__s3server/requests"
FAULTS_PATH = "/__s3server/faults"
MAX_RECORDS = 10000
COPY_CHUNK = 64 * 1024
SPOOL_MAX_MEMORY = 8 * 1024 * 1024  # request bodies above this go to a temp file
UPSTREAM_TIMEOUT = 300

# RFC 7230 hop-by-hop headers plus ones this proxy manages itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "trailers", "transfer-encoding",
    "upgrade",
})
# Request headers not copied to moto (besides hop-by-hop ones).
NOT_FORWARDED_REQUEST = HOP_BY_HOP | {"host", "content-length", "expect"}
# Response headers not copied back to the client (besides hop-by-hop ones).
# "server"/"date" are replaced by our own, "content-length" is handled
# explicitly so that we know how to frame the body.
NOT_FORWARDED_RESPONSE = HOP_BY_HOP | {"server", "date", "content-length"}

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_UNRESERVED = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)



# ---------------------------------------------------------------------------
# Demo seed data
# ---------------------------------------------------------------------------

DEMO_BUCKET = "demo"
LISTING_COUNT = 1100


def _demo_objects() -> dict[str, bytes]:
    """The fixed content of the demo bucket (without the listing/ items)."""
    index_html = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        "<title>s3-proxy demo bucket</title></head>\n<body>\n"
        "<h1>s3-proxy demo bucket</h1>\n<ul>\n"
        '<li><a href="docs/">docs/</a></li>\n'
        '<li><a href="files/hello.txt">files/hello.txt</a></li>\n'
        "</ul>\n</body></html>\n"
    )
    docs_index_html = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        "<title>s3-proxy demo docs</title></head>\n<body>\n"
        "<h1>Docs</h1>\n<ul>\n"
        '<li><a href="../index.html">back to the bucket index</a></li>\n'
        '<li><a href="guide.txt">guide.txt</a></li>\n'
        "</ul>\n</body></html>\n"
    )
    # 64 KiB of deterministic, non-repeating-looking bytes.
    data_bin = b"".join(
        hashlib.sha256(b"s3-proxy-demo-%d" % i).digest() for i in range(2048)
    )
    return {
        "index.html": index_html.encode(),
        "docs/index.html": docs_index_html.encode(),
        "docs/guide.txt": b"s3-proxy demo guide\n\nThis file lives at docs/guide.txt.\n",
        "files/hello.txt": b"hello from s3-proxy\n",
        "files/data.bin": data_bin,
        "files/nested/deep/readme.md": b"# Deeply nested\n\nfiles/nested/deep/readme.md\n",
        # Keys that are awkward to encode in URLs and signatures.
        "files/with space.txt": b"a key with a space\n",
        "files/plus+sign.txt": b"a key with a plus sign\n",
        "files/100% sure.txt": b"a key with a percent sign and a space\n",
        "files/ünïcødé.txt": "a key with non-ASCII characters: ünïcødé\n".encode(),
        "files/question?.txt": b"a key with a question mark\n",
        "files/hash#tag.txt": b"a key with a hash sign\n",
    }


DEMO_OBJECTS: dict[str, bytes] = _demo_objects()


def listing_objects() -> dict[str, bytes]:
    """The LISTING_COUNT small objects under listing/ (for pagination)."""
    return {
        f"listing/item-{i:04d}.txt": f"listing item {i:04d}\n".encode()
        for i in range(LISTING_COUNT)
    }


_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".bin": "application/octet-stream",
}


def content_type_for(key: str) -> str:
    return _CONTENT_TYPES.get(os.path.splitext(key)[1], "application/octet-stream")


# ---------------------------------------------------------------------------
# SigV4 canonicalisation helpers
# ---------------------------------------------------------------------------

def _to_bytes(text: str) -> bytes:
    """Recover the wire bytes of a str produced by http.server.

    http.server decodes the request line and headers as ISO-8859-1, so
    encoding back with latin-1 yields the exact bytes the client sent.
    Strings that cannot be latin-1 (e.g. passed in by tests) use UTF-8.
    """
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def percent_decode(data: bytes, plus_is_space: bool = False) -> bytes:
    """Decode %XX escapes once. Malformed escapes are kept literally."""
    if plus_is_space:
        data = data.replace(b"+", b" ")
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c == 0x25 and _is_hex(data[i + 1:i + 3]):
            out.append(int(data[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _is_hex(two: bytes) -> bool:
    return len(two) == 2 and all(b in b"0123456789abcdefABCDEF" for b in two)


def uri_encode(data: bytes, keep_slash: bool) -> str:
    """AWS UriEncode: every byte except unreserved (and optionally '/')."""
    out = []
    for b in data:
        if b in _UNRESERVED or (keep_slash and b == 0x2F):
            out.append(chr(b))
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


# GetObject's response header overrides: query parameter -> header.
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
RESPONSE_OVERRIDES = {
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
    "response-content-language": "content-language",
    "response-content-type": "content-type",
    "response-expires": "expires",
}


def response_overrides(raw_query: str) -> dict[str, str]:
    """The headers a signed GET's response-* parameters set: their
    decoded bytes, which http.server sends as Latin-1, so that they arrive
    as they were encoded."""
    overrides = {}
    for name, value in parse_query(raw_query):
        header = RESPONSE_OVERRIDES.get(name.decode("utf-8", "replace"))
        if header:
            overrides[header] = value.decode("latin-1")
    return overrides


def canonical_uri(raw_path: str) -> str:
    """Canonical URI for S3: decode once, re-encode, no path normalisation."""
    encoded = uri_encode(percent_decode(_to_bytes(raw_path)), keep_slash=True)
    return encoded or "/"


def parse_query(raw_query: str) -> list[tuple[bytes, bytes]]:
    """Split a raw query into decoded (name, value) byte pairs, in order.

    S3 reads '+' as a space and '%2B' as a plus sign. Empty items are ignored.
    """
    pairs = []
    for item in _to_bytes(raw_query).split(b"&"):
        if not item:
            continue
        name, _, value = item.partition(b"=")
        pairs.append((percent_decode(name, plus_is_space=True),
                      percent_decode(value, plus_is_space=True)))
    return pairs


def canonical_query(pairs: Iterable[tuple[bytes, bytes]],
                    exclude: frozenset[bytes] = frozenset()) -> str:
    encoded = sorted(
        (uri_encode(name, keep_slash=False), uri_encode(value, keep_slash=False))
        for name, value in pairs if name not in exclude
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def header_map(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lowercase names; repeated headers are joined with ',' (trimmed)."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower().strip(), []).append(value)
    return {
        name: ",".join(_trim_header_value(v) for v in values)
        for name, values in merged.items()
    }


def _trim_header_value(value: str) -> str:
    return re.sub(" +", " ", value.strip())


def signing_key(secret: str, date: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def parse_amz_date(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, _AMZ_DATE).replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return None


def format_amz_date(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime(_AMZ_DATE)


# ---------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------

class AuthError(Exception):
    """An authentication failure, rendered to the client as an S3 error."""

    def __init__(self, code: str, message: str, status: int = 403,
                 extra: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = dict(extra or {})

    def describe(self) -> str:
        """One string for the request record (contains no secrets)."""
        return f"{self.code}: {self.message}"


@dataclass
class Verified:
    """The outcome of a successful verification."""
    auth: str                     # "header" or "presigned"
    payload_hash: str             # value used in the canonical request
    check_body_hash: bool         # payload_hash is a hex digest to verify
    canonical_request: str = ""
    string_to_sign: str = ""


@dataclass
class _Signed:
    """Everything needed to check a signature, whatever the auth style."""
    access_key: str
    date: str
    region: str
    service: str
    terminal: str
    amz_date: str
    signed_headers: list[str]
    signature: str
    payload_hash: str
    canonical_request: str = ""
    string_to_sign: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def classify(raw_query: str, headers: dict[str, str]) -> str:
    """Which auth style a request uses: "header", "presigned" or "none"."""
    if "authorization" in headers:
        return "header"
    names = {name for name, _ in parse_query(raw_query)}
    if names & {b"X-Amz-Signature", b"X-Amz-Credential", b"X-Amz-Algorithm"}:
        return "presigned"
    return "none"


class SigV4Verifier:
    """Strict verifier for S3 SigV4 requests (header and query auth)."""

    def __init__(self, access_key: str, secret_key: str, region: str,
                 session_token: str | None = None):
        self.access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self.session_token = session_token

    def __repr__(self) -> str:  # never leak the secret through repr()
        return f"SigV4Verifier(access_key={self.access_key!r}, region={self.region!r})"

    # -- public entry point -------------------------------------------------

    def verify(self, method: str, raw_path: str, raw_query: str,
               headers: Iterable[tuple[str, str]],
               now: dt.datetime | None = None) -> Verified:
        """Verify a request; raise AuthError on any problem."""
        now = now or dt.datetime.now(dt.timezone.utc)
        hmap = header_map(headers)
        kind = classify(raw_query, hmap)
        if kind == "none":
            raise AuthError("AccessDenied", "Access Denied")
        query_names = {name for name, _ in parse_query(raw_query)}
        if kind == "header" and b"X-Amz-Signature" in query_names:
            raise AuthError("InvalidArgument", "Only one auth mechanism allowed; "
                            "only the X-Amz-Algorithm query parameter, Signature "
                            "query string parameter or the Authorization header "
                            "should be specified")
        if kind == "header":
            signed = self._parse_header_auth(hmap)
        else:
            signed = self._parse_query_auth(raw_query)
        self._build(signed, method, raw_path, raw_query, hmap, kind)
        # From here on every error carries the canonical request and string
        # to sign, which is what makes signature problems debuggable.
        try:
            self._check_common(signed, "AuthorizationHeaderMalformed" if kind == "header"
                               else "AuthorizationQueryParametersError")
            if kind == "header":
                self._check_header_auth(signed, method, hmap, now)
            else:
                self._check_query_auth(signed, now)
            self._check_signature(signed)
        except AuthError as err:
            # As S3 does: both as text and as the hex of their bytes.
            err.extra.setdefault("CanonicalRequest", signed.canonical_request)
            err.extra.setdefault("CanonicalRequestBytes",
                                 _hex_bytes(signed.canonical_request))
            err.extra.setdefault("StringToSign", signed.string_to_sign)
            err.extra.setdefault("StringToSignBytes",
                                 _hex_bytes(signed.string_to_sign))
            err.message = (f"{err.message}\nCanonicalRequest:\n{signed.canonical_request}"
                           f"\nStringToSign:\n{signed.string_to_sign}")
            raise
        check_body = kind == "header" and bool(_HEX64.match(signed.payload_hash))
        return Verified(kind, signed.payload_hash, check_body,
                        signed.canonical_request, signed.string_to_sign)

    # -- parsing ------------------------------------------------------------

    @staticmethod
    def _parse_credential(credential: str, error_code: str) -> list[str]:
        parts = credential.split("/")
        if len(parts) != 5:
            raise AuthError(error_code, f"Malformed credential {credential!r}; expected "
                            "ACCESSKEY/YYYYMMDD/REGION/s3/aws4_request")
        return parts

    def _parse_header_auth(self, hmap: dict[str, str]) -> _Signed:
        auth = hmap["authorization"]
        scheme, _, rest = auth.partition(" ")
        if scheme != ALGORITHM:
            raise AuthError("InvalidArgument", f"Unsupported Authorization Type {scheme!r}; "
                            f"only {ALGORITHM} is accepted")
        fields = dict(re.findall(r"(\w+)=([^,\s]*)", rest))
        missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
        if missing:
            raise AuthError("AuthorizationHeaderMalformed",
                            f"The authorization header is malformed; missing {', '.join(missing)}")
        akid, date, region, service, terminal = self._parse_credential(
            fields["Credential"], "AuthorizationHeaderMalformed")
        return _Signed(
            access_key=akid, date=date, region=region, service=service,
            terminal=terminal, amz_date=hmap.get("x-amz-date", ""),
            signed_headers=fields["SignedHeaders"].split(";"),
            signature=fields["Signature"],
            payload_hash=hmap.get("x-amz-content-sha256", ""),
        )

    def _parse_query_auth(self, raw_query: str) -> _Signed:
        params: dict[str, str] = {}
        for name, value in parse_query(raw_query):
            text = name.decode("latin-1")
            if text.startswith("X-Amz-"):
                if text in params:
                    raise AuthError("AuthorizationQueryParametersError",
                                    f"Query parameter {text} is repeated")
                params[text] = value.decode("latin-1")
        required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                    "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
        missing = [p for p in required if not params.get(p)]
        if missing:
            raise AuthError("AuthorizationQueryParametersError",
                            "Query-string authentication version 4 requires the "
                            f"{', '.join(required)} parameters; missing {', '.join(missing)}")
        if params["X-Amz-Algorithm"] != ALGORITHM:
            raise AuthError("AuthorizationQueryParametersError",
                            f"X-Amz-Algorithm only supports \"{ALGORITHM}\"")
        akid, date, region, service, terminal = self._parse_credential(
            params["X-Amz-Credential"], "AuthorizationQueryParametersError")
        signed = _Signed(
            access_key=akid, date=date, region=region, service=service,
            terminal=terminal, amz_date=params["X-Amz-Date"],
            signed_headers=params["X-Amz-SignedHeaders"].split(";"),
            signature=params["X-Amz-Signature"],
            payload_hash=UNSIGNED_PAYLOAD,
        )
        signed.extra["X-Amz-Expires"] = params["X-Amz-Expires"]
        signed.extra["X-Amz-Security-Token"] = params.get("X-Amz-Security-Token", "")
        return signed

    # -- canonical request / string to sign ----------------------------------

    def _build(self, signed: _Signed, method: str, raw_path: str, raw_query: str,
               hmap: dict[str, str], kind: str) -> None:
        exclude = frozenset({b"X-Amz-Signature"}) if kind == "presigned" else frozenset()
        canonical_headers = "".join(
            f"{name}:{hmap.get(name, '')}\n" for name in signed.signed_headers
        )
        signed.canonical_request = "\n".join([
            method,
            canonical_uri(raw_path),
            canonical_query(parse_query(raw_query), exclude),
            canonical_headers,
            ";".join(signed.signed_headers),
            signed.payload_hash,
        ])
        scope = f"{signed.date}/{signed.region}/{signed.service}/{signed.terminal}"
        signed.string_to_sign = "\n".join([
            ALGORITHM,
            signed.amz_date,
            scope,
            hashlib.sha256(_to_bytes(signed.canonical_request)).hexdigest(),
        ])

    # -- checks -------------------------------------------------------------

    def _check_common(self, signed: _Signed, malformed: str) -> None:
        """Checks shared by header and query auth; `malformed` is the error code."""
        if signed.access_key != self.access_key:
            raise AuthError("InvalidAccessKeyId", "The AWS Access Key Id you provided "
                            "does not exist in our records.",
                            extra={"AWSAccessKeyId": signed.access_key})
        if signed.region != self.region:
            raise AuthError(malformed, f"The credential is malformed; the region "
                            f"'{signed.region}' is wrong; expecting '{self.region}'",
                            extra={"Region": self.region})
        if signed.service != SERVICE or signed.terminal != "aws4_request":
            raise AuthError(malformed, "The credential scope must end with /s3/aws4_request")
        if not re.fullmatch(r"\d{8}", signed.date):
            raise AuthError(malformed, f"Invalid date {signed.date!r} in the credential scope")
        if signed.signed_headers != sorted(set(signed.signed_headers)) or any(
                h != h.lower() or not h for h in signed.signed_headers):
            raise AuthError(malformed,
                            "SignedHeaders must be lowercase, unique and sorted: "
                            + ";".join(signed.signed_headers))
        if "host" not in signed.signed_headers:
            raise AuthError("AccessDenied", "The host header must be signed",
                            extra={"HeadersNotSigned": "host"})

    def _check_header_auth(self, signed: _Signed, method: str,
                           hmap: dict[str, str], now: dt.datetime) -> None:
        when = parse_amz_date(signed.amz_date)
        if when is None:
            raise AuthError("AccessDenied", "AWS authentication requires a valid "
                            "x-amz-date header in the form YYYYMMDDTHHMMSSZ")
        if signed.date != signed.amz_date[:8]:
            raise AuthError("AuthorizationHeaderMalformed",
                            f"The authorization header is malformed; Invalid credential "
                            f"date \"{signed.date}\". This date is not the same as "
                            f"X-Amz-Date: \"{signed.amz_date[:8]}\".")
        if abs(now - when) > MAX_SKEW:
            raise AuthError("RequestTimeTooSkewed", "The difference between the request "
                            "time and the current time is too large.",
                            extra={"RequestTime": signed.amz_date,
                                   "ServerTime": format_amz_date(now),
                                   "MaxAllowedSkewMilliseconds": "900000"})
        for required in ("x-amz-date", "x-amz-content-sha256"):
            if required not in signed.signed_headers:
                raise AuthError("AccessDenied", f"The {required} header must be signed",
                                extra={"HeadersNotSigned": required})
        unsigned = sorted(h for h in hmap
                          if h.startswith("x-amz-") and h not in signed.signed_headers)
        if unsigned:
            raise AuthError("AccessDenied", "There were headers present in the request "
                            "which were not signed",
                            extra={"HeadersNotSigned": ", ".join(unsigned)})
        self._check_payload_hash(method, signed.payload_hash)
        # (The unsigned x-amz-* check above already forces the token to be signed.)
        self._check_token(hmap.get("x-amz-security-token"), "x-amz-security-token header")

    @staticmethod
    def _check_payload_hash(method: str, value: str) -> None:
        if method in ("GET", "HEAD"):
            if value not in (UNSIGNED_PAYLOAD, EMPTY_SHA256):
                raise AuthError("XAmzContentSHA256Mismatch",
                                f"x-amz-content-sha256 for {method} must be "
                                f"{UNSIGNED_PAYLOAD} or the empty-body hash {EMPTY_SHA256}; "
                                f"got {value!r}")
        elif not (_HEX64.match(value) or value == UNSIGNED_PAYLOAD
                  or value.startswith("STREAMING-")):
            raise AuthError("InvalidArgument", f"x-amz-content-sha256 must be a SHA-256 "
                            f"hex digest, {UNSIGNED_PAYLOAD} or STREAMING-*; got {value!r}")

    def _check_query_auth(self, signed: _Signed, now: dt.datetime) -> None:
        when = parse_amz_date(signed.amz_date)
        if when is None:
            raise AuthError("AuthorizationQueryParametersError",
                            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        if signed.date != signed.amz_date[:8]:
            raise AuthError("AuthorizationQueryParametersError",
                            f"Invalid credential date \"{signed.date}\". This date is not "
                            f"the same as X-Amz-Date: \"{signed.amz_date[:8]}\".")
        expires_text = signed.extra["X-Amz-Expires"]
        if not expires_text.isdigit() or not 1 <= int(expires_text) <= MAX_PRESIGN_EXPIRES:
            raise AuthError("AuthorizationQueryParametersError",
                            "X-Amz-Expires must be an integer between 1 and "
                            f"{MAX_PRESIGN_EXPIRES} (seconds); got {expires_text!r}")
        if when - now > MAX_SKEW:
            raise AuthError("RequestTimeTooSkewed", "X-Amz-Date is too far in the future.",
                            extra={"RequestTime": signed.amz_date,
                                   "ServerTime": format_amz_date(now),
                                   "MaxAllowedSkewMilliseconds": "900000"})
        expiry = when + dt.timedelta(seconds=int(expires_text))
        if expiry < now:
            raise AuthError("AccessDenied", "Request has expired",
                            extra={"X-Amz-Expires": expires_text,
                                   "Expires": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
        # The token is a query parameter, hence part of the signed query.
        self._check_token(signed.extra["X-Amz-Security-Token"] or None,
                          "X-Amz-Security-Token query parameter")

    def _check_token(self, token: str | None, where: str) -> None:
        """The session token must match exactly when configured, else be absent."""
        if self.session_token is not None:
            if token is None:
                raise AuthError("InvalidToken", f"This server requires a session token "
                                f"({where})")
            if not hmac.compare_digest(_to_bytes(token), _to_bytes(self.session_token)):
                raise AuthError("InvalidToken", "The provided token is malformed "
                                "or otherwise invalid.")
        elif token is not None:
            raise AuthError("InvalidToken", f"A session token was provided ({where}) but "
                            "this server is not configured with one")

    def _check_signature(self, signed: _Signed) -> None:
        key = signing_key(self._secret_key, signed.date, signed.region)
        expected = hmac.new(key, _to_bytes(signed.string_to_sign), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), _to_bytes(signed.signature)):
            raise AuthError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature "
                "you provided. Check your key and signing method.",
                extra={"AWSAccessKeyId": signed.access_key,
                       "SignatureProvided": signed.signature})


class RotatingVerifier(SigV4Verifier):
    """Also accepts the temporary credential sets listed in a keys file.

    The file (written by demo/credserver.py) is a JSON list of objects with
    access_key, secret_key, session_token and expires (Unix time); it is
    re-read when it changes.  A listed set is accepted only until it
    expires, then S3's ExpiredToken; other access keys meet the static one.
    """

    def __init__(self, keys_file: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.keys_file = keys_file
        self._keys: dict[str, dict] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RotatingVerifier(keys_file={self.keys_file!r})"

    def _lookup(self, access_key: str) -> dict | None:
        with self._lock:
            try:
                st = os.stat(self.keys_file)
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp != self._stamp:
                    with open(self.keys_file) as f:
                        self._keys = {k["access_key"]: k for k in json.load(f)}
                    self._stamp = stamp
            except (OSError, ValueError):
                pass
            return self._keys.get(access_key)

    def verify(self, method, raw_path, raw_query, headers, now=None):
        headers = list(headers)
        hmap = header_map(headers)
        found = re.search(r"Credential=([^/,\s]+)", hmap.get("authorization", ""))
        if found is None:
            for name, value in parse_query(raw_query):
                if name == b"X-Amz-Credential":
                    found = re.match(r"([^/]+)", value.decode("latin-1"))
        listed = self._lookup(found.group(1)) if found else None
        if listed is None:
            return super().verify(method, raw_path, raw_query, headers, now)
        when = now or dt.datetime.now(dt.timezone.utc)
        if listed["expires"] <= when.timestamp():
            raise AuthError("ExpiredToken", "The provided token has expired.",
                            status=400)
        one = SigV4Verifier(listed["access_key"], listed["secret_key"],
                            self.region, listed.get("session_token"))
        return one.verify(method, raw_path, raw_query, headers, now)


def signing_access_key(raw_query: str, hmap: dict[str, str]) -> str | None:
    """The access key id a request is signed with (header or query), if any."""
    found = re.search(r"Credential=([^/,\s]+)", hmap.get("authorization", ""))
    if found is not None:
        return found.group(1)
    for name, value in parse_query(raw_query):
        if name == b"X-Amz-Credential":
            return value.decode("latin-1").split("/", 1)[0]
    return None


class KeyPairsVerifier(SigV4Verifier):
    """Also accepts other static key pairs (--key ACCESS:SECRET): a request
    is checked against the pair its access key id names."""

    def __init__(self, pairs: dict[str, str], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._others = {access: SigV4Verifier(access, secret, self.region)
                        for access, secret in pairs.items()}

    def __repr__(self) -> str:
        return f"KeyPairsVerifier(access_keys={sorted(self._others)!r})"

    def verify(self, method, raw_path, raw_query, headers, now=None):
        headers = list(headers)
        other = self._others.get(signing_access_key(raw_query, header_map(headers)) or "")
        if other is None:
            return super().verify(method, raw_path, raw_query, headers, now)
        return other.verify(method, raw_path, raw_query, headers, now)


def _hex_bytes(text: str) -> str:
    """S3's StringToSignBytes form: each byte as two hex digits, spaced."""
    return " ".join(f"{b:02x}" for b in _to_bytes(text))


def error_xml(code: str, message: str, extra: dict[str, str], request_id: str) -> bytes:
    """An S3-style XML error document."""
    parts = [f"<Code>{xml_escape(code)}</Code>", f"<Message>{xml_escape(message)}</Message>"]
    for name, value in extra.items():
        parts.append(f"<{name}>{xml_escape(value)}</{name}>")
    parts.append(f"<RequestId>{request_id}</RequestId><HostId>s3server</HostId>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts)
            + "</Error>").encode("utf-8")


# ---------------------------------------------------------------------------
# Request recording
# ---------------------------------------------------------------------------

class RequestRecorder:
    """Keeps the last MAX_RECORDS request records; optionally appends to a file."""

    def __init__(self, log_path: str | None, limit: int = MAX_RECORDS):
        self._lock = threading.Lock()
        self._records: collections.deque[dict] = collections.deque(maxlen=limit)
        self._file = open(log_path, "a", encoding="utf-8") if log_path else None

    def add(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._records.append(record)
            if self._file:
                self._file.write(line + "\n")
                self._file.flush()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def close(self) -> None:
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None


# ---------------------------------------------------------------------------
# Checksums and parts: what S3 keeps of an object that moto does not
# ---------------------------------------------------------------------------

# S3's additional checksums, as header suffixes (x-amz-checksum-<name>).
CHECKSUM_ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
MAX_PART_NUMBER = 10000


def _crc_table(poly: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


# Reflected polynomials: CRC-32C (Castagnoli) and CRC-64/NVME.
_CRC32C_TABLE = _crc_table(0x82F63B78)
_CRC64NVME_TABLE = _crc_table(0x9A6C9329AC4BC9B5)


def _crc(data: bytes, table: list[int], bits: int) -> int:
    mask = (1 << bits) - 1
    crc = mask
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def checksum(algorithm: str, data: bytes) -> str:
    """S3's base64 checksum of `data` (the digest's big-endian bytes)."""
    import base64
    import zlib
    if algorithm == "crc32":
        raw = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "crc32c":
        raw = _crc(data, _CRC32C_TABLE, 32).to_bytes(4, "big")
    elif algorithm == "crc64nvme":
        raw = _crc(data, _CRC64NVME_TABLE, 64).to_bytes(8, "big")
    else:
        raw = hashlib.new(algorithm, data).digest()
    return base64.b64encode(raw).decode()


def composite_checksum(algorithm: str, parts: list[str]) -> str:
    """A multipart object's COMPOSITE checksum: the checksum of its parts'
    checksums (their bytes, concatenated), then "-" and their number."""
    import base64
    joined = b"".join(base64.b64decode(value) for value in parts)
    return f"{checksum(algorithm, joined)}-{len(parts)}"


@dataclass
class Part:
    size: int
    checksum: tuple[str, str] | None      # (algorithm, base64 value)


@dataclass
class StoredObject:
    checksum: tuple[str, str] | None
    checksum_type: str = "FULL_OBJECT"
    parts: list[Part] | None = None       # a multipart object's, in order


class ObjectStore:
    """Checksums and part sizes of the objects uploaded through the gate,
    by (bucket, key) as decoded bytes; uploads in progress by upload id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[tuple[bytes, bytes], StoredObject] = {}
        self._uploads: dict[str, dict[int, Part]] = {}

    def put(self, bucket: bytes, key: bytes, found: tuple[str, str] | None) -> None:
        with self._lock:
            self._objects[(bucket, key)] = StoredObject(found)

    def put_part(self, upload_id: str, number: int, part: Part) -> None:
        with self._lock:
            self._uploads.setdefault(upload_id, {})[number] = part

    def complete(self, bucket: bytes, key: bytes, upload_id: str,
                 numbers: list[int]) -> None:
        with self._lock:
            uploaded = self._uploads.pop(upload_id, {})
            parts = [uploaded.get(n, Part(0, None)) for n in numbers]
            found = None
            sums = [p.checksum for p in parts]
            if sums and all(sums) and len({a for a, _ in sums}) == 1:
                algorithm = sums[0][0]
                found = (algorithm, composite_checksum(algorithm, [v for _, v in sums]))
            self._objects[(bucket, key)] = StoredObject(found, "COMPOSITE", parts)

    def delete(self, bucket: bytes, key: bytes) -> None:
        with self._lock:
            self._objects.pop((bucket, key), None)

    def get(self, bucket: bytes, key: bytes) -> StoredObject | None:
        with self._lock:
            return self._objects.get((bucket, key))


def sent_checksum(headers: dict[str, str]) -> tuple[str, str] | None:
    """The x-amz-checksum-<algorithm> a request carries, if any."""
    for algorithm in CHECKSUM_ALGORITHMS:
        value = headers.get("x-amz-checksum-" + algorithm)
        if value is not None:
            return algorithm, value.strip()
    return None


def bucket_and_key(path: str) -> tuple[bytes, bytes | None]:
    """The decoded bucket and key of a path-style path (key None: none)."""
    decoded = percent_decode(_to_bytes(path))
    bucket, slash, key = decoded[1:].partition(b"/")
    return bucket, (key if slash and key else None)


@dataclass
class Reshape:
    """How the gate changes moto's answer to a GetObject or HeadObject."""
    checksums: bool = False               # checksum mode ENABLED, no Range
    stored: StoredObject | None = None
    part: int | None = None               # partNumber
    part_range: tuple[int, int] | None = None   # its bytes, first and last
    corrupt: bool = False


# ---------------------------------------------------------------------------
# The gate: verifying reverse proxy in front of moto
# ---------------------------------------------------------------------------

class BodyError(Exception):
    """The client's request body could not be read."""


class GateServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], verifier: SigV4Verifier,
                 upstream: tuple[str, int] | None, recorder: RequestRecorder,
                 verbose: bool):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.verifier = verifier
        self.upstream = upstream
        self.recorder = recorder
        self.verbose = verbose
        self.virtual_host: str | None = None
        self.faults: list[dict] = []
        self.faults_lock = threading.Lock()
        self.deny: list[tuple[str, str]] = []
        self.store = ObjectStore()
        super().__init__(address, GateHandler)

    def denied(self, access_key: str | None, raw_path: str, raw_query: str) -> bool:
        """Whether a --deny rule refuses `access_key` this object, or a
        listing whose prefix= is inside the denied one."""
        for who, prefix in self.deny:
            if who != access_key:
                continue
            if raw_path.startswith(prefix):
                return True
            bucket, _, folder = prefix.lstrip("/").partition("/")
            if raw_path.rstrip("/") == "/" + bucket:
                for name, value in parse_query(raw_query):
                    if name == b"prefix" and value.decode("latin-1").startswith(folder):
                        return True
        return False

    def take_fault(self, raw_path: str, corrupt: bool = False) -> dict | None:
        """The injected error (or, with `corrupt`, corruption) for
        `raw_path`, if one is left."""
        with self.faults_lock:
            for fault in self.faults:
                if (fault["path"] == raw_path and fault["times"] > 0
                        and bool(fault.get("corrupt")) == corrupt):
                    fault["times"] -= 1
                    return fault
        return None


class GateHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300  # seconds; idle keep-alive connections are closed after this
    server_version = "AmazonS3"
    sys_version = ""
    server: GateServer

    # Every method goes through the same code path.
    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib name)
        if self.server.verbose:
            super().log_message(format, *args)

    # -- main flow ----------------------------------------------------------

    def _raw_target(self) -> str:
        # self.path has had a leading '//' collapsed by http.server (an
        # open-redirect guard); the request line still holds the raw target.
        words = self.requestline.split()
        return words[1] if len(words) >= 2 else self.path

    def _handle(self) -> None:
        target = self._raw_target()
        raw_path, _, raw_query = target.partition("?")
        if raw_path == CONTROL_PATH:
            self._control()
            return
        if raw_path == FAULTS_PATH:
            self._faults()
            return
        header_items = list(self.headers.items())
        headers = header_map(header_items)
        self._record: dict | None = {
            "method": self.command,
            "path": raw_path,
            "query": raw_query,
            "headers": headers,
            "auth": classify(raw_query, headers),
            "verified": False,
            "error": None,
            "status": 0,
        }
        try:
            self._process(raw_path, raw_query, header_items)
        finally:
            self._commit_record(None)  # no-op unless something blew up mid-way

    def _commit_record(self, status: int | None) -> None:
        """Store the current request's record (once).

        Called right before the response headers go out, so a client that
        has received its response always finds the record already there.
        """
        record, self._record = self._record, None
        if record is not None:
            if status is not None:
                record["status"] = status
            self.server.recorder.add(record)

    def _process(self, raw_path: str, raw_query: str,
                 header_items: list[tuple[str, str]]) -> None:
        """Verify, then forward."""
        if not raw_path.startswith("/"):
            self._send_error(AuthError("InvalidURI", "Only origin-form request targets "
                                       "are supported", status=400), body_consumed=False)
            return
        try:
            verified = self.server.verifier.verify(self.command, raw_path, raw_query,
                                                   header_items)
        except AuthError as err:
            self._send_error(err, body_consumed=False)
            return

        try:
            body, length, digest = self._read_body()
        except BodyError as exc:
            self._send_error(AuthError("IncompleteBody", str(exc), status=400),
                             body_consumed=False)
            return
        try:
            if verified.check_body_hash and digest != verified.payload_hash.lower():
                self._send_error(AuthError(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what "
                    "was computed.",
                    extra={"ClientComputedContentSHA256": verified.payload_hash,
                           "S3ComputedContentSHA256": digest}), body_consumed=True)
                return
            self._record["verified"] = True
            access_key = signing_access_key(raw_query, header_map(header_items))
            self._record["access_key"] = access_key
            if self.server.denied(access_key, raw_path, raw_query):
                self._send_error(AuthError("AccessDenied", "Access Denied",
                                           extra={"Resource": raw_path}),
                                 body_consumed=True)
                return
            fault = self.server.take_fault(raw_path)
            if fault is not None:
                self._send_error(AuthError(fault["code"], fault.get(
                    "message", "An error injected by the test."),
                    status=fault["status"],
                    extra={"Resource": raw_path, **fault.get("extra", {})}),
                    body_consumed=True,
                    headers=fault.get("headers", {}))
                return
            self._forward(raw_path, raw_query, header_items, body, length)
        finally:
            if body is not None:
                body.close()

    # -- request body -------------------------------------------------------

    def _read_body(self) -> tuple[BinaryIO | None, int | None, str]:
        """Spool the request body (memory, then disk) while hashing it.

        Returns (file or None, length or None when there was no body framing,
        hex sha256). Chunked uploads are de-chunked here and forwarded with a
        Content-Length.
        """
        digest = hashlib.sha256()
        te = self.headers.get("Transfer-Encoding", "").lower()
        cl = self.headers.get("Content-Length")
        if "chunked" not in te and cl is None:
            return None, None, digest.hexdigest()
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)
        total = 0

        def take(n: int) -> None:
            nonlocal total
            while n > 0:
                chunk = self.rfile.read(min(n, COPY_CHUNK))
                if not chunk:
                    raise BodyError("The client closed the connection before "
                                    "sending the whole body")
                spool.write(chunk)
                digest.update(chunk)
                total += len(chunk)
                n -= len(chunk)

        try:
            if "chunked" in te:
                while True:
                    size_line = self.rfile.readline(1024)
                    try:
                        size = int(size_line.split(b";")[0].strip(), 16)
                    except ValueError:
                        raise BodyError(f"Bad chunk size line {size_line!r}") from None
                    if size == 0:
                        break
                    take(size)
                    self.rfile.readline(16)  # CRLF after the chunk data
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # discard trailers
            else:
                if not cl.strip().isdigit():
                    raise BodyError(f"Invalid Content-Length {cl!r}")
                take(int(cl))
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool, total, digest.hexdigest()

    # -- forwarding ---------------------------------------------------------

    def _forward(self, raw_path: str, raw_query: str, header_items: list[tuple[str, str]],
                 body: BinaryIO | None, length: int | None) -> None:
        host, port = self.server.upstream
        path = virtual_path(self.server.virtual_host, self.headers.get("Host", ""), raw_path)
        bucket, key = bucket_and_key(path)
        headers = header_map(header_items)
        pairs = parse_query(raw_query)
        names = {name for name, _ in pairs}
        extra: list[tuple[str, str]] = []
        reshape = sent = numbers = None
        if key is not None and self.command in ("GET", "HEAD"):
            reshape, error = self._reshape(bucket, key, pairs, headers)
            if error is not None:
                self._send_error(error, body_consumed=True)
                return
            if reshape.part is not None:
                # moto reads no parts: the part is a Range of the object.
                raw_query = "&".join(
                    item for item in raw_query.split("&")
                    if percent_decode(_to_bytes(item.partition("=")[0]), True)
                    != b"partNumber")
                if reshape.part_range is not None and self.command == "GET":
                    extra.append(("Range", "bytes=%d-%d" % reshape.part_range))
        elif key is not None and self.command == "PUT" and "x-amz-copy-source" not in headers:
            sent = sent_checksum(headers)
            if sent is not None:
                data = body.read() if body is not None else b""
                if body is not None:
                    body.seek(0)
                if checksum(sent[0], data) != sent[1]:
                    self._send_error(AuthError(
                        "BadDigest", f"The {sent[0].upper()} you specified did not match "
                        "the calculated checksum.", status=400), body_consumed=True)
                    return
        elif key is not None and self.command == "POST" and b"uploadId" in names:
            data = body.read() if body is not None else b""
            if body is not None:
                body.seek(0)
            numbers = [int(n) for n in re.findall(rb"<PartNumber>\s*(\d+)\s*</PartNumber>",
                                                  data)]
        target = upstream_target(path, raw_query)
        conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT)
        try:
            try:
                conn.putrequest(self.command, target, skip_host=True,
                                skip_accept_encoding=True)
                conn.putheader("Host", f"{host}:{port}")
                listed = _connection_tokens(self.headers)
                for name, value in header_items:
                    lname = name.lower()
                    if lname not in NOT_FORWARDED_REQUEST and lname not in listed:
                        conn.putheader(name, value)
                for name, value in extra:
                    conn.putheader(name, value)
                if length is not None:
                    conn.putheader("Content-Length", str(length))
                conn.endheaders()
                if body is not None:
                    while chunk := body.read(COPY_CHUNK):
                        conn.send(chunk)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                self._send_error(AuthError("ServiceUnavailable",
                                           f"moto is not reachable: {exc}", status=503),
                                 body_consumed=True)
                return
            if resp.status in (200, 204) and key is not None:
                self._remember(bucket, key, names, pairs, sent, length, numbers)
            if reshape is not None and resp.status in (200, 206):
                if reshape.part is not None and reshape.part_range is None and reshape.part > 1:
                    # A single-part object is its own part 1, and no more.
                    resp.read()
                    self._send_error(AuthError("InvalidPartNumber", "The requested "
                                               "partnumber is not satisfiable", status=416),
                                     body_consumed=True)
                    return
                if self.command == "GET":
                    reshape.corrupt = self.server.take_fault(raw_path, corrupt=True) is not None
            self._relay_response(resp, reshape, response_overrides(raw_query))
        finally:
            conn.close()

    def _reshape(self, bucket: bytes, key: bytes, pairs: list[tuple[bytes, bytes]],
                 headers: dict[str, str]) -> tuple[Reshape | None, AuthError | None]:
        """What the answer to a GetObject or HeadObject carries that moto
        does not give: checksums when asked, and parts; or S3's refusal of
        a partNumber."""
        ranged = "range" in headers
        reshape = Reshape(stored=self.server.store.get(bucket, key))
        reshape.checksums = headers.get("x-amz-checksum-mode") == "ENABLED" and not ranged
        numbers = [value for name, value in pairs if name == b"partNumber"]
        if not numbers:
            return reshape, None
        if (len(numbers) > 1 or not re.fullmatch(rb"[1-9][0-9]{0,4}", numbers[0])
                or int(numbers[0]) > MAX_PART_NUMBER):
            return None, AuthError("InvalidArgument", "Part number must be an integer "
                                   "between 1 and 10000, inclusive", status=400,
                                   extra={"ArgumentName": "partNumber"})
        if ranged:
            return None, AuthError("InvalidRequest", "Cannot specify both Range header "
                                   "and partNumber query parameter", status=400)
        reshape.part = int(numbers[0])
        parts = reshape.stored.parts if reshape.stored else None
        if parts is not None:
            if reshape.part > len(parts):
                return None, AuthError("InvalidPartNumber", "The requested partnumber "
                                       "is not satisfiable", status=416)
            first = sum(part.size for part in parts[:reshape.part - 1])
            reshape.part_range = (first, first + parts[reshape.part - 1].size - 1)
        return reshape, None

    def _remember(self, bucket: bytes, key: bytes, names: set[bytes],
                  pairs: list[tuple[bytes, bytes]], sent: tuple[str, str] | None,
                  length: int | None, numbers: list[int] | None) -> None:
        """Keeps what moto answered 200 to: an object's or a part's
        checksum and size, a completed upload's parts, a deletion."""
        store = self.server.store
        query = dict(pairs)
        if self.command == "PUT" and "x-amz-copy-source" not in self.headers:
            if b"uploadId" in names and b"partNumber" in names:
                number = query[b"partNumber"]
                if number.isdigit():
                    store.put_part(query[b"uploadId"].decode("latin-1"), int(number),
                                   Part(length or 0, sent))
            elif not names & {b"uploadId", b"partNumber", b"tagging", b"acl",
                              b"retention", b"legal-hold"}:
                store.put(bucket, key, sent)
        elif self.command == "POST" and numbers is not None:
            store.complete(bucket, key, query[b"uploadId"].decode("latin-1"), numbers)
        elif self.command == "DELETE" and not names:
            store.delete(bucket, key)

    def _relay_response(self, resp: http.client.HTTPResponse,
                        reshape: Reshape | None = None,
                        overrides: dict[str, str] | None = None) -> None:
        no_body = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        length = resp.getheader("Content-Length")
        status = resp.status
        added: list[tuple[str, str]] = []
        if reshape is not None and status in (200, 206):
            added, status, length = self._reshaped(resp, reshape, length)
        chunked = False
        self.send_response_only(status)  # standard reason phrase
        listed = {t.strip().lower() for t in (resp.getheader("Connection") or "").split(",")}
        # S3 answers a successful GET or HEAD with the response-* overrides
        # of its (signed) query in place of the object's own headers.
        overrides = (overrides or {}) if 200 <= status < 300 else {}
        added += list(overrides.items())
        for name, value in resp.getheaders():
            lname = name.lower()
            if lname in overrides:
                continue
            if reshape is not None and (lname.startswith("x-amz-checksum-")
                                        or lname == "x-amz-sdk-checksum-algorithm"
                                        or (lname == "content-range"
                                            and reshape.part is not None)):
                continue  # moto's, replaced by what the gate keeps
            if lname not in NOT_FORWARDED_RESPONSE and lname not in listed:
                self.send_header(name, value)
        for name, value in added:
            self.send_header(name, value)
        self.send_header("Server", self.server_version)
        self.send_header("Date", self.date_time_string())
        # S3 names every answer by request and host ids; moto does not.
        request_id = uuid.uuid4().hex[:16].upper()
        self.send_header("x-amz-request-id", request_id)
        self.send_header("x-amz-id-2", "s3server/" + request_id)
        if length is not None:
            self.send_header("Content-Length", length)
        elif not no_body:
            if self.request_version == "HTTP/1.1":
                chunked = True
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self._commit_record(status)
        self.end_headers()
        if no_body:
            return
        corrupt = reshape is not None and reshape.corrupt
        try:
            while chunk := resp.read(COPY_CHUNK):
                if corrupt:
                    # One byte changed, the length kept: only a checksum
                    # can tell.
                    chunk = bytes([chunk[0] ^ 0x01]) + chunk[1:]
                    corrupt = False
                if chunked:
                    self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    self.wfile.write(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            # Client went away or moto truncated the body: the framing is now
            # broken, so the connection cannot be reused.
            self.close_connection = True

    def _reshaped(self, resp: http.client.HTTPResponse, reshape: Reshape,
                  length: str | None) -> tuple[list[tuple[str, str]], int, str | None]:
        """The headers a GetObject or HeadObject answer gains (checksums,
        a part's range and the parts count), its status and length."""
        added: list[tuple[str, str]] = []
        status = resp.status
        stored = reshape.stored
        found = stored.checksum if stored else None
        checksum_type = stored.checksum_type if stored else None
        if reshape.part is not None:
            status = 206
            if reshape.part_range is not None:
                first, last = reshape.part_range
                if self.command == "HEAD":
                    total = int(length or 0)
                    length = str(last - first + 1)
                else:
                    total = int((resp.getheader("Content-Range") or "/0").rpartition("/")[2])
                added.append(("Content-Range", f"bytes {first}-{last}/{total}"))
                added.append(("x-amz-mp-parts-count", str(len(stored.parts))))
                found = stored.parts[reshape.part - 1].checksum
                checksum_type = None
            elif length not in (None, "0"):
                added.append(("Content-Range", f"bytes 0-{int(length) - 1}/{length}"))
        if reshape.checksums and found is not None:
            added.append(("x-amz-checksum-" + found[0], found[1]))
            if checksum_type:
                added.append(("x-amz-checksum-type", checksum_type))
        return added, status, length

    # -- responses generated by the gate -----------------------------------

    def _send_error(self, err: AuthError, body_consumed: bool,
                    headers: dict[str, str] | None = None) -> None:
        if self._record is not None:
            self._record["error"] = err.describe()
        request_id = uuid.uuid4().hex[:16].upper()
        payload = error_xml(err.code, err.message, err.extra, request_id)
        if not body_consumed and (self.headers.get("Content-Length", "0").strip() not in ("", "0")
                                  or self.headers.get("Transfer-Encoding")):
            # The body was never read; the connection cannot be reused.
            self.close_connection = True
        self.send_response_only(err.status)
        self.send_header("Server", self.server_version)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("x-amz-id-2", "s3server/" + request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self._commit_record(err.status)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(payload)
            except OSError:
                self.close_connection = True

    def _faults(self) -> None:
        """The unauthenticated, unrecorded fault injection endpoint."""
        try:
            body, _, _ = self._read_body()
            raw = body.read() if body is not None else b""
            if body is not None:
                body.close()
        except BodyError:
            self.close_connection = True
            raw = b""
        status = 204
        with self.server.faults_lock:
            if self.command == "POST":
                try:
                    fault = json.loads(raw)
                    fault.setdefault("times", 1)
                    self.server.faults.append(fault)
                except (ValueError, AttributeError):
                    status = 400
            elif self.command == "DELETE":
                self.server.faults.clear()
            else:
                status = 405
        self.send_response_only(status)
        self.send_header("Server", self.server_version)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _control(self) -> None:
        """The unauthenticated, unrecorded control endpoint."""
        recorder = self.server.recorder
        if self.command == "GET":
            status, payload = 200, json.dumps(recorder.snapshot(), ensure_ascii=False).encode()
        elif self.command == "DELETE":
            recorder.clear()
            status, payload = 204, b""
        else:
            status, payload = 405, b'{"error": "use GET or DELETE"}'
        try:
            self._read_body()  # discard anything sent, keep the connection usable
        except BodyError:
            self.close_connection = True
        self.send_response_only(status)
        self.send_header("Server", self.server_version)
        self.send_header("Date", self.date_time_string())
        if payload or status != 204:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)


def _connection_tokens(headers) -> set[str]:
    """Header names listed in Connection: (also hop-by-hop)."""
    tokens = set()
    for value in headers.get_all("Connection") or []:
        tokens.update(t.strip().lower() for t in value.split(","))
    return tokens


def virtual_path(suffix: str | None, host: str, raw_path: str) -> str:
    """The path-style path of a virtual-hosted request (--virtual-host).

    With the suffix `s3.test`, a request for `/key` with `Host:
    bucket.s3.test:9000` is `/bucket/key` for moto; other requests keep
    their path.
    """
    if not suffix:
        return raw_path
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.lower().endswith("." + suffix.lower()):
        bucket = name[: -len(suffix) - 1]
        return "/" + bucket + raw_path
    return raw_path


def upstream_target(raw_path: str, raw_query: str) -> str:
    """The request target sent to moto: the client's, with two exceptions.

    * moto cuts object keys at a raw ';' (it parses ";params" off the path),
      while S3 treats ';' as an ordinary character, so a raw ';' in the path
      is sent as the equivalent '%3B'.
    * http.client only sends ASCII request lines; raw bytes >= 0x80 or
      control/space bytes (possible since http.server decodes the line as
      latin-1) are percent-encoded, which moto decodes to the same bytes.

    Everything else, including existing %XX escapes and '+', is passed on
    byte for byte.
    """
    def safe(text: str) -> str:
        return "".join(
            c if c.isascii() and 0x20 < ord(c) < 0x7F else
            "".join(f"%{b:02X}" for b in _to_bytes(c))
            for c in text
        )
    target = safe(raw_path).replace(";", "%3B")
    if raw_query:
        target += "?" + safe(raw_query)
    return target


# ---------------------------------------------------------------------------
# moto helpers
# ---------------------------------------------------------------------------

def start_moto() -> tuple[Any, tuple[str, int]]:
    """Start moto's S3 in-process on an ephemeral loopback port."""
    # werkzeug logs every request at INFO level to stderr; keep it quiet.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    return moto, (host, port)


def moto_request(upstream: tuple[str, int], method: str, path: str,
                 body: bytes = b"", headers: dict[str, str] | None = None,
                 access_key: str = "AKID", region: str = "us-east-1") -> tuple[int, bytes]:
    """Send a request straight to moto (bypassing the gate).

    moto refuses anonymous reads of private objects, so a syntactically valid
    (but unverified) Authorization header is always sent; it also tells moto
    which region the request is for.
    """
    host, port = upstream
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
    all_headers = {
        "Host": f"{host}:{port}",
        "Authorization": f"{ALGORITHM} Credential={access_key}/{date}/{region}/s3/"
                         f"aws4_request, SignedHeaders=host, Signature={'0' * 64}",
        "Content-Length": str(len(body)),
    }
    all_headers.update(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def object_path(bucket: str, key: str) -> str:
    """Path-style URL path for a key, encoded the way SigV4 wants it."""
    return f"/{bucket}/" + urllib.parse.quote(key, safe="/~")


def seed_demo(upstream: tuple[str, int], access_key: str, region: str,
              listing: bool = True) -> None:
    """Create bucket `demo` and fill it, writing directly into moto; without
    `listing`, not the listing/ items (seeding them is most of a start)."""
    body = b""
    if region != "us-east-1":
        body = ('<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{region}</LocationConstraint>"
                "</CreateBucketConfiguration>").encode()
    status, reply = moto_request(upstream, "PUT", f"/{DEMO_BUCKET}", body,
                                 access_key=access_key, region=region)
    if status != 200:
        raise RuntimeError(f"creating bucket {DEMO_BUCKET} failed: {status} {reply!r}")

    def put(item: tuple[str, bytes]) -> None:
        key, data = item
        status, reply = moto_request(
            upstream, "PUT", object_path(DEMO_BUCKET, key), data,
            headers={"Content-Type": content_type_for(key)},
            access_key=access_key, region=region)
        if status != 200:
            raise RuntimeError(f"seeding {key!r} failed: {status} {reply!r}")

    items = list(DEMO_OBJECTS.items())
    if listing:
        items += list(listing_objects().items())
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for _ in pool.map(put, items):
            pass


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Local S3 (moto) behind a strict SigV4-verifying gate.")
    parser.add_argument("--port", type=int, required=True,
                        help="port of the gate (0 = pick a free one; see --ready-file)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the gate")
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--session-token", default=None,
                        help="require this x-amz-security-token / X-Amz-Security-Token")
    parser.add_argument("--seed", choices=["demo", "demo-small"], default=None,
                        help="create and fill bucket 'demo' (demo-small: "
                             "without its %d listing/ items)" % LISTING_COUNT)
    parser.add_argument("--keys-file", default=None,
                        help="also accept the temporary credential sets listed "
                             "in this JSON file (demo/credserver.py) while valid")
    parser.add_argument("--key", action="append", default=[], metavar="ACCESS:SECRET",
                        help="also accept this static key pair (repeatable)")
    parser.add_argument("--deny", action="append", default=[], metavar="ACCESS:PREFIX",
                        help="answer AccessDenied to verified requests signed "
                             "with ACCESS for paths starting with PREFIX "
                             "(/bucket/folder/), and to listings of it "
                             "(repeatable): a bucket policy that refuses one "
                             "key pair what another may read")
    parser.add_argument("--log", default=None, help="append JSON lines, one per request")
    parser.add_argument("--ready-file", default=None,
                        help="write the gate's port here once everything listens")
    parser.add_argument("--virtual-host", default=None, metavar="SUFFIX",
                        help="also serve virtual-hosted requests: Host "
                             "BUCKET.SUFFIX[:PORT] names BUCKET")
    parser.add_argument("--verbose", action="store_true",
                        help="print an access log line per request to stderr")
    return parser.parse_args(argv)


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _remove_quietly(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _remove_quietly(args.ready_file)  # never let a caller see a stale port

    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    # The gate takes its port before moto starts: moto's own port and the
    # connections that seed it are ephemeral ports, and one of them could
    # otherwise take the port a caller just found free.
    recorder = RequestRecorder(args.log)
    if args.keys_file:
        verifier = RotatingVerifier(args.keys_file, args.access_key,
                                    args.secret_key, args.region,
                                    args.session_token)
    elif args.key:
        verifier = KeyPairsVerifier(dict(pair.split(":", 1) for pair in args.key),
                                    args.access_key, args.secret_key, args.region,
                                    args.session_token)
    else:
        verifier = SigV4Verifier(args.access_key, args.secret_key,
                                 args.region, args.session_token)
    try:
        gate = GateServer((args.host, args.port), verifier, None, recorder,
                          args.verbose)
        gate.virtual_host = args.virtual_host
        gate.deny = [tuple(rule.split(":", 1)) for rule in args.deny]
    except OSError as exc:
        print(f"s3server: cannot listen on {args.host}:{args.port}: {exc}",
              file=sys.stderr, flush=True)
        recorder.close()
        return 1
    moto, upstream = start_moto()
    gate.upstream = upstream
    serving = False
    try:
        if args.seed in ("demo", "demo-small"):
            seed_demo(upstream, args.access_key, args.region,
                      listing=args.seed == "demo")
        threading.Thread(target=gate.serve_forever, name="gate", daemon=True).start()
        serving = True

        port = gate.server_address[1]
        shown_host = f"[{args.host}]" if ":" in args.host else args.host
        if args.ready_file:
            _write_atomically(args.ready_file, f"{port}\n")
        print(f"s3server ready on http://{shown_host}:{port}", flush=True)

        while not stop.wait(0.5):
            pass
    finally:
        if serving:
            gate.shutdown()
        gate.server_close()
        moto.stop()
        recorder.close()
        _remove_quietly(args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

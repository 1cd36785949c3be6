"""S3 clients get S3's answers end to end (issue 26): downloads checked by
their checksums, folder marker objects, part numbers.

boto3 and the aws CLI in their default configuration (botocore 1.43 asks
for checksums on every GetObject and checks the body against them) against
the real nginx and the S3 stand-in (demo/s3server.py), which keeps
checksums and parts as S3 does and can corrupt one byte of a body.  Each
test asserts what the client got, what reached S3 (the stand-in's record
of every request, each signature checked) and what nginx logged."""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zlib

import boto3
import botocore
import botocore.config
import botocore.exceptions
import pytest
import requests

from harness import (ACCESS_KEY, REGION, SECRET_KEY, Nginx, client_env,
                     s3_environment, wait_until)

BUCKET = "s3p-answers"
SDK_UA = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"
BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")

SHA_KEY, SHA_BODY = "sums/report.csv", b"id,value\n1,42\n2,43\n" * 50
CRC_KEY, CRC_BODY = "sums/notes.txt", b"checked by CRC32\n" * 40
INDEX_PAGE = b"<!DOCTYPE html><title>docs</title><p>the docs index page</p>\n"
MARKER_BODY = b"a folder marker with a body\n"
PART_ONE = bytes(range(256)) * (5 * 4096)          # 5 MiB: S3's smallest part
PART_TWO = b"the second and last part\n" * 41
MULTIPART_KEY = "parts/archive.bin"

LOCATIONS = """
        location / {
            s3_proxy on;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }
        location /passing/ {
            s3_proxy on;
            s3_proxy_pass_headers request-id sse;
            include s3_proxy.conf;
        }
        location /cached/ {
            s3_proxy on;
            include s3_proxy.conf;
            proxy_cache            answers;
            proxy_cache_valid      200 1h;
            add_header             X-Cache $upstream_cache_status always;
        }
"""


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def direct_client(s3):
    """boto3 straight to S3, default configuration but addressing."""
    return boto3.session.Session().client(
        "s3", endpoint_url=s3.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "path"}))


def proxy_client(url):
    """boto3 through the proxy: default configuration, unsigned (the proxy
    holds the credentials), no retries to hide a failure."""
    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name="us-east-1",
        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def objects(s3):
    """What the tests read, put straight into S3 with boto3's defaults
    (botocore adds a CRC32 to every upload) or a chosen algorithm."""
    client = direct_client(s3)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key=SHA_KEY, Body=SHA_BODY,
                      ChecksumAlgorithm="SHA256")
    client.put_object(Bucket=BUCKET, Key=CRC_KEY, Body=CRC_BODY)
    client.put_object(Bucket=BUCKET, Key="docs/", Body=b"")
    client.put_object(Bucket=BUCKET, Key="docs/index.html", Body=INDEX_PAGE,
                      ContentType="text/html")
    client.put_object(Bucket=BUCKET, Key="notes/", Body=MARKER_BODY,
                      ContentType="application/x-directory")
    client.put_object(Bucket=BUCKET, Key="notes/todo.txt", Body=b"todo\n")
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=MULTIPART_KEY,
                                            ChecksumAlgorithm="SHA256")
    parts = []
    for number, body in ((1, PART_ONE), (2, PART_TWO)):
        part = client.upload_part(Bucket=BUCKET, Key=MULTIPART_KEY, Body=body,
                                  UploadId=upload["UploadId"], PartNumber=number,
                                  ChecksumAlgorithm="SHA256")
        parts.append({"PartNumber": number, "ETag": part["ETag"],
                      "ChecksumSHA256": part["ChecksumSHA256"]})
    client.complete_multipart_upload(Bucket=BUCKET, Key=MULTIPART_KEY,
                                     UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})
    return client


@pytest.fixture(scope="module")
def nginx(s3, objects):
    cache = tempfile.mkdtemp(prefix="s3p-answers-cache-")
    os.chmod(cache, 0o777)
    server = Nginx(s3_environment(s3), locations=LOCATIONS,
                   http_extra=f"proxy_cache_path {cache} levels=1:2 "
                              "keys_zone=answers:1m use_temp_path=off;")
    os.chmod(server.prefix, 0o755)      # workers write the cache as nobody
    server.start()
    yield server
    bad = server.bad_log_lines()
    server.cleanup()
    shutil.rmtree(cache, ignore_errors=True)
    assert not bad, "error log:\n" + "\n".join(bad)


@pytest.fixture
def s3_seen(s3):
    """What reached S3 during the test: its records, each verified."""
    s3.clear()

    def seen():
        records = s3.requests()
        assert all(r["verified"] for r in records), records
        return records
    return seen


def signed_names(record):
    found = re.search(r"SignedHeaders=([^,]+)", record["headers"]["authorization"])
    return found.group(1).split(";")


def log_after(nginx, mark):
    with open(nginx.error_log, errors="replace") as f:
        return f.read()[mark:]


def log_mark(nginx):
    return len(nginx.log_text())


def corrupt_next(s3, key):
    """The stand-in changes one byte of the next GET body of `key`."""
    body = json.dumps({"path": f"/{BUCKET}/{key}", "corrupt": True}).encode()
    urllib.request.urlopen(urllib.request.Request(
        s3.endpoint + "/__s3server/faults", data=body, method="POST")).read()


def aws_cli():
    """The aws CLI of the tests' virtualenv (the botocore above), else
    the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "aws")
    return beside if os.path.exists(beside) else "aws"


# --------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------

def test_botocore_asks_for_checksums_by_default():
    # Without this the tests below would not test the default configuration.
    assert tuple(int(x) for x in botocore.__version__.split(".")[:2]) >= (1, 36)
    config = botocore.config.Config()
    assert getattr(config, "response_checksum_validation", None) in (None, "when_supported")


@pytest.mark.parametrize("key,body,field,expected", [
    (SHA_KEY, SHA_BODY, "ChecksumSHA256", sha256_b64(SHA_BODY)),
    (CRC_KEY, CRC_BODY, "ChecksumCRC32", crc32_b64(CRC_BODY)),
], ids=["sha256", "crc32"])
def test_get_object_checksums_come_back_equal_to_s3s(nginx, s3, objects, s3_seen, key,
                                                     body, field, expected):
    direct = objects.get_object(Bucket=BUCKET, Key=key)
    assert direct[field] == expected
    assert direct["Body"].read() == body
    s3.clear()

    answer = proxy_client(nginx.url).get_object(Bucket=BUCKET, Key=key)
    assert answer[field] == direct[field] == expected
    assert answer["ChecksumType"] == "FULL_OBJECT"
    assert answer["Body"].read() == body
    [record] = s3_seen()
    assert (record["method"], record["path"]) == ("GET", f"/{BUCKET}/{key}")
    assert record["headers"]["x-amz-checksum-mode"] == "ENABLED"
    assert "x-amz-checksum-mode" in signed_names(record)


def test_head_object_with_checksum_mode(nginx, s3, objects, s3_seen):
    direct = objects.head_object(Bucket=BUCKET, Key=SHA_KEY, ChecksumMode="ENABLED")
    s3.clear()
    client = proxy_client(nginx.url)
    asked = client.head_object(Bucket=BUCKET, Key=SHA_KEY, ChecksumMode="ENABLED")
    assert asked["ChecksumSHA256"] == direct["ChecksumSHA256"] == sha256_b64(SHA_BODY)
    assert asked["ChecksumType"] == "FULL_OBJECT"
    assert asked["ContentLength"] == len(SHA_BODY)
    plain = client.head_object(Bucket=BUCKET, Key=SHA_KEY)
    assert "ChecksumSHA256" not in plain
    records = s3_seen()
    assert [r["method"] for r in records] == ["HEAD", "HEAD"]
    assert records[0]["headers"]["x-amz-checksum-mode"] == "ENABLED"
    assert "x-amz-checksum-mode" in signed_names(records[0])
    assert "x-amz-checksum-mode" not in records[1]["headers"]
    assert "x-amz-checksum-mode" not in signed_names(records[1])


def test_checksums_pass_whatever_pass_headers_says(nginx, s3_seen):
    answer = proxy_client(nginx.url + "/passing").get_object(Bucket=BUCKET, Key=CRC_KEY)
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert answer["ChecksumCRC32"] == crc32_b64(CRC_BODY)
    assert "x-amz-request-id" in headers            # what the directive adds
    assert answer["Body"].read() == CRC_BODY


def test_browsers_send_no_checksum_mode(nginx, s3_seen):
    # A browser's proxied index page: the client's x-amz-* headers never
    # reach S3.
    page = requests.get(f"{nginx.url}/{BUCKET}/docs/",
                        headers={"User-Agent": BROWSER_UA, "x-amz-checksum-mode": "ENABLED"})
    assert page.status_code == 200 and page.content == INDEX_PAGE
    [record] = s3_seen()
    assert record["path"] == f"/{BUCKET}/docs/index.html"
    assert "x-amz-checksum-mode" not in record["headers"]


def test_a_corrupted_body_raises_in_the_sdk(nginx, s3, s3_seen):
    client = proxy_client(nginx.url)
    mark = log_mark(nginx)
    corrupt_next(s3, SHA_KEY)
    answer = client.get_object(Bucket=BUCKET, Key=SHA_KEY)
    with pytest.raises(botocore.exceptions.FlexibleChecksumError) as raised:
        answer["Body"].read()
    assert sha256_b64(SHA_BODY) in str(raised.value)
    [record] = s3_seen()
    assert record["headers"]["x-amz-checksum-mode"] == "ENABLED"
    assert record["status"] == 200
    # The fault is spent: the next download is whole and checks.
    assert client.get_object(Bucket=BUCKET, Key=SHA_KEY)["Body"].read() == SHA_BODY
    # nginx passed S3's bytes on: nothing for it to log above info.
    assert not re.search(r"\[(error|crit|alert|emerg)\]", log_after(nginx, mark))


def test_aws_s3_cp_of_a_checksummed_object(nginx, s3, s3_seen):
    home = tempfile.mkdtemp(prefix="s3p-answers-home-")
    try:
        out = os.path.join(home, "report.csv")
        args = [aws_cli(), "s3", "cp", f"s3://{BUCKET}/{SHA_KEY}", out,
                "--no-sign-request", "--endpoint-url", nginx.url]
        done = subprocess.run(args, env=client_env(home), capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        with open(out, "rb") as f:
            assert f.read() == SHA_BODY
        gets = [r for r in s3_seen() if r["method"] == "GET"]
        assert [r["path"] for r in gets] == [f"/{BUCKET}/{SHA_KEY}"]
        assert gets[0]["headers"]["x-amz-checksum-mode"] == "ENABLED"

        # The same copy of a corrupted body fails, and writes nothing.
        os.unlink(out)
        corrupt_next(s3, SHA_KEY)
        done = subprocess.run(args, env=client_env(home), capture_output=True, timeout=120)
        assert done.returncode != 0
        assert b"checksum" in done.stderr.lower()
        assert not os.path.exists(out)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_range_carries_no_checksum_of_the_whole(nginx, s3_seen):
    client = proxy_client(nginx.url)
    answer = client.get_object(Bucket=BUCKET, Key=SHA_KEY, Range="bytes=0-7")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert answer["Body"].read() == SHA_BODY[:8]
    assert not any(h.startswith("x-amz-checksum")
                   for h in answer["ResponseMetadata"]["HTTPHeaders"])
    [record] = s3_seen()
    assert record["headers"]["range"] == "bytes=0-7"


def test_cached_answers_keep_their_checksums(nginx, s3_seen):
    client = proxy_client(nginx.url + "/cached")
    first = client.get_object(Bucket=BUCKET, Key=CRC_KEY)
    second = client.get_object(Bucket=BUCKET, Key=CRC_KEY)
    for answer in (first, second):
        assert answer["ChecksumCRC32"] == crc32_b64(CRC_BODY)
        assert answer["Body"].read() == CRC_BODY
    assert [a["ResponseMetadata"]["HTTPHeaders"]["x-cache"] for a in (first, second)] \
        == ["MISS", "HIT"]

    # A request that did not ask for checksums is another entry, without.
    plain = requests.get(f"{nginx.url}/cached/{BUCKET}/{CRC_KEY}",
                         headers={"User-Agent": SDK_UA})
    assert plain.content == CRC_BODY and plain.headers["X-Cache"] == "MISS"
    assert not any(h.lower().startswith("x-amz-checksum") for h in plain.headers)

    # A range nginx cuts from the cached object has no checksum of it.
    ranged = client.get_object(Bucket=BUCKET, Key=CRC_KEY, Range="bytes=4-9")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["ResponseMetadata"]["HTTPHeaders"]["x-cache"] == "HIT"
    assert ranged["Body"].read() == CRC_BODY[4:10]
    assert "ChecksumCRC32" not in ranged
    assert not any(h.startswith("x-amz-checksum")
                   for h in ranged["ResponseMetadata"]["HTTPHeaders"])

    records = s3_seen()
    assert [(r["method"], r["path"], r["headers"].get("x-amz-checksum-mode"))
            for r in records] == [("GET", f"/{BUCKET}/{CRC_KEY}", "ENABLED"),
                                  ("GET", f"/{BUCKET}/{CRC_KEY}", None)]
    assert all("range" not in r["headers"] for r in records)


def test_cached_head_with_checksum_mode(nginx, s3_seen):
    # proxy_cache fetches a HEAD's miss as a GET, signed with the mode too.
    client = proxy_client(nginx.url + "/cached")
    answers = [client.head_object(Bucket=BUCKET, Key=SHA_KEY, ChecksumMode="ENABLED")
               for _ in range(2)]
    for answer in answers:
        assert answer["ChecksumSHA256"] == sha256_b64(SHA_BODY)
        assert answer["ContentLength"] == len(SHA_BODY)
    [record] = s3_seen()
    assert (record["method"], record["path"]) == ("GET", f"/{BUCKET}/{SHA_KEY}")
    assert record["headers"]["x-amz-checksum-mode"] == "ENABLED"
    assert "x-amz-checksum-mode" in signed_names(record)


# --------------------------------------------------------------------------
# Folder marker objects
# --------------------------------------------------------------------------

def test_get_object_of_a_folder_marker_gives_its_bytes(nginx, s3_seen):
    client = proxy_client(nginx.url)
    empty = client.get_object(Bucket=BUCKET, Key="docs/")
    assert empty["Body"].read() == b"" and empty["ContentLength"] == 0
    marker = client.get_object(Bucket=BUCKET, Key="notes/")
    assert marker["Body"].read() == MARKER_BODY
    assert marker["ContentLength"] == len(MARKER_BODY)
    assert marker["ContentType"] == "application/x-directory"
    assert marker["ChecksumCRC32"] == crc32_b64(MARKER_BODY)
    head = client.head_object(Bucket=BUCKET, Key="notes/")
    assert head["ContentLength"] == len(MARKER_BODY)
    assert head["ETag"] == marker["ETag"]
    assert [(r["method"], r["path"]) for r in s3_seen()] == [
        ("GET", f"/{BUCKET}/docs/"), ("GET", f"/{BUCKET}/notes/"),
        ("HEAD", f"/{BUCKET}/notes/")]


def test_head_of_a_marker_has_its_content_length(nginx, s3_seen):
    # An S3 client without a User-Agent (s3cmd sends none; http.client
    # adds none).
    conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30)
    try:
        conn.request("HEAD", f"/{BUCKET}/notes/")
        head = conn.getresponse()
        head.read()
    finally:
        conn.close()
    assert head.status == 200
    assert head.getheader("Content-Length") == str(len(MARKER_BODY))
    assert head.getheader("Content-Type") == "application/x-directory"
    [record] = s3_seen()
    assert (record["method"], record["path"]) == ("HEAD", f"/{BUCKET}/notes/")
    assert "user-agent" not in record["headers"]


def test_a_missing_marker_is_no_such_key(nginx, s3_seen):
    client = proxy_client(nginx.url)
    mark = log_mark(nginx)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.get_object(Bucket=BUCKET, Key="nothing/")
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.head_object(Bucket=BUCKET, Key="nothing/")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # S3 was asked for the marker, never for an index page or a listing.
    assert [(r["method"], r["path"], r["query"]) for r in s3_seen()] == [
        ("GET", f"/{BUCKET}/nothing/", ""), ("HEAD", f"/{BUCKET}/nothing/", "")]
    logged = wait_until(lambda: "NoSuchKey" in log_after(nginx, mark)
                        and log_after(nginx, mark), 5, "the 404 logged")
    assert re.search(r'\[info\].*s3 proxy: S3 answered 404 "NoSuchKey"', logged)


def test_browsers_keep_index_pages_and_listings(nginx, s3_seen):
    page = requests.get(f"{nginx.url}/{BUCKET}/docs/", headers={"User-Agent": BROWSER_UA})
    assert page.status_code == 200 and page.content == INDEX_PAGE
    listing = requests.get(f"{nginx.url}/{BUCKET}/notes/", headers={"User-Agent": BROWSER_UA})
    assert listing.status_code == 200
    assert listing.headers["Content-Type"].startswith("text/html")
    assert b"todo.txt" in listing.content and MARKER_BODY not in listing.content
    assert [(r["path"], r["query"]) for r in s3_seen()] == [
        (f"/{BUCKET}/docs/index.html", ""), (f"/{BUCKET}/notes/index.html", ""),
        (f"/{BUCKET}", "delimiter=%2F&list-type=2&prefix=notes%2F")]


def test_list_objects_is_unchanged(nginx, s3_seen):
    listed = proxy_client(nginx.url).list_objects_v2(Bucket=BUCKET, Prefix="notes/")
    assert [o["Key"] for o in listed["Contents"]] == ["notes/", "notes/todo.txt"]
    [record] = s3_seen()
    assert record["path"] == f"/{BUCKET}" and "prefix=notes%2F" in record["query"]


# --------------------------------------------------------------------------
# partNumber
# --------------------------------------------------------------------------

def test_get_object_part_number_gives_exactly_that_part(nginx, s3_seen):
    client = proxy_client(nginx.url)
    first = client.get_object(Bucket=BUCKET, Key=MULTIPART_KEY, PartNumber=1)
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert first["PartsCount"] == 2
    assert first["ContentLength"] == len(PART_ONE)
    assert first["ContentRange"] == f"bytes 0-{len(PART_ONE) - 1}/{len(PART_ONE) + len(PART_TWO)}"
    assert first["ChecksumSHA256"] == sha256_b64(PART_ONE)     # checked by botocore
    assert first["Body"].read() == PART_ONE
    second = client.get_object(Bucket=BUCKET, Key=MULTIPART_KEY, PartNumber=2)
    assert second["Body"].read() == PART_TWO and second["PartsCount"] == 2
    records = s3_seen()
    assert [(r["method"], r["path"], r["query"]) for r in records] == [
        ("GET", f"/{BUCKET}/{MULTIPART_KEY}", "partNumber=1"),
        ("GET", f"/{BUCKET}/{MULTIPART_KEY}", "partNumber=2")]
    assert all(r["headers"]["x-amz-checksum-mode"] == "ENABLED" for r in records)


def test_head_object_part_number(nginx, s3_seen):
    answer = proxy_client(nginx.url).head_object(Bucket=BUCKET, Key=MULTIPART_KEY,
                                                 PartNumber=2, ChecksumMode="ENABLED")
    assert answer["PartsCount"] == 2
    assert answer["ContentLength"] == len(PART_TWO)
    assert answer["ChecksumSHA256"] == sha256_b64(PART_TWO)
    [record] = s3_seen()
    assert (record["method"], record["query"]) == ("HEAD", "partNumber=2")


def test_whole_multipart_object_has_its_composite_checksum(nginx, s3_seen):
    answer = proxy_client(nginx.url).get_object(Bucket=BUCKET, Key=MULTIPART_KEY)
    assert answer["ChecksumSHA256"].endswith("-2")
    assert answer["ChecksumType"] == "COMPOSITE"
    assert answer["Body"].read() == PART_ONE + PART_TWO


def test_a_redirect_carries_the_part_number(nginx, s3_seen):
    redirect = requests.get(f"{nginx.url}/{BUCKET}/{MULTIPART_KEY}?partNumber=2",
                            headers={"User-Agent": BROWSER_UA}, allow_redirects=False)
    assert redirect.status_code == 307
    location = redirect.headers["Location"]
    assert "partNumber=2" in location
    assert s3_seen() == []
    part = requests.get(location)
    assert part.status_code == 206 and part.content == PART_TWO
    [record] = s3_seen()
    assert record["auth"] == "presigned" and "partNumber=2" in record["query"]


@pytest.mark.parametrize("value", ["0", "10001", "01", "+1", "%2B1", "1.0", "", "-1",
                                   "1&partNumber=2"])
def test_other_part_numbers_are_refused(nginx, s3_seen, value):
    mark = log_mark(nginx)
    url = f"{nginx.url}/{BUCKET}/{MULTIPART_KEY}?partNumber={value}"
    sdk = requests.get(url, headers={"User-Agent": SDK_UA})
    assert sdk.status_code == 400
    assert sdk.headers["Content-Type"] == "application/xml"
    assert "<Code>InvalidRequest</Code>" in sdk.text
    browser = requests.get(url, headers={"User-Agent": BROWSER_UA}, allow_redirects=False)
    assert browser.status_code == 400
    assert s3_seen() == []
    logged = wait_until(lambda: log_after(nginx, mark).count("refused with 400") >= 2
                        and log_after(nginx, mark), 5, "the refusals logged")
    assert re.search(r"\[info\].*s3 proxy: refused with 400", logged)


def test_a_part_beyond_the_last_is_s3s_416(nginx, s3_seen):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        proxy_client(nginx.url).get_object(Bucket=BUCKET, Key=MULTIPART_KEY, PartNumber=3)
    assert raised.value.response["Error"]["Code"] == "InvalidPartNumber"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    [record] = s3_seen()
    assert (record["query"], record["status"]) == ("partNumber=3", 416)


def test_part_number_is_no_listing_parameter(nginx, s3_seen):
    listing = requests.get(f"{nginx.url}/{BUCKET}?list-type=2&partNumber=1",
                           headers={"User-Agent": SDK_UA})
    assert listing.status_code == 501
    assert "<Code>NotImplemented</Code>" in listing.text
    assert s3_seen() == []

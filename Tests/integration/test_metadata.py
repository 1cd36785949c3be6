"""A streamed (SDK) client sees what a redirected client sees of an
object: its standard headers, x-amz-meta-*, version id, checksums, storage
class, restore and expiration headers.  S3's request ids and server-side
encryption headers stay behind the proxy unless s3_proxy_pass_headers
passes them.  Real boto3 and curl against the real nginx and the stand-in
S3 (demo/s3server.py)."""

import boto3
import botocore
import botocore.config
import pytest
import requests

from harness import ACCESS_KEY, REGION, SECRET_KEY, s3_environment

BUCKET = "s3p-metadata"
KEY = "meta/report.txt"
BODY = b"an object with metadata\n"
SDK_UA = "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 botocore/1.43.11"
# Hidden: S3's request ids, and what moto echoes of the upload request
# (not headers S3 sends about an object).
HIDDEN = {"x-amz-request-id", "x-amz-id-2", "x-amzn-requestid",
          "x-amz-content-sha256", "x-amz-sdk-checksum-algorithm"}


def direct_client(s3):
    return boto3.session.Session().client(
        "s3", endpoint_url=s3.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=botocore.config.Config(s3={"addressing_style": "path"}))


def proxy_client(url):
    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name="us-east-1",
        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def version(s3):
    """A versioned object with metadata, a checksum, a storage class and
    encryption, put straight into S3."""
    client = direct_client(s3)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET,
                                 VersioningConfiguration={"Status": "Enabled"})
    put = client.put_object(Bucket=BUCKET, Key=KEY, Body=BODY,
                            Metadata={"colour": "blue", "owner": "ops"},
                            ContentType="text/plain", ContentLanguage="en",
                            CacheControl="max-age=60", StorageClass="STANDARD_IA",
                            ServerSideEncryption="AES256",
                            ChecksumAlgorithm="SHA256")
    return put["VersionId"]


def x_amz(headers):
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-amz")}


def test_streamed_client_sees_what_a_redirected_client_sees(proxy, s3, version):
    redirect = requests.get(f"{proxy.url}/{BUCKET}/{KEY}", allow_redirects=False)
    assert redirect.status_code == 307
    direct = requests.get(redirect.headers["Location"])
    streamed = requests.get(f"{proxy.url}/{BUCKET}/{KEY}",
                            headers={"User-Agent": SDK_UA})
    assert direct.status_code == streamed.status_code == 200
    assert streamed.content == direct.content == BODY

    shown = x_amz(direct.headers)
    assert shown["x-amz-meta-colour"] == "blue"
    assert shown["x-amz-version-id"] == version
    assert shown["x-amz-server-side-encryption"] == "AES256"
    expected = {k: v for k, v in shown.items()
                if k not in HIDDEN and not k.startswith("x-amz-server-side-encryption")}
    assert x_amz(streamed.headers) == expected
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified",
                 "Content-Language", "Cache-Control"):
        assert streamed.headers.get(name) == direct.headers.get(name), name


def test_boto3_head_and_get_object_metadata(proxy, version):
    client = proxy_client(proxy.url)
    for answer in (client.head_object(Bucket=BUCKET, Key=KEY),
                   client.get_object(Bucket=BUCKET, Key=KEY)):
        assert answer["Metadata"] == {"colour": "blue", "owner": "ops"}
        assert answer["VersionId"] == version
        assert answer["StorageClass"] == "STANDARD_IA"
        assert answer["ContentType"] == "text/plain"
        assert "ServerSideEncryption" not in answer
        assert "x-amz-request-id" not in answer["ResponseMetadata"]["HTTPHeaders"]
    body = client.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert body == BODY


def test_pass_headers_shows_request_ids_and_encryption(s3, make_nginx, version):
    locations = """
        location / {
            s3_proxy on;
            s3_proxy_pass_headers request-id sse;
            include s3_proxy.conf;
        }
        location /ids/ {
            s3_proxy on;
            s3_proxy_pass_headers request-id;
            include s3_proxy.conf;
        }
"""
    nginx = make_nginx(s3_environment(s3), locations=locations)
    answer = proxy_client(nginx.url).head_object(Bucket=BUCKET, Key=KEY)
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert answer["ServerSideEncryption"] == "AES256"
    assert "x-amz-request-id" in headers and "x-amz-id-2" in headers
    assert answer["Metadata"] == {"colour": "blue", "owner": "ops"}


def test_pass_headers_rejects_unknown_values(s3, make_nginx):
    locations = """
        location / {
            s3_proxy on;
            s3_proxy_pass_headers request-id cookies;
            include s3_proxy.conf;
        }
"""
    nginx = make_nginx(s3_environment(s3), start=False, locations=locations)
    code, output = nginx.check()
    assert code != 0
    assert "invalid value \"cookies\"" in output and "nginx.conf:" in output

"""A one-bucket location is a bucket for S3 clients (issue 22).

`location /eu/ { s3_proxy on; s3_proxy_bucket demo; }`: SDKs address the
bucket "eu" path-style, so they ask `GET /eu?list-type=2...` and `HEAD
/eu`, which nginx would answer with its 301 to `/eu/` (SDKs do not follow
it: the aws CLI fails with "maximum recursion depth exceeded").  Those
requests are answered as the location's bucket root; browsers still get
nginx's 301.

The aws CLI, boto3 and rclone against the real nginx; each test asserts
what the client got, what reached S3 (the stand-in's record) and what was
logged.
"""

import subprocess
import sys

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from harness import Nginx, client_env, s3_environment
from test_streaming_clients import rclone, rclone_run  # noqa: F401 (fixture)

MOUNT = """
        location /eu/ {
            s3_proxy on;
            s3_proxy_bucket demo;
            include s3_proxy.conf;
        }
        location /all/ {
            s3_proxy on;
            include s3_proxy.conf;
        }
"""


@pytest.fixture(scope="module")
def eu(s3):
    nginx = Nginx(s3_environment(s3), locations=MOUNT).start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    assert not bad, "error log:\n" + "\n".join(bad)


def client(nginx):
    return boto3.client(
        "s3", endpoint_url=nginx.url, aws_access_key_id="client",
        aws_secret_access_key="client", region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def reached(s3):
    records = s3.requests()
    assert all(r["verified"] for r in records), records
    return [(r["method"], r["path"], r["status"]) for r in records]


def errors(nginx):
    return [line for line in nginx.log_text().splitlines() if "[error]" in line]


def test_aws_cli_lists_the_mount_as_a_bucket(eu, s3, tmp_path):
    s3.clear()
    before = len(errors(eu))
    for target, expected in [("s3://eu/", ["PRE docs/", "PRE files/", "index.html"]),
                             ("s3://eu/files/", ["PRE nested/", "hello.txt"])]:
        r = subprocess.run(
            [sys.executable, "-m", "awscli", "s3", "ls", target, "--endpoint-url", eu.url],
            env=client_env(str(tmp_path), AWS_ACCESS_KEY_ID="client",
                           AWS_SECRET_ACCESS_KEY="client"),
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        listed = [line.split()[-1] if not line.strip().startswith("PRE")
                  else line.strip() for line in r.stdout.splitlines()]
        for entry in expected:
            assert entry in listed, (target, r.stdout)
    assert [(m, p, s) for m, p, s in reached(s3)] == [("GET", "/demo", 200)] * 2
    assert [r["query"] for r in s3.requests()][0].startswith("delimiter=%2F")
    assert len(errors(eu)) == before


def test_boto3_lists_and_heads_the_mount_as_a_bucket(eu, s3):
    s3.clear()
    c = client(eu)
    v2 = c.list_objects_v2(Bucket="eu", Prefix="docs/")
    assert [o["Key"] for o in v2["Contents"]] == ["docs/guide.txt", "docs/index.html"]
    v1 = c.list_objects(Bucket="eu", Prefix="docs/")
    assert [o["Key"] for o in v1["Contents"]] == ["docs/guide.txt", "docs/index.html"]
    head = c.head_bucket(Bucket="eu")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    # and objects, as before
    body = c.get_object(Bucket="eu", Key="files/hello.txt")["Body"].read()
    assert body == b"hello from s3-proxy\n"
    assert reached(s3) == [("GET", "/demo", 200), ("GET", "/demo", 200),
                           ("HEAD", "/demo", 200), ("GET", "/demo/files/hello.txt", 200)]


def test_rclone_lists_and_copies_from_the_mount(eu, s3, rclone, tmp_path):  # noqa: F811
    s3.clear()
    r = rclone_run(rclone, eu, str(tmp_path), "lsf", "px:eu/files/")
    assert r.returncode == 0, r.stderr
    assert {"hello.txt", "nested/"} <= set(r.stdout.decode().split("\n")), r.stdout
    r = rclone_run(rclone, eu, str(tmp_path), "cat", "px:eu/files/hello.txt")
    assert r.returncode == 0 and r.stdout == b"hello from s3-proxy\n", r.stderr
    paths = reached(s3)
    assert paths and all(p.startswith("/demo") and s == 200 for _, p, s in paths), paths
    assert ("GET", "/demo", 200) in paths


def test_browser_still_gets_nginx_redirect_to_the_mount(eu, s3):
    s3.clear()
    for path in ("/eu", "/eu?list-type=2"):
        r = requests.get(eu.url + path, allow_redirects=False, timeout=10,
                         headers={"User-Agent": "Mozilla/5.0"})
        assert r.status_code == 301, path
        assert r.headers["Location"].split("?")[0].endswith("/eu/"), r.headers["Location"]
    assert s3.requests() == []


def test_what_the_bucket_root_refuses_is_refused_at_the_mount(eu, s3):
    s3.clear()
    c = client(eu)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        c.get_bucket_acl(Bucket="eu")
    root = requests.get(eu.url + "/eu/?acl", timeout=10,
                        headers={"User-Agent": "Boto3/1.34.0"})
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == root.status_code
    assert root.status_code >= 400
    # writes are never answered as the bucket: nginx's 301 stands
    r = requests.put(eu.url + "/eu", timeout=10, allow_redirects=False,
                     headers={"User-Agent": "Boto3/1.34.0"})
    assert r.status_code == 301
    assert s3.requests() == []


def test_locations_without_their_own_bucket_keep_the_redirect(eu, s3):
    s3.clear()
    r = requests.get(eu.url + "/all?list-type=2", allow_redirects=False, timeout=10,
                     headers={"User-Agent": "Boto3/1.34.0"})
    assert r.status_code == 301
    assert s3.requests() == []

"""Keys checked with S3 itself (issue 22): one signed, read-only
ListObjectsV2 (max-keys=0) per credential source at start, at each reload
and after each change of keys, from nginx's event loop, without any client
request; S3's refusal is logged at error with the source and S3's code."""

import os
import re
import signal
import tempfile

from credentials import CredServer, rotating_s3
from harness import ACCESS_KEY, SECRET_KEY, S3Server, s3_environment, wait_until
from test_credentials import get, issue, profile_file, wait_for_credentials

BUCKETS = """
        location / {
            s3_proxy on;
            s3_proxy_buckets demo;
            include s3_proxy.conf;
        }"""


def checks(s3):
    return [r for r in s3.requests(checks=True)
            if r["headers"].get("user-agent") == "ngx_http_s3_proxy_module"]


def errors(nginx):
    return [line for line in nginx.log_text().splitlines() if "[error]" in line]


def test_a_wrong_secret_is_logged_soon_after_start(make_nginx, s3):
    """No client request: S3's SignatureDoesNotMatch for the environment's
    keys, one error line naming the source and the code."""
    s3.clear()
    nginx = make_nginx(s3_environment(s3, AWS_SECRET_ACCESS_KEY="wrong"),
                       locations=BUCKETS, workers=2)
    wait_until(lambda: errors(nginx), 10, "the refusal's error line")
    assert len(errors(nginx)) == 1, errors(nginx)
    assert re.search(r's3 proxy: credentials from "env" refused by S3: '
                     r'SignatureDoesNotMatch \(HTTP 403, ListObjectsV2 on '
                     r'bucket "demo"\)', errors(nginx)[0]), errors(nginx)
    seen = checks(s3)
    assert len(seen) == 1, seen                 # one per source, not per worker
    assert seen[0]["method"] == "GET" and seen[0]["path"] == "/demo"
    assert s3.requests() == []                  # no client asked
    assert "wrong" not in nginx.log_text()


def test_good_keys_are_checked_once_and_quietly(make_nginx, s3):
    s3.clear()
    nginx = make_nginx(s3_environment(s3), locations=BUCKETS, workers=2)
    wait_until(lambda: "verified with S3" in nginx.log_text(), 10,
               "the check's info line")
    assert re.search(r'\[info\].*s3 proxy: credentials from "env" verified '
                     r'with S3 \(ListObjectsV2 on bucket "demo"\)',
                     nginx.log_text())
    assert errors(nginx) == []
    assert len(checks(s3)) == 1 and checks(s3)[0]["verified"]
    # a reload checks again, once
    nginx.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: len(checks(s3)) == 2, 10, "the reload's check")
    assert errors(nginx) == []


def test_a_location_without_a_bucket_is_not_checked(make_nginx, s3):
    s3.clear()
    nginx = make_nginx(s3_environment(s3, AWS_SECRET_ACCESS_KEY="wrong",
                                      S3_PROXY_BUCKETS=None))
    wait_for = get(nginx, "/demo/files/hello.txt")    # the worker runs
    assert wait_for[0] == 307
    assert checks(s3) == [] and errors(nginx) == []


def test_a_rotation_to_a_refused_set_is_logged(make_nginx):
    """A profile's file rewritten with keys S3 refuses: the change is
    logged, then S3's refusal, at error, with no client request."""
    cred = CredServer(lifetime=60)
    s3 = rotating_s3(cred)
    home = tempfile.mkdtemp(dir=cred.dir)
    os.makedirs(os.path.join(home, ".aws"))
    for d in (home, os.path.join(home, ".aws")):
        os.chmod(d, 0o755)
    path = os.path.join(home, ".aws", "credentials")
    try:
        good = issue(cred)
        profile_file(path, good)
        nginx = make_nginx(s3_environment(s3, AWS_ACCESS_KEY_ID=None,
                                          AWS_SECRET_ACCESS_KEY=None,
                                          HOME=home), locations=BUCKETS)
        wait_until(lambda: "verified with S3" in nginx.log_text(), 10,
                   "the first set's check")
        assert errors(nginx) == []
        bad = dict(good, SecretAccessKey="not-" + good["SecretAccessKey"])
        wait_until(lambda: os.stat(path).st_mtime < __import__("time").time()
                   - 1.05, 3, "the next second of the file's stamp")
        profile_file(path, bad)
        wait_until(lambda: errors(nginx), 10, "the refused set's error line")
        assert re.search(r's3 proxy: credentials from "profile=default" '
                         r'refused by S3: SignatureDoesNotMatch',
                         errors(nginx)[0]), errors(nginx)
        assert good["SecretAccessKey"] not in nginx.log_text()
    finally:
        s3.stop()
        cred.stop()

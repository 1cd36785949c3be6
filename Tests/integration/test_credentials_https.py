"""Web identity's STS call over https (issue 13), as in production: the
module reaches STS through a TLS front (a plain nginx, without the module)
whose certificate a private CA, made here with openssl, signed for
"localhost"; the front passes the calls to demo/credserver.py's STS.  The
module trusts that CA through AWS_CA_BUNDLE, as the AWS SDKs do, and
refuses the front when it does not trust it."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from credentials import WEB_IDENTITY_TOKEN, CredServer, rotating_s3
from harness import NGINX_BIN, free_port, wait_for_port, wait_until
from test_credentials import Load, follow, get, no_secret_in, provider_env, \
    reloaded, wait_for_credentials


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN=s3-proxy {name}", "-keyout", f"{name}.key",
            "-out", f"{name}.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


@pytest.fixture(scope="module")
def pki():
    """ca.pem signed the front's certificate for DNS:localhost only (no IP
    in it); other-ca.pem signed nothing the front shows."""
    d = tempfile.mkdtemp(prefix="s3p-sts-pki-")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    # nginx's master reads the bundle; keep it readable all the same
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class STSFront:
    """A plain nginx terminating TLS in front of credserver's STS; its
    access log says what reached it, with the SNI name and the protocol."""

    def __init__(self, pki, cred):
        self.port = free_port()
        self.prefix = tempfile.mkdtemp(prefix="s3p-sts-tls-")
        self.access_log = os.path.join(self.prefix, "access.log")
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1;
error_log {self.prefix}/error.log info;
pid {self.prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    log_format sts '$request_method $request_uri $server_protocol '
                   '$ssl_protocol sni=$ssl_server_name $status';
    access_log {self.access_log} sts;
    client_body_temp_path {self.prefix}/body;
    proxy_temp_path {self.prefix}/proxy;
    fastcgi_temp_path {self.prefix}/fastcgi;
    uwsgi_temp_path {self.prefix}/uwsgi;
    scgi_temp_path {self.prefix}/scgi;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {pki}/server.pem;
        ssl_certificate_key {pki}/server.key;
        location / {{
            proxy_pass {cred.endpoint};
        }}
    }}
}}
""")
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-e", f"{self.prefix}/error.log", "-p", self.prefix,
             "-c", conf, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def requests(self):
        """The access log's lines: what reached STS over TLS."""
        time.sleep(0.2)       # nginx writes the line after the answer
        try:
            with open(self.access_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture
def cred():
    server = CredServer(lifetime=12)
    yield server
    server.stop()


@pytest.fixture
def s3(cred):
    server = rotating_s3(cred)
    yield server
    server.stop()


@pytest.fixture
def front(pki, cred):
    server = STSFront(pki, cred)
    yield server
    server.stop()


def sts_env(s3, cred, front, host="localhost", **extra):
    return provider_env(s3, cred, "web-identity",
                        AWS_ENDPOINT_URL_STS=f"https://{host}:{front.port}",
                        **extra)


def test_sts_over_https_with_a_private_ca(make_nginx, pki, cred, s3, front):
    """Redirects and proxied listings signed with keys from STS reached
    over verified TLS: 0 failed requests across a rotation, every call to
    STS made through the front with SNI, and S3 saw only those keys."""
    nginx = make_nginx(sts_env(s3, cred, front,
                               AWS_CA_BUNDLE=f"{pki}/ca.pem"),
                       workers=2, http_extra="s3_proxy_expires 2s;",
                       log_level="debug")
    wait_for_credentials(nginx)
    s3.clear()
    with Load(nginx) as load:
        # past the refresh due 7 s after each fetch
        wait_until(lambda: len(load.keys) >= 2, 30,
                   lambda: f"a rotation, saw {load.keys}")
    assert load.failures == [], load.failures[:5]
    assert load.count > 10
    assert len(load.keys) >= 2, load.keys          # a rotation over https

    # STS: every set the module used came from STS, through the front
    issued = {c["access_key"] for c in cred.issued()}
    assert load.keys <= issued, (load.keys, issued)
    fetched = cred.state()["counts"]
    assert set(fetched) == {"sts"}, fetched
    calls = front.requests()
    assert len(calls) == fetched["sts"], calls
    for line in calls:
        assert re.fullmatch(r"POST / HTTP/1\.1 TLSv1\.[23] sni=localhost 200",
                            line), line

    # S3: redirects followed and listings proxied, each verified, each
    # signed with a key STS issued
    reached = s3.requests()
    assert reached, "nothing reached S3"
    for record in reached:
        assert record["verified"] and record["status"] == 200, record
        credential = re.search(r"Credential=(\w+)/|X-Amz-Credential=(\w+)%2F",
                               record["headers"].get("authorization", "")
                               + " " + record["query"])
        assert credential, record
        assert (credential.group(1) or credential.group(2)) in issued, record
    assert {r["method"] for r in reached} == {"GET"}
    assert any("list-type=2" in r["query"] for r in reached)
    assert any("X-Amz-Signature=" in r["query"] for r in reached)

    # a reload makes the TLS context anew and frees the old one
    reloaded(nginx, workers=2)
    status, headers, _ = get(nginx, "/demo/files/hello.txt")
    assert status == 307
    assert follow(headers["Location"]) == 200

    log = nginx.log_text()
    for key in load.keys:
        assert re.search(r'\[notice\].*s3 proxy: credentials from '
                         r'"web-identity": access key id "%s"' % key, log), key
    assert "[error]" not in log
    no_secret_in(log, cred, debug=True)


@pytest.mark.parametrize("case,reason", [
    ("system-bundle", "unable to verify the first certificate"),
    ("other-ca", "unable to verify the first certificate"),
    ("ip-not-named", "the certificate does not name the host"),
])
def test_untrusted_sts_certificate_fails_the_fetch(make_nginx, pki, cred, s3,
                                                   front, case, reason):
    """A certificate the module must not trust: no credentials (503), an
    error line naming the provider and the reason, nothing sent to STS
    (not even the token) nor to S3, and no token in the log at debug."""
    extra = {"system-bundle": {},
             "other-ca": {"AWS_CA_BUNDLE": f"{pki}/other-ca.pem"},
             "ip-not-named": {"AWS_CA_BUNDLE": f"{pki}/ca.pem"}}[case]
    host = "127.0.0.1" if case == "ip-not-named" else "localhost"
    nginx = make_nginx(sts_env(s3, cred, front, host=host, **extra),
                       log_level="debug")
    s3.clear()
    wait_until(lambda: 'no credentials from "web-identity"' in
               nginx.log_text(), 10, "the failed fetch's error line")
    status, headers, body = get(nginx, "/demo/files/hello.txt")
    assert status == 503
    assert headers.get("Retry-After") == "1"
    assert b"X-Amz" not in body
    assert s3.requests() == []
    assert front.requests() == []            # the token was never sent
    assert cred.state()["counts"] == {}
    log = nginx.log_text()
    assert re.search(r'\[error\].*s3 proxy: no credentials from '
                     r'"web-identity": %s' % reason, log), log[-2000:]
    assert WEB_IDENTITY_TOKEN not in log
    no_secret_in(log, cred)


def test_missing_ca_bundle_fails_nginx_t_naming_it(make_nginx, pki, cred, s3,
                                                   front):
    nginx = make_nginx(sts_env(s3, cred, front,
                               AWS_CA_BUNDLE=f"{pki}/no-such.pem"),
                       start=False)
    code, out = nginx.check()
    assert code != 0
    assert "AWS_CA_BUNDLE" in out and f"{pki}/no-such.pem" in out, out

"""Proxied requests reuse their upstream connections and TLS sessions.

Between the module's nginx and the local S3 stands a plain nginx (no
module), over HTTP or TLS, that logs which of its client connections each
request came on ($connection, $connection_requests) and whether the TLS
handshake resumed a session ($ssl_session_reused): what S3 would see.  It
passes every request on unchanged, so the S3 stand-in still checks every
signature.
"""

import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config

from harness import (NGINX_BIN, Nginx, free_port, own_tls, s3_environment,
                     wait_for_port)

LOG_FORMAT = "$connection $connection_requests $ssl_session_reused $request"


class Front:
    """A plain nginx in front of the S3 stand-in, as S3's side of the wire."""

    def __init__(self, s3, tls, keepalive_requests=1000, address="127.0.0.1",
                 port=None):
        self.port = port or free_port()
        self.host = f"{address}:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="front-", dir=s3.dir)
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "error.log")
        self.cert = os.path.join(self.dir, "cert.pem")
        listen = self.host
        tls_lines = ""
        if tls:
            key = os.path.join(self.dir, "key.pem")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                 "-days", "2", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1",
                 "-keyout", key, "-out", self.cert],
                check=True, capture_output=True)
            listen += " ssl"
            tls_lines = (f"ssl_certificate {self.cert}; ssl_certificate_key {key};"
                         " ssl_session_cache shared:front:1m;")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1;
error_log {self.error_log} info;
pid {self.dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    log_format front '{LOG_FORMAT}';
    access_log {self.access_log} front;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    keepalive_requests {keepalive_requests};
    server {{
        listen {listen};
        {tls_lines}
        location / {{
            proxy_pass http://{s3.host};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-e", self.error_log, "-p", self.dir, "-c", conf,
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def lines(self, count=0):
        """(connection, requests on it, session reused, request line) per
        request logged so far; waits up to 5 s for `count` of them (nginx
        logs a request after its client has the answer)."""
        deadline = time.monotonic() + 5
        while True:
            with open(self.access_log) as f:
                text = f.read()
            done = text.endswith("\n") or not text
            if (done and text.count("\n") >= count) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return [tuple(line.split(" ", 3)) for line in text.splitlines()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def front(s3):
    started = []

    def make(tls=False, **kwargs):
        f = Front(s3, tls, **kwargs)
        started.append(f)
        return f

    yield make
    for f in started:
        f.stop()


def module_nginx(make_nginx, s3, front, tls):
    """The module's nginx with the shipped snippet, its endpoint the front.
    Over TLS the location names the front's certificate as its CA, as a
    private CA is named (s3_proxy_tls.conf's lines, changed)."""
    env = s3_environment(s3, AWS_ENDPOINT_HOST=front.host,
                         AWS_ENDPOINT_SCHEME="https" if tls else "http")
    include = "include s3_proxy.conf;"
    if tls:
        include = "include s3_proxy_pass.conf; " + own_tls(
            proxy_ssl_trusted_certificate=front.cert)
    return make_nginx(env, locations="location / { s3_proxy on; "
                                     f"s3_proxy_listing on; {include} }}")


def sdk_client(url):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED,
                                      retries={"max_attempts": 1}))


def proxied_requests(url):
    """Index pages, listings and an SDK-streamed object, one after another,
    each client on its own connection to the proxy: what reuse there is, is
    nginx's, not the clients'."""
    assert requests.get(url + "/demo/", timeout=10).status_code == 200
    assert requests.get(url + "/demo/docs/index.html", timeout=10).status_code == 200
    r = requests.get(url + "/demo?list-type=2&prefix=files/", timeout=10)
    assert r.status_code == 200 and "<ListBucketResult" in r.text
    body = sdk_client(url).get_object(Bucket="demo", Key="files/hello.txt")["Body"]
    assert body.read() == b"hello from s3-proxy\n"
    sdk_client(url).head_object(Bucket="demo", Key="files/hello.txt")
    assert requests.get(url + "/demo/", timeout=10).status_code == 200


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_proxied_requests_share_one_upstream_connection(make_nginx, s3, front, tls):
    f = front(tls)
    nginx = module_nginx(make_nginx, s3, f, tls)
    s3.clear()
    proxied_requests(nginx.url)
    lines = f.lines(6)
    # index, index, listing, object, head, index
    assert len(lines) == 6, lines
    assert {line[0] for line in lines} == {lines[0][0]}, lines
    assert [int(line[1]) for line in lines] == list(range(1, 7)), lines
    # and S3 checked every signature of them
    seen = s3.requests()
    assert len(seen) == 6
    assert all(x["verified"] for x in seen), seen


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_built_in_listing_keeps_the_404s_connection(make_nginx, s3, front, tls):
    """A folder's missing index.html is not intercepted: nginx reads S3's
    404 whole (the module discards it), so its connection stays in the
    pool, and the listing and the next request reuse it."""
    f = front(tls)
    nginx = module_nginx(make_nginx, s3, f, tls)
    r = requests.get(nginx.url + "/demo/files/", timeout=10)
    assert r.status_code == 200 and "hello.txt" in r.text
    assert requests.get(nginx.url + "/demo/", timeout=10).status_code == 200
    lines = f.lines(3)
    assert [line[3].split("?")[0] for line in lines] == [
        "GET /demo/files/index.html HTTP/1.1", "GET /demo",
        "GET /demo/index.html HTTP/1.1"], lines
    assert lines[0][0] == lines[1][0] == lines[2][0], lines
    assert [line[1] for line in lines] == ["1", "2", "3"], lines


def test_new_tls_connections_resume_the_session(make_nginx, s3, front):
    """When S3 closes a connection (here after every 2 requests), the next
    one resumes the TLS session instead of a full handshake."""
    f = front(True, keepalive_requests=2)
    nginx = module_nginx(make_nginx, s3, f, True)
    for _ in range(6):
        assert requests.get(nginx.url + "/demo/", timeout=10).status_code == 200
    lines = f.lines(6)
    connections = []
    for line in lines:
        if line[0] not in connections:
            connections.append(line[0])
    assert len(lines) == 6 and len(connections) == 3, lines
    reused = {line[0]: line[2] for line in lines}
    assert [reused[c] for c in connections] == [".", "r", "r"], lines


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_redirects_still_contact_nothing(make_nginx, s3, front, tls):
    f = front(tls)
    nginx = module_nginx(make_nginx, s3, f, tls)
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    scheme = "https" if tls else "http"
    assert r.headers["Location"].startswith(
        f"{scheme}://{f.host}/demo/files/hello.txt?X-Amz-Algorithm=")
    time.sleep(0.3)  # what a proxied request would have logged by now
    assert f.lines() == []


def test_an_endpoint_name_that_does_not_resolve_still_starts(make_nginx, s3):
    """An endpoint name without an answer when nginx starts does not stop
    it: redirects work.  Before nginx 1.27.3 the module resolves the name
    at start and, finding nothing, says so and leaves its requests to
    resolve it each time; later nginx resolves it at run time."""
    env = s3_environment(s3, AWS_ENDPOINT_HOST="s3proxy-no-such-host.invalid:9000")
    nginx = make_nginx(env, http_extra="resolver 127.0.0.1:9 ipv6=off;")
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    if nginx_version() < (1, 27, 3):
        # said once, though several directives name the endpoint
        assert nginx.log_text().count(
            'endpoint "s3proxy-no-such-host.invalid" host not found') == 1, \
            nginx.log_text()


class DNS:
    """A DNS server on loopback that answers A queries for one name with
    an address the test changes, TTL 1 s, and NXDOMAIN for anything else."""

    def __init__(self, name, address):
        self.name = name.lower().rstrip(".")
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                return
            labels, i = [], 12
            while i < len(query) and query[i]:
                labels.append(query[i + 1:i + 1 + query[i]].decode("ascii", "replace"))
                i += 1 + query[i]
            question = query[12:i + 5]
            qtype = struct.unpack("!H", query[i + 1:i + 3])[0]
            found = ".".join(labels).lower() == self.name
            answer = b""
            if found and qtype == 1:
                answer = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1, 4)
                          + socket.inet_aton(self.address))
            flags = 0x8180 if found else 0x8183
            header = query[:2] + struct.pack("!HHHHH", flags, 1,
                                             1 if answer else 0, 0, 0)
            self.sock.sendto(header + question + answer, peer)

    def stop(self):
        self.sock.close()


def nginx_version():
    out = subprocess.run([NGINX_BIN, "-v"], capture_output=True, text=True).stderr
    return tuple(int(x) for x in re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out).groups())


def test_endpoint_name_follows_its_dns_answers(make_nginx, s3, front):
    """An endpoint by name keeps following DNS: when its address changes,
    requests go to the new one.  On nginx 1.27.3+ the module's upstream
    re-resolves it ("resolve") and keeps connections; on older nginx the
    name (which the system resolver does not know here) is resolved at
    request time through "resolver", each request on a new connection."""
    port = free_port()
    a = front(address="127.0.0.1", port=port)
    b = front(address="127.0.0.2", port=port)
    dns = DNS("s3.keepalive.test", "127.0.0.1")
    try:
        env = s3_environment(s3, AWS_ENDPOINT_HOST=f"s3.keepalive.test:{port}")
        nginx = make_nginx(env, http_extra=f"resolver 127.0.0.1:{dns.port} "
                                           "valid=1s ipv6=off;")

        def get():
            return requests.get(nginx.url + "/demo/", timeout=10).status_code

        deadline = time.monotonic() + 10
        while get() != 200:  # the first answer may still be on its way
            assert time.monotonic() < deadline, nginx.log_text()
            time.sleep(0.2)
        for _ in range(4):
            assert get() == 200
        dns.address = "127.0.0.2"
        deadline = time.monotonic() + 15
        while not b.lines():
            assert time.monotonic() < deadline, nginx.log_text()
            assert get() == 200
            time.sleep(0.2)
        for _ in range(3):
            assert get() == 200
    finally:
        dns.stop()
    time.sleep(0.5)  # the last requests' log lines
    on_a, on_b = a.lines(), b.lines()
    assert len(on_a) >= 5 and len(on_b) >= 3
    # after the switch, nothing more went to the old address
    assert len(a.lines()) == len(on_a)
    if nginx_version() >= (1, 27, 3):
        assert len({line[0] for line in on_a}) == 1, on_a
        assert len({line[0] for line in on_b}) == 1, on_b
    else:
        assert len({line[0] for line in on_a}) == len(on_a), on_a


def test_each_location_endpoint_has_its_own_pool(make_nginx, s3, front):
    """Locations with their own endpoints (s3_proxy_endpoint) reuse a
    connection each, side by side with the environment's endpoint."""
    a, b = front(), front()
    env = s3_environment(s3, AWS_ENDPOINT_HOST=b.host)
    nginx = make_nginx(env, locations=f"""
        location /a/ {{
            s3_proxy on;
            s3_proxy_endpoint http://{a.host};
            include s3_proxy.conf;
        }}
        location / {{
            s3_proxy on;
            include s3_proxy.conf;
        }}
""")
    s3.clear()
    for _ in range(3):
        assert requests.get(nginx.url + "/a/demo/", timeout=10).status_code == 200
        assert requests.get(nginx.url + "/demo/", timeout=10).status_code == 200
    on_a, on_b = a.lines(3), b.lines(3)
    assert len(on_a) == 3 and len({line[0] for line in on_a}) == 1, on_a
    assert len(on_b) == 3 and len({line[0] for line in on_b}) == 1, on_b
    seen = s3.requests()
    assert len(seen) == 6 and all(x["verified"] for x in seen), seen

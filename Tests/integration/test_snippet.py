"""The shipped snippet, s3_proxy.conf (s3_proxy_pass.conf, then
s3_proxy_tls.conf), and what an operator changes without editing it: their
own TLS lines after s3_proxy_pass.conf (their own CA, verification off in
a lab, the name to verify for an IP endpoint), their own error pages; and
the mistakes `nginx -t` catches, each naming the directive and its line.

HTTPS endpoints are the local S3 (demo/s3server.py) behind a TLS front (a
plain nginx, without the module) whose certificate a private CA, made
here with openssl, signed for the name "s3.test" only."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest
import requests

from harness import NGINX_BIN, free_port, own_tls, s3_environment, wait_for_port
from s3server import DEMO_OBJECTS
from test_config import assert_fails, assert_passes, check, check_at  # noqa: F401
from test_config import NOWHERE, env_with

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"
SDK_UA = "aws-cli/2.15.0 md/Botocore#1.34.0"


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def pki():
    """A private CA and a server certificate for s3.test (no IP in it)."""
    d = tempfile.mkdtemp(prefix="s3p-pki-")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=s3-proxy test CA", "-keyout", "ca.key", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=s3.test",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:s3.test\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem",
            cwd=d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class TLSFront:
    """A plain nginx terminating TLS in front of the local S3, passing the
    Host header through, so that S3 checks the signature of what the
    module signed."""

    def __init__(self, pki, s3):
        self.port = free_port()
        self.prefix = tempfile.mkdtemp(prefix="s3p-tls-")
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1;
error_log {self.prefix}/error.log info;
pid {self.prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
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
            proxy_pass http://127.0.0.1:{s3.port};
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
""")
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-e", f"{self.prefix}/error.log", "-p", self.prefix, "-c", conf,
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def front(pki, s3):
    server = TLSFront(pki, s3)
    yield server
    server.stop()


def https_env(s3, front, host=None):
    """The module pointed at the TLS front: by name (s3.test, on https's
    own port, which an upstream{} block maps to the front, so no DNS is
    needed: nginx matches such a block only to a URL without a port) or
    by IP."""
    return s3_environment(s3, AWS_ENDPOINT_HOST=host or "s3.test",
                          AWS_ENDPOINT_SCHEME="https")


def named(front):
    return f"upstream s3.test {{ server 127.0.0.1:{front.port}; }}"


def location(*lines, listing=True):
    body = "\n            ".join(lines)
    return f"""
        location / {{
            s3_proxy on;
            {"s3_proxy_listing on;" if listing else ""}
            {body}
        }}
"""


def get(nginx, path, agent=BROWSER_UA):
    return requests.get(nginx.url + path, headers={"User-Agent": agent},
                        allow_redirects=False, timeout=30)


# --------------------------------------------------------------------------
# TLS: verified by default, overridable in the location
# --------------------------------------------------------------------------

def test_verification_is_on_by_default(s3, front, make_nginx):
    """The system's CAs do not know the private CA: nothing is proxied."""
    nginx = make_nginx(https_env(s3, front), http_extra=named(front),
                       locations=location("include s3_proxy.conf;"))
    s3.clear()
    r = get(nginx, "/demo/")
    assert r.status_code == 502
    assert "certificate verify" in nginx.log_text() or \
        "certificate" in nginx.log_text(), nginx.log_text()
    assert s3.requests() == []


def own_ca(pki, **changes):
    return own_tls(proxy_ssl_trusted_certificate=f"{pki}/ca.pem", **changes)


@pytest.mark.parametrize("where", ["location", "server", "http"])
def test_own_ca_without_editing_the_snippet(s3, front, pki, make_nginx, where):
    """The TLS lines of s3_proxy_tls.conf with the operator's CA, after
    s3_proxy_pass.conf or in a block above the location."""
    tls = own_ca(pki)
    lines = ["include s3_proxy_pass.conf;"] + ([tls] if where == "location" else [])
    locations = location(*lines)
    if where == "server":
        locations = tls + locations
    nginx = make_nginx(https_env(s3, front),
                       http_extra=named(front) + (tls if where == "http" else ""),
                       locations=locations)
    s3.clear()
    r = get(nginx, "/demo/docs/")
    assert r.status_code == 200
    assert r.content == DEMO_OBJECTS["docs/index.html"]
    r = get(nginx, "/demo/files/data.bin", agent=SDK_UA)
    assert r.status_code == 200 and r.content == DEMO_OBJECTS["files/data.bin"]
    seen = s3.requests()
    assert [x["path"] for x in seen] == ["/demo/docs/index.html", "/demo/files/data.bin"]
    assert all(x["verified"] and x["auth"] == "header" for x in seen), seen


@pytest.mark.parametrize("where", ["before", "after"])
def test_own_ca_beside_s3_proxy_conf_is_duplicate(check, pki, where):
    """s3_proxy.conf sets the TLS lines itself: a second one in the same
    location is nginx's duplicate, which names the directive."""
    ca = f"proxy_ssl_trusted_certificate {pki}/ca.pem;"
    lines = [ca, "include s3_proxy.conf;"] if where == "before" else \
        ["include s3_proxy.conf;", ca]
    assert_fails(check(locations=location(*lines)),
                 '"proxy_ssl_trusted_certificate" directive is duplicate')


def test_verification_off_in_a_lab(s3, front, make_nginx):
    nginx = make_nginx(https_env(s3, front), http_extra=named(front),
                       locations=location("include s3_proxy_pass.conf;",
                                          own_tls(proxy_ssl_verify="off")))
    r = get(nginx, "/demo/docs/")
    assert r.status_code == 200
    assert r.content == DEMO_OBJECTS["docs/index.html"]


def test_ip_endpoint_verifies_the_name_given_by_proxy_ssl_name(s3, front, pki, make_nginx):
    env = https_env(s3, front, host=f"127.0.0.1:{front.port}")
    without = make_nginx(env, locations=location("include s3_proxy_pass.conf;",
                                                 own_ca(pki)))
    s3.clear()
    assert get(without, "/demo/docs/").status_code == 502
    assert s3.requests() == []
    with_name = make_nginx(env, locations=location(
        "include s3_proxy_pass.conf;", own_ca(pki, proxy_ssl_name="s3.test")))
    r = get(with_name, "/demo/docs/")
    assert r.status_code == 200
    assert r.content == DEMO_OBJECTS["docs/index.html"]


def test_endpoint_with_a_port_is_verified_for_its_name(s3, front, pki, make_nginx):
    """An endpoint name with a port of its own: the URL names its upstream
    ("s3.test_<port>", which the module declares), the certificate is
    verified for "s3.test" and S3 gets "s3.test:<port>" as its Host."""
    env = https_env(s3, front, host=f"s3.test:{front.port}")
    # the name resolves nowhere here: an operator's upstream{} of the
    # upstream's name stands in for DNS, and wins over the module's
    nginx = make_nginx(env, http_extra=f"upstream s3.test_{front.port} "
                                       f"{{ server 127.0.0.1:{front.port}; }}",
                       locations=location("include s3_proxy_pass.conf;", own_ca(pki)))
    s3.clear()
    r = get(nginx, "/demo/docs/")
    assert r.status_code == 200, nginx.log_text()
    assert r.content == DEMO_OBJECTS["docs/index.html"]
    seen = s3.requests()
    assert len(seen) == 1 and seen[0]["verified"], seen


def test_built_in_listing_over_tls_with_own_ca(s3, front, pki, make_nginx):
    nginx = make_nginx(https_env(s3, front), http_extra=named(front),
                       locations=location("include s3_proxy_pass.conf;", own_ca(pki)))
    r = get(nginx, "/demo/files/")
    assert r.status_code == 200
    assert "hello.txt" in r.text


# --------------------------------------------------------------------------
# error pages: the operator's win, built-in listings keep working
# --------------------------------------------------------------------------

ERRORS_LOCATION = """
        location /errors/ {{
            internal;
            root {root};
        }}
"""


@pytest.fixture
def error_root():
    """Pages nginx's workers (nobody, under a root master) can read."""
    root = tempfile.mkdtemp(prefix="s3p-errors-")
    os.chmod(root, 0o755)
    os.makedirs(os.path.join(root, "errors"))
    for status in ("404", "403"):
        with open(os.path.join(root, "errors", status + ".html"), "w") as f:
            f.write(f"operator's own {status}\n")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("where", ["before", "after", "server"])
def test_own_error_pages_win_and_listings_still_work(s3, make_nginx, error_root, where):
    pages = "error_page 404 /errors/404.html; error_page 403 /errors/403.html;"
    lines = {"before": [pages, "include s3_proxy.conf;"],
             "after": ["include s3_proxy.conf;", pages],
             "server": ["include s3_proxy.conf;"]}[where]
    locations = location(*lines, "proxy_intercept_errors on;") + \
        ERRORS_LOCATION.format(root=error_root)
    if where == "server":
        locations = pages + locations
    nginx = make_nginx(s3_environment(s3), locations=locations)
    # A folder without an index page: the module's listing.
    r = get(nginx, "/demo/files/")
    assert r.status_code == 200 and "hello.txt" in r.text
    # S3's 404 for a missing object: the operator's page.
    r = get(nginx, "/demo/files/missing.bin", agent=SDK_UA)
    assert r.status_code == 404 and r.text == "operator's own 404\n"
    # A prefix that holds nothing is not a folder: the listing's own 404,
    # which error pages do not replace.
    r = get(nginx, "/demo/nothing-here/")
    assert r.status_code == 404 and "operator's own" not in r.text
    # The module's own refusal: the operator's page.
    r = get(nginx, "/demo/files/hello.txt?acl")
    assert r.status_code == 403 and r.text == "operator's own 403\n"


def test_error_page_of_an_old_snippet_fails_naming_its_variable(check):
    # s3_proxy.conf once held "error_page 404 = $s3_proxy_fallback;"; the
    # module lists folders without an error page now, and has no such
    # variable: a copy of that line is refused, not left to shadow the
    # location's own error_page 404.
    assert_fails(check(locations=location("include s3_proxy.conf;",
                                          "error_page 404 = $s3_proxy_fallback;")),
                 'unknown "s3_proxy_fallback" variable')


def test_listings_work_with_no_error_page_at_all(s3, make_nginx):
    nginx = make_nginx(s3_environment(s3),
                       locations=location("include s3_proxy.conf;"))
    r = get(nginx, "/demo/files/")
    assert r.status_code == 200 and "hello.txt" in r.text
    r = get(nginx, "/demo/files/missing.bin", agent=SDK_UA)
    assert r.status_code == 404 and "<Code>NoSuchKey</Code>" in r.text


# --------------------------------------------------------------------------
# what nginx -t catches
# --------------------------------------------------------------------------

def assert_fails_at(result, where_line, *words):
    code, output, where = result
    assert_fails((code, output), *words)
    assert re.search(r" in " + re.escape(where_line or where) + "$", output, re.M), \
        (where, output)


def test_snippet_without_s3_proxy_on_fails(check_at):
    code, output, _ = check_at("include s3_proxy.conf;", locations="""
        location / {
            include s3_proxy.conf;
        }
""")
    assert_fails((code, output), 'location "/" includes s3_proxy.conf without',
                 '"s3_proxy on"')
    assert re.search(r"s3_proxy_pass\.conf:\d+$", output, re.M), output


def test_s3_proxy_off_with_the_snippet_fails(check):
    assert_fails(check(locations="""
        location / {
            s3_proxy off;
            include s3_proxy.conf;
        }
"""), "without", '"s3_proxy on"')


def test_own_proxy_pass_fails(check_at):
    assert_fails_at(check_at("s3_proxy on;", locations="""
        location / {
            s3_proxy on;
            proxy_pass http://127.0.0.1:9;
        }
"""), None, "content handler of its own", "unsigned", 'include s3_proxy.conf;')


def test_own_proxy_pass_in_an_if_block_fails(check_at):
    assert_fails_at(check_at("s3_proxy on;", locations="""
        location / {
            s3_proxy on;
            include s3_proxy.conf;
            if ($arg_x) {
                proxy_pass http://127.0.0.1:9;
            }
        }
"""), None, '"if" block', "unsigned")


def test_own_proxy_pass_with_the_snippet_is_duplicate(check):
    assert_fails(check(locations="""
        location / {
            s3_proxy on;
            include s3_proxy.conf;
            proxy_pass http://127.0.0.1:9;
        }
"""), '"proxy_pass" directive is duplicate')


def test_snippet_included_twice_fails(check):
    assert_fails(check(locations="""
        location / {
            s3_proxy on;
            include s3_proxy.conf;
            include s3_proxy.conf;
        }
"""), "duplicate")


@pytest.mark.parametrize("value", ["off curl/", "curl/ off", "none off"])
def test_off_among_stream_agents_fails(check_at, value):
    assert_fails_at(check_at("s3_proxy_stream_agents",
                             http_extra=f"s3_proxy_stream_agents {value};"),
                    None, '"s3_proxy_stream_agents"', '"off" alone')


def test_stream_agents_none_and_signed_pass(check):
    assert_passes(check(http_extra="s3_proxy_stream_agents none signed curl/;"))


def test_empty_stream_agent_fails_pointing_at_none(check):
    assert_fails(check(http_extra='s3_proxy_stream_agents "";'), '"none"')


def test_named_endpoint_without_resolver_fails(check_at):
    assert_fails_at(check_at("s3_proxy on;", env_with(AWS_ENDPOINT_HOST="s3.example.com")),
                    None, '"s3.example.com" by name', '"resolver"')


@pytest.mark.parametrize("extra", [
    "resolver 127.0.0.1;",
    "upstream s3.example.com { server 127.0.0.1:9; }",
])
def test_named_endpoint_with_resolver_or_upstream_passes(check, extra):
    assert_passes(check(env_with(AWS_ENDPOINT_HOST="s3.example.com"), http_extra=extra))


def test_resolver_in_the_location_passes(check):
    assert_passes(check(env_with(AWS_ENDPOINT_HOST="s3.example.com"), locations="""
        location / {
            s3_proxy on;
            resolver 127.0.0.1;
            include s3_proxy.conf;
        }
"""))


@pytest.mark.parametrize("host", ["127.0.0.1:9000", "[::1]:9000", "10.1.2.3"])
def test_ip_endpoint_needs_no_resolver(check, host):
    assert_passes(check(env_with(AWS_ENDPOINT_HOST=host)))


@pytest.mark.parametrize("name,words", [
    ("X-Amz-Date", "authentication parameter"),
    ("x-amz-signature", "authentication parameter"),
])
def test_bad_ignored_parameter_fails_at_its_line(check_at, name, words):
    assert_fails_at(check_at("s3_proxy_ignore_params",
                             http_extra=f"s3_proxy_ignore_params v {name};"),
                    None, '"s3_proxy_ignore_params"', words)


def test_tls_overrides_pass_nginx_t(check, tmp_path):
    ca = tmp_path / "ca.pem"
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", ca)
    assert_passes(check(locations=f"""
        location / {{
            proxy_ssl_verify_depth 2;
            s3_proxy on;
            include s3_proxy_pass.conf;
            proxy_ssl_trusted_certificate {ca};
            proxy_ssl_verify off;
            proxy_ssl_name s3.internal;
            proxy_ssl_server_name off;
            error_page 404 /404.html;
        }}
"""))


def test_module_and_snippet_alone_pass(check):
    assert_passes(check(env_with()))
    assert NOWHERE.host.startswith("127.0.0.1")

"""What `nginx -t` says about the module's settings, and that the secret
never reaches nginx's output or logs."""

import re
import types
import urllib.parse

import pytest
import requests

from harness import ACCESS_KEY, SECRET_KEY, Nginx, s3_environment

# An endpoint nothing listens on: `nginx -t` contacts nothing anyway.
NOWHERE = types.SimpleNamespace(host="127.0.0.1:9", session_token=None)

# A named endpoint needs one; nothing here asks it anything.
RESOLVER = "resolver 127.0.0.1;"

NO_INCLUDE = """
        location / {
            s3_proxy on;
        }
"""

AT_SERVER_LEVEL = """
        s3_proxy on;
        location / {
            include s3_proxy.conf;
        }
"""


@pytest.fixture
def check():
    """check(env=None, **Nginx kwargs) -> (exit code, output) of `nginx -t`."""
    made = []

    def run(env=None, **kwargs):
        nginx = Nginx(env if env is not None else s3_environment(NOWHERE), **kwargs)
        made.append(nginx)
        return nginx.check()

    yield run
    for nginx in made:
        nginx.cleanup()


@pytest.fixture
def check_at():
    """check_at(directive, env=None, **Nginx kwargs) -> (exit code, output,
    "<nginx.conf path>:<line>" of the line that holds `directive`)."""
    made = []

    def run(directive, env=None, **kwargs):
        nginx = Nginx(env if env is not None else s3_environment(NOWHERE), **kwargs)
        made.append(nginx)
        with open(nginx.conf) as f:
            lines = f.read().split("\n")
        holding = [n for n, line in enumerate(lines, 1) if directive in line]
        assert len(holding) == 1, (directive, holding)
        code, output = nginx.check()
        return code, output, f"{nginx.conf}:{holding[0]}"

    yield run
    for nginx in made:
        nginx.cleanup()


def env_with(**overrides):
    return s3_environment(NOWHERE, **overrides)


def assert_fails(result, *words):
    code, output = result
    assert code != 0, output
    assert "[emerg]" in output, output
    assert "test failed" in output, output
    for word in words:
        assert word in output, output


def assert_passes(result):
    code, output = result
    assert code == 0, output
    assert "test is successful" in output, output


# --------------------------------------------------------------------------
# failures
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_missing_credential_fails_naming_it(check, name):
    assert_fails(check(env_with(**{name: None})), name)


@pytest.mark.parametrize("name", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_empty_credential_fails_naming_it(check, name):
    assert_fails(check(env_with(**{name: ""})), name)


@pytest.mark.parametrize("name,value", [
    ("AWS_ACCESS_KEY_ID", "AKID WITH SPACE"),
    ("AWS_SECRET_ACCESS_KEY", "secret with\tcontrol"),
    ("AWS_SESSION_TOKEN", "token with space"),
])
def test_credential_with_bad_character_fails_without_echoing_it(check, name, value):
    code, output = check(env_with(**{name: value}))
    assert_fails((code, output), name)
    assert value not in output


def test_region_that_is_not_a_region_name_fails(check):
    assert_fails(check(env_with(AWS_DEFAULT_REGION="US East")),
                 "AWS_DEFAULT_REGION", '"US East"')


@pytest.mark.parametrize("host,words", [
    ("https://s3.amazonaws.com", ["without a scheme"]),
    ("s3.amazonaws.com/bucket", ["without a scheme, credentials or a path"]),
    ("user@s3.amazonaws.com", ["credentials"]),
    ("s3.amazonaws.com:http", ["port"]),
    ("s3.amazonaws.com:70000", ["port outside 1-65535"]),
    ("s3.amazonaws.com:0", ["port outside 1-65535"]),
    ("s3.amazonaws.com:", ["empty port"]),
    ("[::1", ["unclosed"]),
    ("s3 .amazonaws.com", ["host name"]),
])
def test_bad_endpoint_host_fails_naming_it(check, host, words):
    assert_fails(check(env_with(AWS_ENDPOINT_HOST=host)), "AWS_ENDPOINT_HOST ", *words)


@pytest.mark.parametrize("host", ["https://cdn.example.com", "cdn.example.com/s3",
                                  "cdn.example.com:99999"])
def test_bad_external_host_fails_naming_it(check, host):
    assert_fails(check(env_with(AWS_ENDPOINT_HOST_EXTERNAL=host)),
                 "AWS_ENDPOINT_HOST_EXTERNAL")


@pytest.mark.parametrize("scheme", ["ftp", "HTTPS", "http://"])
def test_scheme_other_than_http_or_https_fails(check, scheme):
    assert_fails(check(env_with(AWS_ENDPOINT_SCHEME=scheme)),
                 "AWS_ENDPOINT_SCHEME", '"http" or "https"')


@pytest.mark.parametrize("expires", ["0", "0s", "8d", "604801s"])
def test_expires_outside_1s_to_7d_fails(check, expires):
    assert_fails(check(http_extra=f"s3_proxy_expires {expires};"),
                 "s3_proxy_expires", "between 1s and 7d")


def test_expires_that_is_not_a_time_fails(check):
    assert_fails(check(http_extra="s3_proxy_expires soon;"), "s3_proxy_expires")


def test_s3_proxy_without_the_include_fails_naming_the_include(check):
    assert_fails(check(locations=NO_INCLUDE), "needs proxy_pass",
                 'include s3_proxy.conf;')


def test_s3_proxy_at_server_level_is_not_allowed(check):
    assert_fails(check(locations=AT_SERVER_LEVEL),
                 '"s3_proxy" directive is not allowed here')


def test_s3_proxy_at_http_level_is_not_allowed(check):
    assert_fails(check(http_extra="s3_proxy on;"),
                 '"s3_proxy" directive is not allowed here')


# --------------------------------------------------------------------------
# failures name the directive's own line, never the closing brace of http
# --------------------------------------------------------------------------

def assert_fails_at(result, *words):
    code, output, where = result
    assert_fails((code, output), *words)
    assert re.search(r" in " + re.escape(where) + "$", output, re.M), (where, output)


def test_missing_proxy_pass_points_at_s3_proxy(check_at):
    assert_fails_at(check_at("s3_proxy on;", locations=NO_INCLUDE),
                    "needs proxy_pass")


def test_bad_index_in_a_location_points_at_s3_proxy_index(check_at):
    assert_fails_at(check_at("s3_proxy_index", locations="""
        location / {
            s3_proxy on;
            s3_proxy_index pages/index.html;
            include s3_proxy.conf;
        }
"""), '"s3_proxy_index" must be a file name', '"pages/index.html"')


@pytest.mark.parametrize("index", ["..", "a/b", '""'])
def test_bad_index_at_http_level_points_at_s3_proxy_index(check_at, index):
    assert_fails_at(check_at("s3_proxy_index", http_extra=f"s3_proxy_index {index};"),
                    '"s3_proxy_index" must be a file name')


def test_expires_at_http_level_points_at_s3_proxy_expires(check_at):
    assert_fails_at(check_at("s3_proxy_expires", http_extra="s3_proxy_expires 8d;"),
                    "between 1s and 7d")


@pytest.mark.parametrize("env", [
    env_with(S3_PROXY_BUCKETS=","),
    env_with(AWS_DEFAULT_REGION="US East"),
    env_with(AWS_ENDPOINT_SCHEME="ftp"),
    env_with(AWS_ACCESS_KEY_ID=None),
])
def test_bad_environment_points_at_s3_proxy(check_at, env):
    assert_fails_at(check_at("s3_proxy on;", env), '"s3_proxy"')


# --------------------------------------------------------------------------
# good configurations
# --------------------------------------------------------------------------

# S3's bucket naming rules, each broken once: the directive, its value, the
# rule, and its line.  https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BAD_BUCKETS = [
    ("my..bucket", "two adjacent periods"),
    ("192.168.1.1", "formatted as an IP address"),
    ("ab", "3 to 63 characters"),
    ("a" * 64, "3 to 63 characters"),
    ("MyBucket", "uppercase letters or underscores"),
    ("my_bucket", "uppercase letters or underscores"),
    ("-bucket", "begin and end with a letter or digit"),
    ("bucket-", "begin and end with a letter or digit"),
    (".bucket", "begin and end with a letter or digit"),
    ("bucket.", "begin and end with a letter or digit"),
    ("xn--bucket", 'begins with "xn--"'),
    ("sthree-bucket", 'begins with "sthree-"'),
    ("bucket-s3alias", 'ends with "-s3alias"'),
    ("bucket--ol-s3", 'ends with "--ol-s3"'),
    ("bucket.mrap", 'ends with ".mrap"'),
    ("bucket--x-s3", 'ends with "--x-s3"'),
]


@pytest.mark.parametrize("bucket, rule", BAD_BUCKETS)
def test_bucket_s3_forbids_fails_at_s3_proxy_bucket(check_at, bucket, rule):
    assert_fails_at(check_at("s3_proxy_bucket", locations=f"""
        location /eu/ {{
            s3_proxy on;
            s3_proxy_bucket {bucket};
            include s3_proxy.conf;
        }}
"""), f'"s3_proxy_bucket" "{bucket}" is not a valid bucket name: it', rule)


@pytest.mark.parametrize("bucket, rule", BAD_BUCKETS)
def test_bucket_s3_forbids_fails_at_s3_proxy_buckets(check_at, bucket, rule):
    assert_fails_at(check_at("s3_proxy_buckets", locations=f"""
        location / {{
            s3_proxy on;
            s3_proxy_buckets demo {bucket} other;
            include s3_proxy.conf;
        }}
"""), f'"s3_proxy_buckets": "{bucket}" is not a valid bucket name: it', rule)


def test_bucket_s3_forbids_in_the_environment_fails_at_s3_proxy(check_at):
    assert_fails_at(check_at("s3_proxy on;", env=env_with(S3_PROXY_BUCKETS="demo,my..bucket"),
                             locations="""
        location / {
            s3_proxy on;
            include s3_proxy.conf;
        }
"""), '"my..bucket" is not a valid bucket name: it holds two adjacent periods')


@pytest.mark.parametrize("bucket", ["abc", "my-bucket", "my.bucket.name", "1.2.3",
                                    "a" * 63, "xn-bucket"])
def test_bucket_s3_allows_passes(check, bucket):
    assert_passes(check(locations=f"""
        location /eu/ {{
            s3_proxy on;
            s3_proxy_bucket {bucket};
            s3_proxy_buckets {bucket} other;
            include s3_proxy.conf;
        }}
"""))


def test_mount_beginning_with_two_slashes_is_refused(check_at):
    """A listing's links start with the mount: "//evil.example/" would
    send every click to another host."""
    assert_fails_at(check_at("s3_proxy on;", locations="""
        location //evil.example/ {
            s3_proxy on;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }
"""), 'prefix "//evil.example/" must not begin with "//"')


def test_limit_except_is_refused_by_its_name(check_at):
    assert_fails_at(check_at("s3_proxy on;", locations="""
        location / {
            s3_proxy on;
            include s3_proxy.conf;
            limit_except GET { deny all; }
        }
"""), '"s3_proxy" in location "/" has a "limit_except" block')


def test_if_block_with_its_own_proxy_pass_is_refused_by_its_name(check_at):
    code, output, where = check_at("s3_proxy on;", locations="""
        location / {
            s3_proxy on;
            include s3_proxy.conf;
            if ($arg_x) { proxy_pass http://127.0.0.1:9; }
        }
""")
    assert_fails_at((code, output, where), 'has an "if" block')
    assert "limit_except" not in output


# `return` (the rewrite module's), "rewrite ... redirect" and try_files
# answer before the module, at phases before its own; nginx shows no module
# another's settings, so nginx -t cannot see them.  The first answer they
# give in an "s3_proxy on" location is logged at error instead.
@pytest.mark.parametrize("directive, status", [
    ('return 200 "not from S3";', 200),
    ("return 302 https://elsewhere.example/;", 302),
    ("rewrite ^ https://elsewhere.example/ redirect;", 302),
    ('if ($arg_x) { return 204; }', 204),
])
def test_answer_before_the_module_is_logged(s3, make_nginx, directive, status):
    nginx = make_nginx(s3_environment(s3), locations=f"""
        location / {{
            s3_proxy on;
            include s3_proxy.conf;
            {directive}
        }}
""")
    s3.clear()
    resp = requests.get(nginx.url + "/demo/files/hello.txt?x=1", allow_redirects=False,
                        timeout=10)
    assert resp.status_code == status
    assert s3.requests() == []
    lines = [line for line in nginx.log_text().splitlines()
             if "before the module decided" in line]
    assert len(lines) == 1 and "[error]" in lines[0]
    assert f's3 proxy: location "/" answered {status} before the module decided' \
        in lines[0]
    # what the module answers itself is never taken for one
    nginx_ok = make_nginx(s3_environment(s3))
    assert requests.get(nginx_ok.url + "/demo/files/hello.txt", allow_redirects=False,
                        timeout=10).status_code == 307
    assert requests.get(nginx_ok.url + "/demo/files/nope", allow_redirects=False,
                        timeout=10, headers={"User-Agent": "Boto3/1.0"}).status_code == 404
    assert requests.post(nginx_ok.url + "/demo/x", timeout=10).status_code == 405
    # nor nginx's own redirect of a mount without its "/"
    mount = make_nginx(s3_environment(s3), locations="""
        location /eu/ {
            s3_proxy on;
            s3_proxy_bucket demo;
            include s3_proxy.conf;
        }
""")
    assert requests.get(mount.url + "/eu", allow_redirects=False,
                        timeout=10).status_code == 301
    for started in (nginx_ok, mount):
        assert "before the module decided" not in started.log_text()


def defaults_only_env(**extra):
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    env.update(extra)
    return env


def test_just_the_two_keys_pass(check):
    assert_passes(check(defaults_only_env(), http_extra=RESOLVER))


@pytest.mark.parametrize("region,host", [
    (None, "s3.us-east-1.amazonaws.com"),
    ("eu-central-2", "s3.eu-central-2.amazonaws.com"),
])
def test_defaults_point_redirects_at_aws_regional_https_endpoint(
        make_nginx, region, host):
    """A redirect contacts nothing, so the defaults can be served here."""
    extra = {"AWS_DEFAULT_REGION": region} if region else {}
    nginx = make_nginx(defaults_only_env(**extra), http_extra=RESOLVER)
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    url = urllib.parse.urlsplit(r.headers["Location"])
    assert (url.scheme, url.netloc, url.path) == ("https", host, "/demo/files/hello.txt")
    query = dict(urllib.parse.parse_qsl(url.query))
    credential = query["X-Amz-Credential"].split("/")
    assert credential[0] == ACCESS_KEY
    assert credential[2:] == [region or "us-east-1", "s3", "aws4_request"]
    assert query["X-Amz-Expires"] == "300"


@pytest.mark.parametrize("name", ["AWS_DEFAULT_REGION", "AWS_ENDPOINT_HOST",
                                  "AWS_ENDPOINT_HOST_EXTERNAL",
                                  "AWS_ENDPOINT_SCHEME", "AWS_SESSION_TOKEN"])
def test_empty_optional_setting_means_its_default(check, name):
    assert_passes(check(env_with(**{name: ""}), http_extra=RESOLVER))


@pytest.mark.parametrize("host", ["s3.example.com:9000", "minio.internal:1",
                                  "[::1]:9000", "[::1]", "10.0.0.1:65535",
                                  "s3.eu-west-1.amazonaws.com"])
def test_good_endpoint_hosts_pass(check, host):
    assert_passes(check(env_with(AWS_ENDPOINT_HOST=host), http_extra=RESOLVER))


def test_ipv6_endpoint_appears_bracketed_in_the_location(make_nginx):
    nginx = make_nginx(env_with(AWS_ENDPOINT_HOST="[::1]:9000"))
    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    assert r.headers["Location"].startswith("http://[::1]:9000/demo/files/hello.txt?")


@pytest.mark.parametrize("expires", ["1s", "60s", "5m", "7d", "604800"])
def test_expires_within_1s_to_7d_passes(check, expires):
    assert_passes(check(http_extra=f"s3_proxy_expires {expires};"))


def test_s3_proxy_off_needs_no_credentials(check):
    env = {"PATH": "/usr/sbin:/usr/bin:/bin"}
    assert_passes(check(env, locations="""
        location / {
            s3_proxy off;
            return 204;
        }
"""))


# --------------------------------------------------------------------------
# the secret stays secret
# --------------------------------------------------------------------------

def secret_forms():
    return [SECRET_KEY, urllib.parse.quote(SECRET_KEY, safe=""),
            urllib.parse.quote_plus(SECRET_KEY), "AWS4" + SECRET_KEY,
            SECRET_KEY.split("/")[0] + "/", "Key+42"]


def assert_no_secret(text):
    for form in secret_forms():
        assert form not in text, f"secret ({form!r}) found"


def test_secret_never_appears_in_nginx_t_output(check):
    code, output = check(log_level="debug")
    assert code == 0, output
    assert_no_secret(output)
    code, output = check(env_with(AWS_DEFAULT_REGION="Bad Region"), log_level="debug")
    assert code != 0
    assert_no_secret(output)


def test_secret_never_appears_in_debug_error_log(s3, make_nginx):
    nginx = make_nginx(s3_environment(s3), log_level="debug")
    sdk = {"User-Agent": "Boto3/1.0 md/Botocore#1.0"}

    def get(path, method="GET", **kwargs):
        return requests.request(method, nginx.url + path, allow_redirects=False,
                                timeout=10, **kwargs).status_code

    # redirects
    assert get("/demo/files/hello.txt") == 307
    assert get("/demo/files/data.bin", "HEAD") == 307
    assert get("/demo/files/with%20space.txt") == 307
    # proxied: index pages, listings, a missing page, SDK object reads
    assert get("/demo/") == 200
    assert get("/demo/docs/index.html", "HEAD") == 200
    assert get("/demo?list-type=2&prefix=docs/") == 200
    assert get("/demo/?delimiter=/") == 200
    assert get("/demo/files/") == 404
    # streamed to SDKs by default; a redirect would do for this test too
    assert get("/demo/files/hello.txt", headers=sdk) in (200, 307)
    # refused
    assert get("/demo/files/hello.txt", "POST", data=b"x") == 405
    assert get("/") == 403
    assert get("/demo/files/hello.txt?acl") == 403
    assert get("/Bad_Bucket!/x") == 400

    log = nginx.log_text()
    assert "[debug]" in log  # debug logging really was on
    assert "s3 proxy" in log
    assert_no_secret(log)
    with open(nginx.access_log) as f:
        assert_no_secret(f.read())

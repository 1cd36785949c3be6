"""Configured like any nginx location (issue #9): mounts, one bucket per
location, and per-location endpoints, regions, credentials and
addressing, in one nginx, against two S3 stand-ins that differ in port,
region and key pair and each accept only their own signatures.

Every test asserts what the client got and what reached each stand-in.
"""

import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse

import boto3
import botocore.config
import pytest
import requests

from harness import Nginx, S3Server, client_env, free_port

ALPHA = dict(access_key="AKIDALPHA0001", secret_key="alpha-secret/Key+1",
             region="eu-west-3")
BRAVO = dict(access_key="AKIDBRAVO0002", secret_key="bravo-secret/Key+2",
             region="ap-south-2")
SDK_AGENT = "Boto3/1.34.0 md/Botocore#1.34.0"


def s3_client(s3, **extra):
    """boto3 straight at a stand-in, with its own keys (to seed it)."""
    return boto3.client(
        "s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key, region_name=s3.region,
        config=botocore.config.Config(s3={"addressing_style": "path"}), **extra)


@pytest.fixture(scope="module")
def alpha():
    server = S3Server(virtual_host="s3a.test", **ALPHA)
    client = s3_client(server)
    client.put_object(Bucket="demo", Key="whoami.txt", Body=b"alpha\n")
    client.create_bucket(Bucket="releases", CreateBucketConfiguration={
        "LocationConstraint": ALPHA["region"]})
    client.put_object(Bucket="releases", Key="v1/app.tar.gz", Body=b"app v1\n")
    client.put_object(Bucket="releases", Key="v1/notes.txt", Body=b"notes\n")
    client.put_object(Bucket="releases", Key="latest.txt", Body=b"v1\n")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bravo():
    server = S3Server(virtual_host="s3b.test", **BRAVO)
    s3_client(server).put_object(Bucket="demo", Key="whoami.txt", Body=b"bravo\n")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws_files():
    """Shared credentials and config files with a profile per stand-in."""
    home = tempfile.mkdtemp(prefix="s3p-aws-")
    os.makedirs(os.path.join(home, ".aws"))
    with open(os.path.join(home, ".aws", "credentials"), "w") as f:
        f.write(textwrap.dedent(f"""\
            [default]
            aws_access_key_id = AKIDNOBODY
            aws_secret_access_key = nobody

            [bravo]
            aws_access_key_id = {BRAVO['access_key']}
            aws_secret_access_key = {BRAVO['secret_key']}
            """))
    with open(os.path.join(home, ".aws", "config"), "w") as f:
        f.write(textwrap.dedent(f"""\
            [default]
            region = us-west-2

            [profile bravo]
            region = {BRAVO['region']}
            s3 =
              addressing_style = path
            """))
    return home


def env_for(alpha, home, **extra):
    """The master's environment: alpha's keys and endpoint, the files in
    `home`."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/bin",
        "HOME": home,
        "AWS_ACCESS_KEY_ID": ALPHA["access_key"],
        "AWS_SECRET_ACCESS_KEY": ALPHA["secret_key"],
        "AWS_ENDPOINT_HOST": alpha.host,
        "AWS_ENDPOINT_SCHEME": "http",
        "AWS_REGION": ALPHA["region"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def credential_of(record):
    """The access key id and region a request reaching S3 was signed with."""
    auth = record["headers"].get("authorization", "")
    m = re.search(r"Credential=([^/]+)/\d{8}/([^/]+)/s3/aws4_request", auth)
    if m:
        return m.group(1), m.group(2)
    query = urllib.parse.parse_qs(record["query"])
    credential = query["X-Amz-Credential"][0].split("/")
    return credential[0], credential[2]


def follow(url, **kwargs):
    """curl -L: the final status and body."""
    r = subprocess.run(["curl", "-sS", "-L", "-o", "-", "-w", "\n%{http_code}",
                        *kwargs.get("args", []), url],
                       capture_output=True, timeout=30)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


TWO_LOCATIONS = """
        s3_proxy_listing on;

        location /a/ {{
            s3_proxy on;
            include s3_proxy.conf;
        }}

        location /b/ {{
            s3_proxy on;
            s3_proxy_endpoint http://{bravo};
            s3_proxy_region ap-south-2;
            s3_proxy_credentials profile=bravo;
            include s3_proxy.conf;
        }}

        location /downloads/ {{
            s3_proxy on;
            s3_proxy_bucket releases;
            include s3_proxy.conf;
        }}

        location ~ ^/demo/ {{
            s3_proxy on;
            include s3_proxy.conf;
        }}
"""


@pytest.fixture(scope="module")
def proxy(alpha, bravo, aws_files):
    nginx = Nginx(env_for(alpha, aws_files),
                  locations=TWO_LOCATIONS.format(bravo=bravo.host))
    code, out = nginx.check()
    assert code == 0, out
    nginx.start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    assert not bad, "error log:\n" + "\n".join(bad)


@pytest.fixture(autouse=True)
def clean(alpha, bravo):
    alpha.clear()
    bravo.clear()


# -- two endpoints, regions and key pairs side by side ----------------------

@pytest.mark.parametrize("mount, who, server", [("/a", b"alpha\n", "alpha"),
                                                ("/b", b"bravo\n", "bravo")])
def test_redirect_followed_reaches_the_location_endpoint(proxy, alpha, bravo,
                                                          mount, who, server):
    r = requests.get(proxy.url + mount + "/demo/whoami.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    target = alpha if server == "alpha" else bravo
    other = bravo if server == "alpha" else alpha
    assert r.headers["Location"].startswith(target.endpoint + "/demo/whoami.txt?")
    code, body = follow(proxy.url + mount + "/demo/whoami.txt")
    assert (code, body) == (200, who)
    reached = target.requests()
    assert [(x["path"], x["verified"]) for x in reached] == [("/demo/whoami.txt", True)]
    spec = ALPHA if server == "alpha" else BRAVO
    assert credential_of(reached[0]) == (spec["access_key"], spec["region"])
    assert other.requests() == []


@pytest.mark.parametrize("mount, server", [("/a", "alpha"), ("/b", "bravo")])
def test_index_page_xml_listing_and_sdk_stream(proxy, alpha, bravo, mount, server):
    target = alpha if server == "alpha" else bravo
    spec = ALPHA if server == "alpha" else BRAVO

    r = requests.get(proxy.url + mount + "/demo/", timeout=10)
    assert r.status_code == 200 and "s3-proxy demo bucket" in r.text

    r = requests.get(proxy.url + mount + "/demo?list-type=2&prefix=docs/", timeout=10)
    assert r.status_code == 200
    assert "<Key>docs/guide.txt</Key>" in r.text

    r = requests.get(proxy.url + mount + "/demo/whoami.txt",
                     headers={"User-Agent": SDK_AGENT}, timeout=10)
    assert r.status_code == 200 and r.content == (b"alpha\n" if server == "alpha"
                                                  else b"bravo\n")

    reached = target.requests()
    assert [(x["method"], x["path"], x["verified"]) for x in reached] == [
        ("GET", "/demo/index.html", True), ("GET", "/demo", True),
        ("GET", "/demo/whoami.txt", True)]
    assert {credential_of(x) for x in reached} == {(spec["access_key"], spec["region"])}


@pytest.mark.parametrize("mount, server", [("/a", "alpha"), ("/b", "bravo")])
def test_boto3_and_aws_cli_pointed_at_the_mount(proxy, alpha, bravo, mount, server,
                                                tmp_path):
    target = alpha if server == "alpha" else bravo
    client = boto3.client(
        "s3", endpoint_url=proxy.url + mount, aws_access_key_id="client",
        aws_secret_access_key="client", region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))
    body = client.get_object(Bucket="demo", Key="whoami.txt")["Body"].read()
    assert body == (b"alpha\n" if server == "alpha" else b"bravo\n")
    head = client.head_object(Bucket="demo", Key="files/hello.txt")
    assert head["ContentLength"] == len(b"hello from s3-proxy\n")
    keys = [o["Key"] for o in client.list_objects_v2(
        Bucket="demo", Prefix="docs/")["Contents"]]
    assert keys == ["docs/guide.txt", "docs/index.html"]

    out = tmp_path / "hello.txt"
    r = subprocess.run(
        [sys.executable, "-m", "awscli", "s3", "cp", "--endpoint-url", proxy.url + mount,
         "s3://demo/files/hello.txt", str(out)],
        env=client_env(str(tmp_path), AWS_ACCESS_KEY_ID="client",
                       AWS_SECRET_ACCESS_KEY="client"),
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == b"hello from s3-proxy\n"

    reached = target.requests()
    assert reached and all(x["verified"] for x in reached)
    assert all(x["path"].startswith("/demo") for x in reached)
    assert all(x["method"] in ("GET", "HEAD") for x in reached)


def test_built_in_listing_links_and_pages_carry_the_mount(proxy, alpha):
    r = requests.get(proxy.url + "/a/demo/listing/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    hrefs = re.findall(r'href="([^"]*)"', r.text)
    assert "/a/demo/listing/item-0000.txt" in hrefs
    assert "/a/demo/" in hrefs                      # ../ and the breadcrumb
    assert all(h.startswith("/a/demo/") or h.startswith("?page=") for h in hrefs)
    nexts = [h for h in hrefs if h.startswith("?page=")]
    assert len(nexts) == 1

    r2 = requests.get(proxy.url + "/a/demo/listing/" + nexts[0], timeout=10)
    assert r2.status_code == 200
    assert "/a/demo/listing/item-1099.txt" in r2.text
    assert "/a/demo/listing/item-0000.txt" not in r2.text

    # and a file link works through the mount
    code, body = follow(proxy.url + "/a/demo/listing/item-0007.txt")
    assert (code, body) == (200, b"listing item 0007\n")
    paths = [x["path"] for x in alpha.requests()]
    assert paths == ["/demo/listing/index.html", "/demo", "/demo",
                     "/demo/listing/item-0007.txt"]


@pytest.mark.parametrize("path, status", [
    ("/a/", 403),                   # ListBuckets
    ("/%61/demo/whoami.txt", 400),  # not the prefix byte for byte
    ("/a/Not%20A%20Bucket/x", 400),
])
def test_refusals_reach_no_stand_in(proxy, alpha, bravo, path, status):
    # curl sends the path as written (requests would decode %61 to a)
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                        "--path-as-is", proxy.url + path],
                       capture_output=True, text=True, timeout=10)
    assert r.stdout == str(status)
    assert alpha.requests() == [] and bravo.requests() == []


def test_nginx_merges_slashes_the_raw_path_does_not_match(proxy, alpha):
    # nginx routes //a/demo/x to location /a/ after merging slashes; the
    # raw path does not begin with /a/, so it is refused, not guessed.
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                        "--path-as-is", proxy.url + "//a/demo/whoami.txt"],
                       capture_output=True, text=True, timeout=10)
    assert r.stdout == "400"
    assert alpha.requests() == []


# -- one bucket per location -------------------------------------------------

def test_single_bucket_redirect(proxy, alpha):
    r = requests.get(proxy.url + "/downloads/v1/app.tar.gz", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    assert r.headers["Location"].startswith(alpha.endpoint + "/releases/v1/app.tar.gz?")
    code, body = follow(proxy.url + "/downloads/v1/app.tar.gz")
    assert (code, body) == (200, b"app v1\n")
    assert [x["path"] for x in alpha.requests()] == ["/releases/v1/app.tar.gz"]


def test_single_bucket_root_is_its_listing(proxy, alpha):
    r = requests.get(proxy.url + "/downloads/", timeout=10)
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    hrefs = re.findall(r'href="([^"]*)"', r.text)
    assert "/downloads/v1/" in hrefs and "/downloads/latest.txt" in hrefs
    r = requests.get(proxy.url + "/downloads/v1/", timeout=10)
    hrefs = re.findall(r'href="([^"]*)"', r.text)
    assert "/downloads/v1/app.tar.gz" in hrefs and "/downloads/" in hrefs
    paths = [x["path"] for x in alpha.requests()]
    assert paths == ["/releases/index.html", "/releases", "/releases/v1/index.html",
                     "/releases"]


def test_single_bucket_xml_listing_and_sdk_stream(proxy, alpha):
    r = requests.get(proxy.url + "/downloads/?list-type=2&prefix=v1/", timeout=10)
    assert r.status_code == 200
    assert re.findall(r"<Key>([^<]*)</Key>", r.text) == ["v1/app.tar.gz", "v1/notes.txt"]
    r = requests.get(proxy.url + "/downloads/latest.txt",
                     headers={"User-Agent": SDK_AGENT}, timeout=10)
    assert (r.status_code, r.content) == (200, b"v1\n")
    reached = alpha.requests()
    assert [(x["path"], x["query"]) for x in reached] == [
        ("/releases", "list-type=2&prefix=v1%2F"), ("/releases/latest.txt", "")]
    assert all(x["verified"] for x in reached)


def test_single_bucket_cannot_reach_another_bucket(proxy, alpha):
    # /downloads/demo/whoami.txt is key demo/whoami.txt of releases
    r = requests.get(proxy.url + "/downloads/demo/whoami.txt",
                     headers={"User-Agent": SDK_AGENT}, timeout=10)
    assert r.status_code == 404
    assert [x["path"] for x in alpha.requests()] == ["/releases/demo/whoami.txt"]


def test_regex_location_uses_the_whole_path(proxy, alpha):
    r = requests.get(proxy.url + "/demo/whoami.txt", allow_redirects=False, timeout=10)
    assert r.status_code == 307
    assert r.headers["Location"].startswith(alpha.endpoint + "/demo/whoami.txt?")


# -- virtual-hosted addressing ------------------------------------------------

def virtual_locations(alpha, scheme="http"):
    return f"""
        s3_proxy_listing on;
        location /v/ {{
            s3_proxy on;
            s3_proxy_addressing virtual;
            s3_proxy_endpoint {scheme}://s3a.test;
            include s3_proxy.conf;
        }}
        location /one/ {{
            s3_proxy on;
            s3_proxy_addressing virtual;
            s3_proxy_endpoint {scheme}://s3a.test;
            s3_proxy_bucket releases;
            include s3_proxy.conf;
        }}
"""


def virtual_upstreams(alpha):
    # nginx looks a proxied URL's host up among its upstreams before it
    # resolves it: these stand in for DNS names of the stand-in.
    # Any other bucket would be resolved: a resolver is required.
    return "resolver 127.0.0.1:1;\n" + "".join(
        f"upstream {b}.s3a.test {{ server {alpha.host}; }}\n" for b in ("demo", "releases"))


@pytest.fixture(scope="module")
def virtual(alpha, aws_files):
    nginx = Nginx(env_for(alpha, aws_files), locations=virtual_locations(alpha),
                  http_extra=virtual_upstreams(alpha))
    code, out = nginx.check()
    assert code == 0, out
    nginx.start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    assert not bad, "error log:\n" + "\n".join(bad)


def test_virtual_redirect_names_the_bucket_in_the_host(virtual, alpha):
    r = requests.get(virtual.url + "/v/demo/whoami.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    location = r.headers["Location"]
    assert location.startswith("http://demo.s3a.test/whoami.txt?")
    code, body = follow(virtual.url + "/v/demo/whoami.txt",
                        args=["--connect-to", f"demo.s3a.test:80:{alpha.host}"])
    assert (code, body) == (200, b"alpha\n")
    reached = alpha.requests()
    assert [(x["path"], x["headers"]["host"], x["verified"]) for x in reached] == [
        ("/whoami.txt", "demo.s3a.test", True)]


def test_virtual_proxied_routes(virtual, alpha):
    r = requests.get(virtual.url + "/v/demo/", timeout=10)
    assert r.status_code == 200 and "s3-proxy demo bucket" in r.text
    r = requests.get(virtual.url + "/v/demo?list-type=2&prefix=docs/", timeout=10)
    assert "<Key>docs/guide.txt</Key>" in r.text
    r = requests.get(virtual.url + "/v/demo/whoami.txt",
                     headers={"User-Agent": SDK_AGENT}, timeout=10)
    assert (r.status_code, r.content) == (200, b"alpha\n")
    r = requests.get(virtual.url + "/one/v1/", timeout=10)
    assert r.status_code == 200
    assert "/one/v1/app.tar.gz" in r.text
    reached = [(x["path"], x["headers"]["host"], x["verified"]) for x in alpha.requests()]
    assert reached == [
        ("/index.html", "demo.s3a.test", True),
        ("/", "demo.s3a.test", True),
        ("/whoami.txt", "demo.s3a.test", True),
        ("/v1/index.html", "releases.s3a.test", True),
        ("/", "releases.s3a.test", True),
    ]


@pytest.mark.parametrize("bucket", ["Legacy_B", "UPPER", "dot..ted"])
def test_virtual_refuses_buckets_that_cannot_be_a_host(virtual, alpha, bucket):
    r = requests.get(virtual.url + f"/v/{bucket}/x", allow_redirects=False, timeout=10)
    assert r.status_code == 400
    assert alpha.requests() == []


# -- what each setting defaults to ---------------------------------------------

def test_aws_region_wins_over_aws_default_region(make_nginx, alpha, aws_files):
    # alpha verifies eu-west-3 only: AWS_REGION says so, AWS_DEFAULT_REGION
    # (us-east-1) is second.
    nginx = make_nginx(env_for(alpha, aws_files))
    code, body = follow(nginx.url + "/demo/whoami.txt")
    assert (code, body) == (200, b"alpha\n")
    assert credential_of(alpha.requests()[0])[1] == "eu-west-3"


def test_profile_region_is_the_last_default(make_nginx, bravo, aws_files):
    env = env_for(bravo, aws_files, AWS_REGION=None, AWS_DEFAULT_REGION=None,
                  AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                  AWS_ENDPOINT_HOST=bravo.host, AWS_PROFILE="bravo")
    nginx = make_nginx(env)
    code, body = follow(nginx.url + "/demo/whoami.txt")
    assert (code, body) == (200, b"bravo\n")
    assert credential_of(bravo.requests()[0]) == (BRAVO["access_key"], BRAVO["region"])


def test_external_endpoint_carries_its_own_scheme(make_nginx, alpha, aws_files):
    nginx = make_nginx(env_for(alpha, aws_files), locations="""
        location / {
            s3_proxy on;
            s3_proxy_external_endpoint https://files.example.com;
            include s3_proxy.conf;
        }
    """)
    r = requests.get(nginx.url + "/demo/whoami.txt", allow_redirects=False, timeout=10)
    location = r.headers["Location"]
    assert location.startswith("https://files.example.com/demo/whoami.txt?")
    # the proxied side still speaks http to the endpoint
    r = requests.get(nginx.url + "/demo/", timeout=10)
    assert r.status_code == 200
    assert alpha.requests()[0]["headers"]["host"] == alpha.host


def test_environment_external_scheme(make_nginx, alpha, aws_files):
    nginx = make_nginx(env_for(alpha, aws_files,
                               AWS_ENDPOINT_HOST_EXTERNAL="files.example.com",
                               AWS_ENDPOINT_SCHEME_EXTERNAL="https"))
    r = requests.get(nginx.url + "/demo/whoami.txt", allow_redirects=False, timeout=10)
    assert r.headers["Location"].startswith("https://files.example.com/demo/whoami.txt?")


def test_reload_switches_a_location_endpoint(make_nginx, alpha, bravo, aws_files):
    nginx = make_nginx(env_for(alpha, aws_files), locations="""
        location /x/ { s3_proxy on; include s3_proxy.conf; }
    """)
    assert follow(nginx.url + "/x/demo/whoami.txt") == (200, b"alpha\n")
    with open(nginx.conf) as f:
        text = f.read()
    text = text.replace(
        "location /x/ { s3_proxy on; include s3_proxy.conf; }",
        "location /x/ { s3_proxy on; s3_proxy_endpoint http://%s; "
        "s3_proxy_region ap-south-2; s3_proxy_credentials profile=bravo; "
        "include s3_proxy.conf; }" % bravo.host)
    with open(nginx.conf, "w") as f:
        f.write(text)
    nginx.proc.send_signal(__import__("signal").SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if follow(nginx.url + "/x/demo/whoami.txt") == (200, b"bravo\n"):
            break
        time.sleep(0.2)
    assert follow(nginx.url + "/x/demo/whoami.txt") == (200, b"bravo\n")
    assert credential_of(bravo.requests()[-1]) == (BRAVO["access_key"], BRAVO["region"])


# -- bad settings fail nginx -t with the directive and its line ----------------

@pytest.mark.parametrize("directive, message", [
    ("s3_proxy_endpoint ftp://s3.example.com;",
     '"s3_proxy_endpoint" "ftp://s3.example.com" has the unknown scheme "ftp"'),
    ("s3_proxy_endpoint https://s3.example.com/bucket;",
     '"s3_proxy_endpoint" "https://s3.example.com/bucket" must be'),
    ("s3_proxy_endpoint https://user:pw@s3.example.com;",
     '"s3_proxy_endpoint" "https://user:pw@s3.example.com" must be'),
    ("s3_proxy_external_endpoint http://h:99999;",
     '"s3_proxy_external_endpoint" "http://h:99999" has a host that has a port'),
    ('s3_proxy_region "US East";', '"s3_proxy_region" "US East" is not a region name'),
    ("s3_proxy_region eu_west_1;", '"s3_proxy_region" "eu_west_1" is not a region name'),
    ('s3_proxy_bucket "";', '"s3_proxy_bucket" "" is not a valid bucket name'),
    ("s3_proxy_credentials keys;", '"s3_proxy_credentials" takes auto, env,'),
    ("s3_proxy_addressing dns;", 'invalid value "dns"'),
])
def test_bad_setting_names_the_directive_and_line(make_nginx, alpha, aws_files,
                                                  directive, message):
    nginx = make_nginx(env_for(alpha, aws_files), start=False, locations=f"""
        location / {{
            s3_proxy on;
            {directive}
            include s3_proxy.conf;
        }}
    """)
    code, out = nginx.check()
    assert code != 0
    assert message in out, out
    line = open(nginx.conf).read().splitlines().index(
        next(l for l in open(nginx.conf).read().splitlines() if directive in l)) + 1
    assert f"{nginx.conf}:{line}" in out, out


@pytest.mark.parametrize("settings, message", [
    ("s3_proxy_buckets demo other; s3_proxy_bucket releases;",
     'the bucket "releases" is not among the buckets allowed'),
    ("s3_proxy_credentials profile=missing;",
     'profile "missing" is not in'),
    ("s3_proxy_addressing virtual; s3_proxy_endpoint https://s3.example.com; "
     "s3_proxy_bucket my.bucket;",
     'the bucket "my.bucket" holds a dot'),
    ("s3_proxy_addressing virtual;",
     'reaches the endpoint "127.0.0.1:'),
])
def test_bad_combination_fails_at_the_s3_proxy_line(make_nginx, alpha, aws_files,
                                                     settings, message):
    nginx = make_nginx(env_for(alpha, aws_files), start=False, locations=f"""
        location / {{
            s3_proxy on;
            {settings}
            include s3_proxy.conf;
        }}
    """)
    code, out = nginx.check()
    assert code != 0
    assert message in out, out
    assert '"s3_proxy"' in out and f"{nginx.conf}:" in out, out


def test_prefix_with_encoded_characters_fails(make_nginx, alpha, aws_files):
    nginx = make_nginx(env_for(alpha, aws_files), start=False, locations="""
        location "/a b/" { s3_proxy on; include s3_proxy.conf; }
    """)
    code, out = nginx.check()
    assert code != 0 and "the location's prefix \"/a b/\"" in out, out

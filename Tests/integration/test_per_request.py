"""Chosen per request (issue 25): a bucket from nginx variables
(`map $host $bucket`, a header) and a key prefix per user
(`s3_proxy_prefix users/$remote_user/` behind auth_basic).

Each tenant sees only its own bucket or subtree, with relative keys, in
the built-in listing, with curl -L, the aws CLI, boto3 and rclone; every
escape attempt is refused or confined, and the stand-in's own log shows
that nothing outside reached S3.
"""

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

import boto3
import botocore
import botocore.config
import pytest
import requests

from harness import Nginx, S3Server, client_env, s3_environment, wait_until

USERS = {"alice": "alice-pw", "bob": "bob-pw"}

OBJECTS = {
    "tenant-a": {"hello.txt": b"tenant a\n"},
    "tenant-b": {"hello.txt": b"tenant b\n"},
    "home": {
        "top-secret.txt": b"outside every user\n",
        "users/alice/": b"",
        "users/alice/notes.txt": b"alice's notes\n",
        "users/alice/docs/a.txt": b"alice doc a\n",
        "users/alice/docs/b c+d.txt": b"alice doc b\n",
        "users/alice-evil/steal.txt": b"next door\n",
        "users/bob/notes.txt": b"bob's notes\n",
        "users/bob/secret.txt": b"bob's secret\n",
    },
}

LOCATIONS = """
        access_log {log} tenant;

        location / {{
            s3_proxy on;
            s3_proxy_bucket $bucket;
            s3_proxy_buckets tenant-a tenant-b;
            include s3_proxy.conf;
        }}

        location /hdr/ {{
            s3_proxy on;
            s3_proxy_bucket $http_x_tenant;
            s3_proxy_buckets tenant-a;
            include s3_proxy.conf;
        }}

        location /me/ {{
            auth_basic "tenants";
            auth_basic_user_file {htpasswd};
            s3_proxy on;
            s3_proxy_bucket home;
            s3_proxy_prefix users/$remote_user/;
            s3_proxy_listing on;
            include s3_proxy.conf;
        }}

        location /sdk/ {{
            auth_basic "tenants";
            auth_basic_user_file {htpasswd};
            s3_proxy on;
            s3_proxy_prefix users/$remote_user/;
            s3_proxy_buckets home;
            include s3_proxy.conf;
        }}

        location /pfx/ {{
            s3_proxy on;
            s3_proxy_bucket home;
            s3_proxy_prefix $http_x_prefix;
            include s3_proxy.conf;
        }}

        location /ar/ {{
            auth_request /tenant-auth;
            auth_request_set $ar_bucket $auth_tenant;
            s3_proxy on;
            s3_proxy_bucket $ar_bucket;
            include s3_proxy.conf;
        }}

        location = /tenant-auth {{
            internal;
            set $auth_tenant tenant-b;     # what an auth service would say
            return 204;
        }}

        location /open/ {{
            s3_proxy on;
            s3_proxy_bucket $http_x_tenant;
            include s3_proxy.conf;
        }}

        location /fixed/ {{
            s3_proxy on;
            s3_proxy_bucket home;
            s3_proxy_prefix users/bob/;
            include s3_proxy.conf;
        }}
"""

HTTP_EXTRA = """
    map $host $bucket {
        hostnames;
        default        "";
        a.example.test tenant-a;
        b.example.test tenant-b;
    }
    log_format tenant '$s3_proxy_bucket|$s3_proxy_prefix|$s3_proxy_key|$status';
"""


@pytest.fixture(scope="module")
def s3():
    server = S3Server(seed=None)
    client = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name=server.region,
        config=botocore.config.Config(s3={"addressing_style": "path"}))
    for bucket, objects in OBJECTS.items():
        client.create_bucket(Bucket=bucket)
        for key, body in objects.items():
            client.put_object(Bucket=bucket, Key=key, Body=body)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def files():
    """The htpasswd file ({PLAIN} passwords, which auth_basic reads) and
    the log of the bucket and prefix variables."""
    root = tempfile.mkdtemp(prefix="s3p-tenants-")
    htpasswd = os.path.join(root, "htpasswd")
    with open(htpasswd, "w") as f:
        f.writelines(f"{u}:{{PLAIN}}{pw}\n" for u, pw in USERS.items())
    # nginx's workers (nobody, when the tests run as root) read it
    os.chmod(root, 0o755)
    os.chmod(htpasswd, 0o644)
    yield {"htpasswd": htpasswd, "log": os.path.join(root, "tenant.log")}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def proxy(s3, files):
    nginx = Nginx(s3_environment(s3), http_extra=HTTP_EXTRA,
                  locations=LOCATIONS.format(**files))
    code, out = nginx.check()
    assert code == 0, out
    nginx.start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    assert not bad, "error log:\n" + "\n".join(bad)


@pytest.fixture(autouse=True)
def clean(s3):
    s3.clear()


def basic(user):
    token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    return "Basic " + token


def get(proxy, path, user=None, host=None, headers=None, **kwargs):
    h = dict(headers or {})
    if user:
        h["Authorization"] = basic(user)
    if host:
        h["Host"] = host
    return requests.get(proxy.url + path, headers=h, allow_redirects=False,
                        timeout=10, **kwargs)


def curl(proxy, path, *args):
    """curl --path-as-is: the path goes out as written; (status, body)."""
    r = subprocess.run(["curl", "-sS", "--path-as-is", "-o", "-", "-w",
                        "\n%{http_code}", *args, proxy.url + path],
                       capture_output=True, timeout=30)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def reached(s3):
    """(bucket, key or None, query) of each request that reached S3."""
    out = []
    for x in s3.requests():
        parts = x["path"].split("/", 2)
        key = urllib.parse.unquote(parts[2]) if len(parts) > 2 else None
        out.append((parts[1], key, urllib.parse.parse_qs(x["query"],
                                                          keep_blank_values=True)))
    return out


def assert_confined(s3, user):
    """Every request S3 received read or listed below users/<user>/ of
    home, and was signed by the proxy."""
    below = f"users/{user}/"
    records = s3.requests()
    assert all(x["verified"] for x in records), records
    for bucket, key, query in reached(s3):
        assert bucket == "home", (bucket, key, query)
        if key is not None and key != "":
            assert key.startswith(below), key
        else:
            assert query.get("prefix", [""])[0].startswith(below), query
            for name in ("start-after", "marker"):
                for value in query.get(name, []):
                    assert value.startswith(below), query


def tenant_log(files):
    with open(files["log"]) as f:
        return f.read().splitlines()


def logged(files, line):
    """Waits for the access log to hold `line` (a string, or a predicate on
    a line): nginx writes it after the answer has been sent."""
    match = line if callable(line) else (lambda x: x == line)
    return wait_until(lambda: any(match(x) for x in tenant_log(files)), 10,
                      lambda: f"{line!r} in {tenant_log(files)}")


SDK = {"User-Agent": "Boto3/1.34.0 md/Botocore#1.34.0"}


# -- a bucket per host name (map $host $bucket) -------------------------------

@pytest.mark.parametrize("host, bucket", [("a.example.test", "tenant-a"),
                                          ("b.example.test", "tenant-b")])
def test_map_host_bucket_serves_a_bucket_per_host_name(proxy, s3, files, host, bucket):
    r = get(proxy, "/hello.txt", host=host)
    assert r.status_code == 307
    location = r.headers["Location"]
    assert location.startswith(f"{s3.endpoint}/{bucket}/hello.txt?")
    assert requests.get(location, timeout=10).content == OBJECTS[bucket]["hello.txt"]
    r = get(proxy, "/hello.txt", host=host, headers=SDK)
    assert (r.status_code, r.content) == (200, OBJECTS[bucket]["hello.txt"])
    # path-style, to the endpoint's own host, whatever the bucket
    records = s3.requests()
    assert [(x["path"], x["headers"]["host"]) for x in records] == [
        (f"/{bucket}/hello.txt", s3.host)] * 2
    assert all(x["verified"] for x in records)
    assert logged(files, f"{bucket}|-|hello.txt|200")


@pytest.mark.parametrize("host", ["c.example.test", "127.0.0.1"])
def test_a_host_without_a_bucket_gets_403_and_reaches_nothing(proxy, s3, host):
    assert get(proxy, "/hello.txt", host=host).status_code == 403
    r = get(proxy, "/hello.txt", host=host, headers=SDK)
    assert r.status_code == 403
    assert "<Code>AccessDenied</Code>" in r.text          # S3's XML error
    assert s3.requests() == []


@pytest.mark.parametrize("tenant", ["tenant-b", "", "Tenant_A!", "../tenant-a",
                                    "tenant-a/x", "ab", "tenant-a%2Fx"])
def test_a_bucket_from_a_header_is_checked_per_request(proxy, s3, tenant):
    r = get(proxy, "/hdr/hello.txt", headers=dict(SDK, **{"X-Tenant": tenant}))
    assert r.status_code == 403, tenant
    assert s3.requests() == []


@pytest.mark.parametrize("tenant", ["my..bucket", "192.168.1.1", "Tenant-A",
                                    "tenant_a", "xn--tenant", "tenant-s3alias",
                                    "amzn-s3-demo-tenant", "tenant--table-s3"])
def test_a_bucket_from_a_header_follows_s3s_naming_rules_without_a_list(
        proxy, s3, tenant):
    """Without s3_proxy_buckets, S3's naming rules (those nginx -t holds a
    constant to) still refuse a value, for browsers and S3 clients."""
    for headers in ({}, SDK):
        r = get(proxy, "/open/hello.txt", headers=dict(headers, **{"X-Tenant": tenant}))
        assert r.status_code == 403, tenant
        if headers:
            assert "<Code>AccessDenied</Code>" in r.text
    assert s3.requests() == []
    r = get(proxy, "/open/hello.txt", headers=dict(SDK, **{"X-Tenant": "tenant-a"}))
    assert (r.status_code, r.content) == (200, b"tenant a\n")


def test_a_bucket_from_a_header_in_the_allowlist_is_served(proxy, s3, files):
    r = get(proxy, "/hdr/hello.txt", headers=dict(SDK, **{"X-Tenant": "tenant-a"}))
    assert (r.status_code, r.content) == (200, b"tenant a\n")
    assert [x["path"] for x in s3.requests()] == ["/tenant-a/hello.txt"]


def test_a_bucket_set_by_auth_request_is_served(proxy, s3, files):
    r = get(proxy, "/ar/hello.txt", headers=SDK)
    assert (r.status_code, r.content) == (200, b"tenant b\n"), tenant_log(files)
    assert [x["path"] for x in s3.requests()] == ["/tenant-b/hello.txt"]


def test_log_variables_show_refused_values(proxy, s3, files):
    get(proxy, "/hdr/x.txt", headers={"X-Tenant": "Bad_Name!"})
    assert logged(files, lambda line: line.startswith("Bad_Name!|-|-|")
                  and line.endswith("|403"))
    assert "Bad_Name!|-|x.txt|403" not in tenant_log(files)  # no key: refused


# -- a key prefix per user (s3_proxy_prefix users/$remote_user/) --------------

@pytest.mark.parametrize("user", ["alice", "bob"])
def test_prefix_redirect_and_curl_follow_read_the_users_own_key(proxy, s3, files, user):
    r = get(proxy, "/me/notes.txt", user=user)
    assert r.status_code == 307
    assert r.headers["Location"].startswith(
        f"{s3.endpoint}/home/users/{user}/notes.txt?")
    code, body = curl(proxy, "/me/notes.txt", "-L", "-u", f"{user}:{USERS[user]}")
    assert (code, body) == (200, OBJECTS["home"][f"users/{user}/notes.txt"])
    assert_confined(s3, user)
    assert logged(files, f"home|users/{user}/|users/{user}/notes.txt|307")


def test_prefix_needs_the_user(proxy, s3):
    assert get(proxy, "/me/notes.txt").status_code == 401
    assert s3.requests() == []


def test_constant_prefix_maps_the_mount(proxy, s3):
    r = get(proxy, "/fixed/secret.txt", headers=SDK)
    assert (r.status_code, r.content) == (200, b"bob's secret\n")
    assert [x["path"] for x in s3.requests()] == ["/home/users/bob/secret.txt"]


@pytest.mark.parametrize("prefix", ["", "users/bob", "/users/bob/", "users/../",
                                    "users//", "./", "users/bob/\t/"])
def test_a_prefix_that_is_no_key_prefix_gets_403(proxy, s3, prefix):
    r = get(proxy, "/pfx/notes.txt", headers=dict(SDK, **{"X-Prefix": prefix}))
    assert r.status_code == 403, prefix
    assert s3.requests() == []


def test_a_prefix_from_a_header_is_used(proxy, s3):
    r = get(proxy, "/pfx/notes.txt", headers=dict(SDK, **{"X-Prefix": "users/bob/"}))
    assert (r.status_code, r.content) == (200, b"bob's notes\n")


def hrefs(html):
    return re.findall(r'href="([^"]*)"', html)


def test_built_in_listing_shows_the_users_subtree_only(proxy, s3):
    r = get(proxy, "/me/", user="alice")
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    links = hrefs(r.text)
    assert "/me/notes.txt" in links and "/me/docs/" in links
    assert all(h.startswith("/me/") for h in links), links
    assert "bob" not in r.text and "users/" not in r.text and "steal" not in r.text
    r = get(proxy, "/me/docs/", user="alice")
    links = hrefs(r.text)
    assert "/me/docs/a.txt" in links and "/me/docs/b%20c%2Bd.txt" in links
    assert "/me/" in links                                  # ../ and breadcrumb
    assert "users/" not in r.text
    assert_confined(s3, "alice")
    r = get(proxy, "/me/", user="bob")
    assert {"/me/notes.txt", "/me/secret.txt"} <= set(hrefs(r.text))
    assert "alice" not in r.text


def keys_of(xml):
    return re.findall(r"<Key>([^<]*)</Key>", xml)


def test_xml_listings_are_relative_to_the_prefix(proxy, s3):
    r = get(proxy, "/sdk/home?list-type=2", user="alice")
    assert r.status_code == 200
    assert keys_of(r.text) == ["docs/a.txt", "docs/b c+d.txt", "notes.txt"]
    assert "users/" not in r.text
    r = get(proxy, "/sdk/home?list-type=2&delimiter=/", user="alice")
    assert keys_of(r.text) == ["notes.txt"]
    assert re.findall(r"<Prefix>([^<]*)</Prefix>", r.text) == ["", "docs/"]
    r = get(proxy, "/sdk/home?list-type=2&prefix=docs/&encoding-type=url", user="alice")
    assert keys_of(r.text) == ["docs/a.txt", "docs/b%20c%2Bd.txt"]
    r = get(proxy, "/sdk/home?list-type=2&start-after=docs/a.txt", user="alice")
    assert keys_of(r.text) == ["docs/b c+d.txt", "notes.txt"]
    assert "<StartAfter>docs/a.txt</StartAfter>" in r.text
    r = get(proxy, "/sdk/home?marker=docs/b", user="alice")            # V1
    assert keys_of(r.text) == ["docs/b c+d.txt", "notes.txt"]
    r = get(proxy, "/sdk/home/?list-type=2", user="bob")
    assert keys_of(r.text) == ["notes.txt", "secret.txt"]
    for bucket, key, query in reached(s3):
        assert bucket == "home" and key in (None, "")
        assert query["prefix"][0].startswith(("users/alice/", "users/bob/"))


@pytest.mark.parametrize("path", [
    "/me/../bob/notes.txt",
    "/me/%2e%2e/bob/notes.txt",
    "/me/%2E%2E%2Fbob%2Fnotes.txt",
    "/me/..%2fbob/notes.txt",
    "/me/docs/../../bob/notes.txt",
    "/me/docs/%2e%2e/%2e%2e/bob/notes.txt",
    "/me/docs/..%2F..%2Fbob/notes.txt",
    "/me/%2Fusers/bob/notes.txt",
    "/me//../bob/notes.txt",
    "/me/.%2e/bob/secret.txt",
    "/me/%252e%252e/bob/notes.txt",
    "/sdk/home/../bob/notes.txt",
    "/sdk/home/%2e%2e%2fbob%2fnotes.txt",
    "/sdk/home/..%2F..%2Ftop-secret.txt",
    "/sdk/home/%2e%2e/alice-evil/steal.txt",
    "/sdk/tenant-a/hello.txt",
    "/sdk/home?list-type=2&prefix=../bob/",
    "/sdk/home?list-type=2&prefix=..%2Fbob%2F",
    "/sdk/home?list-type=2&prefix=%2e%2e/",
    "/sdk/home?list-type=2&start-after=../../",
    "/sdk/home?marker=..%2F..%2Fusers%2Fbob%2F",
    "/sdk/home?list-type=2&prefix=x&prefix=../bob/",
    "/sdk/home?list-type=2&continuation-token=users%2Fbob%2F",
    "/sdk/home?list-type=2&continuation-token=" + base64.b64encode(
        b"users/bob/notes.txt").decode(),
    "/sdk/home?list-type=2&start-after=users/bob/",
    "/sdk/home?marker=users/bob/",
    "/sdk/home?list-type=2&prefix=/../bob/",
    "/sdk/home?versions",
    "/sdk/home/notes.txt?versionId=x",
])
def test_escape_attempts_are_refused_or_confined(proxy, s3, path):
    # moto answers 500 to a continuation token it did not issue (S3: 400)
    allowed = {400, 403, 404, 501} | ({500} if "continuation-token" in path else set())
    for agent in ("curl/8", SDK["User-Agent"]):
        r = subprocess.run(["curl", "-sS", "--path-as-is", "-u", "alice:alice-pw",
                            "-A", agent, "-o", "-", "-w", "\n%{http_code} %{redirect_url}",
                            proxy.url + path], capture_output=True, timeout=30)
        body, _, status = r.stdout.rpartition(b"\n")
        code, _, location = status.decode().partition(" ")
        code = int(code)
        if code == 307:
            # a redirect, confined: the presigned URL's key is alice's
            key = urllib.parse.unquote(urllib.parse.urlsplit(location).path)
            assert key.startswith("/home/users/alice/"), (path, location)
        elif code == 200:
            keys = re.findall(rb"<(?:Key|Prefix)>([^<]*)</", body)
            assert b"secret.txt" not in body and b"steal" not in body, (path, body)
            assert keys and b"users/" not in b"".join(keys), (path, body)
        else:
            assert code in allowed, (path, code, body)
        for secret in (b"bob's", b"outside every", b"next door", b"secret.txt"):
            assert secret not in body, (path, body)
    assert_confined(s3, "alice")


# -- real clients through the prefix mount ------------------------------------

def boto3_client(proxy, user, **extra):
    client = boto3.client(
        "s3", endpoint_url=proxy.url + "/sdk", region_name="us-east-1",
        config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                      s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}, **extra))

    def add_basic(request, **kwargs):
        request.headers["Authorization"] = basic(user)

    client.meta.events.register("before-send.s3", add_basic)
    return client


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_boto3_sees_only_its_subtree(proxy, s3, user):
    client = boto3_client(proxy, user)
    mine = sorted(k[len(f"users/{user}/"):] for k in OBJECTS["home"]
                  if k.startswith(f"users/{user}/") and k != f"users/{user}/")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="home")["Contents"]]
    assert keys == mine
    pages = list(client.get_paginator("list_objects_v2").paginate(
        Bucket="home", PaginationConfig={"PageSize": 1}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == mine, pages
    pages = client.get_paginator("list_objects").paginate(
        Bucket="home", PaginationConfig={"PageSize": 1})
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == mine
    listed = client.list_objects_v2(Bucket="home", Delimiter="/")
    assert [p["Prefix"] for p in listed.get("CommonPrefixes", [])] == (
        ["docs/"] if user == "alice" else [])
    body = client.get_object(Bucket="home", Key="notes.txt")["Body"].read()
    assert body == OBJECTS["home"][f"users/{user}/notes.txt"]
    other = "bob" if user == "alice" else "alice"
    for key in (f"../{other}/notes.txt", "../../top-secret.txt"):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            client.get_object(Bucket="home", Key=key)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert_confined(s3, user)


PLUGIN = """
import base64

def awscli_initialize(cli):
    def add_basic(request, **kwargs):
        request.headers["Authorization"] = "Basic " + base64.b64encode(
            "{user}:{password}".encode()).decode()
    cli.register("before-send.s3", add_basic)
"""


def aws(proxy, home, user, *args):
    """The aws CLI, unsigned, its requests carrying the user's Basic
    credentials (a plugin of the CLI's config file)."""
    plugins = os.path.join(home, "plugins")
    os.makedirs(plugins, exist_ok=True)
    with open(os.path.join(plugins, f"s3p_basic_{user}.py"), "w") as f:
        f.write(PLUGIN.format(user=user, password=USERS[user]))
    config = os.path.join(home, "config")
    with open(config, "w") as f:
        f.write(f"[plugins]\nbasic = s3p_basic_{user}\n")
    return subprocess.run(
        [sys.executable, "-m", "awscli", "s3", *args, "--no-sign-request",
         "--endpoint-url", proxy.url + "/sdk"],
        env=client_env(home, AWS_CONFIG_FILE=config, PYTHONPATH=plugins),
        capture_output=True, text=True, timeout=60, cwd=home)


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_aws_cli_ls_sync_cp_see_only_the_subtree(proxy, s3, tmp_path, user):
    mine = {k[len(f"users/{user}/"):]: v for k, v in OBJECTS["home"].items()
            if k.startswith(f"users/{user}/") and k != f"users/{user}/"}
    r = aws(proxy, str(tmp_path), user, "ls", "s3://home/")
    assert r.returncode == 0, r.stderr
    names = sorted(line.split()[-1] for line in r.stdout.splitlines())
    top = sorted({k.split("/")[0] + ("/" if "/" in k else "") for k in mine})
    assert names == top
    r = aws(proxy, str(tmp_path), user, "ls", "--recursive", "s3://home/")
    assert r.returncode == 0, r.stderr
    listed = sorted(line.split(None, 3)[3] for line in r.stdout.splitlines())
    assert listed == sorted(mine)
    target = tmp_path / "sync"
    r = aws(proxy, str(tmp_path), user, "sync", "s3://home/", str(target))
    assert r.returncode == 0, r.stderr
    got = {str(p.relative_to(target)): p.read_bytes()
           for p in target.rglob("*") if p.is_file()}
    assert got == mine
    r = aws(proxy, str(tmp_path), user, "cp", "s3://home/notes.txt", "-")
    assert r.returncode == 0, r.stderr
    assert r.stdout.encode() == mine["notes.txt"]
    assert_confined(s3, user)


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_rclone_sees_only_the_subtree(proxy, s3, tmp_path, user):
    rclone = shutil.which("rclone")
    if rclone is None:
        pytest.fail("rclone is not installed: apt-get install -y rclone")
    mine = {k[len(f"users/{user}/"):]: v for k, v in OBJECTS["home"].items()
            if k.startswith(f"users/{user}/") and k != f"users/{user}/"}
    env = client_env(str(tmp_path),
                     RCLONE_CONFIG_PX_TYPE="s3", RCLONE_CONFIG_PX_PROVIDER="Other",
                     RCLONE_CONFIG_PX_ENDPOINT=proxy.url + "/sdk",
                     RCLONE_CONFIG_PX_ENV_AUTH="false",
                     RCLONE_CONFIG_PX_FORCE_PATH_STYLE="true",
                     RCLONE_CONFIG_PX_REGION="us-east-1")
    auth = ["--header", "Authorization: " + basic(user)]
    r = subprocess.run([rclone, "lsf", "-R", "--files-only", *auth, "px:home"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(mine)
    target = tmp_path / "copy"
    r = subprocess.run([rclone, "copy", *auth, "px:home", str(target)],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = {str(p.relative_to(target)): p.read_bytes()
           for p in target.rglob("*") if p.is_file()}
    assert got == mine
    assert_confined(s3, user)


# -- nginx -t ------------------------------------------------------------------

@pytest.mark.parametrize("directives, message", [
    ("s3_proxy_prefix /users/;", "must not begin with \"/\""),
    ("s3_proxy_prefix users;", "must end with \"/\""),
    ("s3_proxy_prefix users/../;", "segment"),
    ("s3_proxy_prefix \"\";", "is empty"),
    ("s3_proxy_bucket $http_x_bucket; s3_proxy_addressing virtual;", "path-style"),
])
def test_nginx_t_refuses_bad_settings(s3, make_nginx, directives, message):
    nginx = make_nginx(s3_environment(s3), start=False, locations=f"""
        location /x/ {{
            s3_proxy on;
            {directives}
            include s3_proxy.conf;
        }}""")
    code, out = nginx.check()
    assert code != 0
    assert message in out and "nginx.conf:" in out, out


def test_each_user_browses_only_their_subtree_in_chromium(proxy, s3, tmp_path):
    """Headless Chromium, with the user's credentials in the URL, renders
    the built-in listing of their own subtree under its CSP."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium")
    for user, other in (("alice", "bob"), ("bob", "alice")):
        host = proxy.url.replace("http://", f"http://{user}:{USERS[user]}@")
        r = subprocess.run(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             f"--user-data-dir={tmp_path / user}", "--no-first-run",
             "--virtual-time-budget=5000", "--dump-dom", host + "/me/"],
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr[-2000:]
        links = set(hrefs(r.stdout))
        assert "/me/notes.txt" in links, r.stdout
        assert all(h.startswith("/me/") for h in links), links
        assert other not in r.stdout and "users/" not in r.stdout
    assert_confined_to_users(s3)


def assert_confined_to_users(s3):
    for bucket, key, query in reached(s3):
        assert bucket == "home"
        assert (key or query.get("prefix", [""])[0]).startswith(
            ("users/alice/", "users/bob/")), (key, query)

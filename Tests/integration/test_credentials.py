"""Credentials that rotate (issue 13): the real nginx and module against
the IMDSv2, container and STS stand-ins (demo/credserver.py), whose sets
the S3 stand-in accepts only while they are valid."""

import http.client
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from credentials import CONTAINER_TOKEN, WEB_IDENTITY_TOKEN, CredServer, rotating_s3
from harness import NGINX_BIN, s3_environment, wait_for_port, wait_until

SOURCES = ["imds", "container", "web-identity"]
COUNTED = {"imds": "imds", "container": "container", "web-identity": "sts"}


def provider_env(s3, cred, source, **extra):
    return s3_environment(s3, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                          AWS_EC2_METADATA_DISABLED=None,
                          **{**cred.env(source), **extra})


def get(nginx, path):
    """A GET as curl sends it (a client without a User-Agent is streamed,
    not redirected)."""
    c = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    try:
        c.request("GET", path, headers={"User-Agent": "curl/7.88.1"})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def follow(url):
    """Fetches a presigned URL from the S3 stand-in: its status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as err:
        return f"{err.code} {err.read()[:200]!r}"


class Load:
    """Requests in a loop until stopped: redirects followed, listings."""

    def __init__(self, nginx):
        self.nginx = nginx
        self.failures = []
        self.count = 0
        self.keys = set()
        self.expires = []     # (X-Amz-Expires, when the URL was made)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)

    def run(self):
        while not self.stop.is_set():
            status, headers, _ = get(self.nginx, "/demo/files/hello.txt")
            if status != 307:
                self.failures.append(f"redirect {status}")
            else:
                url = headers["Location"]
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
                self.keys.add(query["X-Amz-Credential"][0].split("/")[0])
                self.expires.append((int(query["X-Amz-Expires"][0]), time.time()))
                followed = follow(url)
                if followed != 200:
                    self.failures.append(f"followed {followed}")
            status, _, body = get(self.nginx, "/demo/?list-type=2&prefix=files/")
            if status != 200 or b"<ListBucketResult" not in body:
                self.failures.append(f"listing {status} {body[:200]!r}")
            self.count += 1
            time.sleep(0.05)


def no_secret_in(text, cred, debug=False):
    """No secret key or provider token in `text`, and no session token
    unless it is a debug log: nginx's debug logging shows the requests it
    proxies and the headers it answers with (a redirect's presigned URL),
    session tokens included, and the module leaves logging to the
    operator."""
    for secret in cred.secrets(session_tokens=not debug) + [CONTAINER_TOKEN,
                                                           WEB_IDENTITY_TOKEN]:
        assert secret not in text


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


def wait_for_credentials(nginx, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get(nginx, "/demo/files/hello.txt")[0] == 307:
            return
        time.sleep(0.1)
    raise AssertionError("no credentials:\n" + nginx.log_text())


def served(load, n, timeout=15):
    """Waits until `load` has made `n` more rounds of requests."""
    count = load.count
    wait_until(lambda: load.count >= count + n, timeout,
               lambda: f"{n} more rounds of requests, made {load.count - count}")


def reloaded(nginx, workers, load=None):
    """SIGHUP to the master, then waits until its new workers started and
    `load`, if given, made requests since."""
    started = nginx.log_text().count("start worker process")
    nginx.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: nginx.log_text().count("start worker process")
               >= started + workers, 15,
               lambda: "the new workers:\n" + nginx.log_text()[-2000:])
    if load is not None:
        served(load, 5)


@pytest.mark.parametrize("source", SOURCES)
def test_rotation_under_load_fails_nothing(make_nginx, cred, s3, source):
    """Several rotations under continuous load: 0 failed requests, every
    redirect still valid when followed, one fetch per rotation for both
    workers, a notice per change naming the source and the key id."""
    nginx = make_nginx(provider_env(s3, cred, source), workers=2,
                       http_extra="s3_proxy_expires 2s;", log_level="debug")
    wait_for_credentials(nginx)
    start = time.time()
    with Load(nginx) as load:
        # two rotations: sets are fetched 7 s apart
        wait_until(lambda: len(load.keys) >= 3, 40,
                   lambda: f"three keys in use, saw {load.keys}")
    elapsed = time.time() - start
    assert load.failures == [], load.failures[:5]
    assert load.count > 20
    assert len(load.keys) >= 3, load.keys      # several rotations
    # one fetch per rotation for the whole nginx (7 s apart), not per worker
    fetched = cred.state()["counts"][COUNTED[source]]
    assert fetched <= elapsed / 6 + 2, fetched
    log = nginx.log_text()
    for key in load.keys:
        assert re.search(r'\[notice\].*s3 proxy: credentials from "%s": '
                         r'access key id "%s", expiring in \d+ s'
                         % (source, key), log), key
    no_secret_in(log, cred, debug=True)
    assert "[error]" not in log


def test_outage_while_valid_fails_nothing_and_caps_expiry(make_nginx):
    """The provider fails for longer than a refresh period while the
    credentials are still valid: 0 failed requests, one error line for the
    streak, URLs that never outlive the credentials; then it recovers."""
    cred = CredServer(lifetime=24)
    s3 = rotating_s3(cred)
    try:
        nginx = make_nginx(provider_env(s3, cred, "container"),
                           http_extra="s3_proxy_expires 30s;")
        wait_for_credentials(nginx)
        issued = cred.issued()[-1]
        cred.fault("500")
        with Load(nginx) as load:
            # past the refresh due at 12 s: it and a retry failed
            wait_until(lambda: "not refreshed" in nginx.log_text()
                       and cred.state()["faulted"] >= 2, 30,
                       "a failed refresh, its error line and a failed retry")
        assert load.failures == [], load.failures[:5]
        for expires, when in load.expires:
            assert when + expires <= issued["expires"] + 1.5
        assert min(e for e, _ in load.expires) < 30     # capped
        log = nginx.log_text()
        errors = [line for line in log.splitlines() if "[error]" in line]
        assert len(errors) == 1, errors
        assert re.search(r's3 proxy: credentials from "container" not '
                         r'refreshed: HTTP status 500; the current ones stay '
                         r'in use for \d+ s', errors[0])
        cred.fault("none")
        deadline = time.monotonic() + 10
        while len(cred.issued()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        wait_until(lambda: cred.issued()[-1]["access_key"] in get(
                       nginx, "/demo/files/hello.txt")[1].get("Location", ""),
                   10, "the new set in use")
        status, headers, _ = get(nginx, "/demo/files/hello.txt")
        assert status == 307
        assert cred.issued()[-1]["access_key"] in headers["Location"]
        assert follow(headers["Location"]) == 200
        no_secret_in(nginx.log_text(), cred)
    finally:
        s3.stop()
        cred.stop()


@pytest.mark.parametrize("fault,reason", [
    ("badtoken", "the Token holds a character that is not allowed"),
    ("badkeyid", "the AccessKeyId holds a character other than A-Z and 0-9"),
    ("nosecret", "no usable SecretAccessKey"),
    ("expired", "the credentials have expired"),
])
def test_unusable_set_never_replaces_a_good_one(make_nginx, fault, reason):
    """Issue 22: the provider answers a set the signer cannot use after a
    good one: the good one stays in use while valid (0 failed requests,
    nothing signed with the bad one), one error line names the source and
    the reason, the fetch is retried with backoff, and a good set then
    replaces it."""
    cred = CredServer(lifetime=24)
    s3 = rotating_s3(cred)
    try:
        nginx = make_nginx(provider_env(s3, cred, "container"))
        wait_for_credentials(nginx)
        good = cred.issued()[-1]["access_key"]
        cred.fault(fault)
        with Load(nginx) as load:
            # the refresh due at 12 s and a retry got unusable sets
            wait_until(lambda: cred.state()["faulted"] >= 2, 30,
                       "a refresh and a retry answered with unusable sets")
            cred.fault("none")
            wait_until(lambda: len(load.keys) >= 2, 15,
                       lambda: f"a good set after the retries: {load.keys}")
        assert load.failures == [], load.failures[:5]
        assert good in load.keys
        assert load.keys <= {s["access_key"] for s in cred.issued()}
        errors = [line for line in nginx.log_text().splitlines()
                  if "[error]" in line]
        assert len(errors) == 1, errors
        assert re.search(r's3 proxy: credentials from "container" not '
                         r'refreshed: %s; the current ones stay in use for '
                         r'\d+ s' % re.escape(reason), errors[0]), errors
        no_secret_in(nginx.log_text(), cred)
    finally:
        s3.stop()
        cred.stop()


@pytest.mark.parametrize("fault,reason", [
    ("500", "HTTP status 500"),
    ("badjson", "not a JSON object"),
    ("close", "not an HTTP answer|no answer"),
    ("hang", "timed out"),
])
def test_broken_provider_logs_and_answers_503(make_nginx, cred, s3, fault,
                                               reason):
    """Nothing valid: 503 with Retry-After, nothing signed, an error line
    naming the provider and the reason, and no secret at debug level."""
    cred.fault(fault)
    nginx = make_nginx(provider_env(s3, cred, "imds"), log_level="debug")
    s3.clear()
    # a failed fetch, its error line and a failed retry ("hang": each
    # fetch times out after 5 s)
    wait_until(lambda: 'no credentials from "imds"' in nginx.log_text()
               and cred.state()["faulted"] >= 2, 20,
               "a failed fetch, its error line and a failed retry")
    status, headers, body = get(nginx, "/demo/files/hello.txt")
    assert status == 503
    assert headers.get("Retry-After") == "1"
    assert b"X-Amz" not in body
    assert s3.requests() == []
    log = nginx.log_text()
    assert re.search(r'\[error\].*s3 proxy: no credentials from "imds": (%s)'
                     % reason, log), log[-2000:]
    assert re.search(r'\[error\].*s3 proxy: no valid credentials from '
                     r'"imds" yet', log)
    # one line per failure streak, however many retries
    assert len(re.findall(r'no credentials from "imds"', log)) == 1
    cred.fault("none")
    wait_for_credentials(nginx, timeout=12)
    no_secret_in(nginx.log_text(), cred, debug=True)


def test_unreadable_token_file_is_a_provider_failure(make_nginx, cred, s3):
    env = provider_env(s3, cred, "web-identity",
                       AWS_WEB_IDENTITY_TOKEN_FILE="/nonexistent/token")
    nginx = make_nginx(env)
    wait_until(lambda: 'no credentials from "web-identity"' in
               nginx.log_text(), 10, "the failed fetch's error line")
    assert get(nginx, "/demo/files/hello.txt")[0] == 503
    assert re.search(r'no credentials from "web-identity": the token file '
                     r'cannot be opened', nginx.log_text())


def test_container_authorization_is_sent_from_the_file(make_nginx, cred, s3):
    """AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over the variable and is
    read for each fetch."""
    token = pathlib.Path(cred.dir) / "auth"     # workers (nobody) read it
    token.write_text("wrong\n")
    os.chmod(token, 0o644)
    env = provider_env(s3, cred, "container",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token))
    nginx = make_nginx(env)
    wait_until(lambda: 'no credentials from "container"' in nginx.log_text(),
               10, "the failed fetch's error line")
    assert get(nginx, "/demo/files/hello.txt")[0] == 503
    assert "HTTP status 401" in nginx.log_text()
    token.write_text(CONTAINER_TOKEN + "\n")
    wait_for_credentials(nginx, timeout=10)


def test_imds_v1_fallback_only_when_allowed(make_nginx, s3):
    cred = CredServer(lifetime=60, imds_v1_only=True)
    try:
        nginx = make_nginx(provider_env(s3, cred, "imds"))
        wait_for_credentials(nginx)
        assert cred.state()["counts"]["imds"] == 1

        off = make_nginx(provider_env(s3, cred, "imds",
                                      AWS_EC2_METADATA_V1_DISABLED="true"))
        wait_until(lambda: 'no credentials from "imds"' in off.log_text(), 10,
                   "the failed fetch's error line")
        assert get(off, "/demo/files/hello.txt")[0] == 503
        assert 'no credentials from "imds": HTTP status 403' in off.log_text()
    finally:
        cred.stop()


def test_reload_keeps_credentials_and_fetches_nothing_more(make_nginx, s3):
    """A reload under load: no failed request, and the new workers sign
    with the credentials already in the shared zone."""
    cred = CredServer(lifetime=120)
    s3 = rotating_s3(cred)
    try:
        nginx = make_nginx(provider_env(s3, cred, "imds"), workers=2)
        wait_for_credentials(nginx)
        assert cred.state()["counts"]["imds"] == 1
        with Load(nginx) as load:
            for _ in range(3):
                reloaded(nginx, workers=2, load=load)
        assert load.failures == [], load.failures[:5]
        assert cred.state()["counts"]["imds"] == 1
        assert len(load.keys) == 1
    finally:
        s3.stop()
        cred.stop()


def test_binary_upgrade_fetches_anew(make_nginx, s3):
    """USR2 starts a new master with the old one's environment and a zone
    of its own: it fetches once and signs, and the old one leaves."""
    cred = CredServer(lifetime=120)
    s3 = rotating_s3(cred)
    nginx = make_nginx(provider_env(s3, cred, "imds"), start=False)
    pid_file = os.path.join(nginx.prefix, "nginx.pid")
    try:
        # daemonized, as USR2 wants: a master whose parent is still the one
        # that started it ignores the signal
        subprocess.run([NGINX_BIN, "-e", nginx.error_log, "-p", nginx.prefix,
                        "-c", nginx.conf], env=nginx.env, check=True)
        wait_for_port(nginx.port)
        wait_for_credentials(nginx)
        with open(pid_file) as f:
            old_master = int(f.read())
        with Load(nginx) as load:
            os.kill(old_master, signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while not os.path.exists(pid_file + ".oldbin"):
                assert time.monotonic() < deadline, nginx.log_text()
                time.sleep(0.1)
            deadline = time.monotonic() + 10
            while cred.state()["counts"]["imds"] < 2:
                assert time.monotonic() < deadline, nginx.log_text()
                time.sleep(0.1)
            served(load, 10)            # while both masters listen
            os.kill(old_master, signal.SIGQUIT)
            wait_until(lambda: not os.path.exists(pid_file + ".oldbin"), 10,
                       "the old master's exit")
            served(load, 10)            # by the new master's workers alone
        assert load.failures == [], load.failures[:5]
        assert len(load.keys) == 2       # the new master's own fetch
        wait_for_credentials(nginx)
    finally:
        if os.path.exists(pid_file):
            with open(pid_file) as f:
                os.kill(int(f.read()), signal.SIGQUIT)
            deadline = time.monotonic() + 10
            while os.path.exists(pid_file) and time.monotonic() < deadline:
                time.sleep(0.1)
        s3.stop()
        cred.stop()


def issue(cred):
    """A new credential set from the stand-in (its container endpoint)."""
    req = urllib.request.Request(cred.endpoint + "/container/files", headers={
        "Authorization": CONTAINER_TOKEN})
    with urllib.request.urlopen(req) as r:
        import json
        return json.load(r)


def write_profile(home, creds, rename=True):
    """~/.aws/credentials as a rotating agent writes it."""
    path = os.path.join(home, ".aws", "credentials")
    text = ("[default]\n"
            f"aws_access_key_id = {creds['AccessKeyId']}\n"
            f"aws_secret_access_key = {creds['SecretAccessKey']}\n"
            f"aws_session_token = {creds['Token']}\n")
    if rename:
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.chmod(path + ".tmp", 0o644)
        os.replace(path + ".tmp", path)
    else:
        with open(path, "w") as f:
            f.write(text)


def test_shared_credentials_file_rewritten_under_load(make_nginx):
    """A rotating agent rewrites ~/.aws/credentials (renamed into place, or
    written over): the new keys are in use within seconds, with no failed
    request and no signal to nginx; a reload in between fails nothing."""
    cred = CredServer(lifetime=60)
    s3 = rotating_s3(cred)
    home = pathlib.Path(cred.dir) / "home"      # cred.dir: mode 755
    (home / ".aws").mkdir(parents=True)
    for d in (home, home / ".aws"):
        os.chmod(d, 0o755)            # the workers (nobody) read the files
    try:
        first = issue(cred)
        write_profile(str(home), first)
        env = s3_environment(s3, AWS_ACCESS_KEY_ID=None,
                             AWS_SECRET_ACCESS_KEY=None, HOME=str(home))
        nginx = make_nginx(env, workers=2, log_level="debug")
        wait_for_credentials(nginx)
        with Load(nginx) as load:
            profile = os.path.join(home, ".aws", "credentials")
            for rename in (True, False, True):
                # a file written over keeps its inode and size: only its
                # stamp, in whole seconds, tells the new contents
                wait_until(lambda: time.time() >= int(
                               os.stat(profile).st_mtime) + 1.05, 2,
                           "the next second of the file's stamp")
                new = issue(cred)
                write_profile(str(home), new, rename=rename)
                written = time.monotonic()
                while True:
                    status, headers, _ = get(nginx, "/demo/files/hello.txt")
                    if new["AccessKeyId"] in headers.get("Location", ""):
                        break
                    assert time.monotonic() - written < 5, nginx.log_text()
                    time.sleep(0.2)
            reloaded(nginx, workers=2, load=load)
        assert load.failures == [], load.failures[:5]
        assert len(load.keys) == 4, load.keys
        log = nginx.log_text()
        assert re.search(r'\[notice\].*s3 proxy: credentials from '
                         r'"profile=default": access key id "%s"'
                         % new["AccessKeyId"], log)
        no_secret_in(log, cred, debug=True)
        assert "[error]" not in log
    finally:
        s3.stop()
        cred.stop()


def profile_file(path, creds, mode=0o644):
    with open(path, "w") as f:
        f.write("[default]\n"
                f"aws_access_key_id = {creds['AccessKeyId']}\n"
                f"aws_secret_access_key = {creds['SecretAccessKey']}\n"
                f"aws_session_token = {creds['Token']}\n")
    os.chmod(path, mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="workers of another user "
                    "need a master running as root")
def test_rotation_by_unprivileged_workers_without_a_config_file(make_nginx):
    """Issue 22, the common set-up: the master runs as root, its workers
    as nobody; AWS_SHARED_CREDENTIALS_FILE is readable by them, and
    AWS_CONFIG_FILE is unset, so the config file is HOME's, which the
    workers cannot even look into.  A rewritten credentials file is used
    without a reload, with no error; nothing is warned about."""
    cred = CredServer(lifetime=60)
    s3 = rotating_s3(cred)
    home = pathlib.Path(cred.dir) / "root-home"     # as /root: 0700
    home.mkdir()
    os.chmod(home, 0o700)
    path = os.path.join(cred.dir, "credentials")   # cred.dir: 0755
    try:
        profile_file(path, issue(cred))
        env = s3_environment(s3, AWS_ACCESS_KEY_ID=None,
                             AWS_SECRET_ACCESS_KEY=None, HOME=str(home),
                             AWS_SHARED_CREDENTIALS_FILE=path)
        nginx = make_nginx(env, main_extra="user nobody nogroup;",
                           start=False)
        code, out = nginx.check()
        assert code == 0 and "[warn]" not in out, out
        nginx.start()
        wait_for_credentials(nginx)
        for _ in range(2):
            wait_until(lambda: time.time() >= int(
                           os.stat(path).st_mtime) + 1.05, 2,
                       "the next second of the file's stamp")
            new = issue(cred)
            profile_file(path, new)
            wait_until(lambda: new["AccessKeyId"] in get(
                           nginx, "/demo/files/hello.txt")[1].get(
                           "Location", ""), 10,
                       lambda: "the rewritten keys in use:\n"
                       + nginx.log_text()[-2000:])
        log = nginx.log_text()
        assert "[error]" not in log and "[warn]" not in log, log
    finally:
        s3.stop()
        cred.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="workers of another user "
                    "need a master running as root")
def test_files_the_workers_cannot_read_are_warned_about(make_nginx, s3,
                                                         cred):
    """nginx -t and start name each file rotation needs that the workers'
    user cannot read, the user, and what to change; the keys read at
    start still sign."""
    keys = issue(cred)
    secret_dir = pathlib.Path(cred.dir) / "private"   # root's alone
    secret_dir.mkdir()
    os.chmod(secret_dir, 0o700)
    config = str(secret_dir / "config")
    with open(config, "w") as f:        # the keys only in the config file
        f.write("[default]\n"
                f"aws_access_key_id = {keys['AccessKeyId']}\n"
                f"aws_secret_access_key = {keys['SecretAccessKey']}\n"
                f"aws_session_token = {keys['Token']}\n")
    credentials = os.path.join(cred.dir, "credentials")   # root's alone,
    with open(credentials, "w") as f:                     # another profile
        f.write("[other]\naws_access_key_id = AKIDOTHER\n"
                "aws_secret_access_key = other\n")
    os.chmod(credentials, 0o600)
    env = s3_environment(s3, AWS_ACCESS_KEY_ID=None,
                         AWS_SECRET_ACCESS_KEY=None, HOME=cred.dir,
                         AWS_SHARED_CREDENTIALS_FILE=credentials,
                         AWS_CONFIG_FILE=config)
    nginx = make_nginx(env, main_extra="user nobody nogroup;", start=False)
    code, out = nginx.check()
    assert code == 0, out
    for path in (credentials, config):
        assert re.search(r'\[warn\].*s3 proxy: the worker processes\' user '
                         r'"nobody" cannot read "%s", which credentials from '
                         r'"profile=default" are refreshed from: they will '
                         r'not rotate; make the file and its directories '
                         r'readable by "nobody"' % re.escape(path), out), out
    nginx.start()
    wait_for_credentials(nginx)
    assert nginx.log_text().count("cannot read") >= 2


def test_named_provider_without_its_settings_fails_nginx_t(make_nginx, s3,
                                                           cred):
    for source, needs in [
            ("web-identity", "requires AWS_WEB_IDENTITY_TOKEN_FILE and "
                             "AWS_ROLE_ARN"),
            ("container", "requires AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                          "or AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            ("imds", "AWS_EC2_METADATA_DISABLED is true")]:
        nginx = make_nginx(s3_environment(s3), start=False, locations=f"""
            location / {{
                s3_proxy on;
                s3_proxy_credentials {source};
                include s3_proxy.conf;
            }}""")
        code, out = nginx.check()
        assert code != 0 and needs in out, out
    # a full URI over plain http must name a loopback or link-local host
    env = s3_environment(s3, AWS_ACCESS_KEY_ID=None,
                         AWS_SECRET_ACCESS_KEY=None,
                         AWS_CONTAINER_CREDENTIALS_FULL_URI=
                         "http://192.0.2.1/creds")
    code, out = make_nginx(env, start=False).check()
    assert code != 0 and "must be https, or name a loopback" in out, out


def test_cold_start_waits_for_the_first_fetch(make_nginx, cred, s3):
    """Nothing valid yet while the first fetch is under way: a request
    waits for it (at most 3 s) instead of failing, and is answered as soon
    as the fetch is."""
    cred.fault("hold")
    nginx = make_nginx(provider_env(s3, cred, "container"))
    wait_until(lambda: cred.state()["held"] >= 1, 10,
               "the first fetch held at the stand-in")
    started = time.monotonic()
    answer = {}
    client = threading.Thread(
        target=lambda: answer.update(r=get(nginx, "/demo/files/hello.txt")))
    client.start()
    client.join(0.3)
    assert client.is_alive(), "answered before the first fetch was"
    cred.fault("none")
    client.join(5)
    assert not client.is_alive()
    status, headers, _ = answer["r"]
    assert status == 307, nginx.log_text()
    assert follow(headers["Location"]) == 200
    assert time.monotonic() - started < 3
    assert "[error]" not in nginx.log_text()

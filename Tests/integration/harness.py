"""A small harness in the spirit of nginx-tests: the real /usr/sbin/nginx
loading the real module, in front of the real local S3 (demo/s3server.py:
moto behind a strict SigV4 check that records every request it receives).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# S3P_MODULE: another build of the module (make test-nginx-versions).
# S3P_STATIC=1: NGINX_BIN has the module compiled in (make static), so the
# configuration loads none.
STATIC = os.environ.get("S3P_STATIC") == "1"
MODULE = os.environ.get("S3P_MODULE") or os.path.join(
    ROOT, "build", "ngx_http_s3_proxy_module.so")
LOAD_MODULE = "" if STATIC else f"load_module {MODULE};"
SNIPPET = os.path.join(ROOT, "nginx", "s3_proxy.conf")
# s3_proxy.conf and the two files it includes
SNIPPETS = [os.path.join(ROOT, "nginx", name) for name in
            ("s3_proxy.conf", "s3_proxy_pass.conf", "s3_proxy_tls.conf")]
NGINX_BIN = os.environ.get("NGINX_BIN", "/usr/sbin/nginx")
S3SERVER = os.path.join(ROOT, "demo", "s3server.py")

ACCESS_KEY = "AKIDS3PROXYTEST"
SECRET_KEY = "s3-proxy-test-secret/Key+42"
REGION = "us-east-1"

# Lines that must never appear in an error log after a test.
BAD_LOG = re.compile(r"\[(alert|emerg|crit)\]|exited on signal|exited with code [1-9]")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls `predicate` until it returns something true, and returns that;
    after `timeout` seconds raises AssertionError naming `what` (a string,
    or a function returning one, called then: a log's tail, a count).
    The tests wait for what they can observe, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"not within {timeout} s: {detail}")
        time.sleep(interval)


def wait_for_port(port, proc=None, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class S3Server:
    """demo/s3server.py on a free port, seeded with the demo bucket."""

    def __init__(self, session_token=None, seed="demo", access_key=ACCESS_KEY,
                 secret_key=SECRET_KEY, region=REGION, virtual_host=None,
                 extra_args=()):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.endpoint = f"http://{self.host}"
        self.session_token = session_token
        self.dir = tempfile.mkdtemp(prefix="s3p-s3-")
        ready = os.path.join(self.dir, "ready")
        args = [sys.executable, S3SERVER, "--port", str(self.port),
                "--access-key", access_key, "--secret-key", secret_key,
                "--region", region, "--ready-file", ready]
        if virtual_host:
            args += ["--virtual-host", virtual_host]
        if seed:
            args += ["--seed", seed]
        if session_token:
            args += ["--session-token", session_token]
        args += list(extra_args)
        self.log = open(os.path.join(self.dir, "s3server.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not (os.path.exists(ready) and os.path.getsize(ready) > 0):
            if self.proc.poll() is not None:
                raise RuntimeError("s3server exited: " + self.output())
            if time.monotonic() > deadline:
                raise TimeoutError("s3server did not start: " + self.output())
            time.sleep(0.05)

    def output(self):
        with open(os.path.join(self.dir, "s3server.log")) as f:
            return f.read()

    def requests(self, checks=False):
        """What reached S3 since the last clear(), oldest first; without
        `checks`, not the module's own checks of its keys (issue 22: a
        ListObjectsV2 with max-keys=0, User-Agent ngx_http_s3_proxy_module,
        at start, reload and rotation), which no client asked for."""
        with urllib.request.urlopen(self.endpoint + "/__s3server/requests") as r:
            seen = json.load(r)
        return [r for r in seen if checks or not is_key_check(r)]

    def clear(self):
        req = urllib.request.Request(self.endpoint + "/__s3server/requests",
                                     method="DELETE")
        urllib.request.urlopen(req).read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def is_key_check(record):
    """Whether an S3 stand-in's record is the module's check of its keys."""
    return (record["headers"].get("user-agent") == "ngx_http_s3_proxy_module"
            and record["query"] == "list-type=2&max-keys=0")


def s3_environment(s3, **overrides):
    env = {
        "PATH": "/usr/sbin:/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_HOST": s3.host,
        "AWS_ENDPOINT_SCHEME": "http",
        # without keys, the credential chain's last source: none here
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if s3.session_token:
        env["AWS_SESSION_TOKEN"] = s3.session_token
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def own_tls(**changes):
    """An operator's own TLS lines: those of the shipped s3_proxy_tls.conf
    with their changes (proxy_ssl_trusted_certificate="/ca.pem"), for a
    location that includes s3_proxy_pass.conf in place of s3_proxy.conf."""
    lines = []
    with open(SNIPPETS[2]) as f:
        for line in f:
            if line.startswith("proxy_ssl_"):
                name, value = line.split(None, 1)
                value = changes.pop(name, value.strip().rstrip(";"))
                lines.append(f"{name} {value};")
    lines += [f"{name} {value};" for name, value in changes.items()]
    return " ".join(lines)


DEFAULT_LOCATIONS = """
        location / {
            s3_proxy on;
            include s3_proxy.conf;
        }
"""


class Nginx:
    """The packaged nginx with the module, in a private prefix."""

    def __init__(self, env, locations=DEFAULT_LOCATIONS, http_extra="",
                 main_extra="", log_level="info", workers=1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = tempfile.mkdtemp(prefix="s3p-nginx-")
        self.env = env
        self.error_log = os.path.join(self.prefix, "error.log")
        self.access_log = os.path.join(self.prefix, "access.log")
        for snippet in SNIPPETS:
            shutil.copy(snippet, self.prefix)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        envs = "".join(f"env {name};\n" for name in sorted(env) if name.startswith("AWS_"))
        with open(self.conf, "w") as f:
            f.write(f"""
{LOAD_MODULE}
{envs}
worker_processes {workers};
error_log {self.error_log} {log_level};
pid {self.prefix}/nginx.pid;
{main_extra}
events {{ worker_connections 1024; }}
http {{
    access_log {self.access_log};
    client_body_temp_path {self.prefix}/body;
    proxy_temp_path {self.prefix}/proxy;
    fastcgi_temp_path {self.prefix}/fastcgi;
    uwsgi_temp_path {self.prefix}/uwsgi;
    scgi_temp_path {self.prefix}/scgi;
    {http_extra}
    server {{
        listen 127.0.0.1:{self.port};
        {locations}
    }}
}}
""")
        self.proc = None

    def check(self):
        """`nginx -t`: (exit code, output)."""
        r = subprocess.run([NGINX_BIN, "-t", "-e", "stderr", "-p", self.prefix,
                            "-c", self.conf], env=self.env,
                           capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def start(self):
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-e", self.error_log, "-p", self.prefix, "-c", self.conf,
             "-g", "daemon off;"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, self.proc)
        except Exception:
            raise RuntimeError("nginx did not start:\n" + self.log_text())
        return self

    def log_text(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def bad_log_lines(self):
        return [line for line in self.log_text().splitlines() if BAD_LOG.search(line)]

    def stop(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


def client_env(home, **extra):
    """The environment of a client tool (the aws CLI, rclone, a shell
    recipe): no credentials, no metadata service, a dummy region, an empty
    HOME.  Built from scratch: nothing of the test runner's AWS_* (or
    AWS_CA_BUNDLE, which rclone 1.60 cannot use over plain HTTP) leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name in ("PYENV_ROOT", "PYENV_VERSION"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env

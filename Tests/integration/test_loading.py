"""The module loads and serves where no Swift toolchain exists: no
libswift* dependency, and a real nginx whose mount namespace hides
/opt/swift under an empty tmpfs configures, serves and reloads."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

from harness import MODULE, NGINX_BIN, ROOT, STATIC, Nginx, s3_environment, wait_for_port
from s3server import DEMO_OBJECTS

SWIFT = "/opt/swift"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"

# Alerts and crashes; unlike harness.BAD_LOG this lets through the
# "worker process N exited with code 0" that every reload logs.
CRASH_LOG = re.compile(r"\[(alert|emerg|crit)\]|exited on signal|exited with code [1-9]")


def hidden_toolchain(command):
    """argv running shell `command` in a private mount namespace where
    /opt/swift is an empty tmpfs."""
    return [UNSHARE, "--mount", "--propagation", "private", "sh", "-c",
            f"mount -t tmpfs none {SWIFT} && exec {command}"]


def toolchain_env(env):
    """The nginx environment: PATH without the toolchain, no LD_LIBRARY_PATH."""
    env = dict(env)
    env["PATH"] = "/usr/sbin:/usr/bin:/bin"
    env.pop("LD_LIBRARY_PATH", None)
    assert SWIFT not in env["PATH"]
    return env


def nginx_args(nginx, *extra):
    return " ".join([NGINX_BIN, "-e", nginx.error_log, "-p", nginx.prefix,
                     "-c", nginx.conf, *extra])


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="a private mount namespace needs root")


@pytest.fixture
def hidden_nginx(s3):
    """An nginx (2 workers) started with the toolchain hidden; stopped and
    cleaned up afterwards.  Its error log is checked by the tests."""
    made = []

    def start():
        nginx = Nginx(toolchain_env(s3_environment(s3)), workers=2)
        made.append(nginx)
        listing = os.path.join(nginx.prefix, "opt-swift.txt")
        run = nginx_args(nginx, "-g", '"daemon off;"')
        nginx.proc = subprocess.Popen(
            hidden_toolchain(f"sh -c 'ls -A {SWIFT} > {listing}; exec {run}'"),
            env=nginx.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(nginx.port, nginx.proc)
        except Exception:
            raise RuntimeError("nginx did not start:\n" + nginx.log_text())
        with open(listing) as f:
            nginx.swift_listing = f.read()
        return nginx

    yield start
    for nginx in made:
        nginx.cleanup()


def crash_lines(nginx):
    return [line for line in nginx.log_text().splitlines() if CRASH_LOG.search(line)]


def worker_pids(master):
    with open(f"/proc/{master}/task/{master}/children") as f:
        return set(f.read().split())


# --------------------------------------------------------------------------
# (a) no Swift runtime dependency
# --------------------------------------------------------------------------

def test_module_links_no_swift_library_and_everything_resolves():
    r = subprocess.run(["ldd", MODULE], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "libswift" not in r.stdout, r.stdout
    assert SWIFT not in r.stdout, r.stdout
    assert "not found" not in r.stdout, r.stdout


def test_module_has_no_runpath_into_the_toolchain():
    r = subprocess.run(["readelf", "-d", MODULE], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("readelf is not available")
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", r.stdout)
    assert needed and not [n for n in needed if "swift" in n.lower()], needed
    for line in r.stdout.splitlines():
        if "RPATH" in line or "RUNPATH" in line:
            assert SWIFT not in line and "swift" not in line.lower(), line


# --------------------------------------------------------------------------
# (b) configure and serve with the toolchain hidden
# --------------------------------------------------------------------------

@needs_root
def test_hidden_toolchain_namespace_really_hides_opt_swift():
    assert os.listdir(SWIFT), "the toolchain is expected at /opt/swift here"
    r = subprocess.run(hidden_toolchain(f"ls -A {SWIFT}"), capture_output=True,
                       text=True, env=toolchain_env({}))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    # and only inside: ours is untouched
    assert os.listdir(SWIFT)


@needs_root
def test_nginx_t_passes_with_toolchain_hidden(s3):
    nginx = Nginx(toolchain_env(s3_environment(s3)))
    try:
        r = subprocess.run(
            hidden_toolchain(f"sh -c 'test -z \"$(ls -A {SWIFT})\" && "
                             f"exec {nginx_args(nginx, '-t')}'"),
            env=nginx.env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "test is successful" in r.stderr, r.stderr
    finally:
        nginx.cleanup()


@needs_root
def test_nginx_serves_redirect_and_proxied_page_with_toolchain_hidden(
        s3, hidden_nginx):
    nginx = hidden_nginx()
    assert nginx.swift_listing == ""
    master = nginx.proc.pid
    # nginx runs in another mount namespace than ours
    assert os.readlink(f"/proc/{master}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    with open(f"/proc/{master}/maps") as f:
        maps = f.read()
    assert MODULE in maps or os.path.realpath(MODULE) in maps
    assert "libswift" not in maps and SWIFT not in maps

    r = requests.get(nginx.url + "/demo/files/hello.txt", allow_redirects=False,
                     timeout=10)
    assert r.status_code == 307
    body = requests.get(r.headers["Location"], timeout=10)
    assert body.status_code == 200
    assert body.content == DEMO_OBJECTS["files/hello.txt"]

    s3.clear()
    page = requests.get(nginx.url + "/demo/docs/", timeout=10)
    assert page.status_code == 200
    assert page.content == DEMO_OBJECTS["docs/index.html"]
    assert [x["verified"] for x in s3.requests()] == [True]

    listing = requests.get(nginx.url + "/demo?list-type=2&prefix=docs/", timeout=10)
    assert listing.status_code == 200 and "<Key>docs/guide.txt</Key>" in listing.text

    for pid in worker_pids(master):
        with open(f"/proc/{pid}/maps") as f:
            assert "libswift" not in f.read()
    assert crash_lines(nginx) == []


# --------------------------------------------------------------------------
# (c) reloads while requests flow
# --------------------------------------------------------------------------

@needs_root
def test_five_reloads_while_requests_flow_fail_no_request(s3, hidden_nginx):
    nginx = hidden_nginx()
    master = nginx.proc.pid
    stop = threading.Event()
    outcomes = {"ok": 0, "reset": 0, "wrong": []}

    checks = [
        ("/demo/files/data.bin", lambda r: r.status_code == 307
         and r.headers["Location"].startswith(s3.endpoint + "/demo/files/data.bin?")),
        ("/demo/docs/", lambda r: r.status_code == 200
         and r.content == DEMO_OBJECTS["docs/index.html"]),
        ("/demo?list-type=2&prefix=docs/", lambda r: r.status_code == 200
         and "<Key>docs/guide.txt</Key>" in r.text),
        ("/demo/files/hello.txt?acl", lambda r: r.status_code == 403),
    ]

    def traffic():
        i = 0
        while not stop.is_set():
            path, ok = checks[i % len(checks)]
            i += 1
            try:
                # a new connection each time, as separate clients would
                r = requests.get(nginx.url + path, allow_redirects=False,
                                 timeout=10, headers={"Connection": "close"})
            except requests.ConnectionError:
                outcomes["reset"] += 1
                continue
            except Exception as exc:  # timeouts and the like are failures
                outcomes["wrong"].append((path, repr(exc)))
                continue
            if ok(r):
                outcomes["ok"] += 1
            else:
                outcomes["wrong"].append((path, r.status_code, r.text[:200]))

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        time.sleep(0.3)
        for n in range(1, 6):
            old = worker_pids(master)
            before = outcomes["ok"]
            r = subprocess.run(hidden_toolchain(nginx_args(nginx, "-s", "reload")),
                               env=nginx.env, capture_output=True, text=True,
                               timeout=30)
            assert r.returncode == 0, r.stdout + r.stderr
            # wait until the new workers replaced the old ones
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                now = worker_pids(master)
                if len(now) == 2 and not (now & old):
                    break
                time.sleep(0.05)
            else:
                pytest.fail(f"reload {n}: workers not replaced\n" + nginx.log_text()[-3000:])
            # requests keep succeeding against the new workers
            deadline = time.monotonic() + 5
            while outcomes["ok"] < before + 8 and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        stop.set()
        thread.join(30)

    print("reload traffic:", outcomes["ok"], "ok,", outcomes["reset"], "reset")
    assert outcomes["wrong"] == [], outcomes["wrong"][:5]
    assert outcomes["ok"] >= 40, outcomes
    log = nginx.log_text()
    assert log.count("reconfiguring") >= 5
    assert crash_lines(nginx) == []
    assert nginx.proc.poll() is None  # the master lives on
    nginx.proc.send_signal(signal.SIGQUIT)
    assert nginx.proc.wait(15) == 0
    nginx.proc = None
    assert crash_lines(nginx) == []


def test_make_install_installs_the_stripped_module(tmp_path, s3):
    """scripts/install.sh (make install): the module without its debugging
    information, which nginx loads, and the snippet's three files."""
    if STATIC:
        pytest.skip("the module is compiled into NGINX_BIN")
    env = dict(os.environ, DESTDIR=str(tmp_path), MODULE=MODULE)
    r = subprocess.run([os.path.join(ROOT, "scripts", "install.sh")], env=env,
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    so = tmp_path / "usr/lib/nginx/modules/ngx_http_s3_proxy_module.so"
    sections = subprocess.run(["readelf", "-S", str(so)], capture_output=True,
                              text=True).stdout
    assert ".symtab" not in sections and ".debug_info" not in sections
    assert so.stat().st_size < os.path.getsize(MODULE) / 2
    for name in ("s3_proxy.conf", "s3_proxy_pass.conf", "s3_proxy_tls.conf"):
        assert (tmp_path / "etc/nginx" / name).read_bytes() == \
            open(os.path.join(ROOT, "nginx", name), "rb").read()
    nginx = Nginx(s3_environment(s3))
    with open(nginx.conf) as f:
        conf = f.read()
    with open(nginx.conf, "w") as f:
        f.write(conf.replace(f"load_module {MODULE};", f"load_module {so};"))
    try:
        code, output = nginx.check()
        assert code == 0, output
    finally:
        nginx.cleanup()

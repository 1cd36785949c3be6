"""The Debian package, installed and removed for real on this machine.

`make deb` builds build/libnginx-mod-http-s3-proxy_<version>_<arch>.deb
(debian/, scripts/deb.sh); these tests `dpkg -i` it, check its files,
dependencies and the enabled module, run the stock /usr/sbin/nginx with the
stock /etc/nginx/nginx.conf and one extra site in conf.d using the module in
front of the local S3, then `dpkg -r` and `dpkg -P` it and check that the
stock nginx still passes `nginx -t`.

They change the system (/usr/lib/nginx/modules, /etc/nginx, /var/lib/dpkg),
so they run only as root and only when asked: S3P_PACKAGE_TEST=1, or CI=true
on a throwaway CI machine.  Everything put into /etc/nginx is removed again,
also on failure.  The packaged nginx service is never started; the stock
configuration's default site listens on port 80 while the test's nginx runs,
and nothing is left listening there afterwards.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from harness import ROOT, free_port, s3_environment, wait_for_port
from s3server import DEMO_OBJECTS

ENABLED = (os.environ.get("S3P_PACKAGE_TEST") == "1"
           or os.environ.get("CI", "").lower() == "true")

pytestmark = [
    pytest.mark.skipif(not ENABLED, reason="installs and removes the .deb on this "
                       "machine: set S3P_PACKAGE_TEST=1 (CI=true does too)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="dpkg -i needs root"),
    pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian system"),
]

PACKAGE = "libnginx-mod-http-s3-proxy"
NGINX = "/usr/sbin/nginx"
STOCK_CONF = "/etc/nginx/nginx.conf"
SO = "/usr/lib/nginx/modules/ngx_http_s3_proxy_module.so"
AVAILABLE = "/usr/share/nginx/modules-available/mod-http-s3-proxy.conf"
ENABLED_LINK = "/etc/nginx/modules-enabled/50-mod-http-s3-proxy.conf"
SNIPPET = "/etc/nginx/s3_proxy.conf"
SITE = "/etc/nginx/conf.d/s3p-test.conf"
PIDFILE = "/run/nginx.pid"       # the stock nginx.conf's
BUILD = os.path.join(ROOT, "build")

# What the package is built from: a .deb older than any of these is rebuilt.
DEB_INPUTS = ["Package.swift", "Sources", "CShim", "nginx", "debian",
              "scripts/deb.sh", "scripts/check-module.sh"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def run(*args, check=True, env=None):
    r = subprocess.run(list(args), capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}):\n"
                             f"{r.stdout}{r.stderr}")
    return r


def dpkg(*args, check=False, wait=120):
    """dpkg, waiting while another dpkg or apt holds its lock."""
    deadline = time.monotonic() + wait
    while True:
        r = run("dpkg", *args, check=False)
        locked = r.returncode != 0 and "lock" in r.stderr and "locked" in r.stderr
        if not locked or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if check and r.returncode != 0:
        raise AssertionError(f"dpkg {' '.join(args)} failed ({r.returncode}):\n"
                             f"{r.stdout}{r.stderr}")
    return r


def newest_input_mtime():
    newest = 0.0
    for name in DEB_INPUTS:
        path = os.path.join(ROOT, name)
        if os.path.isfile(path):
            newest = max(newest, os.path.getmtime(path))
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if d not in (".build", "__pycache__")]
            for f in filenames:
                newest = max(newest, os.path.getmtime(os.path.join(dirpath, f)))
    return newest


def find_deb():
    debs = [d for d in glob.glob(os.path.join(BUILD, f"{PACKAGE}_*.deb"))
            if "-dbgsym_" not in d]
    return max(debs, key=os.path.getmtime) if debs else None


def package_status():
    """dpkg's status of the package ('' when dpkg knows nothing of it)."""
    r = run("dpkg-query", "-W", "-f=${Status}", PACKAGE, check=False)
    status = r.stdout.strip() if r.returncode == 0 else ""
    return "" if status.endswith("not-installed") else status


def listening(port):
    for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            with socket.socket(family) as s:
                s.settimeout(0.5)
                if s.connect_ex((addr, port)) == 0:
                    return True
        except OSError:
            pass
    return False


def children(pid):
    """Direct children of pid (nginx workers of a master)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def stop_nginx(proc):
    """Graceful stop of a foreground master; kills it and its workers if
    it does not go."""
    if proc is None or proc.poll() is not None:
        return
    workers = children(proc.pid)
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        workers = children(proc.pid) or workers
        proc.kill()
        proc.wait()
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stock_pid_alive():
    """Whether the stock configuration's pid file names a live process."""
    try:
        with open(PIDFILE) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def stock_nginx_t(env=None):
    return run(NGINX, "-t", "-q", "-c", STOCK_CONF,
               env=env or {"PATH": "/usr/sbin:/usr/bin:/bin"}, check=False)


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deb():
    """The package: build/<package>_<version>_<arch>.deb, rebuilt by
    scripts/deb.sh unless newer than everything it is built from."""
    path = find_deb()
    if path is None or os.path.getmtime(path) < newest_input_mtime():
        r = run(os.path.join(ROOT, "scripts", "deb.sh"), check=False)
        assert r.returncode == 0, "scripts/deb.sh failed:\n" + r.stdout + r.stderr
        path = find_deb()
    assert path, "scripts/deb.sh built no .deb"
    return path


@pytest.fixture(scope="module")
def system_state():
    """Refuses to run over an existing installation or a running nginx;
    afterwards purges the package and removes what the tests put into
    /etc/nginx, whatever happened."""
    if package_status():
        pytest.skip(f"{PACKAGE} is already known to dpkg ({package_status()}); "
                    f"this test would remove it: dpkg -P {PACKAGE} first")
    # Even `nginx -t` creates the stock configuration's (empty) pid file and
    # creates and chowns its temporary directories: note how they were.
    pidfile_existed = os.path.exists(PIDFILE)
    lib = "/var/lib/nginx"
    lib_before = {}
    if os.path.isdir(lib):
        for name in os.listdir(lib):
            st = os.stat(os.path.join(lib, name))
            lib_before[name] = (st.st_uid, st.st_gid, st.st_mode & 0o7777)
    state = {"proc": None}
    r = stock_nginx_t()
    if r.returncode != 0:
        pytest.skip("the stock nginx configuration fails nginx -t before the "
                    "test:\n" + r.stdout + r.stderr)
    yield state
    stop_nginx(state["proc"])
    for path in (SITE,):
        if os.path.lexists(path):
            os.unlink(path)
    if package_status():
        dpkg("-P", PACKAGE)
    for path in (ENABLED_LINK, ENABLED_LINK + ".removed"):
        if os.path.islink(path):
            os.unlink(path)
    if not pidfile_existed and os.path.exists(PIDFILE) and not stock_pid_alive():
        os.unlink(PIDFILE)
    # Put the stock nginx's temporary directories back as they were.
    if os.path.isdir(lib):
        for name in os.listdir(lib):
            path = os.path.join(lib, name)
            if name not in lib_before:
                shutil.rmtree(path, ignore_errors=True)
            else:
                uid, gid, mode = lib_before[name]
                os.chown(path, uid, gid)
                os.chmod(path, mode)


@pytest.fixture(scope="module")
def installed(deb, system_state):
    r = dpkg("-i", deb)
    assert r.returncode == 0, "dpkg -i failed:\n" + r.stdout + r.stderr
    assert package_status() == "install ok installed"
    return system_state


# ---------------------------------------------------------------------------
# tests, in order: installed files, metadata, binary, serving, removal
# ---------------------------------------------------------------------------

def test_deb_is_named_for_the_version_and_arch(deb):
    fields = run("dpkg-deb", "-f", deb, "Package", "Version", "Architecture").stdout
    info = dict(line.split(": ", 1) for line in fields.splitlines())
    arch = run("dpkg", "--print-architecture").stdout.strip()
    assert info["Package"] == PACKAGE
    assert info["Architecture"] == arch
    assert os.path.basename(deb) == f"{PACKAGE}_{info['Version']}_{arch}.deb"
    assert os.path.dirname(deb) == BUILD


def test_files_and_enabled_module(installed):
    assert os.path.isfile(SO)
    with open(AVAILABLE) as f:
        assert f.read() == "load_module modules/ngx_http_s3_proxy_module.so;\n"
    assert os.path.islink(ENABLED_LINK)
    assert os.readlink(ENABLED_LINK) == AVAILABLE
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", PACKAGE).stdout
    listed = run("dpkg", "-L", PACKAGE).stdout.split()
    for name in ("s3_proxy.conf", "s3_proxy_pass.conf", "s3_proxy_tls.conf"):
        path = os.path.join("/etc/nginx", name)
        with open(path) as f, open(os.path.join(ROOT, "nginx", name)) as g:
            assert f.read() == g.read()
        assert path in conffiles.split() and path in listed
    for path in (SO, AVAILABLE):
        assert path in listed


def test_stock_nginx_loads_the_module_without_settings(installed):
    # Loaded through modules-enabled by the stock nginx.conf, unused: no
    # AWS_* environment is needed, so installing the package cannot break a
    # running nginx's next reload.
    r = stock_nginx_t()
    assert r.returncode == 0, r.stdout + r.stderr
    dump = run(NGINX, "-T", "-c", STOCK_CONF,
               env={"PATH": "/usr/sbin:/usr/bin:/bin"}).stdout
    assert "load_module modules/ngx_http_s3_proxy_module.so;" in dump


def test_depends(installed):
    depends = run("dpkg-query", "-W", "-f=${Depends}", PACKAGE).stdout
    names = [d.strip().split()[0] for d in depends.replace("|", ",").split(",")]
    abi = "nginx-abi-1.22.1-7"
    substvars = "/usr/share/nginx/src/debian/libnginx-mod.abisubstvars"
    if os.path.exists(substvars):
        with open(substvars) as f:
            abi = [line.split("=", 1)[1].strip() for line in f
                   if line.startswith("nginx:abi=")][0]
    assert abi == "nginx-abi-1.22.1-7"
    assert abi in names, depends
    assert "libc6" in names, depends
    assert "libssl3" in names, depends          # libcrypto.so.3
    assert not [n for n in names if "swift" in n.lower()], depends
    # Embedded Swift: no C++ or unwinder runtime either
    assert "libstdc++6" not in names and "libgcc-s1" not in names, depends
    # the installed nginx is what provides that ABI
    provides = run("dpkg-query", "-W", "-f=${Provides}", "nginx").stdout
    assert abi in provides


def test_installed_module_binary(installed):
    ldd = run("ldd", SO).stdout
    assert "not found" not in ldd, ldd
    assert "swift" not in ldd.lower(), ldd
    assert "libcrypto.so.3" in ldd, ldd
    # dh_strip: no debug information left in the installed module
    sections = run("readelf", "-S", "-W", SO).stdout
    assert ".debug_info" not in sections
    assert ".gnu_debuglink" in sections      # it lives in the -dbgsym package
    mode = os.stat(SO).st_mode & 0o777
    assert mode == 0o644


def test_stock_nginx_serves_through_the_module(installed, s3):
    if stock_pid_alive():
        pytest.skip(f"an nginx with the stock configuration runs ({PIDFILE}); "
                    "this test starts its own")
    if listening(80):
        pytest.skip("something listens on port 80; the stock nginx.conf's "
                    "default site needs it")
    logs = tempfile.mkdtemp(prefix="s3p-pkg-")
    port = free_port()
    with open(SITE, "w") as f:
        f.write(f"""# written by Tests/integration/test_package.py; removed after it
server {{
    listen 127.0.0.1:{port};
    access_log {logs}/access.log;
    error_log {logs}/error.log info;
    location / {{
        s3_proxy on;
        include s3_proxy.conf;
    }}
}}
""")
    env = s3_environment(s3)
    stock_error_log = "/var/log/nginx/error.log"
    offset = os.path.getsize(stock_error_log) if os.path.exists(stock_error_log) else 0
    try:
        r = run(NGINX, "-t", "-c", STOCK_CONF, env=env, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        # Without the environment the credentials would come from the
        # instance metadata service, and the default endpoint,
        # s3.us-east-1.amazonaws.com, is a name: the site's `s3_proxy on`
        # fails the test, asking for a resolver.
        r = stock_nginx_t()
        assert r.returncode != 0 and '"s3_proxy"' in r.stderr, r.stderr
        assert 'add a "resolver"' in r.stderr, r.stderr

        # The stock configuration, in the foreground so that this test owns
        # the master; the AWS_* environment reaches the master, which reads
        # it at configuration time.
        installed["proc"] = subprocess.Popen(
            [NGINX, "-c", STOCK_CONF, "-e", f"{logs}/startup.log",
             "-g", "daemon off;"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, installed["proc"], timeout=15)
        base = f"http://127.0.0.1:{port}"

        r = requests.get(base + "/demo/files/hello.txt", allow_redirects=False,
                         timeout=10)
        assert r.status_code == 307
        assert r.headers["Location"].startswith(s3.endpoint + "/demo/files/hello.txt?")
        r = requests.get(base + "/demo/files/hello.txt", timeout=10)   # followed
        assert r.status_code == 200
        assert r.content == DEMO_OBJECTS["files/hello.txt"]
        assert r.history and r.history[0].status_code == 307

        r = requests.get(base + "/demo/docs/", allow_redirects=False, timeout=10)
        assert r.status_code == 200
        assert r.content == DEMO_OBJECTS["docs/index.html"]

        r = requests.post(base + "/demo/files/hello.txt", data=b"x", timeout=10)
        assert r.status_code == 405

        # workers run as the stock configuration's user
        workers = children(installed["proc"].pid)
        assert workers
        for pid in workers:
            with open(f"/proc/{pid}/status") as f:
                uid = [line.split()[1] for line in f if line.startswith("Uid:")][0]
            assert int(uid) == 33, "worker not running as www-data"

        # A reload (what the packaged service's `reload` and dpkg's
        # nginx-reload trigger do) re-reads the configuration, and with it
        # the AWS_* settings, from the master's environment: the stock
        # nginx.conf needs no `env` lines.
        installed["proc"].send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = children(installed["proc"].pid)
            if now and not set(now) & set(workers):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("no new workers after the reload")
        r = requests.get(base + "/demo/docs/", allow_redirects=False, timeout=10)
        assert r.status_code == 200
        r = requests.get(base + "/demo/files/hello.txt", timeout=10)
        assert r.content == DEMO_OBJECTS["files/hello.txt"]
    finally:
        stop_nginx(installed["proc"])
        installed["proc"] = None
        if os.path.lexists(SITE):
            os.unlink(SITE)
        site_log = ""
        if os.path.exists(f"{logs}/error.log"):
            with open(f"{logs}/error.log", errors="replace") as f:
                site_log = f.read()
        stock_log = ""
        if os.path.exists(stock_error_log):
            with open(stock_error_log, errors="replace") as f:
                f.seek(offset)
                stock_log = f.read()
        shutil.rmtree(logs, ignore_errors=True)

    assert not listening(80), "something still listens on port 80"
    assert not listening(port)
    assert not stock_pid_alive()
    for text in (site_log, stock_log):
        bad = [line for line in text.splitlines()
               if "[alert]" in line or "[emerg]" in line or "[crit]" in line
               or "exited on signal" in line]
        assert not bad, "\n".join(bad)
        assert "s3-proxy-test-secret" not in text


def test_remove_then_purge(installed):
    assert not os.path.exists(SITE)
    r = dpkg("-r", PACKAGE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert package_status() == "deinstall ok config-files"
    assert not os.path.exists(SO)
    assert not os.path.exists(AVAILABLE)
    # dh_nginx's prerm parks the link as <link>.removed (so that a reinstall
    # re-enables it); nginx's `include modules-enabled/*.conf` skips it.
    assert not os.path.lexists(ENABLED_LINK)
    assert os.path.exists(SNIPPET), "dpkg -r keeps conffiles"
    r = stock_nginx_t()
    assert r.returncode == 0, "stock nginx -t after dpkg -r:\n" + r.stdout + r.stderr

    r = dpkg("-P", PACKAGE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert package_status() == ""
    assert not os.path.exists(SNIPPET), "dpkg -P removes the conffile"
    assert not os.path.lexists(ENABLED_LINK)
    assert not os.path.lexists(ENABLED_LINK + ".removed")
    r = stock_nginx_t()
    assert r.returncode == 0, "stock nginx -t after dpkg -P:\n" + r.stdout + r.stderr
    assert not listening(80)

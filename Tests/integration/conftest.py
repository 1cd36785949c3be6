import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "demo"))

from harness import MODULE, STATIC, Nginx, S3Server, s3_environment  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def built_module():
    if STATIC:
        return None     # compiled into NGINX_BIN
    assert os.path.exists(MODULE), "run `make` first: the module is not built"
    return MODULE


@pytest.fixture(scope="session")
def s3():
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def proxy(s3):
    """nginx with the module in `location /`, pointed at the local S3."""
    nginx = Nginx(s3_environment(s3)).start()
    yield nginx
    bad = nginx.bad_log_lines()
    nginx.cleanup()
    assert not bad, "error log:\n" + "\n".join(bad)


@pytest.fixture
def make_nginx():
    """Starts extra nginx instances for one test; stops and checks them."""
    started = []

    def make(env, start=True, **kwargs):
        nginx = Nginx(env, **kwargs)
        started.append(nginx)
        return nginx.start() if start else nginx

    yield make
    for nginx in started:
        bad = nginx.bad_log_lines()
        nginx.cleanup()
        assert not bad, "error log:\n" + "\n".join(bad)


@pytest.fixture(autouse=True)
def error_log_stays_clean(request):
    """Every test that used the shared proxy leaves no alert or crash in it."""
    yield
    if "proxy" in request.fixturenames:
        nginx = request.getfixturevalue("proxy")
        bad = nginx.bad_log_lines()
        assert not bad, "error log:\n" + "\n".join(bad)

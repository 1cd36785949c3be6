import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "demo"))

from harness import MODULE, STATIC, Nginx, S3Server, s3_environment  # noqa: E402

# The tests `make check` leaves to `make test` (pytest -m 'not slow'): those
# that let real time pass (credentials that expire and rotate, a provider
# that times out, a cache entry's validity), that load nginx through many
# reloads, or that spend most of a core in clients (the aws CLI run per key
# or over 1,100 keys, Chromium).  Whole files by name, single tests as
# file::name (every parameter of it).
SLOW_FILES = {
    "test_credentials.py",
    "test_credentials_https.py",
    "test_credential_standins.py",
    "test_operations.py",
}
SLOW_TESTS = {
    "test_cache.py::test_expired_entries_are_refetched_and_stale_ones_serve_when_s3_fails",
    "test_cache_safety.py::test_the_key_names_the_profile_and_outlives_its_rotation",
    "test_streaming_clients.py::test_aws_s3_cp_to_stdout_streams_the_object_byte_for_byte",
    "test_streaming_clients.py::test_aws_s3_sync_downloads_every_key_and_a_second_sync_is_a_no_op",
    "test_clients.py::test_aws_cli_list_objects_v2_paginates_all_1100_keys",
    "test_clients.py::test_aws_cli_list_objects_v1_paginates_all_1100_keys",
    "test_mounts.py::test_boto3_and_aws_cli_pointed_at_the_mount",
    "test_browsing.py::test_uploaded_listing_page_renders_in_chromium",
    "test_browsing.py::test_builtin_listing_in_chromium",
    "test_listing_links.py::test_no_listing_link_leaves_the_site_in_chromium",
    "test_website.py::test_every_link_of_every_page_works_in_chromium",
    "test_website.py::test_chromium_saves_a_download_under_its_name",
    "test_website.py::test_aws_cli_gets_s3_semantics",
    "test_per_request.py::test_aws_cli_ls_sync_cp_see_only_the_subtree",
    "test_per_request.py::test_each_user_browses_only_their_subtree_in_chromium",
    "test_status.py::test_credential_sources_rotation_failure_and_expiry",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: lets real time pass or runs heavy clients; run by "
        "make test, not make check")


def pytest_collection_modifyitems(config, items):
    """Marks the slow tests, and runs them last: with pytest-xdist's
    worksteal (make test), idle processes take them from the end of the
    queue, so that they run side by side rather than one after another."""
    slow = []
    for item in items:
        file = os.path.basename(item.path)
        name = item.originalname or item.name
        if file in SLOW_FILES or f"{file}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
            slow.append(item)
    if slow:
        marked = set(slow)
        items[:] = [item for item in items if item not in marked] + slow


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

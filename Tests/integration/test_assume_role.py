"""Roles assumed per location (issue 25): `s3_proxy_credentials SOURCE
role=ARN ...` and a profile's role_arn, against an STS stand-in
(demo/credserver.py) that answers AssumeRole only when it is SigV4-signed
by the source's keys and names the external id, and issues short-lived
role credentials, which the S3 stand-in alone accepts."""

import os
import pathlib
import re

import pytest

from credentials import CredServer, rotating_s3
from harness import s3_environment, wait_until
from test_credentials import Load, get, no_secret_in, wait_for_credentials

ROLE = "arn:aws:iam::123456789012:role/team/s3-reader"
BASE_ID = "AKIDS3PBASE"
BASE_SECRET = "s3p-base/secret+key"


@pytest.fixture
def cred():
    server = CredServer(lifetime=12, base_keys=[f"{BASE_ID}:{BASE_SECRET}"],
                        external_id="ext-42")
    yield server
    server.stop()


@pytest.fixture
def s3(cred):
    server = rotating_s3(cred)
    yield server
    server.stop()


def role_env(s3, cred, **extra):
    """The base keys in the environment (which S3 refuses), STS at the
    stand-in."""
    return s3_environment(s3, **{"AWS_ACCESS_KEY_ID": BASE_ID,
                                 "AWS_SECRET_ACCESS_KEY": BASE_SECRET,
                                 "AWS_ENDPOINT_URL_STS": cred.endpoint,
                                 **extra})


def location(credentials):
    return f"""
        location / {{
            s3_proxy on;
            s3_proxy_credentials {credentials};
            include s3_proxy.conf;
        }}"""


def home_with(cred, config, credentials=""):
    home = pathlib.Path(cred.dir) / "home"
    (home / ".aws").mkdir(parents=True)
    for d in (home, home / ".aws"):
        os.chmod(d, 0o755)
    (home / ".aws" / "config").write_text(config)
    (home / ".aws" / "credentials").write_text(credentials)
    for f in ("config", "credentials"):
        os.chmod(home / ".aws" / f, 0o644)
    return str(home)


@pytest.mark.parametrize("base", ["env", "imds", "profile"])
def test_role_credentials_rotate_under_load(make_nginx, cred, s3, base):
    """The source's keys (the environment's, IMDS's, or a profile's
    source_profile) assume the role with a signed AssumeRole naming the
    external id; the role's short-lived keys sign every request and
    rotate under load with no failed request."""
    if base == "env":
        env = role_env(s3, cred)
        credentials = (f"env role={ROLE} external_id=ext-42 "
                       "session_name=s3p-test duration=15m")
        name = f"env role={ROLE}"
    elif base == "imds":
        env = role_env(s3, cred, AWS_ACCESS_KEY_ID=None,
                       AWS_SECRET_ACCESS_KEY=None,
                       AWS_EC2_METADATA_DISABLED=None,
                       **cred.env("imds"))
        credentials = f"imds role={ROLE} external_id=ext-42"
        name = f"imds role={ROLE}"
    else:
        home = home_with(cred, f"""[profile reader]
role_arn = {ROLE}
source_profile = base
external_id = ext-42
role_session_name = s3p-profile
duration_seconds = 900
""", f"""[base]
aws_access_key_id = {BASE_ID}
aws_secret_access_key = {BASE_SECRET}
""")
        env = role_env(s3, cred, AWS_ACCESS_KEY_ID=None,
                       AWS_SECRET_ACCESS_KEY=None, HOME=home)
        credentials = "profile=reader"
        name = f"profile=reader role={ROLE}"
    nginx = make_nginx(env, workers=2, locations=location(credentials),
                       http_extra="s3_proxy_expires 2s;")
    wait_for_credentials(nginx)
    with Load(nginx) as load:
        wait_until(lambda: len(load.keys) >= 3, 40,
                   lambda: f"three role keys in use, saw {load.keys}")
    assert load.failures == [], load.failures[:5]
    assert BASE_ID not in load.keys
    state = cred.state()
    assert state["refused"] == [], state["refused"]
    assumed = state["assumed"]
    assert len(assumed) >= 3
    for call in assumed:
        assert call["role"] == ROLE and call["external_id"] == "ext-42"
    if base == "env":
        assert {c["session_name"] for c in assumed} == {"s3p-test"}
        assert {c["duration"] for c in assumed} == {"900"}
    if base == "profile":
        assert {c["session_name"] for c in assumed} == {"s3p-profile"}
    log = nginx.log_text()
    for key in load.keys:
        assert re.search(r'\[notice\].*s3 proxy: credentials from "%s": '
                         r'access key id "%s", expiring in \d+ s'
                         % (re.escape(name), key), log), key
    assert "[error]" not in log
    no_secret_in(log, cred)
    assert BASE_SECRET not in log


def test_sts_refusal_is_logged_with_the_role_and_code(make_nginx, cred, s3):
    """A wrong external id: STS answers AccessDenied; one error line names
    the role and STS's code; nothing valid, so 503."""
    nginx = make_nginx(role_env(s3, cred), locations=location(
        f"env role={ROLE} external_id=wrong-id"))
    wait_until(lambda: "no credentials from" in nginx.log_text(), 10,
               "the failed AssumeRole's error line")
    assert get(nginx, "/demo/files/hello.txt")[0] == 503
    assert re.search(r'\[error\].*s3 proxy: no credentials from "env role=%s":'
                     r' HTTP status 403, STS error AccessDenied'
                     % re.escape(ROLE), nginx.log_text()), nginx.log_text()


def test_a_wrong_base_secret_is_refused_by_the_standin(make_nginx, cred, s3):
    """The stand-in checks the signature: keys it does not know sign
    nothing."""
    nginx = make_nginx(role_env(s3, cred, AWS_SECRET_ACCESS_KEY="wrong"),
                       locations=location(f"env role={ROLE} "
                                          "external_id=ext-42"))
    wait_until(lambda: "no credentials from" in nginx.log_text(), 10,
               "the failed AssumeRole's error line")
    assert "STS error SignatureDoesNotMatch" in nginx.log_text()
    assert cred.state()["refused"][0] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("parameters,message", [
    ("role=arn:aws:iam::1234:role/x", 'role="arn:aws:iam::1234:role/x" is not '
                                      'a role ARN'),
    ("role=arn:aws:s3:::bucket", "is not a role ARN"),
    ("role=arn:aws:iam::123456789012:user/x", "is not a role ARN"),
    (f"role={ROLE} duration=899", 'duration="899" must be between 900 s'),
    (f"role={ROLE} duration=13h", 'duration="13h" must be between 900 s'),
    (f"role={ROLE} duration=soon", "must be a time"),
    (f"role={ROLE} session_name=a/b", "session_name=\"a/b\" must be 2 to 64"),
    (f"role={ROLE} session_name=x", "must be 2 to 64"),
    (f"role={ROLE} external_id=a*b", "external_id=\"a*b\" must be 2 to 1224"),
    ("external_id=abc", "need role=ARN"),
    (f"role={ROLE} role={ROLE}", '"role=" is duplicate'),
    (f"role={ROLE} colour=blue", 'takes role=ARN'),
])
def test_nginx_t_refuses_bad_role_parameters(make_nginx, s3, parameters,
                                             message):
    nginx = make_nginx(s3_environment(s3), start=False,
                       locations=location(f"env {parameters}"))
    code, out = nginx.check()
    assert code != 0, out
    assert message in out, out
    assert re.search(r'"s3_proxy_credentials".* in .*nginx\.conf:\d+', out), out

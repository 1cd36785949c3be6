"""The provider stand-ins speak as AWS's do: botocore's own providers take
credentials from them, and the S3 stand-in accepts each set only while it
is valid (S3's ExpiredToken after)."""

import os

import boto3
import botocore.exceptions
import pytest

from credentials import CredServer, rotating_s3
from harness import wait_until


@pytest.fixture(scope="module")
def cred():
    server = CredServer(lifetime=4)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3(cred):
    server = rotating_s3(cred)
    yield server
    server.stop()


@pytest.mark.parametrize("source", ["imds", "container", "web-identity"])
def test_botocore_takes_credentials_from_the_standin(cred, s3, source,
                                                      monkeypatch):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", cred.dir)
    if source != "imds":
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in cred.env(source).items():
        monkeypatch.setenv(name, value)
    before = cred.state()["counts"].get(
        {"web-identity": "sts"}.get(source, source), 0)

    session = boto3.Session(region_name="us-east-1")
    creds = session.get_credentials().get_frozen_credentials()
    client = session.client("s3", endpoint_url=s3.endpoint)
    assert client.list_objects_v2(Bucket="demo")["KeyCount"] > 0
    assert creds.access_key.startswith("ASIA")
    assert cred.state()["counts"][
        {"web-identity": "sts"}.get(source, source)] > before


def test_an_issued_set_expires(cred, s3):
    cred.fault("none")
    import json
    import urllib.error
    import urllib.request
    session = boto3.Session(region_name="us-east-1")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(cred.endpoint + "/container/x")
    assert refused.value.code == 401  # no Authorization header
    req = urllib.request.Request(cred.endpoint + "/container/x", headers={
        "Authorization": "Bearer s3p-container-authorization"})
    with urllib.request.urlopen(req) as r:
        doc = json.load(r)
    client = session.client(
        "s3", endpoint_url=s3.endpoint, aws_access_key_id=doc["AccessKeyId"],
        aws_secret_access_key=doc["SecretAccessKey"],
        aws_session_token=doc["Token"])
    assert client.list_objects_v2(Bucket="demo")["KeyCount"] > 0

    def refused():
        try:
            client.list_objects_v2(Bucket="demo")
        except botocore.exceptions.ClientError as err:
            return err
        return None
    # the set lives 4 s
    err = wait_until(refused, 10, "the issued set to expire")
    assert err.response["Error"]["Code"] == "ExpiredToken"

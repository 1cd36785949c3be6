"""Credential providers for the integration tests: demo/credserver.py (the
IMDSv2, container and STS stand-ins) and the S3 stand-in that accepts each
credential set it issued only while that set is valid."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from harness import ROOT, S3Server, free_port

CREDSERVER = os.path.join(ROOT, "demo", "credserver.py")
CONTAINER_TOKEN = "Bearer s3p-container-authorization"
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.s3p-web-identity.signature"


class CredServer:
    """demo/credserver.py on a free port; `keys_file` lists what it issued."""

    def __init__(self, lifetime=60, imds_v1=False, imds_v1_only=False,
                 base_keys=(), external_id=None):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="s3p-cred-")
        self.keys_file = os.path.join(self.dir, "keys.json")
        self.token_file = os.path.join(self.dir, "web-identity-token")
        with open(self.token_file, "w") as f:
            f.write(WEB_IDENTITY_TOKEN)
        # nginx's workers (user nobody under root) read the token file
        os.chmod(self.dir, 0o755)
        os.chmod(self.token_file, 0o644)
        args = [sys.executable, CREDSERVER, "--port", str(self.port),
                "--lifetime", str(lifetime), "--keys-file", self.keys_file,
                "--container-token", CONTAINER_TOKEN,
                "--web-identity-token", WEB_IDENTITY_TOKEN]
        if imds_v1:
            args.append("--imds-v1")
        if imds_v1_only:
            args.append("--imds-v1-only")
        for key in base_keys:
            args += ["--base-key", key]
        if external_id is not None:
            args += ["--external-id", external_id]
        self.log = open(os.path.join(self.dir, "credserver.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.keys_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("credserver did not start")
            time.sleep(0.05)
        time.sleep(0.2)

    def state(self):
        with urllib.request.urlopen(self.endpoint + "/_control") as r:
            return json.load(r)

    def issued(self):
        """Every set issued so far and still valid, oldest first."""
        return self.state()["issued"]

    def fault(self, name):
        req = urllib.request.Request(self.endpoint + "/_control?fault=" + name,
                                     method="POST", data=b"")
        urllib.request.urlopen(req).read()

    def secrets(self, session_tokens=True):
        """Every secret and (unless told not to) token issued that is
        still listed."""
        with open(self.keys_file) as f:
            return [v for k in json.load(f)
                    for v in (k["secret_key"], k["session_token"])
                    if session_tokens or v != k["session_token"]]

    def env(self, source):
        """The environment that selects `source` for the module."""
        if source == "imds":
            return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.endpoint}
        if source == "container":
            return {"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                    self.endpoint + "/container/s3-proxy",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN}
        if source == "web-identity":
            return {"AWS_WEB_IDENTITY_TOKEN_FILE": self.token_file,
                    "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/s3p",
                    "AWS_ROLE_SESSION_NAME": "s3-proxy",
                    "AWS_ENDPOINT_URL_STS": self.endpoint}
        raise ValueError(source)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def rotating_s3(cred):
    """The S3 stand-in, accepting `cred`'s sets while they are valid; the
    demo bucket without its listing/ items, which no credentials test
    reads (seeding them is most of the stand-in's start)."""
    return S3Server(seed="demo-small",
                    extra_args=["--keys-file", cred.keys_file])

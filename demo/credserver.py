#!/usr/bin/env python3
"""Local stand-ins for the AWS credential providers, for tests and demos.

One HTTP server on one loopback port answers as three providers:

- EC2 instance metadata (IMDSv2): ``PUT /latest/api/token`` gives a session
  token (``X-aws-ec2-metadata-token-ttl-seconds`` required), then
  ``GET /latest/meta-data/iam/security-credentials/`` names the role and
  ``GET /latest/meta-data/iam/security-credentials/<role>`` gives its
  credentials as JSON.  The GETs require ``X-aws-ec2-metadata-token`` unless
  ``--imds-v1`` allows IMDSv1.
- The ECS/EKS container endpoint: ``GET /v2/credentials/<anything>`` (the
  relative URI) or ``GET /container/<anything>`` (a full URI) gives JSON; with
  ``--container-token`` the ``Authorization`` header must equal it.
- STS: ``POST /`` (or ``GET /?...``) with ``Action=AssumeRoleWithWebIdentity``
  gives ``AssumeRoleWithWebIdentityResponse`` XML; with ``--web-identity-token``
  the ``WebIdentityToken`` must equal it (the token file's content).
  ``Action=AssumeRole`` gives ``AssumeRoleResponse`` XML, only to a request
  signed with Signature Version 4 for the service ``sts`` by one of the
  ``--base-key ID:SECRET`` pairs, or by a set this server issued (with its
  ``X-Amz-Security-Token``), dated within 5 minutes; with ``--external-id``
  the ``ExternalId`` must equal it; ``DurationSeconds``, when sent, must be
  900 to 43200.  STS's error codes otherwise (``SignatureDoesNotMatch``,
  ``InvalidClientTokenId``, ``AccessDenied``, ``ValidationError``).

Every answer issues a new credential set (``ASIA...`` access key, secret,
session token) that expires ``--lifetime`` seconds later, and writes the sets
still valid to ``--keys-file`` (JSON), which ``demo/s3server.py --keys-file``
reads to accept each set only while it is valid.

Control, unrecorded: ``GET /_control`` gives the counts of issued sets per
provider, the current fault and how many answers faults spoiled
(``faulted``); ``POST /_control?fault=NAME`` sets the fault (``none``,
``500``, ``hang``: no answer until the client closes the connection,
``badjson``, ``close``, or ``hold``: the answer held until the fault is set
to something else, ``held`` counting the answers waiting) for every answer
that carries credentials.  Faults that answer a set no signer can use,
well formed but never published to ``--keys-file``: ``badtoken`` (a space
in the session token), ``badkeyid`` (a lowercase access key id),
``nosecret`` (an empty secret key), ``expired`` (an expiry in the past).

    python3 demo/credserver.py --port 0 --keys-file keys.json --ready-file port
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import http.server
import json
import os
import secrets
import select
import signal
import socketserver
import sys
import threading
import time
import urllib.parse

ROLE = "s3-proxy-test-role"


class Issuer:
    """Issues credential sets and publishes the valid ones to a file."""

    def __init__(self, lifetime: float, keys_file: str | None):
        self.lifetime = lifetime
        self.keys_file = keys_file
        self.lock = threading.Lock()
        self.sets: list[dict] = []
        self.counts: dict[str, int] = {}
        self.fault = "none"
        self.faulted = 0
        self.held = 0
        # set whenever the fault changes: what "hold" waits for
        self.changed = threading.Condition(self.lock)
        self.serial = 0
        self.refused: list[str] = []      # AssumeRole's error codes
        self.assumed: list[dict] = []     # AssumeRole's parameters

    def issue(self, source: str) -> dict:
        with self.lock:
            self.serial += 1
            now = time.time()
            creds = {
                "access_key": "ASIA%s%06d" % (secrets.token_hex(4).upper(),
                                              self.serial),
                "secret_key": secrets.token_urlsafe(30),
                "session_token": "IQo" + secrets.token_urlsafe(90),
                "expires": now + self.lifetime,
                "source": source,
            }
            spoil = BAD_SETS.get(self.fault)
            if spoil:
                self.faulted += 1
                spoil(creds)
                return creds
            self.sets = [s for s in self.sets if s["expires"] > now]
            self.sets.append(creds)
            self.counts[source] = self.counts.get(source, 0) + 1
            self._publish()
            return creds

    def _publish(self) -> None:
        if not self.keys_file:
            return
        tmp = self.keys_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.sets, f)
        os.replace(tmp, self.keys_file)

    def state(self) -> dict:
        with self.lock:
            return {"counts": dict(self.counts), "fault": self.fault,
                    "faulted": self.faulted, "held": self.held,
                    "refused": list(self.refused),
                    "assumed": list(self.assumed),
                    "issued": [{"access_key": s["access_key"],
                                "expires": s["expires"],
                                "source": s["source"]} for s in self.sets]}


# sets no signer can use (issue 22): never published
BAD_SETS = {
    "badtoken": lambda c: c.update(session_token=c["session_token"][:20]
                                   + " " + c["session_token"][20:]),
    "badkeyid": lambda c: c.update(access_key=c["access_key"].lower()),
    "nosecret": lambda c: c.update(secret_key=""),
    "expired": lambda c: c.update(expires=time.time() - 60),
}


def iso8601(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "credserver"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing -----------------------------------------------------------

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _until_closed(self, deadline: float) -> None:
        """Reads and drops what the client sends until it closes the
        connection (a provider that never answers), or `deadline` s."""
        end = time.monotonic() + deadline
        while (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], left)
            if readable:
                try:
                    if not self.connection.recv(4096):
                        return
                except OSError:
                    return

    def _send(self, status: int, body: bytes, ctype: str = "text/plain",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _faulted(self) -> bool:
        """Applies the current fault; True when the request was answered."""
        fault = self.server.issuer.fault
        if fault in ("500", "hang", "close", "badjson"):
            with self.server.issuer.lock:
                self.server.issuer.faulted += 1
        if fault == "500":
            self._send(500, b"internal error")
        elif fault == "hang":
            self._until_closed(deadline=30)
            self.close_connection = True
        elif fault == "close":
            self.close_connection = True
        elif fault == "hold":
            issuer = self.server.issuer
            with issuer.changed:    # then answers as usual
                issuer.held += 1
                issuer.changed.wait_for(lambda: issuer.fault != "hold",
                                        timeout=30)
                issuer.held -= 1
            return False
        elif fault == "badjson":
            self._send(200, b'{"AccessKeyId": "ASIA', "application/json")
        else:
            return False
        return True

    def _credentials_json(self, source: str) -> None:
        if self._faulted():
            return
        c = self.server.issuer.issue(source)
        doc = {"AccessKeyId": c["access_key"],
               "SecretAccessKey": c["secret_key"],
               "Token": c["session_token"],
               "Expiration": iso8601(c["expires"])}
        if source == "imds":
            doc = {"Code": "Success", "LastUpdated": iso8601(time.time()),
                   "Type": "AWS-HMAC", **doc}
        else:
            doc["RoleArn"] = "arn:aws:iam::123456789012:role/" + ROLE
        self._send(200, json.dumps(doc, indent=2).encode(), "application/json")

    # -- methods ------------------------------------------------------------

    def do_PUT(self) -> None:
        self._body()
        if self.path == "/latest/api/token":
            if self.server.imds_v1_only:
                self._send(403, b"")
                return
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                self._send(400, b"")
                return
            token = secrets.token_urlsafe(32)
            self.server.imds_tokens[token] = time.time() + int(ttl)
            self._send(200, token.encode(), headers={
                "X-aws-ec2-metadata-token-ttl-seconds": ttl})
            return
        self._send(404, b"")

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_control":
            self._send(200, json.dumps(self.server.issuer.state()).encode(),
                       "application/json")
            return
        prefix = "/latest/meta-data/iam/security-credentials/"
        if path.startswith(prefix):
            token = self.headers.get("X-aws-ec2-metadata-token")
            expiry = self.server.imds_tokens.get(token or "", 0)
            if expiry < time.time() and not self.server.imds_v1:
                self._send(401, b"")
                return
            if path == prefix:
                self._send(200, ROLE.encode())
            elif path == prefix + ROLE:
                self._credentials_json("imds")
            else:
                self._send(404, b"")
            return
        if path.startswith("/v2/credentials/") or path.startswith("/container/"):
            want = self.server.container_token
            if want is not None and self.headers.get("Authorization") != want:
                self._send(401, b'{"message": "unauthorized"}',
                           "application/json")
                return
            self._credentials_json("container")
            return
        if path == "/" and query:
            self._sts(urllib.parse.parse_qs(query), b"", query)
            return
        self._send(404, b"")

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._body()
        if path == "/_control":
            fault = urllib.parse.parse_qs(query).get("fault", ["none"])[0]
            with self.server.issuer.changed:
                self.server.issuer.fault = fault
                self.server.issuer.changed.notify_all()
            self._send(200, json.dumps(self.server.issuer.state()).encode(),
                       "application/json")
            return
        if path == "/":
            self._sts(urllib.parse.parse_qs(body.decode("latin-1")), body,
                      query)
            return
        self._send(404, b"")

    def _sts_error(self, status: int, code: str) -> None:
        self._send(status, (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f'<Error><Type>Sender</Type><Code>{code}</Code>'
            f'<Message>{code}</Message></Error>'
            '<RequestId>00000000-0000-0000-0000-000000000000</RequestId>'
            '</ErrorResponse>').encode(), "text/xml")

    def _sigv4_problem(self, body: bytes, query: str) -> str | None:
        """Why the request is not signed by a known key for sts, or None:
        the signature recomputed from what was received."""
        auth = self.headers.get("Authorization", "")
        prefix = "AWS4-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return "MissingAuthenticationToken"
        fields = dict(part.strip().split("=", 1)
                      for part in auth[len(prefix):].split(","))
        try:
            key_id, date, region, service, term = \
                fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            return "IncompleteSignature"
        stamp = self.headers.get("X-Amz-Date", "")
        secret = self.server.base_keys.get(key_id)
        token = None
        if secret is None:
            with self.server.issuer.lock:
                for c in self.server.issuer.sets:
                    if c["access_key"] == key_id:
                        secret, token = c["secret_key"], c["session_token"]
            if secret is None:
                return "InvalidClientTokenId"
            if self.headers.get("X-Amz-Security-Token") != token \
                    or "x-amz-security-token" not in signed:
                return "InvalidClientTokenId"
        if service != "sts" or term != "aws4_request" \
                or not stamp.startswith(date) \
                or "host" not in signed or "x-amz-date" not in signed:
            return "IncompleteSignature"
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=dt.timezone.utc).timestamp()
        if abs(when - time.time()) > 300:
            return "SignatureDoesNotMatch"
        pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
        canonical_query = "&".join(
            urllib.parse.quote(k, safe="-_.~") + "="
            + urllib.parse.quote(v, safe="-_.~") for k, v in pairs)
        canonical = "\n".join([
            self.command, "/", canonical_query,
            "".join(f"{h}:{' '.join(self.headers.get(h, '').split())}\n"
                    for h in signed),
            ";".join(signed), hashlib.sha256(body).hexdigest()])
        to_sign = "\n".join([
            "AWS4-HMAC-SHA256", stamp, f"{date}/{region}/sts/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + secret).encode()
        for part in (date, region, "sts", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        want = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, signature):
            return "SignatureDoesNotMatch"
        return None

    def _assume_role(self, form: dict[str, list[str]], body: bytes,
                     query: str) -> None:
        def one(name: str) -> str:
            return form.get(name, [""])[0]

        problem = self._sigv4_problem(body, query)
        if problem:
            with self.server.issuer.lock:
                self.server.issuer.refused.append(problem)
            self._sts_error(403, problem)
            return
        role = one("RoleArn")
        duration = one("DurationSeconds")
        want = self.server.external_id
        if not role or not one("RoleSessionName") or one("Version") != \
                "2011-06-15" or (duration and not 900 <= int(duration) <= 43200):
            self._sts_error(400, "ValidationError")
            return
        if want is not None and one("ExternalId") != want:
            with self.server.issuer.lock:
                self.server.issuer.refused.append("AccessDenied")
            self._sts_error(403, "AccessDenied")
            return
        if self._faulted():
            return
        c = self.server.issuer.issue("assume-role")
        with self.server.issuer.lock:
            self.server.issuer.assumed.append(
                {"role": role, "session_name": one("RoleSessionName"),
                 "external_id": one("ExternalId"), "duration": duration})
        name = role.rsplit("/", 1)[-1]
        xml = (
            '<AssumeRoleResponse '
            'xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
            '  <AssumeRoleResult>\n'
            '    <AssumedRoleUser>\n'
            f'      <Arn>arn:aws:sts::123456789012:assumed-role/{name}/'
            f'{one("RoleSessionName")}</Arn>\n'
            '      <AssumedRoleId>AROA000000000EXAMPLE:s</AssumedRoleId>\n'
            '    </AssumedRoleUser>\n'
            '    <Credentials>\n'
            f'      <AccessKeyId>{c["access_key"]}</AccessKeyId>\n'
            f'      <SecretAccessKey>{c["secret_key"]}</SecretAccessKey>\n'
            f'      <SessionToken>{c["session_token"]}</SessionToken>\n'
            f'      <Expiration>{iso8601(c["expires"])}</Expiration>\n'
            '    </Credentials>\n'
            '  </AssumeRoleResult>\n'
            '  <ResponseMetadata><RequestId>00000000-0000-0000-0000-'
            '000000000000</RequestId></ResponseMetadata>\n'
            '</AssumeRoleResponse>\n')
        self._send(200, xml.encode(), "text/xml")

    def _sts(self, form: dict[str, list[str]], body: bytes = b"",
             query: str = "") -> None:
        def one(name: str) -> str:
            return form.get(name, [""])[0]

        if one("Action") == "AssumeRole":
            self._assume_role(form, body, query)
            return

        if one("Action") != "AssumeRoleWithWebIdentity" or not one("RoleArn") \
                or not one("RoleSessionName"):
            self._send(400, b"<ErrorResponse><Error><Code>InvalidParameter"
                       b"</Code></Error></ErrorResponse>", "text/xml")
            return
        want = self.server.web_identity_token
        if want is not None and one("WebIdentityToken").strip() != want:
            self._send(400, b"<ErrorResponse><Error><Code>InvalidIdentityToken"
                       b"</Code></Error></ErrorResponse>", "text/xml")
            return
        if self._faulted():
            return
        c = self.server.issuer.issue("sts")
        xml = (
            '<AssumeRoleWithWebIdentityResponse '
            'xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
            '  <AssumeRoleWithWebIdentityResult>\n'
            '    <SubjectFromWebIdentityToken>system:serviceaccount:default:'
            's3-proxy</SubjectFromWebIdentityToken>\n'
            '    <AssumedRoleUser>\n'
            f'      <Arn>arn:aws:sts::123456789012:assumed-role/{ROLE}/'
            f'{one("RoleSessionName")}</Arn>\n'
            '      <AssumedRoleId>AROA000000000EXAMPLE:s</AssumedRoleId>\n'
            '    </AssumedRoleUser>\n'
            '    <Credentials>\n'
            f'      <SessionToken>{c["session_token"]}</SessionToken>\n'
            f'      <SecretAccessKey>{c["secret_key"]}</SecretAccessKey>\n'
            f'      <Expiration>{iso8601(c["expires"])}</Expiration>\n'
            f'      <AccessKeyId>{c["access_key"]}</AccessKeyId>\n'
            '    </Credentials>\n'
            '    <Provider>www.example.com</Provider>\n'
            '  </AssumeRoleWithWebIdentityResult>\n'
            '  <ResponseMetadata><RequestId>00000000-0000-0000-0000-'
            '000000000000</RequestId></ResponseMetadata>\n'
            '</AssumeRoleWithWebIdentityResponse>\n')
        self._send(200, xml.encode(), "text/xml")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--lifetime", type=float, default=120,
                   help="seconds each issued credential set is valid")
    p.add_argument("--keys-file", default=None,
                   help="where the valid sets are written (JSON)")
    p.add_argument("--imds-v1", action="store_true",
                   help="answer IMDS GETs without a session token")
    p.add_argument("--imds-v1-only", action="store_true",
                   help="refuse IMDSv2's token PUT (403), as IMDSv1 hosts do")
    p.add_argument("--container-token", default=None,
                   help="the Authorization header the container endpoint wants")
    p.add_argument("--web-identity-token", default=None,
                   help="the WebIdentityToken STS wants")
    p.add_argument("--base-key", action="append", default=[],
                   help="ID:SECRET that may sign AssumeRole (repeatable)")
    p.add_argument("--external-id", default=None,
                   help="the ExternalId AssumeRole wants")
    p.add_argument("--ready-file", default=None)
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    server = Server((args.host, args.port), Handler)
    server.issuer = Issuer(args.lifetime, args.keys_file)
    server.imds_tokens = {}
    server.imds_v1 = args.imds_v1 or args.imds_v1_only
    server.imds_v1_only = args.imds_v1_only
    server.container_token = args.container_token
    server.web_identity_token = args.web_identity_token
    server.base_keys = dict(k.split(":", 1) for k in args.base_key)
    server.external_id = args.external_id
    server.verbose = args.verbose
    if args.keys_file:
        server.issuer._publish()
    threading.Thread(target=server.serve_forever, daemon=True).start()

    port = server.server_address[1]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.ready_file)
    print(f"credserver ready on http://{args.host}:{port}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

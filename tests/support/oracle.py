"""Ask a real nats-server for its verdict on many account JWTs at once.

nats-server runs in operator mode with ``resolver: URL(...)`` pointing at a tiny threaded HTTP server in
this process, which answers each account key with its JWT.  For every account a user issued by that
account's key connects over a raw socket (CONNECT with the user JWT and the signed nonce, then PING):
nats-server then fetches, decodes and validates the account (time checks included) and either
registers it or answers ``Authorization Violation``.  Probes run in parallel.  Every account key is
new to the server, so its account cache never hides a verdict; refused accounts are not cached, and each
is asked a second time so that a fetch timing out under load is not taken for a refusal.

Measured (nats-server 2.15.1, 2 cores): 862 accounts in about 2.3 s with 16 probes in flight, the
second look at every refusal included (about 5 s when other test workers load both cores).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

import nkeys

from .natsserver import NatsServer, operator_config

__all__ = ["AccountOracle", "OracleError", "Probe"]

#: Answers given only after the account was registered (its own limits then refuse the connection).
ACCEPTED_ERRORS = ("maximum account active connections exceeded", "maximum subscriptions exceeded")
REFUSED_ERRORS = ("authorization violation",)


class OracleError(AssertionError):
    """nats-server answered a probe in a way that says nothing about the account (or it died)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """An account JWT served under `account`; a user issued by `account_seed` (key `user_seed`) asks."""

    account: str
    jwt: str
    account_seed: str
    user_seed: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _user_jwt(account_seed: str, user_seed: str, now: int) -> tuple[str, nkeys.KeyPair]:
    """A plain v2 user JWT (no limits) issued by the account's identity key."""
    account = nkeys.from_seed(account_seed.encode("ascii"))
    user = nkeys.from_seed(user_seed.encode("ascii"))
    claims = {
        "jti": _b64(user.public_key)[:52],
        "iat": now,
        "iss": account.public_key.decode(),
        "name": "probe",
        "sub": user.public_key.decode(),
        "nats": {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2},
    }
    head = _b64(b'{"typ":"JWT","alg":"ed25519-nkey"}')
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{_b64(account.sign(f'{head}.{body}'.encode()))}", user


class _JwtHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: nats-server reuses its connections
    disable_nagle_algorithm = (
        True  # headers and body are separate writes: without it each answer waits ~40 ms
    )
    jwts: Mapping[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        key = self.path.rsplit("/", 1)[-1]
        body = self.jwts.get(key) if key else b""  # the bare base URL is nats-server's start-up check
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        pass


class AccountOracle:
    """A running nats-server trusting `operator_jwt`; :meth:`refused` gives its verdict per account key."""

    def __init__(
        self,
        operator_jwt: str,
        system_account: str,
        system_account_jwt: str,
        tmp_path: Path,
        *,
        binary: str | None = None,
        parallel: int = 16,
    ) -> None:
        self._jwts: dict[str, bytes] = {system_account: system_account_jwt.encode()}
        handler = type("Handler", (_JwtHandler,), {"jwts": self._jwts})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, name="jwt-http", daemon=True)
        operator_path = tmp_path / "operator.jwt"
        operator_path.write_text(operator_jwt, encoding="utf-8")
        config = operator_config(operator_path, system_account, f"http://127.0.0.1:{self._http.server_port}")
        self.server = NatsServer(config, tmp_path=tmp_path, binary=binary, name="oracle-nats-server")
        self.parallel = parallel
        #: accounts refused at first and accepted when asked again (a fetch timed out the first time)
        self.flipped: list[str] = []

    def __enter__(self) -> Self:
        self._thread.start()
        try:
            self.server.start_ready()
        except BaseException:
            self._http.shutdown()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop(timeout=5)
        self._http.shutdown()
        self._http.server_close()

    def refused(self, probes: Iterable[Probe]) -> dict[str, bool]:
        """True for each account nats-server refuses (undecodable, untrusted, invalid, expired...); a
        refusal counts only if it repeats."""
        probes = list(probes)
        for probe in probes:
            if probe.account in self._jwts:
                raise ValueError(f"account {probe.account} asked for twice (nats-server caches accounts)")
            self._jwts[probe.account] = probe.jwt.encode("utf-8")
        with ThreadPoolExecutor(self.parallel) as pool:
            verdicts = dict(zip((p.account for p in probes), pool.map(self._probe, probes), strict=True))
        # A refusal may also be a fetch that timed out under load; nats-server caches no failed lookup,
        # so asking again (few at a time) repeats the whole fetch and validation.
        again = [p for p in probes if verdicts[p.account]]
        with ThreadPoolExecutor(min(self.parallel, 4)) as pool:
            for probe, refused in zip(again, pool.map(self._probe, again), strict=True):
                if not refused:
                    self.flipped.append(probe.account)
                verdicts[probe.account] = refused
        if not self.server.running:
            raise OracleError(f"nats-server exited while probing\n{self.server.describe()}")
        return verdicts

    def _probe(self, probe: Probe) -> bool:
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=15) as sock:
            reader = sock.makefile("rb")
            info = reader.readline()
            if not info.startswith(b"INFO "):
                raise OracleError(f"{probe.account}: unexpected greeting {info!r}")
            nonce = json.loads(info[5:])["nonce"]
            user_jwt, user = _user_jwt(probe.account_seed, probe.user_seed, int(time.time()))
            connect = {
                "verbose": False,
                "pedantic": False,
                "protocol": 1,
                "jwt": user_jwt,
                "sig": _b64(user.sign(nonce.encode())),
                "name": "oracle",
            }
            sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
            while True:
                raw = reader.readline()
                if not raw:
                    raise OracleError(f"{probe.account}: connection closed without an answer")
                line = raw.strip()
                if line == b"PONG":
                    return False
                if line.startswith(b"-ERR"):
                    text = line.decode(errors="replace").lower()
                    if any(e in text for e in REFUSED_ERRORS):
                        return True
                    if any(e in text for e in ACCEPTED_ERRORS):
                        return False
                    raise OracleError(f"{probe.account}: unexpected answer {line!r}")

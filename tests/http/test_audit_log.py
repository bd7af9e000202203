"""Every decision on an HTTP upload is one log line (v1 and v2 JWTs).

An accepted change is an [INF] audit line (account or activation hash, new and previous jti, issuer,
channel and client address), an upload identical to the stored JWT is a [DBG] line only, and a
refused upload is one [WRN] line with the reason the client got and its address. Requests are sent
on raw sockets, so each test knows the exact client address the line must show.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nats_account_server.jwt import JWTError, activation_hash, decode, encode, new_keypair, peek_claims
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

MAX_BODY = 16384
STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} ")
DECISION = re.compile(r"^\[(INF|DBG|WRN|ERR)\] (account|activation)\b.* (updated|unchanged|refused): ")
ISSUES = "The server was unable to update the {} JWT because one or more validation issues occurred:"


@dataclass
class Running:
    proc: ServerProcess
    trust: Trust
    store: Path


@pytest.fixture(scope="module", params=[2, 1], ids=["v2", "v1"])
def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server with debug logging (for the [DBG] lines), a small body limit and a short read timeout."""
    base = tmp_path_factory.mktemp(f"audit-v{request.param}")
    trust = Trust(base / "trust", version=request.param)
    store = base / "store"
    config = (
        f'operatorjwtpath: "{trust.operator_jwt_path}"\n'
        f'systemaccountjwtpath: "{trust.system_account_jwt_path}"\n'
        f'store {{ dir: "{store}" }}\n'
        f"maxbodysize: {MAX_BODY}\n"
        "logging { colors: false, debug: true }\n"
        "http { host: 127.0.0.1, port: 0, readtimeout: 1000 }\n"
    )
    proc = start_server(config_text=config, tmp_path=base)
    try:
        yield Running(proc, trust, store)
    finally:
        proc.stop()


@dataclass
class Reply:
    status: int
    text: str
    client: str  # "127.0.0.1:<port>" the request came from


def send(
    proc: ServerProcess, path: str, body: bytes, *, length: int | None = None, close_early: bool = False
) -> Reply:
    """POST ``body`` on a socket of our own; ``length`` declares another Content-Length, and
    ``close_early`` closes the sending side at once (a body cut short)."""
    with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as sock:
        host, port = sock.getsockname()[:2]
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/jwt\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        if close_early:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:  # the server may reset a connection it refused
            pass
    status = int(data.split(b" ", 2)[1]) if data else 0
    text = data.split(b"\r\n\r\n", 1)[1].decode() if b"\r\n\r\n" in data else ""
    return Reply(status, text, f"{host}:{port}")


def decisions(proc: ServerProcess, since: int, count: int = 1) -> list[str]:
    """The decision lines logged since ``since`` (timestamps cut), once ``count`` of them are there."""
    deadline = time.monotonic() + 10
    while True:
        lines = [
            STAMP.sub("", line)
            for line in proc.find_lines(re.compile(r"\[(INF|DBG|WRN|ERR)\] "), since=since)
        ]
        found = [line for line in lines if DECISION.match(line)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def new_account(running: Running, prefix: str) -> str:
    name = f"{prefix}{time.monotonic_ns()}"
    running.trust.add_account(name)
    return name


def account_path(running: Running, name: str) -> str:
    return f"/jwt/v1/accounts/{running.trust.pub(name)}"


def short(key: str) -> str:
    return key[:12]


def jti(jwt: str) -> str:
    return peek_claims(jwt).jti


def one_line(header: str, body: str) -> str:
    """The client's multi-line validation answer as the log line quotes it."""
    lines = body.rstrip("\n").split("\n")
    assert lines[0] == header, body
    return f"{header} {'; '.join(line.removeprefix(chr(9) + ' - ') for line in lines[1:])}"


def decode_error(text: str) -> str:
    try:
        decode(text)
    except JWTError as exc:
        return str(exc)
    raise AssertionError(f"{text!r} decodes")


# ------------------------------------------------------------------------------ accounts


def test_accepted_new_update_and_unchanged_accounts(running: Running) -> None:
    t, proc = running.trust, running.proc
    name = new_account(running, "AUD")
    key = t.pub(name)
    now = int(time.time())
    first = t.account_jwt(name, iat=now - 10)
    mark = proc.mark()
    reply = send(proc, account_path(running, name), first.encode())
    assert (reply.status, reply.text) == (200, "")
    expected = (
        f"[INF] account {short(key)} updated: jti {jti(first)} (new), issuer {short(t.operator.pub)}, "
        f"via http from {reply.client}"
    )
    assert decisions(proc, mark) == [expected]

    second = t.account_jwt(name, iat=now, signer="signing_key")
    mark = proc.mark()
    reply = send(proc, account_path(running, name), second.encode())
    assert (reply.status, reply.text) == (200, "")
    expected = (
        f"[INF] account {short(key)} updated: jti {jti(second)} (was {jti(first)}), "
        f"issuer {short(t.operator_signing.pub)}, via http from {reply.client}"
    )
    assert decisions(proc, mark) == [expected]

    mark = proc.mark()
    reply = send(proc, account_path(running, name), second.encode() + b"\n")
    assert (reply.status, reply.text) == (200, "")
    expected = (
        f"[DBG] account {short(key)} unchanged: jti {jti(second)} is already stored, "
        f"via http from {reply.client}"
    )
    assert decisions(proc, mark) == [expected]
    time.sleep(0.2)
    assert decisions(proc, mark) == [expected]  # no INF line: not a change


def foreign_operator_jwt(running: Running, name: str) -> tuple[str, str]:
    """An account JWT for a known key, signed by an operator nobody trusts; and that operator."""
    seed, pub = new_keypair("O")
    claims = running.trust.account_claims(name)
    return encode(claims, seed, version=running.trust.version), pub


def test_every_refused_account_upload_is_one_wrn_line(running: Running) -> None:
    t, proc = running.trust, running.proc
    name, other = new_account(running, "REF"), new_account(running, "OTH")
    key = t.pub(name)
    path = account_path(running, name)
    now = int(time.time())
    stranger, stranger_op = foreign_operator_jwt(running, name)
    by_account = t.sign(t.account_claims(name), other, t.version)
    cases: list[tuple[bytes, int, str, str]] = [  # body, status, answer, the reason the line gives
        (b"\xff\xfe", 400, "bad JWT in request", "bad JWT in request (the body is not UTF-8 text)"),
        (b"hello world", 400, "bad JWT in request", f"bad JWT in request ({decode_error('hello world')})"),
        (
            t.account_jwt(other).encode(),
            400,
            "pub keys don't match",
            f"pub keys don't match (the JWT is for {short(t.pub(other))})",
        ),
        (
            t.account_jwt(name, signer=name).encode(),
            400,
            "Signing service not enabled",
            "Signing service not enabled (the JWT is self-signed)",
        ),
        (
            by_account.encode(),
            400,
            "bad JWT Issuer in request",
            f"bad JWT Issuer in request (issued by {short(t.pub(other))})",
        ),
        (
            stranger.encode(),
            400,
            "untrusted issuer in request",
            f"untrusted issuer in request (issued by {short(stranger_op)})",
        ),
    ]
    for body, status, answer, reason in cases:
        mark = proc.mark()
        reply = send(proc, path, body)
        assert (reply.status, reply.text) == (status, answer + "\n"), reason
        want = f"[WRN] account {short(key)} refused: {reason}, via http from {reply.client}"
        assert decisions(proc, mark) == [want]

    # validation issues: the client gets one line per issue, the log all of them in one line
    expired = t.account_jwt(name, exp=now - 5, iat=now - 50)
    mark = proc.mark()
    reply = send(proc, path, expired.encode())
    assert reply.status == 400 and "claim is expired" in reply.text
    reason = one_line(ISSUES.format("account"), reply.text)
    assert decisions(proc, mark) == [
        f"[WRN] account {short(key)} refused: {reason}, via http from {reply.client}"
    ]

    # an older iat than the stored JWT's: 409
    newer, older = t.account_jwt(name, iat=now), t.account_jwt(name, iat=now - 100)
    mark = proc.mark()
    assert send(proc, path, newer.encode()).status == 200
    assert decisions(proc, mark)[0].startswith(f"[INF] account {short(key)} updated: jti {jti(newer)} (new)")
    mark = proc.mark()
    reply = send(proc, path, older.encode())
    assert (reply.status, reply.text) == (409, "a newer JWT is already stored\n")
    want = (
        f"[WRN] account {short(key)} refused: a newer JWT is already stored "
        f"(jti {jti(older)} has iat {now - 100}), via http from {reply.client}"
    )
    assert decisions(proc, mark) == [want]
    assert not [line for line in proc.find_lines("[ERR]", since=mark)]


def test_refused_account_bodies_are_one_wrn_line(running: Running) -> None:
    """Too large, cut short, too slow: refused before any JWT is seen, logged under the URL's key."""
    t, proc = running.trust, running.proc
    name = new_account(running, "BODY")
    key = t.pub(name)
    path = account_path(running, name)

    mark = proc.mark()
    reply = send(proc, path, b"", length=MAX_BODY + 1)
    assert (reply.status, reply.text) == (413, "request body too large\n")
    assert decisions(proc, mark) == [
        f"[WRN] account {short(key)} refused: request body too large, via http from {reply.client}"
    ]

    jwt = t.account_jwt(name).encode()
    mark = proc.mark()
    reply = send(proc, path, jwt[:-40], length=len(jwt), close_early=True)
    assert decisions(proc, mark) == [
        f"[WRN] account {short(key)} refused: bad JWT in request "
        f"(unable to read body: client closed the connection), via http from {reply.client}"
    ]

    mark = proc.mark()
    reply = send(proc, path, jwt[:-40], length=len(jwt))  # the rest never comes: the read times out
    assert (reply.status, reply.text) == (400, "bad JWT in request\n")
    assert decisions(proc, mark) == [
        f"[WRN] account {short(key)} refused: bad JWT in request "
        f"(unable to read body: request body not received in time), via http from {reply.client}"
    ]
    assert not (running.store / f"{key}.jwt").exists()


# --------------------------------------------------------------------------- activations


def about(t: Trust, exporter: str, importer: str, subject: str) -> str:
    return f'issuer {short(t.pub(exporter))}, subject "{subject}" for {short(t.pub(importer))}'


def test_accepted_new_update_and_unchanged_activations(running: Running) -> None:
    t, proc = running.trust, running.proc
    subject = f"audit.{time.monotonic_ns()}"
    key = activation_hash(t.pub("A"), t.pub("B"), subject)
    now = int(time.time())
    first = t.activation_jwt("A", "B", subject, iat=now - 10)
    mark = proc.mark()
    reply = send(proc, "/jwt/v1/activations", first.encode())
    assert (reply.status, reply.text) == (200, "")
    assert decisions(proc, mark) == [
        f"[INF] activation {short(key)} updated: jti {jti(first)} (new), {about(t, 'A', 'B', subject)}, "
        f"via http from {reply.client}"
    ]

    second = t.activation_jwt("A", "B", subject, iat=now)
    mark = proc.mark()
    reply = send(proc, "/jwt/v1/activations", second.encode())
    assert (reply.status, reply.text) == (200, "")
    assert decisions(proc, mark) == [
        f"[INF] activation {short(key)} updated: jti {jti(second)} (was {jti(first)}), "
        f"{about(t, 'A', 'B', subject)}, via http from {reply.client}"
    ]

    mark = proc.mark()
    reply = send(proc, "/jwt/v1/activations", second.encode())
    assert (reply.status, reply.text) == (200, "")
    expected = (
        f"[DBG] activation {short(key)} unchanged: jti {jti(second)} is already stored, "
        f"via http from {reply.client}"
    )
    assert decisions(proc, mark) == [expected]
    time.sleep(0.2)
    assert decisions(proc, mark) == [expected]


def test_every_refused_activation_upload_is_one_wrn_line(running: Running) -> None:
    t, proc = running.trust, running.proc
    path = "/jwt/v1/activations"
    answer = "bad activation JWT in request"
    cases: list[tuple[bytes, str]] = [
        (b"\xff\xfe", f"{answer} (the body is not UTF-8 text)"),
        (b"not a jwt", f"{answer} ({decode_error('not a jwt')})"),
        (t.account_jwt("A").encode(), f"{answer} (a JWT of type account)"),
    ]
    for body, reason in cases:
        mark = proc.mark()
        reply = send(proc, path, body)
        assert (reply.status, reply.text) == (400, answer + "\n"), reason
        assert decisions(proc, mark) == [f"[WRN] activation refused: {reason}, via http from {reply.client}"]

    subject = f"expired.{time.monotonic_ns()}"
    key = activation_hash(t.pub("A"), t.pub("B"), subject)
    now = int(time.time())
    mark = proc.mark()
    reply = send(proc, path, t.activation_jwt("A", "B", subject, exp=now - 5, iat=now - 50).encode())
    assert reply.status == 400 and "claim is expired" in reply.text
    reason = one_line(ISSUES.format("activation"), reply.text)
    assert decisions(proc, mark) == [
        f"[WRN] activation {short(key)} refused: {reason}, via http from {reply.client}"
    ]

    mark = proc.mark()
    reply = send(proc, path, b"", length=MAX_BODY + 1)
    assert (reply.status, reply.text) == (413, "request body too large\n")
    assert decisions(proc, mark) == [
        f"[WRN] activation refused: request body too large, via http from {reply.client}"
    ]
    assert not [line for line in proc.find_lines("[ERR]", since=mark)]

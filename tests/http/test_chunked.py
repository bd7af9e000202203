"""Chunked uploads: clean framing is stored; broken framing is a 400 and a cut-short body is never
stored, not even the part that arrived (both JWT generations)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.http.conftest import Running
from tests.reliability.rel_helpers import http_request, raw_request


def chunked(jwt: bytes, *, between: bytes = b"\r\n", end: bytes = b"0\r\n\r\n") -> bytes:
    half = len(jwt) // 2
    return b"%x\r\n%s\r\n%x\r\n%s%s%s" % (half, jwt[:half], len(jwt) - half, jwt[half:], between, end)


def account(running: Running, name: str) -> bytes:
    """A fresh account's JWT (each case uses its own account, so what is stored is its own)."""
    running.trust.add_account(name)
    return running.trust.account_jwt(name).encode()


def post(running: Running, name: str, body: bytes) -> tuple[str, int | None]:
    key = running.trust.pub(name)
    request = http_request("POST", f"/jwt/v1/accounts/{key}", body, headers={"transfer-encoding": "chunked"})
    return key, raw_request(running.proc.port, request).status


def stored(running: Running, key: str) -> bool:
    return (running.store / f"{key}.jwt").exists()


def test_a_clean_chunked_upload_is_stored(running: Running) -> None:
    jwt = account(running, "CHUNK_OK")
    key, status = post(running, "CHUNK_OK", chunked(jwt))
    assert status == 200 and (running.store / f"{key}.jwt").read_bytes() == jwt


@pytest.mark.parametrize(
    ("case", "framing"),
    [
        ("no-crlf-after-data", {"between": b"XY"}),
        ("no-crlf-then-end", {"between": b"XY", "end": b""}),
        ("trailers", {"end": b"0\r\nX-Trailer: y\r\n\r\n"}),  # not told apart from broken framing
        ("size-not-hex", {"between": b"\r\nzz\r\n"}),
    ],
)
def test_broken_framing_is_a_400_and_nothing_is_stored(
    running: Running, case: str, framing: dict[str, bytes]
) -> None:
    name = "BROKEN_" + case.upper().replace("-", "_")
    key, status = post(running, name, chunked(account(running, name), **framing))
    assert status == 400
    assert not stored(running, key)
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).status_code == 404


@pytest.mark.parametrize("cut", ["before-last-chunk", "inside-a-chunk"])
def test_a_client_gone_before_the_last_chunk_stores_nothing(running: Running, cut: str) -> None:
    name = "CUT_" + cut.upper().replace("-", "_")
    jwt = account(running, name)
    key = running.trust.pub(name)
    whole = http_request(
        "POST", f"/jwt/v1/accounts/{key}", chunked(jwt), headers={"transfer-encoding": "chunked"}
    )
    sent = whole[: whole.rindex(b"0\r\n\r\n")] if cut == "before-last-chunk" else whole[: len(whole) - 40]
    mark = running.proc.mark()
    with socket.create_connection(("127.0.0.1", running.proc.port), timeout=5) as sock:
        sock.sendall(sent)
        time.sleep(0.3)  # the server has read every chunk that was sent
    running.proc.wait_for_line("unable to read body", timeout=5, since=mark)
    assert not stored(running, key)
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).status_code == 404


def test_a_body_cut_short_of_its_content_length_stores_nothing(running: Running) -> None:
    jwt = account(running, "CUT_LENGTH")
    key = running.trust.pub("CUT_LENGTH")
    mark = running.proc.mark()
    with socket.create_connection(("127.0.0.1", running.proc.port), timeout=5) as sock:
        sock.sendall(http_request("POST", f"/jwt/v1/accounts/{key}", jwt)[:-40])
        time.sleep(0.3)
    line = running.proc.wait_for_line("unable to read body", timeout=5, since=mark)
    assert "[WRN] account " in line, line
    assert "refused: bad JWT in request (unable to read body: client closed the connection), via http" in line
    assert not stored(running, key)

"""The status route and `?wait=` uploads without NATS: hostile values, clear errors, and the routes
around them unchanged (the cluster behaviour is in tests/natsio/test_nats_applied.py)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.http.conftest import Running


def _account(r: Running) -> tuple[str, str]:
    name = "st" + uuid.uuid4().hex[:8]
    r.trust.add_account(name)
    return r.trust.pub(name), r.trust.account_jwt(name)


def _post(r: Running, key: str, jwt: str, query: str = "") -> tuple[int, str, str]:
    resp = r.client.post(r.url(f"/jwt/v1/accounts/{key}{query}"), content=jwt)
    return resp.status_code, resp.headers.get("content-type", ""), resp.text


@pytest.mark.parametrize(
    "value", ["abc", "-1", "+5", "1.5", "", " 5", "5ms", "0x10", "١٢"], ids=lambda v: repr(v)
)
def test_malformed_wait_is_refused_and_nothing_is_stored(running: Running, value: str) -> None:
    key, jwt = _account(running)
    status, content_type, text = _post(running, key, jwt, f"?wait={value}")
    assert status == 400 and content_type.startswith("text/plain")
    assert text.startswith("bad wait parameter") and text.count("\n") == 1, text
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).status_code == 404


@pytest.mark.parametrize(("value", "capped"), [("0", 0), ("250", 250), ("10000", 10000), ("9" * 40, 10000)])
def test_wait_without_nats_answers_at_once_with_json(running: Running, value: str, capped: int) -> None:
    """Stored, then a report that nothing was sent and why; huge values are capped, never waited."""
    key, jwt = _account(running)
    status, content_type, text = _post(running, key, jwt, f"?wait={value}")
    assert status == 200 and content_type == "application/json", text
    report = running.client.post(running.url(f"/jwt/v1/accounts/{key}?wait={value}"), content=jwt).json()
    assert report["account"] == key and report["wait_ms"] == capped
    assert report["notified"] is False and report["reason"] == "NATS is not configured"
    assert (report["answered"], report["confirmed"], report["refused"], report["servers"]) == (0, 0, [], [])
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).text == jwt


def test_without_wait_the_upload_answers_as_before(running: Running) -> None:
    key, jwt = _account(running)
    resp = running.client.post(running.url(f"/jwt/v1/accounts/{key}"), content=jwt)
    assert (resp.status_code, resp.content) == (200, b"")
    resp = running.client.post(running.url(f"/jwt/v1/accounts/{key}?other=1"), content=jwt)
    assert (resp.status_code, resp.content) == (200, b"")


def test_refused_upload_with_wait_keeps_its_plain_answer(running: Running) -> None:
    key, jwt = _account(running)
    other, _ = _account(running)
    status, content_type, text = _post(running, other, jwt, "?wait=100")
    assert (status, text) == (400, "pub keys don't match\n") and content_type.startswith("text/plain")
    assert _post(running, key, jwt)[0] == 200
    older = running.trust.account_jwt(_name(running, key), iat=int(time.time()) - 100)
    status, _, text = _post(running, key, older, "?wait=100")
    assert (status, text) == (409, "a newer JWT is already stored\n")


def _name(r: Running, key: str) -> str:
    return next(name for name, kp in r.trust.accounts.items() if kp.pub == key)


def test_status_errors(running: Running) -> None:
    key, jwt = _account(running)
    unknown = running.client.get(running.url(f"/jwt/v1/accounts/{key}/status"))
    assert (unknown.status_code, unknown.text) == (404, "no matching account JWT\n")
    bad = running.client.get(running.url("/jwt/v1/accounts/not-a-key/status"))
    assert bad.status_code == 400 and bad.text.startswith('bad account key "not-a-key"')
    assert _post(running, key, jwt)[0] == 200
    no_nats = running.client.get(running.url(f"/jwt/v1/accounts/{key}/status"))
    assert no_nats.status_code == 503
    assert no_nats.text == "cannot ask the nats-servers: NATS is not configured\n"
    bad_wait = running.client.get(running.url(f"/jwt/v1/accounts/{key}/status?wait=-3"))
    assert bad_wait.status_code == 400 and bad_wait.text.startswith('bad wait parameter "-3"')
    posted = running.client.post(running.url(f"/jwt/v1/accounts/{key}/status"), content=jwt)
    assert posted.status_code == 405 and posted.headers["allow"] == "GET, OPTIONS"


def test_routes_around_status_are_unchanged(running: Running) -> None:
    key, jwt = _account(running)
    assert _post(running, key, jwt)[0] == 200
    got = running.client.get(running.url(f"/jwt/v1/accounts/{key}"))
    assert got.status_code == 200 and got.text == jwt
    for probe in ("/jwt/v1/accounts", "/jwt/v1/accounts/"):
        resp = running.client.get(running.url(probe))
        assert (resp.status_code, resp.content) == (200, b"")
    for path in (
        f"/jwt/v1/accounts/{key}/statu",
        f"/jwt/v1/accounts/{key}/status/",
        "/jwt/v1/accounts//status",
    ):
        assert running.client.get(running.url(path)).status_code == 404, path

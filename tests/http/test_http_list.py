"""GET /jwt/v1/list/accounts and /jwt/v1/list/activations: pages in key order, the probe untouched."""

from __future__ import annotations

import time

from tests.http.conftest import Running


def _post_accounts(running: Running, names: list[str]) -> dict[str, str]:
    t = running.trust
    jwts = {}
    for name in names:
        if name not in t.accounts:
            t.add_account(name)
        jwt = t.account_jwt(name, exp=int(time.time()) + 3600)
        resp = running.client.post(running.url(f"/jwt/v1/accounts/{t.pub(name)}"), content=jwt)
        assert resp.status_code == 200, resp.text
        jwts[t.pub(name)] = jwt
    return jwts


def test_pages_walk_the_accounts_in_key_order(running: Running) -> None:
    t = running.trust
    _post_accounts(running, [f"L{i}" for i in range(7)] + ["A", "B"])
    stored = sorted(
        line.split("|", 1)[0] for line in running.client.get(running.url("/jwt/v1/pack")).text.splitlines()
    )
    stored = [k for k in stored if k.startswith("A")]
    seen: list[str] = []
    after = ""
    while True:
        body = running.client.get(running.url(f"/jwt/v1/list/accounts?limit=3&after={after}")).json()
        assert len(body["accounts"]) <= 3
        seen += [e["key"] for e in body["accounts"]]
        if body["next"] is None:
            break
        after = body["next"]
    assert seen == stored
    one = running.client.get(running.url("/jwt/v1/list/accounts?limit=10000")).json()
    entry = next(e for e in one["accounts"] if e["key"] == t.pub("L3"))
    assert entry["name"] == "L3" and entry["jti"] and entry["iat"] > 0 and entry["exp"] > entry["iat"]
    assert one["next"] is None


def test_activations_are_listed_apart(running: Running) -> None:
    t = running.trust
    act = t.activation_jwt("A", "B", "list.me")
    resp = running.client.post(running.url("/jwt/v1/activations"), content=act)
    assert resp.status_code == 200, resp.text
    body = running.client.get(running.url("/jwt/v1/list/activations")).json()
    assert any(e["name"] == "list.me" for e in body["activations"])
    accounts = running.client.get(running.url("/jwt/v1/list/accounts")).json()["accounts"]
    assert all(e["key"].startswith("A") for e in accounts)


def test_the_resolver_probe_is_unchanged(running: Running) -> None:
    for path in (
        "/jwt/v1/accounts",
        "/jwt/v1/accounts/",
        "/jwt/v1/accounts?list=true",
        "/jwt/v1/accounts/?limit=2",
    ):
        resp = running.client.get(running.url(path))
        assert resp.status_code == 200 and resp.content == b"", path


def test_bad_parameters_are_refused(running: Running) -> None:
    for query, text in (
        ("limit=0", "bad limit parameter"),
        ("limit=10001", "bad limit parameter"),
        ("limit=x", "bad limit parameter"),
        ("after=../..", "bad after parameter"),
        ("after=" + "A" * 200, "bad after parameter"),
    ):
        resp = running.client.get(running.url(f"/jwt/v1/list/accounts?{query}"))
        assert resp.status_code == 400 and text in resp.text, query
    assert running.client.post(running.url("/jwt/v1/list/accounts"), content=b"x").status_code == 405

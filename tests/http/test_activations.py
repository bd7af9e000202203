"""POST/GET /jwt/v1/activations against a real server process."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from nats_account_server.jwt import activation_hash, encode
from tests.http.conftest import Running
from tests.support.natsserver import NatsServer
from tests.support.procs import start_server
from tests.support.trust import Trust

# Appendix B keys
ACC1_SEED = "SAAAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAUN5U"
ACC1 = "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"
ACC2 = "ADWUSKGGFDI4FRXK5EBTRECZSVQSSWJHHJOGH6JWG3AUMFFMQ435D6HD"
WORKED_HASH = "GN456AELQ6AC2OLSK2YIUP23BHI52CUJAOMCEG33YAMIED7EX2YA===="
STALE = "stale-while-revalidate=3600, stale-if-error=3600"


def raw_activation(version: int, subject: str, sub: str = ACC2, seed: str = ACC1_SEED, **claims: Any) -> str:
    """An activation minted from raw claims (the Trust fixture only knows its own accounts)."""
    nats_claims: dict[str, Any] = {"subject": subject}
    body: dict[str, Any] = {"iat": int(time.time()), "name": subject, "sub": sub, **claims}
    if version == 2:
        nats_claims.update({"kind": "stream", "type": "activation", "version": 2})
    else:
        nats_claims["type"] = "stream"
        body["type"] = "activation"
    body["nats"] = nats_claims
    return encode(body, seed, version=version)


def post(r: Running, body: str | bytes) -> httpx.Response:
    headers = {"content-type": "application/jwt"}
    return r.client.post(r.url("/jwt/v1/activations"), content=body, headers=headers)


def get(r: Running, key: str, query: str = "", **kwargs: Any) -> httpx.Response:
    return r.client.get(r.url(f"/jwt/v1/activations/{key}{query}"), **kwargs)


def jti_of(jwt: str) -> str:
    from nats_account_server.jwt import peek_claims

    return peek_claims(jwt).jti


def test_post_then_get_activation(running: Running) -> None:
    """100: 200, then GET by hash with ETag and Cache-Control."""
    t = running.trust
    jwt = t.activation_jwt("A", "B", "private.orders")
    assert post(running, jwt).status_code == 200
    key = activation_hash(t.pub("A"), t.pub("B"), "private.orders")
    resp = get(running, key)
    assert resp.status_code == 200 and resp.text == jwt
    assert resp.headers["content-type"] == "application/jwt"
    assert resp.headers["etag"] == f'"{jti_of(jwt)}"'
    assert STALE in resp.headers["cache-control"]
    assert (running.store / f"{key}.jwt").read_text() == jwt


def test_worked_example_hash(running: Running) -> None:
    """101: Appendix B keys, subject `times.*` -> the activation hash."""
    jwt = raw_activation(running.trust.version, "times.*")
    assert post(running, jwt).status_code == 200
    resp = get(running, WORKED_HASH)
    assert resp.status_code == 200 and resp.text == jwt
    # other cleanings map onto the documented hashes
    for subject, expected in (
        ("foo.bar", "2XV2BJMQGFTN5MP4KDZPNYGT4GYIWOVRDPCVXW6U3ZJNNF2WSBLA===="),
        (">", "K2E453F6PRIUEF4I5SAT4U2CTVWJG536NH7FOWBWE47PRAE7ZCPA===="),
        ("foo.*.bar", "EATTE6CRWDETNU2XFXB6VXGJCRKH3Q4QDHVREQHBFUKIZ6TJS75Q===="),
    ):
        other = raw_activation(running.trust.version, subject)
        assert post(running, other).status_code == 200
        assert get(running, expected).text == other


def test_unknown_activation_is_404(running: Running) -> None:
    """102: `No Matching JWT`, text/plain; also for strings that are no hash at all."""
    for key in ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA====", "foo", ACC1):
        resp = get(running, key)
        assert resp.status_code == 404 and resp.text == "No Matching JWT\n"
        assert resp.headers["content-type"].startswith("text/plain")
    assert running.proc.wait_for_line("unable to find requested activation JWT for foo", since=0)


def test_bad_activation_posts_are_400(running: Running) -> None:
    """103: garbage, other claim types, bad signatures; plus the subject and hash checks of 5.8."""
    t = running.trust
    good = t.activation_jwt("A", "B", "x.y")
    head, payload, sig = good.split(".")
    forged = f"{head}.{payload}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    for body in ("", "garbage", "a.b.c", t.account_jwt("A"), t.user_jwt("a"), t.operator_jwt, forged):
        resp = post(running, body)
        assert resp.status_code == 400 and resp.text == "bad activation JWT in request\n", body[:30]
    user_sub = raw_activation(t.version, "x.y", sub=t.users["b"].keys.pub, seed=t.seed("A"))
    resp = post(running, user_sub)
    assert resp.status_code == 400 and resp.text == "bad activation JWT Subject in request\n"
    no_subject = raw_activation(t.version, "", seed=t.seed("A"))
    resp = post(running, no_subject)
    assert resp.status_code == 400 and resp.text == "bad activation hash in request\n"


def test_activation_get_parameters(running: Running) -> None:
    """105: text, decode and If-None-Match; `check` is ignored for activations."""
    t = running.trust
    jwt = t.activation_jwt("A", "C", "svc.q", kind="service")
    assert post(running, jwt).status_code == 200
    key = activation_hash(t.pub("A"), t.pub("C"), "svc.q")
    text = get(running, key, "?text=true")
    assert text.status_code == 200 and text.text == jwt and text.headers["content-type"] == "text/plain"
    assert "etag" not in text.headers
    decoded = get(running, key, "?decode=TRUE")
    assert decoded.status_code == 200 and decoded.headers["content-type"] == "text/plain"
    assert '"subject": "svc.q"' in decoded.text and decoded.text.endswith("\n")
    etag = f'"{jti_of(jwt)}"'
    for inm in (etag, f'"zzz", {etag}', f"W/{etag}"):
        resp = get(running, key, headers={"if-none-match": inm})
        assert resp.status_code == 304 and resp.content == b""
    assert get(running, key, headers={"if-none-match": "*"}).status_code == 200
    assert get(running, key, "?text=1").headers["content-type"] == "application/jwt"


def test_expired_stored_activation_is_served_and_check_ignored(running: Running) -> None:
    t = running.trust
    now = int(time.time())
    jwt = t.activation_jwt("B", "C", "old.stuff", iat=now - 100, exp=now - 10)
    key = activation_hash(t.pub("B"), t.pub("C"), "old.stuff")
    (running.store / f"{key}.jwt").write_text(jwt)
    for query in ("", "?check=true"):
        resp = get(running, key, query)
        assert resp.status_code == 200 and resp.text == jwt
        assert resp.headers["cache-control"] == f"max-age=0, {STALE}"


def test_expired_activation_post_is_400(running: Running) -> None:
    """106: expired -> 400 mentioning `expired`; not-yet-valid ones may be uploaded ahead of time."""
    t = running.trust
    now = int(time.time())
    expired = t.activation_jwt("A", "B", "late.x", iat=now - 100, exp=now - 10)
    resp = post(running, expired)
    assert resp.status_code == 400 and "expired" in resp.text
    key = activation_hash(t.pub("A"), t.pub("B"), "late.x")
    assert get(running, key).status_code == 404
    future = t.activation_jwt("A", "B", "early.x", nbf=now + 3600, exp=now + 7200)
    assert post(running, future).status_code == 200
    resp = get(running, activation_hash(t.pub("A"), t.pub("B"), "early.x"))
    assert resp.status_code == 200 and resp.text == future


def test_same_hash_overwrites_and_wildcards_share_a_hash(running: Running) -> None:
    t = running.trust
    first = t.activation_jwt("C", "A", "metrics.*", iat=int(time.time()) - 5)
    second = t.activation_jwt("C", "A", "metrics.>")  # cleaned to `metrics` as well
    key = activation_hash(t.pub("C"), t.pub("A"), "metrics")
    assert post(running, first).status_code == 200
    assert get(running, key).text == first
    assert post(running, second + "\n").status_code == 200  # trailing newline stripped
    assert get(running, key).text == second


def test_activation_issued_by_a_signing_key(running: Running, tmp_path: Path) -> None:
    """The hash uses `iss` (the signing key); `issuer_account` names the exporting account."""
    t = running.trust
    from nats_account_server.jwt import new_keypair

    seed, signing_pub = new_keypair("A")
    jwt = t.sign(t.activation_claims("A", "B", "signed.by.key", issuer_account=t.pub("A")), seed)
    assert post(running, jwt).status_code == 200
    assert get(running, activation_hash(signing_pub, t.pub("B"), "signed.by.key")).text == jwt


def test_activation_route_methods(running: Running) -> None:
    resp = running.client.get(running.url("/jwt/v1/activations"))
    assert resp.status_code == 405 and resp.headers["allow"] == "POST, OPTIONS"
    resp = running.client.post(running.url(f"/jwt/v1/activations/{WORKED_HASH}"), content=b"x")
    assert resp.status_code == 405 and resp.headers["allow"] == "GET, OPTIONS"


# --------------------------------------------------------------------------- notifications (104)


@pytest.mark.parametrize("version", [2, 1], ids=["v2", "v1"])
async def test_activation_notifications(
    version: int, tmp_path: Path, nats_factory: Callable[..., NatsServer]
) -> None:
    """104: POST and GET ?notify=true publish `$SYS.ACCOUNT.<iss>.CLAIMS.ACTIVATE.<hash>`."""
    t = Trust(tmp_path / "trust", version=version)
    server = nats_factory()
    config = (
        f'operatorjwtpath: "{t.operator_jwt_path}"\n'
        f'nats {{ servers: ["{server.url}"] }}\n'
        "logging { colors: false }\nhttp { host: 127.0.0.1, port: 0 }\n"
    )
    proc = start_server(config_text=config, tmp_path=tmp_path)
    proc.wait_for_line("connected to NATS for account and activation notifications", 10)
    nc = await nats.connect(server.url)
    try:
        sub = await nc.subscribe("$SYS.ACCOUNT.*.CLAIMS.ACTIVATE.*")
        await nc.flush()
        jwt = t.activation_jwt("A", "B", "events.>")
        key = activation_hash(t.pub("A"), t.pub("B"), "events.>")
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.post(f"{proc.url}/jwt/v1/activations", content=jwt)
            assert resp.status_code == 200
            msg = await sub.next_msg(timeout=3)
            assert msg.subject == f"$SYS.ACCOUNT.{t.pub('A')}.CLAIMS.ACTIVATE.{key}"
            assert msg.data.decode() == jwt
            resp = await client.get(f"{proc.url}/jwt/v1/activations/{key}?notify=true")
            assert resp.status_code == 200 and resp.text == jwt
            again = await sub.next_msg(timeout=3)
            assert again.subject == msg.subject and again.data == msg.data
            resp = await client.get(f"{proc.url}/jwt/v1/activations/{key}")  # no notify, no message
            assert resp.status_code == 200
            with pytest.raises(nats.errors.TimeoutError):
                await sub.next_msg(timeout=0.3)
    finally:
        await nc.close()
        proc.stop()


def test_activation_subjects_are_validated_and_logged_bounded(running: Running) -> None:
    """Activations whose subject is no valid subject (as the JWT library defines it: not empty, no
    spaces, no empty token) are refused with the library's issue; a NUL, which the library and
    nats-server accept, is stored and logged escaped; a long valid subject is stored, and the log
    line quotes it cut to a bounded length."""
    t = running.trust
    for subject in ("a b", "a..b", ".a", "a."):
        resp = post(running, raw_activation(t.version, subject, sub=t.pub("B"), seed=t.seed("A")))
        assert resp.status_code == 400 and "validation issues" in resp.text, (subject, resp.text)
    mark = running.proc.mark()
    assert (
        post(running, raw_activation(t.version, "a\x00b", sub=t.pub("B"), seed=t.seed("A"))).status_code
        == 200
    )
    assert running.proc.find_lines('"a\\x00b"', since=mark)
    long_subject = ".".join(["segment"] * 40_000)  # 320 KB, valid
    mark = running.proc.mark()
    resp = post(running, raw_activation(t.version, long_subject, sub=t.pub("B"), seed=t.seed("A")))
    assert resp.status_code == 200
    (line,) = running.proc.find_lines(re.compile(r"\[INF\] activation \S+ updated: "), since=mark)
    assert len(line) < 1000 and "more characters]" in line

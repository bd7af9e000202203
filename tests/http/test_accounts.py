"""GET/POST /jwt/v1/accounts against a real server process."""

from __future__ import annotations

import time
import uuid

from nats_account_server.jwt.encode import encode, new_keypair
from tests.http.conftest import Running

T1 = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBU1hIWE81NjI2QU5WWkNRMzJNNDdKTTVRSkZDN0hWSE1RQjRLUE"
    "s1Vk42QUlUTVZHM1hBIiwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJPQ0ZJUlk2NU9RRTdERlA1S0xOUzJQRjJMVlpNVVpZSlg0T1pJRVEzNk4y"
    "SVFBTlVCNVhWWU9DUyIsIm5hbWUiOiJBIiwic3ViIjoiQUNBVFM1WU9WQjZST1gyV1VOS0dOUTJNUDNHTVhETUtTRzJPNE41Q0xYM0E2VzRQWk"
    "daWklMMlIiLCJuYXRzIjp7ImxpbWl0cyI6eyJzdWJzIjotMSwiZGF0YSI6LTEsInBheWxvYWQiOi0xLCJpbXBvcnRzIjotMSwiZXhwb3J0cyI6"
    "LTEsIndpbGRjYXJkcyI6dHJ1ZSwiY29ubiI6LTEsImxlYWYiOi0xfSwiZGVmYXVsdF9wZXJtaXNzaW9ucyI6eyJwdWIiOnt9LCJzdWIiOnt9fS"
    "widHlwZSI6ImFjY291bnQiLCJ2ZXJzaW9uIjoyfX0.G_FqQkaR9z58GaPRj2GSTXwt1al2NEzyoj4UE2NGyNVE--fLfnTN-jBkFbnALUSJF1Dy"
    "BSzVqIhaC0sFJo1JCQ"
)
T1_KEY = "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"


def new_account(r: Running) -> str:
    name = "acc" + uuid.uuid4().hex[:8]
    r.trust.add_account(name)
    return name


def post(r: Running, key: str, body: str | bytes) -> tuple[int, str]:
    resp = r.client.post(
        r.url(f"/jwt/v1/accounts/{key}"), content=body, headers={"content-type": "application/jwt"}
    )
    return resp.status_code, resp.text


def jti_of(jwt: str) -> str:
    import base64
    import json

    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


# --------------------------------------------------------------------------- probes and general


def test_resolver_probe_both_spellings(running: Running) -> None:
    for path in ("/jwt/v1/accounts", "/jwt/v1/accounts/"):
        resp = running.client.get(running.url(path))
        assert resp.status_code == 200 and resp.content == b""
        assert resp.headers["cache-control"] == "no-cache, no-store, must-revalidate"
        assert resp.headers["pragma"] == "no-cache" and resp.headers["expires"] == "0"


def test_healthz_help_and_unknown_paths(running: Running) -> None:
    assert running.client.get(running.url("/healthz")).status_code == 200
    first = running.client.get(running.url("/jwt/v1/help"))
    second = running.client.get(running.url("/jwt/v1/help"))
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain")
    assert first.text == second.text and first.text.splitlines()[1] == "# NATS Account Server JWT API HELP"
    for route in ("/healthz", "/jwt/v1/accounts", "/jwt/v1/activations", "/jwt/v1/pack", "/jwt/v1/operator"):
        assert route in first.text
    for path in ("/jwt/v1/biz", "/biz/v1/accounts/", "/jwt/v1/accounts/A/extra"):
        resp = running.client.get(running.url(path))
        assert resp.status_code == 404 and resp.text == "404 page not found\n"


def test_method_not_allowed_and_options(running: Running) -> None:
    resp = running.client.request("HEAD", running.url("/jwt/v1/help"))
    assert resp.status_code == 405 and "OPTIONS" in resp.headers["allow"]
    assert running.client.request("HEAD", running.url("/healthz")).status_code == 200  # load balancers
    resp = running.client.post(running.url("/jwt/v1/accounts/"), content=b"x")
    assert resp.status_code == 405
    resp = running.client.request("OPTIONS", running.url("/jwt/v1/accounts/" + T1_KEY))
    assert resp.status_code == 200 and resp.headers["allow"] == "GET, POST, OPTIONS"


def test_cors(running: Running) -> None:
    resp = running.client.get(running.url("/healthz"), headers={"origin": "http://x"})
    assert resp.headers["access-control-allow-origin"] == "http://x"
    assert resp.headers["access-control-expose-headers"] == "Authorization"
    assert "Origin" in resp.headers["vary"]
    for method in ("GET", "POST"):
        pre = running.client.request(
            "OPTIONS",
            running.url("/jwt/v1/accounts/" + T1_KEY),
            headers={
                "origin": "http://x",
                "access-control-request-method": method,
                "access-control-request-headers": "content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "http://x"
        assert pre.headers["access-control-allow-methods"] == method
        assert pre.headers["access-control-allow-headers"] == "content-type"


def test_operator_route(running: Running) -> None:
    resp = running.client.get(running.url("/jwt/v1/operator"))
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/jwt"
    assert resp.text == running.trust.operator_jwt
    assert running.client.get(running.url("/jwt/v1/operator?text=true")).text == running.trust.operator_jwt
    decoded = running.client.get(running.url("/jwt/v1/operator?decode=true")).text
    alg = '"alg": "ed25519-nkey"' if running.trust.version == 2 else '"alg": "ed25519"'
    assert alg in decoded


# --------------------------------------------------------------------------- GET


def test_unknown_account_is_404(running: Running) -> None:
    resp = running.client.get(running.url(f"/jwt/v1/accounts/{T1_KEY}"))
    assert resp.status_code == 404


def test_get_stored_account_headers_and_304(running: Running) -> None:
    name = new_account(running)
    jwt = running.trust.account_jwt(name)
    key = running.trust.pub(name)
    assert post(running, key, jwt) == (200, "")
    resp = running.client.get(running.url(f"/jwt/v1/accounts/{key}"))
    assert resp.status_code == 200 and resp.text == jwt
    assert resp.headers["content-type"] == "application/jwt"
    etag = f'"{jti_of(jwt)}"'
    assert resp.headers["etag"] == etag
    assert resp.headers["cache-control"] == "max-age=0, stale-while-revalidate=3600, stale-if-error=3600"
    for inm in (etag, f'"other", {etag}', f"W/{etag}"):
        not_modified = running.client.get(
            running.url(f"/jwt/v1/accounts/{key}"), headers={"if-none-match": inm}
        )
        assert not_modified.status_code == 304 and not_modified.content == b""
    star = running.client.get(running.url(f"/jwt/v1/accounts/{key}"), headers={"if-none-match": "*"})
    assert star.status_code == 200


def test_cache_control_follows_exp(running: Running) -> None:
    name = new_account(running)
    exp = int(time.time()) + 1000
    key = running.trust.pub(name)
    assert post(running, key, running.trust.account_jwt(name, exp=exp))[0] == 200
    control = running.client.get(running.url(f"/jwt/v1/accounts/{key}")).headers["cache-control"]
    max_age = int(control.split(",")[0].split("=")[1])
    assert abs(max_age - (exp - time.time())) <= 2
    assert control.endswith("stale-while-revalidate=3600, stale-if-error=3600")


def test_expired_file_check_text_decode(running: Running) -> None:
    name = new_account(running)
    key = running.trust.pub(name)
    jwt = running.trust.account_jwt(name, exp=int(time.time()) - 100, iat=int(time.time()) - 200)
    (running.store / f"{key}.jwt").write_text(jwt)
    plain_get = running.client.get(running.url(f"/jwt/v1/accounts/{key}"))
    assert plain_get.status_code == 200 and plain_get.text == jwt
    assert plain_get.headers["cache-control"].startswith("max-age=0,")
    checked = running.client.get(running.url(f"/jwt/v1/accounts/{key}?check=TRUE"))
    assert checked.status_code == 404 and checked.content == b""
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}?check=1")).status_code == 200
    text = running.client.get(running.url(f"/jwt/v1/accounts/{key}?text=true&decode=true&check=true"))
    assert text.status_code == 200 and text.text == jwt and text.headers["content-type"] == "text/plain"
    decoded = running.client.get(running.url(f"/jwt/v1/accounts/{key}?decode=true&check=true"))
    assert decoded.status_code == 200
    assert time.strftime("%Y-%m-%d", time.gmtime(int(time.time()) - 100)) in decoded.text
    alg = '"alg": "ed25519-nkey"' if running.trust.version == 2 else '"alg": "ed25519"'
    assert alg in decoded.text


def test_decode_shows_import_token(running: Running) -> None:
    exporter, importer = new_account(running), new_account(running)
    token = running.trust.activation_jwt(exporter, importer, "private.stream")
    imports = [
        {
            "name": "p",
            "subject": "private.stream",
            "account": running.trust.pub(exporter),
            "token": token,
            "type": "stream",
        }
    ]
    key = running.trust.pub(importer)
    assert post(running, key, running.trust.account_jwt(importer, imports=imports))[0] == 200
    decoded = running.client.get(running.url(f"/jwt/v1/accounts/{key}?decode=true")).text
    assert '"token": {' in decoded and '"subject": "private.stream"' in decoded


def test_notify_without_nats_and_jti(running: Running) -> None:
    name = new_account(running)
    key = running.trust.pub(name)
    assert post(running, key, running.trust.account_jwt(name))[0] == 200
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}?notify=true")).status_code == 200
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}?jti=x")).status_code == 501


def test_system_account_served_from_configuration(running: Running) -> None:
    key = running.trust.system_account
    resp = running.client.get(running.url(f"/jwt/v1/accounts/{key}"))
    assert resp.status_code == 200
    assert resp.text == running.trust.system_account_jwt_path.read_text()


def test_hand_dropped_and_edited_files_are_served(running: Running) -> None:
    name = new_account(running)
    key = running.trust.pub(name)
    first = running.trust.account_jwt(name, iat=int(time.time()) - 10)
    (running.store / f"{key}.jwt").write_text(first)
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).text == first
    second = running.trust.account_jwt(name, limits={"conn": 5})
    tmp = running.store / f".{key}.edit"
    tmp.write_text(second)
    tmp.rename(running.store / f"{key}.jwt")
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if running.client.get(running.url(f"/jwt/v1/accounts/{key}")).text == second:
            break
        time.sleep(0.05)
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).text == second


def test_hostile_keys_never_reach_the_filesystem(running: Running) -> None:
    outside = running.store.parent / "secret.jwt"
    outside.write_text("not for you")
    for key in (
        "..%2Fsecret",
        "..",
        "%2E%2E%2Fsecret",
        T1_KEY.lower(),
        "SA" + T1_KEY[2:],
        "A" * 500,
        "x%00y",
    ):
        resp = running.client.get(running.url(f"/jwt/v1/accounts/{key}"))
        assert resp.status_code == 404, key
        assert "not for you" not in resp.text
    assert running.client.get(running.url("/jwt/v1/accounts/../secret")).status_code == 404
    assert sorted(p.name for p in running.store.parent.iterdir() if p.is_file()) == [
        "secret.jwt",
        "server.conf",
    ]


# --------------------------------------------------------------------------- POST


def test_post_by_operator_and_signing_key(running: Running) -> None:
    for signer in ("operator", "signing_key"):
        name = new_account(running)
        key = running.trust.pub(name)
        jwt = running.trust.account_jwt(name, signer=signer)
        assert post(running, key, jwt) == (200, "")
        assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).text == jwt
        assert (running.store / f"{key}.jwt").read_text() == jwt
        assert post(running, key, jwt) == (200, "")  # idempotent


def test_post_rejections(running: Running) -> None:
    t = running.trust
    name = new_account(running)
    key = t.pub(name)
    good = t.account_jwt(name)
    assert post(running, key + "x", good) == (400, "pub keys don't match\n")
    assert post(running, key, "hello world") == (400, "bad JWT in request\n")
    assert post(running, key, b"\xff\xfe") == (400, "bad JWT in request\n")
    assert post(running, key, t.account_jwt(name, signer=name)) == (400, "Signing service not enabled\n")
    stranger = foreign_operator_jwt(running, name)
    assert post(running, key, stranger) == (400, "untrusted issuer in request\n")
    status, body = post(
        running, key, t.account_jwt(name, exp=int(time.time()) - 5, iat=int(time.time()) - 50)
    )
    assert status == 400 and "expired" in body
    assert post(running, key, t.account_jwt(name, nbf=int(time.time()) + 3600))[0] == 400
    user = sorted(t.users)[0]
    assert post(running, t.pub(t.users[user].account), t.user_jwt(user))[0] == 400
    assert post(running, key, t.activation_jwt(name, name, "x.y"))[0] == 400
    assert not (running.store / f"{key}.jwt").exists()
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).status_code == 404
    # a JWT expiring in 2 s is still accepted
    assert post(running, key, t.account_jwt(name, exp=int(time.time()) + 2)) == (200, "")


def foreign_operator_jwt(running: Running, name: str) -> str:
    """An account JWT for a known key, signed by an operator nobody trusts."""
    seed, _ = new_keypair("O")
    claims = running.trust.account_claims(name)
    claims.pop("iss", None)
    claims.pop("jti", None)
    return encode(claims, seed, version=running.trust.version)


def test_post_older_iat_conflicts_and_trailing_newline(running: Running) -> None:
    name = new_account(running)
    key = running.trust.pub(name)
    now = int(time.time())
    newer = running.trust.account_jwt(name, iat=now)
    older = running.trust.account_jwt(name, iat=now - 100)
    assert post(running, key, newer + "\r\n") == (200, "")
    assert (running.store / f"{key}.jwt").read_text() == newer
    assert post(running, key, older) == (409, "a newer JWT is already stored\n")
    assert running.client.get(running.url(f"/jwt/v1/accounts/{key}")).text == newer


def test_post_body_limit(running: Running) -> None:
    name = new_account(running)
    status, body = post(running, running.trust.pub(name), b"a" * (1024 * 1024 + 10))
    assert status == 413 and body == "request body too large\n"
    assert running.client.get(running.url("/healthz")).status_code == 200


def test_an_oversized_body_sent_whole_gets_its_413_not_a_reset(running: Running) -> None:
    """A client that writes the whole body before reading (curl, most HTTP libraries) reads the 413:
    the server drops the body instead of closing a socket with unread data, which resets it."""
    import socket

    key = running.trust.pub(new_account(running))
    body = b"a" * (3 * 1024 * 1024)
    head = (
        f"POST /jwt/v1/accounts/{key} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(10):
        with socket.create_connection(("127.0.0.1", running.proc.port), timeout=10) as sock:
            sock.sendall(head + body)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith(b"too large\n"):
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {answer!r}"
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413 ")
    assert running.client.get(running.url("/healthz")).status_code == 200


def test_served_t1_vector_from_file(running: Running) -> None:
    # T1 is signed by the appendix operator: it is served (GET does not check trust) but never accepted
    (running.store / f"{T1_KEY}.jwt").write_text(T1)
    resp = running.client.get(running.url(f"/jwt/v1/accounts/{T1_KEY}"))
    assert resp.status_code == 200 and resp.text == T1
    assert resp.headers["etag"] == '"ASXHXO5626ANVZCQ32M47JM5QJFC7HVHMQB4KPK5VN6AITMVG3XA"'
    assert post(running, T1_KEY, T1) == (400, "untrusted issuer in request\n")
    (running.store / f"{T1_KEY}.jwt").unlink()
    deadline = time.monotonic() + 2
    while running.client.get(running.url(f"/jwt/v1/accounts/{T1_KEY}")).status_code != 404:
        assert time.monotonic() < deadline, "a deleted file is still served"
        time.sleep(0.05)


def test_http11_request_without_host_is_400(running: Running) -> None:
    """RFC 9112: an HTTP/1.1 request without Host is a 400; HTTP/1.0 needs none."""
    import socket

    def ask(request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", running.proc.port), timeout=5) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return data

    name = new_account(running)
    key = running.trust.pub(name)
    assert post(running, key, running.trust.account_jwt(name))[0] == 200
    for path in (f"/jwt/v1/accounts/{key}", "/healthz"):
        answer = ask(f"GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400") and answer.endswith(b"missing Host header\n"), answer[:80]
        host = ask(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert host.startswith(b"HTTP/1.1 200"), host[:80]
    assert ask(b"GET /healthz HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200")


def test_refused_uploads_are_logged_at_wrn(running: Running) -> None:
    """Every refused upload leaves a [WRN] line with the account, why, and the client's address
    (tests/http/test_audit_log.py has every reason)."""
    t = running.trust
    a, b = new_account(running), new_account(running)
    mark = running.proc.mark()
    assert post(running, t.pub(a), b"\xff\xfe") == (400, "bad JWT in request\n")
    assert post(running, t.pub(b), t.account_jwt(a))[0] == 400
    assert post(running, t.pub(a), t.account_jwt(a, signer=a))[0] == 400
    now = int(time.time())
    assert post(running, t.pub(a), t.account_jwt(a, iat=now + 10))[0] == 200
    assert post(running, t.pub(a), t.account_jwt(a, iat=now))[0] == 409
    for line in (
        f"[WRN] account {t.pub(a)[:12]} refused: bad JWT in request (the body is not UTF-8 text), via http",
        f"[WRN] account {t.pub(b)[:12]} refused: pub keys don't match (the JWT is for {t.pub(a)[:12]}), via",
        f"[WRN] account {t.pub(a)[:12]} refused: Signing service not enabled (the JWT is self-signed), via",
        f"[WRN] account {t.pub(a)[:12]} refused: a newer JWT is already stored (jti ",
    ):
        assert running.proc.find_lines(line, since=mark), line


def test_a_hand_edit_of_the_store_is_served_by_the_very_next_get(running: Running) -> None:
    """Files are the truth on every request: a hot account edited by hand (in place or replaced by
    a rename, as editors and scripts do) is served new at once, without waiting for the watcher."""
    import os

    name = "HAND_EDITED"
    running.trust.add_account(name)
    key = running.trust.pub(name)
    url = running.url(f"/jwt/v1/accounts/{key}")
    first = running.trust.account_jwt(name, tags=["first"])
    assert running.client.post(url, content=first).status_code == 200
    for _ in range(3):  # hot now
        assert running.client.get(url).text == first
    path = running.store / f"{key}.jwt"
    for n in range(5):
        edited = running.trust.account_jwt(name, tags=[f"edit-{n}"])
        if n % 2:
            path.write_text(edited)
        else:
            (running.store / "edit.tmp").write_text(edited)
            os.replace(running.store / "edit.tmp", path)
        reply = running.client.get(url)
        assert reply.status_code == 200 and reply.text == edited, n
    path.unlink()
    assert running.client.get(url).status_code == 404

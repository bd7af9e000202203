"""What a refused request tells the operator: why it was refused and what to do instead (real server
process, real sockets). The 405s of read-only, nsc and replica servers are in tests/readonly and
tests/replica."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.procs import start_server
from tests.support.trust import Trust

NO_OPERATOR = (
    "no operator is configured, so this server cannot accept uploads;"
    " configure the operator JWT with -operator <file> or operatorjwtpath"
)


def test_upload_without_operator_says_how_to_configure_one(tmp_path: Path, trust: Trust) -> None:
    """Without an operator no issuer is trusted: the client and the log say so, not "untrusted
    issuer", and name the flag and the setting that configure one."""
    store = tmp_path / "store"
    proc = start_server("-dir", store, tmp_path=tmp_path)
    key = trust.pub("A")
    resp = httpx.post(f"{proc.url}/jwt/v1/accounts/{key}", content=trust.account_jwt("A"), timeout=10)
    assert resp.status_code == 400 and resp.text == NO_OPERATOR + "\n"
    line = proc.wait_for_line(f"[WRN] account {key[:12]} refused: ")
    assert f"refused: {NO_OPERATOR} (issued by {trust.operator.pub[:12]}" in line, line
    assert "untrusted" not in line and not (store / f"{key}.jwt").exists()


def test_method_not_allowed_names_the_allowed_methods(tmp_path: Path, trust: Trust) -> None:
    """A 405 on a writable server: which methods the route takes (the Allow header stays), and for
    the POST-only activations route and the accounts probe, where to send what."""
    conf = f'operatorjwtpath: "{trust.operator_jwt_path}"\nstore {{ dir: "{tmp_path / "store"}" }}\n'
    proc = start_server(config_text=conf, tmp_path=tmp_path)
    key = trust.pub("A")
    with httpx.Client(base_url=proc.url, timeout=10) as http:
        resp = http.delete(f"/jwt/v1/accounts/{key}")
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, POST, OPTIONS"
        assert resp.text == (
            "DELETE not allowed: delete must be enabled in server config (store { allow_delete: true })\n"
        )
        resp = http.put("/jwt/v1/help", content=b"x")
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, OPTIONS"
        assert resp.text == "PUT not allowed on /jwt/v1/help: allowed are GET, OPTIONS\n"
        resp = http.get("/jwt/v1/activations")
        assert resp.status_code == 405 and resp.headers["allow"] == "POST, OPTIONS"
        assert resp.text == (
            "GET not allowed on /jwt/v1/activations: POST an activation JWT there;"
            " GET one at /jwt/v1/activations/<hash>\n"
        )
        resp = http.post("/jwt/v1/accounts/", content=trust.account_jwt("A"))
        assert resp.status_code == 405 and resp.headers["allow"] == "GET, OPTIONS"
        assert resp.text == (
            "POST not allowed on /jwt/v1/accounts/: upload an account JWT to"
            " /jwt/v1/accounts/<account public key>\n"
        )

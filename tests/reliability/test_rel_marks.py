"""Verified marks across restarts (stores/marks.py), with a real server process and both JWT generations.

A file the server verified is served after a restart from its mark; a mark never vouches for other bytes:
a file changed while the server was down (forged signature, another account's JWT and mark) is checked
again and answered as it deserves.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from nats_account_server.stores.marks import XATTR
from tests.reliability.rel_helpers import jti_of, server_config, start
from tests.support.trust import Trust

TIMEOUT = 10.0


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def trust(request: pytest.FixtureRequest, tmp_path: Path) -> Trust:
    return Trust(tmp_path / "trust", version=request.param)


def test_marks_outlive_restarts_and_vouch_only_for_their_own_bytes(tmp_path: Path, trust: Trust) -> None:
    store = tmp_path / "store"
    config = server_config(trust, store)
    jwts = {name: trust.account_jwt(name) for name in ("A", "B", "C")}
    files = {name: store / f"{trust.pub(name)}.jwt" for name in jwts}
    proc = start(tmp_path, config)
    with httpx.Client(timeout=TIMEOUT) as client:
        for name, jwt in jwts.items():
            url = f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}"
            assert client.post(url, content=jwt).status_code == 200
            assert XATTR not in os.listxattr(files[name])  # written, not yet served
            assert client.get(url).text == jwt
            assert XATTR in os.listxattr(files[name])  # verified once, sealed
    proc.stop()

    # while it is down: B gets a forged signature, C gets A's JWT together with A's mark
    files["B"].write_bytes(files["B"].read_bytes()[:-4] + b"AAAA")  # in place: B's mark stays
    files["C"].write_bytes(files["A"].read_bytes())
    os.setxattr(files["C"], XATTR, os.getxattr(files["A"], XATTR))

    proc = start(tmp_path, config)
    with httpx.Client(timeout=TIMEOUT) as client:
        a = client.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}")
        assert a.status_code == 200 and a.text == jwts["A"]
        assert a.headers["etag"] == f'"{jti_of(jwts["A"])}"'  # from the mark, as first served
        b = client.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('B')}")
        assert (b.status_code, b.text) == (500, "error loading JWT\n")
        proc.wait_for_line("error loading JWT", TIMEOUT)
        c = client.get(f"{proc.url}/jwt/v1/accounts/{trust.pub('C')}")
        assert c.status_code == 200 and c.text == jwts["A"]  # served as any hand-copied file: checked first
        proc.wait_for_line("differs from the requested key", TIMEOUT)
    assert "Traceback" not in proc.stderr_text()
    proc.stop()

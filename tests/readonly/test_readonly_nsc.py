"""The nsc store through the real server process: ``-nsc <OpDir>`` and
``store { nsc: ... }`` over a folder laid out exactly as nsc lays it out."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from readonly_helpers import NscFolder, nsc_write

from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

PY = [sys.executable, "-m", "nats_account_server"]


def get(proc: ServerProcess, path: str) -> httpx.Response:
    return httpx.get(f"{proc.url}{path}", timeout=10)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A server expected to refuse to start (bounded, so a server that starts anyway fails the test)."""
    return subprocess.run(
        [*PY, *args, "-hp", "127.0.0.1:0"], capture_output=True, text=True, timeout=20, cwd=cwd
    )


def test_nsc_flag_startup_log_and_operator(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """The seed's log lines; the operator JWT comes from ``<OpDir>/<basename>.jwt``."""
    proc = start_server("-nsc", nsc_folder.dir, tmp_path=tmp_path)
    log = proc.stderr_text()
    lines = [
        f"[INF] loading operator from {nsc_folder.dir}/Test.jwt",
        f"[INF] creating a read-only store for the NSC folder at {nsc_folder.dir}",
        "[INF] NATS is not configured, server will not fire notifications on update",
        "[INF] nats-account-server is running",
    ]
    positions = [log.find(line) for line in lines]
    assert -1 not in positions and positions == sorted(positions), log
    resp = get(proc, "/jwt/v1/operator")
    assert resp.status_code == 200 and resp.text == nsc_folder.trust.operator_jwt


def test_nsc_flag_relative_and_home_paths(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """``-nsc`` values are expanded (``~``, relative paths) before the operator path is derived."""
    rel = nsc_folder.dir.relative_to(tmp_path)
    proc = start_server("-nsc", f"./{rel}/", tmp_path=tmp_path)
    assert proc.find_lines(f"loading operator from {nsc_folder.dir}/Test.jwt")
    home = start_server("-nsc", f"~/{rel}", tmp_path=tmp_path, env={"HOME": str(tmp_path)})
    assert home.find_lines(f"creating a read-only store for the NSC folder at {nsc_folder.dir}")
    pub = nsc_folder.trust.pub("A")
    assert get(home, f"/jwt/v1/accounts/{pub}").text == nsc_folder.account_path("A").read_text()


def test_nsc_accounts_found_by_subject(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """Account folders are named by account name; GET by public key finds them via ``sub``."""
    trust = nsc_folder.trust
    proc = start_server("-nsc", nsc_folder.dir, tmp_path=tmp_path)
    for name in ("A", "B", "SYS"):
        resp = get(proc, f"/jwt/v1/accounts/{trust.pub(name)}")
        assert resp.status_code == 200, name
        assert resp.text == nsc_folder.account_path(name).read_text()
        assert resp.headers["content-type"] == "application/jwt"
        decoded = get(proc, f"/jwt/v1/accounts/{trust.pub(name)}?decode=true")
        assert decoded.status_code == 200 and f'"sub": "{trust.pub(name)}"' in decoded.text
    assert get(proc, f"/jwt/v1/accounts/{trust.pub('C')}").status_code == 404  # not in the folder


def test_nsc_users_are_never_served(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """``users/`` is ignored, even when a file there holds an account JWT."""
    trust = nsc_folder.trust
    # an account JWT misfiled among A's users, and one at the wrong depth: neither is an nsc account
    nsc_write(nsc_folder.dir / "accounts" / "A" / "users" / "C.jwt", trust.account_jwt("C"))
    nsc_write(nsc_folder.dir / "accounts" / "C.jwt", trust.account_jwt("C"))
    proc = start_server("-nsc", nsc_folder.dir, tmp_path=tmp_path)
    assert get(proc, f"/jwt/v1/accounts/{trust.pub('A')}").status_code == 200
    assert get(proc, f"/jwt/v1/accounts/{trust.pub('C')}").status_code == 404
    for user in ("a", "b", "sys"):
        assert get(proc, f"/jwt/v1/accounts/{trust.users[user].keys.pub}").status_code == 404


def test_nsc_store_is_read_only(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """POST -> 405 (no POST route on read-only stores), pack -> 404, activations -> 404."""
    trust = nsc_folder.trust
    proc = start_server("-nsc", nsc_folder.dir, tmp_path=tmp_path)
    before = nsc_folder.account_path("A").read_text()
    resp = httpx.post(
        f"{proc.url}/jwt/v1/accounts/{trust.pub('A')}",
        content=trust.account_jwt("A", tags=["new"]),
        headers={"Content-Type": "application/jwt"},
    )
    assert resp.status_code == 405
    resp = httpx.post(f"{proc.url}/jwt/v1/accounts/{trust.pub('C')}", content=trust.account_jwt("C"))
    assert resp.status_code == 405 and resp.headers["allow"] == "GET, OPTIONS"
    assert resp.text == (
        f"POST not allowed: the store is the nsc folder {nsc_folder.dir}, served read-only (-nsc);"
        " change accounts with nsc\n"
    )
    assert nsc_folder.account_path("A").read_text() == before
    assert not (nsc_folder.dir / "accounts" / "C").exists()
    assert get(proc, "/jwt/v1/pack").status_code == 404
    activation = trust.activation_jwt("A", "B", "foo")
    # no activation upload route at all on a read-only server
    assert httpx.post(f"{proc.url}/jwt/v1/activations", content=activation).status_code == 404
    assert get(proc, "/jwt/v1/activations/" + "A" * 52 + "====").status_code == 404


def test_nsc_new_and_edited_accounts_served_without_restart(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """``nsc add account`` / ``nsc edit account`` while the server runs (no NATS needed)."""
    trust = nsc_folder.trust
    proc = start_server("-nsc", nsc_folder.dir, tmp_path=tmp_path)
    c = trust.pub("C")
    assert get(proc, f"/jwt/v1/accounts/{c}").status_code == 404
    jwt_c = nsc_folder.add_account("C", users=("c",))
    assert wait_for_body(proc, c, jwt_c)
    edited = trust.account_jwt("A", tags=["edited"])
    assert get(proc, f"/jwt/v1/accounts/{trust.pub('A')}").status_code == 200  # cached now
    nsc_write(nsc_folder.account_path("A"), edited)
    assert wait_for_body(proc, trust.pub("A"), edited)


def wait_for_body(proc: ServerProcess, pub: str, body: str, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = get(proc, f"/jwt/v1/accounts/{pub}")
        if resp.status_code == 200 and resp.text == body:
            return True
        time.sleep(0.02)
    return False


def test_nsc_store_from_config_file(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """``store { nsc: ... }``: same store; ``operatorjwtpath`` stays as configured in the file."""
    trust = nsc_folder.trust
    conf = f'operatorjwtpath: "{nsc_folder.operator_jwt_path}"\nstore {{ nsc: "{nsc_folder.dir}" }}\n'
    proc = start_server(config_text=conf, tmp_path=tmp_path)
    assert proc.find_lines(f"creating a read-only store for the NSC folder at {nsc_folder.dir}")
    assert get(proc, f"/jwt/v1/accounts/{trust.pub('B')}").text == nsc_folder.account_path("B").read_text()
    assert get(proc, "/jwt/v1/operator").text == trust.operator_jwt
    assert httpx.post(f"{proc.url}/jwt/v1/accounts/{trust.pub('B')}", content="x").status_code == 405


def test_nsc_flag_replaces_the_store_block(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """``-nsc`` drops ``dir``/``readonly``/``shard`` from the file and sets the operator path."""
    other = tmp_path / "other.jwt"
    other.write_text("not a jwt")
    writable = tmp_path / "writable"
    conf = f'operatorjwtpath: "{other}"\nstore {{ dir: "{writable}", shard: true }}\n'
    proc = start_server("-nsc", nsc_folder.dir, config_text=conf, tmp_path=tmp_path)
    assert proc.find_lines(f"loading operator from {nsc_folder.operator_jwt_path}")
    assert proc.find_lines("creating a read-only store for the NSC folder at")
    assert not writable.exists()


def test_nsc_folder_without_nsc_file_exits_1(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """A folder that is not an nsc operator folder is a startup error."""
    (nsc_folder.dir / ".nsc").unlink()
    result = run_cli("-nsc", str(nsc_folder.dir), cwd=tmp_path)
    assert result.returncode == 1
    assert f'"{nsc_folder.dir}" is not an nsc operator folder (no .nsc file in it)' in result.stderr
    conf = tmp_path / "s.conf"
    conf.write_text(f'store {{ nsc: "{nsc_folder.dir}" }}\n')
    result = run_cli("-c", str(conf), cwd=tmp_path)
    assert result.returncode == 1 and "is not an nsc operator folder (no .nsc file" in result.stderr


def test_nsc_pointed_at_the_wrong_folder_says_which_to_use(tmp_path: Path, any_trust: Trust) -> None:
    """The nsc ``stores`` folder (one level too high) or an operator's ``accounts`` folder (too low):
    the error says which folder it expected and the operator folders it found, for ``-nsc``, for
    ``-t`` and for ``store.nsc`` in the file; nothing is started."""
    stores = tmp_path / "nsc" / "stores"
    op_a = NscFolder(stores, any_trust, name="OP_A")
    op_a.add_account("A")
    NscFolder(stores, any_trust, name="OP_B")
    high = (
        f'"{stores}" is not an nsc operator folder (no .nsc file or stores.jwt in it);'
        f" it contains operator folders: OP_A, OP_B"
    )
    result = run_cli("-nsc", str(stores), cwd=tmp_path)
    assert result.returncode == 1 and f"{high}; start with -nsc {op_a.dir}\n" in result.stderr
    assert "Traceback" not in result.stderr and "running" not in result.stderr
    result = run_cli("-t", "-nsc", str(stores), cwd=tmp_path)
    assert (
        result.returncode == 1
        and result.stderr == f"nats-account-server: {high}; start with -nsc {op_a.dir}\n"
    )
    accounts = op_a.dir / "accounts"
    result = run_cli("-nsc", str(accounts), cwd=tmp_path)
    assert result.returncode == 1
    assert (
        f'"{accounts}" is not an nsc operator folder (no .nsc file or accounts.jwt in it);'
        f" it is inside the operator folder {op_a.dir}; start with -nsc {op_a.dir}\n"
    ) in result.stderr
    conf = tmp_path / "s.conf"
    conf.write_text(f'store {{ nsc: "{stores.parent}" }}\n')
    result = run_cli("-c", str(conf), cwd=tmp_path)
    assert result.returncode == 1
    assert (
        f'"{stores.parent}" is not an nsc operator folder (no .nsc file or nsc.jwt in it);'
        f" it contains operator folders: stores/OP_A, stores/OP_B; set store.nsc to {op_a.dir}\n"
    ) in result.stderr


def test_nsc_bad_nsc_file_or_missing_folder_exits_1(tmp_path: Path, nsc_folder: NscFolder) -> None:
    (nsc_folder.dir / ".nsc").write_text("{not json")
    result = run_cli("-nsc", str(nsc_folder.dir), cwd=tmp_path)
    assert result.returncode == 1 and "error loading '.nsc' file" in result.stderr
    missing = tmp_path / "nsc" / "nats" / "Nope"
    result = run_cli("-nsc", str(missing), cwd=tmp_path)
    assert result.returncode == 1 and str(missing) in result.stderr


def test_nsc_undecodable_account_is_skipped(tmp_path: Path, nsc_folder: NscFolder) -> None:
    """NEW: one broken account file does not hide the others; it is skipped with a warning."""
    trust = nsc_folder.trust
    nsc_write(nsc_folder.dir / "accounts" / "AAA" / "AAA.jwt", "garbage")
    proc = start_server("-nsc", nsc_folder.dir, tmp_path=tmp_path)
    assert get(proc, f"/jwt/v1/accounts/{trust.pub('A')}").status_code == 200
    assert proc.find_lines("[WRN] skipping nsc account file")


def test_nsc_info_file_is_what_nsc_writes(nsc_folder: NscFolder) -> None:
    """The fixture itself: the layout nsc's store package creates (guards the other tests' realism)."""
    info = json.loads((nsc_folder.dir / ".nsc").read_text())
    assert info == {"managed": False, "name": "Test", "kind": "operator", "version": "1"}
    names = sorted(str(p.relative_to(nsc_folder.dir)) for p in nsc_folder.dir.rglob("*"))
    assert names == [
        ".nsc",
        "Test.jwt",
        "accounts",
        "accounts/A",
        "accounts/A/A.jwt",
        "accounts/A/users",
        "accounts/A/users/a.jwt",
        "accounts/B",
        "accounts/B/B.jwt",
        "accounts/B/users",
        "accounts/B/users/b.jwt",
        "accounts/SYS",
        "accounts/SYS/SYS.jwt",
        "accounts/SYS/users",
        "accounts/SYS/users/sys.jwt",
    ]
    assert oct(nsc_folder.account_path("A").stat().st_mode & 0o777) == "0o600"

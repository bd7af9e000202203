"""Read-only directory stores through the real server process:
``-dir D -ro``, ``store { dir: D, readonly: true, shard: true }``, and refused store combinations."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from readonly_helpers import NscFolder

from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

PY = [sys.executable, "-m", "nats_account_server"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A server expected to refuse to start (bounded, so a server that starts anyway fails the test)."""
    return subprocess.run(
        [*PY, *args, "-hp", "127.0.0.1:0"], capture_output=True, text=True, timeout=20, cwd=cwd
    )


def get(proc: ServerProcess, pub: str) -> httpx.Response:
    return httpx.get(f"{proc.url}/jwt/v1/accounts/{pub}", timeout=10)


def post(proc: ServerProcess, pub: str, jwt: str) -> httpx.Response:
    headers = {"Content-Type": "application/jwt"}
    return httpx.post(f"{proc.url}/jwt/v1/accounts/{pub}", content=jwt, headers=headers, timeout=10)


def wait_for_body(proc: ServerProcess, pub: str, body: str, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = get(proc, pub)
        if resp.status_code == 200 and resp.text == body:
            return True
        time.sleep(0.02)
    return False


def test_dir_ro_flag(tmp_path: Path, tmp_store: Path, any_trust: Trust) -> None:
    """``-dir D -ro`` serves the files, refuses POST with 405 and writes nothing."""
    a, b = any_trust.pub("A"), any_trust.pub("B")
    jwt_a = any_trust.account_jwt("A")
    (tmp_store / f"{a}.jwt").write_text(jwt_a)
    proc = start_server("-dir", tmp_store, "-ro", "-operator", any_trust.operator_jwt_path, tmp_path=tmp_path)
    assert proc.find_lines(f"[INF] creating a read-only store at {tmp_store}")
    assert get(proc, a).text == jwt_a
    refused = post(proc, b, any_trust.account_jwt("B"))
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, OPTIONS"
    assert refused.text == (  # why, and where to push instead
        "POST not allowed: the store is read-only (store { readonly: true } or -ro);"
        f" push to a writable account server or change the files in {tmp_store}\n"
    )
    assert post(proc, a, any_trust.account_jwt("A", tags=["x"])).status_code == 405
    assert sorted(p.name for p in tmp_store.iterdir()) == [f"{a}.jwt"]
    assert httpx.get(f"{proc.url}/jwt/v1/pack", timeout=10).status_code == 200  # pack stays (dir store)
    # a file dropped in by hand is served without restart
    jwt_b = any_trust.account_jwt("B")
    (tmp_store / f"{b}.jwt").write_text(jwt_b)
    assert get(proc, b).text == jwt_b


def test_dir_ro_relative_path(tmp_path: Path, any_trust: Trust) -> None:
    (tmp_path / "jwts").mkdir()
    a = any_trust.pub("A")
    (tmp_path / "jwts" / f"{a}.jwt").write_text(any_trust.account_jwt("A"))
    proc = start_server("-dir", "jwts", "-ro", tmp_path=tmp_path)
    assert proc.find_lines(f"creating a read-only store at {tmp_path / 'jwts'}")
    assert get(proc, a).status_code == 200


def test_dir_ro_missing_directory_exits_1(tmp_path: Path) -> None:
    """A read-only store is never created; a missing or non-directory root is fatal."""
    missing = tmp_path / "missing"
    result = run_cli("-dir", str(missing), "-ro", cwd=tmp_path)
    assert result.returncode == 1
    assert f"the path [{missing}] doesn't exist" in result.stderr
    assert not missing.exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = run_cli("-dir", str(afile), "-ro", cwd=tmp_path)
    assert result.returncode == 1 and f"the path [{afile}] is not a directory" in result.stderr


def test_writable_dir_is_created_but_ro_is_not(tmp_path: Path) -> None:
    """The contrast: without ``-ro`` the same missing directory is created."""
    created = tmp_path / "a" / "b"
    proc = start_server("-dir", created, tmp_path=tmp_path)
    assert proc.find_lines(f"[INF] creating a store at {created}") and created.is_dir()


def test_dir_readonly_sharded_from_config(tmp_path: Path, tmp_store: Path, any_trust: Trust) -> None:
    """``store { dir: D, readonly: true, shard: true }``: files at ``D/<last two>/<key>.jwt``; POST 405."""
    a, b = any_trust.pub("A"), any_trust.pub("B")
    jwt_a = any_trust.account_jwt("A")
    (tmp_store / a[-2:]).mkdir()
    (tmp_store / a[-2:] / f"{a}.jwt").write_text(jwt_a)
    (tmp_store / f"{b}.jwt").write_text(any_trust.account_jwt("B"))  # unsharded: not where GET looks
    conf = (
        f'operatorjwtpath: "{any_trust.operator_jwt_path}"\n'
        f'store {{ dir: "{tmp_store}", readonly: true, shard: true }}\n'
    )
    proc = start_server(config_text=conf, tmp_path=tmp_path)
    assert proc.find_lines(f"creating a read-only store at {tmp_store}")
    assert get(proc, a).text == jwt_a
    assert get(proc, b).status_code == 404
    assert post(proc, a, any_trust.account_jwt("A", tags=["x"])).status_code == 405
    assert post(proc, b, any_trust.account_jwt("B")).status_code == 405
    assert not (tmp_store / b[-2:]).exists()
    # a new shard folder with a file in it is served without restart
    jwt_b = any_trust.account_jwt("B", tags=["sharded"])
    (tmp_store / b[-2:]).mkdir(exist_ok=True)
    (tmp_store / b[-2:] / f"{b}.jwt").write_text(jwt_b)
    assert wait_for_body(proc, b, jwt_b)


def test_dir_readonly_missing_from_config_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    conf = tmp_path / "s.conf"
    conf.write_text(f'store {{ dir: "{missing}", readonly: true, shard: true }}\n')
    result = run_cli("-c", str(conf), cwd=tmp_path)
    assert result.returncode == 1 and f"the path [{missing}] doesn't exist" in result.stderr


def test_ro_flag_keeps_shard_from_config(tmp_path: Path, tmp_store: Path, any_trust: Trust) -> None:
    """With ``-ro``, ``-dir D -ro`` replaces dir/readonly but keeps ``shard`` from the file."""
    a = any_trust.pub("A")
    (tmp_store / a[-2:]).mkdir()
    (tmp_store / a[-2:] / f"{a}.jwt").write_text(any_trust.account_jwt("A"))
    conf = 'store { dir: "/nonexistent", shard: true }\n'
    proc = start_server("-dir", tmp_store, "-ro", config_text=conf, tmp_path=tmp_path)
    assert proc.find_lines(f"creating a read-only store at {tmp_store}")
    assert get(proc, a).status_code == 200


@pytest.mark.parametrize("order", ["nsc-first", "dir-first"])
def test_dir_and_nsc_flags_exit_1(tmp_path: Path, tmp_store: Path, nsc_folder: NscFolder, order: str) -> None:
    """``-dir`` with ``-nsc`` is refused, whatever the order, with a clear message."""
    nsc = ["-nsc", str(nsc_folder.dir)]
    dir_ = ["-dir", str(tmp_store), "-ro"]
    args = nsc + dir_ if order == "nsc-first" else dir_ + nsc
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert "-nsc and -dir are mutually exclusive" in result.stderr


def test_dir_and_nsc_in_config_exit_1(tmp_path: Path, tmp_store: Path, nsc_folder: NscFolder) -> None:
    """``store.dir`` together with ``store.nsc`` is refused."""
    conf = tmp_path / "s.conf"
    conf.write_text(f'store {{ dir: "{tmp_store}", nsc: "{nsc_folder.dir}", readonly: true }}\n')
    result = run_cli("-c", str(conf), cwd=tmp_path)
    assert result.returncode == 1 and "dir and nsc are mutually exclusive" in result.stderr

"""OS errors in messages read as an operator reads them (``/x: no such file or directory``), never as
Python prints them (``[Errno 2] No such file or directory: '/x'``): the helper, and the startup errors
of a real server process for a missing operator file, a store folder that cannot be made and files
that cannot be read."""

from __future__ import annotations

import errno
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from nats_account_server.boundedfiles import RefusedFile, plain
from nats_account_server.oserrors import error_text, os_error, os_reason
from tests.support.trust import Trust

PY = [sys.executable, "-m", "nats_account_server"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A server expected to refuse to start (bounded, so a server that starts anyway fails the test)."""
    return subprocess.run(
        [*PY, *args, "-hp", "127.0.0.1:0"], capture_output=True, text=True, timeout=20, cwd=cwd
    )


def test_os_errors_read_as_an_operator_reads_them(tmp_path: Path) -> None:
    try:
        (tmp_path / "x").read_bytes()
    except OSError as exc:
        missing = exc
    assert os_error(missing) == f"{tmp_path / 'x'}: no such file or directory"
    assert os_error(missing, known=str(tmp_path / "x")) == "no such file or directory"
    assert os_reason(missing) == plain(missing) == "no such file or directory"
    assert error_text(missing) == os_error(missing)
    renamed = OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")
    assert os_error(renamed) == "/a -> /b: invalid cross-device link"
    assert os_reason(PermissionError(errno.EACCES, "whatever the library said")) == "permission denied"
    assert os_reason(RefusedFile("not a regular file (a FIFO)")) == "not a regular file (a FIFO)"
    assert os_reason(socket.gaierror(-2, "Name or service not known")) == "name or service not known"
    assert os_reason(TimeoutError()) == "timed out"
    assert os_reason(ssl.SSLError(9, "[SSL] PEM lib (_ssl.c:3905)")).startswith("not a PEM file")
    assert os_reason(ssl.SSLError(1, "[SSL: KEY_VALUES_MISMATCH] key values mismatch (_ssl.c:3905)")) == (
        "key values mismatch"
    )


def test_other_errors_keep_their_text_without_class_names() -> None:
    assert error_text(None) == "unknown error"
    assert error_text(ValueError("bad value\n  more")) == "bad value; more"

    class ConnectionClosedError(Exception):
        pass

    assert error_text(ConnectionClosedError()) == "connection closed error"
    wrapped = RuntimeError("[Errno 111] Connect call failed")
    wrapped.__cause__ = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    assert error_text(wrapped) == "connection refused"


def test_startup_errors_name_the_file_and_say_why(tmp_path: Path, trust: Trust) -> None:
    """A missing operator file, a store folder below a regular file, a symlink loop as the system
    account: one line each, the file and the reason, exit status 1."""
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    loop = tmp_path / "loop.jwt"
    loop.symlink_to(loop)
    cases = [
        (
            ("-operator", str(tmp_path / "op.jwt")),
            f"error reading operator JWT {tmp_path / 'op.jwt'}: no such file or directory",
        ),
        (
            ("-dir", str(a_file / "store")),
            f"unable to create the store directory {a_file / 'store'}: not a directory",
        ),
        (
            ("-c", str(tmp_path / "sys.conf")),
            f"error reading system account JWT {loop}: too many levels of symbolic links",
        ),
        (
            ("-c", str(tmp_path / "nothing.conf")),
            f"error reading config file '{tmp_path / 'nothing.conf'}', no such file or directory",
        ),
    ]
    (tmp_path / "sys.conf").write_text(
        f'operatorjwtpath: "{trust.operator_jwt_path}"\nsystemaccountjwtpath: "{loop}"\n'
    )
    for args, line in cases:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 1, (args, result.stderr)
        assert f"[ERR] {line}\n" in result.stderr, (args, result.stderr)
        assert "Errno" not in result.stderr and "Error:" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_operator_file(tmp_path: Path, trust: Trust) -> None:
    locked = tmp_path / "op.jwt"
    locked.write_text(trust.operator_jwt)
    locked.chmod(0)
    result = run_cli("-operator", str(locked), cwd=tmp_path)
    assert result.returncode == 1
    assert f"[ERR] error reading operator JWT {locked}: permission denied\n" in result.stderr

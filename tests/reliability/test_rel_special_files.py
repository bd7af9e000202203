"""No file the server reads can freeze or exhaust it: FIFOs, ``/dev/zero``, directories and huge files.

A store entry that is not a regular file of at most a JWT's size is a ``500 error loading JWT`` for
that key only, answered at once while other keys and ``/healthz`` keep being served; the server
stays small and stops on SIGTERM. The same files given as the configuration file, an include or the
operator JWT stop the start with exit status 1 and one error line naming the file. Real processes
on 127.0.0.1; every wait is bounded, and a watchdog kills a server that starts eating memory (what
the code before the fix did with ``/dev/zero``), so a failure never takes the machine with it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from nats_account_server.log import short_key
from tests.reliability.rel_helpers import server_config
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")

GET_WITHIN = 2.0  # s: the broken key's 500, and the other answers meanwhile
STOP_WITHIN = 5.0  # s: SIGTERM to exit 0; a refused start to exit 1
RSS_LIMIT_MIB = 200  # VmHWM: a bounded read of a JWT file costs at most ~1 MiB
KILL_AT_MIB = 1024  # the watchdog's line: far above any healthy server, far below the machine
SPARSE_SIZE = 300 * 1024 * 1024
ERROR = "error loading JWT\n"


def _status_kib(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


@contextmanager
def memory_watchdog(proc: ServerProcess) -> Iterator[None]:
    """SIGKILL ``proc`` as soon as it holds more than KILL_AT_MIB (polled every 10 ms)."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.01) and proc.running:
            rss = _status_kib(proc.pid, "VmRSS")
            if rss is not None and rss > KILL_AT_MIB * 1024:
                proc.kill()
                return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(1)


def peak_mib(proc: ServerProcess) -> float:
    hwm = _status_kib(proc.pid, "VmHWM")
    assert hwm is not None, "the server is gone (killed by the memory watchdog?)\n" + proc.describe()
    return hwm / 1024


def fetch(url: str) -> tuple[int | None, str, float]:
    """(status or None on a timeout / error, body or error, seconds taken)."""
    started = time.monotonic()
    try:
        resp = httpx.get(url, timeout=GET_WITHIN)
        return resp.status_code, resp.text, time.monotonic() - started
    except httpx.HTTPError as exc:
        return None, repr(exc), time.monotonic() - started


def stop_cleanly(proc: ServerProcess) -> None:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=STOP_WITHIN)
    assert rc == 0 and time.monotonic() - started < STOP_WITHIN, proc.describe()
    assert "Traceback" not in proc.stderr_text(), proc.describe()


# ------------------------------------------------------------------------------ store entries


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_dev_zero(path: Path) -> Path:
    os.symlink("/dev/zero", path)
    return path


def make_sparse(path: Path) -> Path:
    path.write_bytes(b"")
    os.truncate(path, SPARSE_SIZE)  # a hole: no disk used
    return path


FIFO = "not a regular file (a FIFO)"
DEVICE = "not a regular file (a character device)"
TOO_LARGE = "larger than 1048576 bytes"
# store entry: how it is made, and the reason its 500 is logged with
SPECIAL: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo": (make_fifo, FIFO),
    "dev-zero": (make_dev_zero, DEVICE),
    "sparse-300MB": (make_sparse, TOO_LARGE),
}


@pytest.mark.parametrize("kind", list(SPECIAL))
@pytest.mark.parametrize("readonly", [False, True], ids=["dir", "ro"])
def test_special_store_entry_is_a_500_for_that_key_only(tmp_path: Path, readonly: bool, kind: str) -> None:
    trust = Trust(tmp_path / "trust")
    store = tmp_path / "store"
    store.mkdir()
    good, bad = trust.pub("A"), trust.pub("B")
    good_jwt = trust.account_jwt("A")
    (store / f"{good}.jwt").write_text(good_jwt + "\n")
    make, reason = SPECIAL[kind]
    make(store / f"{bad}.jwt")
    if readonly:
        config = server_config(trust, None, extra=f'store {{ dir: "{store}", readonly: true }}')
    else:
        config = server_config(trust, store)
    proc = start_server(config_text=config, tmp_path=tmp_path, timeout=STOP_WITHIN)
    with memory_watchdog(proc):
        base = proc.url
        with ThreadPoolExecutor(max_workers=3) as pool:
            for _ in range(2):  # the second time through whatever the first one left cached
                broken = pool.submit(fetch, f"{base}/jwt/v1/accounts/{bad}")
                time.sleep(0.05)  # the broken GET is in the server first
                others = [
                    pool.submit(fetch, f"{base}/jwt/v1/accounts/{good}"),
                    pool.submit(fetch, f"{base}/healthz"),
                ]
                status, body, took = broken.result()
                assert (status, body) == (500, ERROR) and took < GET_WITHIN, (
                    status,
                    body,
                    took,
                    proc.describe(),
                )
                (a_status, a_body, _), (h_status, _, _) = (f.result() for f in others)
                assert a_status == 200 and a_body == good_jwt, (a_status, a_body)
                assert h_status == 200
        errors = [line for line in proc.find_lines(short_key(bad)) if "[ERR]" in line]
        assert len(errors) == 1 and f"{store / bad}.jwt is {reason}" in errors[0], errors
        assert peak_mib(proc) < RSS_LIMIT_MIB, proc.describe()
        stop_cleanly(proc)


def nsc_folder(root: Path, trust: Trust) -> tuple[Path, dict[str, str]]:
    """The operator folder nsc writes: ``.nsc``, ``OP.jwt``, ``accounts/<Name>/<Name>.jwt``."""
    folder = root / trust.operator_name
    (folder / "accounts").mkdir(parents=True)
    (folder / ".nsc").write_text(
        json.dumps({"managed": False, "name": trust.operator_name, "kind": "operator"})
    )
    (folder / f"{trust.operator_name}.jwt").write_text(trust.operator_jwt)
    jwts = {}
    for name in ("A", "C"):
        (folder / "accounts" / name).mkdir()
        jwts[name] = trust.account_jwt(name)
        (folder / "accounts" / name / f"{name}.jwt").write_text(jwts[name])
    (folder / "accounts" / "B").mkdir()
    return folder / "accounts" / "B" / "B.jwt", jwts


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_nsc_store_skips_a_special_account_file(tmp_path: Path, kind: str) -> None:
    trust = Trust(tmp_path / "trust")
    bad_file, jwts = nsc_folder(tmp_path / "nsc", trust)
    SPECIAL[kind][0](bad_file)
    proc = start_server("-nsc", bad_file.parents[2], tmp_path=tmp_path, timeout=STOP_WITHIN)
    with memory_watchdog(proc):
        assert proc.find_lines(f"skipping nsc account file: {bad_file} is not a regular file")
        for name, jwt in jwts.items():
            status, body, _ = fetch(f"{proc.url}/jwt/v1/accounts/{trust.pub(name)}")
            assert (status, body) == (200, jwt)
        assert fetch(f"{proc.url}/jwt/v1/accounts/{trust.pub('B')}")[0] == 404  # never indexed: unknown
        assert fetch(f"{proc.url}/healthz")[0] == 200
        assert peak_mib(proc) < RSS_LIMIT_MIB
        stop_cleanly(proc)


# ------------------------------------------------------------------------------ startup files


def refused_start(proc: ServerProcess, path: Path | str, reason: str) -> None:
    """Exit 1 within STOP_WITHIN, with exactly one error line, naming ``path`` and ``reason``."""
    with memory_watchdog(proc):
        rc = proc.wait(timeout=STOP_WITHIN)
    assert rc == 1, proc.describe()
    errors = [line for line in proc.stderr_lines if "[ERR]" in line]
    assert len(errors) == 1, proc.describe()
    assert str(path) in errors[0] and reason in errors[0], errors[0]
    text = proc.stderr_text()
    assert "Traceback" not in text and "Errno" not in text, proc.describe()


def make_oversized_config(path: Path) -> Path:
    # valid all the way through: only the size is wrong (the old code parsed it and started)
    path.write_text("# padding\n" * 110_000 + "http { host: 127.0.0.1, port: 0 }\n")
    return path


# startup files: (the file, made in the test folder; the reason its error names)
CONFIGS: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "fifo": lambda d: (make_fifo(d / "fifo.conf"), FIFO),
    "dev-zero": lambda d: (Path("/dev/zero"), DEVICE),
    "directory": lambda d: (d, "not a regular file (a directory)"),
    "oversized": lambda d: (make_oversized_config(d / "big.conf"), TOO_LARGE),
}


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_special_config_file_is_a_startup_error(tmp_path: Path, kind: str) -> None:
    path, reason = CONFIGS[kind](tmp_path)
    proc = start_server("-c", path, tmp_path=tmp_path, ready=False)
    refused_start(proc, path, f"error reading config file '{path}', {reason}")


OPERATOR_FILES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "fifo": lambda d: (make_fifo(d / "op.jwt"), "not a regular file"),
    "dev-zero": lambda d: (Path("/dev/zero"), "not a regular file"),
}


@pytest.mark.parametrize("kind", list(OPERATOR_FILES))
def test_special_operator_file_is_a_startup_error(tmp_path: Path, kind: str) -> None:
    path, reason = OPERATOR_FILES[kind](tmp_path)
    config = server_config(None, None, extra=f'operatorjwtpath: "{path}"')
    proc = start_server(config_text=config, tmp_path=tmp_path, ready=False)
    refused_start(proc, path, f"error reading operator JWT {path}: {reason}")


INCLUDES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    # refused before the fix too (by a path check), but without saying what the file is
    "fifo": lambda d: (make_fifo(d / "inc.conf"), FIFO),
    "oversized": lambda d: (make_oversized_config(d / "inc.conf"), TOO_LARGE),
}


@pytest.mark.parametrize("kind", list(INCLUDES))
def test_special_include_is_a_startup_error(tmp_path: Path, kind: str) -> None:
    path, reason = INCLUDES[kind](tmp_path)
    config = server_config(None, None, extra=f'include "{path.name}"')
    proc = start_server(config_text=config, tmp_path=tmp_path, ready=False)
    refused_start(proc, path, f"error parsing include file '{path.name}', open {path}: {reason}")


def test_creds_and_tls_files_are_checked_before_use(tmp_path: Path) -> None:
    """A missing or special NATS creds file, and a FIFO as the HTTPS certificate, stop the start with
    exit 1 naming the file, instead of retrying for ever or hanging."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (
        ("-nats", "nats://127.0.0.1:1", "-creds", str(tmp_path / "missing.creds")),
        ("-nats", "nats://127.0.0.1:1", "-creds", str(fifo)),
    ):
        proc = start_server(*args, tmp_path=tmp_path, ready=False)
        assert proc.wait(10) == 1, args
        assert "credentials file" in proc.stderr_text() and "Traceback" not in proc.stderr_text()
    conf = f'http {{ host: 127.0.0.1, port: 0, tls {{ cert: "{fifo}", key: "{fifo}" }} }}\n'
    proc = start_server(config_text=conf, tmp_path=tmp_path, ready=False)
    assert proc.wait(10) == 1
    assert "TLS certificate" in proc.stderr_text() and "Traceback" not in proc.stderr_text()

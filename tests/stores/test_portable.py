"""The server where the Linux write-path machinery is missing (macOS, other POSIX systems, Windows).

The real server process runs with tests/support/portable/sitecustomize.py first on its PYTHONPATH,
which removes the extended attribute calls, makes ``fcntl`` unimportable, keeps ctypes from loading the
C library (no renameat2, syncfs, fstatfs, inotify) and gives it Windows' kind of event loop (no uvloop,
no ``add_signal_handler``). The server must then start, store, serve, reload and stop with the
portable fallbacks: temp file + fsync + rename, no verified marks, no spare inodes, watchfiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.msg import Msg
from store_helpers import Minter

from nats_account_server.stores import spares
from nats_account_server.stores.marks import KEY_FILE, XATTR, Marks, mark_file, read_marked
from nats_account_server.stores.spares import SPARE_DIR
from tests.support.natsserver import NatsServer
from tests.support.procs import ServerProcess, start_server
from tests.support.trust import Trust

SHIM = Path(__file__).resolve().parents[1] / "support" / "portable"
SHIM_ENV = "NAS_PORTABLE_OFF"  # read by the shim; its names are checked one by one below
CAPABILITIES = ("xattr", "fcntl", "libc", "loop")
XATTR_CALLS = ("setxattr", "getxattr", "removexattr", "listxattr")

# the controls need what is switched off here; elsewhere every test of the suite runs without it
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="switches off Linux capabilities"
)


def portable_env(off: tuple[str, ...] = CAPABILITIES) -> dict[str, str]:
    """The environment of a process with the shim first on its path and ``off`` switched off."""
    path = [str(SHIM), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(path), SHIM_ENV: ",".join(off)}


def url(proc: ServerProcess, key: str) -> str:
    return f"{proc.url}/jwt/v1/accounts/{key}"


def post(proc: ServerProcess, key: str, jwt: str) -> httpx.Response:
    return httpx.post(url(proc, key), content=jwt, headers={"Content-Type": "application/jwt"}, timeout=10)


def get(proc: ServerProcess, key: str) -> httpx.Response:
    return httpx.get(url(proc, key), timeout=10)


def stop_cleanly(proc: ServerProcess) -> None:
    """SIGTERM ends the server with status 0 and no traceback on its way."""
    assert proc.stop(timeout=10) == 0, proc.describe()
    assert "Traceback" not in proc.stderr_text(), proc.describe()


# ----------------------------------------------------------------------------- the shim itself

# What a process sees of each capability, through the store modules of the server (argv: a folder for
# the marks key, then the names of the xattr calls).
PROBE = """
import asyncio, ctypes, importlib, json, os, signal, sys

from nats_account_server.stores import inotify, spares
from nats_account_server.stores.libc import function
from nats_account_server.stores.marks import KEY_FILE, Marks


def importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def loop_signals():
    loop = asyncio.new_event_loop()
    try:
        loop.add_signal_handler(signal.SIGUSR1, print)
    except NotImplementedError:
        return False
    finally:
        loop.close()
    return True


root, xattr_calls = sys.argv[1], sys.argv[2:]
print(json.dumps({
    "xattr calls": all(hasattr(os, name) for name in xattr_calls),
    "marks": Marks.open(root) is not None,
    "marks key file": os.path.exists(os.path.join(root, KEY_FILE)),
    "fcntl": importable("fcntl"),
    "spares": spares.Spares(0o644).enabled,
    "C library": function("syncfs", ctypes.c_int) is not None,
    "renameat2": spares.exchange_supported(),
    "inotify": inotify.available(),
    "uvloop": importable("uvloop"),
    "loop signals": loop_signals(),
}))
"""

# what each switch turns off (everything else stays on)
TURNS_OFF = {
    "xattr": {"xattr calls", "marks", "marks key file", "spares"},  # spares: others' tags unseen
    "fcntl": {"fcntl", "spares"},  # renameat2 alone is not enough: no lease, no spare
    "libc": {"C library", "renameat2", "inotify", "spares"},
    "loop": {"uvloop", "loop signals"},
}


def test_the_shim_switches_off_each_capability_and_nothing_else(tmp_path: Path) -> None:
    """The probe sees everything on without switches (the control: this is a Linux box with xattrs),
    and each switch turns off exactly its part, so the server tests below really run without it."""
    cases: list[tuple[str, ...]] = [(), *((name,) for name in CAPABILITIES), CAPABILITIES]
    running = []
    for n, off in enumerate(cases):
        root = tmp_path / f"probe{n}"
        root.mkdir()
        env = {**os.environ, **portable_env(off)}
        cmd = [sys.executable, "-c", PROBE, str(root), *XATTR_CALLS]
        running.append((off, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)))
    for off, proc in running:
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, off
        seen = json.loads(out)
        expected_off = set().union(*(TURNS_OFF[name] for name in off))
        assert {name for name, on in seen.items() if not on} == expected_off, (off, seen)


# ----------------------------------------------------------------------------- the server


def test_a_writable_store_serves_keeps_and_reloads_without_the_linux_machinery(
    tmp_path: Path, trust: Trust
) -> None:
    """Uploads are stored by temp file + rename (no spare inode kept, no mark sealed, no key file),
    served back byte for byte, kept across a SIGHUP reload and a restart; signals reach the server
    through plain handlers, and SIGTERM ends it with status 0."""
    store = tmp_path / "store"
    args = ("-dir", store, "-operator", trust.operator_jwt_path, "-D")
    key = trust.pub("A")
    path = store / f"{key}.jwt"
    first = trust.account_jwt("A")
    second = trust.account_jwt("A", iat=int(time.time()) + 1, tags=["second"])

    proc = start_server(*args, tmp_path=tmp_path, env=portable_env())
    assert proc.find_lines(f"[DBG] spare inodes are off for {store}")
    assert proc.find_lines(f"[DBG] verified marks are off for {store}: no os.getxattr, os.setxattr")
    assert post(proc, key, first).status_code == 200
    for _ in range(2):  # the first GET verifies, where marks would seal the file
        assert get(proc, key).text == first
    assert post(proc, key, second).status_code == 200  # a save over a file: where a spare would be kept
    for _ in range(2):
        response = get(proc, key)
        assert (response.status_code, response.text) == (200, second)
    assert path.read_text() == second
    assert XATTR not in os.listxattr(path)  # this test process has the real calls
    spare_dir = store / SPARE_DIR
    assert not spare_dir.exists() or not any(spare_dir.iterdir())  # no spare inode kept

    since = proc.mark()
    proc.send_signal(signal.SIGHUP)
    proc.wait_ready(since=since)
    assert get(proc, key).text == second
    stop_cleanly(proc)
    assert sorted(os.listdir(store)) == [path.name]  # no key file, and the spare folder went with stop

    proc = start_server(*args, tmp_path=tmp_path, env=portable_env())
    response = get(proc, key)
    assert (response.status_code, response.text) == (200, second)
    stop_cleanly(proc)


@contextlib.asynccontextmanager
async def updates_of(server: NatsServer, key: str) -> AsyncIterator[asyncio.Queue[str]]:
    """The payloads of ``$SYS.ACCOUNT.<key>.CLAIMS.UPDATE`` as they arrive."""
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def handle(msg: Msg) -> None:
        queue.put_nowait(msg.data.decode())

    nc = await nats.connect(server.url, connect_timeout=2, allow_reconnect=False)
    try:
        await nc.subscribe(f"$SYS.ACCOUNT.{key}.CLAIMS.UPDATE", cb=handle)
        await nc.flush()
        yield queue
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 5)


async def test_a_read_only_store_is_watched_with_watchfiles(
    tmp_path: Path, trust: Trust, nats_factory: Callable[..., NatsServer]
) -> None:
    """Without inotify the watcher falls back to watchfiles: a hand edit is announced on NATS (only a
    watcher does that) and served by GET."""
    nats_server = nats_factory()
    store = tmp_path / "ro"
    store.mkdir()
    key = trust.pub("A")
    path = store / f"{key}.jwt"
    original = trust.account_jwt("A")
    path.write_text(original)

    def start() -> ServerProcess:
        proc = start_server(
            "-dir", store, "-ro", "-nats", nats_server.url, "-D", tmp_path=tmp_path, env=portable_env()
        )
        proc.wait_for_line("connected to NATS for account and activation notifications")
        proc.wait_for_line(f"[DBG] watching {store} for account JWT changes")
        return proc

    proc = await asyncio.to_thread(start)
    async with httpx.AsyncClient(timeout=10) as http, updates_of(nats_server, key) as updates:
        assert (await http.get(url(proc, key))).text == original
        edited = trust.account_jwt("A", iat=int(time.time()) + 1, tags=["edited by hand"])
        path.write_text(edited + "\n")  # in place, with an editor's final newline
        assert await asyncio.wait_for(updates.get(), 5) == edited
        deadline = time.monotonic() + 5
        while (served := (await http.get(url(proc, key))).text) != edited and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert served == edited
    await asyncio.to_thread(stop_cleanly, proc)


# ----------------------------------------------------------------------------- in process


def test_marks_are_off_without_os_setxattr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``os.setxattr`` (macOS) ``Marks.open`` says no, raises nothing and leaves no key file."""
    monkeypatch.delattr(os, "setxattr", raising=False)
    assert Marks.open(str(tmp_path)) is None
    assert not (tmp_path / KEY_FILE).exists()


def test_without_xattr_calls_files_are_read_unmarked_and_spares_are_off(
    tmp_path: Path, minter: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading finds no mark, sealing fails as on a filesystem without attributes (the file index
    takes the file instead), and no spare is reused, since other tools' attributes could not be seen."""
    key, jwt = minter.account_jwt()
    jwt_file = tmp_path / f"{key}.jwt"
    body = jwt.encode()
    jwt_file.write_bytes(body)
    assert spares.Spares(0o644).enabled  # the control: this Linux box has spares (conftest ignores SIGIO)
    for name in XATTR_CALLS:
        monkeypatch.delattr(os, name, raising=False)
    assert read_marked(str(jwt_file)) == (body, None)
    with pytest.raises(OSError) as failed:
        mark_file(str(jwt_file), Marks(bytes(32)), key, body, 0, '"E"')
    assert failed.value.errno == errno.ENOTSUP
    assert not spares.Spares(0o644).enabled

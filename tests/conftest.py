"""Shared fixtures. Process helpers live in tests/support (see support/procs.py, natsserver.py, trust.py)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# Harness modules are imported as ``tests.support.*`` everywhere (``tests`` is a namespace package rooted
# at the repository), so there is exactly one copy of the process registry.  Make that importable
# whatever pytest's rootdir/import mode put on sys.path.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from tests.support.natsserver import NatsServer, find_nats_server  # noqa: E402
from tests.support.procs import ServerProcess, live_processes, start_server, stop_all  # noqa: E402

if TYPE_CHECKING:
    from tests.support.trust import Trust

# in-process directory stores built off the main thread reuse spare inodes only where SIGIO is
# ignored already (a lease break signals it; stores/spares.py ignores it itself on the main thread)
signal.signal(signal.SIGIO, signal.SIG_IGN)


@pytest.fixture(autouse=True)
def _reap_processes() -> Iterator[None]:
    """Stop any harness process a test started and left running (failures included)."""
    before = {id(p) for p in live_processes()}
    yield
    stop_all([p for p in live_processes() if id(p) not in before])


@pytest.fixture(scope="session")
def nats_server_bin() -> str:
    path = find_nats_server()
    if path is None:
        pytest.skip("nats-server binary not available")
    return path


@pytest.fixture
def trust(tmp_path: Path) -> Trust:
    """v2 operator/accounts/users; files under tmp_path/trust."""
    from tests.support.trust import Trust  # lazy: a broken JWT module must not break collection of every test

    return Trust(tmp_path / "trust", version=2)


@pytest.fixture
def trust_v1(tmp_path: Path) -> Trust:
    """Same as ``trust`` but every JWT (operator included) is v1."""
    from tests.support.trust import Trust

    return Trust(tmp_path / "trust_v1", version=1)


@pytest.fixture
def tmp_store(tmp_path: Path) -> Path:
    """An existing, empty directory for a directory store."""
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def run_server(tmp_path: Path) -> Callable[..., ServerProcess]:
    """``run_server(*args, config_text=..., ready=True, ...)`` -> ServerProcess; tmp_path preset."""

    def _run(*args: Any, **kwargs: Any) -> ServerProcess:
        kwargs.setdefault("tmp_path", tmp_path)
        return start_server(*args, **kwargs)

    return _run


@pytest.fixture
def nats_factory(tmp_path: Path, nats_server_bin: str) -> Callable[..., NatsServer]:
    """``nats_factory(config_text=None, ready=True, **kw)`` -> a started NatsServer (stopped at teardown)."""
    counter = iter(range(1_000_000))

    def _make(config_text: str | None = None, *, ready: bool = True, **kwargs: Any) -> NatsServer:
        kwargs.setdefault("tmp_path", tmp_path)
        kwargs.setdefault("binary", nats_server_bin)
        kwargs.setdefault("name", f"nats-server-{next(counter)}")
        server = NatsServer(config_text, **kwargs)
        return server.start_ready() if ready else server.start()

    return _make

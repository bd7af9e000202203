"""Errors as an operator reads them: ``/x: no such file or directory``, never Python's
``[Errno 2] No such file or directory: '/x'``.

One wording for every store, configuration and transport message. It imports nothing from the
package, so every layer may use it.
"""

from __future__ import annotations

import errno
import os
import re
import ssl

__all__ = ["error_text", "os_error", "os_reason"]

# patterns compiled by their first use (re caches them): only error messages need them
_SSL_PREFIX = r"^\[SSL(?:: [A-Z0-9_]+)?\]\s*"  # "[SSL: KEY_VALUES_MISMATCH] "
_SSL_WHERE = r"\s*\(_ssl\.c:\d+\)$"  # " (_ssl.c:3905)"
_SSL_PLAIN = {"PEM lib": "not a PEM file, or one without a certificate or key"}
_WORDS = r"(?<=[a-z0-9])(?=[A-Z])"


def _ssl_reason(exc: ssl.SSLError) -> str:
    text = re.sub(_SSL_WHERE, "", re.sub(_SSL_PREFIX, "", exc.strerror or str(exc))).strip()
    return _SSL_PLAIN.get(text, text) or "TLS error"


def os_reason(exc: OSError) -> str:
    """What went wrong, without errno or file name: ``no such file or directory`` (``os.strerror``
    of the errno, lower-cased); the error's own text when it has no system errno (a refused file,
    a name lookup, a TLS library error)."""
    if isinstance(exc, ssl.SSLError):
        return _ssl_reason(exc)
    code = exc.errno
    if isinstance(code, int) and code in errno.errorcode:
        return os.strerror(code).lower()
    if exc.strerror:
        return str(exc.strerror).lower()
    text = str(exc)
    if text:
        return text
    return "timed out" if isinstance(exc, TimeoutError) else _words(exc)


def _name(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    return ""  # a descriptor number, or none


def os_error(exc: OSError, *, known: str = "") -> str:
    """The error with the file it is about: ``/x: no such file or directory``
    (``/a -> /b: …`` for a rename), or the reason alone when it names no file or only ``known``
    (the file the message names already)."""
    reason = os_reason(exc)
    first, second = _name(exc.filename), _name(exc.filename2)
    if not first or (first == known and not second):
        return reason
    return f"{first} -> {second}: {reason}" if second else f"{first}: {reason}"


def _words(exc: BaseException) -> str:
    """An error without a text: its kind in words ("connection closed error")."""
    return re.sub(_WORDS, " ", type(exc).__name__).lower()


def error_text(exc: BaseException | None) -> str:
    """Any error as one line of a message: an OSError as `os_error` renders it, another error its
    text, or its kind in words when it has none."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, OSError):
        return os_error(exc)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and (not lines or lines[0].startswith("[Errno ")):
        return os_error(cause)  # a library's error that only repeats the OS error it wraps
    return "; ".join(lines) if lines else _words(exc)

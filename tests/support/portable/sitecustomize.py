"""Python runs this at startup, before any import of the server, in any process whose PYTHONPATH
starts with this folder (tests/stores/test_portable.py puts it first for the server subprocess). It
switches off what only Linux gives the directory store's write path, so that process runs as it would
on macOS, other POSIX systems or Windows.

``NAS_PORTABLE_OFF`` (comma-separated; unset: all of them) names what to switch off:

- ``xattr``: no ``os.setxattr``, ``os.getxattr``, ``os.removexattr`` or ``os.listxattr`` (Python has
  them on Linux only);
- ``fcntl``: ``import fcntl`` fails, as on Windows;
- ``libc``: ctypes cannot load a C library, so ``stores.libc.function`` finds no renameat2, syncfs,
  fstatfs or inotify (as anywhere but Linux);
- ``loop``: no uvloop, and the asyncio loop has no ``add_signal_handler`` (Windows' default loop,
  which raises NotImplementedError like asyncio's abstract loop).
"""

from __future__ import annotations

import os
import sys
from typing import Any

ENV = "NAS_PORTABLE_OFF"
CAPABILITIES = ("xattr", "fcntl", "libc", "loop")
OFF = frozenset(os.environ.get(ENV, ",".join(CAPABILITIES)).split(","))

if "xattr" in OFF:
    for _name in ("setxattr", "getxattr", "removexattr", "listxattr"):
        if hasattr(os, _name):
            delattr(os, _name)

if "fcntl" in OFF:
    sys.modules["fcntl"] = None  # type: ignore[assignment]  # import fcntl: ImportError

if "libc" in OFF:
    import ctypes

    class _NoLibrary(ctypes.CDLL):
        """What ``ctypes.CDLL`` is where no C library of this kind can be loaded: OSError."""

        def __init__(self, name: str | None, *args: Any, **kwargs: Any) -> None:
            raise OSError(f"no C library to load for {name!r} (switched off by {ENV})")

    ctypes.CDLL = _NoLibrary  # type: ignore[misc]

if "loop" in OFF:
    import asyncio

    sys.modules["uvloop"] = None  # type: ignore[assignment]  # not installed on Windows (pyproject)
    for _method in ("add_signal_handler", "remove_signal_handler"):
        setattr(asyncio.SelectorEventLoop, _method, getattr(asyncio.AbstractEventLoop, _method))

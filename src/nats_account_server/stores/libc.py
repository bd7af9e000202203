"""The Linux C library functions the stores call that Python's ``os`` lacks (renameat2, syncfs,
fstatfs, inotify), loaded one way: typed, reporting failure through errno."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["function", "last_error"]


def function(name: str, *argtypes: Any) -> Callable[..., int] | None:
    """The C library's ``name`` (int result, errno kept for ``last_error``); None where it is missing:
    not Linux, or a C library too old to have it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    found: Callable[..., int] = fn
    return found


def last_error(*args: Any) -> OSError:
    """The OSError of the errno a failed ``function`` call left; ``args``: its file names."""
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code), *args)

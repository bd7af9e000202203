"""The stores' C library functions (stores/libc.py): missing ones are None, failures become OSErrors."""

from __future__ import annotations

import ctypes
import errno
import sys

import pytest

from nats_account_server.stores.libc import function, last_error


def test_a_missing_function_is_none() -> None:
    assert function("nats_account_server_no_such_function", ctypes.c_int) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux C library")
def test_a_failed_call_becomes_the_oserror_of_its_errno() -> None:
    fstatfs = function("fstatfs", ctypes.c_int, ctypes.c_void_p)
    assert fstatfs is not None
    buf = ctypes.create_string_buffer(256)
    assert fstatfs(-1, buf) != 0
    error = last_error("the path")
    assert error.errno == errno.EBADF and error.filename == "the path"
    assert isinstance(error, OSError) and error.strerror

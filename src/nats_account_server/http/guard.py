"""Cuts HTTPS connections whose TLS handshake never completes.

granian times out slow request headers but has no handshake timeout, so a client that connects
to an HTTPS port and says nothing (or trickles its ClientHello) would hold a connection forever.
The guard looks at our own process's sockets: a connection on our port on which the server has
not sent a single data segment after `timeout` seconds has not finished its handshake, and is
shut down (granian then sees EOF and drops it). Linux only; elsewhere it is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

from nats_account_server.oserrors import error_text

log = logging.getLogger("nats_account_server")

_ESTABLISHED = "01"
_DATA_SEGS_OUT = 156  # struct tcp_info offset (Linux >= 4.6)


def connection_inodes(port: int, tables: tuple[str, ...] = ("/proc/net/tcp", "/proc/net/tcp6")) -> set[int]:
    """Socket inodes of the established connections whose local port is `port`."""
    inodes: set[int] = set()
    for table in tables:
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) < 10 or fields[3] != _ESTABLISHED:
                    continue
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(int(fields[9]))
    return inodes


def socket_fds(wanted: set[int]) -> dict[int, int]:
    """inode -> one of our file descriptors for each wanted socket inode."""
    found: dict[int, int] = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError, ValueError):
            target = os.readlink(f"/proc/self/fd/{name}")
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in wanted:
                    found[inode] = int(name)
    return found


@contextlib.contextmanager
def socket_copy(fd: int, inode: int) -> Iterator[socket.socket | None]:
    """Our own duplicate of granian's socket `fd`, or None when that fd is no longer the socket
    `inode` (granian may close and reuse it at any moment)."""
    dup = os.dup(fd)
    try:
        same = os.fstat(dup).st_ino == inode
    except OSError:
        same = False
    if not same:
        os.close(dup)
        yield None
        return
    with socket.socket(fileno=dup) as sock:  # closes only our duplicate
        yield sock


def segments_sent(sock: socket.socket) -> int | None:
    """Data segments the server has sent on the connection; None if the kernel does not say."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 192)
    if len(info) < _DATA_SEGS_OUT + 4:
        return None
    return int(struct.unpack_from("I", info, _DATA_SEGS_OUT)[0])


class HandshakeGuard:
    """One sweep per `interval`; a connection is judged `timeout` seconds after it was first seen."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.interval = max(0.05, min(1.0, timeout / 4))
        self.first_seen: dict[int, float] = {}
        self.talking: set[int] = set()

    def sweep(self, now: float) -> int:
        """Returns how many connections were cut."""
        live = connection_inodes(self.port)
        for gone in set(self.first_seen) - live:
            del self.first_seen[gone]
        self.talking &= live
        due = set()
        for inode in live - self.talking:
            if now - self.first_seen.setdefault(inode, now) >= self.timeout:
                due.add(inode)
        if not due:
            return 0
        cuts = 0
        for inode, fd in socket_fds(due).items():
            with contextlib.suppress(OSError), socket_copy(fd, inode) as sock:
                if sock is None:
                    continue
                sent = segments_sent(sock)
                if sent is None:
                    continue
                if sent > 0:
                    self.talking.add(inode)
                    continue
                sock.shutdown(socket.SHUT_RDWR)  # the connection itself: granian sees EOF
                cuts += 1
        return cuts

    async def run(self) -> None:
        if not Path("/proc/self/fd").is_dir():
            return
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            try:
                cuts = await loop.run_in_executor(None, self.sweep, time.monotonic())
            except Exception as exc:  # a sweep must never take the server down
                log.debug(f"TLS handshake guard: {error_text(exc)}")
                continue
            if cuts:
                log.debug(f"closed {cuts} connection(s) that did not complete the TLS handshake in time")

"""Verified marks: a store file remembers, in an extended attribute, that its JWT passed the checks.

Checking an Ed25519 signature costs ~70 µs; reading a file ~10 µs. Once the core has verified the JWT
in a file, the file index seals what it learned (expiry and ETag) together with a keyed digest of the
exact file bytes into the ``user.nas.verified`` attribute of that file. Later reads of the file, in
this process or after a restart, serve it without decoding or verifying anything and without keeping
anything per account in memory.

The digest is a BLAKE2b MAC under a per-store secret (``.nas-verified.key`` in the store root, mode
0600, owned by us): a writer without that key cannot make a forged file look verified, and any change
of the file's bytes (hand edit, copy without the attribute) voids the seal, so the file is checked
again. Filesystems without user extended attributes simply get no marks, nor do platforms whose
``os`` has no attribute calls (Python has them on Linux only): no key file is made there either.

Sealing and opening are pure functions over bytes; ``read_marked`` and ``Marks.open`` do the IO.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import re
import stat
import struct

from ..jwt.nkeys import base32_number
from ..log import log
from ..oserrors import error_text
from .files import O_CLOEXEC, O_READ, open_file, read_fd

__all__ = ["KEY_FILE", "XATTR", "Marks", "mark_file", "mark_of", "read_marked"]

# name and value are kept small enough (~80 bytes with the entry header) to live inside an ext4 inode
# of 256 bytes: a longer attribute would take a 4 KiB block of its own per file (and a read per GET)
XATTR = "user.nas.verified"
KEY_FILE = ".nas-verified.key"
KEY_SIZE = 32
TAG_SIZE = 16
_EXP = struct.Struct("<q")
_HEAD = TAG_SIZE + _EXP.size
_COMPACT, _TEXT = b"\x01", b"\x02"  # how the ETag follows: 32 raw bytes of a base32 jti, or as text
_B32_JTI = 52  # nsc's jti: base32 of a SHA-256 without padding
_NO_ATTR = (errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA), errno.ENOTSUP, errno.EOPNOTSUPP)
_CALLS = ("getxattr", "setxattr", "removexattr", "geteuid")  # what marks need of ``os``


def _missing_calls() -> list[str]:
    """The ``os`` functions marks need that this platform lacks (macOS, Windows: the xattr ones)."""
    return [name for name in _CALLS if not hasattr(os, name)]


class Marks:
    """Seals and opens verified marks under one store's secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_SIZE:
            raise ValueError("a marks secret is 32 bytes")
        self._secret = secret

    def _tag(self, name: str, data: bytes, exp_etag: bytes) -> bytes:
        # lengths first: no split of (name, data, rest) can be re-cut into another with the same bytes
        message = b"%d:%s%d:%s%s" % (len(name), name.encode(), len(data), data, exp_etag)
        return hashlib.blake2b(message, key=self._secret, digest_size=TAG_SIZE).digest()

    def seal(self, name: str, data: bytes, exp: int, etag: str) -> bytes:
        """The attribute value for the file of ``name`` (the key it is served under) holding the JWT
        ``data`` with this expiry and ETag: a seal moved to another key's file does not open there."""
        exp_etag = _EXP.pack(exp) + _pack_etag(etag)
        return self._tag(name, data, exp_etag) + exp_etag

    def unseal(self, name: str, data: bytes, value: bytes) -> tuple[int, str] | None:
        """(exp, ETag) when ``value`` seals exactly ``data`` for ``name`` under our secret, else None."""
        if len(value) <= _HEAD:
            return None
        exp_etag = value[TAG_SIZE:]
        if not hmac.compare_digest(value[:TAG_SIZE], self._tag(name, data, exp_etag)):
            return None
        etag = _unpack_etag(exp_etag[_EXP.size :])
        return None if etag is None else (_EXP.unpack_from(exp_etag)[0], etag)

    @classmethod
    def existing(cls, key_file: str) -> Marks | None:
        """The marks of the key file at ``key_file`` as it is, None when there is no valid one: a
        checking process reads the secret the server made, and never makes one."""
        try:
            secret = _read_key(key_file)
        except (OSError, ValueError):
            return None
        return None if secret is None else cls(secret)

    @classmethod
    def open(cls, root: str) -> Marks | None:
        """The marks of the writable store at ``root``, creating its secret on first use; None (logged)
        when the key file is not ours alone, the filesystem keeps no user extended attributes or the
        platform has no calls for them (checked first: no key file is made for nothing then)."""
        missing = _missing_calls()
        if missing:
            log.debug(f"verified marks are off for {root}: no os.{', os.'.join(missing)} on this platform")
            return None
        path = os.path.join(root, KEY_FILE)
        try:
            secret = _read_key(path)
            if secret is None:
                secret = _create_key(path)
            os.setxattr(path, XATTR, b"probe")  # proves user attributes work on this filesystem
            os.removexattr(path, XATTR)
        except (OSError, ValueError) as exc:
            log.debug(f"verified marks are off for {root}: {error_text(exc)}")
            return None
        log.debug(f"verified marks are on for {root} ({XATTR})")
        return cls(secret)


_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_PAIRS = [a + b for a in _B32 for b in _B32]  # every 10 bits as two base32 digits
_B32_JTI_RE = re.compile(r"[A-Z2-7]{52}")


def _pack_etag(etag: str) -> bytes:
    """A quoted 52-character base32 jti (what nsc writes) as its 32 raw bytes, anything else as text.

    52 digits are 260 bits: the 256 of the jti's SHA-256 and 4 zero bits of padding; a jti whose
    last digit carries other bits would not come back the same, so it is kept as text."""
    jti = etag[1:-1]
    if len(etag) == _B32_JTI + 2 and etag[0] == etag[-1] == '"' and _B32_JTI_RE.fullmatch(jti):
        number = base32_number(jti)
        if not number & 0xF:
            return _COMPACT + (number >> 4).to_bytes(32, "big")
    return _TEXT + etag.encode()


def _unpack_etag(packed: bytes) -> str | None:
    kind, body = packed[:1], packed[1:]
    if kind == _COMPACT and len(body) == 32:
        number = int.from_bytes(body, "big") << 4
        return '"' + "".join(_B32_PAIRS[(number >> shift) & 0x3FF] for shift in range(250, -10, -10)) + '"'
    if kind == _TEXT:
        try:
            return body.decode()
        except UnicodeDecodeError:
            return None
    return None


def _read_key(path: str) -> bytes | None:
    try:  # never blocks (a FIFO of that name), never follows a symlink
        fd = os.open(path, O_READ | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.geteuid()
            or st.st_mode & 0o077
            or st.st_size != KEY_SIZE
        ):
            raise ValueError(f"{path} must be a {KEY_SIZE}-byte file of ours with mode 0600")
        return os.read(fd, KEY_SIZE + 1)
    finally:
        os.close(fd)


def _create_key(path: str) -> bytes:
    secret = os.urandom(KEY_SIZE)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_CLOEXEC, 0o600)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces a key another instance created meanwhile
    except FileExistsError:
        os.unlink(tmp)
        existing = _read_key(path)
        if existing is None:
            raise ValueError(f"{path} vanished while it was created") from None
        return existing
    os.unlink(tmp)
    return secret


def read_marked(path: str) -> tuple[bytes, bytes | None]:
    """The file's bytes and its verified mark (None when it has none), both from one open file.

    Marks seal the JWT as served (surrounding whitespace removed), so callers strip before unsealing.
    Without ``os.getxattr`` no file has a mark. Opened as every store file is (``files.open_file``):
    a special or oversized file is RefusedFile, never a blocking open or an unbounded read.
    """
    fd, st = open_file(path)
    try:
        return read_fd(fd, path, st.st_size), mark_of(fd)
    finally:
        os.close(fd)


def mark_of(fd: int) -> bytes | None:
    """The verified mark of the open file ``fd``, None when it has none."""
    if not hasattr(os, "getxattr"):
        return None
    try:
        return os.getxattr(fd, XATTR)
    except OSError as exc:
        if exc.errno not in _NO_ATTR:
            raise
        return None


def mark_file(path: str, marks: Marks, name: str, body: bytes, exp: int, etag: str) -> os.stat_result | None:
    """Seal the file at ``path`` if it still holds the JWT ``body``; its stat before sealing (what the
    watcher's echo check compares), or None when it changed since ``body`` was verified.

    Comparing first matters for the watcher, not for safety (a seal never matches other bytes): a file
    replaced meanwhile must not have its change event taken for the echo of our mark. Without
    ``os.setxattr``, OSError (ENOTSUP) as from a filesystem without attributes: the file is indexed
    in memory instead.
    """
    if not hasattr(os, "setxattr"):
        raise OSError(errno.ENOTSUP, "no os.setxattr on this platform", path)
    fd, st = open_file(path)
    try:
        if read_fd(fd, path, st.st_size).strip() != body:
            return None
        os.setxattr(fd, XATTR, marks.seal(name, body, exp, etag))
        return st
    finally:
        os.close(fd)

"""NKey public-key validation and Ed25519 verification.

The `nkeys` package can sign from a seed but cannot verify with a public key alone, so public keys are
decoded here (base32, prefix byte, CRC-16/XMODEM) and verified with PyNaCl; the few signatures
libsodium refuses but Go accepts (small-order or non-canonical keys, small-order R) are decided by
the pure-Python `ed25519` module with Go's rules.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from . import ed25519

#: Prefix byte of each public-key role, keyed by the role letter the encoded key starts with.
PREFIXES: dict[str, int] = {
    "O": 14 << 3,
    "A": 0,
    "U": 20 << 3,
    "N": 13 << 3,
    "C": 2 << 3,
    "X": 23 << 3,
}
_ROLE_BY_PREFIX = {v: k for k, v in PREFIXES.items()}
_PUBLIC_RE = re.compile(r"[A-Z2-7]{56}")
# RFC 4648 base32 digits (A-Z = 0-25, 2-7 = 26-31) as the digits of int(x, 32) (0-9, a-v)
_B32_AS_INT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM (poly 0x1021, init 0) as used by NKeys checksums; binascii's CRC-CCITT
    is the same polynomial and runs in C (key checks sit on the GET miss path)."""
    return binascii.crc_hqx(data, 0)


@functools.lru_cache(maxsize=8192)
def _decode_public(s: str) -> tuple[str, bytes] | None:
    """(role letter, 32 raw key bytes) or None; cached because the same issuers recur constantly."""
    if _PUBLIC_RE.fullmatch(s) is None:
        return None
    # 56 base32 digits are exactly 35 bytes: as one number (int's parser runs in C; base64's
    # decoder is a Python loop, and every first read of an account decodes a key nobody cached)
    raw = base32_number(s).to_bytes(35, "big")
    body, crc = raw[:33], raw[33:]
    if crc16(body) != int.from_bytes(crc, "little"):
        return None
    role = _ROLE_BY_PREFIX.get(body[0])
    if role is None:
        return None
    return role, body[1:]


def base32_number(digits: str) -> int:
    """RFC 4648 base32 digits (no padding, already checked to be A-Z and 2-7) as one number: int's
    parser runs in C, base64's decoder is a Python loop, and keys and jtis sit on first reads."""
    return int(digits.translate(_B32_AS_INT), 32)


def key_role(s: str) -> str | None:
    """Role letter of a valid public key ("O", "A", ...), None if `s` is not one."""
    if not isinstance(s, str):
        return None
    decoded = _decode_public(s)
    return decoded[0] if decoded else None


def is_public_key(s: str, role: str) -> bool:
    """True iff `s` is a valid public key (length, alphabet, CRC) of the given role letter."""
    return key_role(s) == role


def is_account_key(s: str) -> bool:
    return key_role(s) == "A"


def is_operator_key(s: str) -> bool:
    return key_role(s) == "O"


def is_user_key(s: str) -> bool:
    return key_role(s) == "U"


_B32_PAD = {0: "", 2: "======", 4: "====", 5: "===", 7: "="}


@functools.lru_cache(maxsize=8192)
def has_role(s: str, role: str) -> bool:
    """nkeys' role test, as every key check in claim validation uses it: base32 with a valid CRC whose
    first byte has the role's prefix in its top five bits; the key length is not checked."""
    if not isinstance(s, str) or role not in PREFIXES:
        return False
    text = s.replace("\r", "").replace("\n", "")
    pad = _B32_PAD.get(len(text) % 8)
    if pad is None or not text.isascii():
        return False
    try:
        raw = base64.b32decode(text + pad)
    except (binascii.Error, ValueError):
        return False
    if len(raw) < 4 or crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
        return False
    return raw[0] & 0xF8 == PREFIXES[role]


def encode_public_key(role: str, raw: bytes) -> str:
    """Encode 32 raw Ed25519 public-key bytes as an NKey public key of `role`."""
    if role not in PREFIXES or len(raw) != 32:
        raise ValueError("invalid role or key length")
    body = bytes([PREFIXES[role]]) + raw
    return base64.b32encode(body + crc16(body).to_bytes(2, "little")).decode("ascii")


@functools.lru_cache(maxsize=4096)
def _verify_key(public_key: str) -> tuple[VerifyKey, bytes] | None:
    """Cache decoded VerifyKeys (with their raw bytes): building one costs as much as the base32/CRC
    work. CR and LF inside the key are skipped, as the nkeys base32 decoder does."""
    if "\r" in public_key or "\n" in public_key:
        public_key = public_key.replace("\r", "").replace("\n", "")
    decoded = _decode_public(public_key)
    return (VerifyKey(decoded[1]), decoded[1]) if decoded else None


def verify(public_key: str, data: bytes, sig: bytes) -> bool:
    """Ed25519-verify `sig` over `data` with an NKey public key, accepting what Go's crypto/ed25519
    accepts; False on any failure."""
    if not isinstance(public_key, str) or len(sig) != 64:
        return False
    known = _verify_key(public_key)
    if known is None:
        return False
    try:
        known[0].verify(data, sig)
    except (CryptoError, ValueError, TypeError):
        return ed25519.differs_from_libsodium(known[1], sig) and ed25519.verify(known[1], data, sig)
    return True

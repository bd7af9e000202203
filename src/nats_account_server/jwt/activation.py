"""Activation hash: the storage key of an activation JWT.

The hash covers the issuer, so one account can never overwrite another account's activation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from .codec import JWTError

_HASH_RE = re.compile(r"[A-Z2-7]{52}====")


def clean_subject(subject: str) -> str:
    """Cut the subject at its first wildcard token; `_` when it starts with one."""
    tokens = subject.split(".")
    for i, token in enumerate(tokens):
        if token in ("*", ">"):
            return ".".join(tokens[:i]) if i else "_"
    return subject


def activation_hash(iss: str, sub: str, subject: str) -> str:
    """Padded standard base32 of SHA-256 of `iss.sub.<cleaned subject>`; JWTError if any is empty."""
    if not (isinstance(iss, str) and isinstance(sub, str) and isinstance(subject, str)):
        raise JWTError("activation hash needs string iss, sub and subject")
    if not (iss and sub and subject):
        raise JWTError("not enough data in the activaion claims to create a hash")  # sic
    base = f"{iss}.{sub}.{clean_subject(subject)}"
    return base64.b32encode(hashlib.sha256(base.encode("utf-8")).digest()).decode("ascii")


def is_activation_hash(s: str) -> bool:
    """Exactly the shape activation_hash produces (safe to use as a file name or URL key)."""
    if not isinstance(s, str) or _HASH_RE.fullmatch(s) is None:
        return False
    try:
        return base64.b32encode(base64.b32decode(s)).decode("ascii") == s
    except (binascii.Error, ValueError):
        return False

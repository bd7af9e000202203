"""The newer-wins rule every channel's writes go through: a stored JWT stays when its `iat` is
greater (the upload is older) or its `jti` is the same (nothing changed), else the upload replaces it.
"""

from __future__ import annotations

from enum import Enum

from nats_account_server.jwt import JWTError, Token, peek_claims
from nats_account_server.records import record

__all__ = ["Change", "Saved", "judge", "keeps", "version_of"]


class Saved(Enum):
    SAVED = "saved"
    UNCHANGED = "unchanged"
    OLDER = "older"


@record(frozen=True)
class Change:
    """What a newer-wins save did, and the jti of the JWT stored before it (None: there was none,
    or it could not be read): what the audit line of an accepted change shows as the previous jti."""

    saved: Saved
    previous: str | None = None


def version_of(current: str | None) -> tuple[object, object] | None:
    """(iat, jti) of a stored JWT, read without re-verifying the signature (it was verified when
    written): this keeps an upload to one Ed25519 check. None when absent or unreadable."""
    if not current:
        return None
    try:
        claims = peek_claims(current)
    except (JWTError, ValueError):
        return None
    return claims.iat, claims.jti


def keeps(current: str | None, tok: Token) -> Saved | None:
    """Why the stored JWT stays (same jti, or a greater iat), or None when `tok` replaces it.

    Only iat and jti of the stored JWT matter (see `version_of`).
    """
    version = version_of(current)
    return _verdict(version[0], version[1], tok) if version is not None else None


def _verdict(iat: object, jti: object, tok: Token) -> Saved | None:
    if jti == tok.jti:
        return Saved.UNCHANGED
    if isinstance(iat, int) and iat > tok.iat:
        return Saved.OLDER
    return None


def judge(version: tuple[object, object] | None, tok: Token) -> Change:
    """The verdict on `tok` against the stored (iat, jti), with that jti as the previous one."""
    if version is None:
        return Change(Saved.SAVED)
    jti = version[1]
    previous = jti if isinstance(jti, str) and jti else None
    return Change(_verdict(version[0], jti, tok) or Saved.SAVED, previous)

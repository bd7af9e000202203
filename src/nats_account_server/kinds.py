"""The two kinds of JWT the server hosts; they share one code path everywhere."""

from __future__ import annotations

from enum import Enum

from nats_account_server.jwt import Token, decode_account, decode_activation


class Kind(Enum):
    ACCOUNT = "accounts"
    ACTIVATION = "activations"


def decode_kind(kind: Kind, jwt: str) -> Token:
    """Verify and type-check `jwt` as this kind (raises JWTError)."""
    return decode_account(jwt) if kind is Kind.ACCOUNT else decode_activation(jwt)

"""The two kinds of JWT the server hosts; they share one code path everywhere."""

from __future__ import annotations

from enum import Enum

from nats_account_server.jwt import (
    Token,
    decode_account,
    decode_activation,
    is_account_key,
    is_activation_hash,
)


class Kind(Enum):
    ACCOUNT = "accounts"
    ACTIVATION = "activations"


def kind_of(key: str) -> Kind | None:
    """The kind a store key names: an account public key or an activation hash (None: neither)."""
    if is_account_key(key):
        return Kind.ACCOUNT
    if is_activation_hash(key):
        return Kind.ACTIVATION
    return None


def decode_kind(kind: Kind, jwt: str) -> Token:
    """Verify and type-check `jwt` as this kind (raises JWTError)."""
    return decode_account(jwt) if kind is Kind.ACCOUNT else decode_activation(jwt)

"""NATS JWT handling: NKey checks, decode/verify (v1, v2), validation, activation hash, views, minting."""

from .activation import activation_hash, clean_subject, is_activation_hash
from .checks import Issue, Verdict, issues_of, judge
from .codec import JWTError, Token, decode, decode_account, decode_activation, decode_operator, peek_claims
from .encode import (
    account_claims,
    activation_claims,
    encode,
    new_keypair,
    operator_claims,
    public_key_of,
    user_claims,
)
from .layouts import AccountClaims, ActivationClaims, Claims, OperatorClaims
from .nkeys import has_role, is_account_key, is_operator_key, is_public_key, is_user_key, key_role, verify
from .view import decoded_view

__all__ = [
    "Issue",
    "Verdict",
    "issues_of",
    "judge",
    "AccountClaims",
    "ActivationClaims",
    "Claims",
    "OperatorClaims",
    "has_role",
    "JWTError",
    "Token",
    "account_claims",
    "activation_claims",
    "activation_hash",
    "clean_subject",
    "decode",
    "decode_account",
    "decode_activation",
    "decode_operator",
    "decoded_view",
    "encode",
    "is_account_key",
    "is_activation_hash",
    "is_operator_key",
    "is_public_key",
    "is_user_key",
    "key_role",
    "new_keypair",
    "operator_claims",
    "peek_claims",
    "public_key_of",
    "user_claims",
    "verify",
]

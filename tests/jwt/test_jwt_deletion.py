"""Delete requests decode as the library's generic decoder reads them (v1 and v2 signatures)."""

from __future__ import annotations

import pytest

from nats_account_server.jwt import JWTError
from nats_account_server.jwt.deletion import decode_delete_request, delete_request
from nats_account_server.jwt.encode import encode_raw, new_keypair

SEED, PUB = new_keypair("O")
ACC = new_keypair("A")[1]


@pytest.mark.parametrize("version", [2, 1])
def test_round_trip(version: int) -> None:
    req = decode_delete_request(delete_request([ACC], SEED, version=version))
    assert (req.iss, req.sub, req.version, req.accounts) == (PUB, PUB, version, [ACC])
    assert req.jti and req.iat > 0


def test_the_header_alg_picks_the_signature_input() -> None:
    claims = {"iss": PUB, "sub": PUB, "nats": {"accounts": [ACC]}}
    v1_signed_v2_header = encode_raw({"typ": "JWT", "alg": "ed25519-nkey"}, claims, SEED, v1_signing=True)
    with pytest.raises(JWTError, match="V2 signature verification"):
        decode_delete_request(v1_signed_v2_header)
    v2_signed_v1_header = encode_raw({"typ": "jwt", "alg": "ed25519"}, claims, SEED, v1_signing=False)
    with pytest.raises(JWTError, match="V1 signature verification"):
        decode_delete_request(v2_signed_v1_header)


def test_nats_is_a_map_with_exact_member_names() -> None:
    upper = {"iss": PUB, "sub": PUB, "NATS": {"Accounts": [ACC]}}
    req = decode_delete_request(
        encode_raw({"typ": "JWT", "alg": "ed25519-nkey"}, upper, SEED, v1_signing=False)
    )
    assert req.accounts is None  # `NATS` is `nats`, but `Accounts` is not `accounts`
    with pytest.raises(JWTError, match="cannot unmarshal string"):
        bad = {"iss": PUB, "sub": PUB, "nats": "x"}
        decode_delete_request(encode_raw({"typ": "JWT", "alg": "ed25519-nkey"}, bad, SEED, v1_signing=False))


@pytest.mark.parametrize("raw", ["", "a.b", "a.b.c", "x" * (1024 * 1024 + 1)])
def test_garbage_is_a_jwt_error(raw: str) -> None:
    with pytest.raises(JWTError):
        decode_delete_request(raw)

"""NKey public-key validation and Ed25519 verification."""

from __future__ import annotations

import base64
import os

import nkeys as pynkeys
import pytest
from jwt_vectors import ACCOUNT1_KEY, ACCOUNT1_SEED, ACCOUNT2_KEY, OPERATOR_KEY, OPERATOR_SEED

from nats_account_server.jwt import (
    has_role,
    is_account_key,
    is_operator_key,
    is_public_key,
    is_user_key,
    key_role,
    new_keypair,
    public_key_of,
    verify,
)
from nats_account_server.jwt.nkeys import PREFIXES, crc16, encode_public_key


def _raw_key(body: bytes, crc: int | None = None) -> str:
    value = crc16(body) if crc is None else crc
    return base64.b32encode(body + value.to_bytes(2, "little")).decode()


def test_appendix_b_keys_have_their_roles() -> None:
    assert is_operator_key(OPERATOR_KEY) and is_public_key(OPERATOR_KEY, "O")
    assert is_account_key(ACCOUNT1_KEY) and is_account_key(ACCOUNT2_KEY)
    assert not is_account_key(OPERATOR_KEY)
    assert not is_operator_key(ACCOUNT1_KEY)
    assert not is_public_key(ACCOUNT1_KEY, "U")
    assert key_role(ACCOUNT1_KEY) == "A"


def test_seeds_map_to_appendix_b_public_keys() -> None:
    assert public_key_of(OPERATOR_SEED) == OPERATOR_KEY
    assert public_key_of(ACCOUNT1_SEED) == ACCOUNT1_KEY


@pytest.mark.parametrize("role", ["O", "A", "U", "N", "C"])
def test_new_keypair_roles(role: str) -> None:
    seed, pub = new_keypair(role)
    assert seed.startswith("S" + role)
    assert pub.startswith(role) and len(pub) == 56
    assert is_public_key(pub, role)
    assert public_key_of(seed) == pub
    assert pynkeys.from_seed(seed.encode()).public_key.decode() == pub


@pytest.mark.parametrize(
    "role",
    [
        "Z",
        "S",
        "",
        "X",  # curve keys are not signing keys
    ],
)
def test_new_keypair_rejects_unknown_role(role: str) -> None:
    with pytest.raises(ValueError):
        new_keypair(role)


def test_curve_keys_have_their_role() -> None:
    key = encode_public_key("X", os.urandom(32))
    assert key.startswith("X") and key_role(key) == "X" and has_role(key, "X")
    assert not is_account_key(key) and not has_role(key, "A")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "A",
        ACCOUNT1_KEY[:-1],
        ACCOUNT1_KEY + "A",
        ACCOUNT1_KEY.lower(),
        ACCOUNT1_KEY[:10] + "1" + ACCOUNT1_KEY[11:],  # '1' is not base32
        ACCOUNT1_KEY[:-1] + ("A" if ACCOUNT1_KEY[-1] != "A" else "B"),  # CRC mismatch
        ACCOUNT1_KEY[:20] + ("A" if ACCOUNT1_KEY[20] != "A" else "B") + ACCOUNT1_KEY[21:],  # CRC mismatch
        ACCOUNT1_SEED,
        " " + ACCOUNT1_KEY,
        ACCOUNT1_KEY + "\n",
        ACCOUNT1_KEY + "====",
    ],
)
def test_invalid_account_keys(bad: str) -> None:
    assert not is_account_key(bad)
    assert key_role(bad) is None


def test_non_string_is_not_a_key() -> None:
    assert key_role(None) is None  # type: ignore[arg-type]
    assert not is_account_key(b"A" * 56)  # type: ignore[arg-type]


def test_prefix_byte_must_be_a_public_role() -> None:
    raw = os.urandom(32)
    # seed / private prefixes and arbitrary bytes with a valid CRC are not public keys
    for prefix in (18 << 3, 15 << 3, 1, 0x01 | (14 << 3)):
        assert key_role(_raw_key(bytes([prefix]) + raw)) is None
    for role, prefix in PREFIXES.items():
        assert key_role(_raw_key(bytes([prefix]) + raw)) == role


def test_role_test_compares_only_the_top_five_bits_of_the_prefix() -> None:
    raw = os.urandom(32)
    for low in range(8):
        key = _raw_key(bytes([PREFIXES["O"] | low]) + raw)
        assert has_role(key, "O") and not has_role(key, "A")
        assert key_role(key) == ("O" if low == 0 else None)  # the issuer key needs the exact prefix


def test_role_test_skips_cr_lf_and_ignores_the_length() -> None:
    assert has_role(ACCOUNT1_KEY, "A") and has_role(OPERATOR_KEY, "O")
    assert has_role(f"{ACCOUNT1_KEY[:9]}\r\n{ACCOUNT1_KEY[9:]}", "A") and has_role(ACCOUNT1_KEY + "\n", "A")
    for body in (bytes([0]) + os.urandom(1), bytes([0]) + os.urandom(5), bytes([0]) + os.urandom(40)):
        key = _raw_key(body).rstrip("=")
        assert has_role(key, "A") and key_role(key) is None


def test_role_test_needs_four_decoded_bytes() -> None:
    assert not has_role(_raw_key(bytes([0])).rstrip("="), "A")  # the prefix and its CRC, nothing else


@pytest.mark.parametrize(
    "bad",
    [
        "",
        ACCOUNT1_KEY.lower(),
        " " + ACCOUNT1_KEY,
        ACCOUNT1_KEY + "====",
        ACCOUNT1_KEY[:-1] + ("A" if ACCOUNT1_KEY[-1] != "A" else "B"),
        ACCOUNT1_SEED,
        OPERATOR_KEY,
    ],
)
def test_role_test_refuses(bad: str) -> None:
    assert not has_role(bad, "A")


def test_crc_is_little_endian() -> None:
    body = bytes([0]) + os.urandom(32)
    crc = crc16(body)
    swapped = int.from_bytes(crc.to_bytes(2, "little"), "big")
    if swapped != crc:
        assert key_role(_raw_key(body, swapped)) is None
    assert key_role(_raw_key(body, crc)) == "A"


def test_crc16_matches_nkeys_library() -> None:
    for n in range(0, 70, 7):
        data = os.urandom(n)
        assert crc16(data) == pynkeys.crc16(data)


def test_encode_public_key_round_trip() -> None:
    raw = os.urandom(32)
    key = encode_public_key("U", raw)
    assert is_user_key(key)
    with pytest.raises(ValueError):
        encode_public_key("S", raw)
    with pytest.raises(ValueError):
        encode_public_key("A", raw[:31])


def test_verify() -> None:
    kp = pynkeys.from_seed(ACCOUNT1_SEED.encode())
    sig = kp.sign(b"hello")
    assert verify(ACCOUNT1_KEY, b"hello", sig)
    assert not verify(ACCOUNT1_KEY, b"hellO", sig)
    assert not verify(ACCOUNT2_KEY, b"hello", sig)
    assert not verify(ACCOUNT1_KEY, b"hello", sig[:-1])
    assert not verify(ACCOUNT1_KEY, b"hello", b"")
    assert not verify(ACCOUNT1_KEY, b"hello", bytes(64))
    assert not verify("not a key", b"hello", sig)
    assert not verify(ACCOUNT1_SEED, b"hello", sig)


def test_verify_refuses_a_non_canonical_scalar() -> None:
    kp = pynkeys.from_seed(ACCOUNT1_SEED.encode())
    sig = kp.sign(b"hello")
    order = 2**252 + 27742317777372353535851937790883648493
    s_plus_l = (int.from_bytes(sig[32:], "little") + order).to_bytes(32, "little")
    assert not verify(ACCOUNT1_KEY, b"hello", sig[:32] + s_plus_l)


def test_verify_accepts_small_order_keys_as_go_does() -> None:
    identity = bytes([1]) + bytes(31)  # the neutral point: R = identity, S = 0 verifies any message in Go
    assert verify(encode_public_key("A", identity), b"anything", identity + bytes(32))

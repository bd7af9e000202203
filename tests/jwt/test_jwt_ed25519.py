"""Ed25519 with Go's rules: the pure-Python path behind libsodium for small-order and odd encodings.

The expected results of the vectors below were obtained from Go's `crypto/ed25519.Verify`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from nats_account_server.jwt import JWTError, decode_account, decode_operator, ed25519, new_keypair, verify
from nats_account_server.jwt.encode import DEFAULT_ACCOUNT_LIMITS
from nats_account_server.jwt.nkeys import encode_public_key
from tests.support.oracle import AccountOracle, Probe

P, L = ed25519.P, ed25519.L
IDENTITY = bytes([1]) + bytes(31)


def _y(y: int, sign: int = 0) -> bytes:
    return (y | sign << 255).to_bytes(32, "little")


def _sodium(public: bytes, message: bytes, sig: bytes) -> bool:
    try:
        VerifyKey(public).verify(message, sig)
    except BadSignatureError:
        return False
    return True


def _mult(n: int, point: ed25519.Point) -> ed25519.Point:
    return ed25519._double_mult(n, point, 0, ed25519._IDENTITY)


def _scalar(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] = (h[31] & 127) | 64
    return int.from_bytes(h, "little")


# (public key, message, R) with S = 0, each accepted by Go and refused by libsodium
GO_ACCEPTS = [
    ("00" * 32, b"m3", "00" * 31 + "80"),
    ("00" * 31 + "80", b"m0", "00" * 31 + "80"),
    ("01" + "00" * 31, b"m0", "01" + "00" * 31),
    ("01" + "00" * 30 + "80", b"m0", "01" + "00" * 31),  # x = 0 with the sign bit: still the identity
    ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", b"m2", "00" * 32),
    ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", b"m3", "00" * 31 + "80"),
    ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", b"m0", "01" + "00" * 31),
    ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", b"m0", "00" * 32),
    ("ec" + "ff" * 30 + "7f", b"m1", "01" + "00" * 31),
    ("ec" + "ff" * 31, b"m1", "01" + "00" * 31),
    ("ee" + "ff" * 30 + "7f", b"", "01" + "00" * 31),  # the identity written as p + 1
]


@pytest.mark.parametrize(("public", "message", "r"), GO_ACCEPTS)
def test_small_order_keys_accepted_as_go_does(public: str, message: bytes, r: str) -> None:
    key, sig = bytes.fromhex(public), bytes.fromhex(r) + bytes(32)
    assert not _sodium(key, message, sig) and ed25519.differs_from_libsodium(key, sig)
    assert ed25519.verify(key, message, sig)
    assert verify(encode_public_key("A", key), message, sig)


@pytest.mark.parametrize(
    ("public", "message", "sig"),
    [
        (_y(P - 1), b"m", IDENTITY + bytes(32)),  # [k]A is A here: k is odd for this message
        (_y(0), b"m", IDENTITY + bytes(32)),
        (IDENTITY, b"m", _y(1, 1) + bytes(32)),  # R not in its canonical encoding
        (IDENTITY, b"m", IDENTITY + (1).to_bytes(32, "little")),
        (IDENTITY, b"m", IDENTITY + L.to_bytes(32, "little")),  # S not below L
        (IDENTITY, b"m", IDENTITY + bytes(31) + b"\x20"),  # the top bits of S set
        (_y(P), b"m", IDENTITY + bytes(32)),  # y = p is 0: a point of order 4, k odd
        (_y(2), b"m", IDENTITY + bytes(32)),  # y = 2 is not on the curve
    ],
)
def test_go_refuses(public: bytes, message: bytes, sig: bytes) -> None:
    assert not ed25519.verify(public, message, sig)
    assert not verify(encode_public_key("A", public), message, sig)


def test_r_of_small_order_with_an_honest_key() -> None:
    """The key's owner can sign with r = 0 (R the identity): Go accepts, libsodium refuses."""
    signer = SigningKey.generate()
    public = bytes(signer.verify_key)
    k = int.from_bytes(hashlib.sha512(IDENTITY + public + b"m").digest(), "little") % L
    sig = IDENTITY + (k * _scalar(bytes(signer)) % L).to_bytes(32, "little")
    assert not _sodium(public, b"m", sig)
    assert verify(encode_public_key("A", public), b"m", sig)
    assert not verify(encode_public_key("A", public), b"n", sig)


@pytest.mark.parametrize("attempt", range(8))
def test_mixed_order_key_is_cofactorless(attempt: int) -> None:
    """A key with a torsion part: [k]T vanishes only for even k; both paths say the same."""
    torsion = ed25519.decode_point(_y(P - 1))
    assert torsion is not None
    a = int.from_bytes(os.urandom(32), "little") % L
    public = ed25519.encode_point(ed25519._add(_mult(a, ed25519._BASE), torsion))
    r = int.from_bytes(os.urandom(32), "little") % L
    big_r = ed25519.encode_point(_mult(r, ed25519._BASE))
    k = int.from_bytes(hashlib.sha512(big_r + public + b"q").digest(), "little") % L
    sig = big_r + ((r + k * a) % L).to_bytes(32, "little")
    assert not ed25519.differs_from_libsodium(public, sig)
    assert ed25519.verify(public, b"q", sig) == _sodium(public, b"q", sig) == (k % 2 == 0)


def test_honest_signatures_agree_with_libsodium() -> None:
    for n in range(20):
        signer = SigningKey.generate()
        public, message = bytes(signer.verify_key), os.urandom(n)
        sig = signer.sign(message).signature
        assert ed25519.verify(public, message, sig) and not ed25519.differs_from_libsodium(public, sig)
        tampered = bytearray(sig)
        tampered[n] ^= 1 << (n % 8)
        assert not ed25519.verify(public, message, bytes(tampered))
        assert not _sodium(public, message, bytes(tampered))


def test_point_encoding_round_trip() -> None:
    base = ed25519.encode_point(ed25519._BASE)
    assert base.hex() == "58" + "66" * 31
    assert ed25519.encode_point(_mult(L, ed25519._BASE)) == IDENTITY
    for y in ed25519.SMALL_ORDER_Y:
        point = ed25519.decode_point(_y(y))
        assert point is not None and ed25519.encode_point(_mult(8, point)) == IDENTITY
    assert ed25519.decode_point(b"\x01") is None
    assert not ed25519.verify(IDENTITY[:31], b"", IDENTITY + bytes(32))
    assert not ed25519.differs_from_libsodium(IDENTITY, b"")


def _identity_signed(claims: dict[str, object]) -> str:
    """A v2 JWT "signed" by the neutral-point key: R = the identity and S = 0 verify any message."""
    head = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"ed25519-nkey"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(IDENTITY + bytes(32)).rstrip(b"=").decode()
    return f"{head}.{body}.{sig}"


def test_nats_server_accepts_what_the_fallback_accepts(nats_server_bin: str, tmp_path: Path) -> None:
    """End to end: nats-server trusts an operator whose key is the neutral point and loads accounts it
    "signed"; our decoder accepts the same tokens, and refuses them once S is not 0."""
    operator = encode_public_key("O", IDENTITY)
    system, (account_seed, account) = new_keypair("A")[1], new_keypair("A")
    other_seed, other = new_keypair("A")
    now = int(time.time())

    def claims(sub: str, kind: str, **nats: object) -> dict[str, object]:
        return {
            "jti": sub[:20],
            "iat": now,
            "iss": operator,
            "name": kind,
            "sub": sub,
            "nats": {**nats, "type": kind, "version": 2},
        }

    limits = DEFAULT_ACCOUNT_LIMITS
    operator_jwt = _identity_signed(claims(operator, "operator", system_account=system))
    accounts = {key: _identity_signed(claims(key, "account", limits=limits)) for key in (system, account)}
    assert decode_operator(operator_jwt).sub == operator
    assert all(decode_account(jwt).sub == key for key, jwt in accounts.items())
    head, body, _ = _identity_signed(claims(other, "account", limits=limits)).split(".")
    forged = f"{head}.{body}." + base64.urlsafe_b64encode(IDENTITY + b"\x01" + bytes(31)).decode().rstrip("=")
    with pytest.raises(JWTError, match="signature verification"):
        decode_account(forged)
    probes = [Probe(account, accounts[account], account_seed, new_keypair("U")[0])]
    probes.append(Probe(other, forged, other_seed, new_keypair("U")[0]))
    with AccountOracle(operator_jwt, system, accounts[system], tmp_path, binary=nats_server_bin) as oracle:
        refused = oracle.refused(probes)
    assert refused == {account: False, other: True}

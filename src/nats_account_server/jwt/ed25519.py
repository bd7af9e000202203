"""Ed25519 verification with the rules of Go's `crypto/ed25519`, in pure Python.

libsodium verifies every signature first; it refuses a few signatures that Go accepts: public keys
in a non-canonical encoding (y not reduced below p), public keys of small order and signatures whose
R is a point of small order. `differs_from_libsodium` recognises exactly those inputs from their
bytes, and only for them `verify` decides, as Go does:

* the signature is 64 bytes, the three top bits of its last byte are clear and S is below the group
  order L;
* the public key's y is read from its low 255 bits and reduced modulo p, x is recovered from the
  curve equation (no square root: refused) as the even root, negated when the top bit is set (a zero
  x stays zero); small-order points are accepted;
* k = SHA-512(R || public key || message) mod L, and the signature holds iff the canonical encoding
  of [S]B - [k]A equals R byte for byte (no cofactor).

Slow (milliseconds) but reached only by such crafted inputs; honest keys and signatures never get here.
"""

from __future__ import annotations

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, P - 2, P) % P
_D2 = 2 * _D % P
_SQRT_M1 = pow(2, (P - 1) // 4, P)
_Y_MASK = (1 << 255) - 1

Point = tuple[int, int, int, int]  # extended coordinates: x = X/Z, y = Y/Z, x*y = T/Z
_IDENTITY: Point = (0, 1, 1, 0)


def _sqrt_ratio(u: int, v: int) -> int | None:
    """The even square root of u/v modulo p, None when u/v is not a square."""
    v3 = v * v * v % P
    x = u * v3 * pow(u * v3 * v3 * v % P, (P - 5) // 8, P) % P
    check = v * x * x % P
    if check == u % P:
        pass
    elif check == -u % P:
        x = x * _SQRT_M1 % P
    else:
        return None
    return P - x if x & 1 else x


def _point(x: int, y: int) -> Point:
    return (x, y, 1, x * y % P)


def decode_point(data: bytes) -> Point | None:
    """A 32-byte encoding as Go's edwards25519 reads it (non-canonical y accepted), None if off the curve."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little") & _Y_MASK
    y %= P
    yy = y * y % P
    x = _sqrt_ratio(yy - 1, _D * yy + 1)
    if x is None:
        return None
    if data[31] >> 7:
        x = -x % P
    return _point(x, y)


def encode_point(p: Point) -> bytes:
    """The canonical encoding: y below p, the top bit the parity of x."""
    x, y, z, _ = p
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _add(p: Point, q: Point) -> Point:
    """Unified addition on the a = -1 twisted Edwards curve (complete: doubling and small orders too)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * _D2 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _negate(p: Point) -> Point:
    x, y, z, t = p
    return (-x % P, y, z, -t % P)


_BY = 4 * pow(5, P - 2, P) % P
_BASE: Point = _point(_sqrt_ratio(_BY * _BY - 1, _D * _BY * _BY + 1) or 0, _BY)


def _double_mult(a: int, p: Point, b: int, q: Point) -> Point:
    """[a]P + [b]Q, both scalars at once (bits from the top)."""
    both = _add(p, q)
    out = _IDENTITY
    for i in range(max(a.bit_length(), b.bit_length()) - 1, -1, -1):
        out = _add(out, out)
        bits = (a >> i & 1, b >> i & 1)
        if bits == (1, 1):
            out = _add(out, both)
        elif bits[0]:
            out = _add(out, p)
        elif bits[1]:
            out = _add(out, q)
    return out


def verify(public_key: bytes, message: bytes, sig: bytes) -> bool:
    """Go's `ed25519.Verify`: cofactorless, canonical S, the key decoded leniently."""
    if len(public_key) != 32 or len(sig) != 64 or sig[63] & 0xE0:
        return False
    a = decode_point(public_key)
    if a is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + public_key + message).digest(), "little") % L
    return encode_point(_double_mult(s, _BASE, k, _negate(a))) == sig[:32]


#: y coordinates of the points of small order: 0 (order 4), 1 (the identity), p - 1 (order 2) and
#: the two of order 8.
SMALL_ORDER_Y = frozenset(
    {
        0,
        1,
        P - 1,
        2707385501144840649318225287225658788936804267575313519463743609750303402022,
        55188659117513257062467267217118295137698188065244968500265048394206261417927,
    }
)


def differs_from_libsodium(public_key: bytes, sig: bytes) -> bool:
    """True for the inputs libsodium refuses by their bytes while Go may accept them: a public key
    with y not below p or of small order, or an R of small order."""
    if len(public_key) != 32 or len(sig) != 64:
        return False
    y_key = int.from_bytes(public_key, "little") & _Y_MASK
    y_r = int.from_bytes(sig[:32], "little") & _Y_MASK
    return y_key >= P or y_key in SMALL_ORDER_Y or y_r in SMALL_ORDER_Y

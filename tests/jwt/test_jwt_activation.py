"""Activation hash: a worked example and the subject cleanings."""

from __future__ import annotations

import pytest
from jwt_vectors import ACCOUNT1_KEY, ACCOUNT1_SEED, ACCOUNT2_KEY, OPERATOR_KEY, OPERATOR_SEED

from nats_account_server.jwt import (
    JWTError,
    activation_claims,
    activation_hash,
    clean_subject,
    decode_activation,
    encode,
    is_activation_hash,
)

CASES = [
    ("times.*", "times", "GN456AELQ6AC2OLSK2YIUP23BHI52CUJAOMCEG33YAMIED7EX2YA===="),
    ("foo.bar", "foo.bar", "2XV2BJMQGFTN5MP4KDZPNYGT4GYIWOVRDPCVXW6U3ZJNNF2WSBLA===="),
    ("*.x", "_", "K2E453F6PRIUEF4I5SAT4U2CTVWJG536NH7FOWBWE47PRAE7ZCPA===="),
    (">", "_", "K2E453F6PRIUEF4I5SAT4U2CTVWJG536NH7FOWBWE47PRAE7ZCPA===="),
    ("a.>.b", "a", "XRSGITSLBG2NC5Y7OFWD3LCLWWPL55UDFBQ4TECTZNE5CO7V7O6Q===="),
    ("foo.*.bar", "foo", "EATTE6CRWDETNU2XFXB6VXGJCRKH3Q4QDHVREQHBFUKIZ6TJS75Q===="),
]


@pytest.mark.parametrize(("subject", "cleaned", "expected"), CASES)
def test_spec_hashes(subject: str, cleaned: str, expected: str) -> None:
    assert clean_subject(subject) == cleaned
    got = activation_hash(ACCOUNT1_KEY, ACCOUNT2_KEY, subject)
    assert got == expected
    assert len(got) == 56 and got.endswith("====")
    assert is_activation_hash(got)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("subject", "cleaned", "expected"), CASES)
def test_hash_of_a_decoded_activation(version: int, subject: str, cleaned: str, expected: str) -> None:
    raw = encode(activation_claims(ACCOUNT2_KEY, subject, version=version), ACCOUNT1_SEED, version=version)
    act = decode_activation(raw)
    assert (act.iss, act.sub, act.activation.subject) == (ACCOUNT1_KEY, ACCOUNT2_KEY, subject)
    assert activation_hash(act.iss, act.sub, act.activation.subject) == expected


def test_hash_covers_the_issuer() -> None:
    by_account = decode_activation(encode(activation_claims(ACCOUNT2_KEY, "x"), ACCOUNT1_SEED))
    by_operator = decode_activation(encode(activation_claims(ACCOUNT2_KEY, "x"), OPERATOR_SEED))
    assert by_operator.iss == OPERATOR_KEY
    assert activation_hash(by_account.iss, by_account.sub, "x") != activation_hash(
        by_operator.iss, by_operator.sub, "x"
    )


def test_wildcard_must_be_a_whole_token() -> None:
    assert clean_subject("foo*.bar") == "foo*.bar"
    assert clean_subject("a.b.>") == "a.b"


def test_hash_depends_on_issuer_and_subject_account() -> None:
    a = activation_hash(ACCOUNT1_KEY, ACCOUNT2_KEY, "x")
    assert a != activation_hash(ACCOUNT2_KEY, ACCOUNT1_KEY, "x")


@pytest.mark.parametrize(("iss", "sub", "subject"), [("", "B", "x"), ("A", "", "x"), ("A", "B", "")])
def test_missing_inputs(iss: str, sub: str, subject: str) -> None:
    with pytest.raises(JWTError):
        activation_hash(iss, sub, subject)


def test_missing_inputs_text_is_the_librarys() -> None:
    with pytest.raises(JWTError, match="^not enough data in the activaion claims to create a hash$"):
        activation_hash(ACCOUNT1_KEY, ACCOUNT2_KEY, "")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "GN456AELQ6AC2OLSK2YIUP23BHI52CUJAOMCEG33YAMIED7EX2YA",
        "GN456AELQ6AC2OLSK2YIUP23BHI52CUJAOMCEG33YAMIED7EX2YA===",
        "gn456aelq6ac2olsk2yiup23bhi52cujaomceg33yamied7ex2ya====",
        "GN456AELQ6AC2OLSK2YIUP23BHI52CUJAOMCEG33YAMIED7EX2YB====",  # non-canonical trailing bits
        "../../etc/passwd",
        ACCOUNT1_KEY,
    ],
)
def test_is_activation_hash_rejects(bad: str) -> None:
    assert not is_activation_hash(bad)

"""Blocking validation issues (SPEC 5.6 step 8)."""

from __future__ import annotations

from typing import Any

import pytest
from jwt_vectors import ACCOUNT1_KEY, ACCOUNT1_SEED, ACCOUNT2_KEY, OPERATOR_KEY, OPERATOR_SEED, T1

from nats_account_server.jwt import (
    Token,
    account_claims,
    activation_claims,
    decode,
    decode_account,
    encode,
    validation_issues,
)

NOW = 1_800_000_000


def _account(version: int = 2, **kw: Any) -> Token:
    return decode_account(
        encode(account_claims(ACCOUNT1_KEY, "A", version, **kw), OPERATOR_SEED, version=version)
    )


def _raw_account(nats: dict[str, Any], version: int = 2) -> Token:
    """An account token with an arbitrary `nats` member (validation must not assume its shape)."""
    claims: dict[str, Any] = {"sub": ACCOUNT1_KEY, "iat": 1, "nats": dict(nats)}
    if version == 1:
        claims["type"] = "account"
    else:
        claims["nats"].update(type="account", version=2)
    return decode_account(encode(claims, OPERATOR_SEED, version=version))


def test_t1_has_no_issues() -> None:
    assert validation_issues(decode_account(T1), NOW) == []


def test_time_checks() -> None:
    assert validation_issues(_account(exp=NOW - 1), NOW) == ["claim is expired"]
    assert validation_issues(_account(exp=NOW), NOW) == []
    assert validation_issues(_account(nbf=NOW + 1), NOW) == ["claim is not yet valid"]
    assert validation_issues(_account(nbf=NOW), NOW) == []
    assert validation_issues(_account(exp=NOW - 1, nbf=NOW + 1), NOW) == [
        "claim is expired",
        "claim is not yet valid",
    ]
    assert validation_issues(_account(exp=1)) == ["claim is expired"]  # default now = current time


def test_time_checks_apply_to_activations() -> None:
    act = decode(encode(activation_claims(ACCOUNT2_KEY, "x.*", exp=NOW - 5), ACCOUNT1_SEED))
    assert validation_issues(act, NOW) == ["claim is expired"]
    # structural account checks do not apply (wildcard subject is fine here)
    assert validation_issues(decode(encode(activation_claims(ACCOUNT2_KEY, "x.*"), ACCOUNT1_SEED)), NOW) == []


@pytest.mark.parametrize("version", [1, 2])
def test_valid_imports_exports(version: int) -> None:
    tok = _account(
        version,
        imports=[
            {"name": "i", "subject": "foo.>", "account": ACCOUNT2_KEY, "type": "stream"},
            {"subject": "svc.a", "account": ACCOUNT2_KEY, "type": "service", "to": "local.a"},
        ],
        exports=[{"subject": "pub.*", "type": "stream"}, {"subject": "req.q", "type": "service"}],
        signing_keys=[ACCOUNT2_KEY],
    )
    assert validation_issues(tok, NOW) == []


@pytest.mark.parametrize("subject", ["", "a..b", ".a", "a.", "a b", "a\tb", ">.a", "a.>.b", 5, None])
def test_invalid_subjects(subject: Any) -> None:
    imp = _raw_account({"imports": [{"subject": subject, "account": ACCOUNT2_KEY, "type": "stream"}]})
    issues = validation_issues(imp, NOW)
    assert len(issues) == 1 and issues[0].startswith("import subject")
    exp = _raw_account({"exports": [{"subject": subject, "type": "stream"}]})
    issues = validation_issues(exp, NOW)
    assert len(issues) == 1 and issues[0].startswith("export subject")


def test_import_account_must_be_an_account_key() -> None:
    for bad in (OPERATOR_KEY, "ABC", ACCOUNT1_SEED, 7):
        tok = _raw_account({"imports": [{"subject": "a", "account": bad, "type": "stream"}]})
        (issue,) = validation_issues(tok, NOW)
        assert "not a valid account public key" in issue
    tok = _raw_account({"imports": [{"subject": "a", "type": "stream"}]})
    assert validation_issues(tok, NOW) == ['import "a": account to import from is not specified']


def test_import_tokens_are_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access during validation")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    tok = _raw_account(
        {
            "imports": [
                {
                    "subject": "a",
                    "account": ACCOUNT2_KEY,
                    "type": "stream",
                    "token": "http://169.254.169.254/latest",
                }
            ]
        }
    )
    assert validation_issues(tok, NOW) == []


def test_service_exports_without_wildcards() -> None:
    for subject in ("svc.*", "svc.>", "*"):
        tok = _raw_account({"exports": [{"subject": subject, "type": "service"}]})
        assert validation_issues(tok, NOW) == [f'services cannot have wildcard subject: "{subject}"']
    tok = _raw_account({"exports": [{"subject": "svc*", "type": "service"}]})
    assert validation_issues(tok, NOW) == []


def test_counts_within_limits() -> None:
    imports = [{"subject": f"s{i}", "account": ACCOUNT2_KEY, "type": "stream"} for i in range(3)]
    exports = [{"subject": f"e{i}", "type": "stream"} for i in range(3)]
    assert (
        validation_issues(
            _account(imports=imports, exports=exports, limits={"imports": 3, "exports": 3}), NOW
        )
        == []
    )
    assert validation_issues(_account(imports=imports, exports=exports), NOW) == []  # -1 = unlimited
    issues = validation_issues(
        _account(imports=imports, exports=exports, limits={"imports": 2, "exports": 0}), NOW
    )
    assert issues == [
        "the account contains more imports than allowed by the operator",
        "the account contains more exports than allowed by the operator",
    ]


def test_wildcard_exports_limit() -> None:
    exports = [{"subject": "a.*", "type": "stream"}, {"subject": "b.>", "type": "stream"}]
    issues = validation_issues(_account(exports=exports, limits={"wildcards": False}), NOW)
    assert issues == ["the account contains wildcard exports that are not allowed by the operator"]
    assert validation_issues(_account(exports=exports), NOW) == []


def test_signing_keys() -> None:
    assert validation_issues(_account(signing_keys=[ACCOUNT2_KEY]), NOW) == []
    (issue,) = validation_issues(_account(signing_keys=[OPERATOR_KEY]), NOW)
    assert issue == f'"{OPERATOR_KEY}" is not a valid account signing key'
    scoped = {"kind": "user_scope", "key": ACCOUNT2_KEY, "role": "r", "template": {}}
    assert validation_issues(_account(signing_keys=[scoped]), NOW) == []
    assert len(validation_issues(_account(signing_keys=[{"key": "junk"}]), NOW)) == 1
    # v1 signing keys are plain strings only
    assert len(validation_issues(_account(1, signing_keys=[scoped]), NOW)) == 1
    assert validation_issues(_account(1, signing_keys=[ACCOUNT2_KEY]), NOW) == []


@pytest.mark.parametrize(
    "nats",
    [
        {"imports": {"a": 1}},
        {"exports": "x"},
        {"signing_keys": ACCOUNT2_KEY},
        {"limits": [1]},
        {"imports": [1]},
        {"exports": [None]},
    ],
)
def test_malformed_structures_are_issues_not_crashes(nats: dict[str, Any]) -> None:
    issues = validation_issues(_raw_account(nats), NOW)
    assert len(issues) == 1 and "\n" not in issues[0]


def test_issue_lines_stay_single_line() -> None:
    tok = _raw_account({"exports": [{"subject": "a\nb" + "x" * 500, "type": "stream"}]})
    (issue,) = validation_issues(tok, NOW)
    assert "\n" not in issue and len(issue) < 200

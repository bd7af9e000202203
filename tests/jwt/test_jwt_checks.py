"""Validation of decoded claims: every check with its exact texts, order and repetitions."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from jwt_vectors import (
    ACCOUNT1_KEY,
    ACCOUNT1_SEED,
    ACCOUNT2_KEY,
    ACCOUNT2_SEED,
    OPERATOR_KEY,
    OPERATOR_SEED,
    T1,
)

from nats_account_server.jwt import codec
from nats_account_server.jwt.checks import (
    BLOCKING,
    NULL_EXPORT_CRASH,
    TIME,
    WARNING,
    Issue,
    Verdict,
    account_issues,
    activation_issues,
    issues_of,
    judge,
    operator_issues,
)
from nats_account_server.jwt.claims import JetStreamLimits
from nats_account_server.jwt.encode import (
    activation_claims,
    encode,
    new_keypair,
    operator_claims,
    user_claims,
)
from nats_account_server.jwt.layouts import AccountClaims, Claims
from nats_account_server.jwt.nkeys import crc16, encode_public_key
from nats_account_server.jwt.subjects import contained_in, has_wildcards, subject_issues

NOW = 1_800_000_000
UNLIMITED: dict[str, Any] = {"imports": -1, "exports": -1}
USER_SEED, USER_KEY = new_keypair("U")
SIGNER_SEED, SIGNER_KEY = new_keypair("A")
CURVE_KEY = encode_public_key("X", bytes(range(32)))
_DEFAULT = object()
TOO_MANY_IMPORTS = "the account contains more imports than allowed by the operator"
MORE_EXPORTS = "the account contains more exports than allowed by the operator"
WILDCARD_EXPORTS = "the account contains wildcard exports that are not allowed by the operator"
EMPTY = "subject cannot be empty"


def account_token(
    nats: dict[str, Any], *, version: int = 2, seed: str = OPERATOR_SEED, limits: Any = _DEFAULT, **top: Any
) -> codec.Token:
    """An account token with the given `nats` members (unlimited imports and exports unless given)."""
    members = dict(nats)
    if limits is not _DEFAULT:
        members["limits"] = limits
    elif "limits" not in members:
        members["limits"] = UNLIMITED
    claims: dict[str, Any] = {"sub": ACCOUNT1_KEY, "iat": 1, **top, "nats": members}
    if version == 1:
        claims["type"] = "account"
    else:
        members.update(type="account", version=2)
    return codec.decode_account(encode(claims, seed, version=version))


def issues(nats: dict[str, Any], **kw: Any) -> list[Issue]:
    return issues_of(account_token(nats, **kw), NOW)


def texts(nats: dict[str, Any], **kw: Any) -> list[str]:
    return [i.text for i in issues(nats, **kw)]


def token(
    subject: str = "a.*",
    *,
    kind: str | None = "stream",
    sub: str = ACCOUNT1_KEY,
    seed: str = ACCOUNT2_SEED,
    **kw: Any,
) -> str:
    """An activation token for account 1 importing from account 2."""
    claims = activation_claims(sub, subject, kind or "stream", **kw)
    if kind is None:
        del claims["nats"]["kind"]
    return encode(claims, seed)


def imp(subject: str = "a.b", kind: str | None = "stream", **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"subject": subject, "account": ACCOUNT2_KEY, **kw}
    if kind is not None:
        out["type"] = kind
    return out


def exp(subject: str = "a.b", kind: str | None = "stream", **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"subject": subject, **kw}
    if kind is not None:
        out["type"] = kind
    return out


def q(text: str) -> str:
    return '"' + text + '"'


# ---------------------------------------------------------------- subject predicates
@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("a.b", []),
        ("a\tb", []),
        ("a.>.b", []),
        ("a*", []),
        ("é.\x01", []),
        ("", [EMPTY]),
        ("a b", ['subject "a b" cannot have spaces']),
        (".a", ['subject ".a" cannot start or end with a `.`']),
        ("a.", ['subject "a." cannot start or end with a `.`']),
        ("a..b", ['subject "a..b" cannot contain consecutive `.`']),
        (
            " .a..",
            [
                'subject " .a.." cannot have spaces',
                'subject " .a.." cannot start or end with a `.`',
                'subject " .a.." cannot contain consecutive `.`',
            ],
        ),
        ('a"\n', []),
    ],
)
def test_subject_issues(subject: str, expected: list[str]) -> None:
    assert subject_issues(subject) == expected


def test_subject_issues_are_go_quoted() -> None:
    assert subject_issues('a "b\n') == ['subject "a \\"b\\n" cannot have spaces']


@pytest.mark.parametrize("subject", ["a.>", "a.*.b", "a.*", "*.a", "*", ">"])
def test_has_wildcards(subject: str) -> None:
    assert has_wildcards(subject)


@pytest.mark.parametrize("subject", ["a.>.b", ">.a", "a*", "*a", "a", "a.b*", ""])
def test_has_no_wildcards(subject: str) -> None:
    assert not has_wildcards(subject)


@pytest.mark.parametrize(
    ("s", "o", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.*", "a.*", True),
        ("a.>", "a.*", True),
        ("a.b.c", "a.>", True),
        ("a.b", "a.>", True),
        ("a", "a.>", False),
        ("a.b", "a.b.>", False),
        ("a.*", "a.b", False),
        ("a.b.c", "a.*", False),
        ("a.b", "*.b", True),
        ("x.b", "a.b", False),
        ("", "", True),
    ],
)
def test_contained_in(s: str, o: str, expected: bool) -> None:
    assert contained_in(s, o) is expected


# ---------------------------------------------------------------- B.1 time
def test_t1_is_clean() -> None:
    assert issues_of(codec.decode_account(T1), NOW) == []
    assert not judge(T1, "account", now=NOW).refused


@pytest.mark.parametrize("version", [1, 2])
def test_time_checks(version: int) -> None:
    assert issues({}, version=version, exp=NOW - 1) == [Issue("claim is expired", TIME)]
    # the library lets an account live through its `exp` second; nats-server refuses it at `exp`
    assert issues({}, version=version, exp=NOW) == [Issue("claim is expired", TIME)]
    assert issues({}, version=version, exp=NOW + 1) == []
    assert issues({}, version=version, nbf=NOW + 1) == [Issue("claim is not yet valid", TIME)]
    assert issues({}, version=version, nbf=NOW) == []
    assert texts({}, version=version, exp=NOW - 1, nbf=NOW + 1) == [
        "claim is expired",
        "claim is not yet valid",
    ]
    # a negative `exp` is "none" to the library, but nats-server refuses it as expired
    assert issues({}, version=version, exp=-5, nbf=-5, iat=NOW + 100) == [Issue("claim is expired", TIME)]
    assert issues({}, version=version, nbf=-5, iat=NOW + 100) == []


def test_issue_kinds() -> None:
    assert Issue("x", BLOCKING).blocks and Issue("x", TIME).blocks
    assert not Issue("x", WARNING).blocks


def test_default_now_is_the_current_time() -> None:
    assert [i.text for i in issues_of(account_token({}, exp=1))] == ["claim is expired"]
    assert issues_of(account_token({}, exp=4_000_000_000)) == []


# ---------------------------------------------------------------- B.2 limits
@pytest.mark.parametrize("version", [1, 2])
def test_import_limit_is_reported_twice(version: int) -> None:
    nats = {"imports": [imp("a"), imp("b")], "limits": {"imports": 1, "exports": -1}}
    assert texts(nats, version=version) == [TOO_MANY_IMPORTS, TOO_MANY_IMPORTS]
    nats["limits"] = {"imports": 2, "exports": -1}
    assert texts(nats, version=version) == []


def test_import_limit_of_empty_limits_is_zero_and_reported_once() -> None:
    assert texts({"imports": [imp()]}, limits=None) == [TOO_MANY_IMPORTS]
    assert texts({"imports": [imp()]}, limits={}) == [TOO_MANY_IMPORTS]
    assert texts({}, limits={}) == []


def test_negative_import_limit_refuses_even_no_import() -> None:
    assert texts({}, limits={"imports": -2, "exports": -1}) == [TOO_MANY_IMPORTS]
    assert texts({"imports": [imp()] * 3}, limits={"imports": -1, "exports": -1}) == []


def test_null_imports_count() -> None:
    nats = {"imports": [None, imp()], "limits": {"imports": 1, "exports": -1}}
    assert texts(nats) == ["null import is not allowed", TOO_MANY_IMPORTS, TOO_MANY_IMPORTS]


@pytest.mark.parametrize("version", [1, 2])
def test_export_limit(version: int) -> None:
    limits = {"imports": -1, "exports": 1, "wildcards": True}
    assert texts({"exports": [exp("a"), exp("b")]}, version=version, limits=limits) == [MORE_EXPORTS]
    assert texts({"exports": [exp("a")]}, version=version, limits=limits) == []


@pytest.mark.parametrize("version", [1, 2])
def test_wildcard_exports_one_issue_each(version: int) -> None:
    exports = [exp("a.*"), exp("b.>", "service"), exp("c"), exp("d.>.e")]
    limits = {"imports": -1, "exports": 9}
    assert texts({"exports": exports}, version=version, limits=limits) == [WILDCARD_EXPORTS, WILDCARD_EXPORTS]
    assert texts({"exports": exports}, version=version, limits={**limits, "wildcards": True}) == []
    assert texts({"exports": exports}, version=version, limits=UNLIMITED) == []  # wildcards not looked at


def test_exports_over_limit_and_wildcards() -> None:
    assert texts({"exports": [exp("a.*")]}, limits=None) == [MORE_EXPORTS, WILDCARD_EXPORTS]


def test_blank_tier() -> None:
    tiers = {"": {"mem_storage": 1}, "R1": {"disk_storage": 1}}
    assert texts({"limits": {**UNLIMITED, "tiered_limits": tiers}}) == [
        'Tiered JetStream Limits can not contain a blank "" tier name'
    ]
    assert texts({"limits": {**UNLIMITED, "tiered_limits": {"R1": {}}, "mem_storage": 5}}) == []


def test_flat_and_tiered_limits_cannot_be_decoded_but_are_checked() -> None:
    claims = AccountClaims(sub=ACCOUNT1_KEY)
    claims.limits.imports = claims.limits.exports = -1
    claims.limits.tiered_limits = {"": JetStreamLimits()}
    claims.limits.max_bytes_required = True
    assert [i.text for i in account_issues(claims, NOW)] == [
        "JetStream Limits and tiered JetStream Limits are mutually exclusive",
        'Tiered JetStream Limits can not contain a blank "" tier name',
    ]


def test_jetstream_limit_values_are_not_checked() -> None:
    limits = {"subs": -7, "data": -9, "payload": 0, "conn": -3, "leaf": 7, "mem_storage": -5, "streams": -2}
    assert texts({"limits": {**UNLIMITED, **limits, "disallow_bearer": True}}) == []


# ---------------------------------------------------------------- B.13 the null-export crash
def test_null_export_with_wildcard_limits_crashes_and_is_refused() -> None:
    nats = {
        "exports": [exp("a.*"), None, exp("b.*")],
        "limits": {"imports": -1, "exports": 5},
        "signing_keys": ["junk"],
        "cluster_traffic": "bad",
    }
    found = issues(nats, seed=ACCOUNT1_SEED)
    assert [i.text for i in found] == ["null export is not allowed", WILDCARD_EXPORTS, NULL_EXPORT_CRASH]
    assert found[-1].kind == BLOCKING


def test_null_export_without_the_wildcard_loop_is_only_refused() -> None:
    nats = {"exports": [None], "signing_keys": ["junk"]}
    assert texts(nats) == ["null export is not allowed", '"junk" is not a valid account signing key']
    nats["limits"] = {"imports": -1, "exports": 5, "wildcards": True}
    assert texts(nats) == ["null export is not allowed", '"junk" is not a valid account signing key']


# ---------------------------------------------------------------- B.3 info
LONG = "x" * 8193


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"description": "x" * 8192, "info_url": "https://example.com/" + "a" * 8172}, []),
        ({"description": LONG}, ["Description is too long"]),
        ({"description": "é" * 4097}, ["Description is too long"]),  # bytes, not characters
        ({"info_url": "https://example.com/" + "a" * 8173}, ["Info URL is too long"]),
        ({"info_url": "ftp://h"}, []),
        ({"info_url": "HTTP://X"}, []),
        ({"info_url": "example.com/docs"}, ["error parsing info url: no hostname or scheme"]),
        ({"info_url": "mailto:x@y"}, ["error parsing info url: no hostname or scheme"]),
        ({"info_url": "//host/path"}, ["error parsing info url: no hostname or scheme"]),
        (
            {"info_url": "http://x/\x7f"},
            ['error parsing info url: parse "http://x/\\x7f": net/url: invalid control character in URL'],
        ),
        ({"info_url": ":x"}, ['error parsing info url: parse ":x": missing protocol scheme']),
        (
            {"info_url": "http://x/\x01" + "a" * 8192, "description": LONG},
            [
                "Description is too long",
                "Info URL is too long",
                'error parsing info url: parse "http://x/\\x01'
                + "a" * 8192
                + '": net/url: invalid control character in URL',
            ],
        ),
    ],
)
def test_account_and_export_info(info: dict[str, str], expected: list[str]) -> None:
    assert texts(info) == expected
    assert texts({"exports": [exp(**info)]}) == expected


def test_v1_account_info_is_ignored_but_export_info_is_checked() -> None:
    assert texts({"description": LONG, "info_url": "nope"}, version=1) == []
    assert texts({"exports": [exp(description=LONG)]}, version=1) == ["Description is too long"]


# ---------------------------------------------------------------- B.4 mappings
def mapping(*targets: dict[str, Any], source: str = "m.a") -> dict[str, Any]:
    return {"mappings": {source: list(targets)}}


@pytest.mark.parametrize(
    ("nats", "expected"),
    [
        (mapping({"subject": "x", "weight": 50}, {"subject": "y", "weight": 50}), []),
        (mapping({"subject": "x.*"}, {"subject": "{{wildcard(1)}}", "cluster": "c"}), []),
        ({"mappings": {"m.a": []}}, []),
        (mapping({"subject": "x"}, source="m..a"), ['subject "m..a" cannot contain consecutive `.`']),
        (mapping({"subject": "x y"}), ['subject "x y" cannot have spaces']),
        (mapping({"weight": 10}), [EMPTY]),
        (mapping(None), [EMPTY]),  # type: ignore[arg-type]
        (
            mapping({"subject": "x", "weight": 101}),
            [
                'Mapping "m.a" has a weight 101 that exceeds 100',
                'Mapping "m.a" exceeds 100% among all of it\'s weighted to mappings',
            ],
        ),
        (
            mapping({"subject": "x", "weight": 60}, {"subject": "y", "weight": 50}),
            ['Mapping "m.a" exceeds 100% among all of it\'s weighted to mappings'],
        ),
        (
            mapping({"subject": "x"}, {"subject": "y", "weight": 1}),  # weight 0 means 100
            ['Mapping "m.a" exceeds 100% among all of it\'s weighted to mappings'],
        ),
        (
            mapping(
                {"subject": "x", "weight": 100},
                {"subject": "y", "weight": 100},
                {"subject": "z", "weight": 56},
            ),
            ['Mapping "m.a" exceeds 100% among all of it\'s weighted to mappings'],  # no wrap at 256
        ),
        (
            mapping(
                {"subject": "x", "weight": 60, "cluster": "c1"},
                {"subject": "y", "weight": 50, "cluster": "c1"},
                {"subject": "z", "weight": 10, "cluster": "c1"},
                {"subject": "w", "weight": 90, "cluster": "c2"},
                {"subject": "v", "weight": 100},
            ),
            [
                'Mapping "m.a" in cluster "c1" exceeds 100% among all of it\'s weighted to mappings',
                'Mapping "m.a" in cluster "c1" exceeds 100% among all of it\'s weighted to mappings',
            ],
        ),
        (
            mapping({"subject": "a b", "weight": 200, "cluster": "c"}, source="m "),
            [
                'subject "m " cannot have spaces',
                'subject "a b" cannot have spaces',
                'Mapping "m " has a weight 200 that exceeds 100',
                'Mapping "m " in cluster "c" exceeds 100% among all of it\'s weighted to mappings',
            ],
        ),
    ],
)
def test_mappings(nats: dict[str, Any], expected: list[str]) -> None:
    assert texts(nats) == expected


def test_v1_mappings_are_ignored() -> None:
    assert texts(mapping({"subject": "x y", "weight": 200}, source="m..a"), version=1) == []


# ---------------------------------------------------------------- B.5 default permissions
def perms(**lists: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"pub": {}, "sub": {}}
    for name, entries in lists.items():
        side, which = name.split("_")
        out[side][which] = entries
    return {"default_permissions": out}


@pytest.mark.parametrize(
    ("nats", "expected"),
    [
        (perms(sub_allow=["a.>", "a q", "a\tb"], sub_deny=["b q"], pub_allow=["*"], pub_deny=[">"]), []),
        (perms(pub_allow=["a q"]), ['Permission Subject "a q" is not allowed to contain queue']),
        (perms(pub_deny=["a q"]), ['Permission Subject "a q" is not allowed to contain queue']),
        (perms(sub_allow=["a b c"]), ['Permission Subject "a b c" contains too many spaces']),
        (perms(pub_allow=["a  b"]), ['Permission Subject "a  b" contains too many spaces']),
        (perms(sub_allow=["a.. b.. c"]), ['Permission Subject "a.. b.. c" contains too many spaces']),
        (perms(sub_deny=[""]), [EMPTY]),
        (perms(sub_allow=["a.b "]), [EMPTY]),
        (perms(sub_allow=["a.b q..x"]), ['subject "q..x" cannot contain consecutive `.`']),
        (
            perms(pub_allow=["a. q"]),
            [
                'subject "a." cannot start or end with a `.`',
                'Permission Subject "a. q" is not allowed to contain queue',
            ],
        ),
        (
            perms(pub_deny=["d."], pub_allow=["c."], sub_deny=["b."], sub_allow=["a."]),
            [f"subject {q(s)} cannot start or end with a `.`" for s in ("a.", "b.", "c.", "d.")],
        ),
    ],
)
def test_default_permissions(nats: dict[str, Any], expected: list[str]) -> None:
    assert texts(nats) == expected


def test_response_permission_values_are_not_checked() -> None:
    assert texts({"default_permissions": {"resp": {"max": -5, "ttl": -1}}}) == []


# ---------------------------------------------------------------- B.6 exports
@pytest.mark.parametrize(
    ("export", "expected"),
    [
        (exp("a.b"), []),
        (exp("svc.*", "service", response_type="Singleton"), []),
        (exp("s1", "service", response_type="Stream", response_threshold=5, allow_trace=True), []),
        (
            exp("s2", "service", response_type="Chunked", service_latency={"sampling": 50, "results": "lat"}),
            [],
        ),
        (exp("s3", "service", service_latency={"sampling": "headers", "results": "lat"}), []),
        (exp("s4", "service", service_latency={"results": "lat"}), []),
        (exp("s5", None, response_type="whatever"), ['invalid export type: "unknown"']),
        (exp("s", "service", response_type="single"), ['invalid response type for service: "single"']),
        (exp("s", "stream", response_type="Stream"), ['invalid response type for stream: "Stream"']),
        (exp("s", "stream", allow_trace=True), ["AllowTrace only valid for service export"]),
        (exp("s", None, allow_trace=True), ['invalid export type: "unknown"']),
        (
            exp("s", "stream", service_latency={"sampling": 50, "results": "lat"}),
            ["latency tracking only permitted for services"],
        ),
        (
            exp("s", None, service_latency={"sampling": 50}),
            ['invalid export type: "unknown"', "latency tracking only permitted for services", EMPTY],
        ),
        (
            exp("s", "service", service_latency={"sampling": 101, "results": "l"}),
            ["sampling percentage needs to be between 1-100"],
        ),
        (
            exp("s", "service", service_latency={"sampling": -1, "results": "l"}),
            ["sampling percentage needs to be between 1-100"],
        ),
        (
            exp("s", "service", service_latency={"sampling": 1, "results": "l.*"}),
            ["results subject can not contain wildcards"],
        ),
        (
            exp("s", "service", service_latency={"sampling": 100, "results": "l b.>"}),
            ['subject "l b.>" cannot have spaces', "results subject can not contain wildcards"],
        ),
        (exp("s", "service", response_threshold=-1), ["negative response threshold is invalid"]),
        (exp("s", "stream", response_threshold=1), ["response threshold only valid for services"]),
        (
            exp("s", None, response_threshold=1),
            ['invalid export type: "unknown"', "response threshold only valid for services"],
        ),
        (exp("a b"), ['subject "a b" cannot have spaces']),
        (exp(""), [EMPTY]),
        (exp("a.*", account_token_position=2), []),
        (
            exp("a", account_token_position=1),
            ["Account Token Position can only be used with wildcard subjects: a"],
        ),
        (exp("a.*", account_token_position=3), ["Account Token Position 3 exceeds length of subject 'a.*'"]),
        (
            exp("a.*", account_token_position=1),
            ["Account Token Position 1 matches 'a' but must match a * in: a.*"],
        ),
        (
            exp("a.b.>", account_token_position=3),
            ["Account Token Position 3 matches '>' but must match a * in: a.b.>"],
        ),
        (exp("x.>", "service"), []),  # wildcard services are allowed
        (exp("n", name="anything", token_req=True, advertise=True, revocations={"*": -5}), []),
    ],
)
@pytest.mark.parametrize("version", [1, 2])
def test_export(export: dict[str, Any], expected: list[str], version: int) -> None:
    assert texts({"exports": [export]}, version=version) == expected


def test_export_checks_in_order() -> None:
    export = exp(
        "a b",
        "stream",
        response_type="Chunked",
        allow_trace=True,
        service_latency={"sampling": 200, "results": "r.>"},
        response_threshold=-1,
        account_token_position=1,
        description=LONG,
    )
    assert texts({"exports": [export]}) == [
        'invalid response type for stream: "Chunked"',
        "AllowTrace only valid for service export",
        "latency tracking only permitted for services",
        "sampling percentage needs to be between 1-100",
        "results subject can not contain wildcards",
        "negative response threshold is invalid",
        'subject "a b" cannot have spaces',
        "Account Token Position can only be used with wildcard subjects: a b",
        "Description is too long",
    ]


def test_null_export() -> None:
    assert texts({"exports": [None, exp("a")]}) == ["null export is not allowed"]


def test_export_overlaps() -> None:
    assert texts({"exports": [exp("a.>", "service"), exp("a.b", "service")]}) == [
        'service export subject "a.>" already exports "a.b"'
    ]
    assert texts({"exports": [exp("x"), exp("x")]}) == ['stream export subject "x" already exports "x"']
    assert texts({"exports": [exp("a.>", "service"), exp("a.b", "stream")]}) == []  # separate groups
    # exports without type are grouped with the streams
    assert texts({"exports": [exp("s.*", None), exp("s.a")]}) == [
        'invalid export type: "unknown"',
        'stream export subject "s.*" already exports "s.a"',
    ]
    # a `*` of the containing subject matches `>`; only the container's wildcards count
    assert texts({"exports": [exp("a.*"), exp("a.>")]}) == [
        'stream export subject "a.>" already exports "a.*"',
        'stream export subject "a.*" already exports "a.>"',
    ]
    assert texts({"exports": [exp("a.b"), exp("a.b.>")]}) == []
    assert texts({"exports": [exp("a.b"), exp("a.b.>"), None]}) == ["null export is not allowed"]


def test_export_overlaps_one_issue_per_container() -> None:
    found = texts({"exports": [exp("a.>", "service"), exp("a.b", "service"), exp("a.c", "service")]})
    assert found == ['service export subject "a.>" already exports "a.b"']
    found = texts({"exports": [exp(">"), exp("a.>"), exp("a.b")]})
    assert sorted(found) == [
        'stream export subject ">" already exports "a.>"',
        'stream export subject "a.>" already exports "a.b"',
    ]
    assert texts({"exports": [exp("a b"), exp("a b")]}) == [
        'subject "a b" cannot have spaces',
        'subject "a b" cannot have spaces',
        'stream export subject "a b" already exports "a b"',
    ]


# ---------------------------------------------------------------- B.7 imports
def overlap(this: str, earlier: str, account: str = ACCOUNT2_KEY) -> str:
    return f"overlapping subject namespace for {q(this)} and {q(earlier)} in same account {q(account)}"


def duplicate(subject: str, account: str = ACCOUNT2_KEY) -> str:
    return f"overlapping subject namespace for {q(subject)} in account {q(account)}"


CONTROL = "net/url: invalid control character in URL"


def unsupported(url: str) -> str:
    return f"operator service url {q(url)} - protocol not supported (only 'nats', 'tls', 'ws', 'wss' only)"


DEPRECATED = "the field to has been deprecated (use LocalSubject instead)"


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ([imp("a.b"), imp("svc.>", "service"), imp("x", "service", local_subject="y")], []),
        ([None], ["null import is not allowed"]),
        ([imp("a", None)], ['invalid import type: "unknown"']),
        ([imp("a", "service", allow_trace=True)], ["AllowTrace only valid for stream import"]),
        ([imp("a", "stream", allow_trace=True, share=False)], []),
        ([imp("a", account="")], ["account to import from is not specified"]),
        ([{"subject": "a", "type": "stream"}], ["account to import from is not specified"]),
        ([imp("a", account="not a key")], []),  # the account is not checked to be a key
        ([imp("a", to="b")], [DEPRECATED]),
        ([imp("a..b")], ['subject "a..b" cannot contain consecutive `.`']),
        ([imp("")], [EMPTY]),
        (
            [imp("a", share=True)],
            ['sharing information (for latency tracking) is only valid for services: "a"'],
        ),
        (
            [imp("a", None, share=True)],
            [
                'invalid import type: "unknown"',
                'sharing information (for latency tracking) is only valid for services: "a"',
            ],
        ),
        ([imp("a", "service", share=True)], []),
    ],
)
@pytest.mark.parametrize("version", [1, 2])
def test_import(imports: list[Any], expected: list[str], version: int) -> None:
    assert texts({"imports": imports}, version=version) == expected


def test_to_is_a_warning() -> None:
    found = issues({"imports": [imp("a", to="a b")]})
    assert found == [Issue(DEPRECATED, WARNING)]  # `to` is not validated as a subject
    assert not judge(encode_account({"imports": [imp("a", to="b")]}), "account", now=NOW).refused


def encode_account(nats: dict[str, Any]) -> str:
    return account_token(nats).raw


@pytest.mark.parametrize(
    ("local", "subject", "expected"),
    [
        ("b.$1", "a.*", []),
        ("b.*", "a.*", []),
        ("b.>", "a.>", []),
        ("$01", "*", []),
        ("$2.$1", "*.*", []),
        ("$1.$1", "*.a", ["subject does not contain enough * or reference wildcards $[0-9]"]),
        ("a b", "a", ['subject "a b" cannot have spaces', 'subject "a b" cannot have spaces']),
        ("b", "", [EMPTY]),
        (
            ">",
            "",
            [EMPTY, "both, renaming subject and subject, need to end or not end in >"],
        ),
        ("b", "a.>", ["both, renaming subject and subject, need to end or not end in >"]),
        ("b.>", ">", []),
        (
            "$1.x",
            "a",
            ['Reference $1 in "$1.x" reference * in "a" that do not exist'],
        ),
        (
            "$+2.$-1",
            "a.*",
            ['Reference $2 in "$+2.$-1" reference * in "a.*" that do not exist'],
        ),
        ("$0.$1", "*", ["subject does not contain enough * or reference wildcards $[0-9]"]),
        ("$99999999999999999999", "a", []),  # out of range: not a reference
        (
            "$1_0.$ 1",
            "*",
            [
                'subject "$1_0.$ 1" cannot have spaces',
                'subject "$1_0.$ 1" cannot have spaces',
                "subject does not contain enough * or reference wildcards $[0-9]",
            ],
        ),
        ("b.*.*", "a.*", ["subject does not contain enough * or reference wildcards $[0-9]"]),
        (
            "x..y",
            "a.*",
            [
                'subject "x..y" cannot contain consecutive `.`',
                "subject does not contain enough * or reference wildcards $[0-9]",
            ],
        ),
    ],
)
def test_local_subject(local: str, subject: str, expected: list[str]) -> None:
    own = subject_issues(subject)
    assert texts({"imports": [imp(subject, local_subject=local)]}) == own + expected


def test_local_subject_spaces_and_missing_subject_in_library_order() -> None:
    assert texts({"imports": [imp("", local_subject="b c")]}) == [
        EMPTY,
        'subject "b c" cannot have spaces',
        EMPTY,
        'subject "b c" cannot have spaces',
    ]


def test_local_subject_replaces_to() -> None:
    assert texts({"imports": [imp("a", "service", local_subject="b", to="c")]}) == [
        DEPRECATED,
        "Local Subject replaces To",
    ]


def test_import_checks_in_order() -> None:
    imports = [imp("a b", None, account="", to="t", local_subject="x.>", share=True, token="junk")]
    assert texts({"imports": imports}) == [
        'invalid import type: "unknown"',
        "account to import from is not specified",
        DEPRECATED,
        'subject "a b" cannot have spaces',
        "both, renaming subject and subject, need to end or not end in >",
        "Local Subject replaces To",
        'sharing information (for latency tracking) is only valid for services: "a b"',
        'import "a b" contains an invalid activation token',
    ]


def test_service_import_overlaps_within_one_account() -> None:
    imports = [imp("a.>", "service"), imp("a.b", "service"), imp("a.b", "service", account=ACCOUNT1_KEY)]
    assert texts({"imports": imports}) == [overlap("a.b", "a.>")]
    # in either direction, once per earlier import, and an exact repeat also as a duplicate
    imports = [imp("a.b", "service"), imp("a.c", "service"), imp("a.*", "service"), imp("a.b", "service")]
    assert texts({"imports": imports}) == [
        overlap("a.*", "a.b"),
        overlap("a.*", "a.c"),
        overlap("a.b", "a.b"),
        overlap("a.b", "a.*"),
        duplicate("a.b"),
    ]


def test_service_import_overlap_uses_the_local_subject() -> None:
    imports = [
        imp("x", "service", to="l.a"),
        imp("y", "service", local_subject="l.$1"),
        imp("l.a", "service"),
        imp("l.a", "stream"),  # streams are never overlap-checked
    ]
    assert texts({"imports": imports}) == [
        DEPRECATED,
        overlap("l.*", "l.a"),
        'Reference $1 in "l.$1" reference * in "y" that do not exist',
        overlap("l.a", "l.a"),
        overlap("l.a", "l.*"),
        duplicate("l.a"),
    ]


def test_imports_without_account_share_the_empty_account() -> None:
    imports = [imp("a", "service", account=""), imp("a", "service", account="")]
    missing = "account to import from is not specified"
    assert texts({"imports": imports}) == [missing, overlap("a", "a", ""), duplicate("a", ""), missing]


# ---------------------------------------------------------------- B.8 embedded activation tokens
def with_token(tok: str, subject: str = "a.b", kind: str = "stream", **kw: Any) -> list[str]:
    return texts({"imports": [imp(subject, kind, token=tok, **kw)]})


def test_valid_tokens() -> None:
    assert with_token(token("a.*")) == []
    assert with_token(token("a.b", exp=NOW - 100)) == []  # not time-checked here
    assert with_token(token("a.b", kind="service"), kind="service") == []
    assert with_token(token("a.*", kind="service"), "x", "service", to="a.b") == [DEPRECATED]
    assert with_token(token("a.b", seed=SIGNER_SEED, issuer_account=ACCOUNT2_KEY)) == []
    assert with_token(token("a.>") + "\n") == []
    v1 = encode(activation_claims(ACCOUNT1_KEY, "a.>", "stream", version=1), ACCOUNT2_SEED, version=1)
    assert with_token(v1) == []
    assert texts({"imports": [imp("a.b", token=token("a.b"))]}, version=1) == []


@pytest.mark.parametrize(
    "bad",
    [
        "https://example.com/activation.jwt",
        " " + token("a.b"),
        token("a.b", seed=USER_SEED),
        encode(user_claims(USER_KEY, "u"), ACCOUNT2_SEED),
        "a.b.c",
        encode(operator_claims(OPERATOR_KEY, "op"), OPERATOR_SEED),
    ],
)
def test_undecodable_token_reports_only_that(bad: str) -> None:
    assert with_token(bad, "a b", account=OPERATOR_KEY) == [
        'subject "a b" cannot have spaces',
        'import "a b" contains an invalid activation token',
    ]


def test_token_issuer_must_be_the_exporting_account() -> None:
    text = 'activation token doesn\'t match account for import "a.b"'
    assert with_token(token("a.b", seed=SIGNER_SEED)) == [text]
    assert with_token(token("a.b", seed=SIGNER_SEED, issuer_account=ACCOUNT1_KEY)) == [text]
    assert with_token(token("a.b"), account=ACCOUNT1_KEY) == [text]


def test_token_must_name_the_importing_account() -> None:
    assert with_token(token("a.b", sub=ACCOUNT2_KEY)) == [
        'activation token doesn\'t match account it is being included in, "a.b"'
    ]


def test_token_kind_must_match() -> None:
    assert with_token(token("a.b", kind="service")) == [
        "mismatch between token import type service and type of import stream"
    ]
    assert with_token(token("a.b", kind=None)) == [
        "mismatch between token import type unknown and type of import stream",
        'invalid import type: "unknown"',
    ]
    assert texts({"imports": [imp("a.b", None, token=token("a.b"))]}) == [
        'invalid import type: "unknown"',
        "mismatch between token import type stream and type of import unknown",
    ]


def test_token_own_checks() -> None:
    assert with_token(token("a..b"), "a..b") == [
        'subject "a..b" cannot contain consecutive `.`',
        'subject "a..b" cannot contain consecutive `.`',
    ]
    assert with_token(token("a.b", issuer_account=OPERATOR_KEY)) == [
        "account_id is not an account public key"
    ]


def test_token_subject_must_contain_the_import() -> None:
    assert with_token(token("a.b"), "a.>") == [
        'activation token import subject "a.b" doesn\'t match import "a.>"'
    ]
    # a service import with `to` is checked by `to`, and the text names the import's subject
    assert with_token(token("x", kind="service"), "x", "service", to="a.b") == [
        DEPRECATED,
        'activation token import subject "x" doesn\'t match import "x"',
    ]
    # local_subject plays no part
    assert with_token(token("a.b"), "a.b", local_subject="z") == []


def test_token_checks_in_order() -> None:
    tok = token("q r", kind=None, sub=ACCOUNT2_KEY, seed=SIGNER_SEED, issuer_account="bad")
    assert with_token(tok, "a.b", "service") == [
        'activation token doesn\'t match account for import "a.b"',
        'activation token doesn\'t match account it is being included in, "a.b"',
        "mismatch between token import type unknown and type of import service",
        'invalid import type: "unknown"',
        'subject "q r" cannot have spaces',
        "account_id is not an account public key",
        'activation token import subject "q r" doesn\'t match import "a.b"',
    ]


# ---------------------------------------------------------------- B.9 signing keys
@pytest.mark.parametrize("version", [1, 2])
def test_plain_signing_keys(version: int) -> None:
    assert texts({"signing_keys": [ACCOUNT2_KEY, SIGNER_KEY]}, version=version) == []
    assert texts({"signing_keys": [OPERATOR_KEY]}, version=version) == [
        f'"{OPERATOR_KEY}" is not a valid account signing key'
    ]
    assert texts({"signing_keys": ["a\tb"]}, version=version) == [
        '"a\\tb" is not a valid account signing key'
    ]


def test_scoped_signing_keys() -> None:
    scope = {"kind": "user_scope", "key": ACCOUNT2_KEY, "role": "r", "template": {"src": "not a cidr"}}
    assert texts({"signing_keys": [scope]}) == []
    assert texts({"signing_keys": [{**scope, "key": OPERATOR_KEY}]}) == [
        f"{OPERATOR_KEY} is not an account public key"
    ]
    assert texts({"signing_keys": [{"kind": "user_scope"}]}) == [" is not an account public key"]


def short_key(prefix: int, raw: bytes) -> str:
    body = bytes([prefix]) + raw
    return base64.b32encode(body + crc16(body).to_bytes(2, "little")).decode().rstrip("=")


def test_only_the_role_test_counts_for_keys() -> None:
    short = short_key(0, b"\x01\x02")  # an account prefix, a valid CRC, 2 bytes of key
    loose = short_key(0b111, bytes(32))  # the low three bits of the prefix byte are ignored
    assert texts({"signing_keys": [short, loose]}) == []
    assert texts({"signing_keys": [short.lower()]}) == [
        f'"{short.lower()}" is not a valid account signing key'
    ]


# ---------------------------------------------------------------- B.10 what is not checked
def test_revocations_and_tags_are_not_checked() -> None:
    nats = {"revocations": {"*": -1, "not a key": 5}, "tags": ["A B", "", "a", "a"], "name": "x"}
    assert texts(nats) == []
    assert texts(nats, version=1) == []


# ---------------------------------------------------------------- B.11 authorization, trace, cluster traffic
@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"auth_users": [USER_KEY], "allowed_accounts": ["*"], "xkey": CURVE_KEY}, []),
        ({"auth_users": [USER_KEY], "allowed_accounts": [ACCOUNT2_KEY, SIGNER_KEY]}, []),
        (
            {"allowed_accounts": [ACCOUNT2_KEY]},
            ["External authorization cannot have accounts without users specified"],
        ),
        ({"auth_users": [ACCOUNT2_KEY]}, [f'AuthUser "{ACCOUNT2_KEY}" is not a valid user public key']),
        (
            {"auth_users": [USER_KEY], "allowed_accounts": ["*", ACCOUNT2_KEY, "*"]},
            ['AllowedAccounts can only be a list of accounts or "*"'] * 2,
        ),
        (
            {"auth_users": [USER_KEY], "allowed_accounts": [USER_KEY]},
            [f'Account "{USER_KEY}" is not a valid account public key'],
        ),
        ({"xkey": ACCOUNT2_KEY}, [f'XKey "{ACCOUNT2_KEY}" is not a valid public xkey']),
        (
            {"allowed_accounts": ["*", "x"], "auth_users": ["u"], "xkey": "k"},
            [
                'AuthUser "u" is not a valid user public key',
                'AllowedAccounts can only be a list of accounts or "*"',
                'Account "x" is not a valid account public key',
                'XKey "k" is not a valid public xkey',
            ],
        ),
    ],
)
def test_authorization(auth: dict[str, Any], expected: list[str]) -> None:
    assert texts({"authorization": auth}) == expected


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        (None, []),
        ({"dest": "trace.here"}, []),
        ({"dest": "t", "sampling": 100}, []),
        ({}, ["the account Trace.Destination subject cannot be empty"]),
        ({"dest": "a b.."}, ['the account Trace.Destination subject "a b.." cannot have spaces']),
        ({"dest": "t.*"}, ['the account Trace.Destination subject "t.*" is not a valid publish subject']),
        (
            {"dest": ".>"},
            [
                'the account Trace.Destination subject ".>" cannot start or end with a `.`',
                'the account Trace.Destination subject ".>" is not a valid publish subject',
            ],
        ),
        (
            {"dest": "t", "sampling": 101},
            ["the account Trace.Sampling value '101' is not valid, should be in the range [1..100]"],
        ),
        (
            {"dest": "t", "sampling": -1},
            ["the account Trace.Sampling value '-1' is not valid, should be in the range [1..100]"],
        ),
    ],
)
def test_trace(trace: dict[str, Any] | None, expected: list[str]) -> None:
    assert texts({"trace": trace}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("system", []),
        ("owner", []),
        ("System", ['unknown cluster traffic option: "System"']),
        (f"account:{ACCOUNT2_KEY}", [f'unknown cluster traffic option: "account:{ACCOUNT2_KEY}"']),
    ],
)
def test_cluster_traffic(value: str, expected: list[str]) -> None:
    assert texts({"cluster_traffic": value}) == expected


def test_v1_ignores_v2_only_members() -> None:
    nats = {
        "authorization": {"xkey": "k"},
        "trace": {},
        "cluster_traffic": "x",
        "default_permissions": {"pub": {"allow": [""]}},
    }
    assert texts(nats, version=1) == []


# ---------------------------------------------------------------- B.12 self-signed warning
def test_self_signed_with_limits_warns() -> None:
    found = issues({}, seed=ACCOUNT1_SEED)
    assert found == [Issue("self-signed account JWTs shouldn't contain operator limits", WARNING)]
    assert issues({}, seed=ACCOUNT2_SEED, limits={"wildcards": True, "imports": -1}) == found
    verdict = judge(account_token({}, seed=ACCOUNT1_SEED).raw, "account", now=NOW)
    assert verdict.issues == tuple(found) and not verdict.refused


def test_self_signed_without_limits_or_operator_signed() -> None:
    assert issues({}, seed=ACCOUNT1_SEED, limits=None) == []
    assert issues({}, seed=OPERATOR_SEED) == []


# ---------------------------------------------------------------- the account order
def test_account_checks_in_order() -> None:
    nats = {
        "imports": [imp("i j")],
        "exports": [exp("e f")],
        "limits": {"imports": 0, "exports": 0, "tiered_limits": {"": {}}},
        "default_permissions": {"pub": {"allow": ["p q"]}},
        "mappings": {"m n": [{"subject": "t"}]},
        "authorization": {"allowed_accounts": ["*"]},
        "trace": {"dest": ""},
        "signing_keys": ["k"],
        "description": LONG,
        "cluster_traffic": "c",
    }
    found = issues(nats, seed=ACCOUNT1_SEED, exp=NOW - 1)
    assert [i.text for i in found] == [
        "claim is expired",
        'subject "i j" cannot have spaces',
        'subject "e f" cannot have spaces',
        'Tiered JetStream Limits can not contain a blank "" tier name',
        'Permission Subject "p q" is not allowed to contain queue',
        'subject "m n" cannot have spaces',
        "External authorization cannot have accounts without users specified",
        "the account Trace.Destination subject cannot be empty",
        TOO_MANY_IMPORTS,
        TOO_MANY_IMPORTS,
        MORE_EXPORTS,
        '"k" is not a valid account signing key',
        "Description is too long",
        'unknown cluster traffic option: "c"',
        "self-signed account JWTs shouldn't contain operator limits",
    ]
    assert [i.kind for i in found] == [TIME] + [BLOCKING] * 13 + [WARNING]


# ---------------------------------------------------------------- C.1 activation claims
def activation(nats: dict[str, Any], version: int = 2, issuer_account: str = "", **top: Any) -> codec.Token:
    """An activation token from account 2; v1 keeps `issuer_account` at the top level, v2 in `nats`."""
    claims: dict[str, Any] = {"sub": ACCOUNT1_KEY, "iat": 1, **top, "nats": dict(nats)}
    where = claims if version == 1 else claims["nats"]
    if issuer_account:
        where["issuer_account"] = issuer_account
    if version == 1:
        claims["type"] = "activation"
    else:
        claims["nats"].update(type="activation", version=2)
    return codec.decode_activation(encode(claims, ACCOUNT2_SEED, version=version))


def act_texts(nats: dict[str, Any], version: int = 2, **top: Any) -> list[str]:
    return [i.text for i in issues_of(activation(nats, version, **top), NOW)]


@pytest.mark.parametrize("version", [1, 2])
def test_activation(version: int) -> None:
    kind = "kind" if version == 2 else "type"
    assert act_texts({"subject": "a.>", kind: "service"}, version) == []
    assert act_texts({"subject": "*", kind: "stream"}, version, issuer_account=ACCOUNT2_KEY) == []
    assert act_texts({"subject": "a"}, version) == ['invalid import type: "unknown"']
    assert act_texts({"subject": "a..b", kind: "stream"}, version) == [
        'subject "a..b" cannot contain consecutive `.`'
    ]
    assert act_texts({kind: "stream"}, version) == [EMPTY]
    assert act_texts({"subject": "a", kind: "stream"}, version, issuer_account=OPERATOR_KEY) == [
        "account_id is not an account public key"
    ]
    assert act_texts({"subject": "a", kind: "stream"}, version, sub="anything") == []


def test_activation_checks_in_order() -> None:
    tok = activation({"subject": "a b", "issuer_account": "x"}, exp=NOW - 1, nbf=NOW + 1)
    found = activation_issues(tok.activation, NOW)
    assert found == [
        Issue("claim is expired", TIME),
        Issue("claim is not yet valid", TIME),
        Issue('invalid import type: "unknown"', BLOCKING),
        Issue('subject "a b" cannot have spaces', BLOCKING),
        Issue("account_id is not an account public key", BLOCKING),
    ]


# ---------------------------------------------------------------- C.2 operator claims
def operator(nats: dict[str, Any], version: int = 2, **top: Any) -> codec.Token:
    claims: dict[str, Any] = {"sub": OPERATOR_KEY, "iat": 1, **top, "nats": dict(nats)}
    if version == 1:
        claims["type"] = "operator"
    else:
        claims["nats"].update(type="operator", version=2)
    return codec.decode_operator(encode(claims, OPERATOR_SEED, version=version))


def op_texts(nats: dict[str, Any], version: int = 2, **top: Any) -> list[str]:
    return [i.text for i in issues_of(operator(nats, version, **top), NOW)]


_SYS = new_keypair("O")[1]


@pytest.mark.parametrize("version", [1, 2])
def test_operator_clean(version: int) -> None:
    nats = {
        "account_server_url": "http://localhost:9090/jwt/v1",
        "operator_service_urls": ["nats://h:4222", "TLS://h", "ws://h:80", "wss://h", ""],
        "signing_keys": [_SYS],
        "system_account": ACCOUNT2_KEY,
    }
    assert op_texts(nats, version) == []
    assert op_texts({"account_server_url": "localhost:9090/jwt/v1"}, version) == []  # scheme `localhost`


def test_operator_time() -> None:
    assert op_texts({}, exp=NOW - 1) == ["claim is expired"]
    assert op_texts({}, nbf=NOW + 1) == ["claim is not yet valid"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/jwt/v1", 'account server url "/jwt/v1" requires a protocol'),
        ("//h/jwt", 'account server url "//h/jwt" requires a protocol'),
        (":9090", 'error parsing account server url: parse ":9090": missing protocol scheme'),
        (
            "http://h/\n",
            'error parsing account server url: parse "http://h/\\n": ' + CONTROL,
        ),
    ],
)
def test_account_server_url(url: str, expected: str) -> None:
    assert op_texts({"account_server_url": url}) == [expected]
    assert op_texts({"account_server_url": url}, 1) == [expected]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "nats://h/\x00",
            'error parsing operator service url "nats://h/\\x00": parse "nats://h/\\x00": '
            "net/url: invalid control character in URL",
        ),
        ("nats://u:p@h:4222", 'operator service url "nats://u:p@h:4222" - credentials are not supported'),
        (
            "nats://u@h/p",
            'operator service url "nats://u@h/p" - credentials are not supported',
        ),  # first failure only
        ("nats://h:4222/p", 'operator service url "nats://h:4222/p" - paths are not supported'),
        ("http://h/", 'operator service url "http://h/" - paths are not supported'),
        (
            "http://h",
            unsupported("http://h"),
        ),
        (
            "h:4222",
            unsupported("h:4222"),
        ),
    ],
)
def test_operator_service_urls(url: str, expected: str) -> None:
    assert op_texts({"operator_service_urls": [url, "nats://ok"]}) == [expected]


def test_operator_keys() -> None:
    assert op_texts({"signing_keys": [ACCOUNT2_KEY, "x", _SYS]}) == [
        f"{ACCOUNT2_KEY} is not an operator public key",
        "x is not an operator public key",
    ]
    assert op_texts({"system_account": OPERATOR_KEY}) == [f"{OPERATOR_KEY} is not an account public key"]
    assert op_texts({"signing_keys": ["x"], "system_account": "y"}, 1) == [
        "x is not an operator public key",
        "y is not an account public key",
    ]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.10.0", None),
        ("+1.-0.3", None),
        ("1.2", "must be of the form <major>.<minor>.<update>"),
        ("1.2.3.4", "must be of the form <major>.<minor>.<update>"),
        ("1.x.3", "cant parse x to int"),
        ("1. 2.3", "cant parse  2 to int"),
        ("1.2.", "cant parse  to int"),
        ("1.2.99999999999999999999", "cant parse 99999999999999999999 to int"),
        ("1.2_0.3", "cant parse 2_0 to int"),
        ("1.-2.3", "can'b contain negative values: 1.-2.3"),
    ],
)
def test_assert_server_version(version: str, expected: str | None) -> None:
    found = op_texts({"assert_server_version": version})
    assert found == (
        [] if expected is None else [f"assert server version error: asserted server version {expected}"]
    )


def test_operator_checks_in_order() -> None:
    nats = {
        "account_server_url": "/x",
        "operator_service_urls": ["http://a", "nats://b/c"],
        "signing_keys": ["k"],
        "system_account": "s",
        "assert_server_version": "1",
    }
    assert op_texts(nats, exp=NOW - 1) == [
        "claim is expired",
        'account server url "/x" requires a protocol',
        unsupported("http://a"),
        'operator service url "nats://b/c" - paths are not supported',
        "k is not an operator public key",
        "s is not an account public key",
        "assert server version error: asserted server version must be of the form <major>.<minor>.<update>",
    ]
    assert operator_issues(operator(nats).operator, NOW)[0].kind == BLOCKING


# ---------------------------------------------------------------- dispatch and judge
def test_issues_of_other_kinds_checks_time_only() -> None:
    user = codec.decode(encode(user_claims(USER_KEY, "u"), ACCOUNT1_SEED))
    expired = codec.Token(
        raw=user.raw, header=user.header, claims=Claims(exp=NOW - 1), version=2, kind="user"
    )
    assert issues_of(expired, NOW) == [Issue("claim is expired", TIME)]
    generic = codec.Token(raw="", header={}, claims=Claims(nbf=NOW + 1), version=1, kind="x")
    assert issues_of(generic, NOW) == [Issue("claim is not yet valid", TIME)]


def test_judge_outcomes() -> None:
    good = judge(T1, "account", now=NOW)
    assert good == Verdict(None, (), good.token) and good.token is not None and not good.refused
    expired = judge(account_token({}, exp=NOW - 1).raw, "account", now=NOW)
    assert expired.error is None and expired.refused and expired.issues == (Issue("claim is expired", TIME),)
    bad = judge(account_token({"exports": [exp("a b")]}).raw, "account", now=NOW)
    assert bad.refused and [i.text for i in bad.issues] == ['subject "a b" cannot have spaces']


@pytest.mark.parametrize(
    ("raw", "kind", "error"),
    [
        ("", "account", "expected 3 chunks"),
        ("a.b", "operator", "expected 3 chunks"),
        (None, "activation", "JWT is not a string"),
        (T1, "operator", "not operator claim"),
        (T1, "activation", "not activation claim"),
        (encode(user_claims(USER_KEY, "u"), ACCOUNT1_SEED), "account", "not account claim"),
        (T1[:-2], "account", "claim failed V2 signature verification"),
    ],
)
def test_judge_refuses_undecodable(raw: Any, kind: str, error: str) -> None:
    verdict = judge(raw, kind, now=NOW)
    assert verdict == Verdict(error, (), None) and verdict.refused


def test_judge_kinds() -> None:
    act = token("a.b")
    assert not judge(act, "activation", now=NOW).refused
    assert judge(token("a b"), "activation", now=NOW).refused
    op = encode(operator_claims(OPERATOR_KEY, "op", account_server_url="x"), OPERATOR_SEED)
    verdict = judge(op, "operator", now=NOW)
    assert verdict.refused and [i.text for i in verdict.issues] == [
        'account server url "x" requires a protocol'
    ]
    assert judge(T1, "account").token is not None  # default now
    with pytest.raises(ValueError):
        judge(T1, "user")

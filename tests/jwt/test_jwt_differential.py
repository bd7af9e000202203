"""Differential test: our verdict on account JWTs equals the real nats-server 2.15's.

The corpus (``differential_corpus``) covers every check of the catalogue (the library's decoding and
validation rules, embedded activation tokens included) with passing and failing variants, in the v1 and
v2 layouts.  nats-server is asked for each account through its URL resolver (``tests/support/oracle``).
"""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import pytest

from tests.jwt.differential_corpus import Case, Corpus, build_corpus
from tests.support.oracle import AccountOracle, Probe

pytestmark = pytest.mark.timeout(60)

# Cases per catalogue area (v1 variants included; about 860 in all, ~225 of them v1):
#   decoding: segments, base64url, header, kind/version detection, signature, issuer   113
#   JSON rules: syntax, case-folded names, repeats, null, invalid UTF-8, escapes         68
#   member types, member decoders (export type, latency sampling), v1 layout            136
#   time and claims data                                                                18
#   limits: import/export counts, wildcard exports, tiers                               53
#   info: description and info_url (account and exports)                                60
#   mappings 23, default permissions 43, exports 103, imports 114
#   embedded activation tokens (also the activation checks: kind, subject, issuer)      50
#   signing keys (plain and scoped) 45, external authorization 14, trace and cluster traffic 18
#   combined realistic accounts                                                          4
MIN_CASES = 300


def _verdict(refused: bool) -> str:
    return "refused" if refused else "accepted"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus()


@pytest.fixture(scope="module")
def server_refused(
    corpus: Corpus, nats_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bool]:
    """nats-server's verdict per case name (True = refused)."""
    tmp: Path = tmp_path_factory.mktemp("oracle")
    with AccountOracle(
        corpus.operator_jwt, corpus.system_account, corpus.system_account_jwt, tmp, binary=nats_server_bin
    ) as oracle:
        refused = oracle.refused(Probe(c.account, c.jwt, c.account_seed, c.user_seed) for c in corpus.cases)
    return {c.name: refused[c.account] for c in corpus.cases}


def test_corpus_shape(corpus: Corpus) -> None:
    """Enough cases, unique names and accounts, both verdicts and both layouts well represented."""
    cases: list[Case] = corpus.cases
    assert len(cases) >= MIN_CASES
    assert len({c.name for c in cases}) == len(cases)
    assert len({c.account for c in cases}) == len(cases)
    verdicts = Counter(c.expect_refused for c in cases)
    versions = Counter(c.name.split(" ", 1)[0] for c in cases)
    assert min(verdicts.values()) >= 100, verdicts
    assert versions["v1"] >= 100 and versions["v2"] >= 300, versions


def test_nats_server_verdicts_match_the_catalogue(corpus: Corpus, server_refused: dict[str, bool]) -> None:
    """The corpus is right about the real consumer: nats-server refuses exactly the predicted cases."""
    wrong = [
        f"{c.name}: nats-server {_verdict(server_refused[c.name])}, predicted {_verdict(c.expect_refused)}"
        for c in corpus.cases
        if server_refused[c.name] != c.expect_refused
    ]
    assert not wrong, f"{len(wrong)} of {len(corpus.cases)} cases:\n" + "\n".join(wrong)


def test_our_verdicts_match_nats_server(corpus: Corpus, request: pytest.FixtureRequest) -> None:
    """Our verdict (decode error, blocking or time issue = refused) equals nats-server's on every case."""
    judge = getattr(importlib.import_module("nats_account_server.jwt"), "judge", None)
    if judge is None:
        pytest.skip("nats_account_server.jwt.judge is not available yet")
    server_refused: dict[str, bool] = request.getfixturevalue("server_refused")
    wrong = []
    for case in corpus.cases:
        verdict = judge(case.jwt, "account")
        if verdict.refused != server_refused[case.name]:
            why = verdict.error or "; ".join(f"{issue.kind}: {issue.text}" for issue in verdict.issues) or "-"
            wrong.append(
                f"{case.name}: we {_verdict(verdict.refused)} ({why}), "
                f"nats-server {_verdict(server_refused[case.name])}"
            )
    assert not wrong, f"{len(wrong)} of {len(corpus.cases)} cases:\n" + "\n".join(wrong)

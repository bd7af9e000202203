"""Property-based fuzzing beyond the parser and decoder unit fuzzers (tests/natsconf/test_fuzz.py,
tests/jwt/test_jwt_fuzz.py): the whole configuration load (file bytes -> Settings), the upload
pipeline the HTTP routes call (body bytes -> answer) and the pack-line parser that replicas and NATS
sync feed with peer data. Any input yields a value or our own clear error, never another exception,
and never a hang (every example is timed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nats_account_server.config import ConfigError, Settings, load_settings, settings_from_tree
from nats_account_server.core.pack import parse_pack_line
from nats_account_server.core.service import Core
from nats_account_server.core.trust import Trust as ServerTrust
from nats_account_server.core.trust import load_trust
from nats_account_server.core.uploads import post_account, post_activation
from nats_account_server.jwt import decode
from nats_account_server.stores import MemoryStore
from tests.support.trust import Trust

HANG = 5.0  # seconds: any single example slower than this counts as a hang
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

OPTION_NAMES = [
    "OperatorJWTPath", "SystemAccountJWTPath", "Primary", "ReplicationTimeout", "MaxReplicationPack",
    "SignRequestSubject", "SignRequestTimeout", "MaxBodySize", "HTTP", "NATS", "Store", "Logging",
    "Host", "Port", "ReadTimeout", "WriteTimeout", "TLS", "Cert", "Key", "Root", "Servers",
    "ConnectTimeout", "ReconnectWait", "MaxReconnects", "UserCredentials", "SyncInterval", "Dir", "NSC",
    "ReadOnly", "Shard", "CleanupInterval", "Time", "Debug", "Trace", "Colors", "PID", "KV", "Bucket",
]  # fmt: skip

names = st.sampled_from(OPTION_NAMES).flatmap(
    lambda n: st.sampled_from([n, n.lower(), n.upper(), n.swapcase()])
) | st.text(max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(["true", "-1", "9223372036854775808", "1e3", ""])
)
trees: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=5),
    max_leaves=25,
)


def timed(fn: Any, *args: Any) -> Any:
    started = time.monotonic()
    try:
        return fn(*args)
    finally:
        assert time.monotonic() - started < HANG, "took too long: a hang"


@FUZZ
@given(st.dictionaries(names, trees, max_size=8))
def test_settings_from_any_tree(tree: dict[str, Any]) -> None:
    try:
        result = timed(settings_from_tree, tree)
    except ConfigError as exc:
        assert str(exc)  # (Go-style renderings may quote a newline from the file; the log escapes it)
        return
    assert isinstance(result, Settings)


CONFIG_TOKENS = [
    "http", "{", "}", "port:", " ", "\n", "9090", "host:", '"127.0.0.1"', "store", "dir:", "'/x'", "nats",
    "servers:", "[", "]", ",", "readtimeout", "=", "include", " x.conf", "$VAR", "true", "-1", "1kb", "#",
    "\x00", "\xff", "é", "\\", '"', "'", "maxbodysize:", "logging", "trace:", "operatorjwtpath:",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(CONFIG_TOKENS), max_size=50) | st.binary(max_size=300).map(lambda b: [b]))
def test_load_settings_from_any_file(tmp_path: Path, parts: list[Any]) -> None:
    path = tmp_path / "fuzz.conf"
    path.write_bytes(
        b"".join(p if isinstance(p, bytes) else p.encode("utf-8", "surrogatepass") for p in parts)
    )
    try:
        result = timed(load_settings, path)
    except ConfigError as exc:
        assert str(exc)
        return
    assert isinstance(result, Settings)


# --------------------------------------------------------------------- uploads and pack lines


class Pipeline:
    """The core the HTTP routes use, over a memory store, driven on one private event loop."""

    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self.server_trust: ServerTrust = load_trust(str(trust.operator_jwt_path), "")
        self.core = Core(MemoryStore(), self.server_trust)
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Any) -> Any:
        started = time.monotonic()
        result = self.loop.run_until_complete(asyncio.wait_for(coro, HANG))
        assert time.monotonic() - started < HANG
        return result


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    p = Pipeline(Trust(tmp_path_factory.mktemp("fuzz") / "trust"))
    try:
        yield p
    finally:
        p.loop.close()


ALLOWED = {200, 202, 400, 409, 500}


def mutate(token: str, data: st.DataObject) -> str:
    pos = data.draw(st.integers(0, len(token) - 1))
    op = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap-segments"]))
    char = data.draw(st.characters(codec="utf-8"))
    if op == "replace":
        return token[:pos] + char + token[pos + 1 :]
    if op == "insert":
        return token[:pos] + char + token[pos:]
    if op == "delete":
        return token[:pos] + token[pos + 1 :]
    if op == "truncate":
        return token[:pos]
    a, b, c = token.split(".")
    return ".".join(data.draw(st.permutations([a, b, c])))


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["A", "lower", "seed", "..", "", "x" * 300]))
def test_account_upload_of_any_body(pipeline: Pipeline, body: bytes, which: str) -> None:
    key = {
        "A": pipeline.trust.pub("A"),
        "lower": pipeline.trust.pub("A").lower(),
        "seed": pipeline.trust.seed("A"),
    }
    answer = pipeline.run(post_account(pipeline.core, key.get(which, which), body))
    assert answer.status in ALLOWED - {200}
    assert answer.message and answer.message.split("\n")[0]


@FUZZ
@given(st.data())
def test_account_upload_of_mutated_jwts(pipeline: Pipeline, data: st.DataObject) -> None:
    version = data.draw(st.sampled_from([1, 2]))
    original = pipeline.trust.account_jwt(
        "B", version, iat=int(time.time()) + data.draw(st.integers(0, 10**6))
    )
    mutated = mutate(original, data)
    answer = pipeline.run(
        post_account(pipeline.core, pipeline.trust.pub("B"), mutated.encode("utf-8", "replace"))
    )
    assert answer.status in ALLOWED
    if answer.status == 200:  # only a non-canonical spelling of the same signed bytes may pass
        assert decode(mutated.strip()).claims == decode(original).claims


@FUZZ
@given(st.data())
def test_activation_upload_of_mutated_or_random_bodies(pipeline: Pipeline, data: st.DataObject) -> None:
    original = pipeline.trust.activation_jwt(
        "A", "B", "svc.>", data.draw(st.sampled_from(["stream", "service"]))
    )
    body = data.draw(st.binary(max_size=300) | st.just(mutate(original, data).encode("utf-8", "replace")))
    answer = pipeline.run(post_activation(pipeline.core, body))
    assert answer.status in ALLOWED
    if answer.status == 200:
        assert decode(body.decode().strip()).claims == decode(original).claims


@FUZZ
@given(st.data())
def test_pack_lines_from_peers(pipeline: Pipeline, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        line = data.draw(st.text(max_size=200))
    else:  # a mutated genuine line
        line = mutate(f"{pipeline.trust.pub('C')}|{pipeline.trust.account_jwt('C')}", data)
    result = timed(parse_pack_line, line, pipeline.server_trust)
    assert isinstance(result, str | tuple)

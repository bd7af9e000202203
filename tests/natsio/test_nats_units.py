"""In-process tests of the NATS pieces: store hash, responders, sync (no server), and the bridge's
notifier against a plain nats-server (error mapping, options, replica-mode subscriptions)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nats_helpers import client, eventually, flushed

from nats_account_server.config import Settings
from nats_account_server.core.notifier import NoNats, NoResponders, NotConnected, RequestTimeout
from nats_account_server.core.service import Core
from nats_account_server.core.source import LocalSource
from nats_account_server.core.trust import load_trust
from nats_account_server.jwt import activation_hash
from nats_account_server.natsclient import server_urls
from nats_account_server.natsio.bridge import NatsBridge
from nats_account_server.natsio.responders import Responders
from nats_account_server.natsio.storehash import ZERO, StoreHash, scan
from nats_account_server.natsio.sync import Sync
from nats_account_server.stores import MemoryStore
from tests.support.natsserver import NatsServer
from tests.support.trust import Trust

T1_KEY = "ACATS5YOVB6ROX2WUNKGNQ2MP3GMXDMKSG2O4N5CLX3A6W4PZGZZIL2R"
T1 = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBU1hIWE81NjI2QU5WWkNRMzJNNDdKTTVRSkZDN0hWSE1RQj"
    "RLUEs1Vk42QUlUTVZHM1hBIiwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJPQ0ZJUlk2NU9RRTdERlA1S0xOUzJQRjJMVlpNVVpZSlg0T1pJ"
    "RVEzNk4ySVFBTlVCNVhWWU9DUyIsIm5hbWUiOiJBIiwic3ViIjoiQUNBVFM1WU9WQjZST1gyV1VOS0dOUTJNUDNHTVhETUtTRzJPNE41Q0"
    "xYM0E2VzRQWkdaWklMMlIiLCJuYXRzIjp7ImxpbWl0cyI6eyJzdWJzIjotMSwiZGF0YSI6LTEsInBheWxvYWQiOi0xLCJpbXBvcnRzIjot"
    "MSwiZXhwb3J0cyI6LTEsIndpbGRjYXJkcyI6dHJ1ZSwiY29ubiI6LTEsImxlYWYiOi0xfSwiZGVmYXVsdF9wZXJtaXNzaW9ucyI6eyJwdW"
    "IiOnt9LCJzdWIiOnt9fSwidHlwZSI6ImFjY291bnQiLCJ2ZXJzaW9uIjoyfX0.G_FqQkaR9z58GaPRj2GSTXwt1al2NEzyoj4UE2NGyNVE"
    "--fLfnTN-jBkFbnALUSJF1DyBSzVqIhaC0sFJo1JCQ"
)
T1_SHA256 = "68757b52fd55e712a7e7a7ae68bc3cb4172e06120ce474ea1e0d6d856b20a64e"


def sha(jwt: str) -> int:
    return int.from_bytes(hashlib.sha256(jwt.encode()).digest(), "big")


def xor(*jwts: str) -> bytes:
    h = 0
    for jwt in jwts:
        h ^= sha(jwt)
    return h.to_bytes(32, "big")


class Sent:
    """A fake `publish` recording (subject, payload)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    async def __call__(self, subject: str, payload: bytes) -> None:
        self.items.append((subject, payload))

    def json(self, index: int = -1) -> dict:  # type: ignore[type-arg]
        return json.loads(self.items[index][1])


def make_core(trust: Trust | None, vouched: list[str] | None = None) -> Core:
    """A core on a memory store; with `vouched`, its source records what it is told is fresh."""
    anchor = load_trust(str(trust.operator_jwt_path) if trust is not None else "", "")
    if vouched is None:
        return Core(MemoryStore(), anchor)
    recorded = vouched

    class Recording(LocalSource):
        def vouch(self, key: str) -> None:
            recorded.append(key)

    return Core(MemoryStore(), anchor, source=Recording(anchor, NoNats()))


# ---------------------------------------------------------------------------- store hash


def hash_of(items: list[tuple[str, str]], **held: str) -> StoreHash:
    """A hash over `items` whose reads of the store answer from `held` (key -> JWT)."""
    h = StoreHash(held.get)
    h.install(scan(items))
    return h


def write(h: StoreHash, store: dict[str, str], key: str, jwt: str) -> None:
    """A write as the core makes it: "before" read first, then the write, then the saved hook."""
    h.before_write(key)
    if jwt:
        store[key] = jwt
    else:
        store.pop(key, None)
    h.update(key, jwt)


def test_store_hash_vector_and_empty() -> None:
    assert hash_of([(T1_KEY, T1)]).value().hex() == T1_SHA256
    assert hash_of([]).value() == ZERO


def test_store_hash_is_incremental_and_skips_expired(trust: Trust) -> None:
    store: dict[str, str] = {}
    h = StoreHash(store.get)
    h.install(scan([]))
    a1, b = trust.account_jwt("A"), trust.account_jwt("B")
    a2 = trust.account_jwt("A", iat=int(time.time()) + 1)
    write(h, store, trust.pub("A"), a1)
    write(h, store, trust.pub("B"), b)
    write(h, store, trust.pub("A"), a2)
    write(h, store, "not-an-account", b)
    assert h.value() == xor(a2, b) == hash_of(list(store.items())).value()
    assert len(h) == 0  # nothing is kept per account without an expiry
    soon = int(time.time()) + 100
    c = trust.account_jwt("C", exp=soon)
    write(h, store, trust.pub("C"), c)
    assert h.value() == xor(a2, b, c) and len(h) == 1
    assert h.value(now=soon) == xor(a2, b)  # expired without any write
    write(h, store, trust.pub("B"), "")
    assert h.value(now=soon) == xor(a2)
    assert scan([(trust.pub("C"), trust.account_jwt("C", exp=1000))]).value == 0
    assert h.ready


def test_store_hash_expiry_of_a_replaced_jwt_leaves_the_new_one(trust: Trust) -> None:
    store: dict[str, str] = {}
    h = StoreHash(store.get)
    h.install(scan([]))
    soon = int(time.time()) + 100
    old, new = trust.account_jwt("A", exp=soon), trust.account_jwt("A", exp=soon + 100)
    write(h, store, trust.pub("A"), old)
    write(h, store, trust.pub("A"), new)
    assert h.value(now=soon) == xor(new)  # the old JWT's expiry finds the new one in its place
    assert h.value(now=soon + 100) == ZERO


def test_a_change_we_did_not_write_makes_the_hash_stale(trust: Trust) -> None:
    store = {trust.pub("A"): trust.account_jwt("A")}
    h = hash_of(list(store.items()), **store)
    h.update(trust.pub("A"), trust.account_jwt("A", iat=int(time.time()) + 1))  # a hand edit
    assert h.stale and not h.ready


def test_store_hash_applies_writes_made_during_a_scan(trust: Trust) -> None:
    """Whatever the scan read of a key written alongside it, the result is the store's hash after."""
    for name in "ABCE":
        if name not in trust.accounts:
            trust.add_account(name)
    a_old, a_new = trust.account_jwt("A"), trust.account_jwt("A", iat=int(time.time()) + 1)
    b_old, b_new = trust.account_jwt("B"), trust.account_jwt("B", iat=int(time.time()) + 1)
    c, d = trust.account_jwt("C"), trust.account_jwt("E")
    store = {trust.pub("A"): a_old, trust.pub("B"): b_old, trust.pub("E"): d}
    h = StoreHash(store.get)
    assert not h.ready and h.scanning
    h.begin_scan()

    def read() -> Iterator[tuple[str, str]]:
        yield trust.pub("A"), a_old  # read (and checked) by the scan before its write began
        write(h, store, trust.pub("A"), a_new)
        h.before_write(trust.pub("B"))  # B: a write begun before the scan reads it, done after install
        yield trust.pub("B"), b_old
        write(h, store, trust.pub("C"), c)  # C: new, written before the scan got there
        yield trust.pub("C"), c
        yield trust.pub("E"), d

    found = scan(read(), touched=h.touched())
    assert found.skipped == {trust.pub("B"), trust.pub("C")}
    h.install(found)
    assert h.ready and h.value() == xor(a_new, b_old, c, d)
    store[trust.pub("B")] = b_new
    h.update(trust.pub("B"), b_new)
    assert h.value() == xor(a_new, b_new, c, d) == hash_of(list(store.items())).value()


async def test_sync_keeps_the_hash_of_a_directory_store_without_holding_it(
    trust: Trust, tmp_path: Path
) -> None:
    """The scan streams the files; writes keep the hash equal to a fresh scan's; nothing per account."""
    from nats_account_server.stores import DirectoryStore

    store = DirectoryStore(tmp_path / "jwts")
    for i in range(20):
        trust.add_account(f"A{i}")
    jwts = {trust.pub(f"A{i}"): trust.account_jwt(f"A{i}") for i in range(20)}
    for key, jwt in jwts.items():
        store.save(key, jwt)
    core = Core(store, load_trust(str(trust.operator_jwt_path), ""))
    sync = Sync(core, Sent(), interval=60)
    try:
        assert not isinstance(store.stream(), list)
        sync.start_scan()
        await eventually(lambda: sync.hash.ready, timeout=5)
        assert sync.hash.value() == xor(*jwts.values())
        for i in range(5):
            jwts[trust.pub(f"A{i}")] = jwt = trust.account_jwt(f"A{i}", iat=int(time.time()) + 1)
            await core.save(trust.pub(f"A{i}"), jwt)
        trust.add_account("N")
        jwts[trust.pub("N")] = trust.account_jwt("N")
        await core.save(trust.pub("N"), jwts[trust.pub("N")])
        assert sync.hash.ready and sync.hash.value() == xor(*jwts.values())
        assert len(sync.hash) == 0 and not sync.hash._before  # no record per account is kept
        (tmp_path / "jwts" / f"{trust.pub('A9')}.jwt").write_text(trust.account_jwt("A9", iat=1))
        jwts[trust.pub("A9")] = trust.account_jwt("A9", iat=1)
        core.changed(trust.pub("A9"), jwts[trust.pub("A9")])  # a hand edit, as the watcher reports it
        assert sync.hash.stale
        sync.start_scan()
        await eventually(lambda: sync.hash.ready, timeout=5)
        assert sync.hash.value() == xor(*jwts.values())
    finally:
        await sync.close()
        core.close()


# ---------------------------------------------------------------------------- responders


async def test_lookup_handler(trust: Trust) -> None:
    core = make_core(trust)
    sent = Sent()
    r = Responders(core, sent)
    jwt = trust.account_jwt("A")
    await core.save(trust.pub("A"), jwt)
    await r.lookup(f"$SYS.REQ.ACCOUNT.{trust.pub('A')}.CLAIMS.LOOKUP", "", b"")  # not a request
    await r.lookup("$SYS.REQ.ACCOUNT.CLAIMS.LOOKUP", "r0", b"")  # unparsable
    assert sent.items == []
    await r.lookup(f"$SYS.REQ.ACCOUNT.{trust.pub('A')}.CLAIMS.LOOKUP", "r1", b"")
    await r.lookup(f"$SYS.REQ.ACCOUNT.{trust.pub('B')}.CLAIMS.LOOKUP", "r2", b"")
    await r.lookup("$SYS.REQ.ACCOUNT.not-a-key.CLAIMS.LOOKUP", "r3", b"")
    assert sent.items == [("r1", jwt.encode()), ("r2", b""), ("r3", b"")]


async def test_update_handler_rules(trust: Trust, tmp_path: Path) -> None:
    core = make_core(trust)
    sent = Sent()
    r = Responders(core, sent, host="h")
    a = trust.pub("A")
    await r.update(f"$SYS.REQ.ACCOUNT.{a}.CLAIMS.UPDATE", "r1", trust.account_jwt("A").encode())
    ok = sent.json()
    assert ok["data"] == {"account": a, "code": 200, "message": "Updated jwt"}
    assert ok["server"]["host"] == "h" and ok["server"]["seq"] == 1 and ok["server"]["id"].startswith("N")
    assert core.load_local(a)

    other = Trust(tmp_path / "other")
    await r.update(f"$SYS.ACCOUNT.{other.pub('B')}.CLAIMS.UPDATE", "r2", other.account_jwt("B").encode())
    assert sent.json()["error"]["code"] == 500 and sent.json()["server"]["seq"] == 2
    assert core.load_local(other.pub("B")) is None

    await r.update(f"$SYS.ACCOUNT.{a}.CLAIMS.UPDATE", "", trust.account_jwt("B").encode())  # no reply
    assert len(sent.items) == 2 and core.load_local(trust.pub("B")) is None
    await r.update("$SYS.REQ.CLAIMS.UPDATE", "r3", b"\xff\xfe")
    assert sent.json()["error"] == {
        "account": "n/a",
        "code": 500,
        "description": sent.json()["error"]["description"],
    }

    # without an operator any decodable account JWT is accepted
    open_core = make_core(None)
    r2 = Responders(open_core, sent)
    await r2.update("$SYS.REQ.CLAIMS.UPDATE", "r4", other.account_jwt("C").encode())
    assert sent.json()["data"]["code"] == 200 and open_core.load_local(other.pub("C"))


async def test_activation_and_replica_handlers(trust: Trust) -> None:
    fresh: list[str] = []
    core = make_core(trust, fresh)
    sent = Sent()
    r = Responders(core, sent)
    act = trust.activation_jwt("A", "B", "svc.>")
    key = activation_hash(trust.pub("A"), trust.pub("B"), "svc.>")
    await r.activation(f"$SYS.ACCOUNT.{trust.pub('A')}.CLAIMS.ACTIVATE.{key}", "", act.encode())
    assert core.load_local(key) == act and fresh == [key]
    await r.activation(f"$SYS.ACCOUNT.{trust.pub('A')}.CLAIMS.ACTIVATE.WRONG", "", act.encode())
    assert fresh == [key]

    jwt = trust.account_jwt("C")
    await r.replica_update(f"$SYS.ACCOUNT.{trust.pub('C')}.CLAIMS.UPDATE", "", jwt.encode())
    assert core.load_local(trust.pub("C")) == jwt and fresh == [key, trust.pub("C")]
    await r.replica_update(f"$SYS.ACCOUNT.{trust.pub('A')}.CLAIMS.UPDATE", "", b"garbage")
    assert fresh == [key, trust.pub("C")] and sent.items == []


async def test_list_and_delete_handlers(trust: Trust) -> None:
    core = make_core(trust)
    sent = Sent()
    r = Responders(core, sent)
    await core.save(trust.pub("A"), trust.account_jwt("A"))
    await r.list_accounts("$SYS.REQ.CLAIMS.LIST", "r", b"")
    assert sent.json()["data"] == [trust.pub("A")]
    await r.delete("$SYS.REQ.CLAIMS.DELETE", "r", b"")
    assert "delete must be enabled in server config" in sent.json()["error"]["description"]


# ---------------------------------------------------------------------------- sync


async def test_pack_responder_and_merge_without_republishing(trust: Trust) -> None:
    core = make_core(trust)
    sent = Sent()
    sync = Sync(core, sent, interval=60)
    sync.start_scan()
    await eventually(lambda: sync.hash.ready, timeout=5)
    a, b = trust.account_jwt("A"), trust.account_jwt("B")
    await core.save(trust.pub("A"), a)
    await core.save(trust.pub("C"), trust.account_jwt("C", exp=1000))  # expired: neither hashed nor packed
    await sync.pack_request("$SYS.REQ.CLAIMS.PACK", "", b"")
    assert sent.items == []
    await sync.pack_request("$SYS.REQ.CLAIMS.PACK", "in", xor(a))
    assert sent.items == [("in", b"")]
    sent.items.clear()
    await sync.pack_request("$SYS.REQ.CLAIMS.PACK", "in", b"")
    assert sent.items == [("in", f"{trust.pub('A')}|{a}".encode()), ("in", b"")]
    sent.items.clear()
    await sync.pack_reply("in", "", f"{trust.pub('B')}|{b}".encode())
    await sync.pack_reply("in", "", b"")
    assert core.load_local(trust.pub("B")) == b and sent.items == []
    assert sync.hash.value() == xor(a, b)
    await sync.close()
    assert sync.hash.update not in core.saved_hooks


async def test_periodic_store_state_line_only_when_the_state_changed(
    trust: Trust, capsys: pytest.CaptureFixture[str]
) -> None:
    from nats_account_server.config import LoggingSettings
    from nats_account_server.log import log

    core = make_core(trust)
    sync = Sync(core, Sent(), interval=0.01)
    sync.start_scan()
    await eventually(lambda: sync.hash.ready, timeout=5)
    requests: list[bytes] = []

    async def send(ours: bytes) -> None:
        requests.append(ours)

    log.configure(LoggingSettings(debug=True, time=False, colors=False))
    try:
        task = asyncio.create_task(sync.run(send, lambda: True))
        await eventually(lambda: len(requests) >= 5, timeout=5)
        await core.save(trust.pub("A"), trust.account_jwt("A"))
        count = len(requests)
        await eventually(lambda: len(requests) >= count + 5, timeout=5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        log.configure(LoggingSettings())
    lines = [line for line in capsys.readouterr().err.splitlines() if "Checking store state" in line]
    # every period asks the peers, but the line is logged once per state: empty, then with A
    assert lines == [
        f"[DBG] Checking store state: {ZERO.hex()}",
        f"[DBG] Checking store state: {sync.hash.value().hex()}",
    ], lines
    assert set(requests) == {ZERO, sync.hash.value()}
    # a peer asking again and again with the same hash, and merges ending at the same state
    log.configure(LoggingSettings(debug=True, time=False, colors=False))
    try:
        for _ in range(3):
            await sync.pack_request("$SYS.REQ.CLAIMS.PACK", "in", sync.hash.value())
            await sync.pack_reply("in", "", b"")
    finally:
        log.configure(LoggingSettings())
    err = capsys.readouterr().err
    assert err.count("pack request matches hash") == 1 and err.count("Merging Finished") == 1, err
    await sync.close()


# ---------------------------------------------------------------------------- bridge


def settings_for(url: str, **nats: object) -> Settings:
    s = Settings()
    s.nats.servers = [url]
    s.nats.reconnectwait = 100
    s.nats.connecttimeout = 1000
    for key, value in nats.items():
        setattr(s.nats, key, value)
    return s


def test_server_urls_split_commas() -> None:
    assert server_urls(["nats://a:1, nats://b:2", "nats://c:3"]) == ["nats://a:1", "nats://b:2", "nats://c:3"]


async def test_bridge_notifier_errors_and_options(plain_nats: NatsServer, trust: Trust) -> None:
    core = make_core(trust)
    closed: list[bool] = []
    bridge = NatsBridge(settings_for(plain_nats.url), on_closed=lambda: closed.append(True))
    assert bridge.configured and not bridge.connected
    with pytest.raises(NotConnected):
        await bridge.request("x", b"", 0.2)
    assert await bridge.request_many("x", b"", 0.2) is None
    await bridge.start(core)
    try:
        assert bridge.connected
        nc = bridge._nc
        assert (
            nc is not None and nc.options["no_echo"] is True and nc.options["name"] == "nats-account-server"
        )
        with pytest.raises(NoResponders):
            await bridge.request("nobody.here", b"", 1)
        started = time.monotonic()
        assert await bridge.request_many("nobody.here", b"", 5) is None
        assert time.monotonic() - started < 2  # the 503 status ends the wait
        async with client(plain_nats.url) as peer:

            async def slow(msg) -> None:  # type: ignore[no-untyped-def]
                await asyncio.sleep(0.5)

            await peer.subscribe("slow", cb=slow)
            await flushed(peer)
            with pytest.raises(RequestTimeout):
                await bridge.request("slow", b"", 0.2)
            assert await bridge.request_many("slow", b"", 0.2) is None
    finally:
        await bridge.stop()
    assert closed == [] and not bridge.connected
    with pytest.raises(NotConnected):
        await bridge.publish("x", b"")


async def test_bridge_start_returns_quickly_when_nats_is_down(trust: Trust) -> None:
    from tests.support.ports import free_port

    core = make_core(trust)
    bridge = NatsBridge(settings_for(f"nats://127.0.0.1:{free_port()}"), on_closed=lambda: None)
    started = time.monotonic()
    await bridge.start(core)
    assert time.monotonic() - started < 1.5 and not bridge.connected
    await asyncio.sleep(0.3)
    await bridge.stop()


async def test_bridge_replica_mode_subscriptions(
    plain_nats: NatsServer, trust: Trust, nats_factory: Callable[..., NatsServer]
) -> None:
    fresh: list[str] = []
    core = make_core(trust, fresh)
    settings = settings_for(plain_nats.url)
    settings.primary = "http://127.0.0.1:1"
    bridge = NatsBridge(settings, on_closed=lambda: None)
    await bridge.start(core)
    assert bridge.sync is None
    try:
        jwt = trust.account_jwt("A")
        async with client(plain_nats.url) as nc:
            await nc.publish(f"$SYS.ACCOUNT.{trust.pub('A')}.CLAIMS.UPDATE", jwt.encode())
            await flushed(nc)
            await eventually(lambda: fresh == [trust.pub("A")], timeout=5)
            assert core.load_local(trust.pub("A")) == jwt
            # replicas do not answer lookups or pack requests (their copy may be stale)
            with pytest.raises(Exception, match="[Nn]o responders"):
                await nc.request(f"$SYS.REQ.ACCOUNT.{trust.pub('A')}.CLAIMS.LOOKUP", b"", timeout=1)
    finally:
        await bridge.stop()

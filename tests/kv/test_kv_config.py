"""`store { kv { ... } }`: mapping, validation and store selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from nats_account_server.config import ConfigError, KVSettings, Settings, load_settings
from nats_account_server.core.trust import Trust
from nats_account_server.server import StartupError, build_store
from nats_account_server.stores.kv import DEFAULT_BUCKET, KVStore


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "server.conf"
    path.write_text(text)
    return load_settings(path)


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_kv_section_maps_canonical_and_lower_case_names(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        """
store {
  KV {
    Bucket: "account-jwts", Replicas: 3, History: 5
    Servers: [nats://n1:4222, "nats://n2:4222"], UserCredentials: /etc/nats/kv.creds
    TLS { Root: /ca.pem, Cert: /c.pem, Key: /k.pem }
    connecttimeout: 2000, reconnectwait: 100, timeout: 1500
  }
}
""",
    )
    kv = s.store.kv
    assert kv.enabled
    assert (kv.bucket, kv.replicas, kv.history) == ("account-jwts", 3, 5)
    assert kv.servers == ["nats://n1:4222", "nats://n2:4222"]
    assert kv.usercredentials == "/etc/nats/kv.creds"
    assert (kv.tls.root, kv.tls.cert, kv.tls.key) == ("/ca.pem", "/c.pem", "/k.pem")
    assert (kv.connecttimeout, kv.reconnectwait, kv.timeout) == (2000, 100, 1500)


def test_kv_defaults_and_single_server_string(tmp_path: Path) -> None:
    assert not Settings().store.kv.enabled
    kv = load(tmp_path, "store { kv { servers: nats://n1:4222 } }").store.kv
    assert kv.enabled and kv.servers == ["nats://n1:4222"]
    assert (kv.bucket, kv.replicas, kv.history) == ("", 1, 1)
    store = KVStore(kv)
    assert store.bucket == DEFAULT_BUCKET
    assert store.description == f"creating a JetStream KV store, bucket {DEFAULT_BUCKET} on nats://n1:4222"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('store { dir: /d, kv { servers: "nats://x" } }', "dir and kv are mutually exclusive"),
        ('store { nsc: /n, kv { servers: "nats://x" } }', "nsc and kv are mutually exclusive"),
        ('store { kv { bucket: "b" } }', "the kv store needs servers"),
        ('store { kv { bucket: "a.b", servers: "nats://x" } }', "invalid kv bucket name 'a.b'"),
        ('store { kv { replicas: 7, servers: "nats://x" } }', "kv replicas must be between 1 and 5, not 7"),
        ('store { kv { history: 0, servers: "nats://x" } }', "kv history must be between 1 and 64, not 0"),
        ("store { kv: 1 }", "struct field KV doesn't have a matching map in the config file"),
        (
            'store { kv { replicas: "three", servers: "nats://x" } }',
            "unable to parse integer three for key Replicas",
        ),
    ],
)
def test_kv_config_errors(tmp_path: Path, text: str, message: str) -> None:
    assert message in load_error(tmp_path, text)


def test_build_store_selects_kv_and_refuses_replica_mode() -> None:
    settings = Settings()
    settings.store.kv = KVSettings(bucket="b", servers=["nats://127.0.0.1:4222"])
    store = build_store(settings, Trust())
    assert isinstance(store, KVStore) and not store.readonly and store.supports_pack
    settings.store.readonly = True
    assert build_store(settings, Trust()).readonly
    settings.store.readonly = False
    settings.primary = "http://primary:9090"
    with pytest.raises(StartupError, match="replicas cannot be run with a KV store"):
        build_store(settings, Trust())

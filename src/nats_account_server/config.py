"""Typed settings, their defaults and the non-strict mapping of a parsed config tree.

The mapping mirrors the original Go reflection-based loader: every field knows its Go member name
(stored in the dataclass field metadata as ``name``), keys are matched case-insensitively, unknown
keys are ignored and type errors use the original messages, so error output stays recognisable.
Values inside the file are NOT ``~``-expanded (as in the originals); only flag values are (``cli``).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import math
import os
import re
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "ConfigError",
    "HTTPSettings",
    "KVSettings",
    "LoggingSettings",
    "NATSSettings",
    "Settings",
    "StoreSettings",
    "TLSSettings",
    "canonical_name",
    "go_value",
    "load_settings",
    "settings_from_tree",
    "settings_to_dump",
    "validate_settings",
]

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration problem that must stop startup with exit status 1; ``str(e)`` is the message."""


def _f(name: str, default: Any) -> Any:
    """A dataclass field carrying its canonical (Go) member name; mutable defaults get a factory."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"name": name})
    if dataclasses.is_dataclass(default) and isinstance(default, type):
        return field(default_factory=default, metadata={"name": name})
    return field(default=default, metadata={"name": name})


@dataclass
class TLSSettings:
    """PEM files of a `tls` block. For HTTP a non-empty ``cert`` turns HTTPS on (``root`` is
    accepted but unused); for NATS ``root`` verifies the servers and ``cert`` is the client's."""

    cert: str = _f("Cert", "")
    key: str = _f("Key", "")
    root: str = _f("Root", "")


@dataclass
class HTTPSettings:
    host: str = _f("Host", "localhost")
    port: int = _f("Port", 9090)
    readtimeout: int = _f("ReadTimeout", 5000)
    writetimeout: int = _f("WriteTimeout", 5000)
    tls: TLSSettings = _f("TLS", TLSSettings)


@dataclass
class NATSSettings:
    servers: list[str] = _f("Servers", [])
    connecttimeout: int = _f("ConnectTimeout", 5000)
    reconnectwait: int = _f("ReconnectWait", 1000)
    maxreconnects: int = _f("MaxReconnects", -1)
    usercredentials: str = _f("UserCredentials", "")
    tls: TLSSettings = _f("TLS", TLSSettings)
    syncinterval: int = _f("SyncInterval", 0)

    @property
    def sync_interval_ms(self) -> int:
        """The 1.0 sync period: ``syncinterval`` when set (> 0), else ``reconnectwait`` as in 1.0."""
        return self.syncinterval if self.syncinterval > 0 else self.reconnectwait


@dataclass
class KVSettings:
    """JetStream KV store (scale-out): its own connection, to an account with JetStream enabled.

    Selected when ``bucket`` or ``servers`` is set; ``bucket`` then defaults to ``account-jwts``.
    """

    bucket: str = _f("Bucket", "")
    replicas: int = _f("Replicas", 1)
    history: int = _f("History", 1)
    servers: list[str] = _f("Servers", [])
    usercredentials: str = _f("UserCredentials", "")
    tls: TLSSettings = _f("TLS", TLSSettings)
    connecttimeout: int = _f("ConnectTimeout", 5000)
    reconnectwait: int = _f("ReconnectWait", 250)
    timeout: int = _f("Timeout", 3000)

    @property
    def enabled(self) -> bool:
        return bool(self.bucket or self.servers)


@dataclass
class StoreSettings:
    """Which store to build: dir, else nsc, else kv, else memory."""

    dir: str = _f("Dir", "")
    nsc: str = _f("NSC", "")
    readonly: bool = _f("ReadOnly", False)
    shard: bool = _f("Shard", False)
    cleanupinterval: int = _f("CleanupInterval", 0)
    kv: KVSettings = _f("KV", KVSettings)


@dataclass
class LoggingSettings:
    time: bool = _f("Time", True)
    debug: bool = _f("Debug", False)
    trace: bool = _f("Trace", False)
    colors: bool = _f("Colors", True)
    pid: bool = _f("PID", False)


@dataclass
class Settings:
    """The effective configuration: defaults, then the file, then flags."""

    operatorjwtpath: str = _f("OperatorJWTPath", "")
    systemaccountjwtpath: str = _f("SystemAccountJWTPath", "")
    primary: str = _f("Primary", "")
    replicationtimeout: int = _f("ReplicationTimeout", 5000)
    maxreplicationpack: int = _f("MaxReplicationPack", 10000)
    signrequestsubject: str = _f("SignRequestSubject", "")
    signrequesttimeout: int = _f("SignRequestTimeout", 1000)
    maxbodysize: int = _f("MaxBodySize", 1048576)
    cachesize: int = _f("CacheSize", 100_000)
    http: HTTPSettings = _f("HTTP", HTTPSettings)
    nats: NATSSettings = _f("NATS", NATSSettings)
    store: StoreSettings = _f("Store", StoreSettings)
    logging: LoggingSettings = _f("Logging", LoggingSettings)


def canonical_name(cls: type, attr: str) -> str:
    """The Go member name of ``cls.attr`` (e.g. ``OperatorJWTPath``) used for matching and dumps."""
    for f in dataclasses.fields(cls):
        if f.name == attr:
            return str(f.metadata["name"])
    raise KeyError(attr)


# --------------------------------------------------------------------------------------------------
# Go ``%v`` rendering, so error messages read like the originals'.


def _go_float(v: float) -> str:
    """Go's shortest ``%v`` for float64 (``%g`` rules: exponent form below 1e-4 or from 1e6 on)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    d = decimal.Decimal(repr(v))
    exp = d.adjusted()
    sign = "-" if v < 0 else ""
    if exp < -4 or exp >= 6:
        digits = "".join(str(n) for n in d.as_tuple().digits).rstrip("0") or "0"
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + f"{abs(d).normalize():f}"


def go_value(v: Any) -> str:
    """Render a parsed config value the way Go's ``%v`` shows it in the original error messages."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    if isinstance(v, list):
        return "[" + " ".join(go_value(e) for e in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v, key=str)) + "]"
    return str(v)


# --------------------------------------------------------------------------------------------------
# Tree -> settings.

_ATOI_RE = re.compile(r"[+-]?[0-9]+")
_BUCKET_RE = re.compile(r"[a-zA-Z0-9_-]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _lookup(tree: dict[str, Any], name: str) -> tuple[bool, Any]:
    """Canonical spelling first, then lower case, then any casing (the last such key in file order)."""
    if name in tree:
        return True, tree[name]
    low = name.lower()
    if low in tree:
        return True, tree[low]
    found, value = False, None
    for k, v in tree.items():
        if isinstance(k, str) and k.lower() == low:
            found, value = True, v
    return found, value


def _to_bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.lower() == "true"
    raise ConfigError(f"error parsing {name} option {go_value(v)}")


def _to_int(name: str, v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and _ATOI_RE.fullmatch(v) and _INT64_MIN <= int(v) <= _INT64_MAX:
        return int(v)
    raise ConfigError(f"unable to parse integer {go_value(v)} for key {name}")


def _to_str(name: str, v: Any) -> str:
    if isinstance(v, str):
        return v
    raise ConfigError(f"error parsing {name} option {go_value(v)}")


def _to_str_list(name: str, v: Any) -> list[str]:
    if isinstance(v, list):
        if not all(isinstance(e, str) for e in v):
            raise ConfigError(f"error parsing {name} option {go_value(v)}, contents are not convertable")
        return list(v)
    if isinstance(v, str):
        return [v]
    raise ConfigError(f"error parsing {name} option {go_value(v)}, single element is not convertable")


_SCALARS: dict[Any, Any] = {bool: _to_bool, int: _to_int, str: _to_str, list[str]: _to_str_list}


def _apply(target: Any, tree: dict[str, Any]) -> None:
    """Overlay ``tree`` on the dataclass instance ``target``: only keys present change anything."""
    hints = typing.get_type_hints(type(target))
    for f in dataclasses.fields(target):
        name = str(f.metadata["name"])
        present, value = _lookup(tree, name)
        if not present:
            continue
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise ConfigError(f"struct field {name} doesn't have a matching map in the config file")
            _apply(getattr(target, f.name), value)
        else:
            setattr(target, f.name, _SCALARS[kind](name, value))


def validate_settings(settings: Settings) -> None:
    """Cross-field checks the originals lacked: refuse ambiguous store choices."""
    if settings.store.dir and settings.store.nsc:
        raise ConfigError("dir and nsc are mutually exclusive")
    kv = settings.store.kv
    if kv.enabled:
        if settings.store.dir or settings.store.nsc:
            raise ConfigError(f"{'dir' if settings.store.dir else 'nsc'} and kv are mutually exclusive")
        if not kv.servers:
            raise ConfigError("the kv store needs servers (the NATS URLs of the JetStream account)")
        if kv.bucket and not _BUCKET_RE.fullmatch(kv.bucket):
            raise ConfigError(f"invalid kv bucket name {kv.bucket!r} (letters, digits, '-' and '_' only)")
        if not 1 <= kv.replicas <= 5:
            raise ConfigError(f"kv replicas must be between 1 and 5, not {kv.replicas}")
        if not 1 <= kv.history <= 64:
            raise ConfigError(f"kv history must be between 1 and 64, not {kv.history}")


def settings_from_tree(tree: dict[str, Any]) -> Settings:
    """Map a parsed configuration tree onto fresh default settings; raises ConfigError."""
    settings = Settings()
    _apply(settings, tree)
    validate_settings(settings)
    return settings


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Parse and map a configuration file; every failure becomes a ConfigError naming the problem."""
    from nats_account_server.natsconf import ParseError, parse_file  # only with -c: ~12 ms of a start

    name = os.fspath(path)
    if not os.path.exists(name):
        raise ConfigError(f"error reading config file '{name}', no such file or directory")
    try:
        tree = parse_file(name)
    except ParseError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:  # the parser reports IO problems itself; this is belt and braces
        raise ConfigError(f"error reading config file '{name}', {exc.strerror or exc}") from None
    return settings_from_tree(tree)


def settings_to_dump(settings: Any) -> dict[str, Any]:
    """Settings as a JSON-ready dict keyed by canonical member names, nested per section (``-dump``)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value):
            value = settings_to_dump(value)
        elif isinstance(value, list):
            value = list(value)
        out[str(f.metadata["name"])] = value
    return out

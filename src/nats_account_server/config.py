"""Typed settings, their defaults and the non-strict mapping of a parsed config tree.

The mapping mirrors the original Go reflection-based loader: every field knows its Go member name
(stored in the dataclass field metadata as ``name``), keys are matched case-insensitively, unknown
keys are ignored (each with a warning, see ``configkeys``) and type errors use the original
messages, so error output stays recognisable.
Values inside the file are NOT ``~``-expanded (as in the originals); only flag values are (``cli``).
Unlike the originals every value is also range-checked (field metadata ``check``): a value the server
would misuse silently (a port wrapped modulo 65536, a negative timeout, a URL no client can reach)
stops startup with a message naming the key and its line. The checks, the converters and the Go
``%v`` rendering of values in messages are ``configvalues``.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from dataclasses import field
from typing import Any

from nats_account_server import configvalues as values
from nats_account_server.configkeys import located as _located
from nats_account_server.configkeys import placements, stray_keys
from nats_account_server.configkeys import where as _where
from nats_account_server.oserrors import os_error
from nats_account_server.records import Member, is_record, is_record_class, members_of, record

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
    "check_value",
    "load_settings",
    "settings_from_tree",
    "settings_to_dump",
    "validate_settings",
]


class ConfigError(Exception):
    """A configuration problem that must stop startup with exit status 1; ``str(e)`` is the message."""


def _f(
    name: str,
    default: Any,
    check: values.Check | None = None,
    *,
    convert: Callable[[str, Any], Any] | None = None,
    words: tuple[str, ...] = (),
) -> Any:
    """A dataclass field carrying its canonical (Go) member name, its range check and, for a type
    the plain converters do not know, its converter and the words a quoted value may be (any other
    word is taken as false with a warning); mutable defaults get a factory."""
    meta: dict[str, Any] = {"name": name}
    for k, v in (("check", check), ("convert", convert), ("words", words)):
        if v:
            meta[k] = v
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    if is_record_class(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def keyed(settings: Any) -> tuple[Member, ...]:
    """The members of a settings class (or instance) that are configuration keys, in order."""
    return tuple(m for m in members_of(settings) if "name" in m.metadata)


@record
class TLSSettings:
    """PEM files of a `tls` block. For HTTP a non-empty ``cert`` turns HTTPS on (``root`` is
    accepted but unused); for NATS ``root`` verifies the servers and ``cert`` is the client's."""

    cert: str = _f("Cert", "")
    key: str = _f("Key", "")
    root: str = _f("Root", "")


@record
class HTTPSettings:
    """The `http` block: where the server listens, its timeouts and TLS."""

    host: str = _f("Host", "localhost")
    port: int = _f("Port", 9090, values.port)  # 0 = any free port
    readtimeout: int = _f("ReadTimeout", 5000, values.duration)  # 0 = none
    writetimeout: int = _f("WriteTimeout", 5000, values.duration)  # 0 = none
    tls: TLSSettings = _f("TLS", TLSSettings)


@record
class NATSSettings:
    """The `nats` block: the servers to connect to, how, and the sync's period."""

    servers: list[str] = _f("Servers", [], values.nats_servers)
    connecttimeout: int = _f("ConnectTimeout", 5000, values.duration)
    reconnectwait: int = _f("ReconnectWait", 1000, values.duration)
    maxreconnects: int = _f("MaxReconnects", -1, values.between(-1, None))  # -1 = for ever, 0 = never
    usercredentials: str = _f("UserCredentials", "")
    tls: TLSSettings = _f("TLS", TLSSettings)
    syncinterval: int = _f("SyncInterval", 0, values.duration)  # 0 = reconnectwait

    @property
    def sync_interval_ms(self) -> int:
        """The 1.0 sync period: ``syncinterval`` when set (> 0), else ``reconnectwait`` as in 1.0."""
        return self.syncinterval if self.syncinterval > 0 else self.reconnectwait


@record
class KVSettings:
    """JetStream KV store (scale-out): its own connection, to an account with JetStream enabled.

    Selected when ``bucket`` or ``servers`` is set; ``bucket`` then defaults to ``account-jwts``.
    """

    bucket: str = _f("Bucket", "", values.bucket)
    replicas: int = _f("Replicas", 1, values.kv_count("replicas", 5))
    history: int = _f("History", 1, values.kv_count("history", 64))
    servers: list[str] = _f("Servers", [], values.nats_servers)
    usercredentials: str = _f("UserCredentials", "")
    tls: TLSSettings = _f("TLS", TLSSettings)
    connecttimeout: int = _f("ConnectTimeout", 5000, values.duration)
    reconnectwait: int = _f("ReconnectWait", 250, values.duration)
    timeout: int = _f("Timeout", 15000, values.duration)  # outlasts a JetStream leader election

    @property
    def enabled(self) -> bool:
        return bool(self.bucket or self.servers)


@record
class StoreSettings:
    """Which store to build: dir, else nsc, else kv, else memory."""

    dir: str = _f("Dir", "")
    nsc: str = _f("NSC", "")
    readonly: bool = _f("ReadOnly", False)
    shard: bool = _f("Shard", False)
    cleanupinterval: int = _f("CleanupInterval", 0, values.duration)  # 0 = no clean-up
    kv: KVSettings = _f("KV", KVSettings)
    # delete requests (nats-server's resolver names): off unless allowed; soft keeps `<key>.jwt.deleted`
    allow_delete: bool = _f("Allow_Delete", False)
    hard_delete: bool = _f("Hard_Delete", False)


@record
class LoggingSettings:
    """How log lines look: ``format`` "text" (nats-server's lines) or "json" (one object per line,
    never coloured); ``colors`` see :data:`configvalues.Colors`."""

    time: bool = _f("Time", True)
    debug: bool = _f("Debug", False)
    trace: bool = _f("Trace", False)
    colors: values.Colors = _f(
        "Colors", True, values.colors, convert=values.to_colors, words=values.COLOR_WORDS
    )
    pid: bool = _f("PID", False)
    format: str = _f("Format", "text", values.one_of("text", "json"), convert=values.to_word)


@record
class Settings:
    """The effective configuration: defaults, then the file, then flags."""

    operatorjwtpath: str = _f("OperatorJWTPath", "")
    systemaccountjwtpath: str = _f("SystemAccountJWTPath", "")
    primary: str = _f("Primary", "", values.primary)
    replicationtimeout: int = _f("ReplicationTimeout", 5000, values.duration)
    maxreplicationpack: int = _f("MaxReplicationPack", 10000)  # any: 0 = none, negative = all
    signrequestsubject: str = _f("SignRequestSubject", "", values.subject)
    signrequesttimeout: int = _f("SignRequestTimeout", 1000, values.duration)
    maxbodysize: int = _f("MaxBodySize", 1048576, values.between(1, None))
    cachesize: int = _f("CacheSize", 100_000, values.between(0, None))  # 0 = no cache
    http: HTTPSettings = _f("HTTP", HTTPSettings)
    nats: NATSSettings = _f("NATS", NATSSettings)
    store: StoreSettings = _f("Store", StoreSettings)
    logging: LoggingSettings = _f("Logging", LoggingSettings)

    # Not a key (not mapped, dumped or compared): what the file said that deserves a [WRN] line.
    warnings: list[str] = field(default_factory=list, init=False, repr=False, compare=False)


def canonical_name(cls: type, attr: str) -> str:
    """The Go member name of ``cls.attr`` (e.g. ``OperatorJWTPath``) used for matching and dumps."""
    for f in keyed(cls):
        if f.name == attr:
            return str(f.metadata["name"])
    raise KeyError(attr)


# --------------------------------------------------------------------------------------------------
# Tree -> settings.


def _lookup(tree: dict[str, Any], name: str) -> str | None:
    """The key for ``name``: canonical spelling first, then lower case, then any casing (the last
    such key in file order); None when absent."""
    if name in tree:
        return name
    low = name.lower()
    if low in tree:
        return low
    found = None
    for k in tree:
        if isinstance(k, str) and k.lower() == low:
            found = k
    return found


def _problem(f: Member, key: str, value: Any) -> str | None:
    check: values.Check | None = f.metadata.get("check")
    return None if check is None else check(key, value)


def _words(words: tuple[str, ...]) -> str:
    if len(words) == 2:
        return f"neither {values.quote(words[0])} nor {values.quote(words[1])}"
    return "none of " + ", ".join(values.quote(w) for w in words)


def _apply(target: Any, tree: dict[str, Any], path: str, warnings: list[str]) -> None:
    """Overlay ``tree`` on the dataclass instance ``target``: only keys present change anything.

    ``path`` is the dotted prefix of ``target``'s keys ("" or e.g. "http."); each value is range-checked
    as it is mapped, while the tree still knows its line. A quoted boolean other than "true"/"false"
    keeps the original meaning (false) but is added to ``warnings``: it is most likely a mistake. So
    are the keys that set nothing (unknown or misspelled ones, see ``configkeys``), ahead of the
    warnings of the blocks inside (outer blocks first, each in file order).
    """
    start = len(warnings)
    hints = typing.get_type_hints(type(target))
    taken: dict[str, str | None] = {}
    for f in keyed(target):
        name = str(f.metadata["name"])
        key = taken[name.lower()] = _lookup(tree, name)
        if key is None:
            continue
        value = tree[key]
        kind = hints[f.name]
        if is_record_class(kind):
            if not isinstance(value, dict):
                raise ConfigError(f"struct field {name} doesn't have a matching map in the config file")
            _apply(getattr(target, f.name), value, f"{path}{f.name}.", warnings)
            continue
        try:
            converted = f.metadata.get("convert", values.SCALARS.get(kind))(name, value)
        except values.UnparsableValue as exc:
            raise ConfigError(str(exc)) from None
        problem = _problem(f, path + f.name, converted)
        if problem is not None:
            raise ConfigError(_located("error", _where(tree, key), problem))
        words = f.metadata.get("words", values.BOOL_WORDS if kind is bool else ())
        if words and isinstance(value, str) and value.lower() not in words:
            what = f"{path}{f.name} {values.quote(value)} is {_words(words)}; it is taken as false"
            warnings.append(_located("warning", _where(tree, key), what))
        setattr(target, f.name, converted)
    if len(tree) > len(taken) - list(taken.values()).count(None):  # keys that set nothing
        warnings[start:start] = stray_keys(tree, taken, path, placements(Settings))


def _check_all(target: Any, path: str) -> None:
    """Range-check every field of ``target`` (whatever set it), for settings not read from a file."""
    for f in keyed(target):
        value = getattr(target, f.name)
        if is_record(value):
            _check_all(value, f"{path}{f.name}.")
            continue
        problem = _problem(f, path + f.name, value)
        if problem is not None:
            raise ConfigError(_located("error", "", problem))


def check_value(owner: Any, attr: str, key: str, where: str) -> None:
    """Range-check ``owner.attr`` (a settings dataclass field) set from ``where`` (e.g. ``flag
    -primary``); ``key`` is its dotted name in messages. Raises ConfigError naming both."""
    for f in keyed(owner):
        if f.name == attr:
            problem = _problem(f, key, getattr(owner, attr))
            if problem is not None:
                raise ConfigError(_located("error", where, problem))
            return
    raise KeyError(attr)


def validate_settings(settings: Settings) -> None:
    """Every field's range (again: values from a file were checked with their line as they were read),
    then cross-field checks the originals lacked: refuse ambiguous store choices."""
    _check_all(settings, "")
    if settings.store.dir and settings.store.nsc:
        raise ConfigError("dir and nsc are mutually exclusive")
    kv = settings.store.kv
    if kv.enabled:
        if settings.store.dir or settings.store.nsc:
            raise ConfigError(f"{'dir' if settings.store.dir else 'nsc'} and kv are mutually exclusive")
        if not kv.servers:
            raise ConfigError("the kv store needs servers (the NATS URLs of the JetStream account)")


def settings_from_tree(tree: dict[str, Any]) -> Settings:
    """Map a parsed configuration tree onto fresh default settings; raises ConfigError."""
    settings = Settings()
    _apply(settings, tree, "", settings.warnings)
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
        raise ConfigError(f"error reading config file '{name}', {os_error(exc, known=name)}") from None
    return settings_from_tree(tree)


def settings_to_dump(settings: Any) -> dict[str, Any]:
    """Settings as a JSON-ready dict keyed by canonical member names, nested per section (``-dump``)."""
    out: dict[str, Any] = {}
    for f in keyed(settings):
        value = getattr(settings, f.name)
        if is_record(value):
            value = settings_to_dump(value)
        elif isinstance(value, list):
            value = list(value)
        out[str(f.metadata["name"])] = value
    return out

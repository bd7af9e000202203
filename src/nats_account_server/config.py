"""Typed settings, their defaults and the non-strict mapping of a parsed config tree.

The mapping mirrors the original Go reflection-based loader: every field knows its Go member name
(stored in the dataclass field metadata as ``name``), keys are matched case-insensitively, unknown
keys are ignored (each with a warning, see ``configkeys``) and type errors use the original
messages, so error output stays recognisable.
Values inside the file are NOT ``~``-expanded (as in the originals); only flag values are (``cli``).
Unlike the originals every value is also range-checked (field metadata ``check``): a value the server
would misuse silently (a port wrapped modulo 65536, a negative timeout, a URL no client can reach)
stops startup with a message naming the key and its line.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import math
import os
import re
import typing
import urllib.parse
from collections.abc import Callable
from dataclasses import field
from typing import Any, Literal, TypeVar

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
    "go_value",
    "load_settings",
    "settings_from_tree",
    "settings_to_dump",
    "validate_settings",
]

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration problem that must stop startup with exit status 1; ``str(e)`` is the message."""


Check = Callable[[str, Any], str | None]
"""A range check: (dotted key, value) -> what is wrong with the value, or None when it is fine."""


def _f(
    name: str,
    default: Any,
    check: Check | None = None,
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


# --------------------------------------------------------------------------------------------------
# Range checks, one per kind of value. Each returns the problem (naming the key) or None.

MAX_DURATION = 2**31 - 1
"""Longest duration in ms (about 24.8 days): more overflows the socket options a timeout sets."""


def _quote(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def _between(lo: int, hi: int | None) -> Check:
    """Integers in ``lo..hi`` (no upper bound when ``hi`` is None)."""
    shown = f"{lo}-{hi}" if hi is not None else f"{lo} or more"

    def check(key: str, v: Any) -> str | None:
        if lo <= v and (hi is None or v <= hi):
            return None
        return f"{key} {v} is out of range ({shown})"

    return check


_port = _between(0, 65535)
_duration = _between(0, MAX_DURATION)  # ms; where 0 has a meaning (off, "use reconnectwait") it is kept


def _kv_count(what: str, hi: int) -> Check:
    """``store.kv.replicas`` / ``history``, with the messages they had as cross-field checks."""

    def check(key: str, v: Any) -> str | None:
        return None if 1 <= v <= hi else f"kv {what} must be between 1 and {hi}, not {v}"

    return check


_BUCKET_RE = re.compile(r"[a-zA-Z0-9_-]+")


def _bucket(key: str, v: Any) -> str | None:
    if not v or _BUCKET_RE.fullmatch(v):
        return None
    return f"invalid kv bucket name {v!r} (letters, digits, '-' and '_' only)"


_SUBJECT_TOKEN_RE = re.compile(r"[^\s.]+")


def _subject(key: str, v: Any) -> str | None:
    """A subject one can publish to: dot-separated tokens, no spaces, no wildcards ("" = unset)."""
    tokens = v.split(".") if v else []
    if all(_SUBJECT_TOKEN_RE.fullmatch(t) and t not in ("*", ">") for t in tokens):
        return None
    return f"{key} {_quote(v)} is not a NATS subject (dot-separated tokens without spaces or wildcards)"


_HOSTNAME_RE = re.compile(r"[\w-]+(?:\.[\w-]+)*\.?")


def _url_problem(url: str, schemes: tuple[str, ...], *, exact: bool = False) -> str | None:
    """Why ``url`` is not ``scheme://host[:port]...`` with a usable host and a port in 1-65535;
    ``exact``: the scheme as written (nats-py matches ``nats://`` case-sensitively), not lowered."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "its port or IPv6 address does not parse"
    scheme = url.partition("://")[0] if exact and "://" in url else parts.scheme
    if scheme not in schemes:
        return f"the scheme {scheme}:// is not one of them" if scheme else "it has no scheme"
    host = parts.hostname or ""
    if not host:
        return "it has no host"
    if parts.netloc.rpartition("@")[2].startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
    elif not _HOSTNAME_RE.fullmatch(host) or host == "none":  # nats-py refuses the host "none"
        return f"{host!r} is not a host name"
    if port is not None and not 1 <= port <= 65535:
        return f"port {port} is out of range (1-65535)"
    return None


def _primary(key: str, v: Any) -> str | None:
    """``http(s)://host[:port][/path]``; a query or fragment would garble the URLs built on it."""
    if not v:
        return None
    why = _url_problem(v, ("http", "https"))
    if why is None and (urllib.parse.urlsplit(v).query or "#" in v):
        why = "it must not have a query or fragment"
    return None if why is None else f"{key} {_quote(v)} is not an http:// or https:// URL: {why}"


_NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def _nats_servers(key: str, v: Any) -> str | None:
    """Each entry holds one or more comma-joined URLs (as ``natsclient.server_urls`` splits them):
    ``nats|tls|ws|wss://host[:port]`` or a bare ``host[:port]`` (nats-py prefixes ``nats://``), all
    of them websocket or none (nats-py refuses a mix). Anything else nats-py would refuse for ever.
    """
    websocket: set[bool] = set()
    for entry in v:
        urls = [u.strip() for u in entry.split(",") if u.strip()]
        if not urls:
            return f"{key} entry {_quote(entry)} holds no URL"
        for url in urls:
            full = url if "://" in url else f"nats://{url}"
            why = _url_problem(full, _NATS_SCHEMES, exact=True)
            if why is not None:
                forms = "nats://, tls://, ws://, wss:// or host:port"
                return f"{key} entry {_quote(url)} is not a NATS server URL ({forms}): {why}"
            websocket.add(full.startswith(("ws://", "wss://")))
    if len(websocket) > 1:
        return f"{key} mixes websocket (ws://, wss://) and other URLs, which the NATS client refuses"
    return None


def _one_of(*allowed: str) -> Check:
    """A word from ``allowed`` (the converter has lowered it: values are case-insensitive)."""
    shown = ", ".join(_quote(a) for a in allowed)

    def check(key: str, v: Any) -> str | None:
        return None if v in allowed else f"{key} {_quote(str(v))} is not one of {shown}"

    return check


Colors = bool | Literal["always"]
"""``logging.colors``: True = only when stderr is a terminal (as the original), False = never,
``"always"`` = even into a file or a pipe (a terminal multiplexer or a colour-aware log viewer)."""

_COLOR_WORDS = ("true", "false", "auto", "always", "never")


def _to_colors(name: str, v: Any) -> Colors:
    """``colors``: a boolean as ever, or ``auto`` (= true), ``always`` or ``never`` (= false)."""
    word = v.lower() if isinstance(v, str) else None
    if word == "always":
        return "always"
    return word == "auto" or (word != "never" and _to_bool(name, v))


def _colors(key: str, v: Any) -> str | None:
    if v is True or v is False or v == "always":
        return None
    return f'{key} {_quote(str(v))} is not one of true, false, "always"'


def _to_word(name: str, v: Any) -> str:
    return _to_str(name, v).lower()


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
    port: int = _f("Port", 9090, _port)  # 0 = any free port
    readtimeout: int = _f("ReadTimeout", 5000, _duration)  # 0 = none
    writetimeout: int = _f("WriteTimeout", 5000, _duration)  # 0 = none
    tls: TLSSettings = _f("TLS", TLSSettings)


@record
class NATSSettings:
    """The `nats` block: the servers to connect to, how, and the sync's period."""

    servers: list[str] = _f("Servers", [], _nats_servers)
    connecttimeout: int = _f("ConnectTimeout", 5000, _duration)
    reconnectwait: int = _f("ReconnectWait", 1000, _duration)
    maxreconnects: int = _f("MaxReconnects", -1, _between(-1, None))  # -1 = for ever, 0 = never
    usercredentials: str = _f("UserCredentials", "")
    tls: TLSSettings = _f("TLS", TLSSettings)
    syncinterval: int = _f("SyncInterval", 0, _duration)  # 0 = reconnectwait

    @property
    def sync_interval_ms(self) -> int:
        """The 1.0 sync period: ``syncinterval`` when set (> 0), else ``reconnectwait`` as in 1.0."""
        return self.syncinterval if self.syncinterval > 0 else self.reconnectwait


@record
class KVSettings:
    """JetStream KV store (scale-out): its own connection, to an account with JetStream enabled.

    Selected when ``bucket`` or ``servers`` is set; ``bucket`` then defaults to ``account-jwts``.
    """

    bucket: str = _f("Bucket", "", _bucket)
    replicas: int = _f("Replicas", 1, _kv_count("replicas", 5))
    history: int = _f("History", 1, _kv_count("history", 64))
    servers: list[str] = _f("Servers", [], _nats_servers)
    usercredentials: str = _f("UserCredentials", "")
    tls: TLSSettings = _f("TLS", TLSSettings)
    connecttimeout: int = _f("ConnectTimeout", 5000, _duration)
    reconnectwait: int = _f("ReconnectWait", 250, _duration)
    timeout: int = _f("Timeout", 15000, _duration)  # outlasts a JetStream leader election

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
    cleanupinterval: int = _f("CleanupInterval", 0, _duration)  # 0 = no clean-up
    kv: KVSettings = _f("KV", KVSettings)
    # delete requests (nats-server's resolver names): off unless allowed; soft keeps `<key>.jwt.deleted`
    allow_delete: bool = _f("Allow_Delete", False)
    hard_delete: bool = _f("Hard_Delete", False)


@record
class LoggingSettings:
    """How log lines look: ``format`` "text" (nats-server's lines) or "json" (one object per line,
    never coloured); ``colors`` see :data:`Colors`."""

    time: bool = _f("Time", True)
    debug: bool = _f("Debug", False)
    trace: bool = _f("Trace", False)
    colors: Colors = _f("Colors", True, _colors, convert=_to_colors, words=_COLOR_WORDS)
    pid: bool = _f("PID", False)
    format: str = _f("Format", "text", _one_of("text", "json"), convert=_to_word)


@record
class Settings:
    """The effective configuration: defaults, then the file, then flags."""

    operatorjwtpath: str = _f("OperatorJWTPath", "")
    systemaccountjwtpath: str = _f("SystemAccountJWTPath", "")
    primary: str = _f("Primary", "", _primary)
    replicationtimeout: int = _f("ReplicationTimeout", 5000, _duration)
    maxreplicationpack: int = _f("MaxReplicationPack", 10000)  # any: 0 = none, negative = all
    signrequestsubject: str = _f("SignRequestSubject", "", _subject)
    signrequesttimeout: int = _f("SignRequestTimeout", 1000, _duration)
    maxbodysize: int = _f("MaxBodySize", 1048576, _between(1, None))
    cachesize: int = _f("CacheSize", 100_000, _between(0, None))  # 0 = no cache
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
# Go ``%v`` rendering, so error messages read like the originals'.


def _go_float(v: float) -> str:
    """Go's shortest ``%v`` for float64 (``%g`` rules: exponent form below 1e-4 or from 1e6 on)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    import decimal  # only to render a float in a message

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
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


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
    check: Check | None = f.metadata.get("check")
    return None if check is None else check(key, value)


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
_BOOL_WORDS = ("true", "false")


def _words(words: tuple[str, ...]) -> str:
    if len(words) == 2:
        return f"neither {_quote(words[0])} nor {_quote(words[1])}"
    return "none of " + ", ".join(_quote(w) for w in words)


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
        converted = f.metadata.get("convert", _SCALARS.get(kind))(name, value)
        problem = _problem(f, path + f.name, converted)
        if problem is not None:
            raise ConfigError(_located("error", _where(tree, key), problem))
        words = f.metadata.get("words", _BOOL_WORDS if kind is bool else ())
        if words and isinstance(value, str) and value.lower() not in words:
            what = f"{path}{f.name} {_quote(value)} is {_words(words)}; it is taken as false"
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

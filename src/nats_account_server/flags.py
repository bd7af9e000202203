"""Command-line flags: Go ``flag`` style parsing, path expansion and flag-over-file precedence.

Parsing is a small hand-written loop because argparse cannot reproduce Go's conventions (``-flag=value``
on single-dash long names, ``-D=true``, stop at the first positional argument, exit status 2).
Parsing only records raw values; everything that can fail with exit status 1 (path expansion,
``-hp``, the config file) happens in :func:`build_settings`, which SIGHUP re-runs with the same flags.
"""

from __future__ import annotations

import os

from nats_account_server import __version__
from nats_account_server.config import (
    ConfigError,
    KVSettings,
    Settings,
    StoreSettings,
    check_value,
    load_settings,
    validate_settings,
)
from nats_account_server.nscfolder import folder_problem, operator_jwt_path
from nats_account_server.records import record, replace

__all__ = [
    "Flags",
    "HelpRequested",
    "VersionRequested",
    "UsageError",
    "build_settings",
    "expand_flag_paths",
    "expand_path",
    "parse_flags",
    "split_hostport",
    "usage",
]

PROG = "nats-account-server"


class UsageError(Exception):
    """Bad command line (unknown flag, missing or unparsable value): usage and exit status 2."""


class VersionRequested(Exception):
    """``-v``/``-version``: the version line on stdout and exit status 0."""


class HelpRequested(Exception):
    """``-h``/``-help``: usage and exit status 0."""


@record
class Flags:
    """Raw flag values; empty string / False mean "not given" (as with Go's zero values)."""

    config: str = ""
    nsc: str = ""
    dir: str = ""
    readonly: bool = False
    operator: str = ""
    nats: str = ""
    creds: str = ""
    primary: str = ""
    hostport: str = ""
    debug: bool = False
    verbose: bool = False
    debug_verbose: bool = False
    dump: bool = False
    test: bool = False


@record(frozen=True)
class _Spec:
    """One command-line flag: the attribute it sets, whether it takes a value, its help."""

    attr: str
    is_bool: bool
    usage: str
    value_name: str = ""


_FLAGS: dict[str, _Spec] = {
    "c": _Spec("config", False, "configuration file; other flags take precedence over it", "file"),
    "nsc": _Spec(
        "nsc", False, "serve accounts read-only from an nsc operator folder; sets the operator JWT", "dir"
    ),
    "dir": _Spec("dir", False, "directory store location", "dir"),
    "ro": _Spec("readonly", True, "with -dir: use a read-only directory store, watched for file changes"),
    "operator": _Spec("operator", False, "operator JWT file (overrides operatorjwtpath)", "file"),
    "nats": _Spec("nats", False, "NATS server URL for notifications (replaces nats.servers)", "url"),
    "creds": _Spec("creds", False, "NATS credentials file (overrides nats.usercredentials)", "file"),
    "primary": _Spec(
        "primary", False, "primary account server URL http(s)://host:port/; enables replicas", "url"
    ),
    "hp": _Spec(
        "hostport", False, "HTTP listen address host:port (overrides http.host and http.port)", "host:port"
    ),
    "D": _Spec("debug", True, "turn on debug logging"),
    "V": _Spec("verbose", True, "turn on trace (verbose) logging"),
    "DV": _Spec("debug_verbose", True, "turn on debug and trace logging"),
    "dump": _Spec("dump", True, "log the effective configuration as JSON after a successful start"),
    "t": _Spec("test", True, "test the configuration (and the files it names) and exit"),
}

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def usage() -> str:
    """Go ``PrintDefaults`` layout: one-letter names keep the description on the same line."""
    lines = [f"Usage of {PROG}:"]
    for name in sorted(_FLAGS):
        spec = _FLAGS[name]
        head = f"  -{name}" + (f" {spec.value_name}" if spec.value_name else "")
        lines.append(f"{head}\t{spec.usage}" if len(head) <= 4 else f"{head}\n    \t{spec.usage}")
    lines.append("  -h, -help\n    \tprint this usage text and exit")
    lines.append("  -v, -version\n    \tprint the version and exit")
    return "\n".join(lines) + "\n"


def parse_flags(argv: list[str]) -> Flags:
    """Parse like Go's ``flag.Parse``: the first non-flag argument (or ``--``) ends flag parsing."""
    flags = Flags()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if len(arg) < 2 or arg[0] != "-":
            break
        dashes = 2 if arg[1] == "-" else 1
        if dashes == 2 and len(arg) == 2:
            break
        name = arg[dashes:]
        if not name or name[0] in "-=":
            raise UsageError(f"bad flag syntax: {arg}")
        i += 1
        name, has_value, value = name.partition("=")
        spec = _FLAGS.get(name)
        if spec is None:
            if name in ("h", "help"):
                raise HelpRequested(usage())
            if name in ("v", "version"):
                raise VersionRequested(f"{PROG}: v{__version__}")
            raise UsageError(f"flag provided but not defined: -{name}")
        if spec.is_bool:
            if not has_value:
                setattr(flags, spec.attr, True)
            elif value in _TRUE or value in _FALSE:
                setattr(flags, spec.attr, value in _TRUE)
            else:
                raise UsageError(f'invalid boolean value "{value}" for -{name}: parse error')
            continue
        if not has_value:
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: -{name}")
            value = argv[i]
            i += 1
        setattr(flags, spec.attr, value)
    return flags


def expand_path(path: str) -> str:
    """``~``/``~/`` → $HOME, then absolute and cleaned; ``~user`` is refused, not guessed."""
    if not path:
        return path
    if path.startswith("~"):
        if path != "~" and not path.startswith("~/"):
            raise ConfigError(f"unable to expand {path!r}: only '~' and '~/' are supported, not '~user'")
        home = os.environ.get("HOME") or os.path.expanduser("~")
        if not home or home.startswith("~"):
            raise ConfigError(f"unable to expand {path!r}: the home directory is unknown")
        path = home + path[1:]
    return os.path.abspath(path)


def expand_flag_paths(flags: Flags) -> Flags:
    """A copy of ``flags`` with the path-valued flags expanded (idempotent); raises ConfigError."""
    return replace(
        flags,
        config=expand_path(flags.config),
        dir=expand_path(flags.dir),
        nsc=expand_path(flags.nsc),
        creds=expand_path(flags.creds),
        operator=expand_path(flags.operator),
    )


def _go_split_hostport(hostport: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort`` with its error texts, so ``-hp`` errors match the originals."""

    def bad(why: str) -> ConfigError:
        return ConfigError(f"address {hostport}: {why}")

    i = hostport.rfind(":")
    if i < 0:
        raise bad("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise bad("missing ']' in address")
        if end + 1 == len(hostport):
            raise bad("missing port in address")
        if end + 1 != i:
            raise bad("too many colons in address" if hostport[end + 1] == ":" else "missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise bad("too many colons in address")
    if "[" in hostport[j:]:
        raise bad("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise bad("unexpected ']' in address")
    return host, hostport[i + 1 :]


def split_hostport(hostport: str) -> tuple[str, int]:
    """``-hp``: host (brackets removed, "" = all interfaces) and an integer port in 0..65535."""
    try:
        host, port_text = _go_split_hostport(hostport)
    except ConfigError as exc:
        raise ConfigError(f"error parsing hostport: {exc}") from None
    digits = port_text[1:] if port_text[:1] in "+-" else port_text
    if not digits.isascii() or not digits.isdigit():
        raise ConfigError(f'error parsing hostport: strconv.Atoi: parsing "{port_text}": invalid syntax')
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(f"error parsing hostport: port {port_text} out of range")
    return host, port


def build_settings(flags: Flags) -> Settings:
    """Defaults, then the ``-c`` file, then flags; raises ConfigError (exit status 1).

    Flag values get the file's range checks, their errors naming the flag (``-hp`` keeps the Go
    messages of :func:`split_hostport`, with the same 0-65535 range). The file's warnings (unknown
    keys, doubtful values) are left in ``settings.warnings`` for the caller to log or print: only
    the caller knows which log format is in force (a reload checks a file before taking it).
    """
    flags = expand_flag_paths(flags)
    if flags.nsc and flags.dir:
        raise ConfigError("-nsc and -dir are mutually exclusive")
    settings = load_settings(flags.config) if flags.config else Settings()
    if (flags.nsc or flags.dir) and settings.store.kv.enabled:
        flag, bucket = "-nsc" if flags.nsc else "-dir", settings.store.kv.bucket or "account-jwts"
        store = "an nsc" if flags.nsc else "a directory"
        settings.warnings.append(
            f"flag {flag} overrides the KV store of the configuration file (bucket {bucket}): "
            f"serving {store} store"
        )
    if flags.nsc:
        problem = folder_problem(flags.nsc, setting="-nsc", need_jwt=True)
        if problem is not None:  # before the operator JWT it names is read: say what the folder is
            raise ConfigError(problem)
        settings.store = StoreSettings(nsc=flags.nsc)
        settings.operatorjwtpath = operator_jwt_path(flags.nsc)
    elif flags.dir:
        # Not in the original: shard and cleanupinterval from the file survive -dir.
        settings.store.dir = flags.dir
        settings.store.nsc = ""
        settings.store.kv = KVSettings()  # the flag chooses the store: a directory
        settings.store.readonly = flags.readonly
    if flags.nats:
        settings.nats.servers = [flags.nats]
        check_value(settings.nats, "servers", "nats.servers", "flag -nats")
    if flags.creds:
        settings.nats.usercredentials = flags.creds
    if flags.operator:
        settings.operatorjwtpath = flags.operator
    if flags.primary:
        settings.primary = flags.primary
        check_value(settings, "primary", "primary", "flag -primary")
    if flags.debug or flags.debug_verbose:
        settings.logging.debug = True
    if flags.verbose or flags.debug_verbose:
        settings.logging.trace = True
    if flags.hostport:
        settings.http.host, settings.http.port = split_hostport(flags.hostport)
    validate_settings(settings)
    return settings

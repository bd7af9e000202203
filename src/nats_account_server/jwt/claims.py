"""Typed claims of account, activation and operator JWTs, as the NATS JWT library holds them.

Each member is read in one place (its `Field`), with Go's types and defaults: absent numbers are 0,
absent flags false, absent lists empty. v1 tokens are read with their own layout and converted to
these v2 structures, so validation sees one shape.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import field
from typing import Any

from nats_account_server.records import record

from .gojson import (
    DecodeError,
    Field,
    Number,
    Object,
    is_object,
    listing,
    mapping,
    members,
    optional,
    read_bool,
    read_int,
    read_int64,
    read_int64_map,
    read_into,
    read_str,
    read_strings,
    read_uint,
    read_uint8,
    schema,
    structure,
    type_error,
)
from .gotext import go_quote

STREAM, SERVICE = "stream", "service"


def read_export_type(value: Any, current: Any, where: str) -> Any:
    """`stream` or `service`, exactly; any other string and an explicit `null` fail the decode."""
    if value is None or type(value) is str:
        if value in (STREAM, SERVICE):
            return value
        raise DecodeError(f"unknown export type {go_quote(value or '')}")
    raise type_error(value, where, "ExportType")


# ---------------------------------------------------------------- shared pieces
@record
class Permission:
    """Allowed and denied subjects of one direction (publish or subscribe)."""

    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)


@record
class ResponsePermission:
    """How many responses a request may get, and for how long."""

    max: int = 0
    ttl: int = 0


@record
class Permissions:
    """Publish, subscribe and response permissions."""

    pub: Permission = field(default_factory=Permission)
    sub: Permission = field(default_factory=Permission)
    resp: ResponsePermission | None = None


PERMISSION = schema(Field("allow", "allow", read_strings), Field("deny", "deny", read_strings))
RESPONSE = schema(Field("max", "max", read_int), Field("ttl", "ttl", read_int64))
PERMISSIONS_FIELDS = (
    Field("pub", "pub", structure(PERMISSION)),
    Field("sub", "sub", structure(PERMISSION)),
    Field("resp", "resp", optional(ResponsePermission, RESPONSE)),
)
PERMISSIONS = schema(*PERMISSIONS_FIELDS)


# ---------------------------------------------------------------- limits
JETSTREAM_MEMBERS = (
    "mem_storage",
    "disk_storage",
    "streams",
    "consumer",
    "max_ack_pending",
    "mem_max_stream_bytes",
    "disk_max_stream_bytes",
)


@record
class JetStreamLimits:
    """JetStream limits of an account (or of one tier)."""

    mem_storage: int = 0
    disk_storage: int = 0
    streams: int = 0
    consumer: int = 0
    max_ack_pending: int = 0
    mem_max_stream_bytes: int = 0
    disk_max_stream_bytes: int = 0
    max_bytes_required: bool = False

    def empty(self) -> bool:
        return not any(getattr(self, m) for m in JETSTREAM_MEMBERS) and not self.max_bytes_required


JETSTREAM_FIELDS = (
    *(Field(m, m, read_int64) for m in JETSTREAM_MEMBERS),
    Field("max_bytes_required", "max_bytes_required", read_bool),
)


@record
class Limits(JetStreamLimits):
    """The operator's limits: NATS, account and flat JetStream members, and JetStream tiers."""

    subs: int = 0
    data: int = 0
    payload: int = 0
    imports: int = 0
    exports: int = 0
    wildcards: bool = False
    disallow_bearer: bool = False
    conn: int = 0
    leaf: int = 0
    tiered_limits: dict[str, JetStreamLimits] = field(default_factory=dict)

    def empty(self) -> bool:
        """No NATS, account or JetStream limit set and no tiers."""
        numbers = (self.subs, self.data, self.payload, self.imports, self.exports, self.conn, self.leaf)
        flags = self.wildcards or self.disallow_bearer
        return not any(numbers) and not flags and JetStreamLimits.empty(self) and not self.tiered_limits


V1_LIMIT_FIELDS = (
    Field("subs", "subs", read_int64),
    Field("data", "data", read_int64),
    Field("payload", "payload", read_int64),
    Field("imports", "imports", read_int64),
    Field("exports", "exports", read_int64),
    Field("wildcards", "wildcards", read_bool),
    Field("disallow_bearer", "disallow_bearer", read_bool),
    Field("conn", "conn", read_int64),
    Field("leaf", "leaf", read_int64),
)
JETSTREAM = schema(*JETSTREAM_FIELDS)
V1_LIMITS = schema(*V1_LIMIT_FIELDS)
V2_LIMITS = schema(
    *V1_LIMIT_FIELDS,
    *JETSTREAM_FIELDS,
    Field("tiered_limits", "tiered_limits", mapping(structure(JETSTREAM), JetStreamLimits)),
)


# ---------------------------------------------------------------- imports and exports
@record
class Latency:
    """Latency tracking of a service export: its sampling and where results go."""

    sampling: int = 0  # 0 means "headers"
    results: str = ""


@record
class Export:
    """One export of an account (stream or service)."""

    name: str = ""
    subject: str = ""
    type: str = ""  # "" when absent ("unknown")
    token_req: bool = False
    revocations: dict[str, int] = field(default_factory=dict)
    response_type: str = ""
    response_threshold: int = 0
    service_latency: Latency | None = None
    account_token_position: int = 0
    advertise: bool = False
    allow_trace: bool = False
    description: str = ""
    info_url: str = ""


#: The string values of the payload being read that spell "headers" with escapes (the very objects).
ESCAPED_HEADERS: ContextVar[tuple[str, ...]] = ContextVar("ESCAPED_HEADERS", default=())


def read_sampling(value: Any, current: Any, where: str) -> Any:
    """`"headers"` in any case, written as a literal (no escapes), is 0 (headers); otherwise an int."""
    if value is None:
        return 0
    if type(value) is str:
        if (
            value.lower() == "headers"
            and value.isascii()
            and all(value is not e for e in ESCAPED_HEADERS.get())
        ):
            return 0
        raise type_error(value, where, "int")
    return read_int(value, current, where)


LATENCY = schema(Field("sampling", "sampling", read_sampling), Field("results", "results", read_str))
EXPORT = schema(
    Field("name", "name", read_str),
    Field("subject", "subject", read_str),
    Field("type", "type", read_export_type),
    Field("token_req", "token_req", read_bool),
    Field("revocations", "revocations", read_int64_map),
    Field("response_type", "response_type", read_str),
    Field("response_threshold", "response_threshold", read_int64),
    Field("service_latency", "service_latency", optional(Latency, LATENCY)),
    Field("account_token_position", "account_token_position", read_uint),
    Field("advertise", "advertise", read_bool),
    Field("allow_trace", "allow_trace", read_bool),
    Field("description", "description", read_str),
    Field("info_url", "info_url", read_str),
)


@record
class Import:
    """One import of an account (stream or service)."""

    name: str = ""
    subject: str = ""
    account: str = ""
    token: str = ""
    to: str = ""
    local_subject: str = ""
    type: str = ""
    share: bool = False
    allow_trace: bool = False


IMPORT = schema(
    Field("name", "name", read_str),
    Field("subject", "subject", read_str),
    Field("account", "account", read_str),
    Field("token", "token", read_str),
    Field("to", "to", read_str),
    Field("local_subject", "local_subject", read_str),
    Field("type", "type", read_export_type),
    Field("share", "share", read_bool),
    Field("allow_trace", "allow_trace", read_bool),
)


# ---------------------------------------------------------------- mappings, authorization, trace
@record
class WeightedMapping:
    """One destination of a subject mapping, with its weight."""

    subject: str = ""
    weight: int = 0
    cluster: str = ""


WEIGHTED = schema(
    Field("subject", "subject", read_str),
    Field("weight", "weight", read_uint8),
    Field("cluster", "cluster", read_str),
)
read_mappings = mapping(listing(structure(WEIGHTED), fresh=WeightedMapping), list)


@record
class Authorization:
    """The account's auth callout settings."""

    auth_users: list[str] = field(default_factory=list)
    allowed_accounts: list[str] = field(default_factory=list)
    xkey: str = ""


AUTHORIZATION = schema(
    Field("auth_users", "auth_users", read_strings),
    Field("allowed_accounts", "allowed_accounts", read_strings),
    Field("xkey", "xkey", read_str),
)


@record
class Trace:
    """Where message traces of the account go, and how many are sampled."""

    dest: str = ""
    sampling: int = 0


TRACE = schema(Field("dest", "dest", read_str), Field("sampling", "sampling", read_int))


# ---------------------------------------------------------------- signing keys
def _float_integer(value: Any, where: str) -> Any:
    """Numbers in a scope went through a float64: integral values of any spelling are integers."""
    if isinstance(value, (Number, int, float)) and type(value) is not bool:
        number = float(value.text) if isinstance(value, Number) else float(value)
        if not number.is_integer() or abs(number) >= 1e21:
            raise type_error(value, where, "int64")
        return int(number)
    return value


def _generic(value: Any, where: str) -> Any:
    """The scope object as Go's generic map holds it: names unique (last wins), numbers as floats."""
    if is_object(value):
        unique = {name: _generic(item, where) for name, item in members(value)}
        return Object(sorted(unique.items(), key=lambda kv: kv[0].encode("utf-8", "surrogatepass")))
    if isinstance(value, list):
        return [_generic(v, where) for v in value]
    return _float_integer(value, where)


def _read_src(value: Any, current: Any, where: str) -> Any:
    if type(value) is str:
        return [part.strip().lower() for part in value.split(",")]
    return read_strings(value, current, where)


SPAN = schema(Field("start", "start", read_str), Field("end", "end", read_str))


@record
class Span:
    """One time-of-day range of an activation (`times`)."""

    start: str = ""
    end: str = ""


@record
class Template:
    """The user permissions and limits a scoped signing key imposes."""

    pub: Permission = field(default_factory=Permission)
    sub: Permission = field(default_factory=Permission)
    resp: ResponsePermission | None = None
    subs: int = -1
    data: int = -1
    payload: int = -1
    src: list[str] = field(default_factory=list)
    times: list[Span] = field(default_factory=list)
    times_location: str = ""
    allowed_connection_types: list[str] = field(default_factory=list)
    bearer_token: bool = False
    proxy_required: bool = False


TEMPLATE = schema(
    *PERMISSIONS_FIELDS,
    Field("subs", "subs", read_int64),
    Field("data", "data", read_int64),
    Field("payload", "payload", read_int64),
    Field("src", "src", _read_src),
    Field("times", "times", listing(structure(SPAN), fresh=Span)),
    Field("times_location", "times_location", read_str),
    Field("allowed_connection_types", "allowed_connection_types", read_strings),
    Field("bearer_token", "bearer_token", read_bool),
    Field("proxy_required", "proxy_required", read_bool),
)


@record
class _ScopeRead:
    """A signing key entry as read, before it becomes a scope or a plain key."""

    kind: str = ""
    key: str = ""
    role: str = ""
    description: str = ""
    template: Template = field(default_factory=Template)


@record
class Scope:
    """A scoped signing key; the template is type-checked but not validated, held as read."""

    key: str = ""
    role: str = ""
    description: str = ""
    template: Template = field(default_factory=Template)


SCOPE = schema(
    Field("kind", "kind", read_str),
    Field("key", "key", read_str),
    Field("role", "role", read_str),
    Field("description", "description", read_str),
    Field("template", "template", structure(TEMPLATE)),
)


def _scope(value: Any, where: str) -> Scope:
    kinds = [item for name, item in members(value) if name == "kind"]
    if not kinds or kinds[-1] != "user_scope":
        raise DecodeError("unknown signing key scope %!q(<nil>)")
    read = _ScopeRead()
    read_into(_generic(value, where), read, SCOPE, where)
    return Scope(read.key, read.role, read.description, read.template)


def plain(value: Any) -> Any:
    """A parsed JSON value as plain Python (objects as dicts, last member wins), for display."""
    if is_object(value):
        return {name: plain(item) for name, item in members(value)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Number):
        return float(value.text) if value.text.lstrip("-").replace(".", "", 1).isdigit() else value.text
    return value


def signing_keys_reader(v1: bool) -> Any:
    """Keys by their text (plain: None; scoped: its Scope); a repeated member adds to earlier keys."""

    def read(value: Any, current: dict[str, Scope | None], where: str) -> dict[str, Scope | None]:
        if value is None:
            return current
        if type(value) is not list:
            raise type_error(value, where, "[]interface {}")
        out = {} if v1 else dict(current)  # v1 holds a plain list: a repeated member replaces it
        for item in value:
            if type(item) is str:
                out[item] = None
            elif v1:
                out[read_str(item, "", where) or ""] = None
            elif is_object(item):
                scope = _scope(item, where)
                out[scope.key] = scope
        return out

    return read

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

from .gofields import (
    Field,
    listing,
    mapping,
    optional,
    read_bool,
    read_int,
    read_int64,
    read_int64_map,
    read_str,
    read_strings,
    read_uint,
    read_uint8,
    schema,
    structure,
)
from .gojson import DecodeError, Number, is_object, members, type_error
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


def plain(value: Any) -> Any:
    """A parsed JSON value as plain Python (objects as dicts, last member wins), for display."""
    if is_object(value):
        return {name: plain(item) for name, item in members(value)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Number):
        return float(value.text) if value.text.lstrip("-").replace(".", "", 1).isdigit() else value.text
    return value

"""Account, activation and operator claims, and how each JWT version lays them out.

v2 puts every NATS member under `nats`; v1 puts the claim type, tags and `issuer_account` at the top
and knows fewer members (the rest of its `nats` object is ignored without type checks). Both are read
into the same classes, which is the library's v1-to-v2 migration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

from nats_account_server.records import members_of, record

from .claims import (
    AUTHORIZATION,
    EXPORT,
    IMPORT,
    PERMISSIONS,
    PERMISSIONS_FIELDS,
    TRACE,
    V1_LIMITS,
    V2_LIMITS,
    Authorization,
    Export,
    Import,
    JetStreamLimits,
    Limits,
    Permissions,
    Trace,
    WeightedMapping,
    read_export_type,
    read_mappings,
)
from .gofields import (
    Field,
    Reader,
    Schema,
    listing,
    optional,
    read_bool,
    read_int,
    read_int64,
    read_int64_map,
    read_into,
    read_str,
    read_strings,
    read_uint,
    schema,
    structure,
)
from .gojson import Object
from .scopes import SPAN, TEMPLATE, Scope, Span, Template, signing_keys_reader

__all__ = ["V2_NATS_NAMES", "AccountClaims", "ActivationClaims", "Claims", "OperatorClaims", "read_claims"]


@record
class Claims:
    """The registered members every NATS JWT has, plus the claim type and tags."""

    jti: str = ""
    iat: int = 0
    iss: str = ""
    name: str = ""
    sub: str = ""
    exp: int = 0
    nbf: int = 0
    aud: str = ""
    type: str = ""
    tags: list[str] = field(default_factory=list)
    version: int = 0


@record
class AccountClaims(Claims):
    """An account JWT's claims."""

    imports: list[Import | None] = field(default_factory=list)
    exports: list[Export | None] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    signing_keys: dict[str, Scope | None] = field(default_factory=dict)
    revocations: dict[str, int] = field(default_factory=dict)
    default_permissions: Permissions = field(default_factory=Permissions)
    mappings: dict[str, list[WeightedMapping]] = field(default_factory=dict)
    authorization: Authorization = field(default_factory=Authorization)
    trace: Trace | None = None
    cluster_traffic: str = ""
    description: str = ""
    info_url: str = ""


@record
class ActivationClaims(Claims):
    """An activation JWT's claims (a token for one import)."""

    subject: str = ""
    kind: str = ""  # the import type, "" when absent
    issuer_account: str = ""


@record
class OperatorClaims(Claims):
    """An operator JWT's claims."""

    signing_keys: list[str] = field(default_factory=list)
    operator_service_urls: list[str] = field(default_factory=list)
    account_server_url: str = ""
    system_account: str = ""
    assert_server_version: str = ""
    strict_signing_key_usage: bool = False


_REGISTERED = (
    Field("jti", "jti", read_str),
    Field("iat", "iat", read_int64),
    Field("iss", "iss", read_str),
    Field("name", "name", read_str),
    Field("sub", "sub", read_str),
    Field("exp", "exp", read_int64),
    Field("nbf", "nbf", read_int64),
    Field("aud", "aud", read_str),
)
_GENERIC = (
    Field("type", "type", read_str),
    Field("tags", "tags", read_strings),
    Field("version", "version", read_int),
)


def _layout(v2_nats: Schema, v1_nats: Schema, v1_top: tuple[Field, ...] = ()) -> tuple[Schema, Schema]:
    """The top-level schemas of a claim kind: v2 reads `nats` with its generic fields, v1 at the top."""
    v2 = schema(*_REGISTERED, Field("nats", "", read_str, inline=v2_nats))
    v1 = schema(*_REGISTERED, *_GENERIC[:2], *v1_top, Field("nats", "", read_str, inline=v1_nats))
    return v2, v1


_SHARED_ACCOUNT = (
    Field("imports", "imports", listing(optional(Import, IMPORT))),
    Field("exports", "exports", listing(optional(Export, EXPORT))),
    Field("revocations", "revocations", read_int64_map),
)
_ACCOUNT_V2, _ACCOUNT_V1 = _layout(
    schema(
        *_GENERIC,
        *_SHARED_ACCOUNT,
        Field("limits", "limits", structure(V2_LIMITS)),
        Field("signing_keys", "signing_keys", signing_keys_reader(v1=False)),
        Field("default_permissions", "default_permissions", structure(PERMISSIONS)),
        Field("mappings", "mappings", read_mappings),
        Field("authorization", "authorization", structure(AUTHORIZATION)),
        Field("trace", "trace", optional(Trace, TRACE)),
        Field("cluster_traffic", "cluster_traffic", read_str),
        Field("description", "description", read_str),
        Field("info_url", "info_url", read_str),
    ),
    schema(
        *_SHARED_ACCOUNT,
        Field("limits", "limits", structure(V1_LIMITS)),
        Field("signing_keys", "signing_keys", signing_keys_reader(v1=True)),
    ),
    (Field("issuer_account", "", read_str),),
)

_ACTIVATION_V2, _ACTIVATION_V1 = _layout(
    schema(
        *_GENERIC,
        Field("subject", "subject", read_str),
        Field("kind", "kind", read_export_type),
        Field("issuer_account", "issuer_account", read_str),
    ),
    schema(
        Field("subject", "subject", read_str),
        Field("type", "kind", read_export_type),
        Field("max", "", read_int64),
        Field("payload", "", read_int64),
        Field("src", "", read_str),
        Field("times", "", listing(structure(SPAN), fresh=Span)),
    ),
    (Field("issuer_account", "issuer_account", read_str),),
)

_OPERATOR_SHARED = (
    Field("signing_keys", "signing_keys", read_strings),
    Field("account_server_url", "account_server_url", read_str),
    Field("operator_service_urls", "operator_service_urls", read_strings),
    Field("system_account", "system_account", read_str),
)
_OPERATOR_V2, _OPERATOR_V1 = _layout(
    schema(
        *_GENERIC,
        *_OPERATOR_SHARED,
        Field("assert_server_version", "assert_server_version", read_str),
        Field("strict_signing_key_usage", "strict_signing_key_usage", read_bool),
    ),
    schema(*_OPERATOR_SHARED),
)


# ---------------------------------------------------------------- kinds read only for their types
# User and authorization claims are never hosted: their members are read into throwaway structures,
# for the type checks that decide whether the token decodes; only the registered members are kept.
def _checked(fields: Schema, make: Callable[[], Any]) -> Reader:
    """A member read only for its type checks (null and absent: nothing to check)."""

    def read(value: Any, current: Any, where: str) -> Any:
        if value is not None:
            read_into(value, make(), fields, where)
        return current

    return read


def _shape(name: str) -> Callable[[], Any]:
    """A target for check-only members, named as the structure in type errors."""
    return type(name, (), {"__slots__": ()})


@record
class _UserRead(Template):
    """The `nats` object of a user JWT: permissions and limits as in a scope template, and more."""

    issuer_account: str = ""
    max: int = 0
    type: str = ""
    tags: list[str] = field(default_factory=list)
    version: int = 0


def _only(*fields: Field) -> Schema:
    return schema(*(Field(f.name, "", f.read) for f in fields))


_USER_V2 = schema(
    *_REGISTERED,
    Field(
        "nats",
        "",
        _checked(
            schema(*_GENERIC, *TEMPLATE.values(), Field("issuer_account", "issuer_account", read_str)),
            _UserRead,
        ),
    ),
)
_USER_V1_NATS = schema(
    *PERMISSIONS_FIELDS,
    *(
        TEMPLATE[name]
        for name in ("subs", "data", "payload", "src", "times", "times_location", "bearer_token")
    ),
    Field("max", "max", read_int64),
)
_USER_V1 = schema(
    *_REGISTERED,
    *_GENERIC[:2],
    Field("issuer_account", "", read_str),
    Field("nats", "", _checked(_USER_V1_NATS, _UserRead)),
)

_STRINGS_LIST = listing(read_strings)
_SERVER_ID = _only(*(Field(n, "", read_str) for n in ("name", "host", "id", "version", "cluster", "xkey")))
_SERVER_ID["tags"] = Field("tags", "", read_strings)
_CLIENT_INFO = _only(
    *(
        Field(n, "", read_str)
        for n in ("host", "user", "name", "name_tag", "kind", "type", "mqtt_id", "nonce")
    ),
    Field("id", "", read_uint),
    Field("tags", "", read_strings),
)
_CONNECT_OPTS = _only(
    *(
        Field(n, "", read_str)
        for n in ("jwt", "nkey", "sig", "auth_token", "user", "pass", "name", "lang", "version")
    ),
    Field("protocol", "", read_int),
)
_CLIENT_TLS = _only(
    *(Field(n, "", read_str) for n in ("version", "cipher", "server_name")),
    Field("certs", "", read_strings),
    Field("verified_chains", "", _STRINGS_LIST),
)
_AUTH_REQUEST = schema(
    *_REGISTERED,
    Field(
        "nats",
        "",
        _checked(
            _only(
                *_GENERIC,
                Field("server_id", "", _checked(_SERVER_ID, _shape("ServerID"))),
                Field("user_nkey", "", read_str),
                Field("client_info", "", _checked(_CLIENT_INFO, _shape("ClientInformation"))),
                Field("connect_opts", "", _checked(_CONNECT_OPTS, _shape("ConnectOptions"))),
                Field("client_tls", "", _checked(_CLIENT_TLS, _shape("ClientTLS"))),
                Field("request_nonce", "", read_str),
            ),
            _shape("AuthorizationRequest"),
        ),
    ),
)
_AUTH_RESPONSE = schema(
    *_REGISTERED,
    Field(
        "nats",
        "",
        _checked(
            _only(*_GENERIC, *(Field(n, "", read_str) for n in ("jwt", "error", "issuer_account"))),
            _shape("AuthorizationResponse"),
        ),
    ),
)

_LAYOUTS: dict[str, tuple[type[Claims], Schema, Schema]] = {
    "account": (AccountClaims, _ACCOUNT_V2, _ACCOUNT_V1),
    "activation": (ActivationClaims, _ACTIVATION_V2, _ACTIVATION_V1),
    "operator": (OperatorClaims, _OPERATOR_V2, _OPERATOR_V1),
    "user": (Claims, _USER_V2, _USER_V1),
    "authorization_request": (Claims, _AUTH_REQUEST, _AUTH_REQUEST),  # one layout whatever the version
    "authorization_response": (Claims, _AUTH_RESPONSE, _AUTH_RESPONSE),
}


#: Every member name a v2 `nats` object of a hosted kind knows, as written (lowercase: none folds
#: onto another).
V2_NATS_NAMES = frozenset(
    name for layout in (_ACCOUNT_V2, _ACTIVATION_V2, _OPERATOR_V2) for name in layout["nats"].inline or {}
)


def read_claims(payload: Object, kind: str, version: int) -> Claims:
    """Typed claims of a known kind from the parsed payload, in the layout of `version` (user and
    authorization claims: their registered members, the rest only type-checked)."""
    cls, v2, v1 = _LAYOUTS[kind]
    claims = cls()
    read_into(payload, claims, v1 if version == 1 else v2, "claims")
    if cls is Claims:  # a kind read only for its types: what it is comes from the identification
        claims.type, claims.version = kind, version
        return claims
    if isinstance(claims, AccountClaims) and claims.limits.tiered_limits:
        # the library resets the flat JetStream limits once any tier exists
        for member in members_of(JetStreamLimits):
            setattr(claims.limits, member.name, getattr(_NO_JETSTREAM, member.name))
    if version == 1:
        claims.version = 1
    return claims


_NO_JETSTREAM = JetStreamLimits()

"""The text of GET /jwt/v1/help (written for this server; same bytes on every call)."""

HELP = """
# NATS Account Server JWT API HELP

All routes answer plain HTTP/1.1. Boolean query parameters are enabled only by the value
`true` (any letter case); `1` or `yes` leave them off. Errors come back as text/plain, one line.

## GET /healthz  (also HEAD)
200 with an empty body while the server runs.

## GET /readyz  (also HEAD)
200 when the store is usable and a replica's initial import is done, else 503 with
Retry-After: 1. The body is `ready` or `not ready`, then one `<part>: <state>` line per part
(store, replica import, nats). The NATS connection is only counted with nats=true.

## GET /metrics
The server's metrics in the Prometheus text format.

## GET /jwt/v1/accounts  and  GET /jwt/v1/accounts/
The resolver probe nats-server sends at startup: 200, empty body, never cached; 503 while a
replica's initial import runs.

## GET /jwt/v1/accounts/<account public key>
Returns the account JWT (Content-Type application/jwt) with
  ETag: "<jti>"   and   Cache-Control: max-age=<seconds until exp, 0 without exp>,
  stale-while-revalidate=3600, stale-if-error=3600
If-None-Match containing the quoted jti answers 304 with no body.
Parameters (highest precedence first):
  text=true    the raw JWT as text/plain (no ETag, no check, no notify)
  decode=true  header, claims and signature in readable form (dates added to iat/exp,
               embedded import tokens decoded); not valid JSON on purpose
  check=true   404 with an empty body when the JWT has expired
  notify=true  also publish the JWT on $SYS.ACCOUNT.<key>.CLAIMS.UPDATE
  jti=<id>     501: lookup by jti is not supported
404 when no JWT is known for the key; 500 when the stored JWT does not decode.

## POST /jwt/v1/accounts/<account public key>
Body: the account JWT (as `nsc push` sends it). Only on a writable, non-replica server
(405 otherwise, saying why and where to push). The JWT must be an account JWT for that key,
signed by the operator or one of its signing keys, not expired and not yet-to-become valid,
else 400 with the reason (without an operator configured, every upload is refused); 409 when a
JWT with a newer iat is stored; 413 when the body is too large; 200 on success, after which
nats-servers are notified on $SYS.ACCOUNT.<key>.CLAIMS.UPDATE. With a signing service
configured, a self-signed JWT is forwarded to it: 200 when it returns a signed JWT, 202 with its
message when signing happens later.
With wait=<ms> (an integer, at most 10000 is waited; anything else is a 400), the notification
carries a reply subject and the answer (application/json) tells which running nats-servers
answered it within that time: how many confirmed the new jti, which do not have the account
loaded, and each refusal with the server's reason.

## GET /jwt/v1/accounts/<account public key>/status?wait=<ms>
JSON: the stored jti and, for each nats-server that has the account loaded (asked on
$SYS.REQ.ACCOUNT.<key>.INFO, for up to wait ms, default 1000), the jti it runs and whether that
is current; up_to_date is true when every server answered and runs the stored jti. 400 for a bad
key or wait, 404 when no JWT is stored, 503 without a NATS connection.

## DELETE /jwt/v1/accounts/<account public key>
Body: a delete request, the JWT `nsc push --prune` sends on $SYS.REQ.CLAIMS.DELETE (generic
claims with nats.accounts, signed by the operator or a signing key, subject = issuer), naming
this account (and maybe more). Only with store { allow_delete: true } on a writable,
non-replica server (405 otherwise, saying why and where). 200 `deleted N accounts`; 400 for a
refused request (the reason); 404 when a named account is not stored (nothing is deleted).
Soft by default (<key>.jwt.deleted kept), hard_delete: true removes the JWT; either way a copy
of the deleted JWT is never stored again, a newer one is. The request is then forwarded on
$SYS.REQ.CLAIMS.DELETE to the nats-servers.

## GET /jwt/v1/list/accounts  and  GET /jwt/v1/list/activations
JSON {"accounts" (or "activations"): [{"key", "jti", "iat", "exp", "name"}...], "next"}, in
key order; limit=<1..10000> (default 1000) entries after after=<key>; pass "next" as after
for the next page (null on the last one).

## GET /jwt/v1/activations/<hash>
Returns an activation JWT stored under its hash; supports text, decode, notify and
If-None-Match like the accounts route (check is ignored); 404 "No Matching JWT" when unknown.

## POST /jwt/v1/activations
Body: an activation JWT. Stored under its hash and published on
$SYS.ACCOUNT.<issuer>.CLAIMS.ACTIVATE.<hash>. 400 for a bad, expired or incomplete token.
The hash: take the exported subject, cut it at its first `*` or `>` token (a subject that
starts with a wildcard becomes `_`), join issuer, subject account and the cut subject with
dots, then encode the SHA-256 of that text in base32 with padding (56 characters).

## GET /jwt/v1/pack?max=<n>
Every stored JWT as `<key>|<jwt>` lines (replicas import this). max defaults to and may not
exceed the configured maximum pack size; a non-integer max is 400.

## GET /jwt/v1/operator
The configured operator JWT (404 when none); text=true and decode=true as above.

## GET /jwt/v1/help
This page.
"""

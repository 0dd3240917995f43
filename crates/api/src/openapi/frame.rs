//! What every operation of the document shares, and what the router's layers add to each: the document's
//! `info`, its tags, the `bearer` security scheme, the response headers and the shared answers (`components`).
//!
//! Written here as the document's own JSON, since it is prose about the API as a whole rather than about one
//! handler; [`super::document`] adds it to the generated operations and declares, per operation, which of the
//! shared answers it can give (from the router's table: its access, whether it is a command, whether it takes a body).

use serde_json::{json, Value};

/// `openapi`, `info`, `tags`, `security` and the shared `components` (no `paths`, no schemas of types).
pub(super) fn frame() -> Value {
    let problem = json!({ "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } });
    let answer = |description: &str| json!({ "description": description, "content": problem });
    let mut responses = json!({
        "BadRequest": answer("400 `validation`: the request is malformed (a query parameter, path segment, header or \
            JSON body that cannot be parsed, or a NUL or invalid UTF-8 anywhere in its URI)."),
        "PayloadTooLarge": answer("413 `validation`: the body is larger than 64 KiB."),
        "UnsupportedMediaType": answer("415 `validation`: the body is not sent as `Content-Type: application/json`."),
        "InternalError": answer("500 `internal`: an unexpected error; it was logged, its text is not sent."),
        "ServiceUnavailable": answer("503 `unavailable` with `Retry-After`: a dependency cannot answer now (the \
            database, the event store), a read model has not reached `min_position` in time, or the request ran \
            longer than the server's request timeout (30 s by default). Retry after `Retry-After`."),
        "Unauthorized": answer("401 `unauthorized`: no `Authorization: Bearer <key>`, or the key is malformed, \
            unknown or revoked."),
        "Forbidden": answer("403 `forbidden`: the key is valid, but its role may not call this operation (see \
            `x-tally-roles`)."),
        "TooManyRequests": answer("429 `rate-limited`: the key has spent its rate limit; retry after `Retry-After` \
            seconds."),
        "IdempotencyKeyInFlight": answer("409 `idempotency-key-reused` with `Retry-After`: the first request with \
            this `Idempotency-Key` is still in flight."),
        "IdempotencyKeyReused": answer("422 `idempotency-key-reused`: this `Idempotency-Key` was used with another \
            method, path or body."),
    });
    let header = |name: &str| json!({ "$ref": format!("#/components/headers/{name}") });
    responses["ServiceUnavailable"]["headers"] = json!({ "Retry-After": header("Retry-After") });
    responses["IdempotencyKeyInFlight"]["headers"] = json!({ "Retry-After": header("Retry-After") });
    responses["Unauthorized"]["headers"] = json!({ "WWW-Authenticate": header("WWW-Authenticate") });
    responses["TooManyRequests"]["headers"] = json!({
        "Retry-After": header("Retry-After"),
        "RateLimit-Policy": header("RateLimit-Policy"),
        "RateLimit": header("RateLimit"),
    });
    json!({
        "openapi": "3.1.0",
        "info": json_const(INFO),
        "tags": json_const(TAGS),
        "security": [{ "bearer": [] }],
        "paths": {},
        "components": {
            "schemas": {},
            "responses": responses,
            "headers": json_const(HEADERS),
            "securitySchemes": json_const(SECURITY_SCHEMES),
        },
    })
}

fn json_const(text: &str) -> Value {
    serde_json::from_str(text).expect("the frame's JSON")
}

/// The document's `info`: what the API is, and the rules every operation follows.
const INFO: &str = r##"{
    "title": "Tally HTTP API",
    "version": "1",
    "summary": "An event-sourced order and inventory engine: commands, queries over read models, audit of the event log, operations.",
    "description": "JSON over HTTP. Every error is RFC 9457 `application/problem+json` with a stable `type` (`/problems/<kind>`; `GET` it for a description), and never carries internal error text. Any path the API does not serve is a 404 `not-found` problem; a known path with a method it does not take is a 405 `validation` problem.\n\n**Access.** Every operation but `/healthz`, `/readyz`, `/openapi.json` and `/problems/{kind}` needs an API key, sent as `Authorization: Bearer <key>` (the `bearer` security scheme; the public operations say `security: []`). Each key has one role: `storefront` (products, stock of a SKU, one order; place, pay and cancel orders), `operations` (the catalog, stock, every order command, every query, `/metrics`), `analyst` (every query and analytics endpoint), `auditor` (the queries and the audit API) or `admin` (everything, `/v1/keys` included). Each operation lists the roles that may call it in `x-tally-roles` (in the order storefront, operations, analyst, auditor, admin) and in its description; public operations have no `x-tally-roles`: they need no key at all. No key, a malformed, unknown or revoked one: 401 `unauthorized` with `WWW-Authenticate: Bearer`; a key whose role may not call the operation: 403 `forbidden`; a key that cannot be checked right now (the database is unreachable): 503 `unavailable` with `Retry-After`.\n\n**Rate limits** are per key and per node, by role (by default 20000 requests/s for storefront, operations and admin, 2000/s for analyst and auditor; `TALLY_RATE_LIMITS` overrides them). Every answer to a key whose role may call the operation carries `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers; documented on each successful response and on the 429, but present on the operation's error answers too); a key over its limit gets 429 `rate-limited` with `Retry-After`.\n\n**Actor.** The events a request causes record the key as `actor` (`apikey-{uuid}`) and its name as `actor_name`; `X-Actor` only says on whose behalf the client acts and is recorded as `claimed_actor`.\n\n**Commands** (`POST /v1/...` of products, inventory, orders and keys) take an optional `Idempotency-Key`, `X-Actor`, `X-Request-Id` and `traceparent`; commands on an existing stream take `If-Match`. Their responses carry `ETag` (the stream version), `Tally-Position` (the global position of the last event appended) and `X-Request-Id`. Bodies are JSON of at most 64 KiB; unknown fields are refused.\n\n**Queries** (`GET /v1/...` over read models) accept `min_position=` or `Tally-Min-Position` (read-your-writes: wait until the read models applied that position, at most 5 s, then 503 with `Retry-After`; a position beyond the log's head, which no command answered with, is 400 at once). Lists are cursor-paginated (`limit`, `cursor`; `next_cursor` in the body) and answer `text/csv` when `Accept` prefers it.\n\n**Audit** endpoints read the event store itself, never read models."
}"##;

/// The tags that group the operations.
const TAGS: &str = r##"[
    {
        "name": "commands",
        "description": "State changes: each appends events to the event store."
    },
    {
        "name": "queries",
        "description": "Read models (eventually consistent; see `min_position`)."
    },
    {
        "name": "audit",
        "description": "The event log as recorded: streams, the global log, history, point in time, verification, digests, export."
    },
    {
        "name": "keys",
        "description": "API keys: issue, list, read and revoke them (role `admin`). The secret is shown once, when the key is issued."
    },
    {
        "name": "webhooks",
        "description": "Webhook subscriptions (role `admin`): each event of the log POSTed, in order, to a URL, signed as Standard Webhooks 1.0 says (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The signing secret is shown once, when the subscription is made or its secret rotated."
    },
    {
        "name": "ops",
        "description": "Liveness, readiness, metrics, this document, problem types."
    }
]"##;

/// The headers answers carry (each operation names those it sends).
const HEADERS: &str = r##"{
    "ETag": {
        "schema": {
            "type": "string"
        },
        "description": "The stream's version after the command, as a strong ETag (`\"0\"` for a stream's first event). Send it as `If-Match`."
    },
    "Tally-Position": {
        "schema": {
            "type": "integer",
            "minimum": 0
        },
        "description": "The global log position of the last event appended (absent when the command appended nothing, e.g. a repeat). Pass it as `min_position` to read your writes."
    },
    "X-Request-Id": {
        "schema": {
            "type": "string"
        },
        "description": "The request id: the client's `X-Request-Id` when usable, else a new UUIDv7. On every answer."
    },
    "Idempotency-Replayed": {
        "schema": {
            "const": "true"
        },
        "description": "Present on a response replayed for a repeated `Idempotency-Key`."
    },
    "Retry-After": {
        "schema": {
            "type": "integer",
            "minimum": 0
        },
        "description": "Seconds to wait before retrying."
    },
    "Tally-Next-Cursor": {
        "schema": {
            "type": "string"
        },
        "description": "CSV pages: the next page's cursor (absent on the last page)."
    },
    "Link": {
        "schema": {
            "type": "string"
        },
        "description": "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to the next page's (absent on the last page)."
    },
    "RateLimit-Policy": {
        "schema": {
            "type": "string"
        },
        "description": "The key's rate-limit policy, named after its role: `\"<role>\";q=<quota>;w=<window seconds>` (draft-ietf-httpapi-ratelimit-headers), e.g. `\"storefront\";q=20000;w=1`.",
        "example": "\"storefront\";q=20000;w=1"
    },
    "RateLimit": {
        "schema": {
            "type": "string"
        },
        "description": "What is left of the policy: `\"<role>\";r=<requests that would pass now>;t=<seconds until the whole quota is back>`. On a 429, `r` is 0 and `t` equals `Retry-After`. Limits are per node.",
        "example": "\"storefront\";r=19999;t=1"
    },
    "WWW-Authenticate": {
        "schema": {
            "type": "string"
        },
        "description": "`Bearer realm=\"tally\"` when no key was sent; `Bearer realm=\"tally\", error=\"invalid_token\"` when the one sent is malformed, unknown or revoked (RFC 6750)."
    }
}"##;

/// How a caller authenticates: an API key as a bearer token.
const SECURITY_SCHEMES: &str = r##"{
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `tally_` followed by 38 base62 characters (32 random, then a 6-character checksum), sent as `Authorization: Bearer <key>`. Get one from the command line, `tally keys create --role <role> --name <name>` (the secret is printed once), or with an `admin` key, `POST /v1/keys` `{\"name\", \"role\"}` (the `secret` is in that answer only). The roles: `storefront`, `operations`, `analyst`, `auditor`, `admin`; each operation's `x-tally-roles` lists those it accepts. Revoke a key with `tally keys revoke` or `POST /v1/keys/{id}/revocation`; a revoked key is refused (401) on every node within about a second."
    }
}"##;

//! API keys over HTTP, for the `admin` role: issue, list, read, revoke.
//!
//! - `POST /v1/keys` `{"name", "role"}` -> 201 with the key and its `secret`, shown this once (Tally keeps only its
//!   hash). It takes no `Idempotency-Key` (400): a repeat would have to answer the secret again, so the secret
//!   would have to be stored with the key's answer. A client that lost the answer revokes the key it cannot see
//!   (`GET /v1/keys` lists them) and issues another.
//! - `GET /v1/keys[?limit=&cursor=]` -> `{"items": [...], "next_cursor"}`, oldest first; `GET /v1/keys/{id}`.
//!   Never the secret or its hash.
//! - `POST /v1/keys/{id}/revocation` -> 200 with the key, revoked. Final; a second revocation records nothing.

use super::dto;
use super::headers::{command_response, IfMatch, RequestMeta};
use crate::auth::issue::{issue_key, IssueError};
use crate::auth::{Access, ApiRoutes, KeyRecord};
use crate::error::{internal, unavailable};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::IDEMPOTENCY_KEY;
use crate::openapi::schemas;
use crate::problem::{Problem, ProblemKind};
use crate::queries::{page_in_memory, ListBody, PageParams, PageQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tally_domain::{ApiKeyId, Role};
use tracing::instrument;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .route(Access::Keys, routes!(create, list))
        .route(Access::Keys, routes!(one))
        .command(Access::Keys, routes!(revoke))
}

/// A key to issue. Unknown fields are refused (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateApiKey)]
struct CreateKey {
    /// What the key is for (e.g. `web shop`): trimmed, 1 to 100 characters, no control characters (else 422).
    /// Shown in listings and recorded as `actor_name` on the events the key causes.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "web shop")]
    name: String,
    #[schema(value_type = schemas::Role)]
    role: String,
}

/// A key just issued: the key and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IssuedApiKey)]
struct IssuedBody {
    #[serde(flatten)]
    key: KeyRecord,
    /// The key to send as `Authorization: Bearer <secret>`. Shown in this answer only: Tally keeps its hash, never
    /// the secret. Lost, it cannot be recovered: revoke the key and issue another.
    #[schema(pattern = "^tally_[0-9A-Za-z]{38}$", example = "tally_4qZ0dF8kLmN2pR7sT1vW3xY5zA9bC6eG0h2J4k")]
    secret: String,
}

/// The name the keys list's cursors carry (a cursor of another list is refused).
const KEYS_LIST: &str = "keys";

/// Issue an API key
///
/// Issues a key with a name and a role. Answers 201 with the key and its `secret`, shown this once (Tally keeps only
/// its hash). Takes no `Idempotency-Key` (400): a repeat would have to answer the secret again. A client that lost
/// the answer revokes the key it cannot use (`GET /v1/keys` lists them) and issues another.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", operation_id = "createApiKey",
    params(RequestMeta),
    request_body = CreateKey,
    responses(
        (status = 201, description = "Issued.", body = IssuedBody, headers(
            ("ETag" = String, description = "The key's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the key's issue."),
            ("Location" = String, description = "`/v1/keys/{id}`"))),
        (status = 422, description = "422 `validation`: the name or the role breaks a rule (`field` names it), or the \
            body does not fit the schema.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    meta: RequestMeta,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<Response, Problem> {
    if headers.contains_key(&IDEMPOTENCY_KEY) {
        return Err(Problem::new(
            ProblemKind::Validation,
            "POST /v1/keys takes no Idempotency-Key: the secret is shown once and never stored, so a repeat could not \
             answer it",
        )
        .with_status(StatusCode::BAD_REQUEST));
    }
    meta.refuse_if_match()?;
    let role: Role = body.role.parse().map_err(|error| dto::invalid("role", error))?;
    let issued =
        issue_key(&state.pool, &state.commands, &meta.context, body.name, role).await.map_err(|e| match e {
            IssueError::Command(error) => Problem::from(error),
            IssueError::Database(error) => unavailable("storing the key", &error),
            IssueError::Random(error) => internal(&error),
        })?;
    let key = record(&state, issued.key_id).await?;
    let location = format!("/v1/keys/{}", issued.key_id);
    let body = IssuedBody { key, secret: issued.secret };
    let outcome = &issued.outcome;
    Ok(command_response(StatusCode::CREATED, outcome.version, outcome.position, Some(location), &body))
}

/// List API keys
///
/// Every key, revoked ones included, oldest first; never a secret or its hash. Read from the log up to its head, so
/// a key just issued or revoked through any node is listed as it is.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", operation_id = "listApiKeys",
    params(PageParams),
    responses(
        (status = 200, description = "A page of keys.", body = ListBody<KeyRecord>),
        (status = 422, description = "422 `validation`: `limit` is out of range, or `cursor` is not one from \
            `next_cursor`.", body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
async fn list(State(state): State<AppState>, ApiQuery(query): ApiQuery<PageQuery>) -> Result<Response, Problem> {
    let keys = state.keys.list().await.map_err(|error| unavailable("reading the keys", &error))?;
    Ok(Json(page_in_memory(KEYS_LIST, query, keys, |key| key.id)?).into_response())
}

/// Get an API key
///
/// One key; never its secret or its hash.
#[utoipa::path(get, path = "/v1/keys/{id}", tag = "keys", operation_id = "getApiKey",
    params(("id" = uuid::Uuid, Path, description = "The API key id (not its secret).",
        example = "0193a5b2-7c1e-7d4a-9f00-4c2b1e8d6a02")),
    responses(
        (status = 200, description = "The key.", body = KeyRecord),
        (status = 404, description = "404 `not-found`: no key has this id (or it is not a UUID).", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(api_key.id = %id))]
async fn one(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, Problem> {
    let key_id = key_id(&id)?;
    Ok(Json(record(&state, key_id).await?).into_response())
}

/// Revoke an API key
///
/// Revokes a key, for good: every node refuses it (401) within about a second. Answers 200 with the key, revoked.
/// Revoking a revoked key records nothing and answers the same (without `Tally-Position`).
#[utoipa::path(post, path = "/v1/keys/{id}/revocation", tag = "keys", operation_id = "revokeApiKey",
    params(("id" = uuid::Uuid, Path, description = "The API key id (not its secret).",
        example = "0193a5b2-7c1e-7d4a-9f00-4c2b1e8d6a02"), RequestMeta, IfMatch),
    request_body(content = Option<Revocation>, description = "May be left out (an empty or whitespace-only body means \
        `{}`); when present, it must be JSON (else 415)."),
    responses(
        (status = 200, description = "Revoked.", body = KeyRecord, headers(
            ("ETag" = String, description = "The key's stream version, as a strong ETag."),
            ("Tally-Position" = u64, description = "The global log position of the revocation (absent when the key \
                was revoked already)."))),
        (status = 404, description = "404 `not-found`: no key has this id (or it is not a UUID).", body = Problem,
            content_type = "application/problem+json"),
        (status = 412, description = "412 `version-conflict`: the key is not at the version given in `If-Match`.",
            body = Problem, content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(api_key.id = %id))]
async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    dto::OptionalJson(_revocation): dto::OptionalJson<Revocation>,
) -> Result<Response, Problem> {
    let key_id = key_id(&id)?;
    let outcome = state.commands.revoke_api_key(&meta.context, key_id, meta.if_match).await?;
    let key = record(&state, key_id).await?;
    Ok(command_response(StatusCode::OK, outcome.version, outcome.position, None, &key))
}

/// An empty object (the body may also be left out).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RevocationRequest)]
struct Revocation {}

fn key_id(id: &str) -> Result<ApiKeyId, Problem> {
    ApiKeyId::parse(id).map_err(|_| Problem::new(ProblemKind::NotFound, format!("no API key with id {id:?}")))
}

/// The key as the registry knows it once it has read the log's head.
async fn record(state: &AppState, key_id: ApiKeyId) -> Result<KeyRecord, Problem> {
    match state.keys.get(key_id).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(Problem::new(ProblemKind::NotFound, format!("no API key with id {key_id}"))),
        Err(error) => Err(unavailable("reading the keys", &error)),
    }
}

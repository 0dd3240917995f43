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
use super::headers::{command_response, RequestMeta};
use crate::auth::issue::{issue_key, IssueError};
use crate::auth::{Access, ApiRoutes, KeyRecord};
use crate::error::{internal, unavailable};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::idempotency::{idempotent, IDEMPOTENCY_KEY};
use crate::problem::{Problem, ProblemKind};
use crate::queries::{page_request, ListBody};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tally_domain::{ApiKeyId, Role};
use tracing::instrument;

pub(super) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .post("/v1/keys", Access::Keys, create)
        .get("/v1/keys", Access::Keys, list)
        .get("/v1/keys/{id}", Access::Keys, one)
        .post("/v1/keys/{id}/revocation", Access::Keys, idempotent(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    role: String,
}

/// A key just issued: the record and, this once, the secret.
#[derive(Debug, Serialize)]
struct IssuedBody {
    #[serde(flatten)]
    key: KeyRecord,
    secret: String,
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

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

#[instrument(skip_all)]
async fn list(State(state): State<AppState>, ApiQuery(query): ApiQuery<ListQuery>) -> Result<Response, Problem> {
    let page = page_request(query.limit, query.cursor)?;
    let after = match page.cursor.as_deref() {
        Some(cursor) => {
            Some(ApiKeyId::parse(cursor).map_err(|_| dto::invalid("cursor", "not a cursor from next_cursor"))?)
        }
        None => None,
    };
    let keys = state.keys.list().await.map_err(|error| unavailable("reading the keys", &error))?;
    let limit = page.limit as usize;
    let mut items: Vec<KeyRecord> = keys.into_iter().filter(|key| after.is_none_or(|after| key.id > after)).collect();
    let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.to_string());
    items.truncate(limit);
    Ok(Json(ListBody { items, next_cursor }).into_response())
}

#[instrument(skip_all, fields(api_key.id = %id))]
async fn one(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, Problem> {
    let key_id = key_id(&id)?;
    Ok(Json(record(&state, key_id).await?).into_response())
}

#[instrument(skip_all, fields(api_key.id = %id))]
async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiPath(id): ApiPath<String>,
    dto::OptionalJson(_): dto::OptionalJson<Revocation>,
) -> Result<Response, Problem> {
    let key_id = key_id(&id)?;
    let outcome = state.commands.revoke_api_key(&meta.context, key_id, meta.if_match).await?;
    let key = record(&state, key_id).await?;
    Ok(command_response(StatusCode::OK, outcome.version, outcome.position, None, &key))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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

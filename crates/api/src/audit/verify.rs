//! Proof that the history was not altered, over HTTP: hash-chain verification (`GET /v1/audit/verify`), taking
//! and recording a digest (`GET /v1/audit/digest`, `POST /v1/audit/digests`), listing them (`GET
//! /v1/audit/digests`, `GET /v1/audit/digests/{id}`) and checking the store against one (`POST|GET
//! /v1/audit/digests/{id}/verification`). The work is done by the store (`verify_*`, `tally_store::digest`) and
//! `tally_audit` (recorded digests, the verification report); this module only shapes the answers.

use super::params;
use super::schemas::{DigestCheckDoc, DigestSummaryDoc, VerificationDoc};
use super::{bad_parameter, limit, not_found, store_problem};
use crate::openapi::parameter;
use crate::problem::Problem;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tally_audit::digests::{self, DigestSummary, RecordedDigest};
use tally_audit::verify::VerificationView;
use tally_store::digest::{compute_digest, verify_against};
use tracing::instrument;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};

/// Digests per page of `GET /v1/audit/digests`: by default, and at most.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 500;

/// The query string of `GET /v1/audit/verify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyQuery {
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    stream: Option<String>,
}

impl IntoParams for VerifyQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![params::text("stream", "Only this stream (404 if it does not exist).")]
    }
}

/// Verify hash chains
///
/// Recomputes every stream's hash chain (or one stream's) and reports every broken place. Only `stream` is
/// accepted (another parameter: 400).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", operation_id = "verifyChains",
    params(VerifyQuery),
    responses(
        (status = 200, description = "The verification (see `intact`).", body = VerificationDoc),
        (status = 404, description = "404 `not-found`: `stream` names no stream.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
pub(super) async fn verify_chains(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<VerifyQuery>,
) -> Result<Response, Problem> {
    let verification = match query.stream.as_deref() {
        Some(stream) => {
            let verification = state.store.verify_stream(stream).await.map_err(|e| store_problem(&e))?;
            if verification.streams_checked == 0 {
                return Err(not_found(format!("there is no stream {stream:?}")));
            }
            verification
        }
        None => state.store.verify_all(&tally_store::no_progress).await.map_err(|e| store_problem(&e))?,
    };
    if !verification.is_intact() {
        tracing::warn!(breaks = verification.breaks.len(), "hash-chain verification found breaks");
    }
    Ok(Json(VerificationView::from(&verification)).into_response())
}

fn database_problem(error: &sqlx::Error) -> Problem {
    crate::error::unavailable("the audit digest table", error)
}

async fn record_now(state: &AppState) -> Result<RecordedDigest, Problem> {
    let digest = compute_digest(state.store.as_ref()).await.map_err(|e| store_problem(&e))?;
    let recorded = digests::record_digest(&state.pool, &digest).await.map_err(|e| database_problem(&e))?;
    tracing::info!(digest.id = recorded.id, position = digest.position, root = %digest.root, "digest recorded");
    Ok(recorded)
}

/// Take a digest
///
/// Computes a digest of the store now, records it, and answers it without its leaves. Not safe: each call records
/// a digest (as `POST /v1/audit/digests` does).
#[utoipa::path(get, path = "/v1/audit/digest", tag = "audit", operation_id = "takeDigest",
    responses((status = 200, description = "The digest recorded.", body = DigestSummaryDoc)))]
#[instrument(skip_all)]
pub(super) async fn take_digest(State(state): State<AppState>) -> Result<Response, Problem> {
    let recorded = record_now(&state).await?;
    Ok(Json(DigestSummary::from(&recorded)).into_response())
}

/// Record a digest
///
/// Computes a digest of the store now and records it. Takes no body (one sent is ignored, but counts in the
/// `Idempotency-Key` fingerprint). With an `Idempotency-Key`, a repeat answers the first digest and records no
/// other; without one, each call records a new digest.
#[utoipa::path(post, path = "/v1/audit/digests", tag = "audit", operation_id = "recordDigest",
    responses(
        (status = 201, description = "The digest recorded.", body = DigestSummaryDoc, headers(
            ("Location" = String, description = "`/v1/audit/digests/{id}`"))),
    ))]
#[instrument(skip_all)]
pub(super) async fn take_digest_created(State(state): State<AppState>) -> Result<Response, Problem> {
    let recorded = record_now(&state).await?;
    let location = format!("/v1/audit/digests/{}", recorded.id);
    let headers = [(axum::http::header::LOCATION, location)];
    Ok((StatusCode::CREATED, headers, Json(DigestSummary::from(&recorded))).into_response())
}

/// Recorded digests, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DigestPage)]
struct DigestList {
    #[schema(value_type = Vec<DigestSummaryDoc>)]
    items: Vec<DigestSummary>,
    /// The last item's id, when the page is full (pass it as `cursor`); else `null`.
    #[schema(required = true, pattern = "^[0-9]{1,19}$")]
    next_cursor: Option<String>,
}

/// The query string of `GET /v1/audit/digests`: `limit`, and `cursor` (a digest id: the page starts below it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    limit: Option<u64>,
    cursor: Option<u64>,
}

impl IntoParams for ListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            params::limit(LIST_DEFAULT, LIST_MAX),
            params::position("cursor", "A `next_cursor`: only digests with a lower id."),
        ]
    }
}

/// List digests
///
/// Recorded digests, newest first. Only `limit` and `cursor` are accepted (another: 400).
#[utoipa::path(get, path = "/v1/audit/digests", tag = "audit", operation_id = "listDigests",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of digests.", body = DigestList),
        (status = 422, description = "422 `validation`: `limit` is out of range.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    let limit = limit(query.limit, LIST_DEFAULT, LIST_MAX)?;
    let before = query.cursor.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let limit_i64 = i64::try_from(limit).unwrap_or(500);
    let items = digests::list_digests(&state.pool, before, limit_i64).await.map_err(|e| database_problem(&e))?;
    let next_cursor = items.last().filter(|_| items.len() == limit).map(|last| last.id.to_string());
    Ok(Json(DigestList { items, next_cursor }).into_response())
}

async fn load(state: &AppState, id: i64) -> Result<RecordedDigest, Problem> {
    match digests::load_digest(&state.pool, id).await.map_err(|e| database_problem(&e))? {
        Some(recorded) => Ok(recorded),
        None => Err(not_found(format!("there is no digest {id}"))),
    }
}

/// The query string of `GET /v1/audit/digests/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OneQuery {
    leaves: Option<bool>,
}

impl IntoParams for OneQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(json!({
            "name": "leaves", "in": "query", "schema": crate::openapi::or_empty(json!({"type": "boolean", "default": false})),
            "description": "Include the leaves (`true` or `false`, else 400).",
        }))]
    }
}

/// A recorded digest's id, as a path parameter.
pub(super) struct DigestId;

impl IntoParams for DigestId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(json!({
            "name": "id", "in": "path",
            "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX},
            "description": "The digest id.", "example": 1,
        }))]
    }
}

/// One digest: a `DigestSummary`, or with `leaves=true` a `Digest` (the summary's members and `leaves`).
pub(super) struct DigestAnswer;

impl utoipa::PartialSchema for DigestAnswer {
    fn schema() -> RefOr<Schema> {
        crate::openapi::schema(json!({
            "anyOf": [
                {"$ref": "#/components/schemas/DigestSummary"},
                {"$ref": "#/components/schemas/Digest"},
            ]
        }))
    }
}

impl ToSchema for DigestAnswer {}

/// Get a digest
///
/// One recorded digest; with `leaves=true`, with every stream head it covers. Only `leaves` is accepted (another
/// parameter: 400).
#[utoipa::path(get, path = "/v1/audit/digests/{id}", tag = "audit", operation_id = "getDigest",
    params(DigestId, OneQuery),
    responses(
        (status = 200, description = "The digest: a `DigestSummary`, or a `Digest` with `leaves=true`.",
            body = inline(DigestAnswer)),
        (status = 404, description = "404 `not-found`: no such digest.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(digest.id = id))]
pub(super) async fn one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<OneQuery>,
) -> Result<Response, Problem> {
    let recorded = load(&state, id).await?;
    if query.leaves == Some(true) {
        return Ok(Json(recorded).into_response());
    }
    Ok(Json(DigestSummary::from(&recorded)).into_response())
}

/// Check the store against a digest
///
/// Recomputes every stream head as of the digest's position and compares it with the recorded digest: `intact`,
/// and the streams that differ (missing, truncated, rewritten, extended, unexpected). `GET` and `POST` do the same
/// and record nothing.
#[utoipa::path(get, path = "/v1/audit/digests/{id}/verification", tag = "audit", operation_id = "checkDigest",
    params(DigestId),
    responses(
        (status = 200, description = "The check (see `intact`).", body = DigestCheckDoc),
        (status = 404, description = "404 `not-found`: no such digest.", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub(super) async fn check(state: State<AppState>, id: ApiPath<i64>) -> Result<Response, Problem> {
    check_digest(state, id).await
}

/// Check the store against a digest (POST)
///
/// Recomputes every stream head as of the digest's position and compares it with the recorded digest: `intact`,
/// and the streams that differ (missing, truncated, rewritten, extended, unexpected). `GET` and `POST` do the same
/// and record nothing. With an `Idempotency-Key`, a repeat answers the first check's response again instead of
/// checking anew. (Two operations, so that each has its own `operationId`.)
#[utoipa::path(post, path = "/v1/audit/digests/{id}/verification", tag = "audit", operation_id = "checkDigestPost",
    params(DigestId),
    responses(
        (status = 200, description = "The check (see `intact`).", body = DigestCheckDoc),
        (status = 404, description = "404 `not-found`: no such digest.", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub(super) async fn check_post(state: State<AppState>, id: ApiPath<i64>) -> Result<Response, Problem> {
    check_digest(state, id).await
}

/// Recomputes every stream head as of the digest's position and compares.
#[instrument(skip_all, fields(digest.id = id))]
async fn check_digest(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<Response, Problem> {
    if id <= 0 {
        return Err(bad_parameter("a digest id is a positive integer"));
    }
    let recorded = load(&state, id).await?;
    let check = verify_against(state.store.as_ref(), &recorded.digest, &|_| {}).await;
    let check = check.map_err(|e| store_problem(&e))?;
    if !check.intact {
        tracing::warn!(differences = check.differences.len(), "the store differs from a recorded digest");
    }
    Ok(Json(check).into_response())
}

//! Proof that the history was not altered, over HTTP: hash-chain verification (`GET /v1/audit/verify`), taking
//! and recording a digest (`GET /v1/audit/digest`, `POST /v1/audit/digests`), listing them (`GET
//! /v1/audit/digests`, `GET /v1/audit/digests/{id}`) and checking the store against one (`POST|GET
//! /v1/audit/digests/{id}/verification`). The work is done by the store (`verify_*`, `tally_store::digest`) and
//! `tally_audit` (recorded digests, the verification report); this module only shapes the answers.

use super::{bad_parameter, limit, not_found, store_problem};
use crate::problem::Problem;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tally_audit::digests::{self, DigestSummary, RecordedDigest};
use tally_audit::verify::VerificationView;
use tally_store::digest::{compute_digest, verify_against};
use tracing::instrument;

/// The query string of `GET /v1/audit/verify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyQuery {
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    stream: Option<String>,
}

/// `GET /v1/audit/verify[?stream=]`: every stream's hash chain (or one stream's), with every broken place.
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

/// `GET /v1/audit/digest`: computes a digest of the store now, records it, answers it (without its leaves).
#[instrument(skip_all)]
pub(super) async fn take_digest(State(state): State<AppState>) -> Result<Response, Problem> {
    let recorded = record_now(&state).await?;
    Ok(Json(DigestSummary::from(&recorded)).into_response())
}

/// `POST /v1/audit/digests`: the same, answered 201.
#[instrument(skip_all)]
pub(super) async fn take_digest_created(State(state): State<AppState>) -> Result<Response, Problem> {
    let recorded = record_now(&state).await?;
    let location = format!("/v1/audit/digests/{}", recorded.id);
    let headers = [(axum::http::header::LOCATION, location)];
    Ok((StatusCode::CREATED, headers, Json(DigestSummary::from(&recorded))).into_response())
}

#[derive(Debug, Serialize)]
struct DigestList {
    items: Vec<DigestSummary>,
    next_cursor: Option<String>,
}

/// The query string of `GET /v1/audit/digests`: `limit`, and `cursor` (a digest id: the page starts below it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    limit: Option<u64>,
    cursor: Option<u64>,
}

/// `GET /v1/audit/digests?limit=&cursor=`: recorded digests, newest first.
#[instrument(skip_all)]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    let limit = limit(query.limit, 50, 500)?;
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

/// `GET /v1/audit/digests/{id}[?leaves=true]`: one digest, with every stream head it covers when asked.
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

/// `POST /v1/audit/digests/{id}/verification`: recomputes every stream head as of the digest's position and
/// compares; `intact` and the streams that differ (missing, truncated, rewritten, extended, unexpected).
#[instrument(skip_all, fields(digest.id = id))]
pub(super) async fn check(State(state): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<Response, Problem> {
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

//! The auditor's side of the API: everything here is read from the event store itself, never from read models, so
//! it shows what was recorded, by whom and when, and proves that it was not altered.
//!
//! - `log`: `GET /v1/streams/{stream_id}/events` and `GET /v1/events` (the global log after a position).
//! - `tail`: the live tail as Server-Sent Events (`GET /v1/events/stream`, or `/v1/events?follow=true`).
//! - `history`: `GET /v1/orders/{id}/history` and point-in-time state (`as_of=` / `at_version=`).
//! - `verify`: `GET /v1/audit/verify` (hash chains) and the digest endpoints.
//! - `export`: `GET /v1/export` (JSON lines or CloudEvents, streamed page by page), and the query strings of the
//!   log's readers.
//! - `params`, `schemas`: the OpenAPI side: the query parameters the readers share, and the schemas of what the
//!   audit API answers with the store's own types (`RecordedEvent`, `DigestCheck`, ...). Each handler declares its
//!   operation with `#[utoipa::path]`.
//!
//! The work is `tally_audit`'s (history and point-in-time folds, recorded digests, export lines, verification
//! reports), shared with the `tally` CLI's `verify`, `digest` and `export`; this module is the HTTP side.
//!
//! Query strings are typed (`ApiQuery<...>` of a `#[serde(deny_unknown_fields)]` struct per endpoint, as the
//! queries have them): an unknown parameter or a value that does not parse is 400 `validation`.

mod export;
mod history;
mod log;
mod params;
mod schemas;
mod tail;
#[cfg(test)]
mod tests;
mod verify;

pub(crate) use history::{inventory_at, order_at};
pub(crate) use tally_audit::history::PointInTime;

use crate::auth::{Access, ApiRoutes};
use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::http::StatusCode;
use tally_store::StoreError;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

/// The audit routes that answer a page (or open the tail of `/v1/events?follow=true`, whose head comes at once):
/// under the request timeout like every other route.
pub(crate) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .route(Access::Audit, routes!(log::stream_events))
        .route(Access::Audit, routes!(log::global_log))
        .route(Access::Audit, routes!(history::order_history))
        .route(Access::Audit, routes!(verify::list))
        .route(Access::Audit, with_schemas(routes!(verify::one), [schemas::named::<schemas::DigestDoc>()]))
}

/// The audit routes routed outside the request timeout ([`crate::layers`]): the live tail and the export stream
/// for as long as the client reads, and verification and digests read the whole log before they answer, which
/// takes as long as the log is long.
pub(crate) fn whole_log_routes(routes: ApiRoutes) -> ApiRoutes {
    let export_lines = [schemas::named::<schemas::RecordedEventDoc>(), schemas::named::<schemas::CloudEventDoc>()];
    routes
        .route(Access::Audit, routes!(tail::live_tail))
        .route(Access::Audit, with_schemas(routes!(export::export), export_lines))
        .route(Access::Audit, routes!(verify::verify_chains))
        .route(Access::Audit, routes!(verify::take_digest))
        .command(Access::Audit, routes!(verify::take_digest_created))
        // The GET and the POST do the same; the idempotency layer acts on the POST only.
        .command(Access::Audit, routes!(verify::check, verify::check_post))
}

/// `routes` with schemas no handler's types name (a response's lines, a member of an `anyOf` written as JSON), so
/// the document holds them.
fn with_schemas<const N: usize>(
    (mut schemas, paths, router): UtoipaMethodRouter<AppState>,
    extra: [Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>; N],
) -> UtoipaMethodRouter<AppState> {
    schemas.extend(extra.into_iter().flatten());
    (schemas, paths, router)
}

/// A store failure as a problem: unavailable backends are 503 with `Retry-After`, anything else a 500. The
/// cause is logged, never sent.
pub(crate) fn store_problem(error: &StoreError) -> Problem {
    if error.is_unavailable() {
        tracing::warn!(error = %crate::error::cause_chain(error), "reading the event store failed");
        Problem::new(ProblemKind::Unavailable, "the event store cannot be read now; retry shortly").with_retry_after(1)
    } else {
        crate::error::internal(error)
    }
}

/// A `validation` problem for a bad query parameter (400: the request itself is malformed).
pub(crate) fn bad_parameter(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::Validation, detail).with_status(StatusCode::BAD_REQUEST)
}

/// A `not-found` problem.
pub(crate) fn not_found(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::NotFound, detail)
}

/// `limit` between 1 and `max` (`default` when absent): 422 outside.
pub(crate) fn limit(limit: Option<u64>, default: usize, max: usize) -> Result<usize, Problem> {
    let limit = limit.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX));
    if !(1..=max).contains(&limit) {
        return Err(Problem::new(ProblemKind::Validation, format!("limit must be between 1 and {max}")));
    }
    Ok(limit)
}

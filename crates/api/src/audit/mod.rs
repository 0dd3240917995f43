//! The auditor's side of the API: everything here is read from the event store itself, never from read models, so
//! it shows what was recorded, by whom and when, and proves that it was not altered.
//!
//! - `log`: `GET /v1/streams/{stream_id}/events` and `GET /v1/events` (the global log after a position).
//! - `tail`: the live tail as Server-Sent Events (`GET /v1/events/stream`, or `/v1/events?follow=true`).
//! - [`history`](mod@history): `GET /v1/orders/{id}/history` and point-in-time state (`as_of=` / `at_version=`).
//! - `verify`: `GET /v1/audit/verify` (hash chains) and the digest endpoints.
//! - [`digests`]: recording and loading digests (`audit_digests`); the digest itself is `tally_store::digest`.
//! - [`export`]: the log as JSON lines or CloudEvents, streamed page by page (`GET /v1/export`, `tally export`).
//!
//! Library functions the CLI calls are public: [`export::export_lines`], [`digests::record_digest`],
//! [`digests::load_digest`], [`digests::list_digests`], and `tally_store::digest::{compute_digest, digest_at,
//! verify_against}`.

pub mod digests;
pub mod export;
pub mod history;
mod log;
mod tail;
#[cfg(test)]
mod tests;
mod verify;

pub use digests::{list_digests, load_digest, record_digest, DigestSummary, RecordedDigest};
pub use export::{cloud_event, export_lines, ExportFormat, LogRange};
pub use history::{history, state_at, PointInTime};
pub use verify::{BreakView, VerificationView};

use crate::auth::{Access, ApiRoutes};
use crate::idempotency::idempotent;
use crate::problem::{Problem, ProblemKind};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use tally_store::StoreError;

/// The audit routes that answer a page (or open the tail of `/v1/events?follow=true`, whose head comes at once):
/// under the request timeout like every other route.
pub(crate) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .get("/v1/streams/{stream_id}/events", Access::Audit, log::stream_events)
        .get("/v1/events", Access::Audit, log::global_log)
        .get("/v1/orders/{id}/history", Access::Audit, history::order_history)
        .get("/v1/audit/digests", Access::Audit, verify::list)
        .get("/v1/audit/digests/{id}", Access::Audit, verify::one)
}

/// The audit routes routed outside the request timeout ([`crate::layers`]): the live tail and the export stream
/// for as long as the client reads, and verification and digests read the whole log before they answer, which
/// takes as long as the log is long.
pub(crate) fn whole_log_routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .get("/v1/events/stream", Access::Audit, tail::live_tail)
        .get("/v1/export", Access::Audit, export::export)
        .get("/v1/audit/verify", Access::Audit, verify::verify_chains)
        .get("/v1/audit/digest", Access::Audit, verify::take_digest)
        .post("/v1/audit/digests", Access::Audit, idempotent(verify::take_digest_created))
        .post("/v1/audit/digests/{id}/verification", Access::Audit, idempotent(verify::check))
        .get("/v1/audit/digests/{id}/verification", Access::Audit, verify::check)
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

/// Query parameters as name/value pairs, so a name may repeat (`event_type=A&event_type=B`).
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    /// Refuses any parameter not in `known`.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), Problem> {
        match self.0.iter().find(|(name, _)| !known.contains(&name.as_str())) {
            Some((name, _)) => Err(bad_parameter(format!("unknown query parameter {name:?}"))),
            None => Ok(()),
        }
    }

    /// The last value of `name`, if given and not empty.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma lists split.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        let values = self.0.iter().filter(|(n, _)| n == name).flat_map(|(_, v)| v.split(','));
        values.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
    }

    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, Problem> {
        self.text(name)
            .map(|text| {
                text.parse::<u64>().map_err(|_| bad_parameter(format!("{name} must be a non-negative integer")))
            })
            .transpose()
    }

    pub(crate) fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, Problem> {
        self.text(name)
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| bad_parameter(format!("{name} must be an RFC 3339 time, e.g. 2026-11-21T12:00:00Z")))
            })
            .transpose()
    }

    pub(crate) fn flag(&self, name: &str) -> Result<bool, Problem> {
        match self.text(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(bad_parameter(format!("{name} must be true or false"))),
        }
    }

    /// `limit` between 1 and `max` (default `default`).
    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, Problem> {
        let limit = self.number("limit")?.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX));
        if !(1..=max).contains(&limit) {
            return Err(Problem::new(ProblemKind::Validation, format!("limit must be between 1 and {max}")));
        }
        Ok(limit)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Params {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Problem> {
        let crate::ApiQuery(pairs) = crate::ApiQuery::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
        Ok(Params(pairs))
    }
}

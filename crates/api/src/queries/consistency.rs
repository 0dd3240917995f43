//! Read-your-writes for every query: `min_position=` (or the `Tally-Min-Position` header) names a log position
//! (a command's `Tally-Position`), and the query waits until the read models it reads have applied it.
//!
//! Implemented once, as the [`MinPosition`] extractor plus [`MinPosition::wait`], which each handler calls with
//! the projections it reads before it reads them. The wait is bounded by [`MAX_WAIT`]: past it the answer is
//! 503 `unavailable` with `Retry-After`, and a projection stopped on a poison event before the position is a
//! 503 naming it (waiting would not help; an operator must retry or rebuild it).
//!
//! A position beyond the log's head was never given by any command (a command answers only once its events are
//! committed, and every node reads the same log), so no wait can reach it: it is a client error, 400
//! `validation`, answered at once with the head (docs/decisions.md, 2026-12-04).

use crate::openapi::parameter;
use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use tally_projections::{ProjectionError, ReadModel};

/// How long a query waits for its read models to reach the requested position.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(5);
/// The `Retry-After` of a query that waited in vain, in seconds.
pub(crate) const RETRY_AFTER_SECS: u32 = 1;
/// The header twin of `min_position=`.
pub(crate) const MIN_POSITION_HEADER: &str = "tally-min-position";

/// The position a query must observe, if the client named one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MinPosition(pub Option<u64>);

/// `min_position` and its header twin, for `#[utoipa::path(params(MinPosition, ...))]`.
impl utoipa::IntoParams for MinPosition {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let position = crate::openapi::or_empty(json!({"type": "integer", "format": "int64", "minimum": 0}));
        vec![
            parameter(json!({
                "name": "min_position", "in": "query", "schema": position,
                "description": "Read-your-writes: wait (at most 5 s) until the read models this query reads have \
                    applied this log position (a command's `Tally-Position`), else 503 `unavailable` with \
                    `Retry-After: 1`. A position beyond the log's head (one no command answered with) is 400 \
                    `validation` at once, with the `head`. With `Tally-Min-Position` too, the larger one counts."
            })),
            parameter(json!({
                "name": "Tally-Min-Position", "in": "header", "schema": position,
                "description": "The header twin of `min_position`."
            })),
        ]
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The handler's own query type reads the other parameters; this one only `min_position`.
        #[derive(Deserialize)]
        struct Query {
            min_position: Option<String>,
        }
        let query: Query = crate::extract::parse_query(parts.uri.query().unwrap_or_default())?;
        // Empty, like any optional number of the API (`crate::extract::ApiQuery`): as if absent.
        let from_query = query.min_position.filter(|value| !value.is_empty());
        let from_query = from_query.map(|value| parse(&value, "min_position")).transpose()?;
        let from_header = parts.headers.get(MIN_POSITION_HEADER).filter(|value| !value.is_empty());
        let from_header =
            from_header.map(|value| parse(value.to_str().unwrap_or(""), "Tally-Min-Position")).transpose()?;
        // Both given: the later one is what the client needs.
        Ok(MinPosition(from_query.max(from_header)))
    }
}

fn parse(value: &str, name: &str) -> Result<u64, Problem> {
    value.trim().parse().map_err(|_| {
        Problem::new(ProblemKind::Validation, format!("{name} must be a log position (a non-negative integer)"))
            .with_status(StatusCode::BAD_REQUEST)
    })
}

impl MinPosition {
    /// Waits until every projection in `models` has applied the requested position (at once when none was
    /// requested), for at most [`MAX_WAIT`].
    pub(crate) async fn wait(self, state: &AppState, models: &[ReadModel]) -> Result<(), Problem> {
        let Some(position) = self.0 else { return Ok(()) };
        // Usually the read models are there already: one look at their checkpoints answers. Only a position not
        // applied yet costs a read of the head, to tell one the log never gave from one still on its way.
        let mut outcome = state.projector.wait_for_position(models, position, Duration::ZERO).await;
        if matches!(outcome, Ok(false)) {
            refuse_beyond_head(state, position).await?;
            outcome = state.projector.wait_for_position(models, position, MAX_WAIT).await;
        }
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => {
                let names: Vec<&str> = models.iter().map(|model| model.name()).collect();
                Err(Problem::new(
                    ProblemKind::Unavailable,
                    format!("the read models have not reached position {position} yet; retry shortly"),
                )
                .with_extension("min_position", json!(position))
                .with_extension("projections", json!(names))
                .with_retry_after(RETRY_AFTER_SECS))
            }
            Err(ProjectionError::Failed { name, position: failed_at, .. }) => Err(Problem::new(
                ProblemKind::Unavailable,
                format!("projection {name} stopped at position {failed_at} before reaching position {position}"),
            )
            .with_extension("min_position", json!(position))
            .with_extension("failed_projection", json!(name))
            .with_extension("failed_position", json!(failed_at))
            .with_retry_after(RETRY_AFTER_SECS)),
            Err(error) => {
                tracing::error!(error = %error, "waiting for a read-model position failed");
                Err(Problem::new(ProblemKind::Unavailable, "the read models' positions could not be read")
                    .with_retry_after(RETRY_AFTER_SECS))
            }
        }
    }
}

/// 400 when `position` is beyond the log's head (see the module doc). When the head cannot be read, the wait that
/// follows reports the outage.
async fn refuse_beyond_head(state: &AppState, position: u64) -> Result<(), Problem> {
    match state.store.head_position().await {
        Ok(head) if position > head => Err(Problem::new(
            ProblemKind::Validation,
            format!("min_position {position} is beyond the log's head ({head}): no command answered with it"),
        )
        .with_status(StatusCode::BAD_REQUEST)
        .with_extension("min_position", json!(position))
        .with_extension("head", json!(head))),
        _ => Ok(()),
    }
}

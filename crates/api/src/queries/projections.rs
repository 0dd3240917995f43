//! `GET /v1/projections`: each projection's position, lag (in events and seconds), state, holder and failure,
//! for operators and for clients deciding how fresh the read models are.

use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use tally_projections::ProjectionStatus;
use tracing::instrument;

/// The body: the log's head and every projection's status.
#[derive(Debug, Serialize)]
pub(crate) struct ProjectionsBody {
    /// The log's head position when the status was taken.
    pub head: u64,
    pub items: Vec<ProjectionStatus>,
}

/// `GET /v1/projections`.
#[instrument(skip_all)]
pub(crate) async fn status(State(state): State<AppState>) -> Result<Json<ProjectionsBody>, Problem> {
    let items = state.projector.status().await.map_err(|error| {
        tracing::warn!(error = %error, "projection status unreadable");
        Problem::new(ProblemKind::Unavailable, "the projections' status could not be read").with_retry_after(1)
    })?;
    let head = items.iter().map(|status| status.head).max().unwrap_or(0);
    Ok(Json(ProjectionsBody { head, items }))
}

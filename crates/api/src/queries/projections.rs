//! `GET /v1/projections`: each projection's position, lag (in events and seconds), state, holder and failure,
//! for operators and for clients deciding how fresh the read models are; and the other followers of the log
//! (the order process): state, checkpoint, holder, failure.

use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use tally_projections::{FollowerStatus, ProjectionStatus};
use tracing::instrument;

/// The body: the log's head and every projection's status.
#[derive(Debug, Serialize)]
pub(crate) struct ProjectionsBody {
    /// The log's head position when the status was taken.
    pub head: u64,
    pub items: Vec<ProjectionStatus>,
    /// The followers of the log that are not read models (the order process).
    pub followers: Vec<FollowerStatus>,
}

/// `GET /v1/projections`.
#[instrument(skip_all)]
pub(crate) async fn status(State(state): State<AppState>) -> Result<Json<ProjectionsBody>, Problem> {
    let unreadable = |error: tally_projections::ProjectionError| {
        tracing::warn!(error = %error, "projection status unreadable");
        Problem::new(ProblemKind::Unavailable, "the projections' status could not be read").with_retry_after(1)
    };
    let items = state.projector.status().await.map_err(unreadable)?;
    let followers = state.projector.other_followers().await.map_err(unreadable)?;
    let head = items.iter().map(|status| status.head).max().unwrap_or(0);
    Ok(Json(ProjectionsBody { head, items, followers }))
}

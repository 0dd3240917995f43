//! `GET /v1/projections`: each projection's position, lag (in events and seconds), state, holder and failure,
//! for operators and for clients deciding how fresh the read models are; and the other followers of the log
//! (the order process): state, checkpoint, holder, failure.
//!
//! The statuses are the projector's ([`tally_projections::ProjectionStatus`], [`FollowerStatus`]), shown through
//! views of their own, so the document describes what is served.

use crate::problem::{Problem, ProblemKind};
use crate::{ApiQuery, AppState};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_projections::{FollowerStatus, Interruption, ProjectionFailure, ProjectionState, ProjectionStatus};
use tracing::instrument;
use utoipa::ToSchema;

/// The body: the log's head and every projection's status.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ProjectionsStatus)]
pub(crate) struct ProjectionsBody {
    /// The log's head position when the status was taken.
    pub head: u64,
    pub items: Vec<ProjectionStatusView>,
    /// The followers of the log that are not read models (the order process, `order-process`; the NATS relay,
    /// `nats-relay`): state, stored checkpoint (it resumes reading after it; the order process keeps it below the
    /// oldest order it has not seen decided), lag, holder and failure.
    pub followers: Vec<FollowerStatusView>,
}

/// One projection's status.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ProjectionStatus)]
pub(crate) struct ProjectionStatusView {
    #[schema(value_type = ReadModelName)]
    pub name: String,
    pub state: StateView,
    /// Every event up to this position is applied.
    pub position: u64,
    /// The log's head when the status was taken.
    pub head: u64,
    /// `head - position`: positions not yet examined (events of every stream, including those the projection does
    /// not read).
    pub lag_events: u64,
    /// How long the oldest event still to apply has waited, in seconds (0 when caught up).
    #[schema(minimum = 0)]
    pub lag_seconds: f64,
    /// The runner holding the lease, while it is held.
    #[schema(required = true)]
    pub holder: Option<String>,
    #[schema(required = true)]
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The poison event it stopped on, when `state` is `failed`.
    #[schema(required = true)]
    pub failure: Option<FailureView>,
    /// The error that last interrupted it (a lost connection, ...): it retried and a runner took its lease again
    /// after it. `null`: none recorded.
    #[schema(required = true)]
    pub last_interruption: Option<InterruptionView>,
}

/// The status of a follower of the log that is not a read model.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FollowerStatus)]
pub(crate) struct FollowerStatusView {
    /// The follower: `order-process`, `nats-relay`, or `webhook-{id}` (a webhook subscription's sender).
    pub name: String,
    pub state: StateView,
    /// The stored checkpoint: the follower resumes reading after this position.
    pub position: u64,
    /// `head - position`: positions after the checkpoint (for `nats-relay`, events not yet acknowledged by NATS).
    pub lag_events: u64,
    /// The runner holding the lease, while it is held.
    #[schema(required = true)]
    pub holder: Option<String>,
    #[schema(required = true)]
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The poison event it stopped on, when `state` is `failed`.
    #[schema(required = true)]
    pub failure: Option<FailureView>,
    /// The error that last interrupted it (a lost connection, NATS unreachable, ...): it retried with backoff and
    /// a runner took its lease again after it. Compare `at` with `updated_at` to see whether it is moving since.
    /// `null`: none recorded.
    #[schema(required = true)]
    pub last_interruption: Option<InterruptionView>,
}

/// The error that last interrupted a follower.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FollowerInterruption)]
pub(crate) struct InterruptionView {
    pub error: String,
    pub at: DateTime<Utc>,
}

impl From<Interruption> for InterruptionView {
    fn from(interruption: Interruption) -> Self {
        InterruptionView { error: interruption.error, at: interruption.at }
    }
}

/// Whether a follower is moving: `running` (a runner holds the lease), `failed` (stopped on a poison event) or
/// `idle` (no runner holds the lease).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FollowerState)]
pub(crate) enum StateView {
    Running,
    Failed,
    Idle,
}

/// The poison event a follower stopped on.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ProjectionFailure)]
pub(crate) struct FailureView {
    /// The event it stopped on.
    pub position: u64,
    pub error: String,
    #[schema(required = true)]
    pub failed_at: Option<DateTime<Utc>>,
}

/// The read models' names.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // Documents `ProjectionStatusView::name` (`tally_projections::ReadModel::name`).
pub(crate) enum ReadModelName {
    Products,
    Inventory,
    Orders,
    Sales,
}

impl From<ProjectionState> for StateView {
    fn from(state: ProjectionState) -> Self {
        match state {
            ProjectionState::Running => StateView::Running,
            ProjectionState::Failed => StateView::Failed,
            ProjectionState::Idle => StateView::Idle,
        }
    }
}

impl From<ProjectionFailure> for FailureView {
    fn from(failure: ProjectionFailure) -> Self {
        FailureView { position: failure.position, error: failure.error, failed_at: failure.failed_at }
    }
}

impl From<ProjectionStatus> for ProjectionStatusView {
    fn from(status: ProjectionStatus) -> Self {
        ProjectionStatusView {
            name: status.name,
            state: status.state.into(),
            position: status.position,
            head: status.head,
            lag_events: status.lag_events,
            lag_seconds: status.lag_seconds,
            holder: status.holder,
            heartbeat_at: status.heartbeat_at,
            updated_at: status.updated_at,
            failure: status.failure.map(FailureView::from),
            last_interruption: status.last_interruption.map(InterruptionView::from),
        }
    }
}

impl From<FollowerStatus> for FollowerStatusView {
    fn from(status: FollowerStatus) -> Self {
        FollowerStatusView {
            name: status.name,
            state: status.state.into(),
            position: status.position,
            lag_events: status.lag_events,
            holder: status.holder,
            heartbeat_at: status.heartbeat_at,
            updated_at: status.updated_at,
            failure: status.failure.map(FailureView::from),
            last_interruption: status.last_interruption.map(InterruptionView::from),
        }
    }
}

/// The query string: none (another parameter is a 400).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}

/// Projection status
///
/// Each projection's position, lag, state, lease holder and failure, and the log's head: how fresh the read models
/// are. Also the other followers of the log (the order process).
#[utoipa::path(get, path = "/v1/projections", tag = "queries", operation_id = "getProjections",
    responses(
        (status = 200, description = "The status.", body = ProjectionsBody),
        (status = 503, description = "503 `unavailable` with `Retry-After`: the status could not be read.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all)]
pub(crate) async fn status(
    State(state): State<AppState>,
    ApiQuery(_query): ApiQuery<NoQuery>,
) -> Result<Json<ProjectionsBody>, Problem> {
    let unreadable = |error: tally_projections::ProjectionError| {
        tracing::warn!(error = %error, "projection status unreadable");
        Problem::new(ProblemKind::Unavailable, "the projections' status could not be read").with_retry_after(1)
    };
    let statuses = state.projector.status().await.map_err(unreadable)?;
    let followers = state.projector.other_followers().await.map_err(unreadable)?;
    let head = statuses.iter().map(|status| status.head).max().unwrap_or(0);
    let items = statuses.into_iter().map(ProjectionStatusView::from).collect();
    let followers = followers.into_iter().map(FollowerStatusView::from).collect();
    Ok(Json(ProjectionsBody { head, items, followers }))
}

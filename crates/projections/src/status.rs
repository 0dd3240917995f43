//! Projection status for operators (`/v1/projections`, `/metrics`, the `/readyz` body): each projection's position,
//! lag, state and holder.
//!
//! The state comes from two facts: a recorded failure (`failed`), and whether some session holds the
//! projection's lease right now (`running`, else `idle`: no runner has it, so it is not moving).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::instrument;

use crate::checkpoint;
use crate::error::ProjectionError;
use crate::lease;
use crate::models::ReadModel;
use crate::runner::Projector;

/// Whether a projection is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionState {
    /// A runner holds the lease and follows the log.
    Running,
    /// Stopped on a poison event (see [`ProjectionStatus::failure`]) until it is rebuilt or retried.
    Failed,
    /// No runner holds the lease: nothing applies new events.
    Idle,
}

/// The event a projection stopped on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectionFailure {
    pub position: u64,
    pub error: String,
    pub failed_at: Option<DateTime<Utc>>,
}

/// The error that last interrupted a follower: it retried, and a runner took the lease again after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interruption {
    pub error: String,
    pub at: DateTime<Utc>,
}

/// One projection's status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionStatus {
    pub name: String,
    pub state: ProjectionState,
    /// Every event up to this position is applied.
    pub position: u64,
    /// The log's head when the status was taken.
    pub head: u64,
    /// `head - position`: positions not yet examined. On PostgreSQL positions are contiguous, so this counts
    /// events (of every stream, including those the projection does not read).
    pub lag_events: u64,
    /// How long the oldest event this projection still has to apply has been waiting (0 when caught up).
    pub lag_seconds: f64,
    /// The runner holding the lease (only while it is held).
    pub holder: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub failure: Option<ProjectionFailure>,
    pub last_interruption: Option<Interruption>,
}

/// The status of a follower of the log that is not a read model (the order process, the NATS relay, each webhook's
/// sender).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowerStatus {
    pub name: String,
    pub state: ProjectionState,
    /// Its stored checkpoint: it resumes reading after this position.
    pub position: u64,
    /// The log's head when the status was taken, less `position`: positions after the checkpoint. For the NATS
    /// relay, the events not yet acknowledged by JetStream; the order process keeps its checkpoint below the
    /// oldest order it has not seen decided, so its figure includes those on purpose.
    pub lag_events: u64,
    /// The runner holding the lease (only while it is held).
    pub holder: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub failure: Option<ProjectionFailure>,
    pub last_interruption: Option<Interruption>,
}

impl Projector {
    /// The status of each of this projector's projections, in [`ReadModel::ALL`] order.
    #[instrument(skip_all)]
    pub async fn status(&self) -> Result<Vec<ProjectionStatus>, ProjectionError> {
        let models = self.models();
        checkpoint::ensure_rows(self.pool(), models).await?;
        let head = self.store().head_position().await?;
        let rows = checkpoint::read_rows(self.pool(), models).await?;
        let now = Utc::now();
        let mut statuses = Vec::with_capacity(models.len());
        for &model in models {
            let Some(row) = rows.iter().find(|row| row.name == model.name()) else { continue };
            let held = lease::is_held(self.pool(), model.name()).await?;
            let position = row.position();
            let lag_seconds = if position < head { self.oldest_pending_age(model, position, now).await? } else { 0.0 };
            let (state, failure) = state_of(row, held);
            statuses.push(ProjectionStatus {
                name: row.name.clone(),
                state,
                position,
                head,
                lag_events: head.saturating_sub(position),
                lag_seconds,
                holder: if held { row.holder.clone() } else { None },
                heartbeat_at: row.heartbeat_at,
                updated_at: row.updated_at,
                failure,
                last_interruption: interruption(row),
            });
        }
        Ok(statuses)
    }

    /// The followers of the log that are not read models (the order process, the NATS relay), as their
    /// checkpoint rows and leases say: name, state, checkpoint, lag in positions, holder, failure.
    #[instrument(skip_all)]
    pub async fn other_followers(&self) -> Result<Vec<FollowerStatus>, ProjectionError> {
        let head = self.store().head_position().await?;
        let names: Vec<&str> = ReadModel::ALL.iter().map(|model| model.name()).collect();
        let rows = checkpoint::rows_other_than(self.pool(), &names).await?;
        let mut statuses = Vec::with_capacity(rows.len());
        for row in rows {
            let held = lease::is_held(self.pool(), &row.name).await?;
            let (state, failure) = state_of(&row, held);
            statuses.push(FollowerStatus {
                last_interruption: interruption(&row),
                position: row.position(),
                lag_events: head.saturating_sub(row.position()),
                holder: if held { row.holder.clone() } else { None },
                name: row.name,
                state,
                heartbeat_at: row.heartbeat_at,
                updated_at: row.updated_at,
                failure,
            });
        }
        Ok(statuses)
    }

    /// Seconds since the first event after `position` that `model` reads was recorded (0 if there is none).
    async fn oldest_pending_age(
        &self,
        model: ReadModel,
        position: u64,
        now: DateTime<Utc>,
    ) -> Result<f64, ProjectionError> {
        let slice = self.store().read_all(position, 1, &model.filter()).await?;
        let Some(event) = slice.events.first() else { return Ok(0.0) };
        let waited = now.signed_duration_since(event.recorded_at);
        Ok((waited.num_milliseconds().max(0) as f64) / 1000.0)
    }
}

/// The error that last interrupted the follower, if one did.
fn interruption(row: &checkpoint::CheckpointRow) -> Option<Interruption> {
    Some(Interruption { error: row.last_error.clone()?, at: row.last_error_at? })
}

/// A follower's state and failure, from its checkpoint row and whether its lease is held.
fn state_of(row: &checkpoint::CheckpointRow, held: bool) -> (ProjectionState, Option<ProjectionFailure>) {
    let failure =
        row.failure().map(|(position, error)| ProjectionFailure { position, error, failed_at: row.failed_at });
    let state = match (&failure, held) {
        (Some(_), _) => ProjectionState::Failed,
        (None, true) => ProjectionState::Running,
        (None, false) => ProjectionState::Idle,
    };
    (state, failure)
}

//! Tally's projector runtime (checkpoints, batching, leases, rebuild) and the read models it maintains.
//!
//! Projectors follow the global log through the [`tally_store::EventStore`] port (so the log may live in
//! PostgreSQL or KurrentDB) and write read models to PostgreSQL (migrations/0002_read_models.sql, described for
//! analysts in docs/read-models.md). Each projection applies batches of events and moves its checkpoint in the
//! same transaction, so every event takes effect exactly once, whatever crashes in between.
//!
//! Entry points, all on [`Projector`]: [`Projector::run`] (every projection of this process until shutdown),
//! [`Projector::status`], [`Projector::wait_for_position`] (read-your-writes), [`Projector::retry`] (resume a
//! projection stopped on a poison event) and [`Projector::rebuild`] (replay into fresh tables, swap them in).
//!
//! # Layout
//!
//! - [`runner`]: the `Projector` and its `ProjectorOptions`: run, wait for a position, retry.
//! - [`follower`]: the `Follower` trait every reader of the log implements (each read model, the order process)
//!   and [`follower::follow`], which runs one under a lease from its checkpoint.
//! - `worker`: one follower's loop: lease, read a batch, apply it, wait for news; poison handling.
//! - `batch`: one batch in one transaction, fenced by the checkpoint row; isolating a poison event.
//! - `checkpoint`: the `projections` table (checkpoints, failures, holders).
//! - `lease`: session advisory locks, so one runner at a time processes each projection.
//! - [`status`]: position, lag, state and holder of each projection.
//! - [`rebuild`]: rebuilding without downtime, with progress reports.
//! - [`models`]: the read models (`ReadModel`): products, inventory, orders, sales, each in its own file.
//! - [`visibility`]: how long applied events took from append to visible, per projection (for `/metrics`).
//! - [`read`]: typed, paged (keyset cursors) SQL readers over the read models, for the query API and workers.
//! - [`error`]: `ProjectionError`, and which errors are transient and which make an event poison.

mod batch;
mod checkpoint;
pub mod error;
pub mod follower;
mod lease;
pub mod models;
pub mod read;
pub mod rebuild;
pub mod runner;
pub mod status;
pub mod visibility;
mod worker;

pub use error::ProjectionError;
pub use follower::{follow, keep_alive, move_checkpoint, Applied, Follower};
pub use models::ReadModel;
pub use rebuild::{RebuildPhase, RebuildProgress};
pub use runner::{Projector, ProjectorOptions};
pub use status::{FollowerStatus, Interruption, ProjectionFailure, ProjectionState, ProjectionStatus};

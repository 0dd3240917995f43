//! Followers of the global log: every reader that reacts to events (each read model, the order process) is a
//! [`Follower`], run by the same worker ([`follow`]): one process at a time holds its lease (a session advisory
//! lock), it reads the log after its checkpoint in the `projections` table, applies what it read and moves the
//! checkpoint, and another process takes over within about a second when the holder dies.
//!
//! A follower decides how its effects and its checkpoint commit together: a read model writes both in one
//! transaction (exactly once); a follower whose effects live elsewhere (the order process appends to the event
//! store) applies them idempotently first and moves the checkpoint after (at least once, repeat-safe).

use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;
use std::future::Future;
use std::sync::Arc;
use tally_store::{EventStore, LogFilter, RecordedEvent};
use tokio::sync::watch;

use crate::error::ProjectionError;
use crate::runner::ProjectorOptions;
use crate::worker::Worker;

/// What became of a batch a follower was given.
#[derive(Debug, Clone)]
pub enum Applied {
    /// Applied: read on after this position.
    Through(u64),
    /// The stored checkpoint was not where this runner left it (another holder, or a rebuild's swap, moved it):
    /// nothing was applied; read on from this position.
    Moved(u64),
    /// The event at `position` cannot be applied; every event before it was. The follower stops there until
    /// the failure is cleared.
    Poisoned { position: u64, error: ProjectionError },
}

/// A reader of the global log, run under a lease from a checkpoint (see the module doc).
pub trait Follower: Clone + Send + Sync + 'static {
    /// Its row in `projections` and the name of its lease.
    fn name(&self) -> &str;

    /// Which events of the log it is given.
    fn filter(&self) -> LogFilter;

    /// Called when this runner has just taken the lease, with the stored checkpoint; returns the position to read
    /// after (the checkpoint, unless the follower knows better).
    fn resume(&self, checkpoint: u64) -> impl Future<Output = Result<u64, ProjectionError>> + Send {
        async move { Ok(checkpoint) }
    }

    /// Applies `events` (read after `from`, the log examined up to `to`) and moves the checkpoint.
    fn apply(
        &self,
        conn: &mut PgConnection,
        holder: &str,
        from: u64,
        to: u64,
        events: &[RecordedEvent],
    ) -> impl Future<Output = Result<Applied, ProjectionError>> + Send;

    /// Called after every read of the log, with or without news (at least every poll interval): work that is
    /// due by time rather than by event.
    fn tick(
        &self,
        _conn: &mut PgConnection,
        _holder: &str,
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send {
        async { Ok(()) }
    }
}

/// Runs `follower` until `shutdown` turns true: waits for its lease, follows the log while it holds it, retries
/// lost connections with backoff. `connect`: the database of the checkpoints (and the lease).
pub async fn follow<F: Follower>(
    follower: F,
    store: Arc<dyn EventStore>,
    connect: PgConnectOptions,
    options: ProjectorOptions,
    shutdown: watch::Receiver<bool>,
) {
    let applied = Arc::new(watch::Sender::new(0));
    Worker { follower, store, connect, options, applied }.run(shutdown).await;
}

/// Records that `holder` still holds the lease of `name`, and keeps the lease connection from going idle: for a
/// follower whose `apply` waits a long time without a query (the lease connection is closed after 20 s idle,
/// which frees the lease).
pub async fn keep_alive(conn: &mut PgConnection, name: &str, holder: &str) -> Result<(), ProjectionError> {
    crate::checkpoint::heartbeat(conn, name, holder).await
}

/// Moves the checkpoint of `name` from `expected` to `to` in a transaction of its own, for a follower whose
/// effects are not in that transaction (they are applied, idempotently, before). Fenced like a projection's
/// batch: if the stored checkpoint is not `expected` (another holder moved it), nothing changes and the stored
/// position is returned.
pub async fn move_checkpoint(
    conn: &mut PgConnection,
    name: &str,
    holder: &str,
    expected: u64,
    to: u64,
) -> Result<Option<u64>, ProjectionError> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    let stored = crate::checkpoint::lock(&mut tx, name).await?;
    if stored != expected {
        tx.rollback().await?;
        return Ok(Some(stored));
    }
    crate::checkpoint::advance(&mut tx, name, to, holder).await?;
    tx.commit().await?;
    Ok(None)
}

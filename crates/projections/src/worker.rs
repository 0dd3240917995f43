//! One follower's worker (a projection's, the order process's): wait for the lease, then follow the global log in
//! batches until shutdown, a lost connection (retry with backoff, lease again), or a poison event (record it and
//! stand by).
//!
//! The worker wakes on new events through the store's `wait_for_position_after` (LISTEN/NOTIFY on PostgreSQL, a
//! subscription on KurrentDB), with `poll_interval` as the fallback when a wake-up is missed. Reads are paced
//! (`pace`): under a steady stream of appends it applies one larger batch per interval instead of one small batch
//! per commit.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;
use std::sync::Arc;
use std::time::Instant;
use tally_store::EventStore;
use tokio::sync::watch;
use tracing::{error, info, instrument, warn};

use crate::checkpoint;
use crate::error::{backoff, ProjectionError};
use crate::follower::{Applied, Follower};
use crate::lease;
use crate::runner::ProjectorOptions;

/// Everything a worker needs; cheap to clone per follower.
#[derive(Clone)]
pub(crate) struct Worker<F: Follower> {
    pub(crate) follower: F,
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) connect: PgConnectOptions,
    pub(crate) options: ProjectorOptions,
    /// Bumped after every commit, to wake in-process `wait_for_position` callers early.
    pub(crate) applied: Arc<watch::Sender<u64>>,
}

/// Why following the log ended without an error.
enum Ended {
    Shutdown,
    /// The projection stopped on a poison event: stand by until someone clears the failure.
    Failed,
}

impl<F: Follower> Worker<F> {
    /// Runs until `shutdown` turns true.
    #[instrument(skip_all, fields(projection = %self.follower.name(), holder = %self.options.holder))]
    pub(crate) async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut attempt = 0;
        // The error that ended the last session, recorded once this runner holds the lease again.
        let mut interrupted: Option<(String, DateTime<Utc>)> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.session(&mut shutdown, &mut attempt, &mut interrupted).await {
                Ok(()) => return,
                Err(error) => {
                    attempt += 1;
                    let text = error.describe();
                    warn!(projection = %self.follower.name(), error = %text, attempt, "projector session ended; retrying");
                    interrupted = Some((text, Utc::now()));
                }
            }
            if sleep_or_shutdown(&mut shutdown, backoff(attempt)).await {
                return;
            }
        }
    }

    /// Connects, then over and over: waits until the projection is not failed and the lease is free, takes it,
    /// and processes batches while it holds it. `Ok` on shutdown; `Err` when the connection or the store fails.
    /// `attempt` (the retries since the last progress) is reset once a batch commits.
    async fn session(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        attempt: &mut u32,
        interrupted: &mut Option<(String, DateTime<Utc>)>,
    ) -> Result<(), ProjectionError> {
        let name = self.follower.name();
        let mut conn = lease::connect(&self.connect, name).await?;
        lease::arm_idle_timeouts(&mut conn).await;
        let key = lease::lease_key(name);
        loop {
            loop {
                // A failed projection stays stopped (no holder) until a retry or a rebuild clears the failure.
                let failed = checkpoint::read_row(&mut conn, name).await?.failure().is_some();
                if !failed && lease::try_lock(&mut conn, key).await? {
                    break;
                }
                if sleep_or_shutdown(shutdown, self.options.lease_retry).await {
                    return Ok(());
                }
            }
            info!(projection = %name, holder = %self.options.holder, "lease acquired");
            checkpoint::heartbeat(&mut conn, name, &self.options.holder).await?;
            if let Some((error, at)) = interrupted.take() {
                checkpoint::record_interruption(&mut conn, name, &error, at).await?;
            }
            let ended = self.follow(&mut conn, shutdown, attempt).await?;
            // Hand the lease over at once rather than when the connection closes.
            lease::unlock(&mut conn, key).await?;
            info!(projection = %name, "lease released");
            if let Ended::Shutdown = ended {
                return Ok(());
            }
        }
    }

    /// Applies batches from the checkpoint on, for as long as the lease (the connection) lasts.
    async fn follow(
        &self,
        conn: &mut PgConnection,
        shutdown: &mut watch::Receiver<bool>,
        attempt: &mut u32,
    ) -> Result<Ended, ProjectionError> {
        let name = self.follower.name();
        let filter = self.follower.filter();
        let stored = checkpoint::read_row(conn, name).await?.position();
        let mut position = self.follower.resume(stored).await?;
        let mut last_heartbeat = Instant::now();
        // When the previous read started, and whether it filled a batch (then the next one does not wait).
        let mut last_read: Option<Instant> = None;
        let mut catching_up = false;
        loop {
            if *shutdown.borrow() {
                return Ok(Ended::Shutdown);
            }
            if let (Some(last_read), false) = (last_read, catching_up) {
                let pause = self.options.pace.saturating_sub(last_read.elapsed());
                if !pause.is_zero() && sleep_or_shutdown(shutdown, pause).await {
                    return Ok(Ended::Shutdown);
                }
            }
            last_read = Some(Instant::now());
            let slice = self.store.read_all(position, self.options.batch_size, &filter).await?;
            catching_up = slice.events.len() >= self.options.batch_size;
            if slice.events.is_empty() && slice.last_position <= position {
                self.follower.tick(conn, &self.options.holder).await?;
                if last_heartbeat.elapsed() >= self.options.heartbeat_interval {
                    checkpoint::heartbeat(conn, name, &self.options.holder).await?;
                    last_heartbeat = Instant::now();
                }
                let wait = self.store.wait_for_position_after(position, self.options.poll_interval);
                tokio::select! {
                    waited = wait => { waited?; }
                    changed = shutdown.changed() => if changed.is_err() { return Ok(Ended::Shutdown) },
                }
                continue;
            }
            let outcome =
                self.follower.apply(conn, &self.options.holder, position, slice.last_position, &slice.events).await?;
            self.follower.tick(conn, &self.options.holder).await?;
            match outcome {
                Applied::Through(applied) => {
                    position = applied;
                    *attempt = 0;
                    last_heartbeat = Instant::now();
                    self.applied.send_modify(|count| *count = count.wrapping_add(1));
                }
                Applied::Moved(stored) => position = self.follower.resume(stored).await?,
                Applied::Poisoned { position: poison, error: cause } => {
                    let text = cause.describe();
                    error!(projection = %name, position = poison, error = %text,
                        "poison event: the projection stops here until it is rebuilt or retried");
                    checkpoint::record_failure(conn, name, poison, &text).await?;
                    self.applied.send_modify(|count| *count = count.wrapping_add(1));
                    return Ok(Ended::Failed);
                }
            }
        }
    }
}

/// Sleeps for `pause` unless shutdown comes first; returns whether it did.
pub(crate) async fn sleep_or_shutdown(shutdown: &mut watch::Receiver<bool>, pause: std::time::Duration) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(pause) => *shutdown.borrow(),
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

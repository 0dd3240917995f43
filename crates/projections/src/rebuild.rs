//! Rebuilding a projection without downtime: replay the whole log into fresh tables beside the live ones, then
//! swap them in within one transaction.
//!
//! 1. Copy each table's definition (`create table ... (like ... including all)`: columns, defaults, generated
//!    columns, constraints, indexes, comments) into a schema of its own, `tally_rebuild_{projection}`.
//! 2. Replay the log from the start into the copies, in large batches: the model's SQL uses unqualified table
//!    names and the rebuild transactions set `search_path` to the rebuild schema. Queries keep reading the live
//!    tables, which the live projector keeps up to date meanwhile.
//! 3. Swap, in one transaction: lock the projection's checkpoint row (live batches wait), apply whatever the log
//!    gained since step 2, move the live tables out and the rebuilt ones in (`alter table ... set schema`), set
//!    the checkpoint to the rebuilt position and clear any failure, commit. A reader blocks for the few
//!    milliseconds the swap holds the tables' locks, then reads the new tables. The live projector finds the
//!    checkpoint moved, and continues from there on the new tables.
//!
//! The swap waits at most `ProjectorOptions::swap_lock_timeout` for long queries to release the live tables
//! (queries that arrive meanwhile queue behind it, so the wait is bounded), pauses as long, and tries again, up to
//! `SWAP_ATTEMPTS` times; then it gives up with [`ProjectionError::SwapTimedOut`], leaving the live tables as they
//! were. Analysts' views on read-model tables would follow the old tables and be dropped with them: query the
//! tables directly (docs/read-models.md).

use serde::Serialize;
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};
use tracing::{info, instrument, warn};

use crate::checkpoint;
use crate::error::ProjectionError;
use crate::lease;
use crate::models::ReadModel;
use crate::runner::Projector;

/// Events per rebuild transaction (at least; the projector's batch size if larger).
const REBUILD_BATCH: usize = 2_000;
/// How many times the swap tries to take the live tables' locks.
const SWAP_ATTEMPTS: u32 = 5;

/// Where a rebuild is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RebuildPhase {
    /// Replaying the log into the fresh tables.
    Replaying,
    /// Catching up the last events and swapping the tables in.
    Swapping,
    /// The rebuilt tables are live.
    Done,
}

/// A rebuild's progress, reported after every batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RebuildProgress {
    pub projection: String,
    pub phase: RebuildPhase,
    /// Events of this projection applied so far.
    pub events_applied: u64,
    /// The log has been replayed up to here.
    pub position: u64,
    /// The log's head when the rebuild started (it may grow meanwhile).
    pub head: u64,
    pub events_per_second: f64,
    pub elapsed: Duration,
}

impl Projector {
    /// Rebuilds `model` from the whole log and swaps the result in, calling `on_progress` after every batch.
    /// Returns the final progress (phase `done`). Another rebuild of the same projection running anywhere is
    /// [`ProjectionError::RebuildInProgress`].
    #[instrument(skip_all, fields(projection = %model))]
    pub async fn rebuild(
        &self,
        model: ReadModel,
        mut on_progress: impl FnMut(&RebuildProgress) + Send,
    ) -> Result<RebuildProgress, ProjectionError> {
        let connect = (*self.pool().connect_options()).clone();
        let mut conn = lease::connect(&connect, &format!("rebuild {model}")).await?;
        if !lease::try_lock(&mut conn, lease::rebuild_key(model)).await? {
            return Err(ProjectionError::RebuildInProgress { name: model.name().to_owned() });
        }
        checkpoint::ensure_rows(&mut conn, &[model]).await?;
        let live: String = sqlx::query_scalar("select current_schema()").fetch_one(&mut conn).await?;
        let schema = format!("tally_rebuild_{}", model.name());
        let mut run = Run {
            model,
            schema,
            live,
            batch_size: self.options().batch_size.max(REBUILD_BATCH),
            started: Instant::now(),
            progress: RebuildProgress {
                projection: model.name().to_owned(),
                phase: RebuildPhase::Replaying,
                events_applied: 0,
                position: 0,
                head: self.store().head_position().await?,
                events_per_second: 0.0,
                elapsed: Duration::ZERO,
            },
        };
        info!(projection = %model, head = run.progress.head, "rebuild started");
        let result = self.rebuild_on(&mut conn, &mut run, &mut on_progress).await;
        if result.is_err() {
            let drop_schema = format!("drop schema if exists {} cascade", quote(&run.schema));
            sqlx::query(&drop_schema).execute(&mut conn).await.ok();
        }
        result
    }

    async fn rebuild_on(
        &self,
        conn: &mut PgConnection,
        run: &mut Run,
        on_progress: &mut (impl FnMut(&RebuildProgress) + Send),
    ) -> Result<RebuildProgress, ProjectionError> {
        create_tables(conn, run).await?;
        // Replay outside the swap transaction, one transaction per batch.
        loop {
            let mut tx = conn.begin().await?;
            let more = self.replay_batch(&mut tx, run).await?;
            tx.commit().await?;
            on_progress(&run.progress);
            if !more {
                break;
            }
        }
        run.progress.phase = RebuildPhase::Swapping;
        on_progress(&run.progress);
        for attempt in 1..=SWAP_ATTEMPTS {
            let replayed = (run.progress.position, run.progress.events_applied);
            match self.swap(conn, run).await {
                Ok(()) => {
                    run.progress.phase = RebuildPhase::Done;
                    run.tick();
                    on_progress(&run.progress);
                    info!(projection = %run.model, position = run.progress.position,
                        events = run.progress.events_applied, "rebuild swapped in");
                    return Ok(run.progress.clone());
                }
                Err(error) if is_lock_timeout(&error) => {
                    warn!(projection = %run.model, attempt, "swap could not lock the live tables; retrying");
                    // The swap's catch-up was rolled back with it.
                    (run.progress.position, run.progress.events_applied) = replayed;
                    tokio::time::sleep(self.options().swap_lock_timeout).await;
                }
                Err(error) => return Err(error),
            }
        }
        Err(ProjectionError::SwapTimedOut { name: run.model.name().to_owned(), attempts: SWAP_ATTEMPTS })
    }

    /// Applies the next batch into the rebuild tables; `false` once the log's head is reached.
    async fn replay_batch(&self, tx: &mut PgConnection, run: &mut Run) -> Result<bool, ProjectionError> {
        let slice = self.store().read_all(run.progress.position, run.batch_size, &run.model.filter()).await?;
        if slice.events.is_empty() && slice.last_position <= run.progress.position {
            return Ok(false);
        }
        // Only for this transaction: the model's unqualified table names now mean the rebuild's copies.
        sqlx::query("select set_config('search_path', $1, true)").bind(&run.schema).execute(&mut *tx).await?;
        run.model.apply(&mut *tx, &slice.events).await?;
        run.progress.position = slice.last_position;
        run.progress.events_applied += slice.events.len() as u64;
        run.tick();
        Ok(true)
    }

    /// The swap transaction: lock the checkpoint, catch up, exchange the tables, move the checkpoint.
    async fn swap(&self, conn: &mut PgConnection, run: &mut Run) -> Result<(), ProjectionError> {
        let mut tx = conn.begin().await?;
        let lock_timeout = format!("{}ms", self.options().swap_lock_timeout.as_millis().max(1));
        sqlx::query("select set_config('lock_timeout', $1, true)").bind(lock_timeout).execute(&mut *tx).await?;
        checkpoint::lock(&mut tx, run.model).await?;
        while self.replay_batch(&mut tx, run).await? {}
        sqlx::query("select set_config('search_path', $1, true)").bind(&run.live).execute(&mut *tx).await?;
        let retired = format!("tally_retired_{}", run.model.name());
        let (live, rebuilt, retired) = (quote(&run.live), quote(&run.schema), quote(&retired));
        sqlx::query(&format!("drop schema if exists {retired} cascade")).execute(&mut *tx).await?;
        sqlx::query(&format!("create schema {retired}")).execute(&mut *tx).await?;
        for table in run.model.tables() {
            let table = quote(table);
            sqlx::query(&format!("alter table {live}.{table} set schema {retired}")).execute(&mut *tx).await?;
            sqlx::query(&format!("alter table {rebuilt}.{table} set schema {live}")).execute(&mut *tx).await?;
        }
        sqlx::query(&format!("drop schema {retired} cascade")).execute(&mut *tx).await?;
        sqlx::query(&format!("drop schema {rebuilt}")).execute(&mut *tx).await?;
        checkpoint::clear_failure(&mut *tx, run.model).await?;
        sqlx::query("update projections set position = $2, updated_at = now() where name = $1")
            .bind(run.model.name())
            .bind(checkpoint::column(run.progress.position))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One rebuild's state.
struct Run {
    model: ReadModel,
    schema: String,
    live: String,
    batch_size: usize,
    started: Instant,
    progress: RebuildProgress,
}

impl Run {
    fn tick(&mut self) {
        self.progress.elapsed = self.started.elapsed();
        let seconds = self.progress.elapsed.as_secs_f64();
        self.progress.events_per_second =
            if seconds > 0.0 { self.progress.events_applied as f64 / seconds } else { 0.0 };
    }
}

/// A fresh rebuild schema with an empty copy of each of the model's tables.
#[instrument(skip_all, fields(schema = %run.schema))]
async fn create_tables(conn: &mut PgConnection, run: &Run) -> Result<(), ProjectionError> {
    let schema = quote(&run.schema);
    // A rebuild that died half way left its schema behind: start over.
    sqlx::query(&format!("drop schema if exists {schema} cascade")).execute(&mut *conn).await?;
    sqlx::query(&format!("create schema {schema}")).execute(&mut *conn).await?;
    for table in run.model.tables() {
        let table = quote(table);
        let live = quote(&run.live);
        let create = format!("create table {schema}.{table} (like {live}.{table} including all)");
        sqlx::query(&create).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A quoted SQL identifier (the names come from code and `current_schema()`, quoted all the same).
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `lock_not_available`: the swap's `lock_timeout` fired.
fn is_lock_timeout(error: &ProjectionError) -> bool {
    match error {
        ProjectionError::Database(error) => {
            error.as_database_error().and_then(|db| db.code()).is_some_and(|code| code == "55P03")
        }
        _ => false,
    }
}

//! Rebuilding a projection without downtime: replay the whole log into fresh tables beside the live ones, then
//! swap them in within one transaction.
//!
//! 1. Copy each table's definition (`create table ... (like ... including all)`: columns, defaults, generated
//!    columns, constraints, indexes, comments) into a schema of its own, `tally_rebuild_{projection}`, less the
//!    secondary (non-unique) indexes.
//! 2. Replay the log from the start into the copies, in large batches. One task reads the log (once, however many
//!    models are rebuilt together) a few batches ahead and hands each model its events; each model applies them
//!    on its own connection. The model's SQL uses unqualified table names and the rebuild transactions set `search_path` to the rebuild
//!    schema. Queries keep reading the live tables, which the live projector keeps up to date meanwhile. Then
//!    build the secondary indexes, in one pass each.
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

use futures::future::join_all;
use serde::Serialize;
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tally_store::{LogFilter, RecordedEvent, StoreError};
use tokio::sync::mpsc;
use tracing::{info, instrument, warn};

use crate::checkpoint;
use crate::error::ProjectionError;
use crate::lease;
use crate::models::ReadModel;
use crate::runner::Projector;

/// Events per rebuild transaction (at least; the projector's batch size if larger). Large batches touch each row
/// once for many events and load it once per batch, but each one in flight holds its events in memory: 25,000
/// rebuilt 1,000,000 events at ~80,000 events/s in ~280 MiB (docs/decisions.md, session 4).
const REBUILD_BATCH: usize = 25_000;
/// Batches the log feed reads ahead of the slowest model it feeds (two measured no faster than one, and held
/// 60-70 MiB more).
const BATCHES_AHEAD: usize = 1;
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
    pub async fn rebuild(
        &self,
        model: ReadModel,
        on_progress: impl FnMut(&RebuildProgress) + Send,
    ) -> Result<RebuildProgress, ProjectionError> {
        let mut results = self.rebuild_together(vec![(model, on_progress)]).await;
        results.pop().unwrap_or_else(|| unreachable!("one result per rebuild"))
    }

    /// Rebuilds several models at once, each with its progress callback: one task reads the log once and hands
    /// every model its part of each batch, and each model applies and swaps on its own connection, so the models
    /// share the read and both cores. One result per model, in the order given; a model that fails leaves the
    /// others to finish and swap in.
    #[instrument(skip_all, fields(projections = jobs.len()))]
    pub async fn rebuild_together<F: FnMut(&RebuildProgress) + Send>(
        &self,
        jobs: Vec<(ReadModel, F)>,
    ) -> Vec<Result<RebuildProgress, ProjectionError>> {
        let head = match self.store().head_position().await {
            Ok(head) => head,
            Err(error) => return jobs.iter().map(|_| Err(ProjectionError::from(error.clone()))).collect(),
        };
        let prepared = join_all(
            jobs.into_iter().map(|(model, on_progress)| async move { (self.prepare(model, head).await, on_progress) }),
        )
        .await;
        let ready: Vec<ReadModel> =
            prepared.iter().filter_map(|(prepared, _)| prepared.as_ref().ok().map(|(_, run)| run.model)).collect();
        let mut feeds = self.feed(&ready, self.rebuild_batch_size()).into_iter();
        let runs = prepared.into_iter().map(|(prepared, mut on_progress)| {
            let ready = prepared.map(|(conn, run)| (conn, run, feeds.next()));
            async move {
                let (mut conn, mut run, Some(feed)) = ready? else { unreachable!("one feed per prepared rebuild") };
                let result = self.rebuild_on(&mut conn, &mut run, feed, &mut on_progress).await;
                if result.is_err() {
                    let drop_schema = format!("drop schema if exists {} cascade", quote(&run.schema));
                    sqlx::query(&drop_schema).execute(&mut conn).await.ok();
                }
                result
            }
        });
        join_all(runs).await
    }

    /// Events per rebuild batch: [`REBUILD_BATCH`], or the projector's batch size if larger.
    fn rebuild_batch_size(&self) -> usize {
        self.options().batch_size.max(REBUILD_BATCH)
    }

    /// A rebuild's connection (holding the model's rebuild lock) and its fresh tables.
    async fn prepare(&self, model: ReadModel, head: u64) -> Result<(PgConnection, Run), ProjectionError> {
        let connect = (*self.pool().connect_options()).clone();
        let mut conn = lease::connect(&connect, &format!("rebuild {model}")).await?;
        if !lease::try_lock(&mut conn, lease::rebuild_key(model)).await? {
            return Err(ProjectionError::RebuildInProgress { name: model.name().to_owned() });
        }
        checkpoint::ensure_rows(&mut conn, &[model]).await?;
        let live: String = sqlx::query_scalar("select current_schema()").fetch_one(&mut conn).await?;
        let schema = format!("tally_rebuild_{}", model.name());
        let run = Run {
            model,
            schema,
            live,
            started: Instant::now(),
            progress: RebuildProgress {
                projection: model.name().to_owned(),
                phase: RebuildPhase::Replaying,
                events_applied: 0,
                position: 0,
                head,
                events_per_second: 0.0,
                elapsed: Duration::ZERO,
            },
        };
        info!(projection = %model, head, "rebuild started");
        create_tables(&mut conn, &run).await?;
        Ok((conn, run))
    }

    async fn rebuild_on(
        &self,
        conn: &mut PgConnection,
        run: &mut Run,
        mut feed: mpsc::Receiver<Result<FeedBatch, StoreError>>,
        on_progress: &mut (impl FnMut(&RebuildProgress) + Send),
    ) -> Result<RebuildProgress, ProjectionError> {
        // Replay outside the swap transaction, one transaction per batch, while the feed reads the next batches.
        // The batches commit without waiting for the disk (`synchronous_commit = off`): nothing reads the rebuild
        // tables before the swap, whose own commit waits for everything before it; a crash meanwhile leaves a
        // rebuild to start over.
        while let Some(batch) = feed.recv().await {
            let batch = batch?;
            let mut tx = conn.begin().await?;
            sqlx::query("select set_config('synchronous_commit', 'off', true)").execute(&mut *tx).await?;
            self.apply_batch(&mut tx, run, &batch.events, batch.last_position).await?;
            tx.commit().await?;
            on_progress(&run.progress);
        }
        create_secondary_indexes(conn, run).await?;
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

    /// Starts the task that reads the log from the start to its head, once for all `models`, and hands each
    /// model (through its receiver, in the order of `models`) the events it reads from every batch. Models with
    /// the same filter share each batch's events. The channels hold [`BATCHES_AHEAD`] batches, so the reading
    /// runs ahead of the slowest model by that much and memory stays bounded; a dropped receiver (a failed
    /// rebuild) is left out, and the task ends at the head, on a read error (sent to every model) or when every
    /// receiver is gone.
    fn feed(&self, models: &[ReadModel], batch_size: usize) -> Vec<mpsc::Receiver<Result<FeedBatch, StoreError>>> {
        let mut groups: Vec<LogFilter> = Vec::new();
        let mut group_of = Vec::with_capacity(models.len());
        for model in models {
            let filter = model.filter();
            let group = groups.iter().position(|known| *known == filter).unwrap_or_else(|| {
                groups.push(filter);
                groups.len() - 1
            });
            group_of.push(group);
        }
        // One filter for all: read just that part of the log; otherwise read all of it and split it here.
        let read_filter = match groups.as_slice() {
            [only] => only.clone(),
            _ => LogFilter::all(),
        };
        let (senders, receivers): (Vec<_>, Vec<_>) = models.iter().map(|_| mpsc::channel(BATCHES_AHEAD)).unzip();
        let mut senders: Vec<Option<mpsc::Sender<_>>> = senders.into_iter().map(Some).collect();
        let store = Arc::clone(self.store());
        tokio::spawn(async move {
            let mut after = 0;
            while senders.iter().any(Option::is_some) {
                let slice = match store.read_all(after, batch_size, &read_filter).await {
                    Ok(slice) => slice,
                    Err(error) => {
                        for sender in senders.iter().flatten() {
                            sender.send(Err(error.clone())).await.ok();
                        }
                        return;
                    }
                };
                if slice.events.is_empty() && slice.last_position <= after {
                    return; // the head: dropping the senders ends every replay
                }
                after = slice.last_position;
                let mut split: Vec<Vec<RecordedEvent>> = groups.iter().map(|_| Vec::new()).collect();
                for event in slice.events {
                    let mut matching =
                        groups.iter().enumerate().filter(|(_, f)| f.matches(&event.stream_id, &event.event_type));
                    if let Some((first, _)) = matching.next() {
                        for (other, _) in matching {
                            split[other].push(event.clone());
                        }
                        split[first].push(event);
                    }
                }
                let split: Vec<Arc<Vec<RecordedEvent>>> = split.into_iter().map(Arc::new).collect();
                for (sender, group) in senders.iter_mut().zip(&group_of) {
                    let batch = FeedBatch { events: Arc::clone(&split[*group]), last_position: after };
                    if let Some(open) = sender {
                        if open.send(Ok(batch)).await.is_err() {
                            *sender = None;
                        }
                    }
                }
            }
        });
        receivers
    }

    /// Applies the next batch into the rebuild tables; `false` once the log's head is reached.
    async fn replay_batch(&self, tx: &mut PgConnection, run: &mut Run) -> Result<bool, ProjectionError> {
        let slice =
            self.store().read_all(run.progress.position, self.rebuild_batch_size(), &run.model.filter()).await?;
        if slice.events.is_empty() && slice.last_position <= run.progress.position {
            return Ok(false);
        }
        self.apply_batch(tx, run, &slice.events, slice.last_position).await?;
        Ok(true)
    }

    /// Applies `events` (the model's events of the log after the run's position, up to `last_position`) into the
    /// rebuild tables, in the caller's transaction.
    async fn apply_batch(
        &self,
        tx: &mut PgConnection,
        run: &mut Run,
        events: &[RecordedEvent],
        last_position: u64,
    ) -> Result<(), ProjectionError> {
        // Only for this transaction: the model's unqualified table names now mean the rebuild's copies.
        sqlx::query("select set_config('search_path', $1, true)").bind(&run.schema).execute(&mut *tx).await?;
        run.model.apply(&mut *tx, events).await?;
        run.progress.position = last_position;
        run.progress.events_applied += events.len() as u64;
        run.tick();
        Ok(())
    }

    /// The swap transaction: lock the checkpoint, catch up, exchange the tables, move the checkpoint.
    async fn swap(&self, conn: &mut PgConnection, run: &mut Run) -> Result<(), ProjectionError> {
        let mut tx = conn.begin().await?;
        let lock_timeout = format!("{}ms", self.options().swap_lock_timeout.as_millis().max(1));
        sqlx::query("select set_config('lock_timeout', $1, true)").bind(lock_timeout).execute(&mut *tx).await?;
        checkpoint::lock(&mut tx, run.model.name()).await?;
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

/// One batch of the log feed for one model: its events, and how far the log was read.
struct FeedBatch {
    events: Arc<Vec<RecordedEvent>>,
    last_position: u64,
}

/// One rebuild's state.
struct Run {
    model: ReadModel,
    schema: String,
    live: String,
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

/// The secondary (non-unique) indexes of the live copies of the model's tables, as `create index` statements on
/// the rebuild schema's copies. Same names: index names belong to a schema, and the swap moves each table with
/// its indexes.
const SECONDARY_INDEXES: &str = "\
    select replace(pg_get_indexdef(i.indexrelid), format(' ON %I.%I ', n.nspname, c.relname),
                   format(' ON %I.%I ', $2::text, c.relname)),
           format('%I.%I', $2::text, ci.relname)
      from pg_index i
      join pg_class c on c.oid = i.indrelid
      join pg_class ci on ci.oid = i.indexrelid
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relname = any($3) and not i.indisunique
     order by ci.relname";

/// A fresh rebuild schema with an empty copy of each of the model's tables. The copies keep their primary keys
/// and unique constraints (the model's upserts need them) but not yet their secondary indexes:
/// [`create_secondary_indexes`] builds those once the replay is done, which is much cheaper than maintaining
/// them row by row through a million events.
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
    for (_, index) in secondary_indexes(conn, run).await? {
        sqlx::query(&format!("drop index {index}")).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Builds the rebuilt tables' secondary indexes (dropped by [`create_tables`]), before the swap.
#[instrument(skip_all, fields(schema = %run.schema))]
async fn create_secondary_indexes(conn: &mut PgConnection, run: &Run) -> Result<(), ProjectionError> {
    for (create, _) in secondary_indexes(conn, run).await? {
        sqlx::query(&create).execute(&mut *conn).await?;
    }
    Ok(())
}

/// (`create index` on the rebuild copy, qualified name of that index) for each secondary index of the live tables.
async fn secondary_indexes(conn: &mut PgConnection, run: &Run) -> Result<Vec<(String, String)>, ProjectionError> {
    let tables: Vec<&str> = run.model.tables().to_vec();
    let rows = sqlx::query_as(SECONDARY_INDEXES).bind(&run.live).bind(&run.schema).bind(tables).fetch_all(conn).await?;
    Ok(rows)
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

//! Group commit: the one task per store instance that writes appends. It takes every append waiting at that
//! moment (bounded), decides them together with the shared [`Planner`] and commits them in ONE transaction, so
//! the cost of a commit, and of the log-head lock that orders commits, is shared by many callers. Batches run one
//! after the other: a batch's transaction holds the log-head lock from its first statement to its commit, so a
//! second batch in flight could only wait for it, and splitting the waiting callers into two smaller batches
//! costs more than the round trip it would hide (measured with benches/append.rs).
//!
//! Each append is judged on its own: a conflict fails only that append. Several events of one append are in the
//! same transaction, so they are all written or none is; a failure of the transaction fails every append in it
//! (the callers retry idempotently), never reports a false success. When a batch finds the database unreachable,
//! the appends that queued meanwhile fail with it at once instead of waiting for an attempt of their own.
//!
//! The size of every batch is recorded (`tally_event_store_group_commit_appends`, a histogram of the `metrics`
//! crate; `GET /metrics` shows it).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Row};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{instrument, warn};
use uuid::Uuid;

use super::{query_i64, stored_u64};
use crate::append::{KnownEvent, Planner, PreparedAppend};
use crate::error::StoreError;
use crate::event::AppendResult;
use crate::hash::EventHash;
use crate::port::publish_head;
use crate::verify::StreamHead;

/// An append waiting for the writer, and where to send its outcome.
pub(crate) struct AppendRequest {
    pub(crate) append: PreparedAppend,
    pub(crate) reply: oneshot::Sender<Result<AppendResult, StoreError>>,
}

/// Where the writer announces each committed log head: to this instance's waiting readers at once, and to the
/// notifier task that tells other instances (coalescing heads that commit while a notification is in flight).
#[derive(Debug)]
pub(crate) struct HeadAnnouncer {
    pub(crate) readers: Arc<watch::Sender<u64>>,
    pub(crate) notifier: watch::Sender<u64>,
}

impl HeadAnnouncer {
    fn publish(&self, log_head: u64) {
        publish_head(&self.readers, log_head);
        publish_head(&self.notifier, log_head);
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterLimits {
    pub(crate) max_appends: usize,
    pub(crate) max_bytes: usize,
}

/// The first statement of every appending transaction: takes the log-head row lock, held until commit (appending
/// transactions of every process commit one at a time, in lock order), then returns, with a snapshot taken after
/// the lock was granted, everything the batch's decisions depend on: the log head (`kind = 'log'`), the head of
/// each stream the batch appends to (`'stream'`) and the batch's event ids already stored (`'event'`).
/// See `event_store_lock_and_lookup` in migrations/0001_event_store.sql.
const LOCK_AND_LOOKUP: &str = "\
    select kind, stream_id, version, position, hash, event_id, recorded_at
      from event_store_lock_and_lookup($1, $2)";

/// Writes the planned events, the streams' new heads and the log head, in one statement (every data-modifying CTE
/// runs to completion even though none is referenced).
const WRITE: &str = "\
    with new_events as (
        insert into events (position, event_id, stream_id, stream_version, event_type, schema_version,
                            data, metadata, recorded_at, hash)
        select e.position, e.event_id, e.stream_id, e.stream_version, e.event_type, e.schema_version,
               e.data::jsonb, e.metadata::jsonb, $10, e.hash
          from unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::integer[],
                      $7::text[], $8::text[], $9::bytea[])
            as e(position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata, hash)
    ), new_stream_heads as (
        insert into streams (stream_id, version, hash)
        select * from unnest($11::text[], $12::bigint[], $13::bytea[])
        on conflict (stream_id) do update set version = excluded.version, hash = excluded.hash
    )
    update event_log_head set position = $14";

/// Runs until every sender of `queue` is gone (the store was dropped) and the queue is drained.
pub(crate) async fn run(
    pool: PgPool,
    mut queue: mpsc::Receiver<AppendRequest>,
    heads: HeadAnnouncer,
    limits: WriterLimits,
) {
    let mut carried: Option<AppendRequest> = None;
    loop {
        let first = match carried.take() {
            Some(request) => request,
            None => match queue.recv().await {
                Some(request) => request,
                None => return,
            },
        };
        // The callers answered by the previous batch are about to submit their next appends: let them run first,
        // so they join this batch instead of waiting for the next one.
        for _ in 0..2 {
            tokio::task::yield_now().await;
        }
        let mut bytes = first.append.size_bytes();
        let mut batch = vec![first];
        while batch.len() < limits.max_appends {
            let Ok(next) = queue.try_recv() else { break };
            let size = next.append.size_bytes();
            if bytes + size > limits.max_bytes {
                carried = Some(next);
                break;
            }
            bytes += size;
            batch.push(next);
        }
        if let Some(error) = commit_batch(&pool, batch, &heads).await {
            fail_waiting(&mut queue, &mut carried, &error);
        }
    }
}

/// Answers every append that queued while a batch found the database unreachable with that batch's error, at
/// once: they were submitted during the failed attempt, and making each wait for an attempt of its own (up to the
/// pool's acquire timeout, after the one it queued behind) would take a command past its time budget. Their
/// callers decide whether to retry (the commands' retry policy, within its budget).
fn fail_waiting(queue: &mut mpsc::Receiver<AppendRequest>, carried: &mut Option<AppendRequest>, error: &StoreError) {
    let mut failed = 0;
    while let Some(request) = carried.take().or_else(|| queue.try_recv().ok()) {
        let _ = request.reply.send(Err(error.clone()));
        failed += 1;
    }
    if failed > 0 {
        warn!(appends = failed, error = %error, "the database is unreachable: failed the appends waiting for it");
    }
}

/// Whether the database could not be reached at all ([`crate::error::database_unreachable`]). The next attempt,
/// made at once, would most likely meet the same.
fn is_unreachable(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(error) if crate::error::database_unreachable(error))
}

/// Commits one batch and answers every caller in it. Returns the error when the database was unreachable.
#[instrument(skip_all, fields(batch.appends = batch.len()))]
async fn commit_batch(pool: &PgPool, batch: Vec<AppendRequest>, heads: &HeadAnnouncer) -> Option<StoreError> {
    metrics::histogram!("tally_event_store_group_commit_appends").record(batch.len() as f64);
    let appends: Vec<&PreparedAppend> = batch.iter().map(|request| &request.append).collect();
    let outcomes = match write_batch(pool, &appends).await {
        Ok((outcomes, log_head)) => {
            heads.publish(log_head);
            outcomes
        }
        // The server refused the data of some append (the transaction rolled back). With neighbours, write each
        // append alone, so only the one that caused it fails; alone, report what the database said.
        Err(error) if is_data_error(&error) && appends.len() > 1 => {
            warn!(error = %error, "group commit refused; writing the batch's appends one by one");
            let mut outcomes = Vec::with_capacity(appends.len());
            for append in &appends {
                outcomes.push(write_alone(pool, append, heads).await);
            }
            outcomes
        }
        Err(error) if appends.len() == 1 => vec![Err(settle(pool, appends[0], error).await)],
        Err(error) => {
            warn!(error = %error, "group commit failed");
            appends.iter().map(|_| Err(error.clone())).collect()
        }
    };
    let unreachable = outcomes.iter().find_map(|outcome| match outcome {
        Err(error) if is_unreachable(error) => Some(error.clone()),
        _ => None,
    });
    for (request, outcome) in batch.into_iter().zip(outcomes) {
        // The caller may have stopped waiting; the outcome is still committed (or not) as decided.
        let _ = request.reply.send(outcome);
    }
    unreachable
}

async fn write_alone(
    pool: &PgPool,
    append: &PreparedAppend,
    heads: &HeadAnnouncer,
) -> Result<AppendResult, StoreError> {
    match write_batch(pool, &[append]).await {
        Ok((mut outcomes, log_head)) => {
            heads.publish(log_head);
            outcomes.pop().unwrap_or(Err(StoreError::WriterStopped))
        }
        Err(error) => Err(settle(pool, append, error).await),
    }
}

/// A unique violation on `(stream_id, stream_version)` means the version was taken (only a writer outside this
/// store can do that under the log-head lock): the database's word is final, so it is reported as the conflict it
/// is, with the stream's current version.
async fn settle(pool: &PgPool, append: &PreparedAppend, error: StoreError) -> StoreError {
    if !error.is_stream_version_conflict() {
        return error;
    }
    match super::read::stream_version(pool, &append.stream_id).await {
        Ok(actual) => StoreError::WrongExpectedVersion { expected: append.expected, actual },
        Err(read_error) => read_error,
    }
}

/// SQLSTATE classes 22 (data exception), 23 (integrity constraint violation) and 54 (program limit exceeded):
/// errors one append's content can cause. Timeouts, lost connections and the like are not retried one by one.
fn is_data_error(error: &StoreError) -> bool {
    let StoreError::Database(error) = error else { return false };
    let code = error.as_database_error().and_then(|e| e.code().map(|code| code.into_owned()));
    code.is_some_and(|code| ["22", "23", "54"].iter().any(|class| code.starts_with(class)))
}

/// One transaction for `appends`: the outcome of each, and the log head after it.
async fn write_batch(
    pool: &PgPool,
    appends: &[&PreparedAppend],
) -> Result<(Vec<Result<AppendResult, StoreError>>, u64), StoreError> {
    let mut connection = pool.acquire().await?;
    let result = write_batch_on(&mut connection, appends).await;
    if result.is_err() {
        // The connection may be broken or mid-protocol: never hand it to the next user.
        connection.close_on_drop();
    }
    result
}

async fn write_batch_on(
    connection: &mut PgConnection,
    appends: &[&PreparedAppend],
) -> Result<(Vec<Result<AppendResult, StoreError>>, u64), StoreError> {
    let mut tx = connection.begin().await?;
    let stream_ids: Vec<&str> = appends.iter().map(|a| a.stream_id.as_str()).collect();
    let event_ids: Vec<Uuid> = appends.iter().flat_map(|a| a.events.iter().map(|e| e.event.event_id)).collect();
    let rows = sqlx::query(LOCK_AND_LOOKUP).bind(&stream_ids).bind(&event_ids).fetch_all(&mut *tx).await?;
    let mut planner = planner_from(&rows)?;

    let outcomes: Vec<_> = appends.iter().enumerate().map(|(index, append)| planner.plan(index, append)).collect();
    if planner.rows().is_empty() {
        tx.rollback().await?;
        return Ok((outcomes, planner.log_head()));
    }
    write_planned(&mut tx, appends, &planner).await?;
    tx.commit().await?;
    Ok((outcomes, planner.log_head()))
}

fn planner_from(rows: &[PgRow]) -> Result<Planner, StoreError> {
    let mut log: Option<(u64, DateTime<Utc>)> = None;
    let mut heads = HashMap::new();
    let mut known = HashMap::new();
    for row in rows {
        let kind: &str = row.try_get("kind")?;
        match kind {
            "log" => {
                let position = stored_u64(row.try_get("position")?, "log position")?;
                log = Some((position, row.try_get("recorded_at")?));
            }
            "stream" => {
                let version = stored_u64(row.try_get("version")?, "stream version")?;
                let hash: Vec<u8> = row.try_get("hash")?;
                let hash = EventHash::from_slice(&hash)
                    .ok_or_else(|| StoreError::Corrupt("stream head hash is not 32 bytes".to_owned()))?;
                heads.insert(row.try_get("stream_id")?, StreamHead { version, hash });
            }
            _ => {
                let event = KnownEvent {
                    stream_id: row.try_get("stream_id")?,
                    stream_version: stored_u64(row.try_get("version")?, "stream version")?,
                    position: stored_u64(row.try_get("position")?, "position")?,
                    recorded_at: row.try_get("recorded_at")?,
                };
                known.insert(row.try_get("event_id")?, event);
            }
        }
    }
    let (log_head, recorded_at) =
        log.ok_or_else(|| StoreError::Corrupt("the event_log_head row is missing".to_owned()))?;
    Ok(Planner::new(log_head, recorded_at, heads, known))
}

async fn write_planned(
    connection: &mut PgConnection,
    appends: &[&PreparedAppend],
    planner: &Planner,
) -> Result<(), StoreError> {
    let rows = planner.rows();
    let mut positions = Vec::with_capacity(rows.len());
    let mut event_ids = Vec::with_capacity(rows.len());
    let mut stream_ids = Vec::with_capacity(rows.len());
    let mut versions = Vec::with_capacity(rows.len());
    let mut types = Vec::with_capacity(rows.len());
    let mut schema_versions = Vec::with_capacity(rows.len());
    let mut data = Vec::with_capacity(rows.len());
    let mut metadata = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    for row in rows {
        let append = appends[row.append];
        let event = &append.events[row.index];
        positions.push(query_i64(row.position));
        event_ids.push(event.event.event_id);
        stream_ids.push(append.stream_id.as_str());
        versions.push(query_i64(row.stream_version));
        types.push(event.event.event_type.as_str());
        // Checked against i32::MAX when the append was prepared.
        schema_versions.push(i32::try_from(event.event.schema_version).unwrap_or(i32::MAX));
        data.push(event.data_json.as_str());
        metadata.push(event.metadata_json.as_str());
        hashes.push(row.hash.as_bytes().to_vec());
    }
    let (mut head_streams, mut head_versions, mut head_hashes) = (Vec::new(), Vec::new(), Vec::new());
    for (stream_id, head) in planner.changed_heads() {
        head_streams.push(stream_id);
        head_versions.push(query_i64(head.version));
        head_hashes.push(head.hash.as_bytes().to_vec());
    }
    sqlx::query(WRITE)
        .bind(&positions)
        .bind(&event_ids)
        .bind(&stream_ids)
        .bind(&versions)
        .bind(&types)
        .bind(&schema_versions)
        .bind(&data)
        .bind(&metadata)
        .bind(&hashes)
        .bind(planner.recorded_at())
        .bind(&head_streams)
        .bind(&head_versions)
        .bind(&head_hashes)
        .bind(query_i64(planner.log_head()))
        .execute(connection)
        .await?;
    Ok(())
}

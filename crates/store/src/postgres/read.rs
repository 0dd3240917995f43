//! Reads: a stream forwards or backwards, the global log after a position, the log head; and the decoding of a
//! stored row into a [`RecordedEvent`].

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use tracing::instrument;

use super::{query_i64, stored_u64};
use crate::error::StoreError;
use crate::event::{Direction, LogFilter, LogSlice, Metadata, ReadStream, RecordedEvent};
use crate::hash::EventHash;

/// A filtered read examines at most this many positions, so a filter that matches rarely still answers quickly
/// (and within `statement_timeout`); the reader continues from [`LogSlice::last_position`].
const FILTER_SCAN_WINDOW: u64 = 10_000;

const READ_FORWARDS: &str = "\
    select position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata,
           recorded_at, hash
      from events
     where stream_id = $1 and stream_version >= $2
     order by stream_version
     limit $3";

const READ_BACKWARDS: &str = "\
    select position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata,
           recorded_at, hash
      from events
     where stream_id = $1 and stream_version <= $2
     order by stream_version desc
     limit $3";

/// One statement, so the events and the log head (`kind = 'head'`, the last row's `position`) come from the same
/// snapshot. Appending transactions commit in position order (the log-head lock), so every position up to that
/// head is committed and visible here: a reader that continues after the last position it was given never skips
/// an event, and a filtered reader can move on to the head past events the filter skipped.
const READ_ALL: &str = "\
    (select 'event' as kind, position, event_id, stream_id, stream_version, event_type, schema_version, data,
            metadata, recorded_at, hash
       from events
      where position > $1 and position <= $2
        and ($3::text is null or starts_with(stream_id, $3))
        and (cardinality($4::text[]) = 0 or event_type = any($4))
      order by position
      limit $5)
    union all
    select 'head', position, null, null, null, null, null, null, null, null, null
      from event_log_head";

#[instrument(skip_all, fields(stream.id = %stream_id, from = read.from, limit = read.limit))]
pub(super) async fn read_stream(
    pool: &PgPool,
    stream_id: &str,
    read: ReadStream,
) -> Result<Vec<RecordedEvent>, StoreError> {
    if read.limit == 0 {
        return Ok(Vec::new());
    }
    let sql = match read.direction {
        Direction::Forwards => READ_FORWARDS,
        Direction::Backwards => READ_BACKWARDS,
    };
    let rows = sqlx::query(sql)
        .bind(stream_id)
        .bind(query_i64(read.from))
        .bind(i64::try_from(read.limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode_event).collect()
}

#[instrument(skip_all, fields(after = after, limit = limit))]
pub(super) async fn read_all(
    pool: &PgPool,
    after: u64,
    limit: usize,
    filter: &LogFilter,
) -> Result<LogSlice, StoreError> {
    if limit == 0 {
        return Ok(LogSlice { events: Vec::new(), last_position: after });
    }
    let scan_to = if filter.is_all() { u64::MAX } else { after.saturating_add(FILTER_SCAN_WINDOW) };
    let rows = sqlx::query(READ_ALL)
        .bind(query_i64(after))
        .bind(query_i64(scan_to))
        .bind(filter.stream_prefix.as_deref())
        .bind(&filter.event_types)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
    let mut log_head = after;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<&str, _>("kind")? == "head" {
            log_head = stored_u64(row.try_get("position")?, "log position")?;
        } else {
            events.push(decode_event(row)?);
        }
    }
    let last_position = match events.last() {
        Some(last) if events.len() == limit => last.position,
        // Fewer than asked: everything up to the head (or the end of the scan window) was examined.
        _ => log_head.min(scan_to).max(after),
    };
    Ok(LogSlice { events, last_position })
}

const FIND_EVENT: &str = "\
    select position, event_id, stream_id, stream_version, event_type, schema_version, data, metadata,
           recorded_at, hash
      from events
     where event_id = $1 and stream_id = $2";

#[instrument(skip_all, fields(stream.id = %stream_id, event.id = %event_id))]
pub(super) async fn find_event(
    pool: &PgPool,
    stream_id: &str,
    event_id: uuid::Uuid,
) -> Result<Option<RecordedEvent>, StoreError> {
    let row = sqlx::query(FIND_EVENT).bind(event_id).bind(stream_id).fetch_optional(pool).await?;
    row.as_ref().map(decode_event).transpose()
}

#[instrument(skip_all)]
pub(super) async fn log_head(pool: &PgPool) -> Result<u64, StoreError> {
    let position: i64 = sqlx::query_scalar("select position from event_log_head").fetch_one(pool).await?;
    stored_u64(position, "log position")
}

#[instrument(skip_all, fields(stream.id = %stream_id))]
pub(super) async fn stream_version(pool: &PgPool, stream_id: &str) -> Result<Option<u64>, StoreError> {
    let version: Option<i64> = sqlx::query_scalar("select version from streams where stream_id = $1")
        .bind(stream_id)
        .fetch_optional(pool)
        .await?;
    version.map(|v| stored_u64(v, "stream version")).transpose()
}

pub(super) fn decode_hash(bytes: &[u8]) -> Result<EventHash, StoreError> {
    EventHash::from_slice(bytes).ok_or_else(|| StoreError::Corrupt(format!("hash of {} bytes", bytes.len())))
}

fn decode_event(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let metadata: serde_json::Value = row.try_get("metadata")?;
    let metadata: Metadata =
        serde_json::from_value(metadata).map_err(|e| StoreError::Corrupt(format!("metadata: {e}")))?;
    let schema_version: i32 = row.try_get("schema_version")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(RecordedEvent {
        event_id: row.try_get("event_id")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: stored_u64(row.try_get("stream_version")?, "stream version")?,
        position: stored_u64(row.try_get("position")?, "position")?,
        event_type: row.try_get("event_type")?,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| StoreError::Corrupt(format!("negative schema version {schema_version}")))?,
        data: row.try_get("data")?,
        metadata,
        recorded_at: row.try_get("recorded_at")?,
        hash: decode_hash(&hash)?,
    })
}

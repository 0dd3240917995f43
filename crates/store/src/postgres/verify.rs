//! Hash-chain verification on PostgreSQL: pages through the stored events in (stream, version) order with their
//! stream's recorded head and hands them to the shared [`StreamVerifier`]. Each page is a short statement, so a
//! large store verifies within `statement_timeout` and in bounded memory; all pages read one snapshot (a
//! repeatable-read transaction), so appends committing meanwhile cannot look like a head that disagrees.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use tracing::instrument;

use super::read::decode_hash;
use super::stored_u64;
use crate::error::StoreError;
use crate::verify::{ChainLink, StreamHead, StreamVerifier, Verification, VerifyProgress};

/// Rows per page: one statement of a few milliseconds.
const PAGE: i64 = 2000;

/// One snapshot for every page; read-only, so it takes no locks that appends could wait for.
const BEGIN_SNAPSHOT: &str = "begin isolation level repeatable read read only";

const STREAM_PAGE: &str = "\
    select stream_id, event_id, stream_version, event_type, schema_version, recorded_at, data, metadata, hash
      from events
     where stream_id = $1 and stream_version > $2
     order by stream_version
     limit $3";

const STREAM_HEAD: &str = "select version, hash from streams where stream_id = $1";

/// Keyset pagination over the (stream_id, stream_version) unique index; `('', -1)` sorts before every event. The
/// join repeats the lower bound on `streams`: without it PostgreSQL merge-joins from the first stream head on
/// every page, and the whole verification slows down with the square of the number of streams.
const ALL_PAGE: &str = "\
    select e.stream_id, e.event_id, e.stream_version, e.event_type, e.schema_version, e.recorded_at, e.data,
           e.metadata, e.hash, s.version as head_version, s.hash as head_hash
      from events e
      left join streams s on s.stream_id = e.stream_id and s.stream_id >= $1
     where (e.stream_id, e.stream_version) > ($1, $2)
     order by e.stream_id, e.stream_version
     limit $3";

/// Heads of streams that have no event left at all.
const EMPTIED_STREAMS: &str = "\
    select s.stream_id, s.version, s.hash
      from streams s
     where not exists (select 1 from events e where e.stream_id = s.stream_id)
     order by s.stream_id";

#[instrument(skip_all, fields(stream.id = %stream_id))]
pub(super) async fn verify_stream(pool: &PgPool, stream_id: &str) -> Result<Verification, StoreError> {
    let mut tx = pool.begin_with(BEGIN_SNAPSHOT).await?;
    let verification = verify_stream_in(&mut tx, stream_id).await?;
    tx.commit().await?;
    Ok(verification)
}

async fn verify_stream_in(connection: &mut PgConnection, stream_id: &str) -> Result<Verification, StoreError> {
    let head_row = sqlx::query(STREAM_HEAD).bind(stream_id).fetch_optional(&mut *connection).await?;
    let head = head_row.map(|row| stream_head(&row, "version", "hash")).transpose()?.flatten();

    let mut verifier = StreamVerifier::new(stream_id);
    let mut after_version = -1i64;
    let mut any_event = false;
    loop {
        let rows =
            sqlx::query(STREAM_PAGE).bind(stream_id).bind(after_version).bind(PAGE).fetch_all(&mut *connection).await?;
        for row in &rows {
            let link = chain_link(row)?;
            after_version = row.try_get("stream_version")?;
            verifier.push(&link);
            any_event = true;
        }
        if rows.len() < PAGE as usize {
            break;
        }
    }
    let mut verification = Verification::default();
    if any_event || head.is_some() {
        verification.add_stream(verifier, head);
    }
    Ok(verification)
}

#[instrument(skip_all)]
pub(super) async fn verify_all(
    pool: &PgPool,
    progress: &(dyn Fn(VerifyProgress) + Send + Sync),
) -> Result<Verification, StoreError> {
    let mut tx = pool.begin_with(BEGIN_SNAPSHOT).await?;
    let verification = verify_all_in(&mut tx, progress).await?;
    tx.commit().await?;
    Ok(verification)
}

async fn verify_all_in(
    connection: &mut PgConnection,
    progress: &(dyn Fn(VerifyProgress) + Send + Sync),
) -> Result<Verification, StoreError> {
    let mut verification = Verification::default();
    let mut current: Option<(StreamVerifier, Option<StreamHead>)> = None;
    let mut cursor = (String::new(), -1i64);
    let mut events_read = 0u64;
    loop {
        let rows = sqlx::query(ALL_PAGE).bind(&cursor.0).bind(cursor.1).bind(PAGE).fetch_all(&mut *connection).await?;
        for row in &rows {
            let stream_id: String = row.try_get("stream_id")?;
            let same_stream = current.as_ref().is_some_and(|(verifier, _)| verifier.stream_id() == stream_id);
            if !same_stream {
                if let Some((verifier, head)) = current.take() {
                    verification.add_stream(verifier, head);
                }
                let head = stream_head(row, "head_version", "head_hash")?;
                current = Some((StreamVerifier::new(stream_id.as_str()), head));
            }
            if let Some((verifier, _)) = current.as_mut() {
                verifier.push(&chain_link(row)?);
            }
            cursor = (stream_id, row.try_get("stream_version")?);
        }
        events_read += rows.len() as u64;
        progress(VerifyProgress { events_checked: events_read, streams_checked: verification.streams_checked });
        if rows.len() < PAGE as usize {
            break;
        }
    }
    if let Some((verifier, head)) = current.take() {
        verification.add_stream(verifier, head);
    }

    for row in sqlx::query(EMPTIED_STREAMS).fetch_all(&mut *connection).await? {
        let stream_id: String = row.try_get("stream_id")?;
        let head = stream_head(&row, "version", "hash")?;
        verification.add_stream(StreamVerifier::new(stream_id), head);
    }
    verification.breaks.sort_by(|a, b| (&a.stream_id, a.version).cmp(&(&b.stream_id, b.version)));
    Ok(verification)
}

/// A stream head from two nullable columns (`None` when the stream has no head row).
fn stream_head(row: &PgRow, version: &str, hash: &str) -> Result<Option<StreamHead>, StoreError> {
    let version: Option<i64> = row.try_get(version)?;
    let hash: Option<Vec<u8>> = row.try_get(hash)?;
    match (version, hash) {
        (Some(version), Some(hash)) => {
            Ok(Some(StreamHead { version: stored_u64(version, "stream head version")?, hash: decode_hash(&hash)? }))
        }
        _ => Ok(None),
    }
}

fn chain_link(row: &PgRow) -> Result<ChainLink, StoreError> {
    let schema_version: i32 = row.try_get("schema_version")?;
    let hash: Vec<u8> = row.try_get("hash")?;
    Ok(ChainLink {
        event_id: row.try_get("event_id")?,
        stream_version: stored_u64(row.try_get("stream_version")?, "stream version")?,
        event_type: row.try_get("event_type")?,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| StoreError::Corrupt(format!("negative schema version {schema_version}")))?,
        recorded_at: row.try_get("recorded_at")?,
        data: row.try_get("data")?,
        metadata: row.try_get("metadata")?,
        hash: decode_hash(&hash)?,
    })
}

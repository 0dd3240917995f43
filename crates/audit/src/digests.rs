//! Recorded digests: `tally_store::digest::Digest`s kept in `audit_digests` (root, position, counts) and
//! `audit_digest_leaves` (each stream's head), so the store can later be checked against one and the streams that
//! differ named. Used by the digest endpoints and by `tally digest`.
//!
//! The table is a convenience, not the proof: an auditor keeps the root and position somewhere the database's
//! owner cannot write (docs/audit.md).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use tally_store::digest::{Digest, DigestLeaf};
use tally_store::EventHash;
use tracing::instrument;

/// Leaves written per insert statement.
const LEAF_BATCH: usize = 5000;

/// A digest as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedDigest {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub digest: Digest,
}

/// A row of the digest list (no leaves).
#[derive(Debug, Clone, Serialize)]
pub struct DigestSummary {
    pub id: i64,
    pub position: u64,
    pub stream_count: u64,
    pub event_count: u64,
    pub root: EventHash,
    pub created_at: DateTime<Utc>,
}

impl From<&RecordedDigest> for DigestSummary {
    fn from(recorded: &RecordedDigest) -> Self {
        DigestSummary {
            id: recorded.id,
            position: recorded.digest.position,
            stream_count: recorded.digest.stream_count,
            event_count: recorded.digest.event_count,
            root: recorded.digest.root,
            created_at: recorded.created_at,
        }
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_hash(bytes: &[u8]) -> Result<EventHash, sqlx::Error> {
    EventHash::from_slice(bytes).ok_or_else(|| sqlx::Error::Decode("a digest hash is not 32 bytes".into()))
}

/// Records `digest` with its leaves, in one transaction.
#[instrument(skip_all, fields(position = digest.position, stream_count = digest.stream_count))]
pub async fn record_digest(pool: &PgPool, digest: &Digest) -> Result<RecordedDigest, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "insert into audit_digests (position, stream_count, event_count, root)
         values ($1, $2, $3, $4)
         returning id, created_at",
    )
    .bind(to_i64(digest.position))
    .bind(to_i64(digest.stream_count))
    .bind(to_i64(digest.event_count))
    .bind(digest.root.as_bytes().as_slice())
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    for batch in digest.leaves.chunks(LEAF_BATCH) {
        let streams: Vec<&str> = batch.iter().map(|l| l.stream_id.as_str()).collect();
        let versions: Vec<i64> = batch.iter().map(|l| to_i64(l.version)).collect();
        let hashes: Vec<Vec<u8>> = batch.iter().map(|l| l.hash.as_bytes().to_vec()).collect();
        sqlx::query(
            "insert into audit_digest_leaves (digest_id, stream_id, version, hash)
             select $1, * from unnest($2::text[], $3::bigint[], $4::bytea[])",
        )
        .bind(id)
        .bind(&streams)
        .bind(&versions)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(RecordedDigest { id, created_at: row.try_get("created_at")?, digest: digest.clone() })
}

/// The digest recorded with `id`, with its leaves (`None`: no such digest).
#[instrument(skip_all, fields(digest.id = id))]
pub async fn load_digest(pool: &PgPool, id: i64) -> Result<Option<RecordedDigest>, sqlx::Error> {
    let row = sqlx::query(
        "select id, position, stream_count, event_count, root, created_at from audit_digests where id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let leaves = sqlx::query(
        "select stream_id, version, hash from audit_digest_leaves where digest_id = $1 order by stream_id collate \"C\"",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|leaf| {
        Ok(DigestLeaf {
            stream_id: leaf.try_get("stream_id")?,
            version: to_u64(leaf.try_get("version")?),
            hash: to_hash(leaf.try_get::<&[u8], _>("hash")?)?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let digest = Digest {
        position: to_u64(row.try_get("position")?),
        stream_count: to_u64(row.try_get("stream_count")?),
        event_count: to_u64(row.try_get("event_count")?),
        root: to_hash(row.try_get::<&[u8], _>("root")?)?,
        leaves,
    };
    Ok(Some(RecordedDigest { id: row.try_get("id")?, created_at: row.try_get("created_at")?, digest }))
}

/// Recorded digests, newest first, with an id below `before` (keyset paging).
#[instrument(skip_all)]
pub async fn list_digests(pool: &PgPool, before: Option<i64>, limit: i64) -> Result<Vec<DigestSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, position, stream_count, event_count, root, created_at
           from audit_digests
          where $1::bigint is null or id < $1
          order by id desc
          limit $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DigestSummary {
                id: row.try_get("id")?,
                position: to_u64(row.try_get("position")?),
                stream_count: to_u64(row.try_get("stream_count")?),
                event_count: to_u64(row.try_get("event_count")?),
                root: to_hash(row.try_get::<&[u8], _>("root")?)?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

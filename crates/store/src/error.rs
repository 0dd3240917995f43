//! The store's one error type. Database facts are turned into store facts here, at the boundary, so callers match
//! on [`StoreError::WrongExpectedVersion`] and never on SQLSTATE codes.

use std::sync::Arc;
use uuid::Uuid;

use crate::event::ExpectedVersion;

/// The name of the unique constraint on `events (stream_id, stream_version)` in migrations/0001_event_store.sql.
pub(crate) const STREAM_VERSION_CONSTRAINT: &str = "events_stream_version_key";

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the stream was not at the expected version. `actual` is the stream's version
    /// (`None`: the stream does not exist).
    #[error("wrong expected version: expected {expected}, actual {}", describe_version(*actual))]
    WrongExpectedVersion { expected: ExpectedVersion, actual: Option<u64> },

    /// An event id is already in the store, and not as the idempotent retry of this very append.
    #[error("event id {event_id} is already in the store")]
    DuplicateEventId { event_id: Uuid },

    /// The append was refused before reaching the store (empty, malformed names, data the store cannot hold).
    #[error("invalid append: {0}")]
    InvalidAppend(String),

    /// Stored data that does not decode (a negative version, a hash of the wrong length, metadata of the wrong
    /// shape): someone wrote to the store behind its back.
    #[error("corrupt stored event: {0}")]
    Corrupt(String),

    /// The append writer of this store instance has stopped; the append's outcome is unknown (retry it).
    #[error("the event store writer has stopped")]
    WriterStopped,

    /// The database failed. For an append the outcome may be unknown (a lost connection during commit): retry
    /// with the same event ids and expected version, which is idempotent.
    #[error("database error")]
    Database(#[source] Arc<sqlx::Error>),

    /// Another backend failed (KurrentDB: connection lost, deadline exceeded, not leader, access denied). As with
    /// `Database`, an append's outcome may be unknown: retry it with the same event ids.
    #[error("event store unavailable")]
    Unavailable(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(Arc::new(error))
    }
}

impl StoreError {
    /// Whether the backend failed, so an append's outcome may be unknown and the same append may be retried.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(_) | StoreError::Unavailable(_) | StoreError::WriterStopped)
    }

    /// Whether this is a unique violation on a stream's `(stream_id, stream_version)`: another writer got the
    /// version first. Only a writer outside this store's writer task can cause it.
    pub(crate) fn is_stream_version_conflict(&self) -> bool {
        let StoreError::Database(error) = self else { return false };
        let Some(db_error) = error.as_database_error() else { return false };
        db_error.code().as_deref() == Some("23505") && db_error.constraint() == Some(STREAM_VERSION_CONSTRAINT)
    }
}

fn describe_version(version: Option<u64>) -> String {
    match version {
        Some(version) => format!("version {version}"),
        None => "no stream".to_owned(),
    }
}

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

/// Whether a database error means "not reachable now" (503 with `Retry-After`) rather than a fault (500): no
/// connection within the pool's acquire timeout, a refused or broken connection, or a server that is shutting
/// down, out of connections or cancelled the statement (SQLSTATE classes 08, 53 and 57).
pub fn database_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => {
            error.code().is_some_and(|code| ["08", "53", "57"].iter().any(|class| code.starts_with(class)))
        }
        _ => false,
    }
}

fn describe_version(version: Option<u64>) -> String {
    match version {
        Some(version) => format!("version {version}"),
        None => "no stream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_told_apart_from_a_fault() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(database_unreachable(&sqlx::Error::PoolTimedOut));
        assert!(database_unreachable(&sqlx::Error::Io(refused)));
        assert!(!database_unreachable(&sqlx::Error::RowNotFound));
        assert!(!database_unreachable(&sqlx::Error::ColumnNotFound("price".into())));
    }
}

//! `ProjectionError`, and the one question the runtime asks of every error: is it worth retrying?
//!
//! A projector retries what the world may fix by itself (a lost connection, a timeout, a serialization conflict)
//! and stops, visibly, on what replaying the same event would only repeat (an event that does not decode, a row
//! that breaks a constraint, an event that contradicts the read model). The second kind is a poison event.

use std::sync::Arc;
use std::time::Duration;
use tally_store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProjectionError {
    /// The event store failed (reading the log, or its head).
    #[error("event store error")]
    Store(#[source] StoreError),

    /// The read-model database failed.
    #[error("database error")]
    Database(#[source] Arc<sqlx::Error>),

    /// A stored event's data does not decode as the event its type names.
    #[error("event at position {position} ({event_type}) does not decode: {reason}")]
    Decode { position: u64, event_type: String, reason: String },

    /// An event that cannot follow what the read model holds (e.g. a payment for an order never placed).
    #[error("event at position {position} does not fit the read model: {reason}")]
    Inconsistent { position: u64, reason: String },

    /// No projection has this name.
    #[error("unknown projection {name}")]
    UnknownProjection { name: String },

    /// The projection stopped on a poison event; rebuild it (or retry it) once the cause is fixed.
    #[error("projection {name} failed at position {position}: {error}")]
    Failed { name: String, position: u64, error: String },

    /// Another rebuild of this projection is running.
    #[error("a rebuild of projection {name} is already running")]
    RebuildInProgress { name: String },

    /// A rebuild could not take the live tables' locks to swap them in (long queries held them).
    #[error("could not swap the rebuilt tables of {name} in after {attempts} attempts")]
    SwapTimedOut { name: String, attempts: u32 },

    /// A projector task panicked or was cancelled.
    #[error("projector task for {name} ended abnormally: {reason}")]
    TaskFailed { name: String, reason: String },
}

impl From<sqlx::Error> for ProjectionError {
    fn from(error: sqlx::Error) -> Self {
        ProjectionError::Database(Arc::new(error))
    }
}

impl From<StoreError> for ProjectionError {
    fn from(error: StoreError) -> Self {
        ProjectionError::Store(error)
    }
}

impl ProjectionError {
    /// Whether trying again later may succeed. `false` means applying the same events would fail the same way:
    /// the event is poison and its projection must stop.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Store(error) => !matches!(error, StoreError::Corrupt(_)),
            ProjectionError::Database(error) => is_transient_sqlx(error),
            ProjectionError::Decode { .. } | ProjectionError::Inconsistent { .. } => false,
            ProjectionError::UnknownProjection { .. }
            | ProjectionError::Failed { .. }
            | ProjectionError::RebuildInProgress { .. }
            | ProjectionError::SwapTimedOut { .. }
            | ProjectionError::TaskFailed { .. } => true,
        }
    }

    /// The message recorded in the status table: the error and its causes, lowercase, one line.
    pub fn describe(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// Database errors by SQLSTATE class: connection trouble (08), invalid transaction state such as an idle
/// timeout (25), rollbacks for serialization or deadlock (40), lack of resources (53), locks not available (55),
/// cancellation or shutdown (57) and system errors (58) may pass. Every other class (data exceptions, integrity and
/// cardinality violations, a missing table or column) repeats on every retry.
fn is_transient_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db_error) => {
            let code = db_error.code().unwrap_or_default();
            ["08", "25", "40", "53", "55", "57", "58"].iter().any(|class| code.starts_with(class))
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::Encode(_) => false,
        sqlx::Error::TypeNotFound { .. } | sqlx::Error::ColumnNotFound(_) => false,
        sqlx::Error::ColumnIndexOutOfBounds { .. } => false,
        _ => true,
    }
}

/// How long to wait before the `attempt`-th retry (1-based): 100 ms doubling up to 1 s. The cap is what a
/// projection may lag the database's return after an outage (it resumes from its checkpoint within about a
/// second); the price is one connection attempt a second per projection while the database is away.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let millis = 100u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(6));
    Duration::from_millis(millis.min(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poison_errors_are_not_transient() {
        let decode = ProjectionError::Decode { position: 3, event_type: "OrderPlaced".into(), reason: "x".into() };
        assert!(!decode.is_transient());
        assert!(!ProjectionError::Inconsistent { position: 1, reason: "x".into() }.is_transient());
        assert!(ProjectionError::from(sqlx::Error::PoolTimedOut).is_transient());
        assert!(ProjectionError::Store(StoreError::WriterStopped).is_transient());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_secs(1));
    }
}

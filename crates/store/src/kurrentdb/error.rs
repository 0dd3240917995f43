//! The adapter's errors, and the one place they become the port's [`StoreError`].
//!
//! - A wrong expected version reported by the server becomes [`StoreError::WrongExpectedVersion`] with the
//!   caller's expectation (the adapter writes at exact revisions of its own, see `append`) and the server's
//!   current revision as `actual` (`None` when the stream does not exist).
//! - A request the server refuses as invalid during an append (gRPC `INVALID_ARGUMENT`: an append or event over
//!   the server's `MaxAppendSize` / `MaxAppendEventSize`) becomes [`StoreError::InvalidAppend`].
//! - Stored events that do not decode as Tally events become [`StoreError::Corrupt`].
//! - Everything else (connection lost, timeouts, not leader, access denied) is an unavailable backend:
//!   [`StoreError::Unavailable`], with the adapter's error as its source. For an append this means "outcome
//!   unknown: retry with the same event ids", which the port already promises.

use std::sync::Arc;

use kurrentdb::{CurrentRevision, StreamState};

use crate::error::StoreError;
use crate::event::ExpectedVersion;

/// gRPC `INVALID_ARGUMENT` (tonic's `Code` is not re-exported by the client, so it is compared as a number).
const GRPC_INVALID_ARGUMENT: i32 = 3;

/// What can go wrong in the KurrentDB adapter, before it is mapped into a [`StoreError`].
#[derive(Debug, thiserror::Error)]
pub enum KurrentDbError {
    /// The connection string does not parse (`url` is shown with its password redacted).
    #[error("invalid KurrentDB connection string {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The client could not be created from valid settings (TLS files, runtime).
    #[error("cannot create the KurrentDB client: {0}")]
    ClientSetup(String),

    /// A request to the server failed.
    #[error("KurrentDB {operation} failed")]
    Request {
        operation: &'static str,
        #[source]
        source: kurrentdb::Error,
    },

    /// A stored event is not a well-formed Tally event.
    #[error("stream {stream_id} version {version}: {reason}")]
    Decode { stream_id: String, version: u64, reason: String },

    /// The server reported an append as successful but the stream does not hold the appended events there.
    #[error("stream {stream_id}: {reason}")]
    Inconsistent { stream_id: String, reason: String },
}

impl KurrentDbError {
    pub(crate) fn request(operation: &'static str) -> impl FnOnce(kurrentdb::Error) -> KurrentDbError {
        move |source| KurrentDbError::Request { operation, source }
    }
}

impl From<KurrentDbError> for StoreError {
    fn from(error: KurrentDbError) -> Self {
        match error {
            KurrentDbError::Request {
                source: kurrentdb::Error::WrongExpectedVersion { expected, current }, ..
            } => wrong_expected_version(expected_from_stream_state(expected), current),
            KurrentDbError::Decode { .. } | KurrentDbError::Inconsistent { .. } => {
                StoreError::Corrupt(error.to_string())
            }
            other => unavailable(other),
        }
    }
}

/// The port's conflict error for a caller that expected `expected` and a stream whose revision is `current`.
pub(crate) fn wrong_expected_version(expected: ExpectedVersion, current: CurrentRevision) -> StoreError {
    StoreError::WrongExpectedVersion { expected, actual: actual_version(current) }
}

/// The stream's version as the port states it: `None` when the stream does not exist.
pub(crate) fn actual_version(current: CurrentRevision) -> Option<u64> {
    match current {
        CurrentRevision::Current(revision) => Some(revision),
        CurrentRevision::NoStream => None,
    }
}

/// The port's expectation for a KurrentDB one. `StreamExists` has no counterpart (the adapter never sends it) and
/// reads as `Any`.
pub(crate) fn expected_from_stream_state(state: StreamState) -> ExpectedVersion {
    match state {
        StreamState::Any | StreamState::StreamExists => ExpectedVersion::Any,
        StreamState::NoStream => ExpectedVersion::NoStream,
        StreamState::StreamRevision(revision) => ExpectedVersion::Exact(revision),
    }
}

/// The KurrentDB expectation for a port one: revisions are versions (both start at 0).
pub(crate) fn stream_state_for(expected: ExpectedVersion) -> StreamState {
    match expected {
        ExpectedVersion::Any => StreamState::Any,
        ExpectedVersion::NoStream => StreamState::NoStream,
        ExpectedVersion::Exact(version) => StreamState::StreamRevision(version),
    }
}

/// Maps an append failure: the server's refusal of the request itself is an invalid append, the rest as usual.
pub(crate) fn append_error(error: KurrentDbError) -> StoreError {
    match &error {
        KurrentDbError::Request { source: kurrentdb::Error::Grpc { code, message }, .. } => {
            rejected_append(*code as i32, message).unwrap_or_else(|| error.into())
        }
        _ => error.into(),
    }
}

/// `Some(InvalidAppend)` when a gRPC status `code` means the server refused the append's content.
pub(crate) fn rejected_append(code: i32, message: &str) -> Option<StoreError> {
    (code == GRPC_INVALID_ARGUMENT).then(|| StoreError::InvalidAppend(format!("refused by KurrentDB: {message}")))
}

fn unavailable(error: KurrentDbError) -> StoreError {
    StoreError::Unavailable(Arc::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(source: kurrentdb::Error) -> KurrentDbError {
        KurrentDbError::Request { operation: "append", source }
    }

    #[test]
    fn expected_versions_map_both_ways() {
        for expected in
            [ExpectedVersion::Any, ExpectedVersion::NoStream, ExpectedVersion::Exact(0), ExpectedVersion::Exact(41)]
        {
            assert_eq!(expected_from_stream_state(stream_state_for(expected)), expected, "{expected:?}");
        }
        assert_eq!(
            stream_state_for(ExpectedVersion::Exact(0)),
            StreamState::StreamRevision(0),
            "version 0 is revision 0"
        );
        assert_eq!(expected_from_stream_state(StreamState::StreamExists), ExpectedVersion::Any);
    }

    #[test]
    fn a_wrong_expected_version_keeps_both_sides() {
        let error = request(kurrentdb::Error::WrongExpectedVersion {
            expected: StreamState::StreamRevision(3),
            current: CurrentRevision::Current(5),
        });
        assert!(matches!(
            StoreError::from(error),
            StoreError::WrongExpectedVersion { expected: ExpectedVersion::Exact(3), actual: Some(5) }
        ));
        let missing = request(kurrentdb::Error::WrongExpectedVersion {
            expected: StreamState::StreamRevision(0),
            current: CurrentRevision::NoStream,
        });
        assert!(matches!(
            StoreError::from(missing),
            StoreError::WrongExpectedVersion { expected: ExpectedVersion::Exact(0), actual: None }
        ));
        let theirs = wrong_expected_version(ExpectedVersion::NoStream, CurrentRevision::Current(0));
        assert!(matches!(
            theirs,
            StoreError::WrongExpectedVersion { expected: ExpectedVersion::NoStream, actual: Some(0) }
        ));
    }

    #[test]
    fn refused_appends_are_invalid_and_other_failures_unavailable() {
        assert!(matches!(rejected_append(3, "maximum append size exceeded"), Some(StoreError::InvalidAppend(_))));
        assert!(rejected_append(14, "unavailable").is_none());

        for source in
            [kurrentdb::Error::ConnectionClosed, kurrentdb::Error::DeadlineExceeded, kurrentdb::Error::AccessDenied]
        {
            let mapped = append_error(request(source));
            let StoreError::Unavailable(inner) = &mapped else { panic!("unavailable, got {mapped:?}") };
            let chain = inner.to_string();
            assert!(chain.contains("KurrentDB append failed"), "the adapter's error is the source: {chain}");
        }
    }

    #[test]
    fn undecodable_events_are_corrupt() {
        let error = KurrentDbError::Decode { stream_id: "order-1".into(), version: 2, reason: "no tally_hash".into() };
        let StoreError::Corrupt(message) = StoreError::from(error) else { panic!("corrupt") };
        assert_eq!(message, "stream order-1 version 2: no tally_hash");
    }
}

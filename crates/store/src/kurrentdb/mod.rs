//! The KurrentDB (EventStoreDB) adapter, on the official `kurrentdb` gRPC client.
//!
//! KurrentDB already is an event store with streams, optimistic concurrency and a global log (`$all`), so the
//! adapter mostly translates:
//!
//! | port | KurrentDB |
//! | --- | --- |
//! | stream version (from 0) | stream revision (from 0) |
//! | `Any` / `NoStream` / `Exact(v)` | checked by the adapter, then written at the exact revision it read (`append`) |
//! | `event_id` | the event's id (KurrentDB deduplicates a retry at the same revision) |
//! | `data`, event type | JSON data, event type (`$` types are KurrentDB's and refused) |
//! | metadata, schema version, `recorded_at`, `hash` | one custom-metadata JSON object (`mapping`) |
//! | `position` (`u64`) | the event's prepare position in the transaction log (`mapping`) |
//! | global log | `$all` without system events or `$` streams, filtered server-side where possible (`read`) |
//! | waiting for new events | a catch-up subscription to `$all` (`read`) |
//! | verification | the shared verifier over stream reads; the head is the stream's last event (`verify`) |
//!
//! # Layout
//! - `url`: which connection strings select KurrentDB, parsing them into client settings, redacting passwords.
//! - `error`: the adapter's errors and their mapping into `StoreError`.
//! - `mapping`: how an event is laid out (ids, custom metadata, hash, `recorded_at`, positions) and decoded.
//! - `append`: the append decision (retries, conflicts, duplicate ids) and the write at an exact revision.
//! - `read`: stream reads, the global log, the head, waiting.
//! - `verify`: hash-chain verification of one stream or all of them.

mod append;
mod error;
mod mapping;
mod read;
mod url;
mod verify;

use futures::future::BoxFuture;
use kurrentdb::Client;
use std::fmt;
use std::time::Duration;
use tracing::instrument;

use crate::error::StoreError;
use crate::event::{AppendResult, ExpectedVersion, LogFilter, LogSlice, NewEvent, ReadStream, RecordedEvent};
use crate::port::EventStore;
use crate::verify::{Verification, VerifyProgress};
pub use error::KurrentDbError;
pub use url::{is_kurrentdb_url, redact, SCHEMES};

/// The event store on a KurrentDB / EventStoreDB node or cluster. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct KurrentDbEventStore {
    client: Client,
    /// The connection string with its password redacted, for logs and `Debug`.
    url: String,
}

impl fmt::Debug for KurrentDbEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KurrentDbEventStore").field("url", &self.url).finish_non_exhaustive()
    }
}

impl KurrentDbEventStore {
    /// Connects to the node or cluster `url` names (`esdb://`, `esdb+discover://`, `kurrentdb://`,
    /// `kurrentdb+discover://`, with the client's query parameters such as `?tls=false`) and checks that the
    /// global log can be read, so a wrong address or missing permission fails here rather than on first use.
    /// The user in the connection string must be allowed to read `$all` (by default: an admin or `$ops` member).
    /// Must be called inside a Tokio runtime.
    #[instrument(skip_all, fields(url = %url::redact(url)))]
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let settings = url::client_settings(url)?;
        let client = Client::new(settings).map_err(|e| KurrentDbError::ClientSetup(e.to_string()))?;
        let store = KurrentDbEventStore { client, url: url::redact(url) };
        read::head_position(&store.client).await?;
        Ok(store)
    }

    /// The underlying client, for what the port does not cover (operations, projections).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// How long an append, a stream read or a head read of KurrentDB may take before it counts as unavailable. With the cluster unreachable the
/// client keeps rediscovering it (`maxDiscoverAttempts` x `discoveryInterval`) and a request would hang; a command
/// must answer 503 within 2 s instead (docs/decisions.md, 2026-12-04). An append cut off here has an unknown
/// outcome, like any lost answer: repeating it with the same event ids is safe.
const CALL_DEADLINE: Duration = Duration::from_millis(1500);

/// `call`, or `StoreError::Unavailable` once [`CALL_DEADLINE`] has passed.
async fn within_deadline<T>(call: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    match tokio::time::timeout(CALL_DEADLINE, call).await {
        Ok(result) => result,
        Err(_) => {
            let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "KurrentDB did not answer in time");
            Err(StoreError::Unavailable(std::sync::Arc::new(timed_out)))
        }
    }
}

impl EventStore for KurrentDbEventStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendResult, StoreError>> {
        Box::pin(within_deadline(append::append(&self.client, stream_id, expected, events)))
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        read: ReadStream,
    ) -> BoxFuture<'a, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(within_deadline(async move {
            let stored = read::stream_events(&self.client, stream_id, read, false).await?;
            Ok(stored.into_iter().map(mapping::StoredEvent::into_recorded).collect::<Result<_, _>>()?)
        }))
    }

    fn read_all<'a>(
        &'a self,
        after: u64,
        limit: usize,
        filter: &'a LogFilter,
    ) -> BoxFuture<'a, Result<LogSlice, StoreError>> {
        // No deadline: a filtered read of a long log may legitimately scan for a while (followers and the audit
        // API read it; neither answers a command).
        Box::pin(async move { Ok(read::read_log(&self.client, after, limit, filter).await?) })
    }

    fn find_event<'a>(
        &'a self,
        stream_id: &'a str,
        event_id: uuid::Uuid,
    ) -> BoxFuture<'a, Result<Option<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            // No event-id index in KurrentDB: look among the stream's most recent events.
            let tail = self.read_stream(stream_id, ReadStream::backwards_from_end(crate::port::FIND_EVENT_WINDOW));
            Ok(tail.await?.into_iter().find(|event| event.event_id == event_id))
        })
    }

    fn head_position(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(within_deadline(async move { Ok(read::head_position(&self.client).await?) }))
    }

    fn wait_for_position_after(&self, after: u64, timeout: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Ok(read::wait_for_position_after(&self.client, after, timeout).await?) })
    }

    fn verify_stream<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Verification, StoreError>> {
        Box::pin(async move { Ok(verify::verify_stream(&self.client, stream_id).await?) })
    }

    fn verify_all<'a>(
        &'a self,
        progress: &'a (dyn Fn(VerifyProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<Verification, StoreError>> {
        Box::pin(async move { Ok(verify::verify_all(&self.client, progress).await?) })
    }
}

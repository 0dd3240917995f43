//! The `EventStore` port: the operations the command side, the projectors and the audit API need from an event
//! store, whatever the storage behind it.
//!
//! Methods return boxed futures so the trait is object safe: callers hold an `Arc<dyn EventStore>` and pick the
//! adapter at start-up. Positions are `u64`s that increase in log order; 0 means "before the first event".

use futures::future::BoxFuture;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{AppendResult, ExpectedVersion, LogFilter, LogSlice, NewEvent, ReadStream, RecordedEvent};
use crate::verify::{Verification, VerifyProgress};

/// How far back from a stream's end an adapter without an event-id index looks in [`EventStore::find_event`]:
/// far more events than one stream takes in while a client retries a command.
pub const FIND_EVENT_WINDOW: usize = 10_000;

/// An event store. Every adapter passes the same [`conformance`](crate::conformance) suite.
pub trait EventStore: Send + Sync {
    /// Appends `events` to `stream_id` as one atomic unit if the stream is at `expected`.
    ///
    /// On a mismatch: [`StoreError::WrongExpectedVersion`]. Appending the same event ids to the same stream at the
    /// same expected version again returns the first result and writes nothing (idempotent retry). Dropping the
    /// returned future does not withdraw an append already handed to the store: retry it to learn the outcome.
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendResult, StoreError>>;

    /// Up to `read.limit` events of one stream from version `read.from` (inclusive), forwards or backwards.
    /// A stream that does not exist reads as empty.
    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        read: ReadStream,
    ) -> BoxFuture<'a, Result<Vec<RecordedEvent>, StoreError>>;

    /// Up to `limit` events of the global log with a position greater than `after`, in log order, that pass
    /// `filter`. A reader that follows [`LogSlice::last_position`] sees every event exactly once.
    fn read_all<'a>(
        &'a self,
        after: u64,
        limit: usize,
        filter: &'a LogFilter,
    ) -> BoxFuture<'a, Result<LogSlice, StoreError>>;

    /// The event `event_id` if `stream_id` holds it. How a command run again under the same `Idempotency-Key`
    /// recognises that an earlier attempt was recorded (its event ids are derived from the key). PostgreSQL and
    /// the in-memory store look at the whole stream; KurrentDB, which keeps no index of event ids, at the stream's
    /// last [`FIND_EVENT_WINDOW`] events.
    fn find_event<'a>(
        &'a self,
        stream_id: &'a str,
        event_id: Uuid,
    ) -> BoxFuture<'a, Result<Option<RecordedEvent>, StoreError>>;

    /// The position of the last event in the log (0 when it is empty).
    fn head_position(&self) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Waits until the log holds an event after `after`, or until `timeout` passes, and returns the head position
    /// this store knows of (at most `after` on timeout). A wake-up hint: read the log to get the events.
    fn wait_for_position_after(&self, after: u64, timeout: Duration) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Recomputes the hash chain of one stream and compares it with the stream's recorded head.
    fn verify_stream<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Verification, StoreError>>;

    /// Verifies every stream in the store, telling `progress` now and then how far it got (pass
    /// [`no_progress`](crate::verify::no_progress) when nobody watches).
    fn verify_all<'a>(
        &'a self,
        progress: &'a (dyn Fn(VerifyProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<Verification, StoreError>>;
}

/// Waits until a head watch passes `after` or `timeout` passes; returns the last head seen.
pub(crate) async fn wait_for_head(mut heads: watch::Receiver<u64>, after: u64, timeout: Duration) -> u64 {
    let passed = match tokio::time::timeout(timeout, heads.wait_for(|head| *head > after)).await {
        Ok(Ok(head)) => Some(*head),
        // Timed out, or the watch's sender is gone (the store is shutting down).
        Ok(Err(_)) | Err(_) => None,
    };
    passed.unwrap_or_else(|| *heads.borrow())
}

/// Raises a head watch to `position` if that is news (the watch never moves backwards).
pub(crate) fn publish_head(heads: &watch::Sender<u64>, position: u64) {
    heads.send_if_modified(|head| {
        if position > *head {
            *head = position;
            true
        } else {
            false
        }
    });
}

/// Every event after `after` that passes `filter`, up to the head of the log, and the position the log was examined
/// up to (read on from there next time). For the readers of rare events (the API keys, the webhook subscriptions):
/// a filtered read examines a window of the log at a time, so this reads on until a read makes no progress.
pub async fn read_to_head(store: &dyn EventStore, after: u64, filter: &LogFilter) -> Result<LogSlice, StoreError> {
    const BATCH: usize = 500;
    let mut slice = LogSlice { events: Vec::new(), last_position: after };
    loop {
        let next = store.read_all(slice.last_position, BATCH, filter).await?;
        if next.last_position <= slice.last_position {
            return Ok(slice);
        }
        slice.events.extend(next.events);
        slice.last_position = next.last_position;
    }
}

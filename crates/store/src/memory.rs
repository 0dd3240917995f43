//! The in-memory adapter: the whole store behind one mutex, for fast command-handler and projection tests.
//!
//! It makes the same decisions as the PostgreSQL adapter (the shared [`Planner`]) and computes the same hashes,
//! and it passes the same conformance suite. Positions are contiguous, starting at 1.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

use crate::append::{KnownEvent, Planner, PreparedAppend};
use crate::error::StoreError;
use crate::event::{
    AppendResult, Direction, ExpectedVersion, LogFilter, LogSlice, NewEvent, ReadStream, RecordedEvent,
};
use crate::port::{publish_head, wait_for_head, EventStore};
use crate::verify::{ChainLink, StreamHead, StreamVerifier, Verification, VerifyProgress};

/// An event store held in memory. Cheap to create; nothing survives the process.
#[derive(Debug)]
pub struct MemoryEventStore {
    state: Mutex<State>,
    heads: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// The log: the event at position `p` is at index `p - 1`.
    events: Vec<RecordedEvent>,
    streams: HashMap<String, StreamState>,
    /// Index into `events` of every event id.
    ids: HashMap<Uuid, usize>,
    last_recorded_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct StreamState {
    /// Indexes into `events`, by version.
    events: Vec<usize>,
    head: StreamHead,
}

impl Default for MemoryEventStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryEventStore {
    pub fn new() -> Self {
        MemoryEventStore { state: Mutex::new(State::default()), heads: watch::Sender::new(0) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half updated (every update is a few pushes
        // after all checks), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append_now(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let append = PreparedAppend::new(stream_id, expected, events)?;
        let mut state = self.lock();
        // Microseconds, like PostgreSQL's timestamptz, and never earlier than the previous append.
        let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_default();
        let recorded_at = state.last_recorded_at.map_or(now, |last| last.max(now));

        let heads: HashMap<String, StreamHead> =
            state.streams.get(stream_id).map(|s| (stream_id.to_owned(), s.head)).into_iter().collect();
        let known = append
            .events
            .iter()
            .filter_map(|e| {
                let index = *state.ids.get(&e.event.event_id)?;
                let stored = &state.events[index];
                let known = KnownEvent {
                    stream_id: stored.stream_id.clone(),
                    stream_version: stored.stream_version,
                    position: stored.position,
                    recorded_at: stored.recorded_at,
                };
                Some((e.event.event_id, known))
            })
            .collect();
        let mut planner = Planner::new(state.events.len() as u64, recorded_at, heads, known);
        let result = planner.plan(0, &append)?;

        for row in planner.rows() {
            let prepared = &append.events[row.index];
            let index = state.events.len();
            state.events.push(RecordedEvent {
                event_id: prepared.event.event_id,
                stream_id: append.stream_id.clone(),
                stream_version: row.stream_version,
                position: row.position,
                event_type: prepared.event.event_type.clone(),
                schema_version: prepared.event.schema_version,
                data: prepared.event.data.clone(),
                metadata: prepared.event.metadata.clone(),
                recorded_at,
                hash: row.hash,
            });
            state.ids.insert(prepared.event.event_id, index);
            let head = StreamHead { version: row.stream_version, hash: row.hash };
            let stream = state
                .streams
                .entry(append.stream_id.clone())
                .or_insert_with(|| StreamState { events: Vec::new(), head });
            stream.events.push(index);
            stream.head = head;
        }
        state.last_recorded_at = Some(recorded_at);
        let log_head = planner.log_head();
        drop(state);
        publish_head(&self.heads, log_head);
        Ok(result)
    }

    fn read_stream_now(&self, stream_id: &str, read: ReadStream) -> Vec<RecordedEvent> {
        let state = self.lock();
        let Some(stream) = state.streams.get(stream_id) else { return Vec::new() };
        let versions = stream.events.len() as u64;
        let selected: Vec<usize> = match read.direction {
            Direction::Forwards => {
                let from = usize::try_from(read.from.min(versions)).unwrap_or(usize::MAX);
                stream.events.iter().skip(from).take(read.limit).copied().collect()
            }
            Direction::Backwards if versions == 0 => Vec::new(),
            Direction::Backwards => {
                let from = usize::try_from(read.from.min(versions - 1)).unwrap_or(usize::MAX);
                stream.events[..=from].iter().rev().take(read.limit).copied().collect()
            }
        };
        selected.into_iter().map(|index| state.events[index].clone()).collect()
    }

    fn read_all_now(&self, after: u64, limit: usize, filter: &LogFilter) -> LogSlice {
        if limit == 0 {
            return LogSlice { events: Vec::new(), last_position: after };
        }
        let state = self.lock();
        let head = state.events.len() as u64;
        let start = usize::try_from(after.min(head)).unwrap_or(usize::MAX);
        let events: Vec<RecordedEvent> = state.events[start..]
            .iter()
            .filter(|e| filter.matches(&e.stream_id, &e.event_type))
            .take(limit)
            .cloned()
            .collect();
        let last_position = match events.last() {
            Some(last) if events.len() == limit => last.position,
            // Fewer than asked: every later event was examined.
            _ => head.max(after),
        };
        LogSlice { events, last_position }
    }

    fn verify_now(&self, only: Option<&str>) -> Verification {
        let state = self.lock();
        let mut stream_ids: Vec<&String> = match only {
            Some(stream_id) => state.streams.keys().filter(|s| s.as_str() == stream_id).collect(),
            None => state.streams.keys().collect(),
        };
        stream_ids.sort();
        let mut verification = Verification::default();
        for stream_id in stream_ids {
            let stream = &state.streams[stream_id];
            let mut verifier = StreamVerifier::new(stream_id.as_str());
            for &index in &stream.events {
                verifier.push(&chain_link(&state.events[index]));
            }
            verification.add_stream(verifier, Some(stream.head));
        }
        verification
    }
}

fn chain_link(event: &RecordedEvent) -> ChainLink {
    ChainLink {
        event_id: event.event_id,
        stream_version: event.stream_version,
        event_type: event.event_type.clone(),
        schema_version: event.schema_version,
        recorded_at: event.recorded_at,
        data: event.data.clone(),
        metadata: serde_json::to_value(&event.metadata).unwrap_or_default(),
        hash: event.hash,
    }
}

impl EventStore for MemoryEventStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendResult, StoreError>> {
        Box::pin(async move { self.append_now(stream_id, expected, events) })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        read: ReadStream,
    ) -> BoxFuture<'a, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(async move { Ok(self.read_stream_now(stream_id, read)) })
    }

    fn read_all<'a>(
        &'a self,
        after: u64,
        limit: usize,
        filter: &'a LogFilter,
    ) -> BoxFuture<'a, Result<LogSlice, StoreError>> {
        Box::pin(async move { Ok(self.read_all_now(after, limit, filter)) })
    }

    fn find_event<'a>(
        &'a self,
        stream_id: &'a str,
        event_id: Uuid,
    ) -> BoxFuture<'a, Result<Option<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            let state = self.lock();
            let found = state.ids.get(&event_id).map(|&index| &state.events[index]);
            Ok(found.filter(|event| event.stream_id == stream_id).cloned())
        })
    }

    fn head_position(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Ok(self.lock().events.len() as u64) })
    }

    fn wait_for_position_after(&self, after: u64, timeout: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Ok(wait_for_head(self.heads.subscribe(), after, timeout).await) })
    }

    fn verify_stream<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Verification, StoreError>> {
        Box::pin(async move { Ok(self.verify_now(Some(stream_id))) })
    }

    fn verify_all<'a>(
        &'a self,
        progress: &'a (dyn Fn(VerifyProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<Verification, StoreError>> {
        Box::pin(async move {
            let verification = self.verify_now(None);
            progress(VerifyProgress {
                events_checked: verification.events_checked,
                streams_checked: verification.streams_checked,
            });
            Ok(verification)
        })
    }
}

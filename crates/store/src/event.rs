//! The port's vocabulary: what a caller appends ([`NewEvent`]), what the store records ([`RecordedEvent`]), and
//! the arguments and answers of appends and reads.
//!
//! These types are shared by every adapter, so they say nothing about how an adapter stores an event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use uuid::Uuid;

use crate::hash::EventHash;

/// The stream version an append expects to find. Versions start at 0 for a stream's first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version is (creating the stream if it does not exist).
    Any,
    /// The stream must not exist yet: the first event appended gets version 0.
    NoStream,
    /// The stream's last event must have this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `current` (`None`: no stream) satisfies this expectation.
    pub fn is_satisfied_by(self, current: Option<u64>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current.is_none(),
            ExpectedVersion::Exact(version) => current == Some(version),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// Who caused an event and why: stored with every event (as JSON, absent fields omitted) and covered by its hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The request or process this event belongs to (shared by every event it caused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The command or event that directly caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Who did it: the authenticated API key (`apikey-{uuid}`) or a worker's name, set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The actor's name for people (an API key's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// On whose behalf the client said it acted (HTTP `X-Actor`): recorded as claimed, not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_actor: Option<String>,
    /// The client's `Idempotency-Key`, when the request carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The distributed trace the append ran in (W3C trace id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// An event to append. Its id makes retries idempotent: send the same ids again after an unknown outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub data: Value,
    pub metadata: Metadata,
}

impl NewEvent {
    /// An event with a fresh time-ordered id, schema version 1 and empty metadata.
    pub fn new(event_type: impl Into<String>, data: Value) -> Self {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: 1,
            data,
            metadata: Metadata::default(),
        }
    }

    /// The same event with the given id (a command handler derives ids to make its retries idempotent).
    #[must_use]
    pub fn with_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }

    #[must_use]
    pub fn with_schema_version(mut self, schema_version: u32) -> Self {
        self.schema_version = schema_version;
        self
    }

    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// An event as the store recorded it. Its JSON form (serde) is what the audit API, the live tail and the JSON-lines
/// export show: these fields in this order, `hash` as 64 hex digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Unique in the store.
    pub event_id: Uuid,
    pub stream_id: String,
    /// 0 for the stream's first event, then +1 per event.
    pub stream_version: u64,
    /// Place in the global log: strictly increasing in log order (not necessarily contiguous on every adapter).
    pub position: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub data: Value,
    pub metadata: Metadata,
    /// When the store recorded it, in UTC, with microsecond precision.
    pub recorded_at: DateTime<Utc>,
    /// SHA-256 over the previous event's hash in this stream and this event (docs/hash-chain.md).
    pub hash: EventHash,
}

/// What a successful append reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppendResult {
    /// The stream's version after the append: the version of its last event, the `Exact` to expect next.
    pub next_version: u64,
    /// The global position of the last event appended (for read-your-writes on the read side).
    pub position: u64,
    /// When the store recorded the appended events (so a caller can report it without reading them back).
    pub recorded_at: DateTime<Utc>,
}

/// Which way to read a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forwards,
    Backwards,
}

/// A bounded read of one stream: up to `limit` events starting at version `from` (inclusive), in `direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadStream {
    pub direction: Direction,
    pub from: u64,
    pub limit: usize,
}

impl ReadStream {
    /// Versions `from, from + 1, ...`.
    pub fn forwards(from: u64, limit: usize) -> Self {
        ReadStream { direction: Direction::Forwards, from, limit }
    }

    /// Versions `from, from - 1, ...` down to 0.
    pub fn backwards(from: u64, limit: usize) -> Self {
        ReadStream { direction: Direction::Backwards, from, limit }
    }

    /// The last `limit` events, newest first.
    pub fn backwards_from_end(limit: usize) -> Self {
        ReadStream::backwards(u64::MAX, limit)
    }
}

/// Which events of the global log to return. The default passes every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only streams whose id starts with this (e.g. `"order-"`).
    pub stream_prefix: Option<String>,
    /// Only these event types; empty means every type.
    pub event_types: Vec<String>,
}

impl LogFilter {
    /// Every event.
    pub fn all() -> Self {
        LogFilter::default()
    }

    /// Events of streams whose id starts with `prefix`.
    pub fn stream_prefix(prefix: impl Into<String>) -> Self {
        LogFilter { stream_prefix: Some(prefix.into()), event_types: Vec::new() }
    }

    /// Events of these types.
    pub fn event_types<I, S>(types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        LogFilter { stream_prefix: None, event_types: types.into_iter().map(Into::into).collect() }
    }

    /// Whether the filter passes every event.
    pub fn is_all(&self) -> bool {
        self.stream_prefix.is_none() && self.event_types.is_empty()
    }

    /// Whether an event of `stream_id` and `event_type` passes.
    pub fn matches(&self, stream_id: &str, event_type: &str) -> bool {
        let prefix_ok = self.stream_prefix.as_deref().is_none_or(|prefix| stream_id.starts_with(prefix));
        let type_ok = self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type);
        prefix_ok && type_ok
    }
}

/// One page of the global log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSlice {
    /// Matching events after the requested position, in log order.
    pub events: Vec<RecordedEvent>,
    /// The log was examined up to this position: pass it as `after` to read on. It can pass the last returned
    /// event (events the filter skipped). When `events` is empty and `last_position` equals the `after` asked
    /// for, the reader is at the head of the log: wait for new events.
    pub last_position: u64,
}

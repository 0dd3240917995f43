//! The append decision every adapter shares: validating an append before it reaches storage, and deciding, given
//! the streams' heads and the event ids already stored, whether each append is written, is an idempotent retry,
//! or conflicts, and which version, position and hash each new event gets.
//!
//! The PostgreSQL writer plans a whole group-commit batch with one [`Planner`] (so appends to the same stream in
//! one batch are checked in order against each other); the in-memory adapter plans one append at a time.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{AppendResult, ExpectedVersion, NewEvent};
use crate::hash::{canonical_json, EventHash, HashInput};
use crate::verify::StreamHead;

/// Stream ids are indexed: PostgreSQL refuses index entries past ~2.7 KB, so ids are kept well below.
pub(crate) const MAX_STREAM_ID_BYTES: usize = 512;
pub(crate) const MAX_EVENT_TYPE_BYTES: usize = 256;
/// One event's data and metadata together.
pub(crate) const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// serde_json refuses to read back JSON nested deeper than 128 levels.
pub(crate) const MAX_JSON_DEPTH: usize = 100;

/// An append that passed validation, with its JSON in canonical form (hashed, and stored as such).
#[derive(Debug, Clone)]
pub(crate) struct PreparedAppend {
    pub(crate) stream_id: String,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<PreparedEvent>,
}

#[derive(Debug, Clone)]
pub(crate) struct PreparedEvent {
    pub(crate) event: NewEvent,
    pub(crate) data_json: String,
    pub(crate) metadata_json: String,
}

impl PreparedEvent {
    pub(crate) fn hash_input<'a>(
        &'a self,
        stream_id: &'a str,
        stream_version: u64,
        recorded_at: DateTime<Utc>,
    ) -> HashInput<'a> {
        HashInput {
            event_id: self.event.event_id,
            stream_id,
            stream_version,
            event_type: &self.event.event_type,
            schema_version: self.event.schema_version,
            recorded_at,
            data_json: &self.data_json,
            metadata_json: &self.metadata_json,
        }
    }
}

impl PreparedAppend {
    /// Checks what storage would reject, so a bad append fails alone instead of failing a whole batch.
    pub(crate) fn new(stream_id: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> Result<Self, StoreError> {
        check_name("stream id", stream_id, MAX_STREAM_ID_BYTES)?;
        if stream_id.starts_with('$') {
            return Err(invalid("stream ids starting with '$' are reserved"));
        }
        if events.is_empty() {
            return Err(invalid("an append needs at least one event"));
        }
        let mut ids = HashSet::new();
        let mut prepared = Vec::with_capacity(events.len());
        for event in events {
            if !ids.insert(event.event_id) {
                return Err(invalid(format!("event id {} appears twice in one append", event.event_id)));
            }
            check_name("event type", &event.event_type, MAX_EVENT_TYPE_BYTES)?;
            if i32::try_from(event.schema_version).is_err() {
                return Err(invalid("schema version out of range"));
            }
            let metadata = serde_json::to_value(&event.metadata)
                .map_err(|e| invalid(format!("metadata does not serialize: {e}")))?;
            check_json(&event.data, 0)?;
            check_json(&metadata, 0)?;
            let data_json = canonical_json(&event.data);
            let metadata_json = canonical_json(&metadata);
            if data_json.len() + metadata_json.len() > MAX_EVENT_BYTES {
                return Err(invalid(format!("event larger than {MAX_EVENT_BYTES} bytes")));
            }
            prepared.push(PreparedEvent { event, data_json, metadata_json });
        }
        Ok(PreparedAppend { stream_id: stream_id.to_owned(), expected, events: prepared })
    }

    /// The JSON bytes this append carries (to bound a batch).
    pub(crate) fn size_bytes(&self) -> usize {
        self.events.iter().map(|e| e.data_json.len() + e.metadata_json.len()).sum()
    }
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::InvalidAppend(reason.into())
}

fn check_name(what: &str, name: &str, max_bytes: usize) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(invalid(format!("empty {what}")));
    }
    if name.len() > max_bytes {
        return Err(invalid(format!("{what} longer than {max_bytes} bytes")));
    }
    if name.contains('\0') {
        return Err(invalid(format!("{what} contains a NUL character")));
    }
    Ok(())
}

/// PostgreSQL's jsonb cannot hold U+0000 in strings or keys, and deep nesting does not read back.
fn check_json(value: &Value, depth: usize) -> Result<(), StoreError> {
    if depth > MAX_JSON_DEPTH {
        return Err(invalid(format!("JSON nested deeper than {MAX_JSON_DEPTH} levels")));
    }
    match value {
        Value::String(text) if text.contains('\0') => Err(invalid("JSON string contains U+0000")),
        Value::Array(items) => items.iter().try_for_each(|item| check_json(item, depth + 1)),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if key.contains('\0') {
                return Err(invalid("JSON key contains U+0000"));
            }
            check_json(item, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// Where an event id already in the store sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownEvent {
    pub(crate) stream_id: String,
    pub(crate) stream_version: u64,
    pub(crate) position: u64,
    pub(crate) recorded_at: DateTime<Utc>,
}

/// An event the planner decided to write: `appends[append].events[index]` at this version and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlannedEvent {
    pub(crate) append: usize,
    pub(crate) index: usize,
    pub(crate) stream_version: u64,
    pub(crate) position: u64,
    pub(crate) hash: EventHash,
}

/// Decides a sequence of appends against the store's state, as if each were applied before the next.
#[derive(Debug)]
pub(crate) struct Planner {
    heads: HashMap<String, StreamHead>,
    known: HashMap<Uuid, KnownEvent>,
    next_position: u64,
    recorded_at: DateTime<Utc>,
    rows: Vec<PlannedEvent>,
    changed_streams: Vec<String>,
}

impl Planner {
    /// `heads`: the current head of every stream the appends touch (absent: no such stream). `known`: where the
    /// appends' event ids already are in the store. `log_head`: the position of the last event in the log.
    pub(crate) fn new(
        log_head: u64,
        recorded_at: DateTime<Utc>,
        heads: HashMap<String, StreamHead>,
        known: HashMap<Uuid, KnownEvent>,
    ) -> Self {
        Planner {
            heads,
            known,
            next_position: log_head + 1,
            recorded_at,
            rows: Vec::new(),
            changed_streams: Vec::new(),
        }
    }

    /// Decides one append (`append_index` is its place in the caller's list, echoed in the planned rows).
    pub(crate) fn plan(&mut self, append_index: usize, append: &PreparedAppend) -> Result<AppendResult, StoreError> {
        if let Some(result) = self.already_written(append) {
            return Ok(result);
        }
        let current = self.heads.get(&append.stream_id).copied();
        let actual = current.map(|head| head.version);
        if !append.expected.is_satisfied_by(actual) {
            return Err(StoreError::WrongExpectedVersion { expected: append.expected, actual });
        }
        if let Some(taken) = append.events.iter().find(|e| self.known.contains_key(&e.event.event_id)) {
            return Err(StoreError::DuplicateEventId { event_id: taken.event.event_id });
        }

        let mut previous = current.map_or(EventHash::GENESIS, |head| head.hash);
        let mut version = actual.map_or(0, |v| v + 1);
        for (index, event) in append.events.iter().enumerate() {
            let position = self.next_position;
            self.next_position += 1;
            let hash = event.hash_input(&append.stream_id, version, self.recorded_at).hash(&previous);
            self.rows.push(PlannedEvent { append: append_index, index, stream_version: version, position, hash });
            let known = KnownEvent {
                stream_id: append.stream_id.clone(),
                stream_version: version,
                position,
                recorded_at: self.recorded_at,
            };
            self.known.insert(event.event.event_id, known);
            previous = hash;
            version += 1;
        }
        let head = StreamHead { version: version - 1, hash: previous };
        self.heads.insert(append.stream_id.clone(), head);
        if !self.changed_streams.contains(&append.stream_id) {
            self.changed_streams.push(append.stream_id.clone());
        }
        Ok(AppendResult { next_version: head.version, position: self.next_position - 1, recorded_at: self.recorded_at })
    }

    /// The first result of an append whose events are already stored, in order, where this append would have
    /// put them: an idempotent retry.
    fn already_written(&self, append: &PreparedAppend) -> Option<AppendResult> {
        let first = self.known.get(&append.events.first()?.event.event_id)?;
        let expected_start = match append.expected {
            ExpectedVersion::Any => first.stream_version,
            ExpectedVersion::NoStream => 0,
            ExpectedVersion::Exact(version) => version.checked_add(1)?,
        };
        if first.stream_id != append.stream_id || first.stream_version != expected_start {
            return None;
        }
        let mut last = first;
        for (offset, event) in (0u64..).zip(&append.events) {
            let known = self.known.get(&event.event.event_id)?;
            if known.stream_id != append.stream_id || known.stream_version != first.stream_version + offset {
                return None;
            }
            last = known;
        }
        Some(AppendResult { next_version: last.stream_version, position: last.position, recorded_at: last.recorded_at })
    }

    /// The events to write, in position order.
    pub(crate) fn rows(&self) -> &[PlannedEvent] {
        &self.rows
    }

    /// The log's head position once the planned events are written.
    pub(crate) fn log_head(&self) -> u64 {
        self.next_position - 1
    }

    /// The new head of every stream the planned events extend.
    pub(crate) fn changed_heads(&self) -> impl Iterator<Item = (&str, StreamHead)> + '_ {
        self.changed_streams.iter().filter_map(|stream| self.heads.get(stream).map(|head| (stream.as_str(), *head)))
    }

    pub(crate) fn recorded_at(&self) -> DateTime<Utc> {
        self.recorded_at
    }
}

//! An aggregate's history and its state at a point in time, folded from the event log with the domain's own
//! `evolve` (never from read models).
//!
//! `at_version=v` is the state after the event at version `v`; `as_of=t` the state after the last event recorded
//! at or before `t`. Both are [`AuditError::NotFound`] when there is no such state: a version beyond the stream's
//! last, a time before its first event, or a stream that does not exist.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_domain::Aggregate;
use tally_store::{EventStore, ReadStream, RecordedEvent, StoreError};
use tracing::instrument;
use uuid::Uuid;

/// Events per read while folding a stream.
const PAGE: usize = 1000;

/// The point in time of a read: `as_of` (RFC 3339) or `at_version`, at most one of them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PointInTime {
    pub as_of: Option<DateTime<Utc>>,
    pub at_version: Option<u64>,
}

impl PointInTime {
    /// Whether the request asked for a point in time at all.
    pub fn is_requested(&self) -> bool {
        self.as_of.is_some() || self.at_version.is_some()
    }

    /// Whether the event at `version` recorded at `recorded_at` is at or before this point.
    fn includes(&self, event: &RecordedEvent) -> bool {
        self.at_version.is_none_or(|v| event.stream_version <= v) && self.as_of.is_none_or(|t| event.recorded_at <= t)
    }
}

/// Why a history or a past state could not be given.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    NotFound(String),
    #[error("event {version} of {stream_id} does not decode: {reason}")]
    Corrupt { stream_id: String, version: u64, reason: String },
    #[error("reading the event store failed")]
    Store(#[from] StoreError),
}

/// A state as it stood after one event.
#[derive(Debug, Clone, Serialize)]
pub struct StateAt<S> {
    pub stream_id: String,
    pub version: u64,
    pub position: u64,
    pub recorded_at: DateTime<Utc>,
    pub state: S,
}

/// One event of a history: the event, who caused it, and the state after it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub event: RecordedEvent,
    pub actor: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
    pub state_after: Value,
}

fn decode<A: Aggregate>(event: &RecordedEvent) -> Result<A::Event, AuditError> {
    serde_json::from_value(event.data.clone()).map_err(|error| AuditError::Corrupt {
        stream_id: event.stream_id.clone(),
        version: event.stream_version,
        reason: error.to_string(),
    })
}

/// Folds `stream_id` with `A::evolve` up to `point`, reading page by page.
#[instrument(skip_all, fields(stream.id = %stream_id))]
pub async fn state_at<A: Aggregate>(
    store: &dyn EventStore,
    stream_id: &str,
    point: &PointInTime,
) -> Result<StateAt<A::State>, AuditError> {
    let mut state = A::State::default();
    let mut last: Option<RecordedEvent> = None;
    let mut any_event = false;
    let mut from = 0;
    'pages: loop {
        let page = store.read_stream(stream_id, ReadStream::forwards(from, PAGE)).await?;
        any_event |= !page.is_empty();
        let full = page.len() == PAGE;
        for event in page {
            if !point.includes(&event) {
                break 'pages;
            }
            state = A::evolve(state, &decode::<A>(&event)?);
            from = event.stream_version + 1;
            last = Some(event);
        }
        if !full {
            break;
        }
    }
    let Some(last) = last else {
        return Err(AuditError::NotFound(match any_event {
            true => format!("{stream_id} has no event at or before the time asked for"),
            false => format!("there is no stream {stream_id}"),
        }));
    };
    if let Some(version) = point.at_version.filter(|v| *v > last.stream_version) {
        let detail = format!("{stream_id} has no version {version}: its last version is {}", last.stream_version);
        return Err(AuditError::NotFound(detail));
    }
    Ok(StateAt {
        stream_id: stream_id.to_owned(),
        version: last.stream_version,
        position: last.position,
        recorded_at: last.recorded_at,
        state,
    })
}

/// Every event of `stream_id` with its who and when and the state after it (`A::evolve`); empty: no stream.
#[instrument(skip_all, fields(stream.id = %stream_id))]
pub async fn history<A: Aggregate>(store: &dyn EventStore, stream_id: &str) -> Result<Vec<HistoryEntry>, AuditError> {
    let mut state = A::State::default();
    let mut entries = Vec::new();
    loop {
        let from = entries.last().map_or(0, |e: &HistoryEntry| e.event.stream_version + 1);
        let page = store.read_stream(stream_id, ReadStream::forwards(from, PAGE)).await?;
        let full = page.len() == PAGE;
        for event in &page {
            state = A::evolve(state, &decode::<A>(event)?);
            entries.push(HistoryEntry {
                event: event.clone(),
                actor: event.metadata.actor.clone(),
                correlation_id: event.metadata.correlation_id,
                causation_id: event.metadata.causation_id,
                recorded_at: event.recorded_at,
                state_after: serde_json::to_value(&state).unwrap_or(Value::Null),
            });
        }
        if !full {
            return Ok(entries);
        }
    }
}

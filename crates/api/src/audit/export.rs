//! Export of the event log, whole or in part, as JSON lines or as CloudEvents 1.0 (one structured-mode event per
//! line), in constant memory: [`export_lines`] reads a page of events at a time and yields it as one chunk of
//! lines, so `GET /v1/export` and `tally export` stream any size of log.
//!
//! A range ([`LogRange`]) is the global log after a position up to `to_position` (default: the head when the
//! export starts, so it ends), or one stream (`stream`), narrowed by stream prefix, event types and a
//! `[from_time, to_time)` time range. The same range type filters the global log and the live tail.

use super::{bad_parameter, not_found, store_problem, Params};
use crate::problem::Problem;
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use tally_store::{canonical_json, EventStore, LogFilter, ReadStream, RecordedEvent, StoreError};
use tracing::instrument;

/// Events per read while exporting.
pub const EXPORT_PAGE: usize = 1000;

/// Which events to export (or to list, or to tail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRange {
    /// Only this stream (read by version); `None`: the global log.
    pub stream: Option<String>,
    /// Only events with a position greater than this.
    pub after: u64,
    /// Only events at or below this position (export: default the head when the export starts).
    pub to_position: Option<u64>,
    /// Only events recorded at or after this time.
    pub from_time: Option<DateTime<Utc>>,
    /// Only events recorded before this time.
    pub to_time: Option<DateTime<Utc>>,
    /// Stream prefix and event types.
    pub filter: LogFilter,
}

impl LogRange {
    /// Whether `event` is in the range.
    pub fn admits(&self, event: &RecordedEvent) -> bool {
        event.position > self.after
            && self.to_position.is_none_or(|to| event.position <= to)
            && self.from_time.is_none_or(|from| event.recorded_at >= from)
            && self.to_time.is_none_or(|to| event.recorded_at < to)
            && self.stream.as_deref().is_none_or(|stream| event.stream_id == stream)
            && self.filter.matches(&event.stream_id, &event.event_type)
    }

    /// The range of a query string: `after`, `to_position`, `stream`, `stream_prefix`, `event_type` (repeatable or a
    /// comma list), `from_time`, `to_time` (RFC 3339).
    pub(crate) fn from_params(params: &Params) -> Result<Self, Problem> {
        let range = LogRange {
            stream: params.text("stream").map(str::to_owned),
            after: params.number("after")?.unwrap_or(0),
            to_position: params.number("to_position")?,
            from_time: params.time("from_time")?,
            to_time: params.time("to_time")?,
            filter: LogFilter {
                stream_prefix: params.text("stream_prefix").map(str::to_owned),
                event_types: params.list("event_type"),
            },
        };
        if let (Some(from), Some(to)) = (range.from_time, range.to_time) {
            if from >= to {
                return Err(bad_parameter("from_time must be before to_time"));
            }
        }
        Ok(range)
    }
}

/// The line format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Each event as the audit API shows it (the JSON form of [`RecordedEvent`]).
    JsonLines,
    /// Each event as a CloudEvents 1.0 structured-mode JSON object ([`cloud_event`]).
    CloudEvents,
}

/// An event as CloudEvents 1.0. Extensions carry what CloudEvents has no attribute for: `tallystream`,
/// `tallyversion`, `tallyposition`, `tallyschemaversion` (decimal strings: a CloudEvents Integer is only 32 bits),
/// `tallyhash` (hex) and `tallymetadata` (the metadata as canonical JSON text: extension values are scalars).
pub fn cloud_event(event: &RecordedEvent) -> Value {
    let metadata = serde_json::to_value(&event.metadata).unwrap_or(Value::Null);
    json!({
        "specversion": "1.0",
        "id": event.event_id.to_string(),
        "source": "tally",
        "type": event.event_type,
        "subject": event.stream_id,
        "time": event.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "datacontenttype": "application/json",
        "data": event.data,
        "tallystream": event.stream_id,
        "tallyversion": event.stream_version.to_string(),
        "tallyposition": event.position.to_string(),
        "tallyschemaversion": event.schema_version.to_string(),
        "tallyhash": event.hash.to_hex(),
        "tallymetadata": canonical_json(&metadata),
    })
}

fn encode(events: &[RecordedEvent], format: ExportFormat) -> Bytes {
    let mut out = Vec::with_capacity(events.len() * 512);
    for event in events {
        let written = match format {
            ExportFormat::JsonLines => serde_json::to_writer(&mut out, event),
            ExportFormat::CloudEvents => serde_json::to_writer(&mut out, &cloud_event(event)),
        };
        // Writing JSON values to a Vec cannot fail.
        debug_assert!(written.is_ok());
        out.push(b'\n');
    }
    Bytes::from(out)
}

/// Where an export stands.
enum Cursor {
    /// The global log, examined up to `after`; `end` is fixed on the first read.
    Log {
        after: u64,
        end: Option<u64>,
    },
    /// One stream, from this version.
    Stream {
        next_version: u64,
    },
    Done,
}

/// Pages read ahead of the encoder: reading (and decoding rows) overlaps encoding and sending, on another core.
const PAGES_AHEAD: usize = 2;

/// The events of `range` as lines of `format`, one chunk per page of [`EXPORT_PAGE`] events read, in log order
/// (stream order for one stream). A task reads up to [`PAGES_AHEAD`] pages ahead of the encoder, so memory stays
/// constant whatever the size of the log; it stops when the returned stream is dropped.
pub fn export_lines(
    store: Arc<dyn EventStore>,
    range: LogRange,
    format: ExportFormat,
) -> impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static {
    let (pages_tx, pages_rx) = tokio::sync::mpsc::channel(PAGES_AHEAD);
    tokio::spawn(async move {
        let mut pages = std::pin::pin!(pages(store, range));
        while let Some(page) = pages.next().await {
            let failed = page.is_err();
            if pages_tx.send(page).await.is_err() || failed {
                return; // the reader went away, or the error was its last item
            }
        }
    });
    futures::stream::unfold(pages_rx, move |mut pages_rx| async move {
        let page = pages_rx.recv().await?;
        Some((page.map(|events| encode(&events, format)), pages_rx))
    })
}

/// The events of `range`, a page at a time (pages with no event in the range are skipped).
fn pages(
    store: Arc<dyn EventStore>,
    range: LogRange,
) -> impl Stream<Item = Result<Vec<RecordedEvent>, StoreError>> + Send + 'static {
    let cursor = match range.stream {
        Some(_) => Cursor::Stream { next_version: 0 },
        None => Cursor::Log { after: range.after, end: range.to_position },
    };
    futures::stream::try_unfold((store, range, cursor), move |(store, range, cursor)| async move {
        let mut cursor = cursor;
        loop {
            let (events, next) = match cursor {
                Cursor::Done => return Ok(None),
                Cursor::Stream { next_version } => {
                    let stream = range.stream.as_deref().unwrap_or_default();
                    let page = store.read_stream(stream, ReadStream::forwards(next_version, EXPORT_PAGE)).await?;
                    let next = match page.last() {
                        Some(last) if page.len() == EXPORT_PAGE => {
                            Cursor::Stream { next_version: last.stream_version + 1 }
                        }
                        _ => Cursor::Done,
                    };
                    (page, next)
                }
                Cursor::Log { after, end } => {
                    let end = match end {
                        Some(end) => end,
                        None => store.head_position().await?,
                    };
                    if after >= end {
                        return Ok(None);
                    }
                    let slice = store.read_all(after, EXPORT_PAGE, &range.filter).await?;
                    let next = if slice.last_position > after && slice.last_position < end {
                        Cursor::Log { after: slice.last_position, end: Some(end) }
                    } else {
                        Cursor::Done
                    };
                    let events = slice.events.into_iter().filter(|e| e.position <= end).collect();
                    (events, next)
                }
            };
            cursor = next;
            let kept: Vec<RecordedEvent> = events.into_iter().filter(|e| range.admits(e)).collect();
            if !kept.is_empty() {
                return Ok(Some((kept, (store, range, cursor))));
            }
        }
    })
}

/// `GET /v1/export?format=jsonl|cloudevents&stream=&after=&to_position=&stream_prefix=&event_type=&from_time=&to_time=`.
#[instrument(skip_all)]
pub(super) async fn export(State(state): State<AppState>, params: Params) -> Result<Response, Problem> {
    params.only(&[
        "format",
        "stream",
        "after",
        "to_position",
        "stream_prefix",
        "event_type",
        "from_time",
        "to_time",
    ])?;
    let format = match params.text("format") {
        None | Some("jsonl" | "ndjson" | "json-lines") => ExportFormat::JsonLines,
        Some("cloudevents") => ExportFormat::CloudEvents,
        Some(_) => return Err(bad_parameter("format must be jsonl or cloudevents")),
    };
    let range = LogRange::from_params(&params)?;
    if let Some(stream) = range.stream.as_deref() {
        let last = state.store.read_stream(stream, ReadStream::backwards_from_end(1)).await;
        if last.map_err(|e| store_problem(&e))?.is_empty() {
            return Err(not_found(format!("there is no stream {stream:?}")));
        }
    }
    // Fused: a body may be polled again after its end (the gzip encoder does), which an `unfold` stream forbids.
    let lines = export_lines(Arc::clone(&state.store), range, format).fuse();
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response())
}

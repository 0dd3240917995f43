//! The log's readers over HTTP: the query strings of the global log, its live tail and the export ([`LogQuery`],
//! [`ExportQuery`]: each a [`LogRange`]), and `GET /v1/export`, which streams `tally_audit::export::export_lines`.

use super::params;
use super::{bad_parameter, not_found, store_problem};
use crate::openapi::parameter;
use crate::problem::Problem;
use crate::{ApiQuery, AppState};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use tally_audit::export::{export_lines, ExportFormat, LogRange};
use tally_store::{LogFilter, ReadStream};
use tracing::instrument;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::IntoParams;

/// Refuses a time range that ends before it starts. (An empty one, `from_time == to_time`, is a range like any
/// other: `[from_time, to_time)` holds no event.)
fn checked(range: LogRange) -> Result<LogRange, Problem> {
    if let (Some(from), Some(to)) = (range.from_time, range.to_time) {
        if from > to {
            return Err(bad_parameter("from_time must not be after to_time"));
        }
    }
    Ok(range)
}

/// Event types from a query string: each `event_type` value may be a comma list.
fn event_types(values: Vec<String>) -> Vec<String> {
    let types = values.iter().flat_map(|value| value.split(',')).map(str::trim);
    types.filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// The query string of the global log (`GET /v1/events`) and of its live tail (which takes no `cursor` or
/// `limit`): `after` (or `cursor`, the same), `limit`, `stream_prefix`, `event_type` (repeated or a comma list),
/// `from_time`, `to_time` (RFC 3339), `follow`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    after: Option<u64>,
    pub(super) cursor: Option<u64>,
    pub(super) limit: Option<u64>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    stream_prefix: Option<String>,
    #[serde(default)]
    event_type: Vec<String>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    from_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    to_time: Option<DateTime<Utc>>,
    pub(super) follow: Option<bool>,
}

/// The global log's parameters (`GET /v1/events`).
impl IntoParams for LogQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = params::log_filters();
        params.insert(1, params::position("cursor", "A `next_cursor` (a position as text); overrides `after`."));
        params.insert(2, params::limit(super::log::DEFAULT_LIMIT, super::log::MAX_LIMIT));
        params.push(params::follow(
            "`true`: the live tail as Server-Sent Events instead of a page (as `GET /v1/events/stream`; with \
            `cursor` or `limit` that is a 400).",
        ));
        params
    }
}

impl LogQuery {
    /// The range it asks for (`cursor` and `limit` are the caller's).
    pub(super) fn range(self) -> Result<LogRange, Problem> {
        checked(LogRange {
            stream: None,
            after: self.after.unwrap_or(0),
            to_position: None,
            from_time: self.from_time,
            to_time: self.to_time,
            filter: LogFilter { stream_prefix: self.stream_prefix, event_types: event_types(self.event_type) },
        })
    }
}

/// The query string of `GET /v1/export`: `format`, `stream`, `after`, `to_position`, and the filters of the log.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    format: Option<ExportFormat>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    stream: Option<String>,
    after: Option<u64>,
    to_position: Option<u64>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    stream_prefix: Option<String>,
    #[serde(default)]
    event_type: Vec<String>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    from_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    to_time: Option<DateTime<Utc>>,
}

impl IntoParams for ExportQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![
            parameter(json!({
                "name": "format", "in": "query",
                "schema": crate::openapi::or_empty(json!({
                    "type": "string", "enum": ["jsonl", "ndjson", "json-lines", "cloudevents"], "default": "jsonl"
                })),
                "description": "`jsonl` (also `ndjson`, `json-lines`): each line a `RecordedEvent`; `cloudevents`: \
                    each line a `CloudEvent`.",
            })),
            params::text("stream", "Only this stream, in stream order (404 if it does not exist)."),
            params::position(
                "to_position",
                "Only events at or below this position (default: the head when the \
                export starts).",
            ),
        ];
        params.extend(params::log_filters());
        params
    }
}

impl ExportQuery {
    fn range(self) -> Result<LogRange, Problem> {
        checked(LogRange {
            stream: self.stream,
            after: self.after.unwrap_or(0),
            to_position: self.to_position,
            from_time: self.from_time,
            to_time: self.to_time,
            filter: LogFilter { stream_prefix: self.stream_prefix, event_types: event_types(self.event_type) },
        })
    }
}

/// Export the log
///
/// The event log, whole or in part, streamed as JSON lines (each line a `RecordedEvent`) or CloudEvents 1.0 (each
/// line a `CloudEvent`), in log order (stream order with `stream`). Without `to_position`, the export ends at the
/// head as it was when the export started. If the store fails mid-export, the body is cut short. Only the
/// parameters listed are accepted (another: 400).
#[utoipa::path(get, path = "/v1/export", tag = "audit", operation_id = "exportLog",
    params(ExportQuery),
    responses(
        (status = 200, description = "One JSON object per line: a `RecordedEvent` (`format=jsonl`) or a \
            `CloudEvent` (`format=cloudevents`).", content_type = "application/x-ndjson", body = String),
        (status = 404, description = "404 `not-found`: `stream` names no stream.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
pub(super) async fn export(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, Problem> {
    let format = query.format.unwrap_or(ExportFormat::JsonLines);
    let range = query.range()?;
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

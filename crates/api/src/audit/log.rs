//! Reading the log as recorded: one stream by version (`GET /v1/streams/{stream_id}/events`), and the global log
//! after a position (`GET /v1/events`), with the event filters the tail and the export share ([`LogRange`](super::export::LogRange)).
//!
//! Positions and versions are their own cursors: a page answers `next_from` / `next_after` (and `next_cursor`,
//! the same number as text, `null` at the end), so a reader continues exactly where it stopped.

use super::export::LogQuery;
use super::params;
use super::schemas::{RecordedEventDoc, TailEventDoc};
use super::{limit, not_found, store_problem};
use crate::openapi::parameter;
use crate::problem::Problem;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tally_store::{Direction, ReadStream, RecordedEvent};
use tracing::instrument;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

pub(super) const DEFAULT_LIMIT: usize = 100;
pub(super) const MAX_LIMIT: usize = 1000;

/// One page of a stream.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StreamEventsPage)]
struct StreamPage {
    stream_id: String,
    #[schema(value_type = Vec<RecordedEventDoc>)]
    items: Vec<RecordedEvent>,
    /// The `from` of the next page in the same direction; `null` when the page reached the stream's end (a page
    /// shorter than `limit`, or backwards past version 0).
    #[schema(required = true)]
    next_from: Option<u64>,
    /// `next_from` as text (pass it as `cursor`); `null` at the end.
    #[schema(required = true, pattern = "^[0-9]{1,20}$")]
    next_cursor: Option<String>,
}

/// One page of the global log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LogPage)]
struct LogPage {
    /// The events of this page that pass the filters.
    #[schema(value_type = Vec<RecordedEventDoc>)]
    items: Vec<RecordedEvent>,
    /// The log was examined up to here: pass it as `after` (or `cursor`) to read on, also at the head to wait for
    /// more.
    next_after: u64,
    /// `next_after` as text while more of the log is known to follow; `null` at the head.
    #[schema(required = true, pattern = "^[0-9]{1,20}$")]
    next_cursor: Option<String>,
    /// The log's head position.
    head_position: u64,
}

/// The query string of a stream's events: `from` (or `cursor`, the same), `direction`, `limit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StreamQuery {
    from: Option<u64>,
    cursor: Option<u64>,
    #[serde(default, deserialize_with = "serde_html_form::de::empty_as_none")]
    direction: Option<ReadDirection>,
    limit: Option<u64>,
}

impl IntoParams for StreamQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            params::position(
                "from",
                "The first version to read (inclusive). Default: 0 forwards, the stream's end \
                backwards.",
            ),
            params::position("cursor", "A `next_cursor` (a version as text); overrides `from`."),
            parameter(json!({
                "name": "direction", "in": "query",
                "schema": crate::openapi::or_empty(json!({
                    "type": "string", "enum": ["forwards", "backwards"], "default": "forwards"
                })),
                "description": "Which way to read."
            })),
            params::limit(DEFAULT_LIMIT, MAX_LIMIT),
        ]
    }
}

/// Which way a stream is read.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ReadDirection {
    Forwards,
    Backwards,
}

/// Read a stream
///
/// One stream's events by version, forwards or backwards, as the store recorded them. Pages by `next_from` /
/// `next_cursor`. Only the parameters listed are accepted (another: 400).
#[utoipa::path(get, path = "/v1/streams/{stream_id}/events", tag = "audit", operation_id = "getStreamEvents",
    params(
        ("stream_id" = String, Path, description = "`product-{sku}`, `inventory-{sku}`, `order-{uuid}` or \
            `apikey-{uuid}`.", example = "inventory-TEE-RED-M", pattern = r"^[^\u0000]+$"),
        StreamQuery,
    ),
    responses(
        (status = 200, description = "A page of the stream.", body = StreamPage),
        (status = 404, description = "404 `not-found`: there is no such stream.", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `limit` is out of range.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(stream.id = %stream_id))]
pub(super) async fn stream_events(
    State(state): State<AppState>,
    ApiPath(stream_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Response, Problem> {
    let limit = limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let direction = match query.direction {
        None | Some(ReadDirection::Forwards) => Direction::Forwards,
        Some(ReadDirection::Backwards) => Direction::Backwards,
    };
    let from = match (query.from, query.cursor) {
        (_, Some(cursor)) | (Some(cursor), None) => cursor,
        (None, None) if direction == Direction::Forwards => 0,
        (None, None) => u64::MAX,
    };
    let store = state.store.as_ref();
    let page = store.read_stream(&stream_id, ReadStream { direction, from, limit }).await;
    let page = page.map_err(|e| store_problem(&e))?;
    if page.is_empty() {
        let last = store.read_stream(&stream_id, ReadStream::backwards_from_end(1)).await;
        if last.map_err(|e| store_problem(&e))?.is_empty() {
            return Err(not_found(format!("there is no stream {stream_id:?}")));
        }
    }
    let next_from = match (page.last(), direction) {
        _ if page.len() < limit => None,
        (Some(last), Direction::Forwards) => Some(last.stream_version + 1),
        (Some(last), Direction::Backwards) => last.stream_version.checked_sub(1),
        (None, _) => None,
    };
    Ok(Json(StreamPage { stream_id, items: page, next_cursor: next_from.map(|n| n.to_string()), next_from })
        .into_response())
}

/// Read the global log
///
/// The global log after a position, filtered, a page at a time. With `follow=true` or `Accept: text/event-stream`,
/// the live tail instead (as `GET /v1/events/stream`, which then refuses `cursor` and `limit` with a 400). Only the
/// parameters listed are accepted (another: 400).
#[utoipa::path(get, path = "/v1/events", tag = "audit", operation_id = "getGlobalLog",
    params(LogQuery),
    responses(
        (status = 200, description = "A page of the log; following (`follow=true` or `Accept: text/event-stream`), \
            the live tail as Server-Sent Events, one message per event.", content(
            (LogPage = "application/json"),
            (TailEventDoc = "text/event-stream"),
        )),
        (status = 422, description = "422 `validation`: `limit` is out of range.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all)]
pub(super) async fn global_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Response, Problem> {
    let wants_stream = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if query.follow == Some(true) || wants_stream {
        return super::tail::live_tail(State(state), headers, ApiQuery(query)).await;
    }
    let limit = limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = query.cursor;
    let mut range = query.range()?;
    if let Some(cursor) = cursor {
        range.after = cursor;
    }
    let store = state.store.as_ref();
    let slice = store.read_all(range.after, limit, &range.filter).await.map_err(|e| store_problem(&e))?;
    let head_position = store.head_position().await.map_err(|e| store_problem(&e))?;
    let items = slice.events.into_iter().filter(|e| range.admits(e)).collect();
    let more = slice.last_position < head_position;
    Ok(Json(LogPage {
        items,
        next_after: slice.last_position,
        next_cursor: more.then(|| slice.last_position.to_string()),
        head_position,
    })
    .into_response())
}

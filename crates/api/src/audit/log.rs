//! Reading the log as recorded: one stream by version (`GET /v1/streams/{stream_id}/events`), and the global log
//! after a position (`GET /v1/events`), with the event filters the tail and the export share ([`LogRange`](super::export::LogRange)).
//!
//! Positions and versions are their own cursors: a page answers `next_from` / `next_after` (and `next_cursor`,
//! the same number as text, `null` at the end), so a reader continues exactly where it stopped.

use super::export::LogQuery;
use super::{limit, not_found, store_problem};
use crate::problem::Problem;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tally_store::{Direction, ReadStream, RecordedEvent};
use tracing::instrument;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// One page of a stream.
#[derive(Debug, Serialize)]
struct StreamPage {
    stream_id: String,
    items: Vec<RecordedEvent>,
    /// The `from` of the next page in the same direction; `null` when the page reached the stream's end.
    next_from: Option<u64>,
    next_cursor: Option<String>,
}

/// One page of the global log.
#[derive(Debug, Serialize)]
struct LogPage {
    items: Vec<RecordedEvent>,
    /// The log was examined up to here: pass it as `after` to read on (also at the head, to wait for more).
    next_after: u64,
    /// `next_after` as text while more of the log is known to follow; `null` at the head.
    next_cursor: Option<String>,
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

/// Which way a stream is read.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ReadDirection {
    Forwards,
    Backwards,
}

/// `GET /v1/streams/{stream_id}/events?from=&direction=forwards|backwards&limit=`.
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

/// `GET /v1/events?after=&limit=&stream_prefix=&event_type=&from_time=&to_time=`; with `follow=true` (or
/// `Accept: text/event-stream`) the live tail instead.
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

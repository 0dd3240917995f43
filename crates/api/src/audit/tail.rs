//! The live tail of the global log as Server-Sent Events: `GET /v1/events/stream` (or `GET /v1/events` with
//! `follow=true` or `Accept: text/event-stream`).
//!
//! Each event is one SSE message whose `id:` is its global position and whose `data:` is the event as JSON (the
//! shape of `GET /v1/events`). A client that reconnects sends `Last-Event-ID` (or `?after=`) and continues after
//! that position with no gap and no repeat: the tail is `read_all` from there, page by page, and at the head it
//! waits on `wait_for_position_after` (the store's wake-up hint), sending keep-alive comments meanwhile. The
//! filters of the global log apply. If the store fails, the stream ends; the client resumes with `Last-Event-ID`.

use super::bad_parameter;
use super::export::LogQuery;
use super::params;
use super::schemas::TailEventDoc;
use crate::openapi::parameter;
use crate::problem::Problem;
use crate::{ApiQuery, AppState};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tally_audit::export::LogRange;
use tally_store::{EventStore, RecordedEvent};
use tracing::instrument;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::IntoParams;

/// Events per `read_all` while tailing.
const PAGE: usize = 500;
/// How long one wait at the head lasts before the log is read again (the wait is a hint, not a guarantee).
const WAIT: Duration = Duration::from_secs(5);
/// Keep-alive comments keep proxies from closing an idle tail.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Where a tail stands: the log examined up to `range.after`, the events read but not yet sent.
struct Tail {
    store: Arc<dyn EventStore>,
    range: LogRange,
    pending: VecDeque<RecordedEvent>,
}

/// The live tail's parameters: the log's filters, `Last-Event-ID`, and `follow` (taken as on `GET /v1/events`,
/// where it leads here).
pub(super) struct TailParams;

impl IntoParams for TailParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = params::log_filters();
        params.push(params::follow("Accepted (as on `GET /v1/events`, `true` or `false`, else 400) and ignored."));
        params.push(parameter(json!({
            "name": "Last-Event-ID", "in": "header",
            "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
            "description": "Resume after this position (overrides `after`): the `id:` of the last message received, \
                as an SSE client sends it when it reconnects. Not a position: 400.",
        })));
        params
    }
}

/// Tail the global log (SSE)
///
/// The live tail of the global log as Server-Sent Events: one message per event, `id:` its position and `data:` the
/// event as JSON (`RecordedEvent`); a `: keep-alive` comment every 15 s while idle. The stream does not end by
/// itself: at the head it waits for new events. A client that reconnects sends `Last-Event-ID` (or `after`) and
/// continues with no gap and no repeat. If the store fails, the stream ends. Takes the global log's filters, but no
/// `cursor` or `limit` (400). Only the parameters listed are accepted (another: 400).
#[utoipa::path(get, path = "/v1/events/stream", tag = "audit", operation_id = "tailGlobalLog",
    params(TailParams),
    responses(
        (status = 200, description = "The event stream, one message per event.", content_type = "text/event-stream",
            body = TailEventDoc),
    ))]
#[instrument(skip_all)]
pub(super) async fn live_tail(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Response, Problem> {
    if query.cursor.is_some() || query.limit.is_some() {
        return Err(bad_parameter("the live tail takes no cursor or limit: it resumes after= or at Last-Event-ID"));
    }
    let mut range = query.range()?;
    if let Some(last_id) = headers.get("last-event-id") {
        let last_id = last_id.to_str().ok().and_then(|text| text.trim().parse::<u64>().ok());
        range.after = last_id.ok_or_else(|| bad_parameter("Last-Event-ID must be a position (an integer)"))?;
    }
    tracing::info!(after = range.after, "live tail opened");
    let tail = Tail { store: Arc::clone(&state.store), range, pending: VecDeque::new() };
    let events = futures::stream::unfold(tail, next_message);
    let keep_alive = KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive");
    Ok(Sse::new(events).keep_alive(keep_alive).into_response())
}

/// The next SSE message: a pending event, or the next page of the log, waiting at the head for new events.
async fn next_message(mut tail: Tail) -> Option<(Result<Event, Infallible>, Tail)> {
    loop {
        if let Some(event) = tail.pending.pop_front() {
            let data = serde_json::to_string(&event).ok()?;
            let message = Event::default().id(event.position.to_string()).data(data);
            return Some((Ok(message), tail));
        }
        let after = tail.range.after;
        let slice = match tail.store.read_all(after, PAGE, &tail.range.filter).await {
            Ok(slice) => slice,
            Err(error) => {
                tracing::warn!(error = %crate::error::cause_chain(&error), after, "live tail ended: store failed");
                return None;
            }
        };
        let range = &tail.range;
        tail.pending.extend(slice.events.into_iter().filter(|event| range.admits(event)));
        tail.range.after = slice.last_position.max(after);
        if tail.pending.is_empty() && tail.range.after == after {
            if let Err(error) = tail.store.wait_for_position_after(after, WAIT).await {
                tracing::warn!(error = %crate::error::cause_chain(&error), after, "live tail ended: store failed");
                return None;
            }
        }
    }
}

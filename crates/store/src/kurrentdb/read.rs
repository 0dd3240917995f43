//! Reads: one stream forwards or backwards, the global log (`$all` without KurrentDB's system events), the log's
//! head, and waiting for new events with a catch-up subscription to `$all`.
//!
//! **Filters.** The port's filter is sent to the server as a `$all` filter where it can be (a stream-name prefix,
//! else event-type prefixes, else "no `$` event types"), and every returned event is checked again here: exact
//! event types, no `$` stream or type. A filtered `$all` read returns up to `count` matching events, or fewer only
//! when it reached the end of the log, but it does not say how far it looked. So the log's head is read first, and
//! a short read means "examined up to at least that head": the reader moves past events the filter skipped (the
//! port's `last_position` contract) without a gap, since the head was read before the page.
//!
//! **Waiting.** `wait_for_position_after` opens a catch-up subscription to `$all` from the position waited on
//! (server-side filter: no `$` event types) and returns the first event past it, or the position itself when the
//! timeout passes. It is a wake-up hint: callers read the log for the events.

use kurrentdb::{
    Client, ReadAllOptions, ReadStreamOptions, ResolvedEvent, StreamPosition, SubscribeToAllOptions, SubscriptionEvent,
    SubscriptionFilter,
};
use std::time::Duration;
use tracing::instrument;

use super::error::KurrentDbError;
use super::mapping::{is_system_event, port_position, read_start, RawEvent, StoredEvent};
use crate::event::{Direction, LogFilter, LogSlice, ReadStream};

/// Revisions above this do not fit the server's signed event numbers.
const MAX_REVISION: u64 = i64::MAX as u64;

/// Up to `read.limit` events of a stream (none when it does not exist or was deleted), decoded as Tally events.
/// `leader`: read from the cluster's leader (the append path needs the latest state, not a follower's).
#[instrument(skip_all, fields(stream.id = %stream_id, read.from = read.from, read.limit = read.limit))]
pub(crate) async fn stream_events(
    client: &Client,
    stream_id: &str,
    read: ReadStream,
    leader: bool,
) -> Result<Vec<StoredEvent>, KurrentDbError> {
    if read.limit == 0 || (read.direction == Direction::Forwards && read.from > MAX_REVISION) {
        return Ok(Vec::new());
    }
    let options = ReadStreamOptions::default().max_count(read.limit).requires_leader(leader);
    let options = match read.direction {
        Direction::Forwards => options.position(StreamPosition::Position(read.from)).forwards(),
        // A `from` past the stream's end is fine (the server pages down to its last event); one beyond the
        // server's signed revisions cannot be sent, and means the end anyway.
        Direction::Backwards if read.from > MAX_REVISION => options.position(StreamPosition::End),
        Direction::Backwards => options.position(StreamPosition::Position(read.from)).backwards(),
    };
    let stream = match client.read_stream(stream_id, &options).await {
        Err(kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted) => return Ok(Vec::new()),
        other => other.map_err(KurrentDbError::request("read stream"))?,
    };
    let resolved = drain(stream, "read stream").await?;
    resolved.iter().filter_map(|event| event.event.as_ref()).map(|event| StoredEvent::decode(event.into())).collect()
}

/// Reads a whole answer. A stream that does not exist (or was deleted) ends the answer as empty.
pub(crate) async fn drain(
    mut stream: kurrentdb::ReadStream,
    operation: &'static str,
) -> Result<Vec<ResolvedEvent>, KurrentDbError> {
    let mut events = Vec::new();
    loop {
        match stream.next().await {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return Ok(events),
            Err(kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted) => return Ok(Vec::new()),
            Err(error) => return Err(KurrentDbError::Request { operation, source: error }),
        }
    }
}

/// The position of the last event in `$all`, system events included (0 when the log is empty): always a real
/// record, so it is a valid place to start a read.
#[instrument(skip_all)]
pub(crate) async fn head_position(client: &Client) -> Result<u64, KurrentDbError> {
    let options = ReadAllOptions::default().position(StreamPosition::End).max_count(1);
    let stream = client.read_all(&options).await.map_err(KurrentDbError::request("read the log head"))?;
    let events = drain(stream, "read the log head").await?;
    match events.first().and_then(|event| event.event.as_ref()) {
        Some(event) => port_position(event.position).map_err(|reason| decode_error(event, reason)),
        None => Ok(0),
    }
}

/// Up to `limit` events of the global log after `after` that pass `filter` (module doc).
#[instrument(skip_all, fields(log.after = after, log.limit = limit))]
pub(crate) async fn read_log(
    client: &Client,
    after: u64,
    limit: usize,
    filter: &LogFilter,
) -> Result<LogSlice, KurrentDbError> {
    if limit == 0 {
        return Ok(LogSlice { events: Vec::new(), last_position: after });
    }
    let head_before = head_position(client).await?;
    if head_before <= after {
        // Nothing was appended after `after` when the read began.
        return Ok(LogSlice { events: Vec::new(), last_position: after });
    }
    let requested = if after == 0 { limit } else { limit.saturating_add(1) };
    let (raw, reached_end) = log_page(client, after, requested, filter).await?;
    let items = raw.iter().map(page_item).collect::<Result<Vec<_>, _>>()?;
    let page = page_of(after, limit, &items, reached_end, head_before, filter);
    let events =
        decode_kept(&raw, &page.keep)?.into_iter().map(StoredEvent::into_recorded).collect::<Result<Vec<_>, _>>()?;
    Ok(LogSlice { events, last_position: page.last_position })
}

/// One page of the global log after `after`: the raw events the server returned (matching its filter) and
/// whether the read reached the end of the log.
pub(crate) async fn log_page(
    client: &Client,
    after: u64,
    requested: usize,
    filter: &LogFilter,
) -> Result<(Vec<ResolvedEvent>, bool), KurrentDbError> {
    let options = ReadAllOptions::default()
        .position(read_start(after))
        .forwards()
        .max_count(requested)
        .filter(ServerFilter::for_log_filter(filter).to_kurrentdb());
    let stream = client.read_all(&options).await.map_err(KurrentDbError::request("read the log"))?;
    let events = drain(stream, "read the log").await?;
    let reached_end = events.len() < requested;
    Ok((events, reached_end))
}

/// The `$all` filter the server applies before the adapter's own exact check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerFilter {
    StreamPrefix(String),
    EventTypePrefixes(Vec<String>),
    NoSystemEventTypes,
}

impl ServerFilter {
    /// The stream prefix when there is one (usually the more selective), else the event types.
    pub(crate) fn for_log_filter(filter: &LogFilter) -> ServerFilter {
        match (&filter.stream_prefix, filter.event_types.is_empty()) {
            (Some(prefix), _) => ServerFilter::StreamPrefix(prefix.clone()),
            (None, false) => ServerFilter::EventTypePrefixes(filter.event_types.clone()),
            (None, true) => ServerFilter::NoSystemEventTypes,
        }
    }

    pub(crate) fn to_kurrentdb(&self) -> SubscriptionFilter {
        match self {
            ServerFilter::StreamPrefix(prefix) => SubscriptionFilter::on_stream_name().add_prefix(prefix),
            ServerFilter::EventTypePrefixes(types) => {
                types.iter().fold(SubscriptionFilter::on_event_type(), |filter, t| filter.add_prefix(t))
            }
            ServerFilter::NoSystemEventTypes => SubscriptionFilter::on_event_type().exclude_system_events(),
        }
    }
}

/// What a page of raw `$all` events yields: which of them to return, and how far the log was examined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    /// Indexes into the raw events, in log order.
    pub(crate) keep: Vec<usize>,
    pub(crate) last_position: u64,
}

/// One raw event of a page as the paging decision sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageItem<'a> {
    pub(crate) position: u64,
    pub(crate) stream_id: &'a str,
    pub(crate) event_type: &'a str,
}

/// Picks up to `limit` events after `after` that pass `filter` (never a system event). `reached_end`: the read
/// came back short, so the log was examined to its end, which is at least `head_before` (read before the page).
pub(crate) fn page_of(
    after: u64,
    limit: usize,
    items: &[PageItem<'_>],
    reached_end: bool,
    head_before: u64,
    filter: &LogFilter,
) -> Page {
    let mut keep = Vec::new();
    let mut examined = after;
    let mut stopped_early = false;
    for (index, item) in items.iter().enumerate() {
        if item.position <= after {
            // The read starts at `after` inclusive.
            continue;
        }
        if keep.len() == limit {
            stopped_early = true;
            break;
        }
        examined = item.position;
        if !is_system_event(item.stream_id, item.event_type) && filter.matches(item.stream_id, item.event_type) {
            keep.push(index);
        }
    }
    let last_position = if reached_end && !stopped_early { examined.max(head_before) } else { examined };
    Page { keep, last_position }
}

/// The position of a raw page event, its stream and type (every `$all` event has a recorded event).
pub(crate) fn page_item(event: &ResolvedEvent) -> Result<PageItem<'_>, KurrentDbError> {
    let recorded = event.event.as_ref().ok_or_else(|| KurrentDbError::Decode {
        stream_id: "$all".to_owned(),
        version: 0,
        reason: "a log read returned a link without its event".to_owned(),
    })?;
    let position = port_position(recorded.position).map_err(|reason| decode_error(recorded, reason))?;
    Ok(PageItem { position, stream_id: recorded.stream_id(), event_type: &recorded.event_type })
}

/// Waits for an event past `after` (see the module doc).
#[instrument(skip_all, fields(log.after = after, timeout_ms = timeout.as_millis()))]
pub(crate) async fn wait_for_position_after(
    client: &Client,
    after: u64,
    timeout: Duration,
) -> Result<u64, KurrentDbError> {
    let options = SubscribeToAllOptions::default()
        .position(read_start(after))
        .filter(SubscriptionFilter::on_event_type().exclude_system_events());
    let mut subscription = client.subscribe_to_all(&options).await;
    let first_new_event = async {
        loop {
            let event = subscription
                .next_subscription_event()
                .await
                .map_err(KurrentDbError::request("subscribe to the log"))?;
            let SubscriptionEvent::EventAppeared(event) = event else { continue };
            let Some(recorded) = event.event.as_ref() else { continue };
            if is_system_event(recorded.stream_id(), &recorded.event_type) {
                continue;
            }
            let position = port_position(recorded.position).map_err(|reason| decode_error(recorded, reason))?;
            if position > after {
                return Ok(position);
            }
        }
    };
    match tokio::time::timeout(timeout, first_new_event).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => Ok(after),
    }
}

fn decode_error(event: &kurrentdb::RecordedEvent, reason: String) -> KurrentDbError {
    KurrentDbError::Decode { stream_id: event.stream_id().to_owned(), version: event.revision, reason }
}

/// Decodes the kept events of a page.
pub(crate) fn decode_kept(events: &[ResolvedEvent], keep: &[usize]) -> Result<Vec<StoredEvent>, KurrentDbError> {
    keep.iter()
        .filter_map(|&index| events.get(index).and_then(|event| event.event.as_ref()))
        .map(|event| StoredEvent::decode(RawEvent::from(event)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(position: u64, stream_id: &'static str, event_type: &'static str) -> PageItem<'static> {
        PageItem { position, stream_id, event_type }
    }

    fn positions(items: &[PageItem<'_>], page: &Page) -> Vec<u64> {
        page.keep.iter().map(|&i| items[i].position).collect()
    }

    #[test]
    fn the_event_at_after_is_dropped_and_the_limit_holds() {
        let items = [item(100, "order-1", "Placed"), item(200, "order-1", "Paid"), item(300, "order-2", "Placed")];
        let page = page_of(100, 10, &items, true, 300, &LogFilter::all());
        assert_eq!(positions(&items, &page), vec![200, 300], "after is exclusive");
        assert_eq!(page.last_position, 300);

        let page = page_of(100, 1, &items, false, 300, &LogFilter::all());
        assert_eq!(positions(&items, &page), vec![200]);
        assert_eq!(page.last_position, 200, "stopped at the limit: examined up to the last kept event");
        let page = page_of(0, 2, &items, false, 300, &LogFilter::all());
        assert_eq!((positions(&items, &page), page.last_position), (vec![100, 200], 200));
    }

    #[test]
    fn system_events_and_filtered_events_move_the_reader_on() {
        let items = [
            item(10, "$$order-1", "$metadata"),
            item(20, "order-1", "Placed"),
            item(30, "$et-Placed", "$>"),
            item(40, "stock-1", "Received"),
            item(50, "order-1", "$statsCollected"),
        ];
        let page = page_of(0, 10, &items, false, 0, &LogFilter::stream_prefix("order-"));
        assert_eq!(positions(&items, &page), vec![20], "no system event, only the prefix");
        assert_eq!(page.last_position, 50, "examined past the skipped events");
        let page = page_of(0, 10, &items, false, 0, &LogFilter::event_types(["Received"]));
        assert_eq!(positions(&items, &page), vec![40]);
    }

    #[test]
    fn a_short_read_reaches_the_head_read_before_it() {
        let page = page_of(500, 10, &[], true, 900, &LogFilter::all());
        assert_eq!(page, Page { keep: vec![], last_position: 900 }, "nothing matched up to the head");
        let page = page_of(500, 10, &[], true, 400, &LogFilter::all());
        assert_eq!(page.last_position, 500, "never backwards");
        let items = [item(600, "order-1", "Placed"), item(950, "order-1", "Placed")];
        let page = page_of(500, 10, &items, true, 900, &LogFilter::all());
        assert_eq!(page.last_position, 950, "an event appended after the head read counts too");
        let page = page_of(500, 1, &items, true, 900, &LogFilter::all());
        assert_eq!((positions(&items, &page), page.last_position), (vec![600], 600), "stopped at the limit first");
        let page = page_of(500, 10, &items, false, 2000, &LogFilter::all());
        assert_eq!(page.last_position, 950, "a full read says nothing about the head");
    }

    #[test]
    fn exact_types_are_checked_after_the_servers_prefix_match() {
        let items = [item(10, "order-1", "Placed"), item(20, "order-1", "PlacedTwice")];
        let page = page_of(0, 10, &items, true, 20, &LogFilter::event_types(["Placed"]));
        assert_eq!(positions(&items, &page), vec![10]);
    }

    #[test]
    fn the_server_filter_follows_the_port_filter() {
        assert_eq!(ServerFilter::for_log_filter(&LogFilter::all()), ServerFilter::NoSystemEventTypes);
        assert_eq!(
            ServerFilter::for_log_filter(&LogFilter::stream_prefix("order-")),
            ServerFilter::StreamPrefix("order-".to_owned())
        );
        let types = LogFilter::event_types(["Placed", "Paid"]);
        assert_eq!(
            ServerFilter::for_log_filter(&types),
            ServerFilter::EventTypePrefixes(vec!["Placed".to_owned(), "Paid".to_owned()])
        );
        let both = LogFilter { stream_prefix: Some("order-".to_owned()), event_types: vec!["Placed".to_owned()] };
        assert_eq!(ServerFilter::for_log_filter(&both), ServerFilter::StreamPrefix("order-".to_owned()));
        let sent = format!("{:?}", ServerFilter::for_log_filter(&types).to_kurrentdb());
        assert!(sent.contains("based_on_stream: false") && sent.contains("\"Placed\", \"Paid\""), "{sent}");
        let sent = format!("{:?}", ServerFilter::NoSystemEventTypes.to_kurrentdb());
        assert!(sent.contains("^[^\\\\$].*"), "{sent}");
    }
}

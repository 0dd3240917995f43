//! What a command answers: the resource as the command left it, as the same type its GET answers with
//! ([`crate::resources`]), with where and when the log recorded that state.
//!
//! A command that appended knows its version, position and time from the append; one that recorded nothing (an
//! idempotent repeat) reads its stream's last event back. Fields the aggregate's state does not keep come from the
//! stream itself: an order's timeline (read unless the command's own events are all of it since placement) and a
//! product's registration time (read unless the command registered it).

use crate::problem::Problem;
use crate::resources::LastChange;
use tally_commands::{OrderOutcome, Outcome};
use tally_domain::order::OrderTimeline;
use tally_domain::OrderEvent;
use tally_store::{EventStore, ReadStream, RecordedEvent};

/// Events per read while folding an order's timeline.
const PAGE: usize = 1000;

fn store_unavailable(error: &tally_store::StoreError) -> Problem {
    crate::error::unavailable("the event store", error)
}

/// The event at `version` of `stream_id`.
async fn event_at(store: &dyn EventStore, stream_id: &str, version: u64) -> Result<RecordedEvent, Problem> {
    let events =
        store.read_stream(stream_id, ReadStream::forwards(version, 1)).await.map_err(|e| store_unavailable(&e))?;
    events.into_iter().next().filter(|event| event.stream_version == version).ok_or_else(|| {
        crate::error::internal(&std::io::Error::other(format!("{stream_id} has no version {version} after a command")))
    })
}

/// Where and when the log recorded the state `outcome` answers with.
pub(super) async fn last_change<S, E>(
    store: &dyn EventStore,
    stream_id: &str,
    outcome: &Outcome<S, E>,
) -> Result<LastChange, Problem> {
    let version = outcome.version.unwrap_or(0);
    if let (Some(position), Some(at)) = (outcome.position, outcome.recorded_at) {
        return Ok(LastChange { version, position, at });
    }
    let event = event_at(store, stream_id, version).await?;
    Ok(LastChange { version, position: event.position, at: event.recorded_at })
}

/// When `stream_id`'s first event was recorded (`last` when that is the first).
pub(super) async fn first_recorded(
    store: &dyn EventStore,
    stream_id: &str,
    last: LastChange,
) -> Result<chrono::DateTime<chrono::Utc>, Problem> {
    if last.version == 0 {
        return Ok(last.at);
    }
    Ok(event_at(store, stream_id, 0).await?.recorded_at)
}

/// The timeline of the order in `outcome` up to its version: from the command's own events when they are every
/// event after the placement, otherwise from the order's stream.
pub(super) async fn order_timeline(
    store: &dyn EventStore,
    stream_id: &str,
    outcome: &OrderOutcome,
    last: LastChange,
) -> Result<OrderTimeline, Problem> {
    let mut timeline = OrderTimeline::default();
    let own = |version: u64| outcome.events.iter().find(|event| event.version == version);
    if outcome.recorded_at.is_some() && (1..=last.version).all(|version| own(version).is_some()) {
        for event in outcome.events.iter().filter(|event| event.version <= last.version) {
            timeline.record(&event.event, last.at);
        }
        return Ok(timeline);
    }
    let mut from = 0;
    while from <= last.version {
        let page =
            store.read_stream(stream_id, ReadStream::forwards(from, PAGE)).await.map_err(|e| store_unavailable(&e))?;
        let full = page.len() == PAGE;
        for recorded in page.iter().filter(|event| event.stream_version <= last.version) {
            let event: OrderEvent =
                serde_json::from_value(recorded.data.clone()).map_err(|error| crate::error::internal(&error))?;
            timeline.record(&event, recorded.recorded_at);
            from = recorded.stream_version + 1;
        }
        if !full {
            break;
        }
    }
    Ok(timeline)
}

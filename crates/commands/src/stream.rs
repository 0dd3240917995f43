//! A stream's state as the command side holds it ([`Snapshot`]), bringing it up to date by reading only the
//! events after its version ([`catch_up`]), and the codec between domain events and stored events.
//!
//! Catching up is what makes a long stream cost nothing extra: a snapshot of version `v` (from the cache or a
//! writer's memory) reads `v + 1 ..` forwards, which is usually nothing or a few events, never the whole history.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use tally_domain::{Aggregate, Event};
use tally_store::{EventStore, NewEvent, ReadStream, RecordedEvent};
use tracing::instrument;
use uuid::Uuid;

use crate::context::CommandContext;
use crate::error::CommandError;

/// Events read per round trip while catching up.
pub(crate) const READ_PAGE: usize = 1024;

/// The state of a stream at a version (`None`: the stream has no events). Cheap to clone: the state is shared.
#[derive(Debug)]
pub struct Snapshot<S> {
    pub state: Arc<S>,
    pub version: Option<u64>,
}

impl<S> Clone for Snapshot<S> {
    fn clone(&self) -> Self {
        Snapshot { state: Arc::clone(&self.state), version: self.version }
    }
}

impl<S: Default> Snapshot<S> {
    /// The state of a stream that has no events.
    pub fn empty() -> Self {
        Snapshot { state: Arc::new(S::default()), version: None }
    }
}

/// One event read while catching up: its id and global position (to recognise an append whose outcome was
/// unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeenEvent {
    pub(crate) event_id: Uuid,
    pub(crate) position: u64,
    pub(crate) recorded_at: DateTime<Utc>,
}

/// The version after `version`: 0 for a new stream.
pub(crate) fn next_version(version: Option<u64>) -> u64 {
    version.map_or(0, |v| v + 1)
}

/// Reads the events of `stream_id` after `snapshot.version`, forwards, page by page, and folds them into a new
/// snapshot. Returns it with the events read.
#[instrument(skip_all, fields(stream.id = %stream_id, from_version = next_version(snapshot.version)))]
pub(crate) async fn catch_up<A: Aggregate>(
    store: &dyn EventStore,
    stream_id: &str,
    snapshot: Snapshot<A::State>,
) -> Result<(Snapshot<A::State>, Vec<SeenEvent>), CommandError> {
    let mut version = snapshot.version;
    let mut state: Option<A::State> = None;
    let mut seen = Vec::new();
    loop {
        let from = next_version(version);
        let page = store.read_stream(stream_id, ReadStream::forwards(from, READ_PAGE)).await?;
        let full = page.len() == READ_PAGE;
        for recorded in &page {
            let event = decode::<A::Event>(recorded)?;
            // Only the first new event pays for copying the shared state.
            let current = state.take().unwrap_or_else(|| (*snapshot.state).clone());
            state = Some(A::evolve(current, &event));
            version = Some(recorded.stream_version);
            seen.push(SeenEvent {
                event_id: recorded.event_id,
                position: recorded.position,
                recorded_at: recorded.recorded_at,
            });
        }
        if !full {
            break;
        }
    }
    let state = state.map_or(snapshot.state, Arc::new);
    Ok((Snapshot { state, version }, seen))
}

/// A domain event as a stored event with a new id and the context's metadata.
pub(crate) fn encode<E: Event>(event: &E, context: &CommandContext) -> Result<NewEvent, CommandError> {
    let data: Value = serde_json::to_value(event).map_err(|error| CommandError::Corrupt {
        stream_id: String::new(),
        version: 0,
        reason: format!("cannot encode {}: {error}", event.event_type()),
    })?;
    Ok(NewEvent::new(event.event_type(), data)
        .with_schema_version(u32::from(event.schema_version()))
        .with_metadata(context.metadata()))
}

/// A stored event as the aggregate's domain event.
pub(crate) fn decode<E: Event>(recorded: &RecordedEvent) -> Result<E, CommandError> {
    serde_json::from_value(recorded.data.clone()).map_err(|error| CommandError::Corrupt {
        stream_id: recorded.stream_id.clone(),
        version: recorded.stream_version,
        reason: error.to_string(),
    })
}

/// Reads a whole stream (short ones: orders) as its recorded events, page by page.
#[instrument(skip_all, fields(stream.id = %stream_id))]
pub(crate) async fn read_whole(store: &dyn EventStore, stream_id: &str) -> Result<Vec<RecordedEvent>, CommandError> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let from = events.last().map_or(0, |e| e.stream_version + 1);
        let page = store.read_stream(stream_id, ReadStream::forwards(from, READ_PAGE)).await?;
        let full = page.len() == READ_PAGE;
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::inventory::InventoryCommand;
    use tally_domain::{Inventory, InventoryEvent, LocationId, Quantity};
    use tally_store::{ExpectedVersion, MemoryEventStore};

    fn received(units: u32) -> InventoryEvent {
        let command = InventoryCommand::ReceiveStock {
            location: LocationId::main(),
            quantity: Quantity::new(units).unwrap(),
            reference: "PO".to_owned(),
        };
        Inventory::decide(&Inventory::default(), command).unwrap().remove(0)
    }

    #[tokio::test]
    async fn catching_up_reads_only_the_events_after_the_snapshot() {
        let store = MemoryEventStore::new();
        let context = CommandContext::new("test");
        let events: Vec<NewEvent> = (0..1500).map(|_| encode(&received(1), &context).unwrap()).collect();
        store.append("inventory-A", ExpectedVersion::NoStream, events).await.unwrap();

        let (snapshot, seen) = catch_up::<Inventory>(&store, "inventory-A", Snapshot::empty()).await.unwrap();
        assert_eq!((seen.len(), snapshot.version, snapshot.state.on_hand()), (1500, Some(1499), 1500));

        let more = vec![encode(&received(5), &context).unwrap()];
        store.append("inventory-A", ExpectedVersion::Exact(1499), more).await.unwrap();
        let (snapshot, seen) = catch_up::<Inventory>(&store, "inventory-A", snapshot).await.unwrap();
        assert_eq!((seen.len(), snapshot.version, snapshot.state.on_hand()), (1, Some(1500), 1505));
    }

    #[test]
    fn an_event_round_trips_through_the_stored_form() {
        let event = received(3);
        let stored = encode(&event, &CommandContext::new("test")).unwrap();
        assert_eq!(stored.event_type, "StockReceived");
        assert_eq!(serde_json::from_value::<InventoryEvent>(stored.data).unwrap(), event);
    }
}

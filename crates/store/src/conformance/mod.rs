//! The conformance suite: what every [`EventStore`] adapter must do, as async functions that take a store and
//! panic on the first deviation. This crate's tests run it against PostgreSQL and memory; a new adapter runs it
//! too, with [`conformance_tests!`](crate::conformance_tests) or by calling the functions itself.
//!
//! Every case uses stream ids and event types of its own (random suffixes), so the cases can share a store,
//! though each normally gets a fresh one.
//!
//! ```ignore
//! async fn store() -> tally_store::MemoryEventStore { tally_store::MemoryEventStore::new() }
//! tally_store::conformance_tests!(store());
//! ```

mod appends;
mod global_log;
mod streams;

use serde_json::json;
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{ExpectedVersion, LogFilter, NewEvent, RecordedEvent};
use crate::port::EventStore;

pub use appends::{
    append_and_read_back, concurrent_appends_conflict, conflict_fails_only_its_append, event_ids_are_unique,
    expected_version_semantics, find_event_by_id, idempotent_retry, invalid_appends_are_refused,
};
pub use global_log::{global_log_filters, global_log_order, rare_events_are_read_to_the_head, wait_for_new_events};
pub use streams::{hash_chain_is_recomputable, large_event, read_stream_bounds_and_directions, verification_is_clean};

/// One `#[tokio::test]` per conformance case. `$store` is an expression (usually a call to an async fn) that
/// produces a fresh store implementing [`EventStore`]; it is evaluated and awaited once per case.
#[macro_export]
macro_rules! conformance_tests {
    ($store:expr) => {
        $crate::conformance_tests!(@cases $store;
            append_and_read_back,
            expected_version_semantics,
            concurrent_appends_conflict,
            conflict_fails_only_its_append,
            idempotent_retry,
            event_ids_are_unique,
            find_event_by_id,
            invalid_appends_are_refused,
            read_stream_bounds_and_directions,
            global_log_order,
            global_log_filters,
            rare_events_are_read_to_the_head,
            large_event,
            wait_for_new_events,
            hash_chain_is_recomputable,
            verification_is_clean,
        );
    };
    (@cases $store:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $store.await;
                $crate::conformance::$case(&store).await;
            }
        )*
    };
}

/// A stream id no other case (or run) uses.
pub fn unique_stream(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// A small event of type `event_type` with `{"n": n}` as data.
pub fn numbered_event(event_type: &str, n: u64) -> NewEvent {
    NewEvent::new(event_type, json!({ "n": n }))
}

/// Reads the global log after `after` to its current end, following `last_position` through `page`-sized
/// slices, and checks every slice keeps the contract on the way.
pub async fn read_log_to_end(
    store: &dyn EventStore,
    after: u64,
    filter: &LogFilter,
    page: usize,
) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    let mut after = after;
    for _ in 0..1_000_000 {
        let slice = store.read_all(after, page, filter).await.expect("read the global log");
        assert!(slice.events.len() <= page, "a slice holds at most `limit` events");
        assert!(slice.last_position >= after, "last_position never goes backwards");
        let mut previous = after;
        for event in &slice.events {
            assert!(event.position > previous, "positions strictly increase along the log");
            assert!(event.position <= slice.last_position, "last_position covers the events returned");
            assert!(filter.matches(&event.stream_id, &event.event_type), "only matching events are returned");
            previous = event.position;
        }
        if slice.events.is_empty() && slice.last_position == after {
            return events;
        }
        after = slice.last_position;
        events.extend(slice.events);
    }
    panic!("the global log did not come to an end after a million slices");
}

/// Asserts an append failed with `WrongExpectedVersion { expected, actual }`.
pub fn assert_wrong_version<T: std::fmt::Debug>(
    outcome: Result<T, StoreError>,
    expected: ExpectedVersion,
    actual: Option<u64>,
) {
    match outcome {
        Err(StoreError::WrongExpectedVersion { expected: e, actual: a }) => {
            assert_eq!((e, a), (expected, actual), "the conflict reports what was expected and what was found");
        }
        other => panic!("expected WrongExpectedVersion {{ {expected:?}, {actual:?} }}, got {other:?}"),
    }
}

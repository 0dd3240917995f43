//! Global order under load: 16 concurrent appenders (single events and batches, own streams and contended ones,
//! some conflicting on purpose) while a follower, on another store instance, reads the global log as it grows.
//! At the end the follower has received every committed event exactly once, in the order the log reports, and no
//! event of a refused append.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tally_store::conformance::numbered_event;
use tally_store::{
    EventStore, ExpectedVersion, LogFilter, NewEvent, PgEventStore, PgStoreOptions, ReadStream, RecordedEvent,
    StoreError,
};
use tokio::sync::watch;
use uuid::Uuid;

const APPENDERS: usize = 16;
const ROUNDS: u64 = 150;
const CONTENDED_STREAMS: u64 = 3;

#[derive(Default)]
struct AppenderReport {
    committed: Vec<Uuid>,
    refused: Vec<Uuid>,
    conflicts: usize,
}

async fn appender(store: PgEventStore, run: String, number: usize) -> AppenderReport {
    let mut report = AppenderReport::default();
    let own = format!("{run}-own-{number}");
    let mut own_version: Option<u64> = None;
    for round in 0..ROUNDS {
        let size = 1 + (round + number as u64) % 4;
        let events: Vec<NewEvent> = (0..size).map(|k| numbered_event("Stressed", round * 10 + k)).collect();
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let (stream, expected) = match round % 3 {
            // Its own stream, at the version it knows: always succeeds.
            0 => (own.clone(), own_version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact)),
            // A contended stream at the version just read: races with the other appenders.
            1 => {
                let stream = format!("{run}-hot-{}", round % CONTENDED_STREAMS);
                let last = store.read_stream(&stream, ReadStream::backwards_from_end(1)).await.expect("read");
                let expected =
                    last.first().map_or(ExpectedVersion::NoStream, |e| ExpectedVersion::Exact(e.stream_version));
                (stream, expected)
            }
            // A contended stream, whatever its version.
            _ => (format!("{run}-hot-{}", round % CONTENDED_STREAMS), ExpectedVersion::Any),
        };
        match store.append(&stream, expected, events).await {
            Ok(result) => {
                if stream == own {
                    own_version = Some(result.next_version);
                }
                report.committed.extend(ids);
            }
            Err(StoreError::WrongExpectedVersion { .. }) => {
                report.conflicts += 1;
                report.refused.extend(ids);
            }
            Err(error) => panic!("append failed: {error}"),
        }
    }
    report
}

async fn follower(store: PgEventStore, mut stop_at: watch::Receiver<Option<u64>>) -> Vec<RecordedEvent> {
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let slice = store.read_all(after, 37, &LogFilter::all()).await.expect("read the log");
        after = slice.last_position;
        let caught_up = slice.events.is_empty();
        seen.extend(slice.events);
        if stop_at.borrow_and_update().is_some_and(|end| after >= end) {
            return seen;
        }
        if caught_up {
            store.wait_for_position_after(after, Duration::from_millis(200)).await.expect("wait");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_sees_every_committed_event_once_in_log_order() {
    let db = common::migrated_database().await;
    let options = PgStoreOptions { max_batch_appends: 8, ..PgStoreOptions::default() };
    let writers = PgEventStore::connect(&db.url, options).await.expect("connect the appenders' store");
    let reader = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect the follower's store");
    let run = format!("stress-{}", Uuid::new_v4().simple());

    let (stop, stop_at) = watch::channel(None);
    let follower = tokio::spawn(follower(reader.clone(), stop_at));
    let appenders: Vec<_> = (0..APPENDERS).map(|n| tokio::spawn(appender(writers.clone(), run.clone(), n))).collect();
    let mut committed = HashSet::new();
    let mut refused = Vec::new();
    let mut conflicts = 0;
    for appender in appenders {
        let report = appender.await.expect("an appender finished");
        committed.extend(report.committed);
        refused.extend(report.refused);
        conflicts += report.conflicts;
    }
    let head = writers.head_position().await.expect("head");
    stop.send_replace(Some(head));
    let seen = Arc::new(follower.await.expect("the follower finished"));

    assert!(conflicts > 0, "the contended streams produced conflicts");
    let seen_ids: Vec<Uuid> = seen.iter().map(|e| e.event_id).collect();
    let unique: HashSet<Uuid> = seen_ids.iter().copied().collect();
    assert_eq!(unique.len(), seen_ids.len(), "no event was delivered twice");
    assert_eq!(unique, committed, "every committed event was delivered, and nothing else");
    assert!(refused.iter().all(|id| !unique.contains(id)), "no event of a refused append was written");
    let positions: Vec<u64> = seen.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<u64>>(), "positions are contiguous and in log order");

    let log: Vec<Uuid> = tally_store::conformance::read_log_to_end(&reader, 0, &LogFilter::all(), 500)
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(seen_ids, log, "the follower saw the log in the order the log reports");

    let verification = reader.verify_all(&tally_store::no_progress).await.expect("verify");
    assert!(verification.is_intact(), "{:?}", verification.breaks);
    assert_eq!(verification.events_checked, head);
}

//! Conformance cases for the global log: order and exactly-once paging, filters, and waiting for new events.

use std::time::Duration;
use uuid::Uuid;

use super::{numbered_event, read_log_to_end, unique_stream};
use crate::event::{ExpectedVersion, LogFilter, NewEvent, RecordedEvent};
use crate::port::{read_to_head, EventStore};

/// The global log holds every event once, in append order, whatever the page size.
pub async fn global_log_order(store: &dyn EventStore) {
    let prefix = unique_stream("conformance-order");
    let streams: Vec<String> = (0..3).map(|i| format!("{prefix}-{i}")).collect();
    let start = store.head_position().await.expect("head position");

    let mut appended: Vec<(Uuid, u64)> = Vec::new();
    for n in 0..12u64 {
        let events: Vec<NewEvent> = (0..=n % 3).map(|k| numbered_event("Ordered", n * 10 + k)).collect();
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let stream = &streams[usize::try_from(n % 3).unwrap_or(0)];
        let result = store.append(stream, ExpectedVersion::Any, events).await.expect("append");
        let last = ids.len() - 1;
        for (i, id) in ids.into_iter().enumerate() {
            appended.push((id, if i == last { result.position } else { 0 }));
        }
    }

    let ours = |events: Vec<RecordedEvent>| -> Vec<RecordedEvent> {
        events.into_iter().filter(|e| e.stream_id.starts_with(&prefix)).collect()
    };
    for page in [1, 5, 1000] {
        let read = ours(read_log_to_end(store, start, &LogFilter::all(), page).await);
        let ids: Vec<Uuid> = read.iter().map(|e| e.event_id).collect();
        let expected: Vec<Uuid> = appended.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, expected, "every event once, in append order (page size {page})");
        for (event, (_, position)) in read.iter().zip(&appended) {
            assert!(*position == 0 || event.position == *position, "positions match the append results");
        }
    }

    let all = ours(read_log_to_end(store, start, &LogFilter::all(), 1000).await);
    let middle = &all[all.len() / 2];
    let after_middle = ours(read_log_to_end(store, middle.position, &LogFilter::all(), 1000).await);
    assert_eq!(
        after_middle.first().map(|e| e.event_id),
        all.get(all.len() / 2 + 1).map(|e| e.event_id),
        "`after` is exclusive"
    );
    let head = store.head_position().await.expect("head position");
    assert!(all.last().is_some_and(|last| head >= last.position), "the head is at or past the last event");
    let nothing = store.read_all(start, 0, &LogFilter::all()).await.expect("read");
    assert!(nothing.events.is_empty() && nothing.last_position == start, "a zero limit examines nothing");
}

/// Filters by stream prefix and by event types, alone and together, with paging that still ends.
pub async fn global_log_filters(store: &dyn EventStore) {
    let prefix = unique_stream("conformance-filter");
    let suffix = Uuid::new_v4().simple().to_string();
    let (placed, paid, received) = (format!("Placed{suffix}"), format!("Paid{suffix}"), format!("Received{suffix}"));
    let start = store.head_position().await.expect("head position");
    let order = format!("{prefix}-order-1");
    let stock = format!("{prefix}-stock-1");
    let outsider = unique_stream("conformance-outsider");
    store
        .append(&order, ExpectedVersion::NoStream, vec![numbered_event(&placed, 0), numbered_event(&paid, 1)])
        .await
        .expect("append");
    store.append(&outsider, ExpectedVersion::NoStream, vec![numbered_event(&placed, 2)]).await.expect("append");
    store.append(&stock, ExpectedVersion::NoStream, vec![numbered_event(&received, 3)]).await.expect("append");
    store.append(&order, ExpectedVersion::Exact(1), vec![numbered_event(&placed, 4)]).await.expect("append");

    let numbers = |events: Vec<RecordedEvent>| -> Vec<u64> {
        events.iter().map(|e| e.data["n"].as_u64().unwrap_or(u64::MAX)).collect()
    };
    let by_prefix = LogFilter::stream_prefix(prefix.clone());
    let by_order_prefix = LogFilter::stream_prefix(format!("{prefix}-order-"));
    let by_type = LogFilter::event_types([placed.clone()]);
    let by_types = LogFilter::event_types([paid.clone(), received.clone()]);
    let by_both = LogFilter { stream_prefix: Some(prefix.clone()), event_types: vec![placed.clone()] };
    let nothing = LogFilter::event_types([format!("Never{suffix}")]);
    for page in [1, 2, 100] {
        assert_eq!(numbers(read_log_to_end(store, start, &by_prefix, page).await), vec![0, 1, 3, 4]);
        assert_eq!(numbers(read_log_to_end(store, start, &by_order_prefix, page).await), vec![0, 1, 4]);
        assert_eq!(numbers(read_log_to_end(store, start, &by_type, page).await), vec![0, 2, 4]);
        assert_eq!(numbers(read_log_to_end(store, start, &by_types, page).await), vec![1, 3]);
        assert_eq!(numbers(read_log_to_end(store, start, &by_both, page).await), vec![0, 4]);
        assert!(read_log_to_end(store, start, &nothing, page).await.is_empty());
    }
    let slice = store.read_all(start, 100, &nothing).await.expect("read");
    let head = store.head_position().await.expect("head position");
    assert!(slice.events.is_empty());
    assert!(slice.last_position > start && slice.last_position <= head, "skipped events still move the reader on");
}

/// A rare event far past the reader is found by [`read_to_head`], however far a filtered read looks at once (the
/// PostgreSQL store examines 10,000 positions per read).
pub async fn rare_events_are_read_to_the_head(store: &dyn EventStore) {
    let start = store.head_position().await.expect("head position");
    let common = unique_stream("conformance-common");
    let mut version = ExpectedVersion::NoStream;
    for chunk in 0..11u64 {
        let events: Vec<NewEvent> = (0..1_000).map(|n| numbered_event("Common", chunk * 1_000 + n)).collect();
        let appended = store.append(&common, version, events).await.expect("append");
        version = ExpectedVersion::Exact(appended.next_version);
    }
    let rare = unique_stream("conformance-rare");
    let appended =
        store.append(&rare, ExpectedVersion::NoStream, vec![numbered_event("Rare", 0)]).await.expect("append");
    let read = read_to_head(store, start, &LogFilter::stream_prefix(rare.clone())).await.expect("read");
    assert_eq!(read.events.iter().map(|e| e.stream_id.as_str()).collect::<Vec<_>>(), vec![rare.as_str()]);
    assert!(read.last_position >= appended.position, "read on to the head");
    let again = read_to_head(store, read.last_position, &LogFilter::stream_prefix(rare)).await.expect("read");
    assert!(again.events.is_empty() && again.last_position >= read.last_position, "nothing new, nothing twice");
}

/// A waiting reader wakes up when an event is appended, and a wait with nothing new ends at its timeout.
pub async fn wait_for_new_events(store: &dyn EventStore) {
    let head = store.head_position().await.expect("head position");
    // Nothing is appended: the wait ends at its timeout.
    store.wait_for_position_after(head, Duration::from_millis(100)).await.expect("a quiet wait returns");

    let stream = unique_stream("conformance-wait");
    let waiting = store.wait_for_position_after(head, Duration::from_secs(30));
    let appending = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        store.append(&stream, ExpectedVersion::NoStream, vec![numbered_event("Awaited", 0)]).await.expect("append")
    };
    let (woken, appended) = futures::join!(waiting, appending);
    let woken = woken.expect("wait");
    assert!(woken > head, "the wait ends with a head past the position waited on");

    let already = store.wait_for_position_after(head, Duration::from_secs(30)).await.expect("wait");
    assert!(already >= appended.position, "a wait for a position already passed returns at once");
}

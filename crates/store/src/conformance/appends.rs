//! Conformance cases for appends: what is recorded, expected-version semantics, conflicts between concurrent
//! writers, idempotent retries, unique event ids and refused input.

use chrono::{Duration as TimeDelta, Utc};
use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

use super::{assert_wrong_version, numbered_event, unique_stream};
use crate::error::StoreError;
use crate::event::{ExpectedVersion, Metadata, NewEvent, ReadStream};
use crate::hash::EventHash;
use crate::port::EventStore;

/// An append is recorded as sent, with versions from 0, increasing positions, a UTC time and a hash.
pub async fn append_and_read_back(store: &dyn EventStore) {
    let stream = unique_stream("conformance-read-back");
    let metadata = Metadata {
        correlation_id: Some(Uuid::new_v4()),
        causation_id: Some(Uuid::new_v4()),
        actor: Some("user:alice".to_owned()),
        actor_name: Some("web shop".to_owned()),
        claimed_actor: Some("clerk 7".to_owned()),
        idempotency_key: Some("key-1".to_owned()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
    };
    let sent = vec![
        NewEvent::new("Happened", json!({"n": 0, "nested": {"b": [1, 2, null], "a": "é\"\\\n"}, "big": u64::MAX}))
            .with_metadata(metadata),
        NewEvent::new("Happened", json!({"n": 1})).with_schema_version(2),
        NewEvent::new("AlsoHappened", json!("a plain string")),
    ];
    let result = store.append(&stream, ExpectedVersion::NoStream, sent.clone()).await.expect("append");
    assert_eq!(result.next_version, 2, "next_version is the version of the last event");

    let recorded = store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read the stream");
    assert_eq!(recorded.len(), 3);
    let now = Utc::now();
    for (version, (event, sent)) in (0u64..).zip(recorded.iter().zip(&sent)) {
        assert_eq!(event.event_id, sent.event_id);
        assert_eq!(event.stream_id, stream);
        assert_eq!(event.stream_version, version, "versions start at 0");
        assert_eq!(event.event_type, sent.event_type);
        assert_eq!(event.schema_version, sent.schema_version);
        assert_eq!(event.data, sent.data, "data round-trips");
        assert_eq!(event.metadata, sent.metadata, "metadata round-trips");
        assert!((event.recorded_at - now).abs() < TimeDelta::minutes(10), "recorded_at is the current UTC time");
        assert_ne!(event.hash, EventHash::GENESIS);
    }
    assert!(recorded.windows(2).all(|w| w[0].position < w[1].position), "positions increase in a stream");
    assert!(recorded.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
    assert_eq!(result.position, recorded[2].position, "the result carries the last event's position");
}

/// `NoStream`, `Exact` and `Any` decide against the stream's current version.
pub async fn expected_version_semantics(store: &dyn EventStore) {
    let stream = unique_stream("conformance-expected");
    let e = |n| numbered_event("Counted", n);

    assert_wrong_version(
        store.append(&stream, ExpectedVersion::Exact(0), vec![e(0)]).await,
        ExpectedVersion::Exact(0),
        None,
    );
    let created = store.append(&stream, ExpectedVersion::Any, vec![e(0)]).await.expect("any creates a stream");
    assert_eq!(created.next_version, 0);
    let taken = store.append(&stream, ExpectedVersion::NoStream, vec![e(1)]).await;
    assert_wrong_version(taken, ExpectedVersion::NoStream, Some(0));
    let next = store.append(&stream, ExpectedVersion::Exact(0), vec![e(1)]).await.expect("exact version");
    assert_eq!(next.next_version, 1);
    assert_wrong_version(
        store.append(&stream, ExpectedVersion::Exact(0), vec![e(2)]).await,
        ExpectedVersion::Exact(0),
        Some(1),
    );
    assert_wrong_version(
        store.append(&stream, ExpectedVersion::Exact(7), vec![e(2)]).await,
        ExpectedVersion::Exact(7),
        Some(1),
    );
    let any = store.append(&stream, ExpectedVersion::Any, vec![e(2), e(3)]).await.expect("any appends");
    assert_eq!(any.next_version, 3);

    let recorded = store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read the stream");
    let numbers: Vec<u64> = recorded.iter().map(|e| e.data["n"].as_u64().unwrap_or(u64::MAX)).collect();
    assert_eq!(numbers, vec![0, 1, 2, 3], "refused appends wrote nothing");
}

/// Of concurrent appends at the same expected version, exactly one wins; the others see the winner's version.
pub async fn concurrent_appends_conflict(store: &dyn EventStore) {
    let stream = unique_stream("conformance-race");
    let creations = (0..8).map(|n| store.append(&stream, ExpectedVersion::NoStream, vec![numbered_event("Raced", n)]));
    let outcomes = join_all(creations).await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "one creator wins");
    for outcome in outcomes.into_iter().filter(Result::is_err) {
        assert_wrong_version(outcome, ExpectedVersion::NoStream, Some(0));
    }

    let extensions = (0..8).map(|n| store.append(&stream, ExpectedVersion::Exact(0), vec![numbered_event("Raced", n)]));
    let outcomes = join_all(extensions).await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "one writer wins");
    for outcome in outcomes.into_iter().filter(Result::is_err) {
        assert_wrong_version(outcome, ExpectedVersion::Exact(0), Some(1));
    }
    let recorded = store.read_stream(&stream, ReadStream::forwards(0, 100)).await.expect("read the stream");
    assert_eq!(recorded.len(), 2, "only the winners were written");
}

/// A conflicting append fails alone: appends submitted with it, to other streams, succeed.
pub async fn conflict_fails_only_its_append(store: &dyn EventStore) {
    let streams: Vec<String> = (0..4).map(|_| unique_stream("conformance-neighbours")).collect();
    for stream in &streams {
        store.append(stream, ExpectedVersion::NoStream, vec![numbered_event("Began", 0)]).await.expect("create");
    }
    let attempts = streams.iter().enumerate().map(|(i, stream)| {
        // The second stream is expected at a version it does not have.
        let expected = if i == 1 { ExpectedVersion::Exact(5) } else { ExpectedVersion::Exact(0) };
        store.append(stream, expected, vec![numbered_event("Continued", 1), numbered_event("Continued", 2)])
    });
    let outcomes = join_all(attempts).await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        if i == 1 {
            assert_wrong_version(outcome, ExpectedVersion::Exact(5), Some(0));
        } else {
            assert_eq!(outcome.expect("a neighbour of a conflict succeeds").next_version, 2);
        }
    }
    let conflicted = store.read_stream(&streams[1], ReadStream::forwards(0, 10)).await.expect("read");
    assert_eq!(conflicted.len(), 1, "the conflicting append wrote nothing");
}

/// Re-appending the same event ids at the same expected version returns the first result and writes nothing;
/// another batch at a taken version is a conflict.
pub async fn idempotent_retry(store: &dyn EventStore) {
    let stream = unique_stream("conformance-retry");
    let first_batch = vec![numbered_event("Tried", 0), numbered_event("Tried", 1)];
    let first = store.append(&stream, ExpectedVersion::NoStream, first_batch.clone()).await.expect("append");
    let retried = store.append(&stream, ExpectedVersion::NoStream, first_batch.clone()).await.expect("retry");
    assert_eq!(retried, first, "a retry returns the first result");

    let second_batch = vec![numbered_event("Tried", 2)];
    let second = store.append(&stream, ExpectedVersion::Exact(1), second_batch.clone()).await.expect("append");
    let retried = store.append(&stream, ExpectedVersion::Exact(1), second_batch.clone()).await.expect("retry");
    assert_eq!(retried, second);

    let same_event = numbered_event("Tried", 3);
    let concurrent = (0..3).map(|_| store.append(&stream, ExpectedVersion::Exact(2), vec![same_event.clone()]));
    let outcomes = join_all(concurrent).await;
    let results: Vec<_> = outcomes.into_iter().map(|o| o.expect("concurrent retries all succeed")).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]), "concurrent retries share the first result");

    let any_event = vec![numbered_event("Tried", 4)];
    let any = store.append(&stream, ExpectedVersion::Any, any_event.clone()).await.expect("append");
    assert_eq!(store.append(&stream, ExpectedVersion::Any, any_event).await.expect("retry"), any);

    let intruder = store.append(&stream, ExpectedVersion::Exact(1), vec![numbered_event("Tried", 9)]).await;
    assert_wrong_version(intruder, ExpectedVersion::Exact(1), Some(4));
    let moved = store.append(&stream, ExpectedVersion::Exact(0), first_batch).await;
    assert_wrong_version(moved, ExpectedVersion::Exact(0), Some(4));

    let recorded = store.read_stream(&stream, ReadStream::forwards(0, 100)).await.expect("read the stream");
    let numbers: Vec<u64> = recorded.iter().map(|e| e.data["n"].as_u64().unwrap_or(u64::MAX)).collect();
    assert_eq!(numbers, vec![0, 1, 2, 3, 4], "retries wrote nothing");
}

/// An event id is stored once: reusing it elsewhere is refused.
pub async fn event_ids_are_unique(store: &dyn EventStore) {
    let (first, second) = (unique_stream("conformance-ids"), unique_stream("conformance-ids"));
    let event = numbered_event("Identified", 0);
    store.append(&first, ExpectedVersion::NoStream, vec![event.clone()]).await.expect("append");
    let elsewhere = store.append(&second, ExpectedVersion::Any, vec![event.clone()]).await;
    assert!(
        matches!(elsewhere, Err(StoreError::DuplicateEventId { event_id }) if event_id == event.event_id),
        "an event id cannot be stored twice, got {elsewhere:?}"
    );
    let again = store.append(&first, ExpectedVersion::Exact(0), vec![numbered_event("Identified", 1), event]).await;
    assert!(matches!(again, Err(StoreError::DuplicateEventId { .. })), "not in the same stream either: {again:?}");
    assert!(store.read_stream(&second, ReadStream::forwards(0, 10)).await.expect("read").is_empty());
    assert_eq!(store.read_stream(&first, ReadStream::forwards(0, 10)).await.expect("read").len(), 1);
}

/// An event is found by its id in its own stream, and only there.
pub async fn find_event_by_id(store: &dyn EventStore) {
    let (stream, other) = (unique_stream("conformance-find"), unique_stream("conformance-find"));
    let events = vec![numbered_event("Found", 0), numbered_event("Found", 1)];
    let wanted = events[1].event_id;
    store.append(&stream, ExpectedVersion::NoStream, events).await.expect("append");
    let found = store.find_event(&stream, wanted).await.expect("find").expect("the event is found");
    assert_eq!((found.event_id, found.stream_version, found.data["n"].as_u64()), (wanted, 1, Some(1)));
    assert!(store.find_event(&other, wanted).await.expect("find").is_none(), "not in another stream");
    assert!(store.find_event(&stream, Uuid::new_v4()).await.expect("find").is_none(), "an unknown id");
}

/// Appends the store cannot hold are refused before anything is written.
pub async fn invalid_appends_are_refused(store: &dyn EventStore) {
    let stream = unique_stream("conformance-invalid");
    let event = numbered_event("Refused", 0);
    let refused = [
        store.append(&stream, ExpectedVersion::Any, vec![]).await,
        store.append("", ExpectedVersion::Any, vec![event.clone()]).await,
        store.append("$all", ExpectedVersion::Any, vec![event.clone()]).await,
        store.append(&stream, ExpectedVersion::Any, vec![event.clone(), event.clone()]).await,
        store.append(&stream, ExpectedVersion::Any, vec![NewEvent::new("", json!({}))]).await,
        store.append(&stream, ExpectedVersion::Any, vec![NewEvent::new("Refused", json!({"s": "a\u{0}b"}))]).await,
    ];
    for outcome in refused {
        assert!(matches!(outcome, Err(StoreError::InvalidAppend(_))), "refused as invalid: {outcome:?}");
    }
    assert!(store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read").is_empty());
    store.append(&stream, ExpectedVersion::NoStream, vec![event]).await.expect("a valid append still works");
}

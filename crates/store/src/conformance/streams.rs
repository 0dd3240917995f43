//! Conformance cases for stream reads and integrity: bounds and directions, a large event, the hash chain's
//! canonical encoding and verification of an untouched store.

use serde_json::json;

use super::{numbered_event, unique_stream};
use crate::event::{ExpectedVersion, NewEvent, ReadStream, RecordedEvent};
use crate::hash::{recompute_hash, EventHash};
use crate::port::EventStore;

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.stream_version).collect()
}

/// Stream reads start at the version asked for, go either way and stop at the limit or the stream's end.
pub async fn read_stream_bounds_and_directions(store: &dyn EventStore) {
    let stream = unique_stream("conformance-bounds");
    let first: Vec<NewEvent> = (0..4).map(|n| numbered_event("Bounded", n)).collect();
    let rest: Vec<NewEvent> = (4..10).map(|n| numbered_event("Bounded", n)).collect();
    store.append(&stream, ExpectedVersion::NoStream, first).await.expect("append");
    store.append(&stream, ExpectedVersion::Exact(3), rest).await.expect("append");

    let read = |read: ReadStream| {
        let stream = stream.clone();
        async move { versions(&store.read_stream(&stream, read).await.expect("read the stream")) }
    };
    assert_eq!(read(ReadStream::forwards(0, 100)).await, (0..10).collect::<Vec<u64>>());
    assert_eq!(read(ReadStream::forwards(3, 4)).await, vec![3, 4, 5, 6]);
    assert_eq!(read(ReadStream::forwards(8, 10)).await, vec![8, 9]);
    assert_eq!(read(ReadStream::forwards(10, 5)).await, Vec::<u64>::new());
    assert_eq!(read(ReadStream::forwards(0, 0)).await, Vec::<u64>::new());
    assert_eq!(read(ReadStream::backwards(5, 3)).await, vec![5, 4, 3]);
    assert_eq!(read(ReadStream::backwards(1, 10)).await, vec![1, 0]);
    assert_eq!(read(ReadStream::backwards(50, 2)).await, vec![9, 8]);
    assert_eq!(read(ReadStream::backwards_from_end(3)).await, vec![9, 8, 7]);
    assert_eq!(read(ReadStream::backwards(0, 0)).await, Vec::<u64>::new());

    let missing = unique_stream("conformance-missing");
    for direction in [ReadStream::forwards(0, 10), ReadStream::backwards_from_end(10)] {
        assert!(store.read_stream(&missing, direction).await.expect("read").is_empty(), "a missing stream is empty");
    }
}

/// A 512 KiB event is stored, read back whole and verified.
pub async fn large_event(store: &dyn EventStore) {
    let stream = unique_stream("conformance-large");
    let text: String = (0..512 * 1024).map(|i| char::from(b'a' + u8::try_from(i % 26).unwrap_or(0))).collect();
    let event = NewEvent::new("Large", json!({"text": text, "n": 1}));
    store.append(&stream, ExpectedVersion::NoStream, vec![event.clone()]).await.expect("append a large event");
    let read = store.read_stream(&stream, ReadStream::forwards(0, 1)).await.expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].data, event.data, "the large event reads back whole");
    assert_eq!(read[0].hash, recompute_hash(&EventHash::GENESIS, &read[0]));
    assert!(store.verify_stream(&stream).await.expect("verify").is_intact());
}

/// Each stored hash is SHA-256(previous hash in the stream || canonical bytes), starting from 32 zero bytes: the
/// encoding of docs/hash-chain.md, the same on every adapter.
pub async fn hash_chain_is_recomputable(store: &dyn EventStore) {
    let stream = unique_stream("conformance-chain");
    let first = vec![
        NewEvent::new("Chained", json!({"z": 1, "a": [true, null, 2.5], "m": {"k": "v"}})),
        numbered_event("Chained", 1),
    ];
    store.append(&stream, ExpectedVersion::NoStream, first).await.expect("append");
    store.append(&stream, ExpectedVersion::Exact(1), vec![numbered_event("Chained", 2)]).await.expect("append");
    let events = store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read");
    let mut previous = EventHash::GENESIS;
    for event in &events {
        assert_eq!(event.hash, recompute_hash(&previous, event), "version {} hashes canonically", event.stream_version);
        previous = event.hash;
    }
}

/// Verification of untouched streams finds no break and counts what it checked.
pub async fn verification_is_clean(store: &dyn EventStore) {
    let streams: Vec<String> = (0..3).map(|_| unique_stream("conformance-verify")).collect();
    for (size, stream) in (1u64..).zip(&streams) {
        let events: Vec<NewEvent> = (0..size).map(|n| numbered_event("Verified", n)).collect();
        store.append(stream, ExpectedVersion::NoStream, events).await.expect("append");
        store.append(stream, ExpectedVersion::Any, vec![numbered_event("Verified", 99)]).await.expect("append");
    }
    for (size, stream) in (1u64..).zip(&streams) {
        let verification = store.verify_stream(stream).await.expect("verify a stream");
        assert!(verification.is_intact(), "{:?}", verification.breaks);
        assert_eq!((verification.streams_checked, verification.events_checked), (1, size + 1));
    }
    let missing = store.verify_stream(&unique_stream("conformance-missing")).await.expect("verify");
    assert!(missing.is_intact());
    assert_eq!((missing.streams_checked, missing.events_checked), (0, 0));

    let last_report = std::sync::Mutex::new(None);
    let report = |progress: crate::verify::VerifyProgress| {
        *last_report.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(progress);
    };
    let all = store.verify_all(&report).await.expect("verify every stream");
    assert!(all.is_intact(), "{:?}", all.breaks);
    assert!(all.streams_checked >= 3 && all.events_checked >= 9);
    let last_report = last_report.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let last_report = last_report.expect("verify_all reports its progress");
    assert_eq!(last_report.events_checked, all.events_checked, "the last report counts every event checked");
}

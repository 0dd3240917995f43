//! Tamper evidence: change stored events with SQL behind the store's back (disabling the append-only trigger,
//! as an owner could) and check that verification names the exact place. Also checks that the auditor's SQL in
//! docs/hash-chain.md recomputes the same hashes as the store.

mod common;

use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, PgPool, Row};
use tally_store::conformance::{numbered_event, unique_stream};
use tally_store::{
    recompute_hash, BreakKind, EventHash, EventStore, ExpectedVersion, Metadata, NewEvent, PgEventStore,
    PgStoreOptions, ReadStream,
};
use uuid::Uuid;

const HASH_CHAIN_DOC: &str = include_str!("../../../docs/hash-chain.md");

/// Runs `change` with the append-only trigger disabled, as someone with owner rights would.
async fn tamper(pool: &PgPool, change: &str) {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("alter table events disable trigger events_append_only").execute(&mut *tx).await.expect("disable");
    sqlx::query(change).execute(&mut *tx).await.expect("tamper");
    sqlx::query("alter table events enable trigger events_append_only").execute(&mut *tx).await.expect("enable");
    tx.commit().await.expect("commit");
}

/// A store with a stream of `length` events.
async fn store_with_stream(length: u64) -> (tally_testkit::TestDatabase, PgEventStore, String) {
    let db = common::migrated_database().await;
    let store = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    let stream = unique_stream("tampered");
    let events: Vec<NewEvent> = (0..length).map(|n| numbered_event("Recorded", n)).collect();
    store.append(&stream, ExpectedVersion::NoStream, events).await.expect("append");
    (db, store, stream)
}

async fn stored_hash(pool: &PgPool, stream: &str, version: i64) -> EventHash {
    let bytes: Vec<u8> = sqlx::query_scalar("select hash from events where stream_id = $1 and stream_version = $2")
        .bind(stream)
        .bind(version)
        .fetch_one(pool)
        .await
        .expect("read a hash");
    EventHash::from_slice(&bytes).expect("32 bytes")
}

#[tokio::test]
async fn altered_events_are_each_named() {
    let (db, store, stream) = store_with_stream(6).await;
    let other = unique_stream("tampered");
    store.append(&other, ExpectedVersion::NoStream, vec![numbered_event("Recorded", 0)]).await.expect("append");
    let untouched = unique_stream("untouched");
    store.append(&untouched, ExpectedVersion::NoStream, vec![numbered_event("Recorded", 0)]).await.expect("append");

    let bind = |sql: &str, stream: &str| sql.replace("$stream", &format!("'{stream}'"));
    tamper(
        &db.pool,
        &bind("update events set data = '{\"n\": 99}' where stream_id = $stream and stream_version = 2", &stream),
    )
    .await;
    tamper(
        &db.pool,
        &bind("update events set event_type = 'Forged' where stream_id = $stream and stream_version = 4", &stream),
    )
    .await;
    tamper(
        &db.pool,
        &bind("update events set metadata = metadata || '{\"actor\": \"mallory\"}' where stream_id = $stream", &other),
    )
    .await;

    let verification = store.verify_all(&tally_store::no_progress).await.expect("verify");
    let places: Vec<(String, u64, BreakKind)> =
        verification.breaks.iter().map(|b| (b.stream_id.clone(), b.version, b.kind)).collect();
    let mut expected = vec![
        (stream.clone(), 2, BreakKind::HashMismatch),
        (stream.clone(), 4, BreakKind::HashMismatch),
        (other.clone(), 0, BreakKind::HashMismatch),
    ];
    expected.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    assert_eq!(places, expected, "every altered event, and only those");
    assert_eq!(verification.events_checked, 8);

    // expected = the hash of what is stored now, found = the hash stored at append time.
    let events = store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read");
    let at_two = verification.breaks.iter().find(|b| b.stream_id == stream && b.version == 2).expect("a break");
    assert_eq!(at_two.found, Some(stored_hash(&db.pool, &stream, 2).await));
    assert_eq!(at_two.expected, Some(recompute_hash(&events[1].hash, &events[2])));
    assert_eq!(store.verify_stream(&stream).await.expect("verify").breaks.len(), 2);
    assert!(store.verify_stream(&untouched).await.expect("verify").is_intact());
}

#[tokio::test]
async fn a_deleted_last_event_is_named() {
    let (db, store, stream) = store_with_stream(5).await;
    let last_hash = stored_hash(&db.pool, &stream, 4).await;
    tamper(&db.pool, &format!("delete from events where stream_id = '{stream}' and stream_version = 4")).await;

    let breaks = store.verify_stream(&stream).await.expect("verify").breaks;
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    assert_eq!((breaks[0].version, breaks[0].kind), (4, BreakKind::Missing { count: 1 }));
    assert_eq!((breaks[0].expected, breaks[0].found), (Some(last_hash), None), "the head names the lost hash");
    assert_eq!(store.verify_all(&tally_store::no_progress).await.expect("verify").breaks, breaks);
}

#[tokio::test]
async fn a_deleted_middle_event_is_named() {
    let (db, store, stream) = store_with_stream(5).await;
    tamper(&db.pool, &format!("delete from events where stream_id = '{stream}' and stream_version = 2")).await;

    let breaks = store.verify_stream(&stream).await.expect("verify").breaks;
    assert_eq!(breaks.len(), 1, "one deletion is one break: {breaks:?}");
    assert_eq!((breaks[0].stream_id.as_str(), breaks[0].version), (stream.as_str(), 2));
    assert_eq!(breaks[0].kind, BreakKind::Missing { count: 1 });
    assert_eq!(store.verify_all(&tally_store::no_progress).await.expect("verify").breaks, breaks);
}

#[tokio::test]
async fn a_rewritten_hash_is_caught_by_the_next_event() {
    let (db, store, stream) = store_with_stream(5).await;
    let mut events = store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read");
    events[2].data = json!({"n": 99});
    let forged = recompute_hash(&events[1].hash, &events[2]);
    tamper(
        &db.pool,
        &format!(
            "update events set data = '{{\"n\": 99}}', hash = '\\x{}' \
             where stream_id = '{stream}' and stream_version = 2",
            forged.to_hex()
        ),
    )
    .await;

    let breaks = store.verify_stream(&stream).await.expect("verify").breaks;
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    assert_eq!((breaks[0].version, breaks[0].kind), (3, BreakKind::HashMismatch));
}

/// The SQL blocks of docs/hash-chain.md, in order: the functions, the whole-store check, one event's input.
fn doc_sql_blocks() -> Vec<&'static str> {
    HASH_CHAIN_DOC.split("```sql\n").skip(1).filter_map(|block| block.split("```").next()).collect()
}

#[tokio::test]
async fn the_auditors_sql_recomputes_the_stored_hashes() {
    let db = common::migrated_database().await;
    let store = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    let stream = unique_stream("audited");
    let metadata = Metadata {
        correlation_id: Some(Uuid::new_v4()),
        causation_id: None,
        actor: Some("user:ünïcode \"quoted\"".to_owned()),
        actor_name: None,
        claimed_actor: Some("on behalf of ünï".to_owned()),
        idempotency_key: Some("key\twith\ttabs".to_owned()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
    };
    let data = json!({
        "b": [1, -2, 2.5, 0.30000000000000004, 1e16, u64::MAX, i64::MIN, true, false, null],
        "a": {"z": {}, "y": [], "": "empty key", "é": "日本 😀 \u{1} \u{1f} \\ / \u{7f}"},
        "A": "upper", "ab": "longer", "text": "line\nbreak\r\u{8}\u{c}",
    });
    let events = vec![
        NewEvent::new("Audited", data).with_metadata(metadata).with_schema_version(3),
        numbered_event("Audited", 1),
    ];
    store.append(&stream, ExpectedVersion::NoStream, events).await.expect("append");
    store.append(&stream, ExpectedVersion::Exact(1), vec![numbered_event("Audited", 2)]).await.expect("append");

    let blocks = doc_sql_blocks();
    assert_eq!(blocks.len(), 3, "the doc has the functions, the check and the one-event query");
    let mut session = PgConnection::connect(&db.url).await.expect("connect");
    sqlx::raw_sql(blocks[0]).execute(&mut session).await.expect("create the auditor's functions");
    let mismatches = sqlx::query(blocks[1]).fetch_all(&mut session).await.expect("run the check");
    assert!(mismatches.is_empty(), "the auditor's SQL agrees with every stored hash");

    let one_event = blocks[2].replace(":'stream'", "$1").replace(":version", "$2");
    for version in 0..3i64 {
        let input_hex: String =
            sqlx::query_scalar(&one_event).bind(&stream).bind(version).fetch_one(&mut session).await.expect("input");
        let input: Vec<u8> = (0..input_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&input_hex[i..i + 2], 16).expect("hex"))
            .collect();
        let by_hand: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(EventHash::from_bytes(by_hand), stored_hash(&db.pool, &stream, version).await, "version {version}");
    }

    tamper(
        &db.pool,
        &format!("update events set schema_version = 4 where stream_id = '{stream}' and stream_version = 0"),
    )
    .await;
    let mismatches = sqlx::query(blocks[1]).fetch_all(&mut session).await.expect("run the check");
    let places: Vec<(String, i64)> =
        mismatches.iter().map(|row| (row.get::<String, _>("stream_id"), row.get::<i64, _>("stream_version"))).collect();
    assert_eq!(places, vec![(stream, 0)], "the auditor's SQL names the altered event");
}

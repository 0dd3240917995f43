//! The conformance suite against a real KurrentDB / EventStoreDB server, plus what only this adapter has.
//!
//! No server can be installed on the development machines, so these tests need one given by
//! `TALLY_TEST_KURRENTDB_URL`, e.g. `esdb://localhost:2113?tls=false` for a node started with `--insecure`, or
//! `esdb://admin:changeit@localhost:2113?tlsVerifyCert=false` for a secure one. When the variable is not set at
//! build time, the server tests are ignored (`cfg(kurrentdb_server)`, set by `build.rs`), so a run reports them as
//! ignored, never as passed; run without a server anyway (`--ignored`), each fails saying why. The adapter's
//! mapping logic is unit-tested without a server (`cargo test -p tally-store --lib kurrentdb`). The tests share the server: every case uses its own random stream
//! ids and event types, so they can run in parallel and on a server that already holds other Tally data
//! (`verification_is_clean` verifies every stream, so events written by other tools would make it fail).
//!
//! Two tests need no server and always run: a URL of another store is refused, and a node that does not answer
//! fails `connect` instead of hanging.
//!
//! One conformance case is not run here: `event_ids_are_unique` reuses an event id in a *different* stream, and
//! KurrentDB keeps no index of event ids to refuse that. The adapter refuses ids it finds in the stream's tail,
//! which `event_ids_are_unique_within_the_stream_tail` checks instead.

use futures::future::join_all;
use serde_json::{json, Value};
use tally_store::conformance::{self, numbered_event, read_log_to_end, unique_stream};
use tally_store::kurrentdb::KurrentDbEventStore;
use tally_store::{EventStore, ExpectedVersion, LogFilter, ReadStream, StoreError};

const URL_VAR: &str = "TALLY_TEST_KURRENTDB_URL";

/// A store on the test server.
async fn store() -> KurrentDbEventStore {
    let url = std::env::var(URL_VAR).unwrap_or_default();
    assert!(
        !url.is_empty(),
        "{URL_VAR} is not set: this test needs a KurrentDB server (e.g. {URL_VAR}=esdb://localhost:2113?tls=false)"
    );
    KurrentDbEventStore::connect(&url).await.expect("connect to the server in TALLY_TEST_KURRENTDB_URL")
}

/// One test per conformance case, each ignored without a server.
macro_rules! conformance_cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(kurrentdb_server), ignore = "needs a KurrentDB server in TALLY_TEST_KURRENTDB_URL")]
            async fn $case() {
                conformance::$case(&store().await).await;
            }
        )*
    };
}

conformance_cases!(
    append_and_read_back,
    expected_version_semantics,
    concurrent_appends_conflict,
    conflict_fails_only_its_append,
    idempotent_retry,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kurrentdb_server), ignore = "needs a KurrentDB server in TALLY_TEST_KURRENTDB_URL")]
async fn event_ids_are_unique_within_the_stream_tail() {
    let store = store().await;
    let stream = unique_stream("kurrentdb-ids");
    let event = numbered_event("Identified", 0);
    store.append(&stream, ExpectedVersion::NoStream, vec![event.clone()]).await.expect("append");
    let again =
        store.append(&stream, ExpectedVersion::Exact(0), vec![numbered_event("Identified", 1), event.clone()]).await;
    assert!(
        matches!(again, Err(StoreError::DuplicateEventId { event_id }) if event_id == event.event_id),
        "an id already in the stream is refused: {again:?}"
    );
    let any = store.append(&stream, ExpectedVersion::Any, vec![numbered_event("Identified", 2), event]).await;
    assert!(matches!(any, Err(StoreError::DuplicateEventId { .. })), "with Any too: {any:?}");
    assert_eq!(store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read").len(), 1);
}

/// Concurrent `Any` appends to one stream all land, one after another: each is written at the exact revision it
/// read, so none chains from a stale hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kurrentdb_server), ignore = "needs a KurrentDB server in TALLY_TEST_KURRENTDB_URL")]
async fn concurrent_any_appends_never_fork_the_chain() {
    let store = store().await;
    let stream = unique_stream("kurrentdb-fork");
    let appends = (0..6).map(|n| store.append(&stream, ExpectedVersion::Any, vec![numbered_event("Raced", n)]));
    for outcome in join_all(appends).await {
        outcome.expect("an Any append retries until it lands");
    }
    let events = store.read_stream(&stream, ReadStream::forwards(0, 100)).await.expect("read");
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (0..6).collect::<Vec<u64>>());
    let verification = store.verify_stream(&stream).await.expect("verify");
    assert!(verification.is_intact(), "{:?}", verification.breaks);
}

/// KurrentDB's own events (stream metadata here) never show in the global log, and the reader still moves past
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kurrentdb_server), ignore = "needs a KurrentDB server in TALLY_TEST_KURRENTDB_URL")]
async fn system_events_stay_out_of_the_global_log() {
    let store = store().await;
    let stream = unique_stream("kurrentdb-system");
    let start = store.head_position().await.expect("head");
    store.append(&stream, ExpectedVersion::NoStream, vec![numbered_event("Visible", 0)]).await.expect("append");
    let metadata = kurrentdb::StreamMetadata::builder().max_count(1000).build();
    store
        .client()
        .set_stream_metadata(stream.as_str(), &kurrentdb::AppendToStreamOptions::default(), &metadata)
        .await
        .expect("write a $metadata event");
    let head = store.head_position().await.expect("head");

    let read = read_log_to_end(&store, start, &LogFilter::all(), 10).await;
    assert!(read.iter().all(|e| !e.stream_id.starts_with('$') && !e.event_type.starts_with('$')));
    let ours = read.iter().find(|e| e.stream_id == stream).expect("the stream's own event is there");
    let slice = store.read_all(ours.position, 10, &LogFilter::stream_prefix(stream.clone())).await.expect("read");
    assert!(slice.events.is_empty(), "nothing of the stream after its event: {:?}", slice.events);
    assert!(slice.last_position >= head, "the reader moves past the system event");
}

/// The layout other tools see: the Tally metadata, schema version, time and hash in the custom metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kurrentdb_server), ignore = "needs a KurrentDB server in TALLY_TEST_KURRENTDB_URL")]
async fn events_carry_the_tally_keys_in_their_custom_metadata() {
    let store = store().await;
    let stream = unique_stream("kurrentdb-layout");
    let event = numbered_event("Laid", 0).with_schema_version(3);
    store.append(&stream, ExpectedVersion::NoStream, vec![event.clone()]).await.expect("append");
    let recorded = store.read_stream(&stream, ReadStream::forwards(0, 1)).await.expect("read").remove(0);

    let options = kurrentdb::ReadStreamOptions::default().max_count(1);
    let mut raw = store.client().read_stream(stream.as_str(), &options).await.expect("read raw");
    let resolved = raw.next().await.expect("read raw").expect("one event");
    let stored = resolved.event.expect("an event");
    assert_eq!(stored.id, event.event_id, "the port's event id is KurrentDB's");
    assert_eq!(stored.event_type, "Laid");
    assert_eq!(stored.revision, 0);
    let custom: Value = serde_json::from_slice(&stored.custom_metadata).expect("JSON custom metadata");
    assert_eq!(custom["tally_schema_version"], json!(3));
    assert_eq!(custom["tally_hash"], json!(recorded.hash.to_hex()));
    assert!(custom["tally_recorded_at"].is_string());
    assert_eq!(stored.position.prepare, recorded.position, "the port position is the prepare position");
}

/// A URL of another store is refused before any connection is attempted.
#[tokio::test]
async fn connect_refuses_urls_of_other_stores() {
    let refused = KurrentDbEventStore::connect("postgres://tally:secret@localhost/tally").await;
    let error = refused.expect_err("not a KurrentDB URL");
    let chain = format!("{error} {:?}", std::error::Error::source(&error));
    assert!(chain.contains("esdb://") && !chain.contains("secret"), "{chain}");
}

/// Nothing listens on the address: connecting fails (a loopback port nobody uses) instead of hanging.
#[tokio::test]
async fn connect_fails_when_no_server_answers() {
    let connecting = KurrentDbEventStore::connect("esdb://127.0.0.1:1?tls=false");
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(60), connecting).await;
    let error = outcome.expect("connect gives up").expect_err("nothing listens on port 1");
    assert!(matches!(error, StoreError::Unavailable(_)), "an unavailable store: {error:?}");
}

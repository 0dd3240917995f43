//! The conformance suite against the PostgreSQL adapter, each case on a fresh database, plus what only
//! PostgreSQL has: connection settings, group commit, wake-ups across store instances, the append-only guard,
//! and a connection dropped in the middle of an append.

mod common;

use futures::future::join_all;
use sqlx::{Connection, PgConnection};
use std::time::Duration;
use tally_store::conformance::{numbered_event, unique_stream};
use tally_store::{EventStore, ExpectedVersion, PgEventStore, PgStoreOptions, ReadStream, StoreError};

tally_store::conformance_tests!(common::postgres_store());

#[tokio::test]
async fn connections_carry_the_timeouts() {
    let db = common::migrated_database().await;
    let options = PgStoreOptions {
        statement_timeout: Duration::from_secs(7),
        idle_in_transaction_timeout: Duration::from_secs(3),
        ..PgStoreOptions::default()
    };
    let store = PgEventStore::connect(&db.url, options).await.expect("connect the store");
    let statement: String = sqlx::query_scalar("show statement_timeout").fetch_one(store.pool()).await.expect("show");
    let idle: String =
        sqlx::query_scalar("show idle_in_transaction_session_timeout").fetch_one(store.pool()).await.expect("show");
    assert_eq!((statement.as_str(), idle.as_str()), ("7s", "3s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_transactions() {
    let db = common::migrated_database().await;
    let store = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect the store");
    let streams: Vec<String> = (0..64).map(|_| unique_stream("grouped")).collect();
    let appends =
        streams.iter().map(|s| store.append(s, ExpectedVersion::NoStream, vec![numbered_event("Grouped", 0)]));
    for outcome in join_all(appends).await {
        outcome.expect("append");
    }
    // Each transaction stamps its rows with its own id (xmin): fewer ids than appends means shared commits.
    let transactions: i64 = sqlx::query_scalar("select count(distinct xmin::text) from events")
        .fetch_one(&db.pool)
        .await
        .expect("count transactions");
    assert!(transactions < 64, "64 concurrent appends took {transactions} transactions");
    let positions: Vec<i64> =
        sqlx::query_scalar("select position from events order by position").fetch_all(&db.pool).await.expect("read");
    assert_eq!(positions, (1..=64).collect::<Vec<i64>>(), "positions are contiguous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_to_one_stream_in_one_batch_are_checked_in_order() {
    let store = common::postgres_store().await;
    let stream = unique_stream("ordered");
    let (first, second) = futures::join!(
        store.append(&stream, ExpectedVersion::NoStream, vec![numbered_event("Ordered", 0)]),
        store.append(&stream, ExpectedVersion::Exact(0), vec![numbered_event("Ordered", 1)]),
    );
    assert_eq!(first.expect("first append").next_version, 0);
    assert_eq!(second.expect("second append sees the first").next_version, 1);
}

#[tokio::test]
async fn a_retry_through_another_instance_is_idempotent() {
    let db = common::migrated_database().await;
    let first = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    let second = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    let stream = unique_stream("retried");
    let events = vec![numbered_event("Retried", 0), numbered_event("Retried", 1)];
    let written = first.append(&stream, ExpectedVersion::NoStream, events.clone()).await.expect("append");
    let retried = second.append(&stream, ExpectedVersion::NoStream, events).await.expect("retry");
    assert_eq!(retried, written);
    assert_eq!(first.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read").len(), 2);
}

#[tokio::test]
async fn notifications_wake_readers_of_another_instance() {
    let db = common::migrated_database().await;
    let writer = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    // Polling is as good as off: only a notification can wake this follower.
    let options = PgStoreOptions { poll_interval: Duration::from_secs(3600), ..PgStoreOptions::default() };
    let follower = PgEventStore::connect(&db.url, options).await.expect("connect");
    let listening =
        "select count(*) from pg_stat_activity where datname = current_database() and query ilike 'listen%'";
    for _ in 0..500 {
        let listeners: i64 = sqlx::query_scalar(listening).fetch_one(&db.pool).await.expect("query");
        if listeners >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let head = follower.head_position().await.expect("head");
    let stream = unique_stream("notified");
    let (woken, appended) = futures::join!(follower.wait_for_position_after(head, Duration::from_secs(30)), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.append(&stream, ExpectedVersion::NoStream, vec![numbered_event("Notified", 0)]).await
    });
    let appended = appended.expect("append");
    assert_eq!(woken.expect("wait"), appended.position, "the notification carried the new head");
}

#[tokio::test]
async fn the_log_refuses_updates_and_deletes() {
    let db = common::migrated_database().await;
    let store = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    let stream = unique_stream("guarded");
    store.append(&stream, ExpectedVersion::NoStream, vec![numbered_event("Guarded", 0)]).await.expect("append");
    for change in ["update events set data = '{}'", "delete from events", "truncate events"] {
        assert!(sqlx::query(change).execute(&db.pool).await.is_err(), "`{change}` is refused");
    }
    assert_eq!(store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read").len(), 1);
}

/// The writer's connection is killed while its transaction has inserted events but not committed: the caller
/// gets an error, nothing of the append is visible, and a retry writes it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_append_leaves_nothing_half_written() {
    let db = common::migrated_database().await;
    let store = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    let stream = unique_stream("dropped");
    store.append(&stream, ExpectedVersion::NoStream, vec![numbered_event("Dropped", 0)]).await.expect("append");

    // Hold the stream's head row: the writer's statement inserts the events, then waits on this lock.
    let mut blocker = PgConnection::connect(&db.url).await.expect("connect the blocker");
    sqlx::query("begin").execute(&mut blocker).await.expect("begin");
    sqlx::query("select 1 from streams where stream_id = $1 for update")
        .bind(&stream)
        .execute(&mut blocker)
        .await
        .expect("lock the stream head");

    let events = vec![numbered_event("Dropped", 1), numbered_event("Dropped", 2)];
    let killing = async {
        let waiting = "select pid from pg_stat_activity \
                       where datname = current_database() and wait_event_type = 'Lock' \
                         and query like '%new_stream_heads%'";
        for _ in 0..1000 {
            if let Some(pid) = sqlx::query_scalar::<_, i32>(waiting).fetch_optional(&db.pool).await.expect("query") {
                sqlx::query("select pg_terminate_backend($1)").bind(pid).execute(&db.pool).await.expect("terminate");
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    let (outcome, killed) = futures::join!(store.append(&stream, ExpectedVersion::Exact(0), events.clone()), killing);
    assert!(killed, "the writer was seen waiting mid-append");
    assert!(matches!(outcome, Err(StoreError::Database(_))), "the caller is told it failed: {outcome:?}");
    sqlx::query("rollback").execute(&mut blocker).await.expect("release the lock");

    assert_eq!(store.read_stream(&stream, ReadStream::forwards(0, 10)).await.expect("read").len(), 1);
    assert_eq!(store.head_position().await.expect("head"), 1, "no position was used");
    let retried = store.append(&stream, ExpectedVersion::Exact(0), events).await.expect("the retry is written");
    assert_eq!((retried.next_version, retried.position), (2, 3));
    assert!(store.verify_stream(&stream).await.expect("verify").is_intact());
}

/// A version taken behind the store's back (a row inserted by hand, bypassing the stream head) makes the database
/// refuse the write: that append gets `WrongExpectedVersion`, an append submitted with it still succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_taken_behind_the_stores_back_fails_only_that_append() {
    let db = common::migrated_database().await;
    let store = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("connect");
    let (taken, free) = (unique_stream("taken"), unique_stream("free"));
    store.append(&taken, ExpectedVersion::NoStream, vec![numbered_event("Taken", 0)]).await.expect("append");
    sqlx::query(
        "insert into events (position, event_id, stream_id, stream_version, event_type, schema_version, data, \
                             metadata, recorded_at, hash) \
         values (1000000, $1, $2, 1, 'Forged', 1, '{}', '{}', now(), decode(repeat('00', 32), 'hex'))",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(&taken)
    .execute(&db.pool)
    .await
    .expect("insert behind the store's back");

    let (conflicted, neighbour) = futures::join!(
        store.append(&taken, ExpectedVersion::Exact(0), vec![numbered_event("Taken", 1)]),
        store.append(&free, ExpectedVersion::NoStream, vec![numbered_event("Free", 0)]),
    );
    tally_store::conformance::assert_wrong_version(conflicted, ExpectedVersion::Exact(0), Some(0));
    assert_eq!(neighbour.expect("the neighbour is written").next_version, 0);
}

/// Verification reads one snapshot: appends committing while it pages through a long stream are not mistaken
/// for a head that disagrees with the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_during_appends_finds_no_break() {
    let store = common::postgres_store().await;
    let stream = unique_stream("busy");
    let first: Vec<_> = (0..600).map(|n| numbered_event("Busy", n)).collect();
    let mut version = store.append(&stream, ExpectedVersion::NoStream, first).await.expect("append").next_version;
    let appending = async {
        for n in 0..100 {
            let appended = store.append(&stream, ExpectedVersion::Exact(version), vec![numbered_event("Busy", n)]);
            version = appended.await.expect("append").next_version;
        }
    };
    let verifying = async {
        let mut verifications = 0;
        for _ in 0..20 {
            let (one, all) = futures::join!(store.verify_stream(&stream), store.verify_all(&tally_store::no_progress));
            for verification in [one.expect("verify the stream"), all.expect("verify the store")] {
                assert!(verification.is_intact(), "{:?}", verification.breaks);
                verifications += 1;
            }
        }
        verifications
    };
    let ((), verifications) = futures::join!(appending, verifying);
    assert_eq!(verifications, 40);
}

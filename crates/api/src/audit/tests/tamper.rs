//! Tampering behind the store's back (SQL with the append-only trigger disabled, as an owner could): hash-chain
//! verification names the exact place, and a check against an earlier digest names the streams that changed.

use super::{shop, Shop};
use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tally_store::digest::compute_digest;
use tally_store::{ExpectedVersion, NewEvent};

/// Runs `change` with the append-only trigger disabled.
pub(super) async fn tamper(pool: &PgPool, change: &str) {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("alter table events disable trigger events_append_only").execute(&mut *tx).await.expect("disable");
    sqlx::query(change).execute(&mut *tx).await.expect("tamper");
    sqlx::query("alter table events enable trigger events_append_only").execute(&mut *tx).await.expect("enable");
    tx.commit().await.expect("commit");
}

/// A shop with streams `ledger-a`, `ledger-b`, `ledger-c` of `length` events each.
async fn ledgers(length: u64) -> Shop {
    let shop = shop().await;
    for name in ["a", "b", "c"] {
        let events = (0..length).map(|n| NewEvent::new("Entered", json!({ "n": n }))).collect();
        shop.state.store.append(&format!("ledger-{name}"), ExpectedVersion::NoStream, events).await.unwrap();
    }
    shop
}

fn places(report: &Value) -> Vec<(String, u64, String)> {
    let breaks = report["breaks"].as_array().unwrap();
    let place = |b: &Value| {
        (
            b["stream_id"].as_str().unwrap().to_owned(),
            b["version"].as_u64().unwrap(),
            b["kind"].as_str().unwrap().to_owned(),
        )
    };
    breaks.iter().map(place).collect()
}

#[tokio::test]
async fn verification_names_each_tampered_place() {
    let shop = ledgers(6).await;
    let intact = shop.ok("/v1/audit/verify").await;
    assert_eq!(intact["intact"], true);
    assert_eq!(
        (intact["streams_checked"].as_u64(), intact["events_checked"].as_u64()),
        (Some(4), Some(19)),
        "3 ledgers and the test's admin key"
    );

    let pool = &shop.state.pool;
    tamper(pool, "update events set data = '{\"n\": 99}' where stream_id = 'ledger-a' and stream_version = 2").await;
    tamper(pool, "delete from events where stream_id = 'ledger-b' and stream_version = 5").await;
    tamper(pool, "delete from events where stream_id = 'ledger-c' and stream_version = 3").await;

    let report = shop.ok("/v1/audit/verify").await;
    assert_eq!(report["intact"], false);
    assert_eq!(
        places(&report),
        vec![
            ("ledger-a".to_owned(), 2, "hash_mismatch".to_owned()),
            ("ledger-b".to_owned(), 5, "missing".to_owned()),
            ("ledger-c".to_owned(), 3, "missing".to_owned()),
        ]
    );
    let breaks = report["breaks"].as_array().unwrap();
    assert_eq!(breaks[1]["count"], 1);
    assert_eq!(breaks[0]["expected"].as_str().map(str::len), Some(64), "the recomputed hash, hex");

    let one = shop.ok("/v1/audit/verify?stream=ledger-c").await;
    assert_eq!(places(&one), vec![("ledger-c".to_owned(), 3, "missing".to_owned())]);
    assert_eq!(shop.get("/v1/audit/verify?stream=ledger-z").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_digest_check_finds_truncation_and_rewriting_but_not_later_appends() {
    let shop = ledgers(4).await;
    let digest = shop.ok("/v1/audit/digest").await;
    assert_eq!(
        (digest["position"].as_u64(), digest["stream_count"].as_u64()),
        (Some(13), Some(4)),
        "3 ledgers and the test's admin key"
    );
    let id = digest["id"].as_i64().unwrap();
    let root = compute_digest(shop.state.store.as_ref()).await.unwrap().root;
    assert_eq!(digest["root"], root.to_hex(), "the root answered is the root of the store");

    // Appends after the digest's position are not covered: still intact.
    let more = vec![NewEvent::new("Entered", json!({ "n": 4 }))];
    shop.state.store.append("ledger-a", ExpectedVersion::Exact(3), more).await.unwrap();
    let more = vec![NewEvent::new("Entered", json!({ "n": 0 }))];
    shop.state.store.append("ledger-d", ExpectedVersion::NoStream, more).await.unwrap();
    let check = shop.send("POST", &format!("/v1/audit/digests/{id}/verification"), &[]).await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.text());
    assert_eq!(check.json()["intact"], true, "{}", check.text());

    let pool = &shop.state.pool;
    tamper(pool, "delete from events where stream_id = 'ledger-b' and stream_version = 3").await;
    tamper(pool, "update events set data = '{\"n\": 7}' where stream_id = 'ledger-c' and stream_version = 1").await;
    // Every covered event of ledger-a goes; its event appended after the digest stays.
    tamper(pool, "delete from events where stream_id = 'ledger-a' and position <= 12").await;
    let check = shop.send("POST", &format!("/v1/audit/digests/{id}/verification"), &[]).await.json();
    assert_eq!(check["intact"], false);
    assert_eq!(check["expected_root"], root.to_hex());
    let differences: Vec<(&str, &str)> = check["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["stream_id"].as_str().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(differences, vec![("ledger-a", "missing"), ("ledger-b", "truncated"), ("ledger-c", "rewritten")]);

    let listed = shop.ok("/v1/audit/digests").await;
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["root"], root.to_hex());
    let with_leaves = shop.ok(&format!("/v1/audit/digests/{id}?leaves=true")).await;
    assert_eq!(with_leaves["leaves"].as_array().map(Vec::len), Some(4));
    assert_eq!(shop.get("/v1/audit/digests/999").await.status, StatusCode::NOT_FOUND);
    let created = shop.send("POST", "/v1/audit/digests", &[]).await;
    assert_eq!(created.status, StatusCode::CREATED);
}

/// `POST /v1/audit/digests` honours `Idempotency-Key` like every POST: a repeat answers the first digest and
/// records no other.
#[tokio::test]
async fn a_repeated_digest_post_with_its_idempotency_key_records_one_digest() {
    let (shop, _) = Shop::busy(1).await;
    let key = [("idempotency-key", "digest-nightly-2026-11-21")];
    let first = shop.send("POST", "/v1/audit/digests", &key).await;
    let again = shop.send("POST", "/v1/audit/digests", &key).await;
    assert_eq!((first.status, again.status), (StatusCode::CREATED, StatusCode::CREATED), "{}", again.text());
    assert_eq!(again.json()["id"], first.json()["id"], "the repeat answers the first digest");
    let listed = shop.ok("/v1/audit/digests").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "{listed}");
    let fresh = shop.send("POST", "/v1/audit/digests", &[("idempotency-key", "digest-other")]).await;
    assert_ne!(fresh.json()["id"], first.json()["id"], "another key records another digest");
}

#[tokio::test]
async fn the_digest_sql_in_the_docs_gives_the_same_root() {
    let (shop, _) = Shop::busy(2).await;
    let digest = compute_digest(shop.state.store.as_ref()).await.unwrap();
    let root: Vec<u8> = hand_checked_root(&shop.state.pool, digest.position).await;
    assert_eq!(root, digest.root.as_bytes().to_vec());
}

/// Runs the auditor's SQL from docs/audit.md (between the `digest-sql` markers) on the database.
async fn hand_checked_root(pool: &PgPool, position: u64) -> Vec<u8> {
    let doc = include_str!("../../../../../docs/audit.md");
    let start = doc.find("<!-- digest-sql -->").expect("the marker") + "<!-- digest-sql -->".len();
    let end = doc[start..].find("<!-- /digest-sql -->").expect("the end marker") + start;
    let sql = doc[start..end].trim().trim_start_matches("```sql").trim_end_matches("```");
    let mut connection = pool.acquire().await.unwrap();
    for statement in sql.split("\n\n").filter(|s| !s.trim().is_empty() && !s.trim_start().starts_with("select encode"))
    {
        sqlx::raw_sql(statement).execute(&mut *connection).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    sqlx::query_scalar("select pg_temp.tally_digest_root($1)")
        .bind(i64::try_from(position).unwrap())
        .fetch_one(&mut *connection)
        .await
        .unwrap()
}

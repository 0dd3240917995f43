//! Projection processes: several `tally` processes compete for the projection leases on one database, and every
//! event takes effect in the read models exactly once, whichever process applies it and whichever process dies.
//!
//! Setup: `tally serve` takes the commands (and runs a projector of its own, so with two `tally project`
//! processes there are three lease competitors), on a fresh database. Commands go through the HTTP API; the
//! clients count what they did (units received, orders confirmed and rejected, revenue). After each scenario the
//! read models must equal those counts, the stock ledger must hold one row per inventory event, and every
//! projection's checkpoint must be the log head. Scenarios: plain competition; SIGKILL of the process holding
//! leases while orders keep arriving (another takes over within a bounded wait); SIGKILL of a projector whose
//! batch transaction is provably half-way (its `insert` into `stock_ledger` is held back by a table lock the
//! test takes, after it wrote the levels), then a restart.

use crate::harness::{
    get_json, holder_pid, poll_until, post_expect, try_post_json, wait_until_caught_up, TallyProcess,
};
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SKUS: [&str; 4] = ["PRJ-A", "PRJ-B", "PRJ-C", "PRJ-D"];
const PRICE: i64 = 1250;
/// Units received per SKU (in two receipts): less than the orders ask for, so some are rejected.
const RECEIPT_UNITS: u64 = 40;
const CLIENTS: usize = 8;
/// Bounds of the waits: generous for a loaded 2-core machine; reaching one is a failure.
const CATCH_UP: Duration = Duration::from_secs(60);
const TAKEOVER: Duration = Duration::from_secs(30);
const PROJECTIONS: [&str; 4] = ["products", "inventory", "orders", "sales"];

/// What the commands did, as the clients counted it from the answers.
#[derive(Debug, Default, Clone, PartialEq)]
struct Written {
    products: u64,
    received: BTreeMap<String, u64>,
    reserved: BTreeMap<String, u64>,
    confirmed: u64,
    rejected: u64,
    revenue: i64,
}

/// Registers the SKUs and receives their stock in two receipts each.
async fn stock_the_shelves(base: &str, written: &Mutex<Written>) {
    for sku in SKUS {
        let product =
            json!({"sku": sku, "name": format!("Product {sku}"), "price": {"amount": PRICE, "currency": "EUR"}});
        post_expect(&format!("{base}/v1/products"), &product, 201).await;
        for reference in ["PO-1", "PO-2"] {
            let receipt = json!({"quantity": RECEIPT_UNITS / 2, "reference": reference});
            post_expect(&format!("{base}/v1/inventory/{sku}/receipts"), &receipt, 201).await;
        }
        let mut written = written.lock().unwrap();
        written.products += 1;
        *written.received.entry(sku.to_owned()).or_default() += RECEIPT_UNITS;
    }
}

/// Places orders `from..to` (order `i`: SKU `i % 4`, 1 to 3 units) from `CLIENTS` concurrent tasks and counts
/// the outcomes. Every order must be answered 201 or 409.
async fn place_orders(base: String, from: usize, to: usize, written: Arc<Mutex<Written>>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|task| {
            let (client, base, written) = (client.clone(), base.clone(), written.clone());
            tokio::spawn(async move {
                for index in (from..to).filter(|index| index % CLIENTS == task) {
                    let (sku, units) = (SKUS[index % SKUS.len()], 1 + (index / SKUS.len()) % 3);
                    let lines = json!([{"sku": sku, "quantity": units}]);
                    let body = json!({"customer_id": format!("cus-{}", index % 11), "lines": lines});
                    let reply = try_post_json(&client, &format!("{base}/v1/orders"), &body)
                        .await
                        .unwrap_or_else(|e| panic!("order {index}: no answer: {e}"));
                    let mut written = written.lock().unwrap();
                    match reply.status {
                        201 => {
                            written.confirmed += 1;
                            written.revenue += PRICE * units as i64;
                            *written.reserved.entry(sku.to_owned()).or_default() += units as u64;
                        }
                        409 => written.rejected += 1,
                        status => panic!("order {index}: {status} {}", reply.body),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task panicked");
    }
}

/// Waits until the read models reached the log head, then compares them with what was written.
async fn assert_read_models_match(base: &str, pool: &PgPool, written: &Written) {
    let head = wait_until_caught_up(base, CATCH_UP).await;

    let log_head: i64 = sqlx::query_scalar("select position from event_log_head").fetch_one(pool).await.unwrap();
    assert_eq!(log_head as u64, head, "GET /v1/projections reports another head than the log");
    // The read models' rows (the table also holds the order process's checkpoint, a follower of the log too).
    let checkpoints: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
        "select name, position, failed_position from projections where name <> 'order-process' order by name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(checkpoints.len(), PROJECTIONS.len(), "{checkpoints:?}");
    for (name, position, failed) in &checkpoints {
        assert_eq!((*position, *failed), (log_head, None), "checkpoint of {name} (log head {log_head})");
    }

    let products: i64 = sqlx::query_scalar("select count(*) from products").fetch_one(pool).await.unwrap();
    assert_eq!(products as u64, written.products, "products");

    for sku in SKUS {
        let (on_hand, reserved): (i64, i64) =
            sqlx::query_as("select on_hand, reserved from inventory_totals where sku = $1")
                .bind(sku)
                .fetch_one(pool)
                .await
                .unwrap();
        let expected = (written.received[sku], written.reserved.get(sku).copied().unwrap_or(0));
        assert_eq!((on_hand as u64, reserved as u64), expected, "inventory_totals of {sku} (on_hand, reserved)");
        let (status, stock) = get_json(&format!("{base}/v1/inventory/{sku}?min_position={head}")).await;
        assert_eq!(
            (status, stock["on_hand"].as_u64(), stock["reserved"].as_u64()),
            (200, Some(expected.0), Some(expected.1)),
            "{stock}"
        );
    }
    // One ledger row per inventory event (each touches the one location, "main"): none lost, none doubled.
    let (events, ledger): (i64, i64) = sqlx::query_as(
        "select (select count(*) from events where stream_id like 'inventory-%'), (select count(*) from stock_ledger)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(ledger, events, "stock_ledger rows vs inventory events");

    let statuses: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from orders group by status order by status")
            .fetch_all(pool)
            .await
            .unwrap();
    let statuses: BTreeMap<String, u64> = statuses.into_iter().map(|(status, n)| (status, n as u64)).collect();
    let expected: BTreeMap<String, u64> = [("confirmed", written.confirmed), ("rejected", written.rejected)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(status, n)| (status.to_owned(), n))
        .collect();
    assert_eq!(statuses, expected, "orders per status");

    let (orders, units, revenue): (i64, i64, i64) = sqlx::query_as(
        "select coalesce(sum(orders), 0)::int8, coalesce(sum(units_sold), 0)::int8,
                coalesce(sum(revenue_amount), 0)::int8
           from sales_daily",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let sold: u64 = written.reserved.values().sum();
    assert_eq!(
        (orders as u64, units as u64, revenue),
        (written.confirmed, sold, written.revenue),
        "sales_daily totals"
    );
}

/// Each projection's holder id while its lease is held (`GET /v1/projections`), `None` when idle.
async fn holders(base: &str) -> BTreeMap<String, Option<String>> {
    let (status, body) = get_json(&format!("{base}/v1/projections")).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| (item["name"].as_str().unwrap().to_owned(), item["holder"].as_str().map(str::to_owned)))
        .collect()
}

/// Waits until every projection has recorded a holder: on a fresh database, before any `serve` runs, that means
/// the `tally project` processes hold all the leases.
async fn wait_for_all_leases(pool: &PgPool) {
    poll_until("the projector processes to take every lease", TAKEOVER, || async {
        let holders: Vec<(String, Option<String>)> =
            sqlx::query_as("select name, holder from projections order by name")
                .fetch_all(pool)
                .await
                .map_err(|e| e.to_string())?;
        if holders.len() == PROJECTIONS.len() && holders.iter().all(|(_, holder)| holder.is_some()) {
            Ok(())
        } else {
            Err(format!("{holders:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn three_competing_projectors_apply_every_event_exactly_once() {
    let db = tally_testkit::fresh_database().await;
    let first = TallyProcess::project_on(&db.url);
    let second = TallyProcess::project_on(&db.url);
    let (server, base) = TallyProcess::serve_on(&db.url);

    let written = Arc::new(Mutex::new(Written::default()));
    stock_the_shelves(&base, &written).await;
    place_orders(base.clone(), 0, 200, written.clone()).await;
    let written = written.lock().unwrap().clone();
    assert!(written.confirmed > 0 && written.rejected > 0, "the workload should both confirm and reject: {written:?}");
    assert_read_models_match(&base, &db.pool, &written).await;

    let pids = [server.pid(), first.pid(), second.pid()];
    poll_until("every projection to be held by one of the three processes", TAKEOVER, || async {
        let now = holders(&base).await;
        let all_ours =
            now.values().all(|holder| holder.as_deref().and_then(holder_pid).is_some_and(|pid| pids.contains(&pid)));
        if all_ours {
            Ok(())
        } else {
            Err(format!("holders {now:?}, processes {pids:?}"))
        }
    })
    .await;
    for process in [first, second, server] {
        assert!(process.terminate().success());
    }
}

#[tokio::test]
async fn a_killed_lease_holder_is_replaced_and_the_read_models_stay_exact() {
    let db = tally_testkit::fresh_database().await;
    let first = TallyProcess::project_on(&db.url);
    let second = TallyProcess::project_on(&db.url);
    wait_for_all_leases(&db.pool).await;
    let (server, base) = TallyProcess::serve_on(&db.url);

    let written = Arc::new(Mutex::new(Written::default()));
    stock_the_shelves(&base, &written).await;
    place_orders(base.clone(), 0, 60, written.clone()).await;
    // Orders keep arriving while the holder dies and another process takes over.
    let arriving = tokio::spawn(place_orders(base.clone(), 60, 240, written.clone()));

    let before = holders(&base).await;
    let victim_pid = before["inventory"].as_deref().and_then(holder_pid).expect("inventory is held");
    let victim_held: Vec<String> = before
        .iter()
        .filter(|(_, holder)| holder.as_deref().and_then(holder_pid) == Some(victim_pid))
        .map(|(name, _)| name.clone())
        .collect();
    let (victim, survivor) = if first.pid() == victim_pid {
        (first, second)
    } else {
        assert_eq!(second.pid(), victim_pid, "the inventory lease is held by a `tally project` process");
        (second, first)
    };
    victim.kill();

    let survivors = [survivor.pid(), server.pid()];
    poll_until("another process to take over the killed holder's leases", TAKEOVER, || async {
        let now = holders(&base).await;
        let taken_over = victim_held
            .iter()
            .all(|name| now[name].as_deref().and_then(holder_pid).is_some_and(|pid| survivors.contains(&pid)));
        if taken_over {
            Ok(())
        } else {
            Err(format!("killed pid {victim_pid} held {victim_held:?}; holders now {now:?}"))
        }
    })
    .await;

    arriving.await.expect("the orders placed during the takeover");
    let written = written.lock().unwrap().clone();
    assert_read_models_match(&base, &db.pool, &written).await;
    for process in [survivor, server] {
        assert!(process.terminate().success());
    }
}

#[tokio::test]
async fn a_projector_killed_mid_batch_leaves_the_read_models_exact_after_a_restart() {
    let db = tally_testkit::fresh_database().await;
    let projector = TallyProcess::project_on(&db.url);
    wait_for_all_leases(&db.pool).await;
    let (server, base) = TallyProcess::serve_on(&db.url);

    let written = Arc::new(Mutex::new(Written::default()));
    stock_the_shelves(&base, &written).await;
    place_orders(base.clone(), 0, 40, written.clone()).await;
    let so_far = written.lock().unwrap().clone();
    assert_read_models_match(&base, &db.pool, &so_far).await;

    // Hold back the inventory projection's next batch half-way: it writes inventory_levels and inventory_totals,
    // then waits for this lock to insert its stock_ledger rows (plain reads stay possible).
    let mut lock = db.pool.begin().await.expect("begin");
    sqlx::query("lock table stock_ledger in exclusive mode").execute(&mut *lock).await.expect("lock stock_ledger");
    place_orders(base.clone(), 40, 120, written.clone()).await;
    let blocked_pid: i32 =
        poll_until("the inventory batch to wait on the ledger lock after writing", TAKEOVER, || async {
            let rows: Vec<(i32, String, Option<String>, bool)> = sqlx::query_as(
                "select pid, application_name, wait_event_type, backend_xid is not null
                   from pg_stat_activity
                  where datname = current_database() and application_name = 'tally-projector inventory'",
            )
            .fetch_all(&db.pool)
            .await
            .map_err(|e| e.to_string())?;
            match rows.iter().find(|(_, _, wait, wrote)| wait.as_deref() == Some("Lock") && *wrote) {
                Some((pid, ..)) => Ok(*pid),
                None => Err(format!("{rows:?}")),
            }
        })
        .await;
    let holder = holders(&base).await["inventory"].clone();
    assert_eq!(
        holder.as_deref().and_then(holder_pid),
        Some(projector.pid()),
        "the `tally project` process holds inventory"
    );

    projector.kill();
    lock.rollback().await.expect("release the ledger lock");
    // The dead client's backend gets its insert through, finds no client and rolls the batch back.
    poll_until("the killed projector's backend to end", TAKEOVER, || async {
        let alive: bool = sqlx::query_scalar("select exists (select 1 from pg_stat_activity where pid = $1)")
            .bind(blocked_pid)
            .fetch_one(&db.pool)
            .await
            .map_err(|e| e.to_string())?;
        if alive {
            Err(format!("backend {blocked_pid} still there"))
        } else {
            Ok(())
        }
    })
    .await;

    let restarted = TallyProcess::project_on(&db.url);
    place_orders(base.clone(), 120, 160, written.clone()).await;
    let written = written.lock().unwrap().clone();
    assert_read_models_match(&base, &db.pool, &written).await;
    for process in [restarted, server] {
        assert!(process.terminate().success());
    }
}

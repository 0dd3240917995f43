//! The command side survives a crash in the middle of a burst of orders: `tally serve` is SIGKILLed while 32
//! clients place single-unit orders for a SKU with 100 units, then restarted on the same database while the
//! clients place the orders they had not sent yet, and the order workers recover what the crash left `pending`.
//!
//! Why: placing an order spans several streams (`OrderPlaced`, `StockReserved` on the SKU, then `OrderConfirmed`
//! or `OrderRejected`), so a crash can stop it between any two steps. Afterwards the promises must hold: an order
//! a client saw confirmed stays confirmed, a rejected one stays rejected, nothing stays `pending`, no unit is
//! sold twice (never more than 100 confirmed, `available` never below zero in the log), and no unit is held by an
//! order that is not confirmed (the inventory's `reserved` is exactly the confirmed orders' units, in the read
//! model and in the event log replayed through SQL).

use crate::harness::{get_json, poll_until, post_expect, try_post_json, wait_until_caught_up, TallyProcess};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const SKU: &str = "CRASH-TEE";
const UNITS: u64 = 100;
const ORDERS: usize = 300;
const CLIENTS: usize = 32;
/// The server is killed once this many orders have been answered: well into the burst, before the stock runs out.
const KILL_AFTER_ANSWERS: usize = 60;
/// Recovery finishes pending orders placed more than 10 s ago, sweeping every 5 s: 60 s is ample.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// What a client saw for one order. (The payloads are read through `Debug`, in failure messages.)
#[derive(Debug, Clone)]
#[allow(dead_code)]
enum Seen {
    /// 201: the order is confirmed.
    Confirmed,
    /// 409 `insufficient-stock`: the order is rejected.
    Rejected,
    /// No HTTP answer (the server died, or was dead): the order may or may not exist.
    NoAnswer(String),
    /// Anything else (a failure of the test's own expectations, reported at the end).
    Unexpected(u16, Value),
}

/// The order id the clients use for order number `index`: chosen by the client, so an order whose request got
/// no answer can still be looked up.
fn order_id(index: usize) -> String {
    format!("00000000-0000-4000-8000-{index:012}")
}

/// The request for order number `index` (the same every time, so a retry is a repeat of the same order).
fn order_body(index: usize) -> Value {
    json!({
        "order_id": order_id(index),
        "customer_id": format!("cus-{}", index % 17),
        "lines": [{"sku": SKU, "quantity": 1}],
    })
}

/// Places orders `index` taken from `next` (while below `end` and `stop` is not set) from `CLIENTS` tasks, and
/// records what each got; `answered` counts the HTTP answers.
async fn burst(
    base: String,
    next: Arc<AtomicUsize>,
    end: usize,
    stop: Arc<AtomicBool>,
    answered: watch::Sender<usize>,
) -> BTreeMap<usize, Seen> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client");
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let answered = Arc::new(answered);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, base, next, stop, seen, answered) =
                (client.clone(), base.to_owned(), next.clone(), stop.clone(), seen.clone(), answered.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= end {
                        break;
                    }
                    let outcome = match try_post_json(&client, &format!("{base}/v1/orders"), &order_body(index)).await {
                        Ok(reply) if reply.status == 201 && reply.body["status"] == "confirmed" => Seen::Confirmed,
                        Ok(reply) if reply.status == 409 && reply.body["type"] == "/problems/insufficient-stock" => {
                            Seen::Rejected
                        }
                        Ok(reply) => Seen::Unexpected(reply.status, reply.body),
                        Err(error) => Seen::NoAnswer(format!("{error:?}")),
                    };
                    if !matches!(outcome, Seen::NoAnswer(_)) {
                        answered.send_modify(|count| *count += 1);
                    }
                    seen.lock().unwrap().insert(index, outcome);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task panicked");
    }
    let seen = seen.lock().unwrap().clone();
    seen
}

/// Every order in the read model: id -> status (all pages of `GET /v1/orders`).
async fn read_model_orders(base: &str) -> BTreeMap<String, String> {
    let mut orders = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => format!("{base}/v1/orders?limit=500&cursor={cursor}"),
            None => format!("{base}/v1/orders?limit=500"),
        };
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "GET {url}: {body}");
        for item in body["items"].as_array().expect("items") {
            let id = item["order_id"].as_str().expect("order_id").to_owned();
            orders.insert(id, item["status"].as_str().expect("status").to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return orders,
        }
    }
}

/// Each order's status according to its own stream in the event log.
async fn log_order_statuses(pool: &sqlx::PgPool) -> BTreeMap<String, String> {
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "select stream_id, array_agg(event_type order by stream_version)
           from events where stream_id like 'order-%' group by stream_id",
    )
    .fetch_all(pool)
    .await
    .expect("read the order streams");
    rows.into_iter()
        .map(|(stream_id, types)| {
            let status = if types.iter().any(|t| t == "OrderConfirmed") {
                "confirmed"
            } else if types.iter().any(|t| t == "OrderRejected") {
                "rejected"
            } else {
                "pending"
            };
            (stream_id.trim_start_matches("order-").to_owned(), status.to_owned())
        })
        .collect()
}

/// Replays `inventory-{SKU}` from the event log: fails on a unit reserved twice for one order or `available`
/// going below zero, and returns the units each order holds at the end.
async fn replay_inventory(pool: &sqlx::PgPool) -> BTreeMap<String, u64> {
    let events: Vec<(i64, String, Value)> = sqlx::query_as(
        "select stream_version, event_type, data from events where stream_id = $1 order by stream_version",
    )
    .bind(format!("inventory-{SKU}"))
    .fetch_all(pool)
    .await
    .expect("read the inventory stream");
    let units = |allocations: &Value| -> u64 {
        allocations.as_array().expect("allocations").iter().map(|a| a["quantity"].as_u64().expect("quantity")).sum()
    };
    let (mut on_hand, mut held) = (0_u64, BTreeMap::<String, u64>::new());
    for (version, event_type, data) in &events {
        let order = data["order_id"].as_str().map(str::to_owned);
        match event_type.as_str() {
            "StockReceived" => on_hand += data["quantity"].as_u64().expect("quantity"),
            "StockReserved" => {
                let order = order.expect("order_id");
                let previous = held.insert(order.clone(), units(&data["allocations"]));
                assert!(previous.is_none(), "version {version}: order {order} reserved a second time while holding");
            }
            "ReservationReleased" => {
                let order = order.expect("order_id");
                let was = held.remove(&order);
                assert_eq!(was, Some(units(&data["allocations"])), "version {version}: release of {order}");
            }
            other => panic!("version {version}: unexpected inventory event {other}"),
        }
        let reserved: u64 = held.values().sum();
        assert!(
            reserved <= on_hand,
            "version {version}: available went below zero ({on_hand} on hand, {reserved} reserved)"
        );
    }
    held
}

#[tokio::test]
async fn orders_confirmed_before_a_crash_stay_confirmed_and_no_stock_is_oversold_or_leaked() {
    let db = tally_testkit::fresh_database().await;
    let (server, base) = TallyProcess::serve_on(&db.url);
    let product = json!({"sku": SKU, "name": "Crash tee", "price": {"amount": 1500, "currency": "EUR"}});
    post_expect(&format!("{base}/v1/products"), &product, 201).await;
    let receipt = json!({"quantity": UNITS, "reference": "PO-CRASH"});
    post_expect(&format!("{base}/v1/inventory/{SKU}/receipts"), &receipt, 201).await;

    // Phase 1: the burst, and SIGKILL in its middle.
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, mut answers) = watch::channel(0);
    let phase1 = tokio::spawn(burst(base.clone(), next.clone(), ORDERS, stop.clone(), answered));
    tokio::time::timeout(Duration::from_secs(60), answers.wait_for(|count| *count >= KILL_AFTER_ANSWERS))
        .await
        .unwrap_or_else(|_| panic!("the burst got fewer than {KILL_AFTER_ANSWERS} answers within 60 s"))
        .ok();
    stop.store(true, Ordering::SeqCst);
    server.kill();
    let mut seen = phase1.await.expect("phase 1");
    let attempted = seen.len();
    let no_answer = seen.values().filter(|s| matches!(s, Seen::NoAnswer(_))).count();
    eprintln!("phase 1: {attempted} orders sent, {no_answer} without an answer; server killed");

    // Phase 2: restart on the same database; the clients place the orders they had not sent yet, while the
    // order workers recover what the crash left pending.
    let (server, base) = TallyProcess::serve_on(&db.url);
    let first_unsent = next.load(Ordering::SeqCst).min(ORDERS);
    let (answered, _answers) = watch::channel(0);
    let phase2 = burst(
        base.clone(),
        Arc::new(AtomicUsize::new(first_unsent)),
        ORDERS,
        Arc::new(AtomicBool::new(false)),
        answered,
    );
    seen.extend(phase2.await);
    assert_eq!(seen.len(), ORDERS, "every order was sent once");

    let unexpected: Vec<_> = seen.iter().filter(|(_, s)| matches!(s, Seen::Unexpected(..))).collect();
    assert!(unexpected.is_empty(), "answers other than 201 confirmed / 409 insufficient-stock: {unexpected:?}");
    let phase2_no_answer: Vec<_> = seen.range(first_unsent..).filter(|(_, s)| matches!(s, Seen::NoAnswer(_))).collect();
    assert!(phase2_no_answer.is_empty(), "the restarted server left requests unanswered: {phase2_no_answer:?}");

    // Recovery: nothing pending in a read model that has applied the whole log.
    let pending_url = |head: u64| format!("{base}/v1/orders?status=pending&limit=500&min_position={head}");
    poll_until("recovery: no pending order, projections at the log head", RECOVERY_TIMEOUT, || async {
        let head = wait_until_caught_up(&base, RECOVERY_TIMEOUT).await;
        let (status, body) = get_json(&pending_url(head)).await;
        match body["items"].as_array() {
            Some(items) if status == 200 && items.is_empty() => Ok(()),
            _ => Err(format!("{status} {body}")),
        }
    })
    .await;
    let head = wait_until_caught_up(&base, RECOVERY_TIMEOUT).await;

    // What each client saw still holds.
    let orders = read_model_orders(&base).await;
    let mut broken = Vec::new();
    for (index, what) in &seen {
        let id = order_id(*index);
        let status = orders.get(&id).map(String::as_str);
        let fine = match what {
            Seen::Confirmed => status == Some("confirmed"),
            Seen::Rejected => status == Some("rejected"),
            Seen::NoAnswer(_) => matches!(status, None | Some("confirmed" | "rejected")),
            Seen::Unexpected(..) => false,
        };
        if !fine {
            broken.push(format!("order {id}: the client saw {what:?}, the read model says {status:?}"));
        }
    }
    assert!(broken.is_empty(), "orders changed their outcome across the crash:\n{}", broken.join("\n"));
    for (index, what) in seen.iter().filter(|(_, s)| matches!(s, Seen::Confirmed)) {
        let (status, body) = get_json(&format!("{base}/v1/orders/{}?min_position={head}", order_id(*index))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("confirmed")), "order {index} ({what:?}): {body}");
    }

    // No oversell, no leak: the read model.
    let confirmed: BTreeSet<&String> = orders.iter().filter(|(_, s)| *s == "confirmed").map(|(id, _)| id).collect();
    let rejected = orders.values().filter(|s| *s == "rejected").count();
    assert!(orders.values().all(|s| s == "confirmed" || s == "rejected"), "undecided orders remain: {orders:?}");
    assert!(confirmed.len() as u64 <= UNITS, "oversold: {} orders confirmed for {UNITS} units", confirmed.len());
    let (status, stock) = get_json(&format!("{base}/v1/inventory/{SKU}?min_position={head}")).await;
    assert_eq!(status, 200, "{stock}");
    assert_eq!(stock["on_hand"], UNITS, "{stock}");
    assert_eq!(
        stock["reserved"],
        confirmed.len() as u64,
        "stock held by orders that are not confirmed (reserved vs confirmed units): {stock}"
    );
    assert_eq!(stock["available"], UNITS - confirmed.len() as u64, "{stock}");
    if rejected > 0 {
        // A rejection means every unit was held at that moment; nothing releases stock here, so every unit
        // must end up with a confirmed order.
        assert_eq!(confirmed.len() as u64, UNITS, "orders were rejected yet units are neither sold nor available");
    }

    // The same from the event log itself.
    let log_statuses = log_order_statuses(&db.pool).await;
    assert_eq!(log_statuses, orders, "the orders read model differs from the order streams");
    let held = replay_inventory(&db.pool).await;
    let holders: BTreeSet<&String> = held.keys().collect();
    assert_eq!(holders, confirmed, "orders holding stock in the log differ from the confirmed orders");
    assert!(held.values().all(|units| *units == 1), "an order holds more than its one unit: {held:?}");

    // A storefront retries what got no answer, with the same order id and body: an order the crash did not lose
    // is reported as it ended, and nothing is appended.
    let client = reqwest::Client::new();
    for (index, _) in seen.iter().filter(|(_, s)| matches!(s, Seen::NoAnswer(_))) {
        let Some(status) = orders.get(&order_id(*index)) else { continue };
        let reply = try_post_json(&client, &format!("{base}/v1/orders"), &order_body(*index)).await.expect("retry");
        let expected = if status == "confirmed" { 201 } else { 409 };
        assert_eq!(reply.status, expected, "retry of order {index} ({status}): {}", reply.body);
    }
    let (_, projections) = get_json(&format!("{base}/v1/projections")).await;
    assert_eq!(projections["head"].as_u64(), Some(head), "a retry of a decided order appended events");

    eprintln!(
        "{} confirmed, {rejected} rejected, {} never placed; log head {head}",
        confirmed.len(),
        ORDERS - orders.len()
    );
    assert!(server.terminate().success());
}

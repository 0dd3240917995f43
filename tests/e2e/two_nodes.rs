//! Two `tally serve` processes on one database, and one of them SIGKILLed in the middle of placing, cancelling
//! and shipping many-line orders while the other keeps running. Without restarting the killed one, the survivor's
//! order process must repair what the crash interrupted within seconds: no order stays `pending`, and every SKU's
//! `reserved` is exactly the units still held by its confirmed, paid or partly shipped orders (nothing leaked by a
//! cancellation or rejection whose release never ran, nothing committed twice by a shipment).

use crate::harness::{
    authorized, get_json, poll_until, post_expect, try_post_json, wait_until_caught_up, TallyProcess,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const SKUS: [&str; 4] = ["NODE-A", "NODE-B", "NODE-C", "NODE-D"];
const UNITS: u64 = 100_000;
const CLIENTS: usize = 16;
/// The killed node dies once this many requests have been answered: mid-burst.
const KILL_AFTER_ANSWERS: usize = 150;
/// The survivor takes the order process's lease within about a second, finishes pending orders seen for 2 s and
/// settles what it reads again; 30 s is ample.
const REPAIR_TIMEOUT: Duration = Duration::from_secs(30);

/// One client's loop: place a three-line order, then cancel it, ship all of it, or ship part of it, until told
/// to stop. Requests go to `base`; errors (the node died) are ignored: the point is what the log says afterwards.
async fn client(base: String, number: usize, stop: Arc<AtomicBool>, answered: Arc<watch::Sender<usize>>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client");
    let post = |path: String, body: Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        let answered = answered.clone();
        async move {
            let reply = try_post_json(&http, &url, &body).await.ok();
            if reply.is_some() {
                answered.send_modify(|count| *count += 1);
            }
            reply
        }
    };
    let mut round = 0;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        let order_id = format!("00000000-0000-4000-8000-{number:04}{round:08}");
        let lines: Vec<Value> =
            (0..3).map(|i| json!({ "sku": SKUS[(number + round + i) % SKUS.len()], "quantity": 1 + i })).collect();
        let body = json!({ "order_id": order_id, "customer_id": format!("cus-{number}"), "lines": lines });
        let Some(placed) = post("/v1/orders".into(), body).await else { continue };
        if placed.status != 201 {
            continue;
        }
        let total = placed.body["total"]["amount"].clone();
        match round % 3 {
            0 => {
                post(format!("/v1/orders/{order_id}/cancellation"), json!({ "reason": "changed my mind" })).await;
            }
            choice => {
                post(format!("/v1/orders/{order_id}/payments"), json!({ "amount": total, "currency": "EUR" })).await;
                let shipment = if choice == 1 {
                    json!({ "carrier": "dhl" })
                } else {
                    json!({ "carrier": "dhl", "lines": [lines[0]] })
                };
                post(format!("/v1/orders/{order_id}/shipments"), shipment).await;
            }
        }
    }
}

/// What the order streams say: orders left pending, and the units each SKU should hold for the orders that are
/// confirmed, paid or partly shipped (ordered minus shipped).
async fn expected_holds(pool: &sqlx::PgPool) -> (Vec<String>, BTreeMap<String, i64>) {
    let rows: Vec<(String, String, Value)> = sqlx::query_as(
        "select stream_id, event_type, data from events where stream_id like 'order-%' order by position",
    )
    .fetch_all(pool)
    .await
    .expect("read the order streams");
    let mut orders: BTreeMap<String, (String, BTreeMap<String, i64>)> = BTreeMap::new();
    for (stream_id, event_type, data) in rows {
        let (status, open) = orders.entry(stream_id).or_insert_with(|| ("pending".to_owned(), BTreeMap::new()));
        let lines = |data: &Value| -> Vec<(String, i64)> {
            data["lines"]
                .as_array()
                .map(|lines| {
                    lines
                        .iter()
                        .map(|l| (l["sku"].as_str().unwrap().to_owned(), l["quantity"].as_i64().unwrap()))
                        .collect()
                })
                .unwrap_or_default()
        };
        match event_type.as_str() {
            "OrderPlaced" => *open = lines(&data).into_iter().collect(),
            "OrderConfirmed" => *status = "confirmed".into(),
            "OrderRejected" => *status = "rejected".into(),
            "OrderCancelled" => *status = "cancelled".into(),
            "OrderExpired" => *status = "expired".into(),
            "ShipmentDispatched" => {
                for (sku, quantity) in lines(&data) {
                    *open.entry(sku).or_default() -= quantity;
                }
            }
            _ => {}
        }
    }
    let pending = orders.iter().filter(|(_, (status, _))| status == "pending").map(|(id, _)| id.clone()).collect();
    let mut holds: BTreeMap<String, i64> = SKUS.iter().map(|sku| ((*sku).to_owned(), 0)).collect();
    for (status, open) in orders.values() {
        if status == "confirmed" {
            for (sku, units) in open {
                *holds.entry(sku.clone()).or_default() += units;
            }
        }
    }
    (pending, holds)
}

#[tokio::test]
async fn a_node_killed_mid_order_is_repaired_by_the_other_node_without_a_restart() {
    let db = tally_testkit::fresh_database().await;
    let (doomed, doomed_base) = TallyProcess::serve_on(&db.url);
    let (survivor, base) = TallyProcess::serve_on(&db.url);
    for sku in SKUS {
        let product = json!({ "sku": sku, "name": sku, "price": { "amount": 700, "currency": "EUR" } });
        post_expect(&format!("{base}/v1/products"), &product, 201).await;
        post_expect(&format!("{base}/v1/inventory/{sku}/receipts"), &json!({ "quantity": UNITS }), 201).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (answered, mut answers) = watch::channel(0);
    let answered = Arc::new(answered);
    let clients: Vec<_> =
        (0..CLIENTS).map(|n| tokio::spawn(client(doomed_base.clone(), n, stop.clone(), answered.clone()))).collect();
    tokio::time::timeout(Duration::from_secs(120), answers.wait_for(|count| *count >= KILL_AFTER_ANSWERS))
        .await
        .expect("the burst got its answers")
        .ok();
    doomed.kill();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("client");
    }

    let repaired = poll_until("the survivor to repair every order and hold", REPAIR_TIMEOUT, || async {
        let (pending, expected) = expected_holds(&db.pool).await;
        if !pending.is_empty() {
            return Err(format!("{} orders still pending", pending.len()));
        }
        let head = wait_until_caught_up(&base, REPAIR_TIMEOUT).await;
        let mut actual = BTreeMap::new();
        for sku in SKUS {
            let (status, stock) = get_json(&format!("{base}/v1/inventory/{sku}?min_position={head}")).await;
            if status != 200 {
                return Err(format!("{status} {stock}"));
            }
            actual.insert(sku.to_owned(), stock["reserved"].as_i64().unwrap_or(-1));
        }
        if actual == expected {
            Ok(expected)
        } else {
            Err(format!("reserved {actual:?}, held by orders {expected:?}"))
        }
    })
    .await;
    eprintln!("repaired: holds {repaired:?}");
    assert!(survivor.terminate().success());
}

#[tokio::test]
async fn one_key_sent_twenty_times_at_once_to_two_nodes_is_applied_once() {
    let db = tally_testkit::fresh_database().await;
    let (first, first_base) = TallyProcess::serve_on(&db.url);
    let (second, second_base) = TallyProcess::serve_on(&db.url);
    let product = json!({ "sku": "BURST", "name": "Burst", "price": { "amount": 700, "currency": "EUR" } });
    post_expect(&format!("{first_base}/v1/products"), &product, 201).await;
    let http = reqwest::Client::new();
    let sends = (0..20).map(|n| {
        let base = if n % 2 == 0 { first_base.clone() } else { second_base.clone() };
        let http = http.clone();
        tokio::spawn(async move {
            let url = format!("{base}/v1/inventory/BURST/receipts");
            let response = authorized(http.post(&url), &url)
                .header("idempotency-key", "burst-1")
                .json(&json!({ "quantity": 9 }))
                .send()
                .await
                .expect("an answer");
            response.status().as_u16()
        })
    });
    let statuses: Vec<u16> = futures::future::join_all(sends).await.into_iter().map(Result::unwrap).collect();
    assert!(statuses.iter().all(|status| [201, 409].contains(status)), "created or in flight: {statuses:?}");
    assert!(statuses.contains(&201), "{statuses:?}");
    let receipts: i64 = sqlx::query_scalar("select count(*) from events where stream_id = 'inventory-BURST'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(receipts, 1, "twenty sends, two nodes, one receipt");
    assert!(first.terminate().success());
    assert!(second.terminate().success());
}

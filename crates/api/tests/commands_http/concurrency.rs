//! Many requests at once over the router: no overselling, and an idempotency key that runs its command once.

use crate::support::{app, post, Reply, TestApp};
use axum::http::StatusCode;
use futures::future::join_all;
use serde_json::json;
use tally_domain::Sku;

/// Sends `count` copies of a request built by `call(i)` at once, each from a task of its own.
async fn at_once(app: &TestApp, count: usize, call: impl Fn(usize) -> crate::support::Call) -> Vec<Reply> {
    let tasks = (0..count).map(|i| {
        let (app, call) = (app.clone(), call(i));
        tokio::spawn(async move { app.send(call).await })
    });
    join_all(tasks).await.into_iter().map(|reply| reply.expect("a request task")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_single_unit_orders_against_fifty_units_confirm_exactly_fifty() {
    let app = app().await;
    app.register("HOT", 500).await;
    app.receive("HOT", 50).await;
    let replies = at_once(&app, 200, |i| {
        post("/v1/orders")
            .json(json!({ "customer_id": format!("cus-{i}"), "lines": [{ "sku": "HOT", "quantity": 1 }] }))
    })
    .await;
    let confirmed = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let rejected: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::CONFLICT).collect();
    assert_eq!((confirmed, rejected.len()), (50, 150), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for reply in &rejected {
        reply.assert_problem(StatusCode::CONFLICT, "insufficient-stock");
        assert_eq!(reply.body["shortages"][0]["available"], 0);
    }
    let snapshot = app.state.commands.inventory(&Sku::parse("HOT").unwrap()).await.unwrap();
    assert_eq!((snapshot.state.on_hand(), snapshot.state.reserved(), snapshot.state.available()), (50, 50, 0));
}

/// Every reply is the first response (status and bytes) or a 409 "still in flight"; returns the first.
fn first_or_in_flight(replies: &[Reply]) -> &Reply {
    let first = replies.iter().find(|r| r.status.is_success() && r.header("idempotency-replayed").is_none());
    let first = first.expect("one request ran the command");
    for reply in replies {
        if reply.status == StatusCode::CONFLICT {
            reply.assert_problem(StatusCode::CONFLICT, "idempotency-key-reused");
        } else {
            assert_eq!((reply.status, &reply.bytes), (first.status, &first.bytes));
            assert_eq!(reply.header("etag"), first.header("etag"));
            assert_eq!(reply.header("tally-position"), first.header("tally-position"));
        }
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_receipt_key_twenty_times_at_once_appends_once() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    let receipt = json!({ "quantity": 7, "reference": "PO-1" });
    let replies =
        at_once(&app, 20, |_| post("/v1/inventory/TEE-RED-M/receipts").json(receipt.clone()).key("storm")).await;
    let first = first_or_in_flight(&replies);
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(app.events("inventory-TEE-RED-M").await.len(), 1, "one StockReceived");
    let replay = app.send(post("/v1/inventory/TEE-RED-M/receipts").json(receipt).key("storm")).await;
    assert_eq!((replay.status, &replay.bytes), (first.status, &first.bytes));
    assert_eq!(replay.header("etag"), first.header("etag"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_order_key_twenty_times_at_once_places_once() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 100).await;
    let body = json!({ "customer_id": "cus-1", "lines": [{ "sku": "TEE-RED-M", "quantity": 3 }] });
    let replies = at_once(&app, 20, |_| post("/v1/orders").json(body.clone()).key("storm")).await;
    let first = first_or_in_flight(&replies);
    assert_eq!(first.status, StatusCode::CREATED);
    let order_id = first.body["order_id"].as_str().unwrap();
    assert_eq!(app.events(&format!("order-{order_id}")).await.len(), 2, "placed and confirmed, once");
    assert_eq!(app.events("inventory-TEE-RED-M").await.len(), 2, "received, then reserved once");
    let replay = app.send(post("/v1/orders").json(body).key("storm")).await;
    assert_eq!((replay.status, &replay.bytes), (first.status, &first.bytes));
    // Another body with the key is refused, and places nothing.
    let other = json!({ "customer_id": "cus-1", "lines": [{ "sku": "TEE-RED-M", "quantity": 4 }] });
    app.send(post("/v1/orders").json(other).key("storm"))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");
    let snapshot = app.state.commands.inventory(&Sku::parse("TEE-RED-M").unwrap()).await.unwrap();
    assert_eq!(snapshot.state.reserved(), 3);
}

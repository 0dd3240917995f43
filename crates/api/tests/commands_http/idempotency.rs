//! `Idempotency-Key`: replays, reuse with another body, in-flight repeats, takeover of abandoned keys, purge.

use crate::support::{app, app_with_store_pool, post};
use axum::http::StatusCode;
use serde_json::json;
use std::time::Duration;
use tally_api::idempotency::purge_expired_idempotency_keys;

async fn key_count(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from idempotency_keys").fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_repeat_after_completion_replays_the_first_response_exactly() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    let receipt = || post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 10 })).key("receipt-1");
    let first = app.send(receipt()).await;
    first.assert_status(StatusCode::CREATED);
    let second = app.send(receipt().header("x-request-id", "again")).await;
    assert_eq!(second.status, first.status);
    assert_eq!(second.bytes, first.bytes);
    for header in ["etag", "tally-position", "location", "content-type"] {
        assert_eq!(second.header(header), first.header(header), "{header}");
    }
    assert_eq!(second.header("idempotency-replayed"), Some("true"));
    assert_eq!(second.header("x-request-id"), Some("again"));
    assert_eq!(app.events("inventory-TEE-RED-M").await.len(), 1, "the command ran once");
    assert_eq!(app.events("inventory-TEE-RED-M").await[0].metadata.idempotency_key.as_deref(), Some("receipt-1"));
}

#[tokio::test]
async fn a_problem_is_replayed_too() {
    let app = app().await;
    let first = app.send(post("/v1/inventory/NOPE/receipts").json(json!({ "quantity": 1 })).key("k")).await;
    first.assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.register("NOPE", 1).await;
    let second = app.send(post("/v1/inventory/NOPE/receipts").json(json!({ "quantity": 1 })).key("k")).await;
    second.assert_problem(StatusCode::NOT_FOUND, "not-found");
    assert_eq!(second.bytes, first.bytes);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 10 })).key("k"))
        .await
        .assert_status(StatusCode::CREATED);
    app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 11 })).key("k"))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");
    app.send(post("/v1/inventory/TEE-RED-M/adjustments").json(json!({ "quantity": 10 })).key("k"))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused");
    assert_eq!(app.events("inventory-TEE-RED-M").await.len(), 1);
    app.send(post("/v1/products").json(json!({})).key("has space"))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation");
}

#[tokio::test]
async fn a_key_in_flight_is_409_until_its_lease_runs_out_then_the_retry_answers_the_recorded_outcome() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    let receipt = || post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 10 })).key("crashed");
    let first = app.send(receipt()).await;
    first.assert_status(StatusCode::CREATED);
    // As if the process had crashed after the append, before storing the response.
    set_key(
        &app,
        "crashed",
        "state = 'in_flight', status = null, body = null, lease_until = now() + interval '1 hour'",
    )
    .await;
    let in_flight = app.send(receipt()).await;
    in_flight.assert_problem(StatusCode::CONFLICT, "idempotency-key-reused");
    assert_eq!(in_flight.header("retry-after"), Some("1"));
    // The crashed process stops renewing its lease.
    set_key(&app, "crashed", "lease_until = now() - interval '1 second'").await;
    let taken_over = app.send(receipt()).await;
    assert_eq!(taken_over.assert_status(StatusCode::CREATED)["version"], 0, "the first receipt's outcome");
    assert_eq!(taken_over.header("tally-position"), first.header("tally-position"));
    assert_eq!(app.events("inventory-TEE-RED-M").await.len(), 1, "received once");
    assert_eq!(app.send(receipt()).await.bytes, taken_over.bytes, "completed again, replayed from now on");
}

#[tokio::test]
async fn a_retry_after_an_unknown_outcome_answers_what_was_recorded_for_every_command() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 10).await;
    let order = app.place(&[("TEE-RED-M", 2)]).await;
    let id = order["order_id"].as_str().unwrap().to_owned();
    let calls = [
        ("receipt", post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 5 }))),
        ("adjustment", post("/v1/inventory/TEE-RED-M/adjustments").json(json!({ "delta": -1, "reason": "damaged" }))),
        ("payment", post(format!("/v1/orders/{id}/payments")).json(json!({ "amount": 3998, "currency": "EUR" }))),
        ("shipment", post(format!("/v1/orders/{id}/shipments")).json(json!({ "carrier": "dhl" }))),
        (
            "return",
            post(format!("/v1/orders/{id}/returns"))
                .json(json!({ "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }], "restock": true })),
        ),
        ("refund", post(format!("/v1/orders/{id}/refunds")).json(json!({ "amount": 1999, "currency": "EUR" }))),
    ];
    for (name, call) in calls {
        let first = app.send(call.clone().key(name)).await;
        assert!(first.status.is_success(), "{name}: {:?}", first.body);
        let before = app.all_events().await;
        // As if the first answer had been a 503 after its events committed: no response was recorded.
        set_key(&app, name, "state = 'unknown', status = null, body = null").await;
        let retry = app.send(call.key(name)).await;
        assert_eq!(retry.status, first.status, "{name}: {:?}", retry.body);
        assert_eq!(retry.header("etag"), first.header("etag"), "{name}");
        assert_eq!(retry.header("tally-position"), first.header("tally-position"), "{name}");
        assert_eq!(app.all_events().await, before, "{name}: the retry appended nothing");
    }
    let stock = app.state.commands.inventory(&tally_domain::Sku::parse("TEE-RED-M").unwrap()).await.unwrap();
    assert_eq!((stock.state.on_hand(), stock.state.reserved()), (10 + 5 - 1 - 2 + 1, 0));
}

#[tokio::test]
async fn the_same_key_sent_twenty_times_at_once_to_two_nodes_appends_once() {
    let app = app().await;
    let other = app.second_node().await;
    app.register("TEE-RED-M", 1999).await;
    let receipt = || post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 7 })).key("burst");
    let sends = (0..20).map(|n| {
        let node = if n % 2 == 0 { app.clone() } else { other.clone() };
        let call = receipt();
        tokio::spawn(async move { node.send(call).await })
    });
    let replies: Vec<_> = futures::future::join_all(sends).await.into_iter().map(Result::unwrap).collect();
    for reply in &replies {
        assert!(
            reply.status == StatusCode::CREATED || reply.status == StatusCode::CONFLICT,
            "created, or in flight: {} {:?}",
            reply.status,
            reply.body
        );
    }
    assert_eq!(app.events("inventory-TEE-RED-M").await.len(), 1, "one receipt");
    let settled = app.send(receipt()).await;
    assert_eq!(settled.assert_status(StatusCode::CREATED)["on_hand"], 7);
    for reply in replies.iter().filter(|reply| reply.status == StatusCode::CREATED) {
        assert_eq!(reply.bytes, settled.bytes);
    }
}

/// Sets columns of a key's row, to put it in the state a crash or a failure would have left.
async fn set_key(app: &crate::support::TestApp, key: &str, assignments: &str) {
    sqlx::query(&format!("update idempotency_keys set {assignments} where key = $1"))
        .bind(key)
        .execute(&app.state.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn without_an_order_id_a_keyed_order_gets_an_id_from_its_key() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 10).await;
    let body = json!({ "customer_id": "c", "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }] });
    let first = app.send(post("/v1/orders").json(body.clone()).key("order-a")).await;
    let first_id = first.assert_status(StatusCode::CREATED)["order_id"].clone();
    // The key's record lost (a 5xx, or purged): the retry names the same order and places nothing new.
    sqlx::query("delete from idempotency_keys").execute(&app.state.pool).await.unwrap();
    let retry = app.send(post("/v1/orders").json(body.clone()).key("order-a")).await;
    assert_eq!(retry.assert_status(StatusCode::CREATED)["order_id"], first_id);
    let other = app.send(post("/v1/orders").json(body).key("order-b")).await;
    assert_ne!(other.assert_status(StatusCode::CREATED)["order_id"], first_id);
    let snapshot = app.state.commands.inventory(&tally_domain::Sku::parse("TEE-RED-M").unwrap()).await.unwrap();
    assert_eq!(snapshot.state.reserved(), 2);
}

#[tokio::test]
async fn keys_older_than_the_retention_are_purged() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    for key in ["old", "new"] {
        app.send(post("/v1/products/TEE-RED-M/price").json(json!({ "amount": 1999, "currency": "EUR" })).key(key))
            .await
            .assert_status(StatusCode::OK);
    }
    sqlx::query("update idempotency_keys set created_at = now() - interval '25 hours' where key = 'old'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    // Asking for less than the retention still keeps a day's keys.
    assert_eq!(purge_expired_idempotency_keys(&app.state.pool, Duration::from_secs(60)).await.unwrap(), 1);
    assert_eq!(key_count(&app.state.pool).await, 1);
}

#[tokio::test]
async fn a_first_request_that_fails_with_a_5xx_keeps_its_key_as_unknown() {
    let (app, store_pool) = app_with_store_pool().await;
    app.register("TEE-RED-M", 1999).await;
    store_pool.close().await;
    let reply = app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 1 })).key("retry-me")).await;
    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(!reply.body["detail"].as_str().unwrap().contains("pool"), "no internal text: {}", reply.body);
    let state: String = sqlx::query_scalar("select state from idempotency_keys where key = 'retry-me'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(state, "unknown", "kept: the attempt may have appended; a retry takes it over");
}

#[tokio::test]
async fn a_failing_key_store_is_503() {
    let app = app().await;
    app.state.pool.close().await;
    let reply = app.send(post("/v1/products").json(json!({})).key("k")).await;
    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

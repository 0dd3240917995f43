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
async fn a_key_in_flight_is_409_until_it_is_abandoned_then_taken_over() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    let receipt = || post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 10 })).key("crashed");
    app.send(receipt()).await.assert_status(StatusCode::CREATED);
    // As if the process had crashed before storing the response.
    sqlx::query("update idempotency_keys set state = 'in_flight', status = null, body = null where key = 'crashed'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let in_flight = app.send(receipt()).await;
    in_flight.assert_problem(StatusCode::CONFLICT, "idempotency-key-reused");
    assert_eq!(in_flight.header("retry-after"), Some("1"));
    sqlx::query("update idempotency_keys set created_at = now() - interval '10 minutes' where key = 'crashed'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let taken_over = app.send(receipt()).await;
    assert_eq!(taken_over.assert_status(StatusCode::CREATED)["version"], 1);
    assert_eq!(app.send(receipt()).await.bytes, taken_over.bytes, "completed again, replayed from now on");
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
async fn a_first_request_that_fails_with_a_5xx_releases_its_key() {
    let (app, store_pool) = app_with_store_pool().await;
    app.register("TEE-RED-M", 1999).await;
    store_pool.close().await;
    let reply = app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 1 })).key("retry-me")).await;
    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(!reply.body["detail"].as_str().unwrap().contains("pool"), "no internal text: {}", reply.body);
    assert_eq!(key_count(&app.state.pool).await, 0, "the key may be retried");
}

#[tokio::test]
async fn a_failing_key_store_is_503() {
    let app = app().await;
    app.state.pool.close().await;
    let reply = app.send(post("/v1/products").json(json!({})).key("k")).await;
    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

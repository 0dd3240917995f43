//! Input bounds over HTTP: a quantity above 1,000,000 units, a price above 1,000,000,000 minor units, an order of
//! more than 250 lines, an amount above the largest order total, and text with a NUL are 422 `validation`
//! problems, and nothing is appended.

use crate::support::{app, post};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn quantities_above_the_bound_are_422_and_append_nothing() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 1_000_000).await;
    let receipt = app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 1_000_001 }))).await;
    receipt.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(receipt.body["field"], "quantity");
    let adjustment = json!({ "delta": -1_000_001, "reason": "count_correction" });
    let reply = app.send(post("/v1/inventory/TEE-RED-M/adjustments").json(adjustment)).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(app.events("inventory-TEE-RED-M").await.len(), 1, "only the first receipt");

    // The reproduction: 4,294,967,295 units at 99,999.
    app.register("BIG", 99_999).await;
    for units in [1_000_001_i64, 4_294_967_295] {
        let order = json!({ "customer_id": "cus-42", "lines": [{ "sku": "BIG", "quantity": units }] });
        let reply = app.send(post("/v1/orders").json(order)).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(reply.body["field"], "lines[0].quantity");
    }
    let lines: Vec<_> = (0..251).map(|n| json!({ "sku": format!("S{n}"), "quantity": 1 })).collect();
    let reply = app.send(post("/v1/orders").json(json!({ "customer_id": "cus-42", "lines": lines }))).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
}

#[tokio::test]
async fn prices_and_amounts_above_the_bound_are_422() {
    let app = app().await;
    let product = json!({ "sku": "GOLD", "name": "Gold bar", "price": { "amount": 1_000_000_001, "currency": "EUR" } });
    app.send(post("/v1/products").json(product)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert!(app.events("product-GOLD").await.is_empty());
    app.register("GOLD", 1_000_000_000).await;
    let reprice = json!({ "amount": 1_000_000_001, "currency": "EUR" });
    let reply = app.send(post("/v1/products/GOLD/price").json(reprice)).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert!(reply.body["detail"].as_str().unwrap().contains("at most 1000000000"), "{}", reply.body);

    let order = app.confirmed_order().await;
    let id = order["order_id"].as_str().unwrap();
    let payment = json!({ "amount": 250_000_000_000_000_001_i64, "currency": "EUR", "reference": "psp_1" });
    let reply = app.send(post(format!("/v1/orders/{id}/payments")).json(payment)).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(reply.body["field"], "amount");
}

#[tokio::test]
async fn a_product_name_with_a_nul_is_422_and_the_stream_stays_usable() {
    let app = app().await;
    let product = json!({ "sku": "TEE", "name": "Red\u{0}tee", "price": { "amount": 1999, "currency": "EUR" } });
    app.send(post("/v1/products").json(product)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    app.register("TEE", 1999).await;
    assert_eq!(app.events("product-TEE").await.len(), 1);
}

//! `POST /v1/inventory/{sku}/receipts` and `/v1/inventory/{sku}/adjustments`.

use crate::support::{app, post};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_receipt_answers_201_with_the_stock() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    let receipt = json!({ "location": "main", "quantity": 100, "reference": "PO-1001" });
    let reply = app.send(post("/v1/inventory/TEE-RED-M/receipts").json(receipt)).await;
    let mut body = reply.assert_status(StatusCode::CREATED).clone();
    let position: u64 = reply.header("tally-position").unwrap().parse().unwrap();
    assert_eq!(body["position"], position);
    assert!(body["updated_at"].is_string(), "{body}");
    for field in ["position", "updated_at"] {
        body.as_object_mut().unwrap().remove(field);
    }
    assert_eq!(
        body,
        json!({ "sku": "TEE-RED-M", "on_hand": 100, "reserved": 0, "available": 100,
                "locations": [{ "location": "main", "on_hand": 100, "reserved": 0, "available": 100 }], "version": 0 })
    );
    assert_eq!(reply.header("etag"), Some("\"0\""));
    assert_eq!(reply.header("location"), Some("/v1/inventory/TEE-RED-M"));
    assert!(reply.header("tally-position").is_some());

    // No location: "main". Another location adds a line; If-Match holds at the current version.
    let reply = app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 5 }))).await;
    assert_eq!(reply.assert_status(StatusCode::CREATED)["locations"][0]["on_hand"], 105);
    let reply = app
        .send(
            post("/v1/inventory/TEE-RED-M/receipts")
                .json(json!({ "location": "shop", "quantity": 3 }))
                .header("if-match", "\"1\""),
        )
        .await;
    let body = reply.assert_status(StatusCode::CREATED);
    assert_eq!((body["on_hand"].as_u64(), body["version"].as_u64()), (Some(108), Some(2)));
    assert_eq!(body["locations"][1], json!({ "location": "shop", "on_hand": 3, "reserved": 0, "available": 3 }));
}

#[tokio::test]
async fn receipt_errors() {
    let app = app().await;
    app.send(post("/v1/inventory/NOPE/receipts").json(json!({ "quantity": 1 })))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.register("TEE-RED-M", 1999).await;
    for (body, field) in [
        (json!({ "quantity": 0 }), "quantity"),
        (json!({ "quantity": -5 }), "quantity"),
        (json!({ "quantity": 5_000_000_000_i64 }), "quantity"),
        (json!({ "quantity": 1, "location": "back room" }), "location"),
        (json!({ "quantity": 1, "reference": "x".repeat(501) }), "reference"),
    ] {
        let reply = app.send(post("/v1/inventory/TEE-RED-M/receipts").json(body)).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(reply.body["field"], field);
    }
    app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 1, "sku": "X" })))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    app.send(post("/v1/inventory/TEE-RED-M/receipts").json(json!({ "quantity": 1 })).header("if-match", "\"4\""))
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "version-conflict");
}

#[tokio::test]
async fn adjustments_correct_the_stock_by_reason() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 100).await;
    let reply = app
        .send(
            post("/v1/inventory/TEE-RED-M/adjustments")
                .json(json!({ "location": "main", "delta": -3, "reason": "damaged" })),
        )
        .await;
    let body = reply.assert_status(StatusCode::CREATED);
    assert_eq!((body["on_hand"].as_u64(), body["version"].as_u64()), (Some(97), Some(1)));
    let reply = app
        .send(post("/v1/inventory/TEE-RED-M/adjustments").json(json!({ "delta": 2, "reason": "count_correction" })))
        .await;
    assert_eq!(reply.assert_status(StatusCode::CREATED)["on_hand"], 99);
}

#[tokio::test]
async fn adjustment_errors() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 10).await;
    let adjust = |body| post("/v1/inventory/TEE-RED-M/adjustments").json(body);
    app.send(adjust(json!({ "delta": -1, "reason": "stolen" })))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    app.send(adjust(json!({ "delta": 3, "reason": "damaged" })))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let zero = app.send(adjust(json!({ "delta": 0, "reason": "count_correction" }))).await;
    zero.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(zero.body["field"], "delta");
    let below = app.send(adjust(json!({ "delta": -11, "reason": "lost" }))).await;
    below.assert_problem(StatusCode::CONFLICT, "insufficient-stock");
    assert_eq!((below.body["on_hand"].as_u64(), below.body["delta"].as_i64()), (Some(10), Some(-11)));
    app.send(post("/v1/inventory/NOPE/adjustments").json(json!({ "delta": 1, "reason": "found" })))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");

    // Below what is reserved: an order holds 8 of the 10.
    app.place(&[("TEE-RED-M", 8)]).await;
    let below_reserved = app.send(adjust(json!({ "delta": -3, "reason": "damaged" }))).await;
    below_reserved.assert_problem(StatusCode::CONFLICT, "insufficient-stock");
    assert_eq!(below_reserved.body["reserved"], 8);
}

//! `POST /v1/orders` and the order lifecycle: payments, shipments, delivery, cancellation, returns, refunds.

use crate::support::{app, post, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tally_domain::{OrderId, Sku};

fn id_of(order: &Value) -> String {
    order["order_id"].as_str().expect("an order id").to_owned()
}

async fn stock(app: &TestApp, sku: &str) -> (u64, u64) {
    let snapshot = app.state.commands.inventory(&Sku::parse(sku).unwrap()).await.unwrap();
    (snapshot.state.on_hand(), snapshot.state.reserved())
}

#[tokio::test]
async fn placing_an_order_answers_201_confirmed_in_the_get_shape() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 100).await;
    let id = "0193a4b2-7c1e-7d3a-9f00-1234567890ab";
    let body = json!({ "order_id": id, "customer_id": "cus-42", "lines": [{ "sku": "TEE-RED-M", "quantity": 2 }] });
    let reply = app.send(post("/v1/orders").json(body).header("x-actor", "storefront")).await;
    let order = reply.assert_status(StatusCode::CREATED);
    assert_eq!(order["order_id"], id);
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["customer_id"], "cus-42");
    assert_eq!(order["lines"][0]["sku"], "TEE-RED-M");
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(order["lines"][0]["unit_price"], json!({ "amount": 1999, "currency": "EUR" }));
    assert_eq!(order["total"], json!({ "amount": 3998, "currency": "EUR" }));
    assert_eq!(order["paid"], json!({ "amount": 0, "currency": "EUR" }));
    assert_eq!(order["refunded"], json!({ "amount": 0, "currency": "EUR" }));
    for field in ["reserved_until", "placed_at", "updated_at"] {
        assert!(order[field].as_str().is_some_and(|t| t.ends_with('Z')), "{field}: {order}");
    }
    // OrderPlaced is version 0, OrderConfirmed version 1.
    assert_eq!(order["version"], 1);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.header("location"), Some(format!("/v1/orders/{id}").as_str()));
    let events = app.events(&format!("order-{id}")).await;
    assert_eq!(reply.header("tally-position").unwrap(), events[1].position.to_string());
    assert_eq!(events[0].metadata.actor_name.as_deref(), Some("test admin"), "the caller's key");
    assert_eq!(stock(&app, "TEE-RED-M").await, (100, 2));
}

#[tokio::test]
async fn an_order_beyond_the_stock_is_rejected_with_its_shortages() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.register("MUG", 900).await;
    app.receive("TEE-RED-M", 1).await;
    app.receive("MUG", 5).await;
    let body = json!({ "customer_id": "cus-42", "lines": [{ "sku": "TEE-RED-M", "quantity": 2 }, { "sku": "MUG", "quantity": 1 }] });
    let reply = app.send(post("/v1/orders").json(body)).await;
    reply.assert_problem(StatusCode::CONFLICT, "insufficient-stock");
    assert_eq!(reply.body["title"], "Insufficient stock");
    assert_eq!(reply.body["shortages"], json!([{ "sku": "TEE-RED-M", "requested": 2, "available": 1 }]));
    let order_id = OrderId::parse(reply.body["order_id"].as_str().unwrap()).unwrap();
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let snapshot = app.state.commands.order(order_id).await.unwrap();
    assert_eq!(snapshot.state.status().map(|s| s.as_str()), Some("rejected"));
    assert_eq!(stock(&app, "MUG").await, (5, 0), "what was reserved is released");
}

#[tokio::test]
async fn order_validation() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    let cases = [
        (json!({ "customer_id": "c", "lines": [] }), "lines"),
        (json!({ "customer_id": "c", "lines": [{ "sku": "TEE-RED-M", "quantity": 0 }] }), "lines[0].quantity"),
        (json!({ "customer_id": "c", "lines": [{ "sku": "TEE RED", "quantity": 1 }] }), "lines[0].sku"),
        (json!({ "customer_id": "", "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }] }), "customer_id"),
        (
            json!({ "order_id": "0193", "customer_id": "c", "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }] }),
            "order_id",
        ),
    ];
    for (body, field) in cases {
        let reply = app.send(post("/v1/orders").json(body)).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(reply.body["field"], field, "{}", reply.body);
    }
    // Prices come from the catalog: a client's price is an unknown field.
    let priced = json!({ "customer_id": "c", "lines": [{ "sku": "TEE-RED-M", "quantity": 1, "unit_price": 1 }] });
    app.send(post("/v1/orders").json(priced)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let unknown = json!({ "customer_id": "c", "lines": [{ "sku": "NOPE", "quantity": 1 }] });
    app.send(post("/v1/orders").json(unknown)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
}

#[tokio::test]
async fn the_whole_lifecycle_answers_201_with_the_order_each_time() {
    let app = app().await;
    let order = app.paid_order().await;
    let id = id_of(&order);
    assert_eq!((order["status"].as_str(), order["paid"]["amount"].as_i64()), (Some("paid"), Some(3998)));
    assert_eq!(order["version"], 2);

    let ship = json!({ "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }], "carrier": "dhl", "tracking_number": "1Z" });
    let shipped = app.send(post(format!("/v1/orders/{id}/shipments")).json(ship)).await;
    assert_eq!(shipped.assert_status(StatusCode::CREATED)["status"], "partially_shipped");
    assert_eq!(stock(&app, "TEE-RED-M").await, (99, 1), "the shipped unit left the shelf");
    let rest = app.send(post(format!("/v1/orders/{id}/shipments")).json(json!({ "carrier": "dhl" }))).await;
    let body = rest.assert_status(StatusCode::CREATED);
    assert_eq!((body["status"].as_str(), body["lines"][0]["shipped"].as_u64()), (Some("shipped"), Some(2)));
    assert_eq!(stock(&app, "TEE-RED-M").await, (98, 0));

    let delivered = app.send(post(format!("/v1/orders/{id}/delivery")).json(json!({}))).await;
    assert_eq!(delivered.assert_status(StatusCode::CREATED)["status"], "delivered");

    let ret = json!({ "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }], "restock": true, "location": "main" });
    let returned = app.send(post(format!("/v1/orders/{id}/returns")).json(ret)).await;
    assert_eq!(returned.assert_status(StatusCode::CREATED)["lines"][0]["returned"], 1);
    assert_eq!(stock(&app, "TEE-RED-M").await, (99, 0), "the returned unit is back on the shelf");

    let refund = json!({ "amount": 1999, "currency": "EUR", "reason": "returned" });
    let refunded = app.send(post(format!("/v1/orders/{id}/refunds")).json(refund)).await;
    let body = refunded.assert_status(StatusCode::CREATED);
    assert_eq!((body["refunded"]["amount"].as_i64(), body["version"].as_u64()), (Some(1999), Some(7)));
    assert_eq!(refunded.header("etag"), Some("\"7\""));
    let over = json!({ "amount": 2000, "currency": "EUR" });
    app.send(post(format!("/v1/orders/{id}/refunds")).json(over))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
}

#[tokio::test]
async fn cancelling_releases_the_stock() {
    let app = app().await;
    let order = app.confirmed_order().await;
    let id = id_of(&order);
    let reply =
        app.send(post(format!("/v1/orders/{id}/cancellation")).json(json!({ "reason": "customer request" }))).await;
    assert_eq!(reply.assert_status(StatusCode::CREATED)["status"], "cancelled");
    assert_eq!(stock(&app, "TEE-RED-M").await, (100, 0));
    // No body at all is an empty cancellation; a cancelled order cannot be cancelled again.
    app.send(post(format!("/v1/orders/{id}/cancellation")))
        .await
        .assert_problem(StatusCode::CONFLICT, "invalid-transition");
}

#[tokio::test]
async fn transitions_the_order_cannot_make_are_409() {
    let app = app().await;
    let order = app.confirmed_order().await;
    let id = id_of(&order);
    let unpaid_ship = app.send(post(format!("/v1/orders/{id}/shipments")).json(json!({}))).await;
    unpaid_ship.assert_problem(StatusCode::CONFLICT, "invalid-transition");
    assert_eq!(
        (unpaid_ship.body["current_status"].as_str(), unpaid_ship.body["action"].as_str()),
        (Some("confirmed"), Some("ship"))
    );
    app.send(post(format!("/v1/orders/{id}/delivery")))
        .await
        .assert_problem(StatusCode::CONFLICT, "invalid-transition");
    let refund = json!({ "amount": 1, "currency": "EUR" });
    app.send(post(format!("/v1/orders/{id}/refunds")).json(refund))
        .await
        .assert_problem(StatusCode::CONFLICT, "invalid-transition");
}

#[tokio::test]
async fn order_command_errors() {
    let app = app().await;
    let order = app.confirmed_order().await;
    let id = id_of(&order);
    let pay = |amount: i64, currency: &str| json!({ "amount": amount, "currency": currency });
    let unknown = "0193a4b2-7c1e-7d3a-9f00-000000000000";
    app.send(post(format!("/v1/orders/{unknown}/payments")).json(pay(1, "EUR")))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    let bad_id = app.send(post("/v1/orders/42/payments").json(pay(1, "EUR"))).await;
    bad_id.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(bad_id.body["field"], "order_id");
    for (body, field) in [(pay(-1, "EUR"), "amount"), (pay(1, "eur"), "currency")] {
        let reply = app.send(post(format!("/v1/orders/{id}/payments")).json(body)).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(reply.body["field"], field);
    }
    for body in [pay(0, "EUR"), pay(1, "USD"), pay(5000, "EUR")] {
        app.send(post(format!("/v1/orders/{id}/payments")).json(body))
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
    app.send(post(format!("/v1/orders/{id}/payments")).json(pay(1, "EUR")).header("if-match", "\"0\""))
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "version-conflict");
    let partial =
        app.send(post(format!("/v1/orders/{id}/payments")).json(pay(1, "EUR")).header("if-match", "\"1\"")).await;
    assert_eq!(partial.assert_status(StatusCode::CREATED)["status"], "confirmed");
    app.send(post(format!("/v1/orders/{id}/returns")).json(json!({ "lines": [] })))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    app.send(post(format!("/v1/orders/{id}/delivery")).raw("text/plain", "hi"))
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "validation");
    app.send(post(format!("/v1/orders/{id}/delivery")).raw("application/json", "{"))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "validation");
}

#[tokio::test]
async fn the_request_metadata_lands_on_the_events() {
    let app = app().await;
    app.register("TEE-RED-M", 1999).await;
    app.receive("TEE-RED-M", 10).await;
    let request_id = "0193a4b2-7c1e-7d3a-9f00-1234567890ab";
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let body = json!({ "customer_id": "c", "lines": [{ "sku": "TEE-RED-M", "quantity": 1 }] });
    let reply = app
        .send(
            post("/v1/orders")
                .json(body)
                .key("place-1")
                .header("x-request-id", request_id)
                .header("traceparent", traceparent)
                .header("x-actor", "shop-7"),
        )
        .await;
    let order = reply.assert_status(StatusCode::CREATED);
    assert_eq!(reply.header("x-request-id"), Some(request_id));
    let events = app.events(&format!("order-{}", id_of(order))).await;
    for event in &events {
        assert_eq!(event.metadata.correlation_id.unwrap().to_string(), request_id);
        assert_eq!(event.metadata.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(event.metadata.idempotency_key.as_deref(), Some("place-1"));
        assert!(event.metadata.actor.as_deref().is_some_and(|actor| actor.starts_with("apikey-")), "the key");
        assert_eq!(event.metadata.actor_name.as_deref(), Some("test admin"));
        assert_eq!(event.metadata.claimed_actor.as_deref(), Some("shop-7"), "X-Actor is a claim");
    }
}

#[tokio::test]
async fn an_optional_body_is_an_object_null_or_nothing() {
    let app = app().await;
    let order = app.confirmed_order().await;
    let id = id_of(&order);
    for body in ["[]", "3", "\"x\""] {
        let reply = app.send(post(format!("/v1/orders/{id}/cancellation")).raw("application/json", body)).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(reply.body["field"], "body", "{body}");
    }
    let cancelled = app.send(post(format!("/v1/orders/{id}/cancellation")).raw("application/json", " null ")).await;
    assert_eq!(cancelled.assert_status(StatusCode::CREATED)["status"], "cancelled");
}

#[tokio::test]
async fn amounts_and_deltas_out_of_bounds_are_422_whatever_if_match_says() {
    let app = app().await;
    let order = app.confirmed_order().await;
    let id = id_of(&order);
    let stale = "\"99\"";
    for path in ["payments", "refunds"] {
        let zero = json!({ "amount": 0, "currency": "EUR" });
        let reply = app.send(post(format!("/v1/orders/{id}/{path}")).json(zero).header("if-match", stale)).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert_eq!(reply.body["field"], "amount");
    }
    let too_dear = json!({ "amount": 1_000_000_001, "currency": "EUR" });
    let reply = app.send(post("/v1/products/TEE-RED-M/price").json(too_dear).header("if-match", stale)).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(reply.body["field"], "price.amount");
    let too_many = json!({ "delta": -1_000_001, "reason": "lost" });
    let reply = app.send(post("/v1/inventory/TEE-RED-M/adjustments").json(too_many).header("if-match", stale)).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(reply.body["field"], "delta");
}

#[tokio::test]
async fn malformed_command_headers_are_400_even_when_the_key_was_used_before() {
    let app = app().await;
    let order = app.confirmed_order().await;
    let id = id_of(&order);
    let cancel = || post(format!("/v1/orders/{id}/cancellation")).json(json!({})).key("cancel-1");
    app.send(cancel()).await.assert_status(StatusCode::CREATED);
    for (header, value) in [("x-actor", " "), ("if-match", "3")] {
        app.send(cancel().header(header, value)).await.assert_problem(StatusCode::BAD_REQUEST, "validation");
    }
    let replay = app.send(cancel().header("if-match", "")).await;
    replay.assert_status(StatusCode::CREATED);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"), "an empty If-Match is no expectation");
}

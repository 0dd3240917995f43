//! A command answers the GET of the same resource (DESIGN.md, "HTTP API"): for every command on products, stock
//! and orders, the answer's JSON equals the JSON of `GET` on the resource right after it (read-your-writes with
//! the answer's `Tally-Position`), every key and every value. Both are built as one type
//! (`tally_api`'s `resources`); this keeps the two constructors of each type telling the same story.

use crate::support::{app, get, post, Reply, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};
use tokio::sync::watch;

/// The app with its projector running, so GETs can wait for a command's position.
async fn app_with_projector() -> (TestApp, watch::Sender<bool>) {
    let app = app().await;
    let (stop, stopped) = watch::channel(false);
    let projector = app.state.projector.clone();
    tokio::spawn(async move { projector.run(stopped).await });
    (app, stop)
}

/// Asserts that `answer` (a command's 2xx) equals `GET resource` at the answer's position; returns the body.
#[track_caller]
fn same(answer: &Reply, read: &Reply) -> Value {
    assert!(answer.status.is_success(), "{}", answer.body);
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let (Some(command), Some(query)) = (answer.body.as_object(), read.body.as_object()) else {
        panic!("not objects: {} / {}", answer.body, read.body);
    };
    let keys = |object: &serde_json::Map<String, Value>| object.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(command), keys(query), "the same fields, in the same order");
    let differing: Vec<String> = command
        .iter()
        .filter(|(key, value)| query.get(*key) != Some(*value))
        .map(|(key, value)| format!("{key}: command {value}, GET {}", query[key]))
        .collect();
    assert!(differing.is_empty(), "the command's answer and the GET differ: {differing:#?}");
    answer.body.clone()
}

async fn read_after(app: &TestApp, resource: &str, answer: &Reply) -> Reply {
    // A command that recorded nothing (a repeat) has no Tally-Position: its body says where the resource stands.
    let position = answer.header("tally-position").map_or_else(|| answer.body["position"].to_string(), str::to_owned);
    app.send(get(format!("{resource}?min_position={position}"))).await
}

async fn command_then_get(app: &TestApp, command: &str, body: Value, resource: &str) -> Value {
    let answer = app.send(post(command).json(body)).await;
    let read = read_after(app, resource, &answer).await;
    same(&answer, &read)
}

#[tokio::test]
async fn a_product_command_answers_what_its_get_answers() {
    let (app, _projector) = app_with_projector().await;
    let tee = json!({ "sku": "TEE", "name": "Red tee", "price": { "amount": 1999, "currency": "EUR" } });
    let product = command_then_get(&app, "/v1/products", tee, "/v1/products/TEE").await;
    assert_eq!((product["status"].as_str(), product["version"].as_u64()), (Some("active"), Some(0)));
    let repriced = json!({ "amount": 2499, "currency": "EUR" });
    let product = command_then_get(&app, "/v1/products/TEE/price", repriced.clone(), "/v1/products/TEE").await;
    assert_ne!(product["registered_at"], product["updated_at"], "registered by the first event, not the last");
    // Repricing to the current price records nothing: the answer reads the last change back.
    command_then_get(&app, "/v1/products/TEE/price", repriced, "/v1/products/TEE").await;
    let product = command_then_get(&app, "/v1/products/TEE/discontinuation", json!({}), "/v1/products/TEE").await;
    assert_eq!((product["status"].as_str(), product["version"].as_u64()), (Some("discontinued"), Some(2)));
}

#[tokio::test]
async fn a_stock_command_answers_what_its_get_answers() {
    let (app, _projector) = app_with_projector().await;
    app.register("TEE", 1999).await;
    let resource = "/v1/inventory/TEE";
    command_then_get(&app, "/v1/inventory/TEE/receipts", json!({ "quantity": 100, "reference": "PO-1" }), resource)
        .await;
    command_then_get(&app, "/v1/inventory/TEE/receipts", json!({ "location": "annex", "quantity": 5 }), resource).await;
    // An order's reservation changes the stock between two commands; the next answer shows it as the GET does.
    app.place(&[("TEE", 3)]).await;
    let adjustment = json!({ "location": "main", "delta": -2, "reason": "damaged" });
    let stock = command_then_get(&app, "/v1/inventory/TEE/adjustments", adjustment, resource).await;
    assert_eq!((stock["on_hand"].as_u64(), stock["reserved"].as_u64()), (Some(103), Some(3)));
    assert_eq!(stock["locations"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn an_order_command_answers_what_its_get_answers_through_its_whole_life() {
    let (app, _projector) = app_with_projector().await;
    app.register("TEE", 1999).await;
    app.register("MUG", 900).await;
    app.receive("TEE", 100).await;
    app.receive("MUG", 100).await;
    let id = "0193a4b2-7c1e-7d3a-9f00-1234567890ab";
    let order = |path: &str| format!("/v1/orders/{id}{path}");
    let place = json!({ "order_id": id, "customer_id": "cus-42",
                        "lines": [{ "sku": "TEE", "quantity": 2 }, { "sku": "MUG", "quantity": 1 }] });
    let placed = command_then_get(&app, "/v1/orders", place.clone(), &order("")).await;
    assert_eq!((placed["status"].as_str(), placed["units"].as_u64()), (Some("confirmed"), Some(3)));
    assert!(placed["confirmed_at"].is_string(), "{placed}");

    let steps = [
        ("/payments", json!({ "amount": 1000, "currency": "EUR", "reference": "psp_1" }), "confirmed"),
        ("/payments", json!({ "amount": 3898, "currency": "EUR", "reference": "psp_2" }), "paid"),
        ("/shipments", json!({ "lines": [{ "sku": "TEE", "quantity": 1 }], "carrier": "dhl" }), "partially_shipped"),
        ("/shipments", json!({}), "shipped"),
        ("/delivery", json!({}), "delivered"),
        ("/returns", json!({ "lines": [{ "sku": "MUG", "quantity": 1 }], "restock": true }), "delivered"),
        ("/refunds", json!({ "amount": 900, "currency": "EUR", "reason": "returned" }), "delivered"),
    ];
    for (path, body, status) in steps {
        let answer = command_then_get(&app, &order(path), body, &order("")).await;
        assert_eq!(answer["status"], status, "{path}: {answer}");
    }
    // The same placement again records nothing and reports the order as it stands: still the GET's shape.
    let again = command_then_get(&app, "/v1/orders", place, &order("")).await;
    for field in ["paid_at", "partially_shipped_at", "shipped_at", "delivered_at", "last_returned_at"] {
        assert!(again[field].is_string(), "{field}: {again}");
    }
    assert_eq!((again["version"].as_u64(), again["refunded"]["amount"].as_i64()), (Some(8), Some(900)));

    // A cancelled order keeps its reason.
    let other = app.place(&[("TEE", 1)]).await;
    let other_id = other["order_id"].as_str().unwrap();
    let cancelled = command_then_get(
        &app,
        &format!("/v1/orders/{other_id}/cancellation"),
        json!({ "reason": "customer request" }),
        &format!("/v1/orders/{other_id}"),
    )
    .await;
    assert_eq!(cancelled["cancel_reason"], "customer request");
}

//! Read-your-writes (`min_position`, `Tally-Min-Position`), its bound and failures, `/v1/projections`, and the
//! order workers' candidate readers.

use super::{shop, Answer, Shop};
use crate::test_support;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use tally_commands::{Clock, CommandConfig, CommandContext, Commands, PlaceOrder};
use tally_domain::order::{ItemLine, OrderLine};
use tally_domain::Event;
use tally_domain::{Aggregate, Currency, CustomerId, Money, Order, OrderEvent, OrderId, Quantity, Sku};
use tally_projections::read::orders::orders_confirmed_unpaid_past;
use tally_store::{ExpectedVersion, NewEvent};
use uuid::Uuid;

#[tokio::test]
async fn a_query_at_a_commands_position_sees_its_effect() {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    let position = shop.receive("TEE-RED-M", "main", 7).await;
    // No other waiting: the query itself waits for the position.
    let answer = shop.get(&format!("/v1/inventory/TEE-RED-M?min_position={position}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["on_hand"], 7);

    let (order_id, position) = shop.place("cus-1", &[("TEE-RED-M", 3)]).await;
    let header = position.to_string();
    let answer = shop.get_with(&format!("/v1/orders/{order_id}"), &[("tally-min-position", &header)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["status"], "confirmed");
    let answer = shop.get_with("/v1/inventory/TEE-RED-M", &[("tally-min-position", &header)]).await;
    assert_eq!(answer.json()["reserved"], 3);
}

fn assert_unavailable(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.text());
    assert_eq!(answer.content_type(), "application/problem+json");
    assert_eq!(answer.json()["type"], "/problems/unavailable");
    assert!(answer.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn a_position_not_reached_in_time_is_unavailable_with_retry_after() {
    // No projector runs: the log's position 1 (the test's admin key) is never applied.
    let state = test_support::state().await;
    let shop =
        Shop { app: test_support::router(&state).await, state, _projector: tokio::sync::watch::channel(false).0 };
    let answer = shop.get("/v1/products?min_position=1").await;
    assert_unavailable(&answer);
    assert_eq!(answer.json()["min_position"], 1);
}

#[tokio::test]
async fn a_position_beyond_the_head_is_a_client_error_at_once() {
    let shop = shop().await;
    let started = std::time::Instant::now();
    let answer = shop.get("/v1/products?min_position=1000000").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert_eq!(answer.json()["type"], "/problems/validation");
    assert_eq!(answer.json()["head"], shop.state.store.head_position().await.unwrap());
    assert!(started.elapsed() < super::super::consistency::MAX_WAIT, "answered without waiting for the bound");
    let answer = shop.get_with("/v1/products", &[("tally-min-position", "1000000")]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    let answer = shop.get("/v1/products?min_position=soon").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["type"], "/problems/validation");
}

/// An optional number sent empty is read as absent on every route (`crate::extract::ApiQuery`), as an HTML form
/// sends an empty field; the document says so (`anyOf [integer, ""]`).
#[tokio::test]
async fn empty_optional_numbers_are_read_as_absent() {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    shop.receive("TEE-RED-M", "main", 5).await;
    // Every read model the routes below read has the events (each is projected on its own).
    shop.fresh("/v1/inventory/TEE-RED-M/ledger").await;
    shop.fresh("/v1/products/TEE-RED-M").await;
    shop.fresh("/v1/analytics/top-products").await;
    for uri in [
        "/v1/products?min_position=&limit=",
        "/v1/inventory?below=&limit=&cursor=",
        "/v1/orders?limit=",
        "/v1/inventory/TEE-RED-M/ledger?limit=",
        "/v1/analytics/top-products?limit=",
        "/v1/products/TEE-RED-M?min_position=",
    ] {
        let answer = shop.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
    }
    let answer = shop.get_with("/v1/products", &[("tally-min-position", "")]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[tokio::test]
async fn a_projection_failed_before_the_position_is_named() {
    let state = test_support::state().await;
    state.projector.status().await.unwrap();
    sqlx::query("update projections set failed_position = 1, failed_at = now(), error = 'boom' where name = 'orders'")
        .execute(&state.pool)
        .await
        .unwrap();
    let shop = Shop {
        app: crate::test_support::router(&state).await,
        state,
        _projector: tokio::sync::watch::channel(false).0,
    };
    let answer = shop.get("/v1/orders?min_position=1").await;
    assert_unavailable(&answer);
    assert_eq!(answer.json()["failed_projection"], "orders");
    assert!(!answer.text().contains("boom"), "internal error text stays inside");
    // Other read models do not wait on the orders projection.
    let answer = shop.get("/v1/products?min_position=0").await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn projections_report_positions_and_lag() {
    let state = test_support::state().await;
    let app = crate::test_support::router(&state).await;
    let shop = Shop { app, state: state.clone(), _projector: tokio::sync::watch::channel(false).0 };
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    let position = shop.receive("TEE-RED-M", "main", 5).await;

    let idle = shop.get("/v1/projections").await.json();
    assert_eq!(idle["head"], position);
    let names: Vec<&str> = idle["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["products", "inventory", "orders", "sales"]);
    for projection in idle["items"].as_array().unwrap() {
        assert_eq!(projection["position"], 0);
        assert_eq!(projection["lag_events"], position);
        assert_eq!(projection["state"], "idle");
    }

    let _running = test_support::start_projector(&state);
    let answer = shop.get(&format!("/v1/inventory/TEE-RED-M?min_position={position}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let running = shop.get("/v1/projections").await.json();
    let inventory = running["items"].as_array().unwrap().iter().find(|p| p["name"] == "inventory").unwrap().clone();
    assert_eq!(inventory["position"], position);
    assert_eq!(inventory["lag_events"], 0);
    assert_eq!(inventory["lag_seconds"], 0.0);
    assert!(inventory["failure"].is_null());
}

/// A clock two hours behind.
#[derive(Debug)]
struct Behind;

impl Clock for Behind {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() - Duration::hours(2)
    }
}

#[tokio::test]
async fn the_order_process_finds_overdue_confirmed_orders_and_no_others() {
    let shop = shop().await;
    shop.register("TEE-RED-M", "Red tee, M", 1999).await;
    shop.receive("TEE-RED-M", "main", 100).await;
    let context = CommandContext::new("test");
    let sku = Sku::parse("TEE-RED-M").unwrap();
    let line = ItemLine { sku: sku.clone(), quantity: Quantity::new(1).unwrap() };

    // Confirmed two hours ago with the default 30 minute hold: overdue. One of them paid: not a candidate.
    let past = Commands::with_clock(Arc::clone(&shop.state.store), CommandConfig::default(), Arc::new(Behind));
    let mut overdue = Vec::new();
    for _ in 0..2 {
        let order_id = OrderId::from_uuid(Uuid::now_v7());
        let request = PlaceOrder {
            order_id: Some(order_id),
            customer_id: CustomerId::parse("cus-1").unwrap(),
            lines: vec![line.clone()],
        };
        past.place_order(&context, request).await.unwrap();
        overdue.push(order_id);
    }
    shop.pay(overdue[1].into(), 1999).await;
    let (fresh, _) = shop.place("cus-2", &[("TEE-RED-M", 1)]).await;

    // Placed an hour ago and never decided (a crash between the steps).
    let stuck = OrderId::from_uuid(Uuid::now_v7());
    let eur = Currency::parse("EUR").unwrap();
    let placed = OrderEvent::OrderPlaced {
        order_id: stuck,
        customer_id: CustomerId::parse("cus-3").unwrap(),
        lines: vec![OrderLine { sku, quantity: Quantity::new(1).unwrap(), unit_price: Money::new(1999, eur) }],
        currency: eur,
        total: Money::new(1999, eur),
        placed_at: Utc::now() - Duration::hours(1),
    };
    let event = NewEvent::new(placed.event_type(), serde_json::to_value(&placed).unwrap());
    shop.state.store.append(&Order::stream_id(&stuck), ExpectedVersion::NoStream, vec![event]).await.unwrap();
    shop.fresh("/v1/orders").await;

    let pool = &shop.state.pool;
    let now = Utc::now();
    assert_eq!(orders_confirmed_unpaid_past(pool, now, 10).await.unwrap(), vec![overdue[0]]);
    assert_eq!(orders_confirmed_unpaid_past(pool, now + Duration::hours(1), 10).await.unwrap().len(), 2);
    let candidates = orders_confirmed_unpaid_past(pool, now + Duration::hours(1), 10).await.unwrap();
    assert!(!candidates.contains(&stuck), "a pending order is not expired");
    assert!(candidates.contains(&OrderId::from_uuid(fresh)), "a fresh confirmed order, an hour later");
}

//! Tests of the audit endpoints on a real PostgreSQL (a fresh database per test): events are written with the
//! command side (or appended directly), the router is driven in-process, and answers are checked against the
//! events the test wrote.
//!
//! - `log`: streams by version, the global log with its filters, and the live tail's resume.
//! - `history`: order history and point-in-time state (orders, inventory).
//! - `tamper`: verification and digests after SQL tampering behind the store's back.
//! - `export`: JSON lines and CloudEvents round trips.
//! - `schemas`: real answers held to the schemas the OpenAPI document gives them.

mod export;
mod history;
mod log;
mod schemas;
mod tamper;

use crate::test_support;
use crate::AppState;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tally_commands::{CommandContext, PlaceOrder, Placement};
use tally_domain::order::ItemLine;
use tally_domain::{Currency, CustomerId, LocationId, Money, OrderId, Quantity, Sku};
use tally_store::{LogFilter, RecordedEvent};
use tower::ServiceExt;
use uuid::Uuid;

/// A fresh database and the router over it (no projector: audit reads the event store only).
pub(super) struct Shop {
    pub state: AppState,
    pub app: Router,
}

pub(super) async fn shop() -> Shop {
    let state = test_support::state().await;
    let app = crate::test_support::router(&state).await;
    Shop { state, app }
}

/// An HTTP answer as a test looks at it.
pub(super) struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn ctx() -> CommandContext {
    CommandContext::new("auditor-test")
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::parse("EUR").unwrap())
}

fn sku(text: &str) -> Sku {
    Sku::parse(text).unwrap()
}

impl Shop {
    pub async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 26).await.unwrap().to_vec();
        Answer { status, content_type, body }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send("GET", uri, &[]).await
    }

    /// `GET uri`, asserting 200; the JSON body.
    pub async fn ok(&self, uri: &str) -> Value {
        let answer = self.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
        answer.json()
    }

    /// A product with stock at `main`.
    pub async fn stock(&self, code: &str, price: i64, units: u32) {
        let commands = &self.state.commands;
        commands.register_product(&ctx(), sku(code), format!("{code} item"), eur(price)).await.expect("register");
        let (main, quantity) = (LocationId::main(), Quantity::new(units).unwrap());
        commands.receive_stock(&ctx(), &sku(code), main, quantity, "PO-1".into(), None).await.expect("receive");
    }

    /// Places an order; its id.
    pub async fn place(&self, customer: &str, lines: &[(&str, u32)]) -> Uuid {
        let order_id = Uuid::now_v7();
        let request = PlaceOrder {
            order_id: Some(OrderId::from_uuid(order_id)),
            customer_id: CustomerId::parse(customer).unwrap(),
            lines: lines.iter().map(|(s, q)| ItemLine { sku: sku(s), quantity: Quantity::new(*q).unwrap() }).collect(),
        };
        let placement = self.state.commands.place_order(&ctx(), request).await.expect("place the order");
        assert!(matches!(placement, Placement::Confirmed(_)), "the order is confirmed");
        order_id
    }

    pub async fn pay(&self, order_id: Uuid, amount: i64) {
        let id = OrderId::from_uuid(order_id);
        self.state.commands.capture_payment(&ctx(), id, eur(amount), "psp".into(), None).await.expect("pay");
    }

    pub async fn ship(&self, order_id: Uuid) {
        let id = OrderId::from_uuid(order_id);
        self.state.commands.ship(&ctx(), id, vec![], "dhl".into(), "1Z".into(), None).await.expect("ship");
    }

    /// Every event in the store, in log order.
    pub async fn all_events(&self) -> Vec<RecordedEvent> {
        let (mut events, mut after) = (Vec::new(), 0);
        loop {
            let slice = self.state.store.read_all(after, 1000, &LogFilter::all()).await.unwrap();
            if slice.last_position == after {
                return events;
            }
            after = slice.last_position;
            events.extend(slice.events);
        }
    }

    /// A shop with two products and `orders` orders placed, paid and shipped.
    pub async fn busy(orders: usize) -> (Shop, Vec<Uuid>) {
        let shop = shop().await;
        shop.stock("TEE-RED-M", 1999, 500).await;
        shop.stock("CAP-BLUE", 1200, 500).await;
        let mut ids = Vec::new();
        for n in 0..orders {
            let id = shop.place(&format!("cus-{n}"), &[("TEE-RED-M", 2), ("CAP-BLUE", 1)]).await;
            shop.pay(id, 2 * 1999 + 1200).await;
            shop.ship(id).await;
            ids.push(id);
        }
        (shop, ids)
    }
}

//! Tests of the query endpoints on a real PostgreSQL (a fresh database per test): events are produced with the
//! command side, the projector runs in the background, and the router is driven in-process.
//!
//! - `catalog`: products and inventory (levels, low stock, the ledger).
//! - `orders`: one order, filters, and a pagination walk while orders keep arriving.
//! - `analytics`: sales by day, top products and lost demand.
//! - `order_counts`: orders per status and per hour of a day.
//! - `consistency`: read-your-writes, `/v1/projections`, the order workers' candidates, problems.

mod analytics;
mod catalog;
mod consistency;
mod order_counts;
mod orders;

use crate::test_support;
use crate::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tally_commands::{CommandContext, PlaceOrder, Placement};
use tally_domain::order::ItemLine;
use tally_domain::{Currency, CustomerId, LocationId, Money, OrderId, Quantity, Sku};
use tokio::sync::watch;
use tower::ServiceExt;
use uuid::Uuid;

/// A fresh database with the projector running, and the router over it.
pub(super) struct Shop {
    pub state: AppState,
    pub app: Router,
    _projector: watch::Sender<bool>,
}

pub(super) async fn shop() -> Shop {
    let state = test_support::state().await;
    let projector = test_support::start_projector(&state);
    let app = crate::test_support::router(&state).await;
    Shop { state, app, _projector: projector }
}

/// An HTTP response as a test looks at it.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

fn ctx() -> CommandContext {
    CommandContext::new("test")
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::parse("EUR").unwrap())
}

impl Shop {
    /// `GET uri` with extra headers.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap().to_vec();
        Answer { status, headers, body }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.get_with(uri, &[]).await
    }

    /// `GET uri` once the read models have applied everything appended so far; asserts 200 and returns the JSON.
    pub async fn fresh(&self, uri: &str) -> Value {
        let head = self.state.store.head_position().await.unwrap();
        let separator = if uri.contains('?') { '&' } else { '?' };
        let answer = self.get(&format!("{uri}{separator}min_position={head}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
        answer.json()
    }

    /// Registers a product priced in EUR; returns the position of its event.
    pub async fn register(&self, sku: &str, name: &str, price: i64) -> u64 {
        let outcome = self.state.commands.register_product(&ctx(), sku_of(sku), name.to_owned(), eur(price)).await;
        outcome.expect("register the product").position.expect("a position")
    }

    /// Receives stock at a location; returns the position of its event.
    pub async fn receive(&self, sku: &str, location: &str, quantity: u32) -> u64 {
        let location = LocationId::parse(location).unwrap();
        let quantity = Quantity::new(quantity).unwrap();
        let outcome =
            self.state.commands.receive_stock(&ctx(), &sku_of(sku), location, quantity, "PO-1".into(), None).await;
        outcome.expect("receive stock").position.expect("a position")
    }

    /// Places an order; returns its id and the position of its last event (confirmed or rejected).
    pub async fn place(&self, customer: &str, lines: &[(&str, u32)]) -> (Uuid, u64) {
        let order_id = Uuid::now_v7();
        let request = PlaceOrder {
            order_id: Some(OrderId::from_uuid(order_id)),
            customer_id: CustomerId::parse(customer).unwrap(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| ItemLine { sku: sku_of(sku), quantity: Quantity::new(*quantity).unwrap() })
                .collect(),
        };
        let placement = self.state.commands.place_order(&ctx(), request).await.expect("place the order");
        let position = match &placement {
            Placement::Confirmed(outcome) | Placement::Rejected { outcome, .. } => outcome.position,
        };
        (order_id, position.expect("a position"))
    }

    /// Pays an order in full (`amount` in EUR cents); returns the position.
    pub async fn pay(&self, order_id: Uuid, amount: i64) -> u64 {
        let (context, order_id) = (ctx(), OrderId::from_uuid(order_id));
        let outcome = self.state.commands.capture_payment(&context, order_id, eur(amount), "psp".into(), None);
        outcome.await.expect("capture the payment").position.expect("a position")
    }

    /// Ships everything still unshipped; returns the position.
    pub async fn ship(&self, order_id: Uuid) -> u64 {
        let (context, order_id) = (ctx(), OrderId::from_uuid(order_id));
        let outcome = self.state.commands.ship(&context, order_id, vec![], "dhl".into(), "1Z".into(), None);
        outcome.await.expect("ship").position.expect("a position")
    }

    /// Cancels an order; returns the position.
    pub async fn cancel(&self, order_id: Uuid) -> u64 {
        let (context, order_id) = (ctx(), OrderId::from_uuid(order_id));
        let outcome = self.state.commands.cancel(&context, order_id, "changed mind".into(), None);
        outcome.await.expect("cancel").position.expect("a position")
    }
}

fn sku_of(sku: &str) -> Sku {
    Sku::parse(sku).unwrap()
}

/// Parses a CSV document (RFC 4180: quoted fields, doubled quotes, CRLF) into records of fields.
pub(super) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

/// The CSV records as JSON-like maps from header to field.
pub(super) fn csv_rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut records = parse_csv(text).into_iter();
    let header = records.next().expect("a header row");
    records.map(|record| header.iter().cloned().zip(record).collect()).collect()
}

/// A JSON scalar as the text a CSV field holds (null: empty).
pub(super) fn as_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

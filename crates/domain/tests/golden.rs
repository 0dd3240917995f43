//! The stored event format, pinned: one event of every type, serialized as the store keeps it (`event_type`,
//! `schema_version`, `data`), compared with the checked-in `tests/golden/events.json`.
//!
//! Events are the stored contract: a change to their JSON breaks every stream already written. When a change is
//! deliberate (a new event type, a new field), rewrite the file and review its diff:
//!
//! ```sh
//! TALLY_BLESS=1 cargo test -p tally-domain --test golden
//! ```
//!
//! Renaming or removing a field, or changing its meaning, also needs a new `schema_version` and an upcaster.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;
use tally_domain::inventory::{AdjustmentReason, Allocation, ReleaseReason};
use tally_domain::order::{ItemLine, OrderLine, Shortage};
use tally_domain::{ApiKeyEvent, ApiKeyId, ProductEvent, Quantity, ReturnId, Role, ShipmentId, Sku};
use tally_domain::{Currency, CustomerId, Event, InventoryEvent, LocationId, Money, OrderEvent, OrderId};
use tally_domain::{WebhookEvent, WebhookId};
use uuid::Uuid;

/// Set to `1` to rewrite the golden file instead of comparing with it.
const BLESS_VAR: &str = "TALLY_BLESS";

fn sku() -> Sku {
    Sku::parse("TEE-RED-M").unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

fn qty(units: u32) -> Quantity {
    Quantity::new(units).unwrap()
}

fn order_id() -> OrderId {
    OrderId::parse("0193a4b2-7c1e-7d3a-9f00-1234567890ab").unwrap()
}

fn shipment_id() -> ShipmentId {
    ShipmentId::from_uuid(Uuid::from_u128(0x0193_a4b2_0000_7000_8000_0000_0000_0001))
}

fn item(units: u32) -> ItemLine {
    ItemLine { sku: sku(), quantity: qty(units) }
}

fn allocation(location: &str, units: u32) -> Allocation {
    Allocation { location: LocationId::parse(location).unwrap(), quantity: qty(units) }
}

fn product_events() -> Vec<ProductEvent> {
    vec![
        ProductEvent::ProductRegistered { sku: sku(), name: "Red tee, M".to_owned(), price: eur(1999) },
        ProductEvent::ProductRepriced { previous_price: eur(1999), price: eur(2499) },
        ProductEvent::ProductDiscontinued {},
    ]
}

fn inventory_events() -> Vec<InventoryEvent> {
    let expires_at = Utc.with_ymd_and_hms(2026, 11, 21, 12, 30, 0).unwrap();
    vec![
        InventoryEvent::StockReceived {
            location: LocationId::main(),
            quantity: qty(100),
            reference: "PO-1001".to_owned(),
        },
        InventoryEvent::StockAdjusted { location: LocationId::main(), delta: -3, reason: AdjustmentReason::Damaged },
        InventoryEvent::StockReserved {
            order_id: order_id(),
            allocations: vec![allocation("main", 2), allocation("shop", 1)],
            expires_at,
        },
        InventoryEvent::ReservationReleased {
            order_id: order_id(),
            reason: ReleaseReason::Expired,
            allocations: vec![allocation("main", 2)],
        },
        InventoryEvent::ReservationCommitted {
            order_id: order_id(),
            shipment_id: shipment_id(),
            allocations: vec![allocation("main", 2)],
        },
        InventoryEvent::StockRestocked {
            order_id: order_id(),
            return_id: ReturnId::parse("0193a4b2-7c1e-7d3a-9f00-0000000000cc").unwrap(),
            location: LocationId::main(),
            quantity: qty(1),
        },
    ]
}

fn order_events() -> Vec<OrderEvent> {
    let placed_at = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    vec![
        OrderEvent::OrderPlaced {
            order_id: order_id(),
            customer_id: CustomerId::parse("cus-42").unwrap(),
            lines: vec![OrderLine { sku: sku(), quantity: qty(2), unit_price: eur(1999) }],
            currency: Currency::parse("EUR").unwrap(),
            total: eur(3998),
            placed_at,
        },
        OrderEvent::OrderConfirmed { reserved_until: Utc.with_ymd_and_hms(2026, 11, 21, 12, 30, 0).unwrap() },
        OrderEvent::OrderRejected { shortages: vec![Shortage { sku: sku(), requested: qty(2), available: 1 }] },
        OrderEvent::PaymentCaptured {
            amount: eur(3998),
            reference: "psp_123".to_owned(),
            paid_total: eur(3998),
            fully_paid: true,
        },
        OrderEvent::ShipmentDispatched {
            shipment_id: shipment_id(),
            lines: vec![item(1)],
            carrier: "dhl".to_owned(),
            tracking_number: "1Z999AA10123456784".to_owned(),
            fully_shipped: false,
        },
        OrderEvent::OrderDelivered {},
        OrderEvent::OrderCancelled {
            reason: "customer request".to_owned(),
            unshipped_lines: vec![item(1)],
            refundable: eur(3998),
        },
        OrderEvent::OrderExpired { unshipped_lines: vec![item(2)], refundable: eur(0) },
        OrderEvent::ReturnReceived { lines: vec![item(1)], restock: true, location: LocationId::main() },
        OrderEvent::RefundIssued { amount: eur(1999), reason: "returned".to_owned(), refunded_total: eur(1999) },
    ]
}

fn api_key_events() -> Vec<ApiKeyEvent> {
    vec![
        ApiKeyEvent::ApiKeyIssued {
            key_id: ApiKeyId::parse("0193a4b2-7c1e-7d3a-9f00-0000000000ee").unwrap(),
            name: "web shop".to_owned(),
            role: Role::Storefront,
            hint: "x7Qa".to_owned(),
        },
        ApiKeyEvent::ApiKeyRevoked {},
    ]
}

/// Each event's position in the lists above. The matches have no wildcard, so a new event type fails to compile
/// here until it is added to the golden file.
fn index(event: &StoredKind) -> usize {
    match event {
        StoredKind::Product(e) => match e {
            ProductEvent::ProductRegistered { .. } => 0,
            ProductEvent::ProductRepriced { .. } => 1,
            ProductEvent::ProductDiscontinued {} => 2,
        },
        StoredKind::Inventory(e) => match e {
            InventoryEvent::StockReceived { .. } => 3,
            InventoryEvent::StockAdjusted { .. } => 4,
            InventoryEvent::StockReserved { .. } => 5,
            InventoryEvent::ReservationReleased { .. } => 6,
            InventoryEvent::ReservationCommitted { .. } => 7,
            InventoryEvent::StockRestocked { .. } => 8,
        },
        StoredKind::Order(e) => match e {
            OrderEvent::OrderPlaced { .. } => 9,
            OrderEvent::OrderConfirmed { .. } => 10,
            OrderEvent::OrderRejected { .. } => 11,
            OrderEvent::PaymentCaptured { .. } => 12,
            OrderEvent::ShipmentDispatched { .. } => 13,
            OrderEvent::OrderDelivered {} => 14,
            OrderEvent::OrderCancelled { .. } => 15,
            OrderEvent::OrderExpired { .. } => 16,
            OrderEvent::ReturnReceived { .. } => 17,
            OrderEvent::RefundIssued { .. } => 18,
        },
        StoredKind::ApiKey(e) => match e {
            ApiKeyEvent::ApiKeyIssued { .. } => 19,
            ApiKeyEvent::ApiKeyRevoked {} => 20,
        },
        StoredKind::Webhook(e) => match e {
            WebhookEvent::WebhookSubscribed { .. } => 21,
            WebhookEvent::WebhookSecretRotated {} => 22,
            WebhookEvent::WebhookPaused { .. } => 23,
            WebhookEvent::WebhookResumed {} => 24,
            WebhookEvent::WebhookReplayRequested { .. } => 25,
            WebhookEvent::WebhookDeleted {} => 26,
        },
    }
}

fn webhook_events() -> Vec<WebhookEvent> {
    vec![
        WebhookEvent::WebhookSubscribed {
            webhook_id: WebhookId::parse("0193a4b2-0000-7000-8000-0000000000bb").unwrap(),
            url: "https://hooks.example.com/tally".to_owned(),
            event_types: vec!["OrderPlaced".to_owned(), "OrderCancelled".to_owned()],
            stream_prefix: Some("order-".to_owned()),
        },
        WebhookEvent::WebhookSecretRotated {},
        WebhookEvent::WebhookPaused { reason: "failing for 24 hours; last error: 503 Service Unavailable".to_owned() },
        WebhookEvent::WebhookResumed {},
        WebhookEvent::WebhookReplayRequested { after: 41 },
        WebhookEvent::WebhookDeleted {},
    ]
}

enum StoredKind {
    Product(ProductEvent),
    Inventory(InventoryEvent),
    Order(OrderEvent),
    ApiKey(ApiKeyEvent),
    Webhook(WebhookEvent),
}

/// An event as the store keeps it.
fn stored<E: Event>(event: &E) -> Value {
    json!({
        "event_type": event.event_type(),
        "schema_version": event.schema_version(),
        "data": serde_json::to_value(event).unwrap(),
    })
}

fn every_event() -> Vec<StoredKind> {
    let products = product_events().into_iter().map(StoredKind::Product);
    let inventory = inventory_events().into_iter().map(StoredKind::Inventory);
    let orders = order_events().into_iter().map(StoredKind::Order);
    let keys = api_key_events().into_iter().map(StoredKind::ApiKey);
    let webhooks = webhook_events().into_iter().map(StoredKind::Webhook);
    products.chain(inventory).chain(orders).chain(keys).chain(webhooks).collect()
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/events.json")
}

#[test]
fn the_golden_file_holds_one_event_of_every_type_in_order() {
    let indexes: Vec<usize> = every_event().iter().map(index).collect();
    assert_eq!(indexes, (0..27).collect::<Vec<_>>());
}

#[test]
fn the_stored_event_format_matches_the_golden_file() {
    let events: Vec<Value> = every_event()
        .iter()
        .map(|kind| match kind {
            StoredKind::Product(e) => stored(e),
            StoredKind::Inventory(e) => stored(e),
            StoredKind::Order(e) => stored(e),
            StoredKind::ApiKey(e) => stored(e),
            StoredKind::Webhook(e) => stored(e),
        })
        .collect();
    let actual = serde_json::to_string_pretty(&events).unwrap() + "\n";
    let path = golden_path();
    if std::env::var(BLESS_VAR).as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; write it with {BLESS_VAR}=1", path.display()));
    assert!(
        actual == expected,
        "the stored event format changed. If that is deliberate, rerun with {BLESS_VAR}=1 and review the diff of \
         {}.\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn every_golden_event_reads_back_as_the_same_event() {
    let text = std::fs::read_to_string(golden_path()).unwrap();
    let stored: Vec<Value> = serde_json::from_str(&text).unwrap();
    let events = every_event();
    assert_eq!(stored.len(), events.len());
    for (record, event) in stored.iter().zip(&events) {
        let data = record["data"].clone();
        assert_eq!(record["schema_version"], 1);
        assert_eq!(record["event_type"], data["type"], "the serde tag is the event type");
        match event {
            StoredKind::Product(e) => assert_eq!(&serde_json::from_value::<ProductEvent>(data).unwrap(), e),
            StoredKind::Inventory(e) => assert_eq!(&serde_json::from_value::<InventoryEvent>(data).unwrap(), e),
            StoredKind::Order(e) => assert_eq!(&serde_json::from_value::<OrderEvent>(data).unwrap(), e),
            StoredKind::ApiKey(e) => assert_eq!(&serde_json::from_value::<ApiKeyEvent>(data).unwrap(), e),
            StoredKind::Webhook(e) => assert_eq!(&serde_json::from_value::<WebhookEvent>(data).unwrap(), e),
        }
    }
}

#[test]
fn events_tolerate_fields_added_later() {
    let data = json!({"type": "OrderDelivered", "delivered_by": "dhl"});
    assert_eq!(serde_json::from_value::<OrderEvent>(data).unwrap(), OrderEvent::OrderDelivered {});
}

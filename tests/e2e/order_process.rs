//! The order process of a running `tally serve` repairs, within seconds and without a restart, what a request
//! that died between two steps of an order leaves in the log: a placement never decided, a cancellation whose
//! release never ran, a shipment whose commit never ran, a reservation made after its order was rejected. The test writes exactly the events such a request had
//! written when it died (decided by the domain, appended to the real store behind the server's back), then
//! watches the stock through the server.

use crate::harness::{get_json, get_text, poll_until, post_expect, TallyProcess};
use serde_json::{json, Value};
use std::time::Duration;
use tally_domain::order::{ItemLine, OrderCommand, OrderLine, Shortage};
use tally_domain::{Aggregate, Currency, CustomerId, Event, Money, Order, OrderId, Quantity, ShipmentId, Sku};
use tally_domain::{Inventory, InventoryCommand};
use tally_store::{EventStore, ExpectedVersion, NewEvent, PgEventStore, PgStoreOptions, ReadStream};

/// Within this the order process has taken its lease, waited out the 2 s grace of a pending order, and acted.
const REPAIR_TIMEOUT: Duration = Duration::from_secs(20);

/// Decides `command` on the order's stream as it stands and appends the events, as a request would before dying.
async fn append_as_a_dying_request(store: &PgEventStore, order_id: OrderId, command: OrderCommand) {
    append_decided::<Order>(store, &Order::stream_id(&order_id), command).await;
}

/// Decides `command` on the stream `stream_id` of an `A` as it stands and appends the events.
async fn append_decided<A: Aggregate>(store: &PgEventStore, stream_id: &str, command: A::Command) {
    let history = store.read_stream(stream_id, ReadStream::forwards(0, 1000)).await.expect("read the stream");
    let mut state = A::State::default();
    for recorded in &history {
        state = A::evolve(state, &serde_json::from_value(recorded.data.clone()).expect("an event of the stream"));
    }
    let events = A::decide(&state, command).unwrap_or_else(|_| panic!("the domain accepts the command"));
    let new_events: Vec<NewEvent> = events
        .iter()
        .map(|event| NewEvent::new(event.event_type(), serde_json::to_value(event).expect("encode")))
        .collect();
    let expected = history.last().map_or(ExpectedVersion::NoStream, |last| ExpectedVersion::Exact(last.stream_version));
    store.append(stream_id, expected, new_events).await.expect("append");
}

/// The SKU's stock in the read model (`Err` until the read model has it).
async fn stock(base: &str, sku: &str) -> Result<Value, String> {
    let (status, body) = get_json(&format!("{base}/v1/inventory/{sku}")).await;
    if status == 200 {
        Ok(body)
    } else {
        Err(format!("{status} {body}"))
    }
}

/// Waits until the inventory read model shows `(on_hand, reserved)` for `sku`.
async fn wait_for_stock(base: &str, sku: &str, expected: (u64, u64), what: &str) {
    poll_until(what, REPAIR_TIMEOUT, || async {
        let body = stock(base, sku).await?;
        let seen = (body["on_hand"].as_u64().unwrap_or(0), body["reserved"].as_u64().unwrap_or(0));
        if seen == expected {
            Ok(())
        } else {
            Err(format!("(on_hand, reserved) = {seen:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_running_server_repairs_every_order_step_a_dying_request_left_undone() {
    let db = tally_testkit::fresh_database().await;
    let (server, base) = TallyProcess::serve_on(&db.url);
    let store = PgEventStore::connect(&db.url, PgStoreOptions::default()).await.expect("the test's own store");
    for sku in ["REPAIR-A", "REPAIR-B"] {
        let product = json!({ "sku": sku, "name": sku, "price": { "amount": 500, "currency": "EUR" } });
        post_expect(&format!("{base}/v1/products"), &product, 201).await;
        post_expect(&format!("{base}/v1/inventory/{sku}/receipts"), &json!({ "quantity": 10 }), 201).await;
    }
    let eur = Currency::parse("EUR").unwrap();
    let line = |sku: &str, units: u32| OrderLine {
        sku: Sku::parse(sku).unwrap(),
        quantity: Quantity::new(units).unwrap(),
        unit_price: Money::new(500, eur),
    };

    // 1. A placement that died after `OrderPlaced`: finished (reserved and confirmed) by the order process.
    let pending = OrderId::from_uuid(uuid::Uuid::now_v7());
    let place = OrderCommand::PlaceOrder {
        order_id: pending,
        customer_id: CustomerId::parse("cus-1").unwrap(),
        lines: vec![line("REPAIR-A", 2), line("REPAIR-B", 3)],
        placed_at: chrono::Utc::now(),
    };
    append_as_a_dying_request(&store, pending, place).await;
    wait_for_stock(&base, "REPAIR-B", (10, 3), "the pending order to be finished").await;
    wait_for_stock(&base, "REPAIR-A", (10, 2), "the pending order to hold REPAIR-A").await;
    let (_, order) = get_json(&format!("{base}/v1/orders/{pending}")).await;
    assert_eq!(order["status"], "confirmed", "{order}");

    // 2. A cancellation that died before its release: the order process releases the holds.
    append_as_a_dying_request(&store, pending, OrderCommand::CancelOrder { reason: "gone".into() }).await;
    wait_for_stock(&base, "REPAIR-A", (10, 0), "the cancelled order's holds to be released").await;
    wait_for_stock(&base, "REPAIR-B", (10, 0), "the cancelled order's REPAIR-B hold to be released").await;

    // 3. A shipment that died before its commit: the order process commits the shipped units, once.
    let body = json!({ "customer_id": "cus-2", "lines": [{ "sku": "REPAIR-A", "quantity": 4 }] });
    let placed = post_expect(&format!("{base}/v1/orders"), &body, 201).await;
    let shipped: OrderId = placed.body["order_id"].as_str().unwrap().parse().unwrap();
    let payment = json!({ "amount": 2000, "currency": "EUR" });
    post_expect(&format!("{base}/v1/orders/{shipped}/payments"), &payment, 201).await;
    let ship = OrderCommand::DispatchShipment {
        shipment_id: ShipmentId::from_uuid(uuid::Uuid::now_v7()),
        lines: vec![ItemLine { sku: Sku::parse("REPAIR-A").unwrap(), quantity: Quantity::new(4).unwrap() }],
        carrier: "dhl".into(),
        tracking_number: "1Z".into(),
    };
    append_as_a_dying_request(&store, shipped, ship).await;
    wait_for_stock(&base, "REPAIR-A", (6, 0), "the shipment to be committed").await;
    // Later events make the projector and the process run again: the commit is not repeated.
    post_expect(&format!("{base}/v1/inventory/REPAIR-B/receipts"), &json!({ "quantity": 1 }), 201).await;
    wait_for_stock(&base, "REPAIR-B", (11, 0), "the next receipt").await;
    assert_eq!(stock(&base, "REPAIR-A").await.unwrap()["on_hand"], 6, "committed once");

    // 4. A runner that read an order as pending and reserved after another runner rejected it: the late hold is
    //    released.
    let late = OrderId::from_uuid(uuid::Uuid::now_v7());
    let place = OrderCommand::PlaceOrder {
        order_id: late,
        customer_id: CustomerId::parse("cus-3").unwrap(),
        lines: vec![line("REPAIR-B", 5)],
        placed_at: chrono::Utc::now(),
    };
    append_as_a_dying_request(&store, late, place).await;
    let shortage =
        Shortage { sku: Sku::parse("REPAIR-B").unwrap(), requested: Quantity::new(5).unwrap(), available: 0 };
    append_as_a_dying_request(&store, late, OrderCommand::RejectOrder { shortages: vec![shortage] }).await;
    let reserve = InventoryCommand::ReserveStock {
        order_id: late,
        quantity: Quantity::new(5).unwrap(),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(30),
    };
    append_decided::<Inventory>(&store, "inventory-REPAIR-B", reserve).await;
    wait_for_stock(&base, "REPAIR-B", (11, 0), "the late hold of a rejected order to be released").await;

    // Operators see the order process beside the projections.
    let (status, projections) = get_json(&format!("{base}/v1/projections")).await;
    assert_eq!(status, 200, "{projections}");
    let process = projections["followers"]
        .as_array()
        .and_then(|followers| followers.iter().find(|f| f["name"] == "order-process"));
    let process = process.unwrap_or_else(|| panic!("the order process in /v1/projections: {projections}"));
    assert_eq!((process["state"].as_str(), process["failure"].is_null()), (Some("running"), true), "{process}");
    let metrics = get_text(&format!("{base}/metrics")).await;
    assert!(metrics.contains("tally_follower_running{follower=\"order-process\"} 1"), "{metrics}");

    store.close().await;
    assert!(server.terminate().success());
}

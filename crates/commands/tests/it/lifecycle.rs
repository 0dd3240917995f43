//! The order lifecycle after placement on the in-memory store, and the repeat-safety of its inventory effects:
//! ship -> commit, cancel -> release, return -> restock, each applied once however often it is repeated, also
//! when the order event was recorded and the process crashed before the effect (simulated by appending the
//! order event straight to the store).

use crate::common::*;
use tally_commands::CommandError;
use tally_domain::order::{OrderStatus, PlacedOrder};
use tally_domain::{Aggregate, DomainError, Order, OrderCommand, OrderError, OrderId, ShipmentId};
use tally_store::ExpectedVersion;
use uuid::Uuid;

/// Places and fully pays an order of `lines`; returns its id.
async fn paid_order(h: &Harness, lines: Vec<tally_domain::order::ItemLine>) -> OrderId {
    let placement = h.commands.place_order(&context(), order_of(lines)).await.unwrap();
    let order = placement.outcome().state.placed().unwrap().clone();
    let paid = h.commands.capture_payment(&context(), order.order_id(), order.total(), "psp_1".into(), None).await;
    assert_eq!(paid.unwrap().state.status(), Some(OrderStatus::Paid));
    order.order_id()
}

/// `(on_hand, reserved)` of a SKU.
async fn stock(h: &Harness, name: &str) -> (u64, u64) {
    let snapshot = h.commands.inventory(&sku(name)).await.unwrap();
    (snapshot.state.on_hand(), snapshot.state.reserved())
}

async fn inventory_version(h: &Harness, name: &str) -> Option<u64> {
    h.commands.inventory(&sku(name)).await.unwrap().version
}

/// Decides `command` on the order as stored and appends its events straight to the store, as a process that
/// crashed right after its first step would have left them.
async fn record_without_effects(h: &Harness, order_id: OrderId, command: OrderCommand) {
    let snapshot = h.commands.order(order_id).await.unwrap();
    let events = Order::decide(&snapshot.state, command).unwrap();
    let expected = ExpectedVersion::Exact(snapshot.version.unwrap());
    h.raw.append(&Order::stream_id(&order_id), expected, events.iter().map(stored).collect()).await.unwrap();
}

fn placed(h: &tally_commands::OrderOutcome) -> &PlacedOrder {
    h.state.placed().unwrap()
}

#[tokio::test]
async fn an_order_goes_from_placement_through_shipping_to_return_and_refund() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    stocked(&h.commands, "CAP", 500, &[("main", 5)]).await;
    let ctx = context();
    let placement = h.commands.place_order(&ctx, order_of(vec![item("TEE", 2), item("CAP", 1)])).await.unwrap();
    let order_id = placement.outcome().state.placed().unwrap().order_id();

    let unpaid_ship = h.commands.ship(&ctx, order_id, vec![], "dhl".into(), "1Z".into(), None).await.unwrap_err();
    assert!(matches!(unpaid_ship, CommandError::Domain(DomainError::Order(OrderError::InvalidTransition { .. }))));

    let partial = h.commands.capture_payment(&ctx, order_id, eur(1000), "psp_1".into(), None).await.unwrap();
    assert_eq!(placed(&partial).status(), OrderStatus::Confirmed);
    let stale = h.commands.capture_payment(&ctx, order_id, eur(3498), "psp_2".into(), Some(1)).await.unwrap_err();
    assert!(matches!(stale, CommandError::VersionMismatch { expected: 1, actual: Some(2), .. }));
    let paid = h.commands.capture_payment(&ctx, order_id, eur(3498), "psp_2".into(), Some(2)).await.unwrap();
    assert_eq!(placed(&paid).status(), OrderStatus::Paid);

    let first = h.commands.ship(&ctx, order_id, vec![item("TEE", 1)], "dhl".into(), "1Z1".into(), None).await.unwrap();
    assert_eq!(placed(&first).status(), OrderStatus::PartiallyShipped);
    assert_eq!(stock(&h, "TEE").await, (9, 1));
    let rest = h.commands.ship(&ctx, order_id, vec![], "dhl".into(), "1Z2".into(), None).await.unwrap();
    assert_eq!(placed(&rest).status(), OrderStatus::Shipped);
    assert_eq!((stock(&h, "TEE").await, stock(&h, "CAP").await), ((8, 0), (4, 0)));

    let delivered = h.commands.deliver(&ctx, order_id, None).await.unwrap();
    assert_eq!(placed(&delivered).status(), OrderStatus::Delivered);
    h.commands.receive_return(&ctx, order_id, vec![item("TEE", 1)], true, loc("returns"), None).await.unwrap();
    let returns = h.commands.inventory(&sku("TEE")).await.unwrap();
    assert_eq!(returns.state.location(&loc("returns")).map(|s| s.on_hand()), Some(1));
    h.commands.receive_return(&ctx, order_id, vec![item("CAP", 1)], false, loc("main"), None).await.unwrap();
    assert_eq!(stock(&h, "CAP").await, (4, 0), "a return without restock leaves the shelf alone");

    let refunded = h.commands.refund(&ctx, order_id, eur(1999), "returned".into(), None).await.unwrap();
    assert_eq!(placed(&refunded).refunded(), eur(1999));
    let over = h.commands.refund(&ctx, order_id, eur(5000), "more".into(), None).await.unwrap_err();
    assert!(matches!(over, CommandError::Domain(DomainError::Order(OrderError::OverRefund { .. }))));
}

#[tokio::test]
async fn commands_on_an_unknown_order_are_not_found() {
    let h = memory(config());
    let order_id = OrderId::from_uuid(Uuid::now_v7());
    let error = h.commands.deliver(&context(), order_id, None).await.unwrap_err();
    assert!(matches!(error, CommandError::NotFound { .. }));
    assert!(matches!(h.commands.settle_order(&context(), order_id).await, Err(CommandError::NotFound { .. })));
}

#[tokio::test]
async fn a_shipment_is_committed_once_however_often_it_is_repeated() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    let order_id = paid_order(&h, vec![item("TEE", 3)]).await;
    h.commands.ship(&context(), order_id, vec![item("TEE", 1)], "dhl".into(), "1Z".into(), None).await.unwrap();
    assert_eq!(stock(&h, "TEE").await, (9, 2));
    let version = inventory_version(&h, "TEE").await;
    for _ in 0..2 {
        h.commands.settle_order(&context(), order_id).await.unwrap();
    }
    assert_eq!((stock(&h, "TEE").await, inventory_version(&h, "TEE").await), ((9, 2), version));

    // A crash between the order event and the commit: settling finishes it, once.
    let shipment_id = ShipmentId::from_uuid(Uuid::now_v7());
    let dispatch = OrderCommand::DispatchShipment {
        shipment_id,
        lines: vec![item("TEE", 2)],
        carrier: "dhl".into(),
        tracking_number: "1Z9".into(),
    };
    record_without_effects(&h, order_id, dispatch).await;
    assert_eq!(stock(&h, "TEE").await, (9, 2));
    h.commands.settle_order(&context(), order_id).await.unwrap();
    h.commands.settle_order(&context(), order_id).await.unwrap();
    assert_eq!(stock(&h, "TEE").await, (7, 0));
    assert!(h.commands.inventory(&sku("TEE")).await.unwrap().state.has_committed(&shipment_id));
}

#[tokio::test]
async fn a_cancellation_releases_what_is_still_held_once() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    stocked(&h.commands, "CAP", 500, &[("main", 5)]).await;
    let order_id = paid_order(&h, vec![item("TEE", 3), item("CAP", 2)]).await;
    h.commands.ship(&context(), order_id, vec![item("TEE", 1)], "dhl".into(), "1Z".into(), None).await.unwrap();

    let cancelled = h.commands.cancel(&context(), order_id, "customer request".into(), None).await.unwrap();
    assert_eq!(placed(&cancelled).status(), OrderStatus::Cancelled);
    assert_eq!((stock(&h, "TEE").await, stock(&h, "CAP").await), ((9, 0), (5, 0)));
    let versions = (inventory_version(&h, "TEE").await, inventory_version(&h, "CAP").await);
    h.commands.settle_order(&context(), order_id).await.unwrap();
    assert_eq!((inventory_version(&h, "TEE").await, inventory_version(&h, "CAP").await), versions);

    let again = h.commands.cancel(&context(), order_id, "again".into(), None).await.unwrap_err();
    assert!(matches!(again, CommandError::Domain(DomainError::Order(OrderError::InvalidTransition { .. }))));
}

#[tokio::test]
async fn a_cancellation_recorded_before_a_crash_is_released_by_settling() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    let placement = h.commands.place_order(&context(), order_of(vec![item("TEE", 4)])).await.unwrap();
    let order_id = placement.outcome().state.placed().unwrap().order_id();
    record_without_effects(&h, order_id, OrderCommand::CancelOrder { reason: "crash".into() }).await;
    assert_eq!(stock(&h, "TEE").await, (10, 4));
    h.commands.settle_order(&context(), order_id).await.unwrap();
    h.commands.settle_order(&context(), order_id).await.unwrap();
    assert_eq!(stock(&h, "TEE").await, (10, 0));
}

#[tokio::test]
async fn a_restocked_return_is_put_back_once_however_often_it_is_repeated() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    let order_id = paid_order(&h, vec![item("TEE", 3)]).await;
    h.commands.ship(&context(), order_id, vec![], "dhl".into(), "1Z".into(), None).await.unwrap();
    assert_eq!(stock(&h, "TEE").await, (7, 0));

    h.commands.receive_return(&context(), order_id, vec![item("TEE", 1)], true, loc("main"), None).await.unwrap();
    assert_eq!(stock(&h, "TEE").await, (8, 0));
    h.commands.settle_order(&context(), order_id).await.unwrap();
    h.commands.settle_order(&context(), order_id).await.unwrap();
    assert_eq!(stock(&h, "TEE").await, (8, 0));

    // A second return recorded before a crash: restocked by settling, once.
    let command = OrderCommand::ReceiveReturn { lines: vec![item("TEE", 2)], restock: true, location: loc("main") };
    record_without_effects(&h, order_id, command).await;
    h.commands.settle_order(&context(), order_id).await.unwrap();
    h.commands.settle_order(&context(), order_id).await.unwrap();
    assert_eq!(stock(&h, "TEE").await, (10, 0));
}

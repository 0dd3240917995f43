//! The reservation process on the in-memory store: confirm, reject with shortages (releasing what was held),
//! catalog refusals, a repeated order id, resuming an order a crash left pending, and expiry.

use crate::common::*;
use tally_commands::{CommandError, PlaceOrder, Placement};
use tally_domain::inventory::ReleaseReason;
use tally_domain::order::{OrderStatus, Shortage};
use tally_domain::{Aggregate, CatalogError, DomainError, Inventory, InventoryCommand, InventoryEvent, Order};
use tally_domain::{OrderCommand, OrderError, OrderId};
use uuid::Uuid;

fn new_order_id() -> OrderId {
    OrderId::from_uuid(Uuid::now_v7())
}

#[tokio::test]
async fn an_order_with_stock_is_priced_from_the_catalog_reserved_and_confirmed() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 10)]).await;
    stocked(&h.commands, "CAP", 500, &[("main", 3)]).await;
    let placement = h.commands.place_order(&context(), order_of(vec![item("TEE", 2), item("CAP", 3)])).await.unwrap();
    let Placement::Confirmed(outcome) = placement else { panic!("expected a confirmation, got {placement:?}") };
    let order = outcome.state.placed().unwrap();
    assert_eq!(order.status(), OrderStatus::Confirmed);
    assert_eq!(order.total(), eur(2 * 1999 + 3 * 500));
    assert_eq!(order.lines()[0].unit_price, eur(1999));
    let ttl = chrono::Duration::from_std(h.commands.config().reservation_ttl).unwrap();
    assert_eq!(order.reserved_until(), Some(h.clock.now_for_test() + ttl));
    assert_eq!(outcome.version, Some(1));
    assert!(outcome.position.is_some());

    let tee = h.commands.inventory(&sku("TEE")).await.unwrap();
    assert_eq!((tee.state.reserved(), tee.state.available()), (2, 8));
    let reservation = tee.state.reservation(&order.order_id()).unwrap();
    assert_eq!(Some(reservation.expires_at()), order.reserved_until());
    assert_eq!(h.commands.inventory(&sku("CAP")).await.unwrap().state.available(), 0);
}

#[tokio::test]
async fn an_order_short_of_stock_is_rejected_and_releases_what_it_held() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    stocked(&h.commands, "CAP", 500, &[("main", 1)]).await;
    let placement = h.commands.place_order(&context(), order_of(vec![item("TEE", 2), item("CAP", 3)])).await.unwrap();
    let Placement::Rejected { order_id, shortages, outcome } = placement else { panic!("expected a rejection") };
    assert_eq!(shortages, vec![Shortage { sku: sku("CAP"), requested: qty(3), available: 1 }]);
    assert_eq!(outcome.state.status(), Some(OrderStatus::Rejected));
    assert_eq!(outcome.state.placed().unwrap().order_id(), order_id);

    let tee = h.commands.inventory(&sku("TEE")).await.unwrap();
    assert_eq!((tee.state.reserved(), tee.state.available()), (0, 5));
    let events = history(h.raw.as_ref(), &Inventory::stream_id(&sku("TEE"))).await;
    let last: InventoryEvent = serde_json::from_value(events.last().unwrap().data.clone()).unwrap();
    assert!(matches!(last, InventoryEvent::ReservationReleased { reason: ReleaseReason::Rejected, .. }));
}

#[tokio::test]
async fn unknown_and_discontinued_products_are_refused_before_anything_is_recorded() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    let order_id = new_order_id();
    let request = PlaceOrder { order_id: Some(order_id), customer_id: customer(), lines: vec![item("NOPE", 1)] };
    let error = h.commands.place_order(&context(), request).await.unwrap_err();
    assert!(matches!(error, CommandError::Domain(DomainError::Catalog(CatalogError::UnknownProduct { .. }))));

    h.commands.discontinue_product(&context(), &sku("TEE"), None).await.unwrap();
    let request = PlaceOrder { order_id: Some(order_id), customer_id: customer(), lines: vec![item("TEE", 1)] };
    let error = h.commands.place_order(&context(), request).await.unwrap_err();
    assert!(matches!(error, CommandError::Domain(DomainError::Catalog(CatalogError::Discontinued { .. }))));
    assert!(history(h.raw.as_ref(), &Order::stream_id(&order_id)).await.is_empty());
}

#[tokio::test]
async fn the_same_order_id_again_is_a_retry_if_it_is_the_same_order() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    let order_id = new_order_id();
    let request = PlaceOrder { order_id: Some(order_id), customer_id: customer(), lines: vec![item("TEE", 2)] };
    let first = h.commands.place_order(&context(), request.clone()).await.unwrap();
    let appends = h.counting.appends();

    let again = h.commands.place_order(&context(), request.clone()).await.unwrap();
    let Placement::Confirmed(outcome) = again else { panic!("expected the confirmation again") };
    assert_eq!(outcome.version, first.outcome().version);
    assert_eq!(h.counting.appends(), appends, "a retry appends nothing");
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().state.reserved(), 2);

    let other = PlaceOrder { lines: vec![item("TEE", 1)], ..request };
    let error = h.commands.place_order(&context(), other).await.unwrap_err();
    assert!(matches!(error, CommandError::Domain(DomainError::Order(OrderError::AlreadyPlaced { .. }))));

    // A rejected order repeats its rejection, shortages included.
    let rejected_id = new_order_id();
    let big = PlaceOrder { order_id: Some(rejected_id), customer_id: customer(), lines: vec![item("TEE", 9)] };
    h.commands.place_order(&context(), big.clone()).await.unwrap();
    let Placement::Rejected { shortages, .. } = h.commands.place_order(&context(), big).await.unwrap() else {
        panic!("expected the rejection again")
    };
    assert_eq!(shortages, vec![Shortage { sku: sku("TEE"), requested: qty(9), available: 3 }]);
}

/// Writes what a crashed placement leaves: `OrderPlaced` and a reservation of its first line only.
async fn crashed_placement(h: &Harness, order_id: OrderId) {
    let lines = h.commands.price_lines(&[item("TEE", 2), item("CAP", 1)]).await.unwrap();
    let command =
        OrderCommand::PlaceOrder { order_id, customer_id: customer(), lines, placed_at: h.clock.now_for_test() };
    let placed = Order::decide(&Order::default(), command).unwrap();
    let stream = Order::stream_id(&order_id);
    h.raw.append(&stream, tally_store::ExpectedVersion::NoStream, placed.iter().map(stored).collect()).await.unwrap();

    let tee = h.commands.inventory(&sku("TEE")).await.unwrap();
    let expires_at = h.clock.now_for_test();
    let reserve = InventoryCommand::ReserveStock { order_id, quantity: qty(2), expires_at };
    let reserved = Inventory::decide(&tee.state, reserve).unwrap();
    let expected = tally_store::ExpectedVersion::Exact(tee.version.unwrap());
    h.raw.append(&Inventory::stream_id(&sku("TEE")), expected, reserved.iter().map(stored).collect()).await.unwrap();
}

#[tokio::test]
async fn a_pending_order_left_by_a_crash_is_finished_by_resuming_it() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    stocked(&h.commands, "CAP", 500, &[("main", 5)]).await;
    let order_id = new_order_id();
    crashed_placement(&h, order_id).await;

    let retry =
        PlaceOrder { order_id: Some(order_id), customer_id: customer(), lines: vec![item("TEE", 2), item("CAP", 1)] };
    let error = h.commands.place_order(&context(), retry).await.unwrap_err();
    assert!(matches!(error, CommandError::OrderPending { order_id: id } if id == order_id));

    let placement = h.commands.resume_pending_order(&context(), order_id).await.unwrap();
    assert_eq!(placement.outcome().state.status(), Some(OrderStatus::Confirmed));
    // The reservation made before the crash is not held twice.
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().state.reserved(), 2);
    assert_eq!(h.commands.inventory(&sku("CAP")).await.unwrap().state.reserved(), 1);

    // Resuming again changes nothing.
    let again = h.commands.resume_pending_order(&context(), order_id).await.unwrap();
    assert_eq!(again.outcome().version, placement.outcome().version);
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().state.reserved(), 2);
}

#[tokio::test]
async fn a_pending_order_that_cannot_be_filled_is_rejected_when_resumed() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    stocked(&h.commands, "CAP", 500, &[]).await;
    let order_id = new_order_id();
    crashed_placement(&h, order_id).await;
    let placement = h.commands.resume_pending_order(&context(), order_id).await.unwrap();
    assert!(matches!(placement, Placement::Rejected { ref shortages, .. } if shortages.len() == 1));
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().state.reserved(), 0);
}

#[tokio::test]
async fn a_confirmed_order_expires_after_its_reservation_and_releases_its_stock_once() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    let placement = h.commands.place_order(&context(), order_of(vec![item("TEE", 2)])).await.unwrap();
    let order_id = placement.outcome().state.placed().unwrap().order_id();

    let early = h.commands.expire_order(&context(), order_id).await.unwrap_err();
    assert!(matches!(early, CommandError::Domain(DomainError::Order(OrderError::NotYetExpired { .. }))));

    h.clock.advance(chrono::Duration::minutes(31));
    let expired = h.commands.expire_order(&context(), order_id).await.unwrap();
    assert_eq!(expired.state.status(), Some(OrderStatus::Expired));
    let stock = h.commands.inventory(&sku("TEE")).await.unwrap();
    assert_eq!((stock.state.reserved(), stock.state.available()), (0, 5));

    let version = stock.version;
    h.commands.expire_order(&context(), order_id).await.unwrap();
    assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().version, version, "no second release");
}

#[tokio::test]
async fn an_order_cancelled_while_it_is_being_placed_ends_cancelled_and_holds_nothing() {
    let h = memory(config());
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    let order_id = new_order_id();
    // A cancellation lands between the reservations and the confirmation.
    let cancelled = tally_domain::OrderEvent::OrderCancelled {
        reason: "customer request".into(),
        unshipped_lines: vec![item("TEE", 2)],
        refundable: eur(0),
    };
    h.counting.interject(&Order::stream_id(&order_id), 1, stored(&cancelled));
    let request = PlaceOrder { order_id: Some(order_id), customer_id: customer(), lines: vec![item("TEE", 2)] };
    let placement = h.commands.place_order(&context(), request).await.unwrap();
    assert_eq!(placement.outcome().state.status(), Some(OrderStatus::Cancelled));
    let stock = h.commands.inventory(&sku("TEE")).await.unwrap();
    assert_eq!((stock.state.reserved(), stock.state.available()), (0, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_whose_caller_stops_waiting_still_finishes() {
    let h = harness_with_delay(
        std::sync::Arc::new(tally_store::MemoryEventStore::new()),
        config(),
        std::time::Duration::from_millis(20),
    );
    stocked(&h.commands, "TEE", 1999, &[("main", 5)]).await;
    let order_id = new_order_id();
    let request = PlaceOrder { order_id: Some(order_id), customer_id: customer(), lines: vec![item("TEE", 2)] };
    let gave_up =
        tokio::time::timeout(std::time::Duration::from_millis(5), h.commands.place_order(&context(), request)).await;
    assert!(gave_up.is_err(), "the caller stopped waiting before the process ended");
    for _ in 0..100 {
        if h.commands.order(order_id).await.unwrap().state.status() == Some(OrderStatus::Confirmed) {
            assert_eq!(h.commands.inventory(&sku("TEE")).await.unwrap().state.reserved(), 2);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the order was left {:?}", h.commands.order(order_id).await.unwrap().state.status());
}

/// The unit price of the single line of a confirmed order.
async fn priced_at(commands: &tally_commands::Commands) -> tally_domain::Money {
    let placement = commands.place_order(&context(), order_of(vec![item("TEE", 1)])).await.unwrap();
    let Placement::Confirmed(outcome) = placement else { panic!("expected a confirmation, got {placement:?}") };
    outcome.state.placed().unwrap().lines()[0].unit_price
}

#[tokio::test]
async fn prices_follow_this_process_at_once_and_another_within_the_catalog_max_age() {
    use std::time::Duration;
    let max_age = Duration::from_millis(300);
    let h = memory(tally_commands::CommandConfig { catalog_max_age: max_age, ..config() });
    let other = tally_commands::Commands::new(crate::scenarios::raw_store(&h), config());
    stocked(&h.commands, "TEE", 1000, &[("main", 10)]).await;
    assert_eq!(priced_at(&h.commands).await, eur(1000));

    // Repriced through this process: the next order has the new price, however recent the cached one.
    h.commands.reprice_product(&context(), &sku("TEE"), eur(1100), None).await.unwrap();
    assert_eq!(priced_at(&h.commands).await, eur(1100));

    // Repriced through another process: this one may price with its cached state for up to `max_age`...
    other.reprice_product(&context(), &sku("TEE"), eur(1200), None).await.unwrap();
    let soon = priced_at(&h.commands).await;
    assert!(soon == eur(1100) || soon == eur(1200), "{soon:?}");
    // ...and no longer.
    tokio::time::sleep(max_age + Duration::from_millis(50)).await;
    assert_eq!(priced_at(&h.commands).await, eur(1200));

    // With no age allowed, every order reads the catalog.
    let strict = tally_commands::Commands::new(
        crate::scenarios::raw_store(&h),
        tally_commands::CommandConfig { catalog_max_age: Duration::ZERO, ..config() },
    );
    assert_eq!(priced_at(&strict).await, eur(1200));
    other.reprice_product(&context(), &sku("TEE"), eur(1300), None).await.unwrap();
    assert_eq!(priced_at(&strict).await, eur(1300));
}

//! Given/when/then tests of every inventory rule, the allocation policy and what the events do to the state.

use super::*;
use crate::testing::{self, Given};
use chrono::TimeZone;
use uuid::Uuid;

fn given(events: &[InventoryEvent]) -> Given<Inventory> {
    testing::given(events)
}

fn loc(name: &str) -> LocationId {
    LocationId::parse(name).unwrap()
}

fn qty(units: u32) -> Quantity {
    Quantity::new(units).unwrap()
}

fn order(n: u128) -> OrderId {
    OrderId::from_uuid(Uuid::from_u128(n))
}

fn shipment(n: u128) -> ShipmentId {
    ShipmentId::from_uuid(Uuid::from_u128(1000 + n))
}

fn return_id(n: u128) -> ReturnId {
    ReturnId::from_uuid(Uuid::from_u128(2000 + n))
}

fn expires() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 30, 0).unwrap()
}

fn allocations(list: &[(&str, u32)]) -> Vec<Allocation> {
    list.iter().map(|(name, units)| Allocation { location: loc(name), quantity: qty(*units) }).collect()
}

// Events.

fn received(location: &str, units: u32) -> InventoryEvent {
    InventoryEvent::StockReceived { location: loc(location), quantity: qty(units), reference: "PO-1".to_owned() }
}

fn adjusted(location: &str, delta: i64, reason: AdjustmentReason) -> InventoryEvent {
    InventoryEvent::StockAdjusted { location: loc(location), delta, reason }
}

fn reserved(order_id: OrderId, list: &[(&str, u32)]) -> InventoryEvent {
    InventoryEvent::StockReserved { order_id, allocations: allocations(list), expires_at: expires() }
}

fn released(order_id: OrderId, reason: ReleaseReason, list: &[(&str, u32)]) -> InventoryEvent {
    InventoryEvent::ReservationReleased { order_id, reason, allocations: allocations(list) }
}

fn committed(order_id: OrderId, shipment_n: u128, list: &[(&str, u32)]) -> InventoryEvent {
    InventoryEvent::ReservationCommitted { order_id, shipment_id: shipment(shipment_n), allocations: allocations(list) }
}

fn restocked(order_id: OrderId, return_n: u128, location: &str, units: u32) -> InventoryEvent {
    InventoryEvent::StockRestocked {
        order_id,
        return_id: return_id(return_n),
        location: loc(location),
        quantity: qty(units),
    }
}

// Commands.

fn receive(location: &str, units: u32) -> InventoryCommand {
    InventoryCommand::ReceiveStock { location: loc(location), quantity: qty(units), reference: "PO-1".to_owned() }
}

fn adjust(location: &str, delta: i64, reason: AdjustmentReason) -> InventoryCommand {
    InventoryCommand::AdjustStock { location: loc(location), delta, reason }
}

fn reserve(order_id: OrderId, units: u32) -> InventoryCommand {
    InventoryCommand::ReserveStock { order_id, quantity: qty(units), expires_at: expires() }
}

fn release(order_id: OrderId) -> InventoryCommand {
    InventoryCommand::ReleaseReservation { order_id, reason: ReleaseReason::Cancelled }
}

fn commit(order_id: OrderId, shipment_n: u128, units: u32) -> InventoryCommand {
    InventoryCommand::CommitReservation { order_id, shipment_id: shipment(shipment_n), quantity: qty(units) }
}

fn restock(order_id: OrderId, return_n: u128, location: &str, units: u32) -> InventoryCommand {
    InventoryCommand::RestockReturn {
        order_id,
        return_id: return_id(return_n),
        location: loc(location),
        quantity: qty(units),
    }
}

/// `(on_hand, reserved, available)` at a location.
fn stock(state: &Inventory, location: &str) -> (u64, u64, u64) {
    let stock = state.location(&loc(location)).unwrap();
    (stock.on_hand(), stock.reserved(), stock.available())
}

/// A stream where `u64::MAX - 1` units are on hand at `main`.
fn nearly_full() -> Vec<InventoryEvent> {
    vec![adjusted("main", i64::MAX, AdjustmentReason::Found), adjusted("main", i64::MAX, AdjustmentReason::Found)]
}

// Receiving and restocking.

#[test]
fn received_stock_is_on_hand_and_available() {
    let state = given(&[received("main", 10)]).when(receive("main", 5)).then(&[received("main", 5)]);
    assert_eq!(stock(&state, "main"), (15, 0, 15));
    assert_eq!((state.on_hand(), state.reserved(), state.available()), (15, 0, 15));
}

#[test]
fn receiving_at_a_new_location_adds_it() {
    let state = given(&[received("main", 10)]).when(receive("shop", 2)).then(&[received("shop", 2)]);
    assert_eq!(stock(&state, "shop"), (2, 0, 2));
    assert_eq!(state.available(), 12);
}

#[test]
fn receiving_refuses_to_overflow_on_hand() {
    given(&nearly_full())
        .when(receive("main", 2))
        .then_err(|e| matches!(e, InventoryError::QuantityOverflow { location } if location.as_str() == "main"));
}

#[test]
fn a_restocked_return_goes_back_on_hand() {
    let state =
        given(&[received("main", 10)]).when(restock(order(1), 1, "main", 1)).then(&[restocked(order(1), 1, "main", 1)]);
    assert_eq!(stock(&state, "main"), (11, 0, 11));
}

#[test]
fn restocking_refuses_to_overflow_on_hand() {
    given(&nearly_full())
        .when(restock(order(1), 1, "main", 2))
        .then_err(|e| matches!(e, InventoryError::QuantityOverflow { .. }));
}

// Adjustments.

#[test]
fn an_adjustment_changes_on_hand_either_way() {
    let history = [received("main", 10)];
    let state = given(&history).when(adjust("main", -3, AdjustmentReason::Damaged)).then(&[adjusted(
        "main",
        -3,
        AdjustmentReason::Damaged,
    )]);
    assert_eq!(stock(&state, "main"), (7, 0, 7));
    let state = given(&history).when(adjust("main", 2, AdjustmentReason::CountCorrection)).then(&[adjusted(
        "main",
        2,
        AdjustmentReason::CountCorrection,
    )]);
    assert_eq!(stock(&state, "main"), (12, 0, 12));
}

#[test]
fn found_stock_can_appear_at_a_new_location() {
    let state = given(&[]).when(adjust("back-room", 4, AdjustmentReason::Found)).then(&[adjusted(
        "back-room",
        4,
        AdjustmentReason::Found,
    )]);
    assert_eq!(stock(&state, "back-room"), (4, 0, 4));
}

#[test]
fn an_adjustment_is_never_zero() {
    given(&[received("main", 10)])
        .when(adjust("main", 0, AdjustmentReason::CountCorrection))
        .then_err(|e| matches!(e, InventoryError::ZeroAdjustment));
}

#[test]
fn damaged_and_lost_are_negative_and_found_is_positive() {
    let history = [received("main", 10)];
    for (delta, reason) in [(1, AdjustmentReason::Damaged), (1, AdjustmentReason::Lost), (-1, AdjustmentReason::Found)]
    {
        given(&history).when(adjust("main", delta, reason)).then_err(
            |e| matches!(e, InventoryError::AdjustmentSignMismatch { reason: r, delta: d } if *r == reason && *d == delta),
        );
    }
    given(&history).when(adjust("main", -1, AdjustmentReason::Lost)).then(&[adjusted(
        "main",
        -1,
        AdjustmentReason::Lost,
    )]);
}

#[test]
fn an_adjustment_cannot_take_on_hand_below_zero() {
    given(&[received("main", 2)])
        .when(adjust("main", -3, AdjustmentReason::Lost))
        .then_err(|e| matches!(e, InventoryError::AdjustmentBelowZero { on_hand: 2, delta: -3, .. }));
    given(&[])
        .when(adjust("nowhere", -1, AdjustmentReason::CountCorrection))
        .then_err(|e| matches!(e, InventoryError::AdjustmentBelowZero { on_hand: 0, .. }));
}

#[test]
fn an_adjustment_cannot_take_on_hand_below_reserved() {
    let history = [received("main", 10), reserved(order(1), &[("main", 8)])];
    given(&history)
        .when(adjust("main", -3, AdjustmentReason::Damaged))
        .then_err(|e| matches!(e, InventoryError::AdjustmentBelowReserved { on_hand: 10, reserved: 8, delta: -3, .. }));
    let state = given(&history).when(adjust("main", -2, AdjustmentReason::Damaged)).then(&[adjusted(
        "main",
        -2,
        AdjustmentReason::Damaged,
    )]);
    assert_eq!(stock(&state, "main"), (8, 8, 0));
}

#[test]
fn an_adjustment_refuses_to_overflow_on_hand() {
    given(&nearly_full())
        .when(adjust("main", 2, AdjustmentReason::Found))
        .then_err(|e| matches!(e, InventoryError::QuantityOverflow { .. }));
}

// Reservations.

#[test]
fn a_reservation_holds_stock_for_the_order() {
    let state = given(&[received("main", 10)]).when(reserve(order(1), 8)).then(&[reserved(order(1), &[("main", 8)])]);
    assert_eq!(stock(&state, "main"), (10, 8, 2));
    let reservation = state.reservation(&order(1)).unwrap();
    assert_eq!((reservation.quantity(), reservation.expires_at()), (8, expires()));
}

#[test]
fn a_reservation_takes_the_most_available_location_first_and_splits() {
    let history = [received("a", 3), received("b", 5), received("c", 6), reserved(order(9), &[("c", 1)])];
    // available: a 3, b 5, c 5: the tie b/c goes to b, then c, never a.
    let state = given(&history).when(reserve(order(1), 7)).then(&[reserved(order(1), &[("b", 5), ("c", 2)])]);
    assert_eq!(state.available(), 3 + 3);
}

#[test]
fn a_reservation_beyond_available_is_refused() {
    given(&[received("a", 6), received("b", 4), reserved(order(1), &[("a", 6), ("b", 2)])])
        .when(reserve(order(2), 3))
        .then_err(|e| matches!(e, InventoryError::InsufficientStock { requested: 3, available: 2 }));
    given(&[])
        .when(reserve(order(2), 1))
        .then_err(|e| matches!(e, InventoryError::InsufficientStock { requested: 1, available: 0 }));
}

#[test]
fn a_reservation_may_take_everything_available() {
    let state = given(&[received("a", 2), received("b", 1)])
        .when(reserve(order(1), 3))
        .then(&[reserved(order(1), &[("a", 2), ("b", 1)])]);
    assert_eq!(state.available(), 0);
}

#[test]
fn reserving_again_for_the_same_order_is_a_no_op() {
    let history = [received("main", 10), reserved(order(1), &[("main", 8)])];
    given(&history).when(reserve(order(1), 8)).then_nothing();
    given(&history).when(reserve(order(1), 5)).then_nothing();
    given(&history).when(reserve(order(1), 50)).then_nothing();
}

#[test]
fn an_order_can_reserve_again_after_its_release() {
    let history = [
        received("main", 10),
        reserved(order(1), &[("main", 8)]),
        released(order(1), ReleaseReason::Rejected, &[("main", 8)]),
    ];
    given(&history).when(reserve(order(1), 8)).then(&[reserved(order(1), &[("main", 8)])]);
}

// Releases.

#[test]
fn a_release_frees_everything_the_order_holds() {
    let history = [received("a", 5), received("b", 5), reserved(order(1), &[("a", 5), ("b", 2)])];
    let state = given(&history)
        .when(InventoryCommand::ReleaseReservation { order_id: order(1), reason: ReleaseReason::Expired })
        .then(&[released(order(1), ReleaseReason::Expired, &[("a", 5), ("b", 2)])]);
    assert_eq!((state.on_hand(), state.reserved(), state.available()), (10, 0, 10));
    assert!(state.reservation(&order(1)).is_none());
}

#[test]
fn releasing_an_order_that_holds_nothing_is_a_no_op() {
    given(&[received("main", 10)]).when(release(order(1))).then_nothing();
    let history = [
        received("main", 10),
        reserved(order(1), &[("main", 2)]),
        released(order(1), ReleaseReason::Cancelled, &[("main", 2)]),
    ];
    given(&history).when(release(order(1))).then_nothing();
}

#[test]
fn a_release_after_a_partial_commit_frees_only_the_rest() {
    let history = [received("main", 10), reserved(order(1), &[("main", 5)]), committed(order(1), 1, &[("main", 2)])];
    let state =
        given(&history).when(release(order(1))).then(&[released(order(1), ReleaseReason::Cancelled, &[("main", 3)])]);
    assert_eq!(stock(&state, "main"), (8, 0, 8));
}

// Commits.

#[test]
fn a_commit_ships_what_the_order_holds() {
    let history = [received("a", 5), received("b", 5), reserved(order(1), &[("a", 5), ("b", 2)])];
    let state = given(&history).when(commit(order(1), 1, 7)).then(&[committed(order(1), 1, &[("a", 5), ("b", 2)])]);
    assert_eq!(stock(&state, "a"), (0, 0, 0));
    assert_eq!(stock(&state, "b"), (3, 0, 3));
    assert!(state.reservation(&order(1)).is_none());
}

#[test]
fn a_partial_commit_takes_the_largest_allocation_first_and_keeps_the_rest_held() {
    let history =
        [received("a", 2), received("b", 4), received("c", 4), reserved(order(1), &[("b", 4), ("c", 4), ("a", 2)])];
    let state = given(&history).when(commit(order(1), 1, 5)).then(&[committed(order(1), 1, &[("b", 4), ("c", 1)])]);
    assert_eq!(state.reservation(&order(1)).unwrap().allocations(), allocations(&[("c", 3), ("a", 2)]));
    assert_eq!((state.on_hand(), state.reserved(), state.available()), (5, 5, 0));
}

#[test]
fn a_commit_beyond_what_the_order_holds_is_refused() {
    given(&[received("main", 10), reserved(order(1), &[("main", 3)]), committed(order(1), 1, &[("main", 1)])])
        .when(commit(order(1), 2, 3))
        .then_err(|e| {
            matches!(e, InventoryError::CommitExceedsReservation { requested: 3, reserved: 2, order_id }
                if *order_id == order(1))
        });
}

#[test]
fn a_commit_for_an_order_that_holds_nothing_is_refused() {
    given(&[received("main", 10)])
        .when(commit(order(1), 1, 1))
        .then_err(|e| matches!(e, InventoryError::NoActiveReservation { order_id } if *order_id == order(1)));
    given(&[received("main", 10), reserved(order(1), &[("main", 2)]), committed(order(1), 1, &[("main", 2)])])
        .when(commit(order(1), 2, 1))
        .then_err(|e| matches!(e, InventoryError::NoActiveReservation { .. }));
}

#[test]
fn committing_the_same_shipment_again_is_a_no_op() {
    let history = [received("main", 10), reserved(order(1), &[("main", 5)]), committed(order(1), 1, &[("main", 2)])];
    let state = given(&history).when(commit(order(1), 1, 2)).then(&[]);
    assert_eq!(stock(&state, "main"), (8, 3, 5));
    assert!(state.has_committed(&shipment(1)));
    // Another shipment of the same order still commits.
    given(&history).when(commit(order(1), 2, 2)).then(&[committed(order(1), 2, &[("main", 2)])]);
}

#[test]
fn committing_a_shipment_again_after_the_reservation_is_gone_is_a_no_op() {
    let history = [received("main", 10), reserved(order(1), &[("main", 2)]), committed(order(1), 1, &[("main", 2)])];
    given(&history).when(commit(order(1), 1, 2)).then_nothing();
}

#[test]
fn restocking_the_same_return_again_is_a_no_op() {
    let history = [received("main", 10), restocked(order(1), 1, "main", 1)];
    given(&history).when(restock(order(1), 1, "main", 1)).then_nothing();
    given(&history).when(restock(order(1), 1, "shop", 3)).then_nothing();
    let state = given(&history).when(restock(order(1), 2, "main", 1)).then(&[restocked(order(1), 2, "main", 1)]);
    assert_eq!(stock(&state, "main"), (12, 0, 12));
    assert!(state.has_restocked(&return_id(1)) && state.has_restocked(&return_id(2)));
}

#[test]
fn the_state_serializes_locations_and_reservations() {
    let state = given(&[received("main", 10), reserved(order(1), &[("main", 4)])]).state().clone();
    assert_eq!(
        serde_json::to_value(state).unwrap(),
        serde_json::json!({
            "locations": {"main": {"on_hand": 10, "reserved": 4, "available": 6}},
            "reservations": {"00000000-0000-0000-0000-000000000001": {
                "allocations": [{"location": "main", "quantity": 4}],
                "expires_at": "2026-11-21T12:30:00Z"
            }}
        })
    );
}

#[test]
fn a_receipt_or_adjustment_moves_at_most_the_quantity_bound() {
    let receive = |units: u32, reference: &str| InventoryCommand::ReceiveStock {
        location: loc("main"),
        quantity: qty(units),
        reference: reference.to_owned(),
    };
    given(&[]).when(receive(Quantity::MAX, "PO-1")).then(&[InventoryEvent::StockReceived {
        location: loc("main"),
        quantity: qty(Quantity::MAX),
        reference: "PO-1".to_owned(),
    }]);
    given(&[])
        .when(receive(Quantity::MAX + 1, "PO-1"))
        .then_err(|e| matches!(e, InventoryError::QuantityTooLarge { max: 1_000_000 }));
    let adjust = |delta: i64| InventoryCommand::AdjustStock {
        location: loc("main"),
        delta,
        reason: AdjustmentReason::CountCorrection,
    };
    given(&[received("main", 10)])
        .when(adjust(1_000_001))
        .then_err(|e| matches!(e, InventoryError::QuantityTooLarge { .. }));
    given(&[received("main", 10)])
        .when(adjust(i64::MIN))
        .then_err(|e| matches!(e, InventoryError::QuantityTooLarge { .. }));
}

#[test]
fn a_receipt_reference_with_a_nul_is_refused() {
    given(&[])
        .when(InventoryCommand::ReceiveStock {
            location: loc("main"),
            quantity: qty(1),
            reference: "PO\u{0}-1".to_owned(),
        })
        .then_err(|e| matches!(e, InventoryError::NulInReference));
}

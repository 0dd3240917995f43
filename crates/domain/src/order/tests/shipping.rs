//! Shipments and returns: units per SKU against what was ordered, shipped and returned.

use super::*;

#[test]
fn a_shipment_without_lines_ships_everything_left() {
    let state = given(&history(OrderStatus::Paid))
        .when(ship(Vec::new()))
        .then(&[shipped(vec![item("A", 2), item("B", 1)], true)]);
    let order = state.placed().unwrap();
    assert_eq!(order.status(), OrderStatus::Shipped);
    assert_eq!((order.shipped(&sku("A")), order.shipped(&sku("B"))), (2, 1));
    assert!(order.unshipped_lines().is_empty());
}

#[test]
fn a_partial_shipment_leaves_the_order_partially_shipped() {
    let state =
        given(&history(OrderStatus::Paid)).when(ship(vec![item("A", 1)])).then(&[shipped(vec![item("A", 1)], false)]);
    assert_eq!(state.status(), Some(OrderStatus::PartiallyShipped));
    assert_eq!(state.placed().unwrap().unshipped_lines(), [item("A", 1), item("B", 1)]);
}

#[test]
fn the_last_shipment_ships_only_what_is_left() {
    let partly = history(OrderStatus::PartiallyShipped);
    given(&partly).when(ship(Vec::new())).then(&[shipped(vec![item("A", 1), item("B", 1)], true)]);
    given(&partly)
        .when(ship(vec![item("B", 1), item("A", 1)]))
        .then(&[shipped(vec![item("B", 1), item("A", 1)], true)]);
    given(&partly).when(ship(vec![item("B", 1)])).then(&[shipped(vec![item("B", 1)], false)]);
}

#[test]
fn a_shipment_never_exceeds_ordered_minus_shipped() {
    given(&history(OrderStatus::Paid))
        .when(ship(vec![item("A", 3)]))
        .then_err(|e| matches!(e, OrderError::OverShipment { sku, requested: 3, remaining: 2 } if sku.as_str() == "A"));
    given(&history(OrderStatus::PartiallyShipped))
        .when(ship(vec![item("A", 2)]))
        .then_err(|e| matches!(e, OrderError::OverShipment { requested: 2, remaining: 1, .. }));
}

#[test]
fn a_shipment_names_only_skus_of_the_order_once_each() {
    given(&history(OrderStatus::Paid))
        .when(ship(vec![item("Z", 1)]))
        .then_err(|e| matches!(e, OrderError::UnknownSku { sku } if sku.as_str() == "Z"));
    given(&history(OrderStatus::Paid))
        .when(ship(vec![item("A", 1), item("A", 1)]))
        .then_err(|e| matches!(e, OrderError::DuplicateSku { sku } if sku.as_str() == "A"));
}

#[test]
fn a_return_of_shipped_units_is_recorded() {
    let state = given(&history(OrderStatus::Delivered))
        .when(return_items(vec![item("A", 1)]))
        .then(&[returned(vec![item("A", 1)])]);
    let order = state.placed().unwrap();
    assert_eq!((order.returned(&sku("A")), order.returned(&sku("B"))), (1, 0));
    assert_eq!(order.status(), OrderStatus::Delivered);
}

#[test]
fn a_return_may_leave_the_goods_off_the_shelf() {
    let command =
        OrderCommand::ReceiveReturn { lines: vec![item("B", 1)], restock: false, location: LocationId::main() };
    given(&history(OrderStatus::Shipped)).when(command).then(&[OrderEvent::ReturnReceived {
        lines: vec![item("B", 1)],
        restock: false,
        location: LocationId::main(),
    }]);
}

#[test]
fn a_return_never_exceeds_shipped_minus_returned() {
    given(&history(OrderStatus::PartiallyShipped))
        .when(return_items(vec![item("A", 2)]))
        .then_err(|e| matches!(e, OrderError::OverReturn { sku, requested: 2, returnable: 1 } if sku.as_str() == "A"));
    given(&history(OrderStatus::PartiallyShipped))
        .when(return_items(vec![item("B", 1)]))
        .then_err(|e| matches!(e, OrderError::OverReturn { returnable: 0, .. }));
    let after_one = [history(OrderStatus::Delivered), vec![returned(vec![item("A", 1)])]].concat();
    given(&after_one).when(return_items(vec![item("A", 1)])).then(&[returned(vec![item("A", 1)])]);
    let after_two = [after_one, vec![returned(vec![item("A", 1)])]].concat();
    given(&after_two)
        .when(return_items(vec![item("A", 1)]))
        .then_err(|e| matches!(e, OrderError::OverReturn { returnable: 0, .. }));
}

#[test]
fn a_cancelled_order_takes_back_what_it_shipped() {
    given(&history(OrderStatus::Cancelled))
        .when(return_items(vec![item("A", 1)]))
        .then(&[returned(vec![item("A", 1)])]);
}

#[test]
fn a_return_needs_lines_naming_skus_of_the_order_once_each() {
    let delivered = history(OrderStatus::Delivered);
    given(&delivered).when(return_items(Vec::new())).then_err(|e| matches!(e, OrderError::NoLines));
    given(&delivered).when(return_items(vec![item("Z", 1)])).then_err(|e| matches!(e, OrderError::UnknownSku { .. }));
    given(&delivered)
        .when(return_items(vec![item("B", 1), item("B", 1)]))
        .then_err(|e| matches!(e, OrderError::DuplicateSku { .. }));
}

//! Placing, confirming, rejecting, cancelling, expiring and delivering an order.

use super::*;

#[test]
fn placing_records_the_priced_lines_and_the_total() {
    let state = given(&[]).when(place(standard_lines())).then(&[placed()]);
    let order = state.placed().unwrap();
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.customer_id().as_str(), "cus-42");
    assert_eq!(order.lines(), standard_lines());
    assert_eq!((order.total(), order.paid(), order.refunded()), (eur(2500), eur(0), eur(0)));
    assert_eq!((order.placed_at(), order.reserved_until()), (at(12, 0), None));
}

#[test]
fn placing_needs_a_line() {
    given(&[]).when(place(Vec::new())).then_err(|e| matches!(e, OrderError::NoLines));
}

#[test]
fn placing_refuses_a_sku_twice() {
    given(&[])
        .when(place(vec![line("A", 1, eur(1000)), line("B", 1, eur(500)), line("A", 2, eur(1000))]))
        .then_err(|e| matches!(e, OrderError::DuplicateSku { sku } if sku.as_str() == "A"));
}

#[test]
fn placing_refuses_mixed_currencies() {
    given(&[])
        .when(place(vec![line("A", 1, eur(1000)), line("B", 1, usd(500))]))
        .then_err(|e| matches!(e, OrderError::MixedCurrencies { sku, .. } if sku.as_str() == "B"));
}

#[test]
fn placing_refuses_a_negative_unit_price() {
    given(&[])
        .when(place(vec![line("A", 1, eur(1000)), line("B", 1, eur(-1))]))
        .then_err(|e| matches!(e, OrderError::NegativeUnitPrice { sku } if sku.as_str() == "B"));
}

#[test]
fn a_free_item_rides_along_but_an_order_of_free_items_is_refused() {
    let lines = vec![line("A", 1, eur(1000)), line("GIFT", 1, eur(0))];
    let state = given(&[]).when(place(lines.clone())).then(&[OrderEvent::OrderPlaced {
        order_id: order_id(),
        customer_id: CustomerId::parse("cus-42").unwrap(),
        lines,
        currency: Currency::parse("EUR").unwrap(),
        total: eur(1000),
        placed_at: at(12, 0),
    }]);
    assert_eq!(state.placed().unwrap().total(), eur(1000));
    given(&[]).when(place(vec![line("GIFT", 3, eur(0))])).then_err(|e| matches!(e, OrderError::ZeroTotal));
}

#[test]
fn placing_accepts_the_largest_order_the_bounds_allow() {
    let lines: Vec<OrderLine> =
        (0..MAX_LINES).map(|n| line(&format!("S{n}"), Quantity::MAX, eur(Money::MAX_PRICE))).collect();
    let events = decide(&Order::default(), place(lines)).unwrap();
    let [OrderEvent::OrderPlaced { total, .. }] = events.as_slice() else { panic!("one OrderPlaced: {events:?}") };
    assert_eq!(*total, eur(Money::MAX_AMOUNT));
}

#[test]
fn placing_refuses_more_lines_than_the_bound() {
    let lines: Vec<OrderLine> = (0..=MAX_LINES).map(|n| line(&format!("S{n}"), 1, eur(100))).collect();
    given(&[]).when(place(lines)).then_err(|e| matches!(e, OrderError::TooManyLines { max: 250 }));
}

#[test]
fn placing_refuses_a_quantity_above_the_bound() {
    given(&[])
        .when(place(vec![line("A", 1, eur(1000)), line("B", Quantity::MAX + 1, eur(1))]))
        .then_err(|e| matches!(e, OrderError::QuantityTooLarge { sku, max: 1_000_000 } if sku.as_str() == "B"));
    given(&[])
        .when(place(vec![line("A", u32::MAX, eur(99_999))]))
        .then_err(|e| matches!(e, OrderError::QuantityTooLarge { .. }));
}

#[test]
fn placing_refuses_a_unit_price_above_the_bound() {
    given(&[])
        .when(place(vec![line("A", 2, eur(Money::MAX_PRICE + 1))]))
        .then_err(|e| matches!(e, OrderError::UnitPriceTooHigh { sku, max: 1_000_000_000 } if sku.as_str() == "A"));
    given(&[])
        .when(place(vec![line("A", 1, eur(i64::MAX)), line("B", 1, eur(1))]))
        .then_err(|e| matches!(e, OrderError::UnitPriceTooHigh { .. }));
}

#[test]
fn free_text_with_a_nul_is_refused() {
    let placed_paid = history(OrderStatus::Paid);
    given(&placed_paid)
        .when(OrderCommand::CancelOrder { reason: "a\0b".to_owned() })
        .then_err(|e| matches!(e, OrderError::NulInText { field: "reason" }));
    given(&placed_paid)
        .when(OrderCommand::IssueRefund { amount: eur(1), reason: "\0".to_owned() })
        .then_err(|e| matches!(e, OrderError::NulInText { field: "reason" }));
    given(&placed_paid)
        .when(OrderCommand::DispatchShipment {
            shipment_id: ShipmentId::from_uuid(Uuid::from_u128(7)),
            lines: Vec::new(),
            carrier: "dhl".to_owned(),
            tracking_number: "1Z\u{0}".to_owned(),
        })
        .then_err(|e| matches!(e, OrderError::NulInText { field: "tracking_number" }));
    given(&history(OrderStatus::Confirmed))
        .when(OrderCommand::CapturePayment { amount: eur(1), reference: "psp\0".to_owned() })
        .then_err(|e| matches!(e, OrderError::NulInText { field: "reference" }));
}

#[test]
fn confirming_holds_the_order_until_its_reservation_ends() {
    let state = given(&[placed()]).when(OrderCommand::ConfirmOrder { reserved_until: at(12, 30) }).then(&[confirmed()]);
    let order = state.placed().unwrap();
    assert_eq!((order.status(), order.reserved_until()), (OrderStatus::Confirmed, Some(at(12, 30))));
}

#[test]
fn rejecting_records_the_shortages() {
    let shortages = vec![Shortage { sku: sku("A"), requested: qty(2), available: 1 }];
    let state = given(&[placed()])
        .when(OrderCommand::RejectOrder { shortages: shortages.clone() })
        .then(&[OrderEvent::OrderRejected { shortages }]);
    assert_eq!(state.status(), Some(OrderStatus::Rejected));
}

#[test]
fn cancelling_a_pending_order_releases_every_line() {
    let state = given(&[placed()]).when(cancel()).then(&[OrderEvent::OrderCancelled {
        reason: "customer request".to_owned(),
        unshipped_lines: vec![item("A", 2), item("B", 1)],
        refundable: eur(0),
    }]);
    assert_eq!(state.status(), Some(OrderStatus::Cancelled));
}

#[test]
fn cancelling_a_paid_order_says_what_is_refundable() {
    given(&history(OrderStatus::Paid)).when(cancel()).then(&[OrderEvent::OrderCancelled {
        reason: "customer request".to_owned(),
        unshipped_lines: vec![item("A", 2), item("B", 1)],
        refundable: eur(2500),
    }]);
}

#[test]
fn cancelling_a_partially_shipped_order_releases_only_what_did_not_ship() {
    given(&history(OrderStatus::PartiallyShipped)).when(cancel()).then(&[OrderEvent::OrderCancelled {
        reason: "customer request".to_owned(),
        unshipped_lines: vec![item("A", 1), item("B", 1)],
        refundable: eur(2500),
    }]);
}

#[test]
fn an_unpaid_order_expires_at_or_after_its_reservation_end() {
    let expired = OrderEvent::OrderExpired { unshipped_lines: vec![item("A", 2), item("B", 1)], refundable: eur(0) };
    let state = given(&[placed(), confirmed()]).when(expire(at(12, 30))).then(std::slice::from_ref(&expired));
    assert_eq!(state.status(), Some(OrderStatus::Expired));
    given(&[placed(), confirmed()]).when(expire(at(13, 0))).then(&[expired]);
}

#[test]
fn an_order_does_not_expire_before_its_reservation_ends() {
    given(&[placed(), confirmed()]).when(expire(at(12, 29))).then_err(|e| {
        matches!(e, OrderError::NotYetExpired { reserved_until, now } if *reserved_until == at(12, 30) && *now == at(12, 29))
    });
}

#[test]
fn an_order_expiring_with_a_partial_capture_keeps_it_refundable() {
    let history = [placed(), confirmed(), captured(1000, 1000)];
    let expired = OrderEvent::OrderExpired { unshipped_lines: vec![item("A", 2), item("B", 1)], refundable: eur(1000) };
    let state = given(&history).when(expire(at(12, 30))).then(std::slice::from_ref(&expired));
    assert_eq!(state.placed().unwrap().paid(), eur(1000));
    let expired = [history.to_vec(), vec![expired]].concat();
    given(&expired).when(refund(eur(1000))).then(&[refunded(1000, 1000)]);
}

#[test]
fn a_paid_order_does_not_expire() {
    given(&history(OrderStatus::Paid)).when(expire(at(23, 0))).then_err(|e| {
        matches!(e, OrderError::InvalidTransition { from: OrderStatus::Paid, action: OrderAction::Expire })
    });
}

#[test]
fn a_shipped_order_can_be_delivered() {
    let state =
        given(&history(OrderStatus::Shipped)).when(OrderCommand::DeliverOrder).then(&[OrderEvent::OrderDelivered {}]);
    assert_eq!(state.status(), Some(OrderStatus::Delivered));
}

#[test]
fn a_partially_shipped_order_cannot_be_delivered() {
    given(&history(OrderStatus::PartiallyShipped)).when(OrderCommand::DeliverOrder).then_err(|e| {
        matches!(e, OrderError::InvalidTransition { from: OrderStatus::PartiallyShipped, action: OrderAction::Deliver })
    });
}

#[test]
fn the_state_serializes_as_null_then_as_the_placed_order() {
    assert_eq!(serde_json::to_value(Order::default()).unwrap(), serde_json::Value::Null);
    let json = serde_json::to_value(given(&history(OrderStatus::PartiallyShipped)).state()).unwrap();
    assert_eq!(json["status"], "partially_shipped");
    assert_eq!(json["customer_id"], "cus-42");
    assert_eq!(json["total"], serde_json::json!({"amount": 2500, "currency": "EUR"}));
    assert_eq!(json["paid"], serde_json::json!({"amount": 2500, "currency": "EUR"}));
    assert_eq!(json["shipped"], serde_json::json!({"A": 1}));
    assert_eq!(json["reserved_until"], "2026-11-21T12:30:00Z");
}

//! Payment captures and refunds: amounts, currencies and running totals.

use super::*;

#[test]
fn capturing_the_total_makes_the_order_paid() {
    let state = given(&[placed(), confirmed()]).when(capture(eur(2500))).then(&[captured(2500, 2500)]);
    let order = state.placed().unwrap();
    assert_eq!((order.status(), order.paid(), order.outstanding()), (OrderStatus::Paid, eur(2500), eur(0)));
}

#[test]
fn partial_captures_add_up_to_paid() {
    let state = given(&[placed(), confirmed()]).when(capture(eur(1000))).then(&[captured(1000, 1000)]);
    assert_eq!(state.status(), Some(OrderStatus::Confirmed));
    assert_eq!(state.placed().unwrap().outstanding(), eur(1500));
    let state =
        given(&[placed(), confirmed(), captured(1000, 1000)]).when(capture(eur(1500))).then(&[captured(1500, 2500)]);
    assert_eq!(state.status(), Some(OrderStatus::Paid));
}

#[test]
fn capturing_beyond_the_total_is_refused() {
    given(&[placed(), confirmed()]).when(capture(eur(2501))).then_err(|e| {
        matches!(e, OrderError::OverCapture { requested, outstanding } if *requested == eur(2501) && *outstanding == eur(2500))
    });
    given(&[placed(), confirmed(), captured(2000, 2000)])
        .when(capture(eur(501)))
        .then_err(|e| matches!(e, OrderError::OverCapture { outstanding, .. } if *outstanding == eur(500)));
}

#[test]
fn a_capture_is_in_the_order_currency() {
    given(&[placed(), confirmed()]).when(capture(usd(2500))).then_err(|e| {
        matches!(e, OrderError::CurrencyMismatch { expected, found } if expected.as_str() == "EUR" && found.as_str() == "USD")
    });
}

#[test]
fn a_capture_is_positive() {
    for amount in [0, -100] {
        given(&[placed(), confirmed()])
            .when(capture(eur(amount)))
            .then_err(|e| matches!(e, OrderError::NonPositiveAmount));
    }
}

#[test]
fn a_refund_is_recorded_with_the_running_total() {
    let state = given(&history(OrderStatus::Delivered)).when(refund(eur(1000))).then(&[refunded(1000, 1000)]);
    let order = state.placed().unwrap();
    assert_eq!((order.refunded(), order.refundable()), (eur(1000), eur(1500)));
    assert_eq!(order.status(), OrderStatus::Delivered);
    let after_one = [history(OrderStatus::Delivered), vec![refunded(1000, 1000)]].concat();
    given(&after_one).when(refund(eur(1500))).then(&[refunded(1500, 2500)]);
}

#[test]
fn refunds_never_exceed_captured_minus_refunded() {
    given(&history(OrderStatus::Paid)).when(refund(eur(2501))).then_err(|e| {
        matches!(e, OrderError::OverRefund { requested, refundable } if *requested == eur(2501) && *refundable == eur(2500))
    });
    let after_one = [history(OrderStatus::Paid), vec![refunded(2000, 2000)]].concat();
    given(&after_one)
        .when(refund(eur(501)))
        .then_err(|e| matches!(e, OrderError::OverRefund { refundable, .. } if *refundable == eur(500)));
}

#[test]
fn an_order_cancelled_before_payment_has_nothing_to_refund() {
    let cancelled = [
        placed(),
        OrderEvent::OrderCancelled {
            reason: "customer request".to_owned(),
            unshipped_lines: vec![item("A", 2), item("B", 1)],
            refundable: eur(0),
        },
    ];
    given(&cancelled)
        .when(refund(eur(1)))
        .then_err(|e| matches!(e, OrderError::OverRefund { refundable, .. } if *refundable == eur(0)));
}

#[test]
fn a_refund_is_positive_and_in_the_order_currency() {
    given(&history(OrderStatus::Paid)).when(refund(eur(0))).then_err(|e| matches!(e, OrderError::NonPositiveAmount));
    given(&history(OrderStatus::Paid)).when(refund(eur(-5))).then_err(|e| matches!(e, OrderError::NonPositiveAmount));
    given(&history(OrderStatus::Paid))
        .when(refund(usd(100)))
        .then_err(|e| matches!(e, OrderError::CurrencyMismatch { .. }));
}

#[test]
fn a_partially_captured_order_cannot_be_refunded_before_it_ends() {
    given(&[placed(), confirmed(), captured(1000, 1000)]).when(refund(eur(100))).then_err(|e| {
        matches!(e, OrderError::InvalidTransition { from: OrderStatus::Confirmed, action: OrderAction::Refund })
    });
}

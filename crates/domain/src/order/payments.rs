//! Money in and out of an order: payment captures and refunds.

use super::decide::{require, text};
use super::{OrderAction, OrderError, OrderEvent, OrderStatus, PlacedOrder};
use crate::values::Money;

/// A capture on a confirmed order: positive, in the order's currency, at most what is still outstanding.
pub(super) fn capture(order: &PlacedOrder, amount: Money, reference: String) -> Result<OrderEvent, OrderError> {
    require(order, OrderAction::CapturePayment, &[OrderStatus::Confirmed])?;
    text("reference", &reference)?;
    check_amount(order, amount)?;
    let outstanding = order.outstanding();
    if amount.minor() > outstanding.minor() {
        return Err(OrderError::OverCapture { requested: amount, outstanding });
    }
    // At most the total, so no overflow.
    let paid_total = Money::new(order.paid.minor() + amount.minor(), order.currency);
    Ok(OrderEvent::PaymentCaptured { amount, reference, paid_total, fully_paid: paid_total == order.total })
}

/// A refund: positive, in the order's currency, at most what was captured and not yet refunded.
///
/// Allowed from [`OrderStatus::REFUNDABLE`]: once the payment is complete, and on cancelled or expired orders.
pub(super) fn refund(order: &PlacedOrder, amount: Money, reason: String) -> Result<OrderEvent, OrderError> {
    require(order, OrderAction::Refund, &OrderStatus::REFUNDABLE)?;
    text("reason", &reason)?;
    check_amount(order, amount)?;
    let refundable = order.refundable();
    if amount.minor() > refundable.minor() {
        return Err(OrderError::OverRefund { requested: amount, refundable });
    }
    // At most what was paid, so no overflow.
    let refunded_total = Money::new(order.refunded.minor() + amount.minor(), order.currency);
    Ok(OrderEvent::RefundIssued { amount, reason, refunded_total })
}

/// Refuses an amount that is not positive or not in the order's currency.
fn check_amount(order: &PlacedOrder, amount: Money) -> Result<(), OrderError> {
    if !amount.is_positive() {
        return Err(OrderError::NonPositiveAmount);
    }
    if amount.currency() != order.currency {
        return Err(OrderError::CurrencyMismatch { expected: order.currency, found: amount.currency() });
    }
    Ok(())
}

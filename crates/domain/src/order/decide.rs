//! The order's decider: dispatches each command to its rule, and holds the lifecycle rules (place, confirm,
//! reject, cancel, expire). Payments live in `payments.rs`, goods moving in and out in `shipping.rs`.

use super::{payments, shipping};
use super::{Order, OrderAction, OrderCommand, OrderError, OrderEvent, OrderLine, OrderStatus, PlacedOrder};
use crate::values::{storable_text, CustomerId, Money, OrderId, Quantity};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Accepts an order command with the events it causes, or refuses it with the rule it breaks.
pub fn decide(state: &Order, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
    if let OrderCommand::PlaceOrder { order_id, customer_id, lines, placed_at } = command {
        return place(state, order_id, customer_id, lines, placed_at);
    }
    let Order::Placed(order) = state else {
        return Err(OrderError::NotPlaced);
    };
    let event = match command {
        OrderCommand::PlaceOrder { .. } => return Err(OrderError::AlreadyPlaced { order_id: order.order_id }),
        OrderCommand::ConfirmOrder { reserved_until } => {
            require(order, OrderAction::Confirm, &[OrderStatus::Pending])?;
            OrderEvent::OrderConfirmed { reserved_until }
        }
        OrderCommand::RejectOrder { shortages } => {
            require(order, OrderAction::Reject, &[OrderStatus::Pending])?;
            OrderEvent::OrderRejected { shortages }
        }
        OrderCommand::CapturePayment { amount, reference } => payments::capture(order, amount, reference)?,
        OrderCommand::DispatchShipment { shipment_id, lines, carrier, tracking_number } => {
            shipping::dispatch(order, shipment_id, lines, carrier, tracking_number)?
        }
        OrderCommand::DeliverOrder => {
            require(order, OrderAction::Deliver, &[OrderStatus::Shipped])?;
            OrderEvent::OrderDelivered {}
        }
        OrderCommand::CancelOrder { reason } => cancel(order, reason)?,
        OrderCommand::ExpireOrder { now } => expire(order, now)?,
        OrderCommand::ReceiveReturn { lines, restock, location } => {
            shipping::receive_return(order, lines, restock, location)?
        }
        OrderCommand::IssueRefund { amount, reason } => payments::refund(order, amount, reason)?,
    };
    Ok(vec![event])
}

/// Refuses `action` unless the order's status is one of `allowed`.
pub(super) fn require(order: &PlacedOrder, action: OrderAction, allowed: &[OrderStatus]) -> Result<(), OrderError> {
    if allowed.contains(&order.status) {
        Ok(())
    } else {
        Err(OrderError::InvalidTransition { from: order.status, action })
    }
}

fn place(
    state: &Order,
    order_id: OrderId,
    customer_id: CustomerId,
    lines: Vec<OrderLine>,
    placed_at: DateTime<Utc>,
) -> Result<Vec<OrderEvent>, OrderError> {
    if let Order::Placed(existing) = state {
        return Err(OrderError::AlreadyPlaced { order_id: existing.order_id });
    }
    let Some(first) = lines.first() else {
        return Err(OrderError::NoLines);
    };
    if lines.len() > super::MAX_LINES {
        return Err(OrderError::TooManyLines { max: super::MAX_LINES });
    }
    let currency = first.unit_price.currency();
    let mut total = Money::zero(currency);
    let mut seen = BTreeSet::new();
    for line in &lines {
        if !seen.insert(&line.sku) {
            return Err(OrderError::DuplicateSku { sku: line.sku.clone() });
        }
        if line.unit_price.currency() != currency {
            return Err(OrderError::MixedCurrencies {
                sku: line.sku.clone(),
                expected: currency,
                found: line.unit_price.currency(),
            });
        }
        if line.unit_price.is_negative() {
            return Err(OrderError::NegativeUnitPrice { sku: line.sku.clone() });
        }
        if line.unit_price.minor() > Money::MAX_PRICE {
            return Err(OrderError::UnitPriceTooHigh { sku: line.sku.clone(), max: Money::MAX_PRICE });
        }
        if !line.quantity.is_within_bound() {
            return Err(OrderError::QuantityTooLarge { sku: line.sku.clone(), max: Quantity::MAX });
        }
        let line_total = line.unit_price.checked_mul(line.quantity).map_err(|_| OrderError::TotalOverflow)?;
        total = total.checked_add(line_total).map_err(|_| OrderError::TotalOverflow)?;
    }
    if !total.is_positive() {
        return Err(OrderError::ZeroTotal);
    }
    Ok(vec![OrderEvent::OrderPlaced { order_id, customer_id, lines, currency, total, placed_at }])
}

/// Refuses free text the store cannot hold (a NUL), naming the command's `field`.
pub(super) fn text(field: &'static str, value: &str) -> Result<(), OrderError> {
    storable_text(value).map_err(|_| OrderError::NulInText { field })
}

fn cancel(order: &PlacedOrder, reason: String) -> Result<OrderEvent, OrderError> {
    text("reason", &reason)?;
    require(order, OrderAction::Cancel, &OrderStatus::CANCELLABLE)?;
    Ok(OrderEvent::OrderCancelled { reason, unshipped_lines: order.unshipped_lines(), refundable: order.refundable() })
}

fn expire(order: &PlacedOrder, now: DateTime<Utc>) -> Result<OrderEvent, OrderError> {
    // A confirmed order is not fully paid: the capture that completes the payment makes it `paid`.
    require(order, OrderAction::Expire, &[OrderStatus::Confirmed])?;
    match order.reserved_until {
        Some(reserved_until) if reserved_until > now => Err(OrderError::NotYetExpired { reserved_until, now }),
        _ => Ok(OrderEvent::OrderExpired { unshipped_lines: order.unshipped_lines(), refundable: order.refundable() }),
    }
}

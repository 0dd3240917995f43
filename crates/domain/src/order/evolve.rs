//! The order's evolve: applies a recorded order event to the state. Checks nothing, never fails.
//!
//! Status changes that depend on amounts or units (`paid`, `partially_shipped`/`shipped`) follow the outcome the
//! event records (`fully_paid`, `fully_shipped`), and money follows the running totals it records, so replaying
//! applies facts and recomputes nothing.

use super::{ItemLine, Order, OrderEvent, OrderStatus, PlacedOrder};
use crate::values::{Money, Sku};
use std::collections::BTreeMap;

/// Applies one recorded fact. An event that cannot follow the current state (which `decide` never produces) leaves
/// the state as it is.
pub fn evolve(state: Order, event: &OrderEvent) -> Order {
    match (state, event) {
        (Order::NotPlaced, OrderEvent::OrderPlaced { order_id, customer_id, lines, currency, total, placed_at }) => {
            Order::Placed(PlacedOrder {
                order_id: *order_id,
                customer_id: customer_id.clone(),
                status: OrderStatus::Pending,
                lines: lines.clone(),
                currency: *currency,
                total: *total,
                paid: Money::zero(*currency),
                refunded: Money::zero(*currency),
                shipped: BTreeMap::new(),
                returned: BTreeMap::new(),
                reserved_until: None,
                placed_at: *placed_at,
            })
        }
        (Order::Placed(order), event) => Order::Placed(apply(order, event)),
        (state, _) => state,
    }
}

fn apply(mut order: PlacedOrder, event: &OrderEvent) -> PlacedOrder {
    match event {
        OrderEvent::OrderPlaced { .. } => {}
        OrderEvent::OrderConfirmed { reserved_until } => {
            order.status = OrderStatus::Confirmed;
            order.reserved_until = Some(*reserved_until);
        }
        OrderEvent::OrderRejected { .. } => order.status = OrderStatus::Rejected,
        OrderEvent::PaymentCaptured { paid_total, fully_paid, .. } => {
            order.paid = *paid_total;
            if *fully_paid {
                order.status = OrderStatus::Paid;
            }
        }
        OrderEvent::ShipmentDispatched { lines, fully_shipped, .. } => {
            add_units(&mut order.shipped, lines);
            order.status = if *fully_shipped { OrderStatus::Shipped } else { OrderStatus::PartiallyShipped };
        }
        OrderEvent::OrderDelivered {} => order.status = OrderStatus::Delivered,
        OrderEvent::OrderCancelled { .. } => order.status = OrderStatus::Cancelled,
        OrderEvent::OrderExpired { .. } => order.status = OrderStatus::Expired,
        OrderEvent::ReturnReceived { lines, .. } => add_units(&mut order.returned, lines),
        OrderEvent::RefundIssued { refunded_total, .. } => order.refunded = *refunded_total,
    }
    order
}

fn add_units(units: &mut BTreeMap<Sku, u32>, lines: &[ItemLine]) {
    for line in lines {
        let count = units.entry(line.sku.clone()).or_default();
        *count = count.saturating_add(line.quantity.get());
    }
}

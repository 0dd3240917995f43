//! Orders: one aggregate per order (stream `order-{uuid}`), from placement to delivery, returns and refunds.
//!
//! ```text
//! pending           -> confirmed | rejected (no stock) | cancelled
//! confirmed         -> paid (captures reach the total) | expired (unpaid past reserved_until) | cancelled
//! paid              -> partially_shipped | shipped | cancelled
//! partially_shipped -> shipped | cancelled
//! shipped           -> delivered
//! ```
//!
//! Returns and refunds record goods and money coming back; they never change the status.
//!
//! Rules (all in [`decide`], each refusal an [`OrderError`] variant):
//! - placing needs at least one line, no SKU twice, one currency, unit prices not negative, and a positive total
//!   computed with checked arithmetic (free items may ride along, but an order of only free items would have
//!   nothing to pay, never become `paid` and so never ship). Prices come from the catalog
//!   ([`crate::catalog::price_lines`]), never the client. Input is bounded: at most [`MAX_LINES`] lines, each of
//!   at most [`Quantity::MAX`](crate::Quantity::MAX) units at a unit price of at most
//!   [`Money::MAX_PRICE`](crate::Money::MAX_PRICE), so a total is at most [`Money::MAX_AMOUNT`](crate::Money::MAX_AMOUNT);
//! - free text (customer id, payment reference, reasons, carrier, tracking number) never contains NUL
//!   ([`crate::values::storable_text`]);
//! - confirm and reject only a pending order;
//! - capture payment only on a confirmed order; partial captures add up, never beyond the total, in the order's
//!   currency; the order is `paid` once the captures reach the total;
//! - ship only a paid (or partially shipped) order, never more per SKU than ordered minus shipped; a shipment with
//!   no lines ships everything still unshipped; the order is `shipped` once every unit has left;
//! - deliver only a shipped order;
//! - cancel a pending, confirmed, paid or partially shipped order, never a shipped one;
//! - expire only a confirmed order (so not fully paid) whose `reserved_until` is at or before the command's `now`;
//! - return never more per SKU than shipped minus returned, from a partially shipped, shipped, delivered or
//!   cancelled order, with or without putting the units back on the shelf;
//! - refund never more than captured minus refunded, from a paid (or later) order, a cancelled or an expired one.
//!
//! **Partial captures and expiry.** An order that expires with part of its total captured keeps the money in
//! `paid` (nothing is lost from the record); `OrderExpired` carries it as `refundable`, and a refund may then be
//! issued from the expired order. The same holds for a cancelled order. Refunds never change the status, and a
//! confirmed order cannot be refunded (its payment is not complete: cancel it first).

mod decide;
mod error;
mod events;
mod evolve;
mod payments;
mod shipping;
mod state;
#[cfg(test)]
mod tests;
mod timeline;

pub use decide::decide;
pub use error::OrderError;

/// The most lines an order may have: 250.
pub const MAX_LINES: usize = 250;
pub use events::OrderEvent;
pub use evolve::evolve;
pub use state::{Order, PlacedOrder};
pub use timeline::OrderTimeline;

use crate::aggregate::Aggregate;
use crate::names::named_enum;
use crate::values::{CustomerId, LocationId, Money, OrderId, Quantity, ShipmentId, Sku};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

named_enum! {
    /// Where an order stands (see the module doc for the transitions).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum OrderStatus ("order status") {
        Pending = "pending",
        Confirmed = "confirmed",
        Paid = "paid",
        PartiallyShipped = "partially_shipped",
        Shipped = "shipped",
        Delivered = "delivered",
        Rejected = "rejected",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}

impl OrderStatus {
    /// Where an order may be cancelled from: anything not shipped whole and not yet ended.
    pub const CANCELLABLE: [OrderStatus; 4] =
        [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Paid, OrderStatus::PartiallyShipped];
    /// Where a shipment may be dispatched from: the payment is complete and units are left.
    pub const SHIPPABLE: [OrderStatus; 2] = [OrderStatus::Paid, OrderStatus::PartiallyShipped];
    /// Where goods may come back from: some were shipped.
    pub const RETURNABLE: [OrderStatus; 4] =
        [OrderStatus::PartiallyShipped, OrderStatus::Shipped, OrderStatus::Delivered, OrderStatus::Cancelled];
    /// Where a refund may be issued from: the payment is complete (paid and every later status), or the order was
    /// cancelled or expired, which may hold a capture; never a pending, rejected or confirmed order.
    pub const REFUNDABLE: [OrderStatus; 6] = [
        OrderStatus::Paid,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
    ];
}

named_enum! {
    /// What a command tried to do to an order, for [`OrderError::InvalidTransition`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum OrderAction ("order action") {
        Confirm = "confirm",
        Reject = "reject",
        CapturePayment = "capture_payment",
        Ship = "ship",
        Deliver = "deliver",
        Cancel = "cancel",
        Expire = "expire",
        Return = "return",
        Refund = "refund",
    }
}

/// A priced line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub quantity: Quantity,
    pub unit_price: Money,
}

/// Units of one SKU: shipped, returned, or still to release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// A line the inventory could not reserve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    pub sku: Sku,
    pub requested: Quantity,
    pub available: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCommand {
    /// `lines` priced by [`crate::catalog::price_lines`]; `placed_at` is the command side's clock.
    PlaceOrder {
        order_id: OrderId,
        customer_id: CustomerId,
        lines: Vec<OrderLine>,
        placed_at: DateTime<Utc>,
    },
    /// Every line is reserved; the stock is held until `reserved_until`.
    ConfirmOrder {
        reserved_until: DateTime<Utc>,
    },
    /// Some lines could not be reserved.
    RejectOrder {
        shortages: Vec<Shortage>,
    },
    CapturePayment {
        amount: Money,
        reference: String,
    },
    /// `lines` empty: ship everything still unshipped.
    DispatchShipment {
        shipment_id: ShipmentId,
        lines: Vec<ItemLine>,
        carrier: String,
        tracking_number: String,
    },
    DeliverOrder,
    CancelOrder {
        reason: String,
    },
    /// `now` is the expiry worker's clock.
    ExpireOrder {
        now: DateTime<Utc>,
    },
    /// `location`: where the goods came back (and are put back on the shelf when `restock`).
    ReceiveReturn {
        lines: Vec<ItemLine>,
        restock: bool,
        location: LocationId,
    },
    IssueRefund {
        amount: Money,
        reason: String,
    },
}

impl Aggregate for Order {
    const STREAM_PREFIX: &'static str = "order-";
    type Id = OrderId;
    type State = Order;
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(state: &Order, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        decide(state, command)
    }

    fn evolve(state: Order, event: &OrderEvent) -> Order {
        evolve(state, event)
    }
}

//! The order's stored events: the contract projections and auditors read. Past-tense names, tagged by `type`.

use super::{ItemLine, OrderLine, Shortage};
use crate::aggregate::Event;
use crate::values::{Currency, CustomerId, LocationId, Money, OrderId, ShipmentId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened to an order. Events that may change the status carry the outcome (`fully_paid`,
/// `fully_shipped`) and running totals (`paid_total`, `refunded_total`), so projections never recompute them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OrderEvent {
    OrderPlaced {
        order_id: OrderId,
        customer_id: CustomerId,
        lines: Vec<OrderLine>,
        currency: Currency,
        total: Money,
        placed_at: DateTime<Utc>,
    },
    OrderConfirmed {
        reserved_until: DateTime<Utc>,
    },
    OrderRejected {
        shortages: Vec<Shortage>,
    },
    /// `paid_total`: everything captured so far, this capture included.
    PaymentCaptured {
        amount: Money,
        reference: String,
        paid_total: Money,
        fully_paid: bool,
    },
    /// `lines`: what left in this shipment; `fully_shipped`: nothing of the order is left to ship.
    ShipmentDispatched {
        shipment_id: ShipmentId,
        lines: Vec<ItemLine>,
        carrier: String,
        tracking_number: String,
        fully_shipped: bool,
    },
    OrderDelivered {},
    /// `unshipped_lines`: the stock to release; `refundable`: captured minus refunded at cancellation.
    OrderCancelled {
        reason: String,
        unshipped_lines: Vec<ItemLine>,
        refundable: Money,
    },
    /// `unshipped_lines`: the stock to release; `refundable`: what a partial capture left to pay back.
    OrderExpired {
        unshipped_lines: Vec<ItemLine>,
        refundable: Money,
    },
    /// `restock`: the units go back on the shelf at `location`.
    ReturnReceived {
        lines: Vec<ItemLine>,
        restock: bool,
        location: LocationId,
    },
    /// `refunded_total`: everything refunded so far, this refund included.
    RefundIssued {
        amount: Money,
        reason: String,
        refunded_total: Money,
    },
}

impl Event for OrderEvent {
    fn event_type(&self) -> &'static str {
        match self {
            OrderEvent::OrderPlaced { .. } => "OrderPlaced",
            OrderEvent::OrderConfirmed { .. } => "OrderConfirmed",
            OrderEvent::OrderRejected { .. } => "OrderRejected",
            OrderEvent::PaymentCaptured { .. } => "PaymentCaptured",
            OrderEvent::ShipmentDispatched { .. } => "ShipmentDispatched",
            OrderEvent::OrderDelivered {} => "OrderDelivered",
            OrderEvent::OrderCancelled { .. } => "OrderCancelled",
            OrderEvent::OrderExpired { .. } => "OrderExpired",
            OrderEvent::ReturnReceived { .. } => "ReturnReceived",
            OrderEvent::RefundIssued { .. } => "RefundIssued",
        }
    }

    fn schema_version(&self) -> u16 {
        match self {
            OrderEvent::OrderPlaced { .. }
            | OrderEvent::OrderConfirmed { .. }
            | OrderEvent::OrderRejected { .. }
            | OrderEvent::PaymentCaptured { .. }
            | OrderEvent::ShipmentDispatched { .. }
            | OrderEvent::OrderDelivered {}
            | OrderEvent::OrderCancelled { .. }
            | OrderEvent::OrderExpired { .. }
            | OrderEvent::ReturnReceived { .. }
            | OrderEvent::RefundIssued { .. } => 1,
        }
    }
}

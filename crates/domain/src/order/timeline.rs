//! An order's timeline: when each state change was recorded, and what its events say that the decider's state
//! does not keep (the shortages of a rejection, the reason of a cancellation).
//!
//! The decider never needs these, so [`PlacedOrder`](super::PlacedOrder) leaves them out; readers do (the orders
//! read model, the API's answer to an order command). [`OrderTimeline::record`] is the one rule for them: it is
//! given each event with the time the store recorded it (a value, never a clock read), in stream order.

use super::{OrderEvent, Shortage};
use chrono::{DateTime, Utc};

/// When an order reached each status, and the facts that came with those changes. `None`: not (yet) happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderTimeline {
    pub confirmed_at: Option<DateTime<Utc>>,
    pub rejected_at: Option<DateTime<Utc>>,
    /// When the captures reached the total.
    pub paid_at: Option<DateTime<Utc>>,
    /// The first partial shipment.
    pub partially_shipped_at: Option<DateTime<Utc>>,
    /// The shipment that left nothing to ship.
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub last_returned_at: Option<DateTime<Utc>>,
    pub last_refunded_at: Option<DateTime<Utc>>,
    /// What a rejected order could not get.
    pub shortages: Option<Vec<Shortage>>,
    /// Why a cancelled order was cancelled (empty when no reason was given).
    pub cancel_reason: Option<String>,
}

impl OrderTimeline {
    /// Takes in `event`, recorded at `at`.
    pub fn record(&mut self, event: &OrderEvent, at: DateTime<Utc>) {
        let at = Some(at);
        match event {
            OrderEvent::OrderPlaced { .. } => {}
            OrderEvent::OrderConfirmed { .. } => self.confirmed_at = at,
            OrderEvent::OrderRejected { shortages } => {
                self.rejected_at = at;
                self.shortages = Some(shortages.clone());
            }
            OrderEvent::PaymentCaptured { fully_paid, .. } => {
                if *fully_paid {
                    self.paid_at = at;
                }
            }
            OrderEvent::ShipmentDispatched { fully_shipped, .. } => {
                if *fully_shipped {
                    self.shipped_at = at;
                } else {
                    self.partially_shipped_at = self.partially_shipped_at.or(at);
                }
            }
            OrderEvent::OrderDelivered {} => self.delivered_at = at,
            OrderEvent::OrderCancelled { reason, .. } => {
                self.cancelled_at = at;
                self.cancel_reason = Some(reason.clone());
            }
            OrderEvent::OrderExpired { .. } => self.expired_at = at,
            OrderEvent::ReturnReceived { .. } => self.last_returned_at = at,
            OrderEvent::RefundIssued { .. } => self.last_refunded_at = at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::ItemLine;
    use crate::values::{Currency, LocationId, Money, Quantity, ShipmentId, Sku};
    use chrono::TimeZone;
    use uuid::Uuid;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 12, minute, 0).unwrap()
    }

    fn shipment(fully_shipped: bool) -> OrderEvent {
        let line = ItemLine { sku: Sku::parse("A").unwrap(), quantity: Quantity::new(1).unwrap() };
        OrderEvent::ShipmentDispatched {
            shipment_id: ShipmentId::from_uuid(Uuid::from_u128(1)),
            lines: vec![line],
            carrier: String::new(),
            tracking_number: String::new(),
            fully_shipped,
        }
    }

    #[test]
    fn each_change_keeps_its_time_and_partial_shipping_its_first() {
        let eur = Currency::parse("EUR").unwrap();
        let mut timeline = OrderTimeline::default();
        let events = [
            OrderEvent::OrderConfirmed { reserved_until: at(30) },
            OrderEvent::PaymentCaptured {
                amount: Money::new(1, eur),
                reference: String::new(),
                paid_total: Money::new(1, eur),
                fully_paid: false,
            },
            OrderEvent::PaymentCaptured {
                amount: Money::new(1, eur),
                reference: String::new(),
                paid_total: Money::new(2, eur),
                fully_paid: true,
            },
            shipment(false),
            shipment(false),
            shipment(true),
            OrderEvent::ReturnReceived { lines: vec![], restock: false, location: LocationId::main() },
            OrderEvent::RefundIssued {
                amount: Money::new(1, eur),
                reason: String::new(),
                refunded_total: Money::new(1, eur),
            },
        ];
        for (minute, event) in (1..).zip(&events) {
            timeline.record(event, at(minute));
        }
        assert_eq!(timeline.confirmed_at, Some(at(1)));
        assert_eq!(timeline.paid_at, Some(at(3)), "paid when the captures reach the total");
        assert_eq!(timeline.partially_shipped_at, Some(at(4)), "the first partial shipment");
        assert_eq!(timeline.shipped_at, Some(at(6)));
        assert_eq!((timeline.last_returned_at, timeline.last_refunded_at), (Some(at(7)), Some(at(8))));
        assert_eq!((timeline.cancelled_at, timeline.cancel_reason), (None, None));
    }
}

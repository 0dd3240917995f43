//! Given/when/then tests of every order rule and every invalid transition, with shared fixtures.
//!
//! The standard order: 2 x `A` at 10.00 EUR and 1 x `B` at 5.00 EUR, total 25.00 EUR. `history(status)` gives the
//! events that bring it to each status.

mod lifecycle;
mod payments;
mod shipping;
mod transitions;

use super::*;
use crate::testing::{self, Given};
use crate::values::Currency;
use chrono::TimeZone;
use uuid::Uuid;

fn given(events: &[OrderEvent]) -> Given<Order> {
    testing::given(events)
}

fn order_id() -> OrderId {
    OrderId::from_uuid(Uuid::from_u128(0x0193))
}

fn sku(code: &str) -> Sku {
    Sku::parse(code).unwrap()
}

fn qty(units: u32) -> Quantity {
    Quantity::new(units).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").unwrap())
}

/// 2026-11-21 at `hour:minute` UTC.
fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, hour, minute, 0).unwrap()
}

fn line(code: &str, units: u32, unit_price: Money) -> OrderLine {
    OrderLine { sku: sku(code), quantity: qty(units), unit_price }
}

fn item(code: &str, units: u32) -> ItemLine {
    ItemLine { sku: sku(code), quantity: qty(units) }
}

fn standard_lines() -> Vec<OrderLine> {
    vec![line("A", 2, eur(1000)), line("B", 1, eur(500))]
}

// Commands.

fn place(lines: Vec<OrderLine>) -> OrderCommand {
    OrderCommand::PlaceOrder {
        order_id: order_id(),
        customer_id: CustomerId::parse("cus-42").unwrap(),
        lines,
        placed_at: at(12, 0),
    }
}

fn capture(amount: Money) -> OrderCommand {
    OrderCommand::CapturePayment { amount, reference: "psp_123".to_owned() }
}

fn ship(lines: Vec<ItemLine>) -> OrderCommand {
    OrderCommand::DispatchShipment {
        shipment_id: ShipmentId::from_uuid(Uuid::from_u128(7)),
        lines,
        carrier: "dhl".to_owned(),
        tracking_number: "1Z999".to_owned(),
    }
}

fn cancel() -> OrderCommand {
    OrderCommand::CancelOrder { reason: "customer request".to_owned() }
}

fn expire(now: DateTime<Utc>) -> OrderCommand {
    OrderCommand::ExpireOrder { now }
}

fn return_items(lines: Vec<ItemLine>) -> OrderCommand {
    OrderCommand::ReceiveReturn { lines, restock: true, location: LocationId::main() }
}

fn refund(amount: Money) -> OrderCommand {
    OrderCommand::IssueRefund { amount, reason: "returned".to_owned() }
}

// Events.

fn placed() -> OrderEvent {
    OrderEvent::OrderPlaced {
        order_id: order_id(),
        customer_id: CustomerId::parse("cus-42").unwrap(),
        lines: standard_lines(),
        currency: Currency::parse("EUR").unwrap(),
        total: eur(2500),
        placed_at: at(12, 0),
    }
}

fn confirmed() -> OrderEvent {
    OrderEvent::OrderConfirmed { reserved_until: at(12, 30) }
}

fn captured(amount: i64, paid_total: i64) -> OrderEvent {
    OrderEvent::PaymentCaptured {
        amount: eur(amount),
        reference: "psp_123".to_owned(),
        paid_total: eur(paid_total),
        fully_paid: paid_total == 2500,
    }
}

fn shipped(lines: Vec<ItemLine>, fully_shipped: bool) -> OrderEvent {
    OrderEvent::ShipmentDispatched {
        shipment_id: ShipmentId::from_uuid(Uuid::from_u128(7)),
        lines,
        carrier: "dhl".to_owned(),
        tracking_number: "1Z999".to_owned(),
        fully_shipped,
    }
}

fn returned(lines: Vec<ItemLine>) -> OrderEvent {
    OrderEvent::ReturnReceived { lines, restock: true, location: LocationId::main() }
}

fn refunded(amount: i64, refunded_total: i64) -> OrderEvent {
    OrderEvent::RefundIssued { amount: eur(amount), reason: "returned".to_owned(), refunded_total: eur(refunded_total) }
}

/// The events that bring the standard order to `status`.
fn history(status: OrderStatus) -> Vec<OrderEvent> {
    let paid = vec![placed(), confirmed(), captured(2500, 2500)];
    let partially_shipped = [paid.clone(), vec![shipped(vec![item("A", 1)], false)]].concat();
    let shipped_all = [paid.clone(), vec![shipped(vec![item("A", 2), item("B", 1)], true)]].concat();
    match status {
        OrderStatus::Pending => vec![placed()],
        OrderStatus::Confirmed => vec![placed(), confirmed()],
        OrderStatus::Paid => paid,
        OrderStatus::PartiallyShipped => partially_shipped,
        OrderStatus::Shipped => shipped_all,
        OrderStatus::Delivered => [shipped_all, vec![OrderEvent::OrderDelivered {}]].concat(),
        OrderStatus::Rejected => vec![placed(), OrderEvent::OrderRejected { shortages: Vec::new() }],
        OrderStatus::Cancelled => [
            partially_shipped,
            vec![OrderEvent::OrderCancelled {
                reason: "customer request".to_owned(),
                unshipped_lines: vec![item("A", 1), item("B", 1)],
                refundable: eur(2500),
            }],
        ]
        .concat(),
        OrderStatus::Expired => vec![
            placed(),
            confirmed(),
            OrderEvent::OrderExpired { unshipped_lines: vec![item("A", 2), item("B", 1)], refundable: eur(0) },
        ],
    }
}

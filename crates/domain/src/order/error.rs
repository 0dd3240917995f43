//! `OrderError`: why an order refused a command. One variant per rule, so callers match on the rule, never on text.

use super::{OrderAction, OrderStatus};
use crate::values::{Currency, Money, OrderId, Sku};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("order is not placed")]
    NotPlaced,
    #[error("order {order_id} is already placed")]
    AlreadyPlaced { order_id: OrderId },
    #[error("invalid transition: {action} is not allowed on a {from} order")]
    InvalidTransition { from: OrderStatus, action: OrderAction },
    #[error("at least one line is required")]
    NoLines,
    #[error("an order has at most {max} lines")]
    TooManyLines { max: usize },
    #[error("the quantity of {sku} must be at most {max}")]
    QuantityTooLarge { sku: Sku, max: u32 },
    #[error("the unit price of {sku} must be at most {max} minor units")]
    UnitPriceTooHigh { sku: Sku, max: i64 },
    #[error("{field} must not contain a nul character (u+0000)")]
    NulInText { field: &'static str },
    #[error("sku {sku} appears on more than one line")]
    DuplicateSku { sku: Sku },
    #[error("lines mix currencies: {expected} and {found} (sku {sku})")]
    MixedCurrencies { sku: Sku, expected: Currency, found: Currency },
    #[error("the unit price of {sku} is negative")]
    NegativeUnitPrice { sku: Sku },
    #[error("the order total must be positive")]
    ZeroTotal,
    #[error("the order total overflows")]
    TotalOverflow,
    #[error("the amount must be positive")]
    NonPositiveAmount,
    #[error("the amount is in {found}, the order in {expected}")]
    CurrencyMismatch { expected: Currency, found: Currency },
    #[error("a capture of {requested} exceeds the outstanding {outstanding}")]
    OverCapture { requested: Money, outstanding: Money },
    #[error("a refund of {requested} exceeds the refundable {refundable}")]
    OverRefund { requested: Money, refundable: Money },
    #[error("sku {sku} is not in the order")]
    UnknownSku { sku: Sku },
    #[error("cannot ship {requested} of {sku}: {remaining} left to ship")]
    OverShipment { sku: Sku, requested: u32, remaining: u32 },
    #[error("cannot return {requested} of {sku}: {returnable} returnable")]
    OverReturn { sku: Sku, requested: u32, returnable: u32 },
    #[error("the reservation holds until {reserved_until}, not expired at {now}")]
    NotYetExpired { reserved_until: DateTime<Utc>, now: DateTime<Utc> },
}

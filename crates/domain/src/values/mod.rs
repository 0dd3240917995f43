//! Value types: small validated newtypes shared by every aggregate.
//!
//! Each type enforces its invariant in its constructor (`parse`/`new`) and again when it is deserialized, so a
//! value that exists is a valid value. Fields are private and there are no setters.
//!
//! - [`Sku`], [`LocationId`], [`CustomerId`]: validated text identifiers (`ids.rs`).
//! - [`OrderId`], [`ShipmentId`], [`ReturnId`]: UUID identifiers, chosen by the caller (`ids.rs`).
//! - [`Quantity`]: a positive count of units (`quantity.rs`).
//! - [`Currency`], [`Money`]: integer minor units plus an ISO 4217 code, never floats (`money.rs`).

mod ids;
mod money;
mod quantity;

pub use ids::{CustomerId, LocationId, OrderId, ReturnId, ShipmentId, Sku};
pub use money::{Currency, Money};
pub use quantity::Quantity;

/// Why a value could not be built, or why arithmetic on values was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("sku must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    InvalidSku,
    #[error("location id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    InvalidLocationId,
    #[error("customer id must be 1 to 128 characters without control characters")]
    InvalidCustomerId,
    #[error("order id must be a uuid")]
    InvalidOrderId,
    #[error("shipment id must be a uuid")]
    InvalidShipmentId,
    #[error("return id must be a uuid")]
    InvalidReturnId,
    #[error("quantity must be a positive integer")]
    ZeroQuantity,
    #[error("quantity overflow")]
    QuantityOverflow,
    #[error("quantity underflow: the result would not be positive")]
    QuantityUnderflow,
    #[error("currency must be an iso 4217 code of three uppercase letters")]
    InvalidCurrency,
    #[error("currency mismatch: expected {expected}, found {found}")]
    CurrencyMismatch { expected: Currency, found: Currency },
    #[error("money amount overflow")]
    AmountOverflow,
}

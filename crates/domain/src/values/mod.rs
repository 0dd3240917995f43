//! Value types: small validated newtypes shared by every aggregate.
//!
//! Each type enforces its invariant in its constructor (`parse`/`new`) and again when it is deserialized, so a
//! value that exists is a valid value. Fields are private and there are no setters.
//!
//! - [`Sku`], [`LocationId`], [`CustomerId`]: validated text identifiers (`ids.rs`).
//! - [`OrderId`], [`ShipmentId`], [`ReturnId`]: UUID identifiers, chosen by the caller (`ids.rs`).
//! - [`Quantity`]: a positive count of units (`quantity.rs`).
//! - [`Currency`], [`Money`]: integer minor units plus an ISO 4217 code, never floats (`money.rs`).
//! - [`storable_text`]: the check every free text of a command passes (no NUL, which PostgreSQL cannot store).

mod ids;
mod money;
mod quantity;

pub use ids::{ApiKeyId, CustomerId, LocationId, OrderId, ReturnId, ShipmentId, Sku, WebhookId};
pub use money::{Currency, Money};
pub use quantity::Quantity;

/// Refuses text PostgreSQL cannot store: U+0000 (NUL) is not allowed in `text` or `jsonb`. The deciders check
/// every free text of a command with it (names, references, reasons, carriers, tracking numbers), so such text is
/// a typed refusal and never reaches the store, where it would fail a whole writer batch.
pub fn storable_text(text: &str) -> Result<(), ValueError> {
    if text.contains('\0') {
        Err(ValueError::NulInText)
    } else {
        Ok(())
    }
}

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
    #[error("api key id must be a uuid")]
    InvalidApiKeyId,
    #[error("webhook id must be a uuid")]
    InvalidWebhookId,
    #[error("quantity must be a positive integer")]
    ZeroQuantity,
    #[error("quantity must be at most {max}")]
    QuantityTooLarge { max: u32 },
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
    #[error("amount must be at most {max} minor units")]
    AmountTooLarge { max: i64 },
    #[error("text must not contain a nul character (u+0000)")]
    NulInText,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storable_text_refuses_only_nul() {
        assert_eq!(storable_text(""), Ok(()));
        assert_eq!(storable_text("Zoë\ttab"), Ok(()));
        assert_eq!(storable_text("a\0b"), Err(ValueError::NulInText));
    }
}

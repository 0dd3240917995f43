//! `DomainError`: any refusal from the domain, for callers that handle every aggregate alike.
//!
//! Each aggregate refuses with its own enum (`CatalogError`, `InventoryError`, `OrderError`, `AccessError`,
//! `WebhookError`), and value types with
//! `ValueError`; each converts into `DomainError` with `From`, so `?` lifts any of them. Messages are lowercase,
//! without a trailing period, and safe to log; the API maps variants to problem types, never echoing the text.

use crate::{AccessError, CatalogError, InventoryError, OrderError, ValueError, WebhookError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::AdjustmentReason;
    use crate::order::{OrderAction, OrderStatus};
    use crate::values::{Currency, LocationId, Money, OrderId, Sku};
    use chrono::{TimeZone, Utc};

    fn lift<E: Into<DomainError>>(error: E) -> DomainError {
        error.into()
    }

    #[test]
    fn every_error_lifts_into_a_domain_error() {
        assert!(matches!(lift(ValueError::InvalidSku), DomainError::Value(ValueError::InvalidSku)));
        assert!(matches!(lift(CatalogError::NotRegistered), DomainError::Catalog(CatalogError::NotRegistered)));
        assert!(matches!(lift(InventoryError::ZeroAdjustment), DomainError::Inventory(InventoryError::ZeroAdjustment)));
        assert!(matches!(lift(OrderError::NotPlaced), DomainError::Order(OrderError::NotPlaced)));
    }

    /// Every variant, so a new one with a capitalised or period-terminated message fails here.
    fn every_error() -> Vec<DomainError> {
        let sku = Sku::parse("TEE-RED-M").unwrap();
        let location = LocationId::main();
        let order_id = OrderId::parse("0193a4b2-7c1e-7d3a-9f00-1234567890ab").unwrap();
        let (eur, usd) = (Currency::parse("EUR").unwrap(), Currency::parse("USD").unwrap());
        let money = Money::new(1999, eur);
        let time = Utc.with_ymd_and_hms(2026, 11, 21, 12, 30, 0).unwrap();
        let values = [
            ValueError::InvalidSku,
            ValueError::InvalidLocationId,
            ValueError::InvalidCustomerId,
            ValueError::InvalidOrderId,
            ValueError::InvalidShipmentId,
            ValueError::InvalidReturnId,
            ValueError::InvalidApiKeyId,
            ValueError::ZeroQuantity,
            ValueError::QuantityOverflow,
            ValueError::QuantityUnderflow,
            ValueError::InvalidCurrency,
            ValueError::CurrencyMismatch { expected: eur, found: usd },
            ValueError::AmountOverflow,
            ValueError::QuantityTooLarge { max: 1 },
            ValueError::AmountTooLarge { max: 1 },
            ValueError::NulInText,
        ];
        let catalog = [
            CatalogError::AlreadyRegistered { sku: sku.clone() },
            CatalogError::NotRegistered,
            CatalogError::Discontinued { sku: sku.clone() },
            CatalogError::EmptyName,
            CatalogError::NameTooLong { max: 200 },
            CatalogError::NegativePrice,
            CatalogError::ControlCharacterInName,
            CatalogError::PriceTooHigh { max: 1 },
            CatalogError::CurrencyChange { current: eur, requested: usd },
            CatalogError::UnknownProduct { sku: sku.clone() },
            CatalogError::MixedCurrencies { sku: sku.clone(), expected: eur, found: usd },
        ];
        let inventory = [
            InventoryError::InsufficientStock { requested: 2, available: 1 },
            InventoryError::ZeroAdjustment,
            InventoryError::AdjustmentSignMismatch { reason: AdjustmentReason::Damaged, delta: 1 },
            InventoryError::AdjustmentBelowZero { location: location.clone(), on_hand: 1, delta: -2 },
            InventoryError::AdjustmentBelowReserved { location: location.clone(), on_hand: 3, reserved: 2, delta: -2 },
            InventoryError::QuantityOverflow { location },
            InventoryError::QuantityTooLarge { max: 1 },
            InventoryError::NulInReference,
            InventoryError::NoActiveReservation { order_id },
            InventoryError::CommitExceedsReservation { order_id, requested: 3, reserved: 2 },
        ];
        let orders = [
            OrderError::NotPlaced,
            OrderError::AlreadyPlaced { order_id },
            OrderError::InvalidTransition { from: OrderStatus::PartiallyShipped, action: OrderAction::CapturePayment },
            OrderError::NoLines,
            OrderError::DuplicateSku { sku: sku.clone() },
            OrderError::TooManyLines { max: 1 },
            OrderError::QuantityTooLarge { sku: sku.clone(), max: 1 },
            OrderError::UnitPriceTooHigh { sku: sku.clone(), max: 1 },
            OrderError::NulInText { field: "reason" },
            OrderError::MixedCurrencies { sku: sku.clone(), expected: eur, found: usd },
            OrderError::NegativeUnitPrice { sku: sku.clone() },
            OrderError::ZeroTotal,
            OrderError::TotalOverflow,
            OrderError::NonPositiveAmount,
            OrderError::CurrencyMismatch { expected: eur, found: usd },
            OrderError::OverCapture { requested: money, outstanding: money },
            OrderError::OverRefund { requested: money, refundable: money },
            OrderError::UnknownSku { sku: sku.clone() },
            OrderError::OverShipment { sku: sku.clone(), requested: 2, remaining: 1 },
            OrderError::OverReturn { sku, requested: 2, returnable: 1 },
            OrderError::NotYetExpired { reserved_until: time, now: time },
        ];
        let access = [
            AccessError::AlreadyIssued { key_id: crate::ApiKeyId::from_uuid(order_id.as_uuid()) },
            AccessError::NotIssued,
            AccessError::EmptyName,
            AccessError::NameTooLong { max: 1 },
            AccessError::ControlCharacterInName,
        ];
        let mut all: Vec<DomainError> = values.into_iter().map(DomainError::from).collect();
        all.extend(access.into_iter().map(DomainError::from));
        all.extend(catalog.into_iter().map(DomainError::from));
        all.extend(inventory.into_iter().map(DomainError::from));
        all.extend(orders.into_iter().map(DomainError::from));
        all
    }

    #[test]
    fn messages_are_lowercase_without_a_trailing_period() {
        for error in every_error() {
            let message = error.to_string();
            let first = message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{message:?} starts with a capital");
            assert!(!message.ends_with('.'), "{message:?} ends with a period");
        }
    }
}

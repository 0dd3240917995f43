//! `CommandError`: why a command was not carried out, typed so the HTTP layer can pick a problem type per kind.
//!
//! The domain's refusals are kept whole ([`DomainError`], e.g. `InsufficientStock`, `InvalidTransition`, value
//! validation), except "no such product/order", which becomes [`CommandError::NotFound`]. The error is `Clone`:
//! a stream writer answers every caller of a failed batch with the same error.

use tally_domain::{AccessError, CatalogError, DomainError, InventoryError, OrderError, OrderId, WebhookError};
use tally_store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    /// The domain refused the command (validation, a business rule, an invalid transition).
    #[error(transparent)]
    Domain(#[from] DomainError),

    /// The product, inventory or order the command is about does not exist.
    #[error("{stream_id} not found")]
    NotFound { stream_id: String },

    /// The client's expected version (HTTP `If-Match`) is not the stream's version (`None`: no stream).
    #[error("version mismatch on {stream_id}: expected {expected}, actual {}", describe(*actual))]
    VersionMismatch { stream_id: String, expected: u64, actual: Option<u64> },

    /// Other processes kept appending to the stream: every retry found it moved on.
    #[error("gave up on {stream_id} after {attempts} concurrent-write conflicts")]
    Contention { stream_id: String, attempts: u32 },

    /// A stored event of the stream does not decode as the aggregate's event (written behind Tally's back).
    #[error("stored event {version} of {stream_id} does not decode: {reason}")]
    Corrupt { stream_id: String, version: u64, reason: String },

    /// The event store failed. For an append the outcome may be unknown; the command can be repeated.
    #[error("event store error")]
    Store(#[from] StoreError),

    /// The order id exists and its first placement has not finished (in flight, or interrupted by a crash and
    /// waiting for the recovery worker): retry later.
    #[error("order {order_id} is still being placed")]
    OrderPending { order_id: OrderId },

    /// A keyed command's earlier attempt is recorded on the stream (its derived event ids are stored). The
    /// writer answers this; the caller then reads that attempt's outcome from the log instead.
    #[error("an earlier attempt of this command is recorded on {stream_id}")]
    AlreadyRecorded { stream_id: String },

    /// The stream's writer task stopped before answering (the runtime is shutting down).
    #[error("the writer of {stream_id} stopped before answering")]
    WriterStopped { stream_id: String },
}

impl CommandError {
    /// A domain refusal on `stream_id`, with "not registered" and "not placed" turned into [`Self::NotFound`].
    pub(crate) fn refusal(stream_id: &str, error: DomainError) -> Self {
        match error {
            DomainError::Catalog(CatalogError::NotRegistered)
            | DomainError::Order(OrderError::NotPlaced)
            | DomainError::Access(AccessError::NotIssued)
            | DomainError::Webhook(WebhookError::NotSubscribed) => {
                CommandError::NotFound { stream_id: stream_id.to_owned() }
            }
            other => CommandError::Domain(other),
        }
    }

    /// The domain refusal, if this is one.
    pub fn domain(&self) -> Option<&DomainError> {
        match self {
            CommandError::Domain(error) => Some(error),
            _ => None,
        }
    }

    /// What kind of failure this is, for the API's problem types. Every domain variant is classified here
    /// explicitly (no wildcard), so a new refusal cannot reach clients unclassified.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommandError::Domain(error) => domain_kind(error),
            CommandError::NotFound { .. } => ErrorKind::NotFound,
            CommandError::VersionMismatch { .. } => ErrorKind::VersionMismatch,
            CommandError::OrderPending { .. } => ErrorKind::Conflict,
            CommandError::Contention { .. }
            | CommandError::Store(_)
            | CommandError::WriterStopped { .. }
            | CommandError::AlreadyRecorded { .. } => ErrorKind::Unavailable,
            CommandError::Corrupt { .. } => ErrorKind::Internal,
        }
    }
}

/// The kinds of [`CommandError`], one per problem type the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The command is malformed or breaks a rule whatever the state (HTTP 422 `validation`).
    Validation,
    /// No such product or order (404 `not-found`).
    NotFound,
    /// Not enough stock (409 `insufficient-stock`).
    InsufficientStock,
    /// The aggregate's state does not allow the command (409 `invalid-transition`).
    InvalidTransition,
    /// The client's expected version is not the stream's (412 `version-conflict`).
    VersionMismatch,
    /// It exists already, or is being created right now (409).
    Conflict,
    /// The store is failing or too contended: retry later (503 `unavailable`).
    Unavailable,
    /// Stored data Tally cannot read (500 `internal`).
    Internal,
}

fn domain_kind(error: &DomainError) -> ErrorKind {
    match error {
        DomainError::Value(_) => ErrorKind::Validation,
        DomainError::Catalog(error) => match error {
            CatalogError::AlreadyRegistered { .. } => ErrorKind::Conflict,
            CatalogError::NotRegistered => ErrorKind::NotFound,
            CatalogError::Discontinued { .. } => ErrorKind::InvalidTransition,
            CatalogError::EmptyName
            | CatalogError::NameTooLong { .. }
            | CatalogError::NegativePrice
            | CatalogError::ControlCharacterInName
            | CatalogError::PriceTooHigh { .. }
            | CatalogError::CurrencyChange { .. }
            | CatalogError::UnknownProduct { .. }
            | CatalogError::MixedCurrencies { .. } => ErrorKind::Validation,
        },
        DomainError::Inventory(error) => match error {
            InventoryError::InsufficientStock { .. }
            | InventoryError::AdjustmentBelowZero { .. }
            | InventoryError::AdjustmentBelowReserved { .. } => ErrorKind::InsufficientStock,
            InventoryError::ZeroAdjustment
            | InventoryError::AdjustmentSignMismatch { .. }
            | InventoryError::QuantityOverflow { .. }
            | InventoryError::QuantityTooLarge { .. }
            | InventoryError::NulInReference => ErrorKind::Validation,
            InventoryError::NoActiveReservation { .. } | InventoryError::CommitExceedsReservation { .. } => {
                ErrorKind::InvalidTransition
            }
        },
        DomainError::Order(error) => match error {
            OrderError::NotPlaced => ErrorKind::NotFound,
            OrderError::AlreadyPlaced { .. } => ErrorKind::Conflict,
            OrderError::InvalidTransition { .. } | OrderError::NotYetExpired { .. } => ErrorKind::InvalidTransition,
            OrderError::NoLines
            | OrderError::DuplicateSku { .. }
            | OrderError::TooManyLines { .. }
            | OrderError::QuantityTooLarge { .. }
            | OrderError::UnitPriceTooHigh { .. }
            | OrderError::NulInText { .. }
            | OrderError::MixedCurrencies { .. }
            | OrderError::NegativeUnitPrice { .. }
            | OrderError::ZeroTotal
            | OrderError::TotalOverflow
            | OrderError::NonPositiveAmount
            | OrderError::CurrencyMismatch { .. }
            | OrderError::OverCapture { .. }
            | OrderError::OverRefund { .. }
            | OrderError::UnknownSku { .. }
            | OrderError::OverShipment { .. }
            | OrderError::OverReturn { .. } => ErrorKind::Validation,
        },
        DomainError::Access(error) => match error {
            AccessError::AlreadyIssued { .. } => ErrorKind::Conflict,
            AccessError::NotIssued => ErrorKind::NotFound,
            AccessError::EmptyName | AccessError::NameTooLong { .. } | AccessError::ControlCharacterInName => {
                ErrorKind::Validation
            }
        },
        DomainError::Webhook(error) => match error {
            WebhookError::AlreadySubscribed { .. } => ErrorKind::Conflict,
            // A deleted subscription is gone for every command but a repeated delete (which records nothing).
            WebhookError::NotSubscribed | WebhookError::Deleted => ErrorKind::NotFound,
            WebhookError::InvalidUrl { .. }
            | WebhookError::InvalidEventType(_)
            | WebhookError::DuplicateEventType(_)
            | WebhookError::TooManyEventTypes { .. }
            | WebhookError::InvalidStreamPrefix { .. }
            | WebhookError::InvalidReason { .. } => ErrorKind::Validation,
        },
    }
}

fn describe(version: Option<u64>) -> String {
    match version {
        Some(version) => format!("version {version}"),
        None => "no stream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::InventoryError;

    #[test]
    fn not_registered_and_not_placed_become_not_found() {
        let error = CommandError::refusal("product-X", CatalogError::NotRegistered.into());
        assert!(matches!(error, CommandError::NotFound { stream_id } if stream_id == "product-X"));
        let error = CommandError::refusal("order-1", OrderError::NotPlaced.into());
        assert!(matches!(error, CommandError::NotFound { .. }));
    }

    #[test]
    fn other_refusals_stay_typed() {
        let refusal = InventoryError::InsufficientStock { requested: 2, available: 1 };
        let error = CommandError::refusal("inventory-X", refusal.clone().into());
        assert_eq!(error.domain(), Some(&DomainError::Inventory(refusal)));
    }

    #[test]
    fn errors_are_classified_for_the_api() {
        let stock = CommandError::Domain(InventoryError::InsufficientStock { requested: 2, available: 1 }.into());
        assert_eq!(stock.kind(), ErrorKind::InsufficientStock);
        let transition = CommandError::Domain(
            OrderError::InvalidTransition {
                from: tally_domain::order::OrderStatus::Shipped,
                action: tally_domain::order::OrderAction::Cancel,
            }
            .into(),
        );
        assert_eq!(transition.kind(), ErrorKind::InvalidTransition);
        assert_eq!(CommandError::Domain(tally_domain::ValueError::ZeroQuantity.into()).kind(), ErrorKind::Validation);
        let mismatch = CommandError::VersionMismatch { stream_id: "order-1".into(), expected: 1, actual: Some(2) };
        assert_eq!(mismatch.kind(), ErrorKind::VersionMismatch);
        assert_eq!(CommandError::NotFound { stream_id: "order-1".into() }.kind(), ErrorKind::NotFound);
        assert_eq!(CommandError::Store(StoreError::WriterStopped).kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn messages_are_lowercase() {
        let error = CommandError::VersionMismatch { stream_id: "order-1".into(), expected: 3, actual: None };
        assert_eq!(error.to_string(), "version mismatch on order-1: expected 3, actual no stream");
    }
}

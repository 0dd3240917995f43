//! Command errors as problem+json: one place that turns a `CommandError` into a `Problem` with the status and
//! stable `type` clients code against (DESIGN.md, "HTTP API").
//!
//! | `ErrorKind`          | status | `type`                |
//! | -------------------- | ------ | --------------------- |
//! | `Validation`         | 422    | `validation`          |
//! | `NotFound`           | 404    | `not-found`           |
//! | `InsufficientStock`  | 409    | `insufficient-stock`  |
//! | `InvalidTransition`  | 409    | `invalid-transition`  |
//! | `VersionMismatch`    | 412    | `version-conflict` (the `If-Match` did not hold) |
//! | `Conflict`           | 409    | `version-conflict` (already exists, or its first placement is in flight) |
//! | `Unavailable`        | 503    | `unavailable` + `Retry-After` (store failing, contention: safe to retry) |
//! | `Internal`           | 500    | `internal`            |
//!
//! Contention is a 503, not a 409: the client did nothing wrong and the same request will most likely succeed,
//! and a 5xx is what lets it be retried with the same `Idempotency-Key` (see `idempotency.rs`).
//!
//! A domain refusal's message names the rule the request broke (the domain keeps them lowercase and free of
//! internals), so it is the `detail`. Store and internal failures are logged with their cause chain here and
//! answered with a fixed text: their own text never reaches the client.

use crate::problem::{Problem, ProblemKind};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::error::Error;
use tally_commands::{CommandError, ErrorKind};
use tally_domain::order::Shortage;
use tally_domain::{DomainError, InventoryError, OrderError, OrderId};

impl From<CommandError> for Problem {
    fn from(error: CommandError) -> Self {
        command_problem(&error)
    }
}

/// The problem for a command that failed.
pub(crate) fn command_problem(error: &CommandError) -> Problem {
    match error.kind() {
        ErrorKind::Validation => Problem::new(ProblemKind::Validation, refusal_detail(error)),
        ErrorKind::NotFound => Problem::new(ProblemKind::NotFound, not_found_detail(error)),
        ErrorKind::InsufficientStock => stock_problem(error),
        ErrorKind::InvalidTransition => transition_problem(error),
        ErrorKind::VersionMismatch => match error {
            CommandError::VersionMismatch { expected, actual, .. } => {
                Problem::new(ProblemKind::VersionConflict, "the resource is not at the version given in If-Match")
                    .with_status(StatusCode::PRECONDITION_FAILED)
                    .with_extension("expected_version", json!(expected))
                    .with_extension("current_version", json!(actual))
            }
            _ => Problem::new(ProblemKind::VersionConflict, refusal_detail(error))
                .with_status(StatusCode::PRECONDITION_FAILED),
        },
        ErrorKind::Conflict => match error {
            CommandError::OrderPending { order_id } => Problem::new(
                ProblemKind::VersionConflict,
                format!("order {order_id} is still being placed by an earlier request: retry shortly"),
            )
            .with_retry_after(1),
            _ => Problem::new(ProblemKind::VersionConflict, refusal_detail(error)),
        },
        ErrorKind::Unavailable => {
            tracing::warn!(error = %cause_chain(error), "command failed: unavailable");
            Problem::new(
                ProblemKind::Unavailable,
                "the command could not be carried out now; retry it (with the same Idempotency-Key)",
            )
            .with_retry_after(1)
        }
        ErrorKind::Internal => internal(error),
    }
}

/// A 500 for an unexpected failure: the cause chain is logged, a fixed text is answered.
pub(crate) fn internal(error: &dyn Error) -> Problem {
    tracing::error!(error = %cause_chain(error), "internal error");
    Problem::new(ProblemKind::Internal, "an unexpected error occurred; it was logged with the request id")
}

/// A 503 for a dependency that failed (the database behind the idempotency keys, say): logged, fixed text.
pub(crate) fn unavailable(what: &str, error: &dyn Error) -> Problem {
    tracing::warn!(error = %cause_chain(error), "{what} failed");
    Problem::new(ProblemKind::Unavailable, format!("{what} is not available now; retry shortly")).with_retry_after(1)
}

/// The 409 of an order the reservation process rejected: its id and what was short, per SKU.
pub(crate) fn rejected_order(order_id: OrderId, shortages: &[Shortage]) -> Problem {
    let listed: Vec<Value> = shortages
        .iter()
        .map(|s| json!({ "sku": s.sku.as_str(), "requested": s.requested.get(), "available": s.available }))
        .collect();
    let skus: Vec<&str> = shortages.iter().map(|s| s.sku.as_str()).collect();
    Problem::new(
        ProblemKind::InsufficientStock,
        format!("order {order_id} was rejected: not enough stock of {}", skus.join(", ")),
    )
    .with_extension("order_id", json!(order_id.to_string()))
    .with_extension("shortages", Value::Array(listed))
}

/// A refusal's own message (the domain's rule text), or a fixed text for anything else.
fn refusal_detail(error: &CommandError) -> String {
    match error {
        CommandError::Domain(refusal) => refusal.to_string(),
        CommandError::NotFound { .. } => not_found_detail(error),
        _ => "the command was refused".to_owned(),
    }
}

fn not_found_detail(error: &CommandError) -> String {
    match error {
        CommandError::NotFound { stream_id } => match stream_id.split_once('-') {
            Some(("product", sku)) => format!("product {sku} is not registered"),
            Some(("order", id)) => format!("order {id} does not exist"),
            Some(("inventory", sku)) => format!("no inventory of {sku}"),
            _ => format!("{stream_id} does not exist"),
        },
        _ => refusal_detail(error),
    }
}

/// 409 `insufficient-stock` for a stock command (an adjustment below what is there or reserved).
fn stock_problem(error: &CommandError) -> Problem {
    let problem = Problem::new(ProblemKind::InsufficientStock, refusal_detail(error));
    match error.domain() {
        Some(DomainError::Inventory(InventoryError::InsufficientStock { requested, available })) => {
            problem.with_extension("requested", json!(requested)).with_extension("available", json!(available))
        }
        Some(DomainError::Inventory(InventoryError::AdjustmentBelowZero { location, on_hand, delta })) => problem
            .with_extension("location", json!(location.as_str()))
            .with_extension("on_hand", json!(on_hand))
            .with_extension("delta", json!(delta)),
        Some(DomainError::Inventory(InventoryError::AdjustmentBelowReserved {
            location,
            on_hand,
            reserved,
            delta,
        })) => problem
            .with_extension("location", json!(location.as_str()))
            .with_extension("on_hand", json!(on_hand))
            .with_extension("reserved", json!(reserved))
            .with_extension("delta", json!(delta)),
        _ => problem,
    }
}

/// 409 `invalid-transition`, naming the order's status and the refused action when the order refused.
fn transition_problem(error: &CommandError) -> Problem {
    let problem = Problem::new(ProblemKind::InvalidTransition, refusal_detail(error));
    match error.domain() {
        Some(DomainError::Order(OrderError::InvalidTransition { from, action })) => problem
            .with_extension("current_status", json!(from.as_str()))
            .with_extension("action", json!(action.as_str())),
        _ => problem,
    }
}

/// `error: cause: cause ...`, for the log.
pub(crate) fn cause_chain(error: &dyn Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::order::{OrderAction, OrderStatus};
    use tally_domain::{Quantity, Sku, ValueError};
    use tally_store::StoreError;

    #[test]
    fn each_kind_gets_its_status_and_type() {
        let cases = [
            (CommandError::Domain(ValueError::ZeroQuantity.into()), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            (CommandError::NotFound { stream_id: "order-1".into() }, StatusCode::NOT_FOUND, "not-found"),
            (
                CommandError::Domain(InventoryError::InsufficientStock { requested: 2, available: 1 }.into()),
                StatusCode::CONFLICT,
                "insufficient-stock",
            ),
            (
                CommandError::Domain(
                    OrderError::InvalidTransition { from: OrderStatus::Shipped, action: OrderAction::Cancel }.into(),
                ),
                StatusCode::CONFLICT,
                "invalid-transition",
            ),
            (
                CommandError::VersionMismatch { stream_id: "order-1".into(), expected: 1, actual: Some(2) },
                StatusCode::PRECONDITION_FAILED,
                "version-conflict",
            ),
            (
                CommandError::Contention { stream_id: "inventory-X".into(), attempts: 9 },
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
            (CommandError::Store(StoreError::WriterStopped), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (
                CommandError::Corrupt { stream_id: "order-1".into(), version: 0, reason: "secret detail".into() },
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
        ];
        for (error, status, kind) in cases {
            let problem = command_problem(&error);
            assert_eq!((problem.status, problem.kind.slug()), (status, kind), "{error:?}");
        }
    }

    #[test]
    fn internal_text_never_reaches_the_detail() {
        let error = CommandError::Corrupt { stream_id: "order-1".into(), version: 0, reason: "secret detail".into() };
        assert!(!command_problem(&error).detail.contains("secret"));
    }

    #[test]
    fn a_rejected_order_lists_its_shortages() {
        let order_id = OrderId::from_uuid(uuid::Uuid::nil());
        let shortage = Shortage { sku: Sku::parse("TEE").unwrap(), requested: Quantity::new(2).unwrap(), available: 1 };
        let problem = rejected_order(order_id, &[shortage]);
        assert_eq!(problem.status, StatusCode::CONFLICT);
        assert_eq!(problem.extensions["shortages"], json!([{ "sku": "TEE", "requested": 2, "available": 1 }]));
        assert_eq!(problem.extensions["order_id"], json!(order_id.to_string()));
    }
}

//! An aggregate's history and its state at a point in time over HTTP: `GET /v1/orders/{id}/history`, and
//! `as_of=` / `at_version=` on `GET /v1/orders/{id}` and `GET /v1/inventory/{sku}` (the query handlers delegate
//! here when either is given). The folding is `tally_audit::history`'s; a state that does not exist is 404.

use super::schemas::HistoryEntryDoc;
use super::{bad_parameter, not_found, store_problem};
use crate::problem::Problem;
use crate::{ApiPath, AppState};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tally_audit::history::{history, state_at, AuditError, HistoryEntry, PointInTime, StateAt};
use tally_domain::{Aggregate, Inventory, Order, OrderId, Sku};
use tracing::instrument;
use utoipa::ToSchema;
use uuid::Uuid;

/// A history or past state that could not be given, as a problem.
impl From<AuditError> for Problem {
    fn from(error: AuditError) -> Self {
        match &error {
            AuditError::NotFound(detail) => not_found(detail.clone()),
            AuditError::Store(store) => store_problem(store),
            AuditError::Corrupt { .. } => crate::error::internal(&error),
        }
    }
}

/// The answer to a point-in-time read: where in the log the state stands, and the domain state.
#[derive(Debug, Serialize)]
struct PointInTimeBody<S> {
    #[serde(flatten)]
    at: StateAt<S>,
    as_of: Option<DateTime<Utc>>,
    at_version: Option<u64>,
}

fn checked(point: &PointInTime) -> Result<(), Problem> {
    if point.as_of.is_some() && point.at_version.is_some() {
        return Err(bad_parameter("give as_of or at_version, not both"));
    }
    Ok(())
}

/// `GET /v1/orders/{id}?as_of=|at_version=`: the order folded from its events up to that point.
#[instrument(skip_all, fields(order.id = %order_id))]
pub(crate) async fn order_at(state: &AppState, order_id: Uuid, point: PointInTime) -> Result<Response, Problem> {
    checked(&point)?;
    let stream_id = Order::stream_id(&OrderId::from_uuid(order_id));
    let at = state_at::<Order>(state.store.as_ref(), &stream_id, &point).await?;
    Ok(Json(PointInTimeBody { at, as_of: point.as_of, at_version: point.at_version }).into_response())
}

/// `GET /v1/inventory/{sku}?as_of=|at_version=`: the SKU's inventory folded from its events up to that point.
#[instrument(skip_all, fields(inventory.sku = %sku))]
pub(crate) async fn inventory_at(state: &AppState, sku: &str, point: PointInTime) -> Result<Response, Problem> {
    checked(&point)?;
    let sku = Sku::parse(sku).map_err(|_| not_found(format!("no inventory of {sku:?}")))?;
    let stream_id = Inventory::stream_id(&sku);
    let at = state_at::<Inventory>(state.store.as_ref(), &stream_id, &point).await?;
    Ok(Json(PointInTimeBody { at, as_of: point.as_of, at_version: point.at_version }).into_response())
}

/// The body of `GET /v1/orders/{id}/history`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderHistory)]
struct HistoryBody {
    order_id: Uuid,
    /// `order-{order_id}`.
    stream_id: String,
    /// Every event of the order, in stream order, each with the order's state after it.
    #[schema(value_type = Vec<HistoryEntryDoc>)]
    items: Vec<HistoryEntry>,
}

/// Order history
///
/// Every event of an order with who caused it and the order's state after it, folded from the event log with the
/// domain's `evolve` (never from the read model).
#[utoipa::path(get, path = "/v1/orders/{id}/history", tag = "audit", operation_id = "getOrderHistory",
    params(("id" = Uuid, Path, description = "The order id.", example = "0193a5b2-7c1e-7d4a-9f00-4c2b1e8d6a01")),
    responses(
        (status = 200, description = "The history.", body = HistoryBody),
        (status = 404, description = "404 `not-found`: no such order.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[instrument(skip_all, fields(order.id = %order_id))]
pub(super) async fn order_history(
    State(state): State<AppState>,
    ApiPath(order_id): ApiPath<Uuid>,
) -> Result<Response, Problem> {
    let stream_id = Order::stream_id(&OrderId::from_uuid(order_id));
    let items = history::<Order>(state.store.as_ref(), &stream_id).await?;
    if items.is_empty() {
        return Err(not_found(format!("order {order_id} does not exist")));
    }
    Ok(Json(HistoryBody { order_id, stream_id, items }).into_response())
}

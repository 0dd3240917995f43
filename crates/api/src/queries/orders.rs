//! `GET /v1/orders` and `GET /v1/orders/{id}`: orders from the orders projection.
//!
//! One order is an [`OrderView`], the type the order commands answer with too: with the time of every state
//! change, `reserved_until`, the shortages of a rejected order and the reason of a cancelled one. The list
//! filters on `status`, `customer_id`, `placed_after` and `placed_before` (both exclusive, RFC 3339), oldest
//! first.

use super::csv::{opt_time, text, time, value, Cell, CsvRecord};
use super::{list_response, not_found, page_request, validation, MinPosition};
use crate::problem::Problem;
use crate::resources::OrderView;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tally_domain::order::OrderStatus;
use tally_projections::read::orders::{self, OrderFilter, OrderRow};
use tally_projections::ReadModel;
use tracing::instrument;
use uuid::Uuid;

const MODELS: &[ReadModel] = &[ReadModel::Orders];

impl CsvRecord for OrderView {
    /// One record per order (the lines are summed up in `line_count` and `units`).
    const HEADER: &'static [&'static str] = &[
        "order_id",
        "status",
        "customer_id",
        "currency",
        "total_amount",
        "paid_amount",
        "refunded_amount",
        "line_count",
        "units",
        "placed_at",
        "confirmed_at",
        "paid_at",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
        "expired_at",
        "rejected_at",
        "reserved_until",
        "updated_at",
        "version",
        "position",
    ];

    fn fields(&self) -> Vec<Cell> {
        vec![
            value(self.order_id),
            text(&self.status),
            text(&self.customer_id),
            text(&self.currency),
            value(self.total.amount),
            value(self.paid.amount),
            value(self.refunded.amount),
            value(self.lines.len()),
            value(self.units),
            time(&self.placed_at),
            opt_time(&self.confirmed_at),
            opt_time(&self.paid_at),
            opt_time(&self.shipped_at),
            opt_time(&self.delivered_at),
            opt_time(&self.cancelled_at),
            opt_time(&self.expired_at),
            opt_time(&self.rejected_at),
            opt_time(&self.reserved_until),
            time(&self.updated_at),
            value(self.version),
            value(self.position),
        ]
    }
}

/// The query string of the orders list.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    customer_id: Option<String>,
    placed_after: Option<DateTime<Utc>>,
    placed_before: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<OrderFilter, Problem> {
        let status = self.status.as_deref().map(str::parse::<OrderStatus>).transpose();
        let status = status.map_err(|error| validation(format!("status: {error}")))?;
        if let (Some(after), Some(before)) = (self.placed_after, self.placed_before) {
            if after >= before {
                return Err(validation("placed_after must be before placed_before"));
            }
        }
        Ok(OrderFilter {
            status,
            customer_id: self.customer_id.clone(),
            placed_after: self.placed_after,
            placed_before: self.placed_before,
        })
    }
}

/// `GET /v1/orders[?status=&customer_id=&placed_after=&placed_before=]`.
#[instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    let filter = query.filter()?;
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = orders::list_orders(&state.pool, &filter, &page).await?;
    Ok(list_response::<OrderRow, OrderView>(&headers, &uri, page))
}

/// `GET /v1/orders/{id}`.
#[instrument(skip_all, fields(order.id = %order_id))]
pub(crate) async fn one(
    State(state): State<AppState>,
    min_position: MinPosition,
    ApiPath(order_id): ApiPath<Uuid>,
    ApiQuery(point): ApiQuery<crate::audit::PointInTime>,
) -> Result<Response, Problem> {
    // Audit: `?as_of=` / `?at_version=` is answered from the event log with the domain's `evolve`, not from the
    // read model (crate::audit::history).
    if point.is_requested() {
        return crate::audit::order_at(&state, order_id, point).await;
    }
    min_position.wait(&state, MODELS).await?;
    match orders::order(&state.pool, order_id).await? {
        Some(row) => Ok(Json(OrderView::from(row)).into_response()),
        None => Err(not_found(format!("no order with id {order_id}"))),
    }
}

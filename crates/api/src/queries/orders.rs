//! `GET /v1/orders` and `GET /v1/orders/{id}`: orders from the orders projection.
//!
//! One order has the shape of the command responses (`{order_id, status, customer_id, lines, total, paid,
//! refunded, placed_at, updated_at, version}`), plus the time of every state change, `reserved_until`, the
//! shortages of a rejected order and the reason of a cancelled one. The list filters on `status`, `customer_id`,
//! `placed_after` and `placed_before` (both exclusive, RFC 3339), oldest first.

use super::csv::{time, CsvRecord};
use super::{list_response, not_found, page_request, validation, MinPosition, MoneyView};
use crate::problem::Problem;
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tally_projections::read::orders::{self, OrderFilter, OrderLineRow, OrderRow, ORDER_STATUSES};
use tally_projections::ReadModel;
use tracing::instrument;
use uuid::Uuid;

const MODELS: &[ReadModel] = &[ReadModel::Orders];

/// An order as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct OrderView {
    pub order_id: Uuid,
    pub status: String,
    pub customer_id: String,
    pub lines: Vec<LineView>,
    pub total: MoneyView,
    pub paid: MoneyView,
    pub refunded: MoneyView,
    pub units: i64,
    pub reserved_until: Option<DateTime<Utc>>,
    pub shortages: Option<serde_json::Value>,
    pub cancel_reason: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub partially_shipped_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub last_returned_at: Option<DateTime<Utc>>,
    pub last_refunded_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub position: i64,
}

/// One line: what was ordered at which price, and how much of it shipped and came back.
#[derive(Debug, Serialize)]
pub(crate) struct LineView {
    pub sku: String,
    pub quantity: i64,
    pub unit_price: MoneyView,
    pub shipped: i64,
    pub returned: i64,
}

impl From<OrderLineRow> for LineView {
    fn from(line: OrderLineRow) -> Self {
        LineView {
            unit_price: MoneyView::new(line.unit_price_amount, &line.currency),
            sku: line.sku,
            quantity: line.quantity,
            shipped: line.shipped,
            returned: line.returned,
        }
    }
}

impl From<OrderRow> for OrderView {
    fn from(row: OrderRow) -> Self {
        OrderView {
            order_id: row.order_id,
            total: MoneyView::new(row.total_amount, &row.currency),
            paid: MoneyView::new(row.paid_amount, &row.currency),
            refunded: MoneyView::new(row.refunded_amount, &row.currency),
            status: row.status,
            customer_id: row.customer_id,
            lines: row.lines.into_iter().map(LineView::from).collect(),
            units: row.units,
            reserved_until: row.reserved_until,
            shortages: row.shortages,
            cancel_reason: row.cancel_reason,
            placed_at: row.placed_at,
            confirmed_at: row.confirmed_at,
            rejected_at: row.rejected_at,
            paid_at: row.paid_at,
            partially_shipped_at: row.partially_shipped_at,
            shipped_at: row.shipped_at,
            delivered_at: row.delivered_at,
            cancelled_at: row.cancelled_at,
            expired_at: row.expired_at,
            last_returned_at: row.last_returned_at,
            last_refunded_at: row.last_refunded_at,
            updated_at: row.updated_at,
            version: row.version,
            position: row.position,
        }
    }
}

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

    fn fields(&self) -> Vec<String> {
        let at = |value: &Option<DateTime<Utc>>| value.as_ref().map(time).unwrap_or_default();
        vec![
            self.order_id.to_string(),
            self.status.clone(),
            self.customer_id.clone(),
            self.total.currency.clone(),
            self.total.amount.to_string(),
            self.paid.amount.to_string(),
            self.refunded.amount.to_string(),
            self.lines.len().to_string(),
            self.units.to_string(),
            time(&self.placed_at),
            at(&self.confirmed_at),
            at(&self.paid_at),
            at(&self.shipped_at),
            at(&self.delivered_at),
            at(&self.cancelled_at),
            at(&self.expired_at),
            at(&self.rejected_at),
            at(&self.reserved_until),
            time(&self.updated_at),
            self.version.to_string(),
            self.position.to_string(),
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
        if let Some(status) = self.status.as_deref() {
            if !ORDER_STATUSES.contains(&status) {
                return Err(validation(format!("status must be one of {}", ORDER_STATUSES.join(", "))));
            }
        }
        if let (Some(after), Some(before)) = (self.placed_after, self.placed_before) {
            if after >= before {
                return Err(validation("placed_after must be before placed_before"));
            }
        }
        Ok(OrderFilter {
            status: self.status.clone(),
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
        return crate::audit::history::order_at(&state, order_id, point).await;
    }
    min_position.wait(&state, MODELS).await?;
    match orders::order(&state.pool, order_id).await? {
        Some(row) => Ok(Json(OrderView::from(row)).into_response()),
        None => Err(not_found(format!("no order with id {order_id}"))),
    }
}

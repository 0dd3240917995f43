//! `GET /v1/orders` and `GET /v1/orders/{id}`: orders from the orders projection.
//!
//! One order is an [`OrderView`], the type the order commands answer with too: with the time of every state
//! change, `reserved_until`, the shortages of a rejected order and the reason of a cancelled one. The list
//! filters on `status`, `customer_id`, `placed_after` and `placed_before` (both exclusive, RFC 3339), oldest
//! first.

use super::csv::{opt_time, text, time, value, Cell, CsvRecord};
use super::docs::{self, AcceptCsv};
use super::{list_response, not_found, page_request, validation, MinPosition, PageParams};
use crate::audit::PointInTime;
use crate::openapi::schemas;
use crate::problem::Problem;
use crate::resources::{MoneyView, OrderView};
use crate::{ApiPath, ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tally_domain::order::OrderStatus;
use tally_domain::CustomerId;
use tally_projections::read::orders::{self, OrderFilter, OrderRow};
use tally_projections::ReadModel;
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};
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

/// The query string of the orders list. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only orders with this status (another value: 422).
    #[param(value_type = Option<schemas::OrderStatus>)]
    status: Option<String>,
    /// Only this customer's orders (not a customer id: 422).
    #[param(value_type = Option<schemas::CustomerId>)]
    customer_id: Option<String>,
    /// Only orders placed after this time (exclusive, RFC 3339). With `placed_before`, it must be earlier (else
    /// 422).
    placed_after: Option<DateTime<Utc>>,
    /// Only orders placed before this time (exclusive, RFC 3339).
    placed_before: Option<DateTime<Utc>>,
    #[param(ignore)]
    limit: Option<u32>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

impl ListQuery {
    fn filter(&self) -> Result<OrderFilter, Problem> {
        let status = self.status.as_deref().map(str::parse::<OrderStatus>).transpose();
        let status = status.map_err(|error| validation(format!("status: {error}")))?;
        if let Some(customer) = &self.customer_id {
            CustomerId::parse(customer).map_err(|error| validation(format!("customer_id: {error}")))?;
        }
        check_placed_range(self.placed_after, self.placed_before)?;
        Ok(OrderFilter {
            status,
            customer_id: self.customer_id.clone(),
            placed_after: self.placed_after,
            placed_before: self.placed_before,
        })
    }
}

/// 422 unless `placed_after` is before `placed_before` (when both are given): the orders filters' rule, shared
/// by the analytics over the orders read model.
pub(super) fn check_placed_range(
    placed_after: Option<DateTime<Utc>>,
    placed_before: Option<DateTime<Utc>>,
) -> Result<(), Problem> {
    match (placed_after, placed_before) {
        (Some(after), Some(before)) if after >= before => Err(validation("placed_after must be before placed_before")),
        _ => Ok(()),
    }
}

/// A page of orders (`GET /v1/orders` as JSON).
#[derive(ToSchema)]
#[schema(as = OrderPage)]
#[allow(dead_code)] // Documents the `ListBody<OrderView>` the handler answers, under its published name.
pub(crate) struct OrderPage {
    /// Orders, oldest first (by `placed_at`, then `order_id`).
    items: Vec<OrderView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// List orders
///
/// Orders from the orders read model, oldest first, filtered by `status`, `customer_id`, `placed_after` and
/// `placed_before`. In CSV, one record per order (its lines summed up in `line_count` and `units`).
#[utoipa::path(get, path = "/v1/orders", tag = "queries", operation_id = "listOrders",
    params(ListQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((OrderPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `status` is not an order status, `customer_id` is not a \
            customer id, `placed_after` is not before `placed_before`, `limit` is out of range, or `cursor` is not \
            one this list issued.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
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

/// The query string of one order or one SKU's stock: a point in time, for the audit (`as_of`, `at_version`), and
/// `min_position` ([`MinPosition`] reads it). Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PointQuery {
    /// Audit: the state after the last event recorded at or before this time (RFC 3339), folded from the event
    /// log instead of read from the read model (`min_position` is then not waited for). Not with `at_version`
    /// (400). No event at or before it: 404.
    as_of: Option<DateTime<Utc>>,
    /// Audit: the state after the event at this stream version (0 is the first), folded from the event log. Beyond
    /// the last version: 404.
    #[param(schema_with = crate::openapi::count_or_empty)]
    at_version: Option<u64>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

impl PointQuery {
    pub(crate) fn point(&self) -> PointInTime {
        PointInTime { as_of: self.as_of, at_version: self.at_version }
    }
}

/// The 400 of a read that takes a point in time.
pub(super) const BAD_POINT_QUERY: &str = "400 `validation`: a query parameter cannot be parsed or is not one this \
    operation takes, both `as_of` and `at_version` were given, or `min_position`/`Tally-Min-Position` is not a log \
    position or is beyond the log's head (with `head`).";
/// The 503 of a read that takes a point in time.
pub(super) const POINT_UNAVAILABLE: &str = "503 `unavailable` with `Retry-After`: the read model did not reach \
    `min_position` within 5 s (or its projection stopped before it), or the read-model database or (with `as_of` or \
    `at_version`) the event store is unreachable.";

/// Get an order
///
/// One order from the orders read model; with `as_of` or `at_version`, the order aggregate's state at that point,
/// folded from the event log (`min_position` is then not waited for).
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "queries", operation_id = "getOrder",
    params(("id" = Uuid, Path, description = "The order id.", example = "0193a5b2-7c1e-7d4a-9f00-4c2b1e8d6a01"),
        PointQuery, MinPosition),
    responses(
        (status = 200, description = "The order (`Order`), or with `as_of`/`at_version` the state at that point \
            (`OrderAt`).", body = inline(OrderAnswer)),
        (status = 400, description = BAD_POINT_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "404 `not-found`: no order has this id, or (with `as_of` or `at_version`) the \
            order has no state at that point: no event at or before `as_of`, or no version `at_version`.",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = POINT_UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all, fields(order.id = %order_id))]
pub(crate) async fn one(
    State(state): State<AppState>,
    min_position: MinPosition,
    ApiPath(order_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<PointQuery>,
) -> Result<Response, Problem> {
    // Audit: `?as_of=` / `?at_version=` is answered from the event log with the domain's `evolve`, not from the
    // read model (crate::audit::history).
    let point = query.point();
    if point.is_requested() {
        return crate::audit::order_at(&state, order_id, point).await;
    }
    min_position.wait(&state, MODELS).await?;
    match orders::order(&state.pool, order_id).await? {
        Some(row) => Ok(Json(OrderView::from(row)).into_response()),
        None => Err(not_found(format!("no order with id {order_id}"))),
    }
}

/// `GET /v1/orders/{id}`'s answer: the read model's order, or the state at a point in time.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Documents the two shapes `one` answers.
pub(crate) enum OrderAnswer {
    Current(OrderView),
    At(OrderAt),
}

/// An order folded from its events up to the point asked for, with the domain's `evolve` (never from the read
/// model): what `crate::audit::order_at` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents the answer of `crate::audit::order_at`.
pub(crate) struct OrderAt {
    /// `order-{id}`.
    stream_id: String,
    /// The version of the last event folded.
    version: u64,
    /// Its global position.
    position: u64,
    /// When it was recorded.
    recorded_at: DateTime<Utc>,
    state: PlacedOrderState,
    /// The `as_of` asked for, or `null`.
    #[schema(required = true)]
    as_of: Option<DateTime<Utc>>,
    /// The `at_version` asked for, or `null`.
    #[schema(required = true)]
    at_version: Option<u64>,
}

/// The order aggregate's state as the domain folds it from its events (the domain's serialization).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `tally_domain::order::PlacedOrder`'s serialization.
pub(crate) struct PlacedOrderState {
    order_id: Uuid,
    #[schema(value_type = schemas::CustomerId)]
    customer_id: String,
    #[schema(value_type = schemas::OrderStatus)]
    status: String,
    lines: Vec<PlacedOrderLine>,
    #[schema(value_type = schemas::Currency)]
    currency: String,
    total: MoneyView,
    /// Captured so far.
    paid: MoneyView,
    /// Refunded so far.
    refunded: MoneyView,
    /// Units shipped per SKU; a SKU with nothing shipped is absent.
    shipped: BTreeMap<String, u32>,
    /// Units returned per SKU; a SKU with nothing returned is absent.
    returned: BTreeMap<String, u32>,
    /// Until when the stock is held (set when the order is confirmed).
    #[schema(required = true)]
    reserved_until: Option<DateTime<Utc>>,
    placed_at: DateTime<Utc>,
}

/// A priced line of an order's state.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `tally_domain::order::OrderLine`'s serialization.
pub(crate) struct PlacedOrderLine {
    #[schema(value_type = schemas::Sku)]
    sku: String,
    #[schema(minimum = 1)]
    quantity: u32,
    unit_price: MoneyView,
}

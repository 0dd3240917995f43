//! `GET /v1/analytics/order-statuses` and `GET /v1/analytics/orders-per-hour`: counts of orders from the orders
//! projection, for the console (issue #15).
//!
//! Both are short lists (at most one item per status; at most 24 hours times the currencies of one day), read
//! whole and paged in memory ([`page_in_memory`]) so they answer `items` and `next_cursor` like every list.

use super::analytics::check_day;
use super::csv::{text, time, value, Cell, CsvRecord};
use super::docs::{self, AcceptCsv};
use super::orders::check_placed_range;
use super::{body_response, page_in_memory, MinPosition, PageParams, PageQuery};
use crate::openapi::schemas;
use crate::problem::Problem;
use crate::{ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tally_domain::order::OrderStatus;
use tally_projections::read::orders::{self, HourRow, OrderFilter, StatusCountRow};
use tally_projections::ReadModel;
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};

const MODELS: &[ReadModel] = &[ReadModel::Orders];
const STATUSES_LIST: &str = "order-statuses";
const HOURS_LIST: &str = "orders-per-hour";

/// How many orders are in one status now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderStatusCount)]
pub(crate) struct StatusCountView {
    #[schema(value_type = schemas::OrderStatus)]
    pub status: String,
    /// Orders in this status (of those placed in the `placed_after`/`placed_before` window); never 0.
    pub orders: i64,
}

impl From<StatusCountRow> for StatusCountView {
    fn from(row: StatusCountRow) -> Self {
        StatusCountView { status: row.status, orders: row.orders }
    }
}

impl CsvRecord for StatusCountView {
    const HEADER: &'static [&'static str] = &["status", "orders"];

    fn fields(&self) -> Vec<Cell> {
        vec![text(&self.status), value(self.orders)]
    }
}

/// The orders placed in one hour (UTC) in one currency that were not rejected.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrdersInHour)]
pub(crate) struct HourView {
    /// The start of the hour, RFC 3339 UTC (`2026-12-05T14:00:00Z`).
    pub hour: DateTime<Utc>,
    /// The currency of the orders.
    #[schema(value_type = schemas::Currency)]
    pub currency: String,
    /// Orders placed in the hour and not rejected: pending, confirmed and every later status, cancelled and
    /// expired ones included (placed and not refused).
    pub orders: i64,
    /// The sum of their totals, minor units of `currency`.
    pub amount: i64,
}

impl From<HourRow> for HourView {
    fn from(row: HourRow) -> Self {
        HourView { hour: row.hour, currency: row.currency, orders: row.orders, amount: row.amount }
    }
}

impl CsvRecord for HourView {
    const HEADER: &'static [&'static str] = &["hour", "currency", "orders", "amount"];

    fn fields(&self) -> Vec<Cell> {
        vec![time(&self.hour), text(&self.currency), value(self.orders), value(self.amount)]
    }
}

/// The query string of the orders per status. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatusesQuery {
    /// Only orders placed after this time (exclusive, RFC 3339), as `GET /v1/orders`. With `placed_before`, it
    /// must be earlier (else 422).
    placed_after: Option<DateTime<Utc>>,
    /// Only orders placed before this time (exclusive, RFC 3339), as `GET /v1/orders`.
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

/// The query string of the orders per hour. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PerHourQuery {
    /// The UTC day (`YYYY-MM-DD`, a year from 0000 to 9999, else 422); today (UTC) when absent.
    day: Option<NaiveDate>,
    #[param(ignore)]
    limit: Option<u32>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// A page of order counts per status (`GET /v1/analytics/order-statuses` as JSON).
#[derive(ToSchema)]
#[schema(as = OrderStatusCountPage)]
#[allow(dead_code)] // Documents the `ListBody<StatusCountView>` the handler answers, under its published name.
pub(crate) struct OrderStatusCountPage {
    /// One item per status that has orders, in the order's lifecycle order: `pending`, `confirmed`, `paid`,
    /// `partially_shipped`, `shipped`, `delivered`, `rejected`, `cancelled`, `expired`.
    items: Vec<StatusCountView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A page of orders per hour (`GET /v1/analytics/orders-per-hour` as JSON).
#[derive(ToSchema)]
#[schema(as = OrdersPerHourPage)]
#[allow(dead_code)] // Documents the `ListBody<HourView>` the handler answers, under its published name.
pub(crate) struct OrdersPerHourPage {
    /// Only hours with orders, by hour, then currency.
    items: Vec<HourView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Where a status comes in the lifecycle order of [`OrderStatus::ALL`] (a status the domain does not know, last).
fn lifecycle_rank(status: &str) -> usize {
    OrderStatus::ALL.iter().position(|known| known.as_str() == status).unwrap_or(OrderStatus::ALL.len())
}

/// Orders per status
///
/// How many orders are in each status now, from the orders read model: one item per status that has orders, in
/// lifecycle order (`pending`, `confirmed`, `paid`, `partially_shipped`, `shipped`, `delivered`, `rejected`,
/// `cancelled`, `expired`). `placed_after` and `placed_before` count only the orders placed in that window.
#[utoipa::path(get, path = "/v1/analytics/order-statuses", tag = "queries", operation_id = "getOrderStatuses",
    params(StatusesQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((OrderStatusCountPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `placed_after` is not before `placed_before`, `limit` is \
            out of range, or `cursor` is not one this list issued.", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all)]
pub(crate) async fn order_statuses(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<StatusesQuery>,
) -> Result<Response, Problem> {
    check_placed_range(query.placed_after, query.placed_before)?;
    let filter =
        OrderFilter { placed_after: query.placed_after, placed_before: query.placed_before, ..OrderFilter::default() };
    let paging = PageQuery { limit: query.limit, cursor: query.cursor };
    min_position.wait(&state, MODELS).await?;
    let mut counts: Vec<StatusCountView> =
        orders::status_counts(&state.pool, &filter).await?.into_iter().map(StatusCountView::from).collect();
    let key = |item: &StatusCountView| (lifecycle_rank(&item.status), item.status.clone());
    counts.sort_by_key(key);
    let body = page_in_memory(STATUSES_LIST, paging, counts, key)?;
    Ok(body_response(&headers, &uri, body))
}

/// Orders per hour
///
/// The orders placed in each hour of one UTC day, per currency, from the orders read model: how many were not
/// rejected (a rejected order never was a sale; pending, cancelled and expired ones count) and the sum of their
/// totals. Only hours with orders, by hour then currency. Amounts are never summed across currencies.
#[utoipa::path(get, path = "/v1/analytics/orders-per-hour", tag = "queries", operation_id = "getOrdersPerHour",
    params(PerHourQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((OrdersPerHourPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `day` is outside the years 0000 to 9999, `limit` is out \
            of range, or `cursor` is not one this list issued.", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all)]
pub(crate) async fn orders_per_hour(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<PerHourQuery>,
) -> Result<Response, Problem> {
    let day = query.day.unwrap_or_else(|| Utc::now().date_naive());
    check_day("day", Some(day))?;
    let paging = PageQuery { limit: query.limit, cursor: query.cursor };
    min_position.wait(&state, MODELS).await?;
    let hours = orders::orders_per_hour(&state.pool, day).await?.into_iter().map(HourView::from);
    let body = page_in_memory(HOURS_LIST, paging, hours, |item| (item.hour, item.currency.clone()))?;
    Ok(body_response(&headers, &uri, body))
}

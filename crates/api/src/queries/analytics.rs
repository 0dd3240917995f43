//! `GET /v1/analytics/sales` and `GET /v1/analytics/top-products`: sales figures from the sales projection.
//!
//! Sales are per UTC day and currency, for all SKUs together, for one SKU (`?sku=`) or per SKU (`?group=sku`),
//! over an inclusive date range (`from`, `to`: `YYYY-MM-DD`). Top products rank SKUs by net units
//! (`?by=units`, the default) or net revenue (`?by=revenue`) over such a range. Amounts are minor units next to
//! their `currency`, never summed across currencies (see docs/read-models.md for what each figure counts).

use super::csv::{opt, opt_text, text, value, Cell, CsvRecord};
use super::docs::{self, AcceptCsv};
use super::{list_response, page_request, validation, MinPosition, PageParams};
use crate::openapi::schemas;
use crate::problem::Problem;
use crate::{ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tally_domain::Sku;
use tally_projections::read::sales::{self, DateRange, SalesDayRow, SalesGrouping, TopBy, TopProductRow};
use tally_projections::ReadModel;
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};

const MODELS: &[ReadModel] = &[ReadModel::Sales];

/// One UTC day's sales in one currency, of all SKUs together or of one SKU (see docs/read-models.md for what each
/// figure counts). Per-SKU rows leave out `cancelled_orders`, `net_orders` and `refunded_amount` (order
/// cancellations and refunds belong to an order, not a SKU); all-SKU rows leave out `sku`. Amounts are minor units
/// of `currency`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SalesDay)]
pub(crate) struct SalesDayView {
    /// The UTC day.
    pub day: NaiveDate,
    /// Only in per-SKU rows (`sku=` or `group=sku`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = schemas::Sku, required = false)]
    pub sku: Option<String>,
    #[schema(value_type = schemas::Currency)]
    pub currency: String,
    pub orders: i64,
    /// Only in the all-SKU rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub cancelled_orders: Option<i64>,
    /// Only in the all-SKU rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub net_orders: Option<i64>,
    pub units_sold: i64,
    pub units_cancelled: i64,
    pub units_returned: i64,
    pub net_units: i64,
    pub revenue_amount: i64,
    pub cancelled_amount: i64,
    pub returned_amount: i64,
    pub net_revenue_amount: i64,
    /// Only in the all-SKU rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub refunded_amount: Option<i64>,
}

impl From<SalesDayRow> for SalesDayView {
    fn from(row: SalesDayRow) -> Self {
        SalesDayView {
            day: row.day,
            sku: row.sku,
            currency: row.currency,
            orders: row.orders,
            cancelled_orders: row.cancelled_orders,
            net_orders: row.net_orders,
            units_sold: row.units_sold,
            units_cancelled: row.units_cancelled,
            units_returned: row.units_returned,
            net_units: row.net_units,
            revenue_amount: row.revenue_amount,
            cancelled_amount: row.cancelled_amount,
            returned_amount: row.returned_amount,
            net_revenue_amount: row.net_revenue_amount,
            refunded_amount: row.refunded_amount,
        }
    }
}

impl CsvRecord for SalesDayView {
    /// The same columns for every grouping; the fields a grouping lacks are empty.
    const HEADER: &'static [&'static str] = &[
        "day",
        "sku",
        "currency",
        "orders",
        "cancelled_orders",
        "net_orders",
        "units_sold",
        "units_cancelled",
        "units_returned",
        "net_units",
        "revenue_amount",
        "cancelled_amount",
        "returned_amount",
        "net_revenue_amount",
        "refunded_amount",
    ];

    fn fields(&self) -> Vec<Cell> {
        vec![
            value(self.day),
            opt_text(&self.sku),
            text(&self.currency),
            value(self.orders),
            opt(&self.cancelled_orders),
            opt(&self.net_orders),
            value(self.units_sold),
            value(self.units_cancelled),
            value(self.units_returned),
            value(self.net_units),
            value(self.revenue_amount),
            value(self.cancelled_amount),
            value(self.returned_amount),
            value(self.net_revenue_amount),
            opt(&self.refunded_amount),
        ]
    }
}

/// One product's net sales over the range, in one currency.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TopProduct)]
pub(crate) struct TopProductView {
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    #[schema(value_type = schemas::Currency)]
    pub currency: String,
    pub orders: i64,
    pub net_units: i64,
    /// Minor units of `currency`.
    pub net_revenue_amount: i64,
}

impl From<TopProductRow> for TopProductView {
    fn from(row: TopProductRow) -> Self {
        TopProductView {
            sku: row.sku,
            currency: row.currency,
            orders: row.orders,
            net_units: row.net_units,
            net_revenue_amount: row.net_revenue_amount,
        }
    }
}

impl CsvRecord for TopProductView {
    const HEADER: &'static [&'static str] = &["sku", "currency", "orders", "net_units", "net_revenue_amount"];

    fn fields(&self) -> Vec<Cell> {
        vec![
            text(&self.sku),
            text(&self.currency),
            value(self.orders),
            value(self.net_units),
            value(self.net_revenue_amount),
        ]
    }
}

/// The query string of the sales report. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SalesQuery {
    /// The first UTC day (inclusive, `YYYY-MM-DD`, a year from 0000 to 9999, else 422). Unbounded when absent.
    from: Option<NaiveDate>,
    /// The last UTC day (inclusive, `YYYY-MM-DD`); not before `from` (else 422). Unbounded when absent.
    to: Option<NaiveDate>,
    /// Only this SKU, one row per day and currency (not a SKU: 422; not with `group=day`: 422).
    #[param(value_type = Option<schemas::Sku>)]
    sku: Option<String>,
    /// `day` (the default): all SKUs together; `sku`: one row per day, SKU and currency.
    #[param(value_type = Option<SalesGroup>, inline)]
    group: Option<String>,
    #[param(ignore)]
    limit: Option<u32>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// How `GET /v1/analytics/sales` groups its rows.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // Documents `SalesQuery::group`.
pub(crate) enum SalesGroup {
    Day,
    Sku,
}

/// The query string of the top products. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TopQuery {
    /// The first UTC day (inclusive, `YYYY-MM-DD`, a year from 0000 to 9999, else 422). Unbounded when absent.
    from: Option<NaiveDate>,
    /// The last UTC day (inclusive, `YYYY-MM-DD`); not before `from` (else 422). Unbounded when absent.
    to: Option<NaiveDate>,
    /// Rank by net units (the default) or by net revenue.
    #[param(value_type = Option<TopByName>, inline)]
    by: Option<String>,
    #[param(ignore)]
    limit: Option<u32>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// What `GET /v1/analytics/top-products` ranks by.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TopProductsBy)]
#[allow(dead_code)] // Documents `TopQuery::by`.
pub(crate) enum TopByName {
    Units,
    Revenue,
}

/// A page of daily sales (`GET /v1/analytics/sales` as JSON).
#[derive(ToSchema)]
#[schema(as = SalesDayPage)]
#[allow(dead_code)] // Documents the `ListBody<SalesDayView>` the handler answers, under its published name.
pub(crate) struct SalesDayPage {
    /// Rows in (day, sku, currency) order.
    items: Vec<SalesDayView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A page of top products (`GET /v1/analytics/top-products` as JSON).
#[derive(ToSchema)]
#[schema(as = TopProductPage)]
#[allow(dead_code)] // Documents the `ListBody<TopProductView>` the handler answers, under its published name.
pub(crate) struct TopProductPage {
    /// Products ranked by the `by` figure, highest first (then SKU, currency).
    items: Vec<TopProductView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// 422 unless `day` (the parameter `name`) is in the years 0000 to 9999. chrono reads any year it can hold
/// (`-10000-01-01`, `%2B10000-01-01`), PostgreSQL refuses dates before 4714 BC (which was a 500) and its
/// timestamps and RFC 3339 end with 9999.
pub(super) fn check_day(name: &str, day: Option<NaiveDate>) -> Result<(), Problem> {
    match day {
        Some(day) if !(0..=9999).contains(&day.year()) => {
            Err(validation(format!("{name} must be in the years 0000 to 9999")).with_extension("field", name.into()))
        }
        _ => Ok(()),
    }
}

/// The inclusive range of UTC days `from`..=`to` (422 when `from` is after `to`, or either is outside the years
/// 0000 to 9999).
pub(super) fn date_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<DateRange, Problem> {
    check_day("from", from)?;
    check_day("to", to)?;
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(validation("from must not be after to"));
        }
    }
    Ok(DateRange { from, to })
}

/// 422 when the `sku` filter is given and is not a SKU.
pub(super) fn check_sku(sku: Option<&str>) -> Result<(), Problem> {
    match sku {
        Some(sku) => Sku::parse(sku).map(drop).map_err(|error| validation(format!("sku: {error}"))),
        None => Ok(()),
    }
}

/// Sales by day
///
/// Sales per UTC day and currency from the sales read model: all SKUs together (the default, `group=day`), one
/// SKU (`sku=`), or one row per SKU (`group=sku`). Amounts are never summed across currencies.
#[utoipa::path(get, path = "/v1/analytics/sales", tag = "queries", operation_id = "getSales",
    params(SalesQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((SalesDayPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `from` is after `to` or either is outside the years 0000 \
            to 9999, `sku` is not a SKU or comes with `group=day`, `group` is neither `day` nor `sku`, `limit` is \
            out of range, or `cursor` is not one this list issued.", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all)]
pub(crate) async fn sales(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<SalesQuery>,
) -> Result<Response, Problem> {
    let range = date_range(query.from, query.to)?;
    check_sku(query.sku.as_deref())?;
    let grouping = match (query.sku, query.group.as_deref()) {
        (Some(sku), None | Some("sku")) => SalesGrouping::PerSku(Some(sku)),
        (None, Some("sku")) => SalesGrouping::PerSku(None),
        (None, None | Some("day")) => SalesGrouping::Total,
        (Some(_), Some("day")) => return Err(validation("sku= reports per SKU: use it without group=day")),
        (_, Some(_)) => return Err(validation("group must be day or sku")),
    };
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = sales::sales_by_day(&state.pool, &grouping, &range, &page).await?;
    Ok(list_response::<SalesDayRow, SalesDayView>(&headers, &uri, page))
}

/// Top products
///
/// SKUs ranked by net units or net revenue over an inclusive range of UTC days, per currency.
#[utoipa::path(get, path = "/v1/analytics/top-products", tag = "queries", operation_id = "getTopProducts",
    params(TopQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((TopProductPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `from` is after `to` or either is outside the years 0000 \
            to 9999, `by` is neither `units` nor `revenue`, `limit` is out of range, or `cursor` is not one this \
            list issued.", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all)]
pub(crate) async fn top_products(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<TopQuery>,
) -> Result<Response, Problem> {
    let range = date_range(query.from, query.to)?;
    let by = match query.by.as_deref() {
        None | Some("units") => TopBy::Units,
        Some("revenue") => TopBy::Revenue,
        Some(_) => return Err(validation("by must be units or revenue")),
    };
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = sales::top_products(&state.pool, by, &range, &page).await?;
    Ok(list_response::<TopProductRow, TopProductView>(&headers, &uri, page))
}

//! `GET /v1/analytics/sales` and `GET /v1/analytics/top-products`: sales figures from the sales projection.
//!
//! Sales are per UTC day and currency, for all SKUs together, for one SKU (`?sku=`) or per SKU (`?group=sku`),
//! over an inclusive date range (`from`, `to`: `YYYY-MM-DD`). Top products rank SKUs by net units
//! (`?by=units`, the default) or net revenue (`?by=revenue`) over such a range. Amounts are minor units next to
//! their `currency`, never summed across currencies (see docs/read-models.md for what each figure counts).

use super::csv::{opt, opt_text, text, value, Cell, CsvRecord};
use super::{list_response, page_request, validation, MinPosition};
use crate::problem::Problem;
use crate::{ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tally_projections::read::sales::{self, DateRange, SalesDayRow, SalesGrouping, TopBy, TopProductRow};
use tally_projections::ReadModel;
use tracing::instrument;

const MODELS: &[ReadModel] = &[ReadModel::Sales];

/// One day's sales (of one SKU when `sku` is present). Order cancellations and refunds are only in the totals.
#[derive(Debug, Serialize)]
pub(crate) struct SalesDayView {
    pub day: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub currency: String,
    pub orders: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_orders: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_orders: Option<i64>,
    pub units_sold: i64,
    pub units_cancelled: i64,
    pub units_returned: i64,
    pub net_units: i64,
    pub revenue_amount: i64,
    pub cancelled_amount: i64,
    pub returned_amount: i64,
    pub net_revenue_amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// One product's net sales over the range.
#[derive(Debug, Serialize)]
pub(crate) struct TopProductView {
    pub sku: String,
    pub currency: String,
    pub orders: i64,
    pub net_units: i64,
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

/// The query string of the sales report.
#[derive(Debug, Deserialize)]
pub(crate) struct SalesQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    sku: Option<String>,
    /// `day` (the default: all SKUs together) or `sku` (one row per day and SKU).
    group: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The query string of the top products.
#[derive(Debug, Deserialize)]
pub(crate) struct TopQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// `units` (the default) or `revenue`.
    by: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn date_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<DateRange, Problem> {
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(validation("from must not be after to"));
        }
    }
    Ok(DateRange { from, to })
}

/// `GET /v1/analytics/sales[?from=&to=&sku=&group=day|sku]`.
#[instrument(skip_all)]
pub(crate) async fn sales(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<SalesQuery>,
) -> Result<Response, Problem> {
    let range = date_range(query.from, query.to)?;
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

/// `GET /v1/analytics/top-products[?from=&to=&by=units|revenue]`.
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

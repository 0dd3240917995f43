//! `GET /v1/analytics/lost-demand`: the demand the shop turned away, from the sales projection's
//! `lost_demand_daily`.
//!
//! A rejected order (not enough stock) records its shortages: per UTC day of the rejection, SKU and currency, how
//! many orders were refused, the units they asked for, the units that were available, and what the units asked
//! for were worth at the order's unit price. Filtered like the sales report (`from`, `to`, `sku`) and in the same
//! order, `(day, sku, currency)`.

use super::analytics::{check_sku, date_range};
use super::csv::{text, value, Cell, CsvRecord};
use super::docs::{self, AcceptCsv};
use super::{list_response, page_request, MinPosition, PageParams};
use crate::openapi::schemas;
use crate::problem::Problem;
use crate::{ApiQuery, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use chrono::NaiveDate;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use tally_projections::read::sales::{self, LostDemandRow};
use tally_projections::ReadModel;
use tracing::instrument;
use utoipa::{IntoParams, ToSchema};

const MODELS: &[ReadModel] = &[ReadModel::Sales];

/// One UTC day's shortages of one SKU in one currency: what the orders rejected that day for want of stock asked
/// for (see docs/read-models.md, `lost_demand_daily`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LostDemandDay)]
pub(crate) struct LostDemandView {
    /// The UTC day the orders were rejected.
    pub day: NaiveDate,
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    /// The currency of the orders' prices.
    #[schema(value_type = schemas::Currency)]
    pub currency: String,
    /// Orders rejected that day with a shortage of this SKU.
    pub rejected_orders: i64,
    /// Units of this SKU those orders asked for.
    pub units_requested: i64,
    /// Units that were available when they were refused.
    pub units_available: i64,
    /// `units_requested - units_available`.
    pub units_short: i64,
    /// `units_requested` at the orders' unit prices, minor units of `currency`.
    pub lost_revenue_amount: i64,
}

impl From<LostDemandRow> for LostDemandView {
    fn from(row: LostDemandRow) -> Self {
        LostDemandView {
            day: row.day,
            sku: row.sku,
            currency: row.currency,
            rejected_orders: row.rejected_orders,
            units_requested: row.units_requested,
            units_available: row.units_available,
            units_short: row.units_short,
            lost_revenue_amount: row.lost_revenue_amount,
        }
    }
}

impl CsvRecord for LostDemandView {
    const HEADER: &'static [&'static str] = &[
        "day",
        "sku",
        "currency",
        "rejected_orders",
        "units_requested",
        "units_available",
        "units_short",
        "lost_revenue_amount",
    ];

    fn fields(&self) -> Vec<Cell> {
        vec![
            value(self.day),
            text(&self.sku),
            text(&self.currency),
            value(self.rejected_orders),
            value(self.units_requested),
            value(self.units_available),
            value(self.units_short),
            value(self.lost_revenue_amount),
        ]
    }
}

/// The query string of the lost demand. Another parameter is a 400.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LostDemandQuery {
    /// The first UTC day (inclusive, `YYYY-MM-DD`, a year from 0000 to 9999, else 422). Unbounded when absent.
    from: Option<NaiveDate>,
    /// The last UTC day (inclusive, `YYYY-MM-DD`); not before `from` (else 422). Unbounded when absent.
    to: Option<NaiveDate>,
    /// Only this SKU (not a SKU: 422).
    #[param(value_type = Option<schemas::Sku>)]
    sku: Option<String>,
    #[param(ignore)]
    limit: Option<u32>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Read by [`MinPosition`].
    #[param(ignore)]
    #[serde(rename = "min_position")]
    _min_position: Option<IgnoredAny>,
}

/// A page of lost demand (`GET /v1/analytics/lost-demand` as JSON).
#[derive(ToSchema)]
#[schema(as = LostDemandPage)]
#[allow(dead_code)] // Documents the `ListBody<LostDemandView>` the handler answers, under its published name.
pub(crate) struct LostDemandPage {
    /// Rows in (day, sku, currency) order, oldest day first, as the sales report.
    items: Vec<LostDemandView>,
    /// The opaque cursor of the next page (pass it as `cursor`); `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Lost demand by day
///
/// The shortages of the orders rejected for want of stock, per UTC day, SKU and currency, from the sales read
/// model: orders refused, units asked for, units available, units short, and the revenue the units asked for
/// would have brought. Amounts are never summed across currencies.
#[utoipa::path(get, path = "/v1/analytics/lost-demand", tag = "queries", operation_id = "getLostDemand",
    params(LostDemandQuery, PageParams, AcceptCsv, MinPosition),
    responses(
        (status = 200, description = docs::PAGE,
            content((LostDemandPage = "application/json"), (String = "text/csv")),
            headers(
                ("Tally-Next-Cursor" = String, description = "CSV pages: the next page's cursor (absent on the last page)."),
                ("Link" = String, description = "CSV pages: `<...>; rel=\"next\"`, this request with `cursor` set to \
                    the next page's (absent on the last page)."))),
        (status = 400, description = docs::BAD_QUERY, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "422 `validation`: `from` is after `to` or either is outside the years 0000 \
            to 9999, `sku` is not a SKU, `limit` is out of range, or `cursor` is not one this list issued.",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = docs::UNAVAILABLE, body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
#[instrument(skip_all)]
pub(crate) async fn lost_demand(
    State(state): State<AppState>,
    min_position: MinPosition,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(query): ApiQuery<LostDemandQuery>,
) -> Result<Response, Problem> {
    let range = date_range(query.from, query.to)?;
    check_sku(query.sku.as_deref())?;
    let page = page_request(query.limit, query.cursor)?;
    min_position.wait(&state, MODELS).await?;
    let page = sales::lost_demand(&state.pool, query.sku.as_deref(), &range, &page).await?;
    Ok(list_response::<LostDemandRow, LostDemandView>(&headers, &uri, page))
}

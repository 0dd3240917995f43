//! Sales figures as the sales projection holds them (`sales_daily`, `sales_daily_sku`): per UTC day for all SKUs,
//! for one SKU or per SKU, and the top products of a date range by net units or net revenue; and the demand it
//! lost (`lost_demand_daily`, the shortages of rejected orders) per UTC day, SKU and currency.
//!
//! Date ranges are inclusive UTC days. Money is never summed across currencies: every row and every ranking is
//! per `(sku, currency)` or `(day, currency)`.

use chrono::NaiveDate;
use sqlx::PgPool;
use tracing::instrument;

use super::{paginate, saturating_sum, Page, PageRequest, ReadError};

/// Which sales rows to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SalesGrouping {
    /// One row per day and currency, all SKUs together (`sales_daily`).
    Total,
    /// One row per day, SKU and currency (`sales_daily_sku`), for one SKU or (`None`) every SKU.
    PerSku(Option<String>),
}

/// The filters of the sales and top-products readers; `None` is unbounded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// One day's sales (of one SKU when `sku` is set). The per-SKU rows have no order cancellations nor refunds
/// (`None`): those belong to an order, not a SKU.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SalesDayRow {
    pub day: NaiveDate,
    pub sku: Option<String>,
    pub currency: String,
    pub orders: i64,
    pub cancelled_orders: Option<i64>,
    pub net_orders: Option<i64>,
    pub units_sold: i64,
    pub units_cancelled: i64,
    pub units_returned: i64,
    pub net_units: i64,
    pub revenue_amount: i64,
    pub cancelled_amount: i64,
    pub returned_amount: i64,
    pub net_revenue_amount: i64,
    pub refunded_amount: Option<i64>,
}

/// What a ranking of products counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopBy {
    /// Net units sold.
    Units,
    /// Net revenue (per currency).
    Revenue,
}

/// One product's net sales over a range.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TopProductRow {
    pub sku: String,
    pub currency: String,
    pub orders: i64,
    pub net_units: i64,
    pub net_revenue_amount: i64,
}

/// One UTC day's lost demand of one SKU in one currency (a row of `lost_demand_daily`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LostDemandRow {
    pub day: NaiveDate,
    pub sku: String,
    pub currency: String,
    pub rejected_orders: i64,
    pub units_requested: i64,
    pub units_available: i64,
    pub units_short: i64,
    pub lost_revenue_amount: i64,
}

const SALES: &str = "sales";
const TOP: &str = "top-products";
const LOST: &str = "lost-demand";

/// The `(day, sku, currency)` key of a page's cursor, as three bind values (all `None` on the first page).
type DaySkuKey = (Option<NaiveDate>, Option<String>, Option<String>);

fn day_sku_key(page: &PageRequest, list: &str) -> Result<DaySkuKey, ReadError> {
    let after: Option<(NaiveDate, String, String)> = page.key(list)?;
    Ok(match after {
        Some((day, sku, currency)) => (Some(day), Some(sku), Some(currency)),
        None => (None, None, None),
    })
}

/// The rows (`columns`) of a table keyed by `(day, sku, currency)` (`sales_daily_sku`, `lost_demand_daily`) after
/// `after`, within `range`, of `sku` when given, in key order: one more than the page holds, for [`paginate`]. The
/// primary key serves the order and the keyset; `sku` alone uses the table's `(sku, day)` index.
async fn per_sku_rows<R>(
    pool: &PgPool,
    table: &str,
    columns: &str,
    after: DaySkuKey,
    sku: Option<&str>,
    range: &DateRange,
    page: &PageRequest,
) -> Result<Vec<R>, ReadError>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    // `table` and `columns` are constants of this module, never input.
    let sql = format!(
        "select {columns}
           from {table}
          where ($1::date is null or (day, sku, currency) > ($1, $2::text, $3::text))
            and ($4::date is null or day >= $4)
            and ($5::date is null or day <= $5)
            and ($6::text is null or sku = $6)
          order by day, sku, currency
          limit $7"
    );
    let (after_day, after_sku, after_currency) = after;
    Ok(sqlx::query_as(&sql)
        .bind(after_day)
        .bind(after_sku)
        .bind(after_currency)
        .bind(range.from)
        .bind(range.to)
        .bind(sku)
        .bind(page.sql_limit() + 1)
        .fetch_all(pool)
        .await?)
}

/// A page of daily sales in `(day, sku, currency)` order.
#[instrument(skip_all, fields(limit = page.limit))]
pub async fn sales_by_day(
    pool: &PgPool,
    grouping: &SalesGrouping,
    range: &DateRange,
    page: &PageRequest,
) -> Result<Page<SalesDayRow>, ReadError> {
    let after = day_sku_key(page, SALES)?;
    let rows: Vec<SalesDayRow> = match grouping {
        // The totals have no sku: their key uses '' in its place.
        SalesGrouping::Total => {
            sqlx::query_as(
                "select day, null::text as sku, currency, orders, cancelled_orders, net_orders, units_sold,
                        units_cancelled, units_returned, net_units, revenue_amount, cancelled_amount,
                        returned_amount, net_revenue_amount, refunded_amount
                   from sales_daily
                  where ($1::date is null or (day, currency) > ($1, $2::text))
                    and ($3::date is null or day >= $3)
                    and ($4::date is null or day <= $4)
                  order by day, currency
                  limit $5",
            )
            .bind(after.0)
            .bind(after.2)
            .bind(range.from)
            .bind(range.to)
            .bind(page.sql_limit() + 1)
            .fetch_all(pool)
            .await?
        }
        SalesGrouping::PerSku(sku) => {
            let columns = "day, sku, currency, orders, null::bigint as cancelled_orders, null::bigint as net_orders,
                units_sold, units_cancelled, units_returned, net_units, revenue_amount, cancelled_amount,
                returned_amount, net_revenue_amount, null::bigint as refunded_amount";
            per_sku_rows(pool, "sales_daily_sku", columns, after, sku.as_deref(), range, page).await?
        }
    };
    Ok(paginate(rows, page, SALES, |row| (row.day, row.sku.clone().unwrap_or_default(), row.currency.clone())))
}

/// A page of products ranked by `by` over `range` (highest first; ties by SKU, then currency).
///
/// The key is the ranked value with the SKU and currency, so a walk is stable as long as the figures do not
/// change under it; a sale recorded mid-walk can move a product across the page boundary.
#[instrument(skip_all, fields(limit = page.limit, by = ?by))]
pub async fn top_products(
    pool: &PgPool,
    by: TopBy,
    range: &DateRange,
    page: &PageRequest,
) -> Result<Page<TopProductRow>, ReadError> {
    let after: Option<(i64, String, String)> = page.key(TOP)?;
    let (after_value, after_sku, after_currency) = match after {
        Some((value, sku, currency)) => (Some(value), Some(sku), Some(currency)),
        None => (None, None, None),
    };
    // The ranked column is chosen from a fixed pair, never from input.
    let ranked = match by {
        TopBy::Units => "net_units",
        TopBy::Revenue => "net_revenue_amount",
    };
    // A sum over many days can leave a bigint: it saturates, never fails the query.
    let sum = saturating_sum;
    let (orders, net_units, net_revenue_amount) = (sum("orders"), sum("net_units"), sum("net_revenue_amount"));
    let sql = format!(
        "with totals as (
             select sku, currency, {orders} as orders, {net_units} as net_units,
                    {net_revenue_amount} as net_revenue_amount
               from sales_daily_sku
              where ($1::date is null or day >= $1)
                and ($2::date is null or day <= $2)
              group by sku, currency
         )
         select sku, currency, orders, net_units, net_revenue_amount
           from totals
          where $3::bigint is null
             or {ranked} < $3
             or ({ranked} = $3 and (sku, currency) > ($4::text, $5::text))
          order by {ranked} desc, sku, currency
          limit $6"
    );
    let rows: Vec<TopProductRow> = sqlx::query_as(&sql)
        .bind(range.from)
        .bind(range.to)
        .bind(after_value)
        .bind(after_sku)
        .bind(after_currency)
        .bind(page.sql_limit() + 1)
        .fetch_all(pool)
        .await?;
    Ok(paginate(rows, page, TOP, |row| {
        let value = match by {
            TopBy::Units => row.net_units,
            TopBy::Revenue => row.net_revenue_amount,
        };
        (value, row.sku.clone(), row.currency.clone())
    }))
}

/// A page of lost demand (of one SKU when `sku` is set) in `(day, sku, currency)` order, as the sales rows.
#[instrument(skip_all, fields(limit = page.limit))]
pub async fn lost_demand(
    pool: &PgPool,
    sku: Option<&str>,
    range: &DateRange,
    page: &PageRequest,
) -> Result<Page<LostDemandRow>, ReadError> {
    let columns = "day, sku, currency, rejected_orders, units_requested, units_available, units_short,
        lost_revenue_amount";
    let rows: Vec<LostDemandRow> =
        per_sku_rows(pool, "lost_demand_daily", columns, day_sku_key(page, LOST)?, sku, range, page).await?;
    Ok(paginate(rows, page, LOST, |row| (row.day, row.sku.clone(), row.currency.clone())))
}

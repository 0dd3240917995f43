//! Orders as the orders projection holds them (`orders`, `order_lines`): a filtered page, one order with its
//! lines, the candidates of the order workers (orders left pending, confirmed orders unpaid past their
//! reservation), and counts: orders per status, and orders placed per hour of a UTC day.
//!
//! The list is ordered by `(placed_at, order_id)`: both are fixed when the order is placed, so the key of a row
//! never moves and a keyset walk is stable while orders arrive or change status.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::PgPool;
use tally_domain::order::OrderStatus;
use tally_domain::OrderId;
use tracing::instrument;
use uuid::Uuid;

use super::{paginate, saturating_sum, Page, PageRequest, ReadError};

/// One order as it stands (a row of `orders`), with its lines when read through [`order`] or [`list_orders`].
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: Uuid,
    pub customer_id: String,
    pub status: String,
    pub currency: String,
    pub total_amount: i64,
    pub paid_amount: i64,
    pub refunded_amount: i64,
    pub line_count: i32,
    pub units: i64,
    pub shortages: Option<serde_json::Value>,
    pub cancel_reason: Option<String>,
    pub reserved_until: Option<DateTime<Utc>>,
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
    #[sqlx(skip)]
    pub lines: Vec<OrderLineRow>,
}

/// One line of an order (a row of `order_lines`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderLineRow {
    pub order_id: Uuid,
    pub line_no: i32,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_amount: i64,
    pub currency: String,
    pub shipped: i64,
    pub returned: i64,
}

/// The filters of the orders list; each `None` matches every order. Both time bounds are exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<String>,
    pub placed_after: Option<DateTime<Utc>>,
    pub placed_before: Option<DateTime<Utc>>,
}

/// How many orders (of those a filter matches) are in one status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusCountRow {
    pub status: String,
    pub orders: i64,
}

/// The orders placed in one hour of a UTC day in one currency, rejected ones left out.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HourRow {
    /// The start of the hour (UTC).
    pub hour: DateTime<Utc>,
    pub currency: String,
    pub orders: i64,
    /// The sum of their totals, minor units of `currency` (saturating at the bigint maximum).
    pub amount: i64,
}

const LIST: &str = "orders";

const COLUMNS: &str = "order_id, customer_id, status, currency, total_amount, paid_amount, refunded_amount,
    line_count, units, shortages, cancel_reason, reserved_until, placed_at, confirmed_at, rejected_at, paid_at,
    partially_shipped_at, shipped_at, delivered_at, cancelled_at, expired_at, last_returned_at, last_refunded_at,
    updated_at, version, position";

/// A page of orders matching `filter`, oldest first by `(placed_at, order_id)`, each with its lines.
#[instrument(skip_all, fields(limit = page.limit))]
pub async fn list_orders(pool: &PgPool, filter: &OrderFilter, page: &PageRequest) -> Result<Page<OrderRow>, ReadError> {
    let after: Option<(DateTime<Utc>, Uuid)> = page.key(LIST)?;
    let mut query = sqlx::QueryBuilder::new(format!("select {COLUMNS} from orders where true"));
    if let Some((placed_at, order_id)) = after {
        query.push(" and (placed_at, order_id) > (").push_bind(placed_at).push(", ").push_bind(order_id).push(")");
    }
    push_filter(&mut query, filter);
    query.push(" order by placed_at, order_id limit ").push_bind(page.sql_limit() + 1);
    let rows: Vec<OrderRow> = query.build_query_as().fetch_all(pool).await?;
    let mut page = paginate(rows, page, LIST, |row| (row.placed_at, row.order_id));
    attach_lines(pool, &mut page.items).await?;
    Ok(page)
}

/// Appends `filter`'s conditions to a query that ends in a `where` clause. Only the filters given become
/// conditions (each value still a bind parameter), so the planner sees the plain predicates and can use the
/// (status, placed_at) / (customer_id, placed_at) / (placed_at) indexes.
fn push_filter(query: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, filter: &OrderFilter) {
    if let Some(status) = filter.status {
        // The `status` column holds `OrderStatus::as_str`.
        query.push(" and status = ").push_bind(status.as_str());
    }
    if let Some(customer_id) = &filter.customer_id {
        query.push(" and customer_id = ").push_bind(customer_id.clone());
    }
    if let Some(placed_after) = filter.placed_after {
        query.push(" and placed_at > ").push_bind(placed_after);
    }
    if let Some(placed_before) = filter.placed_before {
        query.push(" and placed_at < ").push_bind(placed_before);
    }
}

/// How many orders matching `filter` are in each status, for the statuses that have any (in no order).
#[instrument(skip_all)]
pub async fn status_counts(pool: &PgPool, filter: &OrderFilter) -> Result<Vec<StatusCountRow>, ReadError> {
    let mut query = sqlx::QueryBuilder::new("select status, count(*) as orders from orders where true");
    push_filter(&mut query, filter);
    query.push(" group by status");
    Ok(query.build_query_as().fetch_all(pool).await?)
}

/// The orders placed on the UTC `day` that were not rejected, per hour (UTC) and currency, with the sum of their
/// totals: only hours with orders, by hour then currency. A pending order counts (it is not rejected yet), and so
/// do orders cancelled or expired since (placed and not refused).
#[instrument(skip_all, fields(day = %day))]
pub async fn orders_per_hour(pool: &PgPool, day: NaiveDate) -> Result<Vec<HourRow>, ReadError> {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = start.checked_add_signed(TimeDelta::days(1)).unwrap_or(DateTime::<Utc>::MAX_UTC);
    // The range on placed_at uses orders_placed_at_idx; date_trunc with a time zone truncates in UTC whatever the
    // session's time zone.
    let sql = format!(
        "select date_trunc('hour', placed_at, 'UTC') as hour, currency, count(*) as orders,
                {amount} as amount
           from orders
          where placed_at >= $1 and placed_at < $2
            and status <> 'rejected'
          group by 1, currency
          order by 1, currency",
        amount = saturating_sum("total_amount")
    );
    Ok(sqlx::query_as(&sql).bind(start).bind(end).fetch_all(pool).await?)
}

/// One order with its lines, `None` if the orders projection has not seen it.
#[instrument(skip_all, fields(order.id = %order_id))]
pub async fn order(pool: &PgPool, order_id: Uuid) -> Result<Option<OrderRow>, ReadError> {
    let sql = format!("select {COLUMNS} from orders where order_id = $1");
    let row: Option<OrderRow> = sqlx::query_as(&sql).bind(order_id).fetch_optional(pool).await?;
    let Some(row) = row else { return Ok(None) };
    let mut rows = vec![row];
    attach_lines(pool, &mut rows).await?;
    Ok(rows.pop())
}

/// For the order process's expiry: `confirmed` (so not fully paid) orders whose `reserved_until` is before `now`, the
/// longest overdue first, at most `limit`. The worker's command re-checks against the order's own stream.
#[instrument(skip_all, fields(now = %now, limit))]
pub async fn orders_confirmed_unpaid_past(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<OrderId>, ReadError> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select order_id from orders
          where status = 'confirmed' and reserved_until < $1
          order by reserved_until, order_id
          limit $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(OrderId::from).collect())
}

/// Loads the lines of `orders` with one query and hands each order its lines in line order.
async fn attach_lines(pool: &PgPool, orders: &mut [OrderRow]) -> Result<(), ReadError> {
    if orders.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = orders.iter().map(|order| order.order_id).collect();
    let lines: Vec<OrderLineRow> = sqlx::query_as(
        "select order_id, line_no, sku, quantity, unit_price_amount, currency, shipped, returned
           from order_lines
          where order_id = any($1)
          order by order_id, line_no",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let mut grouped: std::collections::HashMap<Uuid, Vec<OrderLineRow>> = std::collections::HashMap::new();
    for line in lines {
        grouped.entry(line.order_id).or_default().push(line);
    }
    for order in orders {
        order.lines = grouped.remove(&order.order_id).unwrap_or_default();
    }
    Ok(())
}

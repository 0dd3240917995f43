//! Stock as the inventory projection holds it: per SKU with its locations (`inventory_totals` and
//! `inventory_levels`), low stock, and the stock ledger of one SKU.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use super::{paginate, Page, PageRequest, ReadError};

/// A SKU's stock, all locations together, with each location's levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub version: i64,
    pub position: i64,
    pub updated_at: DateTime<Utc>,
    /// In location order.
    pub locations: Vec<LocationLevel>,
}

/// One location's levels.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LocationLevel {
    pub location: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

#[derive(sqlx::FromRow)]
struct TotalsRow {
    sku: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
    version: i64,
    position: i64,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct LevelRow {
    sku: String,
    #[sqlx(flatten)]
    level: LocationLevel,
}

/// One stock movement at one location, with the levels right after it (a row of `stock_ledger`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerRow {
    pub position: i64,
    pub location: String,
    pub sku: String,
    pub version: i64,
    pub kind: String,
    pub reason: Option<String>,
    pub order_id: Option<Uuid>,
    pub shipment_id: Option<Uuid>,
    pub return_id: Option<Uuid>,
    pub reference: Option<String>,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    pub on_hand_after: i64,
    pub reserved_after: i64,
    pub available_after: i64,
    pub sku_on_hand_after: i64,
    pub sku_reserved_after: i64,
    pub sku_available_after: i64,
    pub recorded_at: DateTime<Utc>,
}

const LIST: &str = "inventory";
const LEDGER: &str = "ledger";

/// A page of SKUs' stock in SKU order; with `below`, only SKUs with fewer than `below` units available.
#[instrument(skip_all, fields(limit = page.limit, below))]
pub async fn list_stock(pool: &PgPool, below: Option<i64>, page: &PageRequest) -> Result<Page<StockRow>, ReadError> {
    let after: Option<String> = page.key(LIST)?;
    let totals: Vec<TotalsRow> = sqlx::query_as(
        "select sku, on_hand, reserved, available, version, position, updated_at
           from inventory_totals
          where ($1::text is null or sku > $1)
            and ($2::bigint is null or available < $2)
          order by sku
          limit $3",
    )
    .bind(after)
    .bind(below)
    .bind(page.sql_limit() + 1)
    .fetch_all(pool)
    .await?;
    let page = paginate(totals, page, LIST, |row| row.sku.clone());
    let skus: Vec<String> = page.items.iter().map(|row| row.sku.clone()).collect();
    let mut levels = levels_of(pool, &skus).await?;
    let items = page
        .items
        .into_iter()
        .map(|totals| {
            let locations = levels.remove(&totals.sku).unwrap_or_default();
            with_locations(totals, locations)
        })
        .collect();
    Ok(Page { items, next_cursor: page.next_cursor })
}

/// One SKU's stock, `None` if it never had a stock movement.
#[instrument(skip_all, fields(inventory.sku = sku))]
pub async fn stock(pool: &PgPool, sku: &str) -> Result<Option<StockRow>, ReadError> {
    let totals: Option<TotalsRow> = sqlx::query_as(
        "select sku, on_hand, reserved, available, version, position, updated_at
           from inventory_totals
          where sku = $1",
    )
    .bind(sku)
    .fetch_optional(pool)
    .await?;
    let Some(totals) = totals else { return Ok(None) };
    let mut levels = levels_of(pool, std::slice::from_ref(&totals.sku)).await?;
    let locations = levels.remove(&totals.sku).unwrap_or_default();
    Ok(Some(with_locations(totals, locations)))
}

/// A page of one SKU's ledger in log order (key: `(position, location)`, the table's primary key).
#[instrument(skip_all, fields(inventory.sku = sku, limit = page.limit))]
pub async fn ledger(pool: &PgPool, sku: &str, page: &PageRequest) -> Result<Page<LedgerRow>, ReadError> {
    let after: Option<(i64, String)> = page.key(LEDGER)?;
    let (after_position, after_location) = after.unzip();
    let rows: Vec<LedgerRow> = sqlx::query_as(
        "select position, location, sku, version, kind, reason, order_id, shipment_id, return_id, reference,
                on_hand_delta, reserved_delta, on_hand_after, reserved_after, available_after,
                sku_on_hand_after, sku_reserved_after, sku_available_after, recorded_at
           from stock_ledger
          where sku = $1
            and ($2::bigint is null or (position, location) > ($2, $3::text))
          order by position, location
          limit $4",
    )
    .bind(sku)
    .bind(after_position)
    .bind(after_location)
    .bind(page.sql_limit() + 1)
    .fetch_all(pool)
    .await?;
    Ok(paginate(rows, page, LEDGER, |row| (row.position, row.location.clone())))
}

/// The levels of `skus` per location, grouped by SKU, each SKU's locations in order.
async fn levels_of(
    pool: &PgPool,
    skus: &[String],
) -> Result<std::collections::HashMap<String, Vec<LocationLevel>>, ReadError> {
    let mut grouped: std::collections::HashMap<String, Vec<LocationLevel>> = std::collections::HashMap::new();
    if skus.is_empty() {
        return Ok(grouped);
    }
    let rows: Vec<LevelRow> = sqlx::query_as(
        "select sku, location, on_hand, reserved, available
           from inventory_levels
          where sku = any($1)
          order by sku, location",
    )
    .bind(skus)
    .fetch_all(pool)
    .await?;
    for row in rows {
        grouped.entry(row.sku).or_default().push(row.level);
    }
    Ok(grouped)
}

fn with_locations(totals: TotalsRow, locations: Vec<LocationLevel>) -> StockRow {
    StockRow {
        sku: totals.sku,
        on_hand: totals.on_hand,
        reserved: totals.reserved,
        available: totals.available,
        version: totals.version,
        position: totals.position,
        updated_at: totals.updated_at,
        locations,
    }
}

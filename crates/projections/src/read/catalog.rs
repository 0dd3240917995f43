//! The catalog as the `products` table holds it: a page of products in SKU order, or one product.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tally_domain::catalog::ProductStatus;
use tracing::instrument;

use super::{paginate, Page, PageRequest, ReadError};

/// One product as it stands.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    pub price_amount: i64,
    pub currency: String,
    /// [`ProductStatus::as_str`]: `active` or `discontinued`.
    pub status: String,
    pub version: i64,
    pub position: i64,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const LIST: &str = "products";

/// A page of products in SKU order, optionally only those with `status`. The key is the SKU (immutable).
#[instrument(skip_all, fields(limit = page.limit))]
pub async fn list_products(
    pool: &PgPool,
    status: Option<ProductStatus>,
    page: &PageRequest,
) -> Result<Page<ProductRow>, ReadError> {
    let after: Option<String> = page.key(LIST)?;
    let rows: Vec<ProductRow> = sqlx::query_as(
        "select sku, name, price_amount, currency, status, version, position, registered_at, updated_at
           from products
          where ($1::text is null or sku > $1)
            and ($2::text is null or status = $2)
          order by sku
          limit $3",
    )
    .bind(after)
    .bind(status.map(ProductStatus::as_str))
    .bind(page.sql_limit() + 1)
    .fetch_all(pool)
    .await?;
    Ok(paginate(rows, page, LIST, |row| row.sku.clone()))
}

/// One product, `None` if the SKU was never registered.
#[instrument(skip_all, fields(product.sku = sku))]
pub async fn product(pool: &PgPool, sku: &str) -> Result<Option<ProductRow>, ReadError> {
    let row = sqlx::query_as(
        "select sku, name, price_amount, currency, status, version, position, registered_at, updated_at
           from products
          where sku = $1",
    )
    .bind(sku)
    .fetch_optional(pool)
    .await?;
    Ok(row)
}

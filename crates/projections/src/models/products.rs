//! The `products` read model: the catalog as it stands, one row per SKU.
//!
//! Reads `product-{sku}` streams. The SKU comes from the stream name (only `ProductRegistered` repeats it).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use tally_domain::catalog::ProductStatus;
use tally_domain::{Product, ProductEvent, Sku};
use tally_store::RecordedEvent;

use super::rows::{inconsistent, load_rows, to_i64, write_rows};
use super::Model;
use crate::error::ProjectionError;

#[derive(Debug, Clone, sqlx::FromRow)]
struct ProductRow {
    sku: String,
    name: String,
    price_amount: i64,
    currency: String,
    status: String,
    version: i64,
    position: i64,
    registered_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const LOAD: &str = "select * from products where sku = any($1)";

/// What an upsert changes of a registered product.
const ON_CONFLICT: &str = "\
    on conflict (sku) do update
       set name = excluded.name, price_amount = excluded.price_amount, currency = excluded.currency,
           status = excluded.status, version = excluded.version, position = excluded.position,
           updated_at = excluded.updated_at";

/// The products model.
pub(super) struct Products;

/// A batch's catalog: the rows of its SKUs, and which of them it changed.
pub(super) struct Catalog {
    rows: BTreeMap<String, ProductRow>,
    touched: BTreeSet<String>,
}

impl Model for Products {
    type Stream = Product;
    type Key = String;
    type Batch = Catalog;

    fn key(sku: Sku) -> String {
        sku.to_string()
    }

    async fn load(conn: &mut PgConnection, skus: Vec<String>) -> Result<Catalog, ProjectionError> {
        let rows = load_rows::<ProductRow, _>(conn, LOAD, skus).await?;
        Ok(Catalog { rows: rows.into_iter().map(|row| (row.sku.clone(), row)).collect(), touched: BTreeSet::new() })
    }

    fn fold(
        catalog: &mut Catalog,
        event: &RecordedEvent,
        sku: String,
        product_event: ProductEvent,
    ) -> Result<(), ProjectionError> {
        let rows = &mut catalog.rows;
        match product_event {
            ProductEvent::ProductRegistered { name, price, .. } => {
                if rows.contains_key(&sku) {
                    return Err(inconsistent(event, format!("product {sku} registered twice")));
                }
                let row = ProductRow {
                    sku: sku.clone(),
                    name,
                    price_amount: price.minor(),
                    currency: price.currency().to_string(),
                    status: ProductStatus::Active.as_str().to_owned(),
                    version: 0,
                    position: 0,
                    registered_at: event.recorded_at,
                    updated_at: event.recorded_at,
                };
                rows.insert(sku.clone(), row);
            }
            ProductEvent::ProductRepriced { price, .. } => {
                let row = existing(rows, &sku, event)?;
                row.price_amount = price.minor();
                row.currency = price.currency().to_string();
            }
            ProductEvent::ProductDiscontinued {} => {
                existing(rows, &sku, event)?.status = ProductStatus::Discontinued.as_str().to_owned();
            }
        }
        let row = existing(rows, &sku, event)?;
        row.version = to_i64(event.stream_version);
        row.position = to_i64(event.position);
        row.updated_at = event.recorded_at;
        catalog.touched.insert(sku);
        Ok(())
    }

    async fn write(conn: &mut PgConnection, catalog: Catalog) -> Result<(), ProjectionError> {
        let changed: Vec<&ProductRow> = catalog.touched.iter().filter_map(|sku| catalog.rows.get(sku)).collect();
        write_rows!(
            conn,
            "products",
            changed,
            [sku, name, price_amount, currency, status, version, position, registered_at, updated_at],
            ON_CONFLICT
        )
    }
}

fn existing<'a>(
    rows: &'a mut BTreeMap<String, ProductRow>,
    sku: &str,
    event: &RecordedEvent,
) -> Result<&'a mut ProductRow, ProjectionError> {
    rows.get_mut(sku).ok_or_else(|| inconsistent(event, format!("product {sku} was never registered")))
}

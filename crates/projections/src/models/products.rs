//! The `products` read model: the catalog as it stands, one row per SKU.
//!
//! Reads `product-{sku}` streams. The SKU comes from the stream name (only `ProductRegistered` repeats it).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use tally_domain::catalog::ProductStatus;
use tally_domain::{Product, ProductEvent, Sku};
use tally_store::RecordedEvent;
use tracing::instrument;

use super::rows::{decode, inconsistent, load, stream_key, to_i64, write_rows};
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

#[instrument(skip_all, fields(events = events.len()))]
pub(super) async fn apply(conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    let mut decoded = Vec::with_capacity(events.len());
    for event in events {
        let sku: Sku = stream_key::<Product>(event)?;
        decoded.push((event, sku.to_string(), decode::<ProductEvent>(event)?));
    }
    let keys: Vec<String> = decoded.iter().map(|(_, sku, _)| sku.clone()).collect();
    let mut rows: BTreeMap<String, ProductRow> =
        load::<ProductRow, _>(conn, LOAD, keys).await?.into_iter().map(|row| (row.sku.clone(), row)).collect();
    let mut touched = BTreeSet::new();

    for (event, sku, product_event) in decoded {
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
                    status: status_name(ProductStatus::Active).to_owned(),
                    version: 0,
                    position: 0,
                    registered_at: event.recorded_at,
                    updated_at: event.recorded_at,
                };
                rows.insert(sku.clone(), row);
            }
            ProductEvent::ProductRepriced { price, .. } => {
                let row = existing(&mut rows, &sku, event)?;
                row.price_amount = price.minor();
                row.currency = price.currency().to_string();
            }
            ProductEvent::ProductDiscontinued {} => {
                existing(&mut rows, &sku, event)?.status = status_name(ProductStatus::Discontinued).to_owned();
            }
        }
        let row = existing(&mut rows, &sku, event)?;
        row.version = to_i64(event.stream_version);
        row.position = to_i64(event.position);
        row.updated_at = event.recorded_at;
        touched.insert(sku);
    }

    let changed: Vec<&ProductRow> = touched.iter().filter_map(|sku| rows.get(sku)).collect();
    write_rows!(
        conn,
        "products",
        changed,
        [sku, name, price_amount, currency, status, version, position, registered_at, updated_at],
        ON_CONFLICT
    )
}

fn existing<'a>(
    rows: &'a mut BTreeMap<String, ProductRow>,
    sku: &str,
    event: &RecordedEvent,
) -> Result<&'a mut ProductRow, ProjectionError> {
    rows.get_mut(sku).ok_or_else(|| inconsistent(event, format!("product {sku} was never registered")))
}

fn status_name(status: ProductStatus) -> &'static str {
    match status {
        ProductStatus::Active => "active",
        ProductStatus::Discontinued => "discontinued",
    }
}

//! A product of the catalog: `POST /v1/products[/{sku}/...]` and `GET /v1/products[/{sku}]`.

use super::{count, LastChange, MoneyView};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::schemas;
use tally_domain::catalog::ProductDetails;
use tally_projections::read::catalog::ProductRow;

/// `{sku, name, price, status, version, position, registered_at, updated_at}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Product)]
pub(crate) struct ProductView {
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    pub name: String,
    pub price: MoneyView,
    #[schema(value_type = schemas::ProductStatus)]
    pub status: String,
    pub version: u64,
    /// The log position of the product's last change.
    pub position: u64,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductView {
    /// The product as a command left it; `registered_at`: when its first event was recorded.
    pub(crate) fn from_aggregate(details: &ProductDetails, last: LastChange, registered_at: DateTime<Utc>) -> Self {
        ProductView {
            sku: details.sku().to_string(),
            name: details.name().to_owned(),
            price: details.price().into(),
            status: details.status().as_str().to_owned(),
            version: last.version,
            position: last.position,
            registered_at,
            updated_at: last.at,
        }
    }
}

impl From<ProductRow> for ProductView {
    fn from(row: ProductRow) -> Self {
        ProductView {
            price: MoneyView::new(row.price_amount, &row.currency),
            sku: row.sku,
            name: row.name,
            status: row.status,
            version: count(row.version),
            position: count(row.position),
            registered_at: row.registered_at,
            updated_at: row.updated_at,
        }
    }
}

//! A SKU's stock, all locations together and per location: `POST /v1/inventory/{sku}/{receipts,adjustments}` and
//! `GET /v1/inventory[/{sku}]`.

use super::{count, LastChange};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::schemas;
use tally_domain::{Inventory, Sku};
use tally_projections::read::stock::{LocationLevel, StockRow};

/// `{sku, on_hand, reserved, available, locations[...], version, position, updated_at}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Stock)]
pub(crate) struct StockView {
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    pub on_hand: u64,
    pub reserved: u64,
    pub available: u64,
    /// In location order.
    pub locations: Vec<LocationView>,
    pub version: u64,
    /// The log position of the SKU's last stock change.
    pub position: u64,
    pub updated_at: DateTime<Utc>,
}

/// One location's levels: `{location, on_hand, reserved, available}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = LocationStock)]
pub(crate) struct LocationView {
    #[schema(value_type = schemas::LocationId)]
    pub location: String,
    pub on_hand: u64,
    pub reserved: u64,
    pub available: u64,
}

impl StockView {
    /// The stock as a command left it.
    pub(crate) fn from_aggregate(sku: &Sku, inventory: &Inventory, last: LastChange) -> Self {
        let locations = inventory
            .locations()
            .map(|(location, stock)| LocationView {
                location: location.to_string(),
                on_hand: stock.on_hand(),
                reserved: stock.reserved(),
                available: stock.available(),
            })
            .collect();
        StockView {
            sku: sku.to_string(),
            on_hand: inventory.on_hand(),
            reserved: inventory.reserved(),
            available: inventory.available(),
            locations,
            version: last.version,
            position: last.position,
            updated_at: last.at,
        }
    }
}

impl From<LocationLevel> for LocationView {
    fn from(level: LocationLevel) -> Self {
        LocationView {
            location: level.location,
            on_hand: count(level.on_hand),
            reserved: count(level.reserved),
            available: count(level.available),
        }
    }
}

impl From<StockRow> for StockView {
    fn from(row: StockRow) -> Self {
        StockView {
            sku: row.sku,
            on_hand: count(row.on_hand),
            reserved: count(row.reserved),
            available: count(row.available),
            locations: row.locations.into_iter().map(LocationView::from).collect(),
            version: count(row.version),
            position: count(row.position),
            updated_at: row.updated_at,
        }
    }
}

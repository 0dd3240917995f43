//! The read models: which projections exist, which tables each owns, which part of the log each reads, and how
//! each applies a batch of events.
//!
//! Every model applies a batch the same set-based way: decode the batch, load the rows it touches with one query
//! per table, fold the events over them in Rust (in log order), and write the changed rows back with one upsert
//! per table. So a batch of 500 events costs a handful of statements, not 500 round trips. Models only use
//! unqualified table names, so a rebuild can point them at fresh copies with `search_path`.
//!
//! A model never reads another model's tables: each projection runs at its own position, so another model's rows
//! may be behind or ahead of the event being applied. A model that needs facts from earlier events keeps them in
//! its own tables (the sales model's `sales_orders`).

mod inventory;
mod orders;
mod products;
mod rows;
mod sales;

use sqlx::PgConnection;
use std::fmt;
use tally_store::{LogFilter, RecordedEvent};

use crate::error::ProjectionError;

/// A projection: one read model, its tables and its checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReadModel {
    /// `products`.
    Products,
    /// `inventory_levels`, `inventory_totals`, `stock_ledger`.
    Inventory,
    /// `orders`, `order_lines`.
    Orders,
    /// `sales_daily`, `sales_daily_sku`, `lost_demand_daily` (and its own `sales_orders`).
    Sales,
}

impl ReadModel {
    /// Every read model, in the order they are started and reported.
    pub const ALL: [ReadModel; 4] = [ReadModel::Products, ReadModel::Inventory, ReadModel::Orders, ReadModel::Sales];

    /// The projection's name: its row in `projections`, and what the CLI and the API call it.
    pub fn name(self) -> &'static str {
        match self {
            ReadModel::Products => "products",
            ReadModel::Inventory => "inventory",
            ReadModel::Orders => "orders",
            ReadModel::Sales => "sales",
        }
    }

    /// The read model with this name.
    pub fn from_name(name: &str) -> Result<ReadModel, ProjectionError> {
        ReadModel::ALL
            .into_iter()
            .find(|model| model.name() == name)
            .ok_or_else(|| ProjectionError::UnknownProjection { name: name.to_owned() })
    }

    /// The tables the model writes (and a rebuild replaces), all in the schema of migrations/0002.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            ReadModel::Products => &["products"],
            ReadModel::Inventory => &["inventory_levels", "inventory_totals", "stock_ledger"],
            ReadModel::Orders => &["orders", "order_lines"],
            ReadModel::Sales => &["sales_orders", "sales_daily", "sales_daily_sku", "lost_demand_daily"],
        }
    }

    /// The part of the global log the model reads.
    pub fn filter(self) -> LogFilter {
        match self {
            ReadModel::Products => LogFilter::stream_prefix("product-"),
            ReadModel::Inventory => LogFilter::stream_prefix("inventory-"),
            ReadModel::Orders | ReadModel::Sales => LogFilter::stream_prefix("order-"),
        }
    }

    /// Applies `events` (in log order, all passing [`ReadModel::filter`]) to the model's tables, inside the
    /// caller's transaction.
    pub(crate) async fn apply(self, conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
        if events.is_empty() {
            return Ok(());
        }
        match self {
            ReadModel::Products => products::apply(conn, events).await,
            ReadModel::Inventory => inventory::apply(conn, events).await,
            ReadModel::Orders => orders::apply(conn, events).await,
            ReadModel::Sales => sales::apply(conn, events).await,
        }
    }
}

impl fmt::Display for ReadModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_tables_are_disjoint() {
        let mut seen = std::collections::BTreeSet::new();
        for model in ReadModel::ALL {
            assert_eq!(ReadModel::from_name(model.name()).ok(), Some(model));
            for table in model.tables() {
                assert!(seen.insert(*table), "{table} belongs to two models");
            }
        }
        assert!(matches!(ReadModel::from_name("nope"), Err(ProjectionError::UnknownProjection { .. })));
    }
}

//! The read models: which projections exist, which tables each owns, which part of the log each reads, and how
//! each applies a batch of events.
//!
//! Every model applies a batch the same set-based way, driven by [`apply`]: decode the batch, load the rows it
//! touches with one query per table, fold the events over them in Rust (in log order), and write the changed rows
//! back with one upsert per table. So a batch of 500 events costs a handful of statements, not 500 round trips.
//! Each model says only what is its own, by implementing [`Model`]: its stream's key, its load, its fold, its
//! write. Models only use unqualified table names, so a rebuild can point them at fresh copies with `search_path`.
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
use std::future::Future;
use tally_domain::Aggregate;
use tally_store::{LogFilter, RecordedEvent};
use tracing::instrument;

use crate::error::ProjectionError;
use inventory::Inventory;
use orders::Orders;
use products::Products;
use rows::{decode, stream_key};
use sales::Sales;

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
            ReadModel::Products => apply::<Products>(conn, events).await,
            ReadModel::Inventory => apply::<Inventory>(conn, events).await,
            ReadModel::Orders => apply::<Orders>(conn, events).await,
            ReadModel::Sales => apply::<Sales>(conn, events).await,
        }
    }
}

impl fmt::Display for ReadModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one read model adds to [`apply`], which does the rest the same way for every model.
trait Model {
    /// The aggregate whose streams the model reads: the events it decodes, the id in each stream's name.
    type Stream: Aggregate;
    /// A stream's id as the model's tables key it (a SKU as text, an order id as a UUID).
    type Key: Ord + Clone + Send + 'static;
    /// What one batch works on: the rows it loaded (and which of them it changed), and the rows it adds.
    type Batch: Send;

    /// The key of the stream with this id.
    fn key(id: <Self::Stream as Aggregate>::Id) -> Self::Key;

    /// Loads the rows of these keys (a key may repeat), with one query per table.
    fn load(
        conn: &mut PgConnection,
        keys: Vec<Self::Key>,
    ) -> impl Future<Output = Result<Self::Batch, ProjectionError>> + Send;

    /// Applies one event (`event`, decoded as `data`, of the stream `key`) to the batch, in memory. An error
    /// makes the event poison (see `error`).
    fn fold(
        batch: &mut Self::Batch,
        event: &RecordedEvent,
        key: Self::Key,
        data: <Self::Stream as Aggregate>::Event,
    ) -> Result<(), ProjectionError>;

    /// Writes what the batch changed and added, with one statement per table.
    fn write(conn: &mut PgConnection, batch: Self::Batch) -> impl Future<Output = Result<(), ProjectionError>> + Send;
}

/// Applies `events` to model `M`: decode each event and its stream's key, load the rows of every key at once,
/// fold the events over them in log order, write the result at once.
#[instrument(skip_all, fields(events = events.len()))]
async fn apply<M: Model>(conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    let mut decoded = Vec::with_capacity(events.len());
    for event in events {
        let key = M::key(stream_key::<M::Stream>(event)?);
        decoded.push((event, key, decode::<<M::Stream as Aggregate>::Event>(event)?));
    }
    let keys = decoded.iter().map(|(_, key, _)| key.clone()).collect();
    let mut batch = M::load(conn, keys).await?;
    for (event, key, data) in decoded {
        M::fold(&mut batch, event, key, data)?;
    }
    M::write(conn, batch).await
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

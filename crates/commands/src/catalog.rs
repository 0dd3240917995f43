//! The back office's commands: the catalog (register, reprice, discontinue a product) and stock (goods received,
//! count corrections), and pricing an order's lines from the catalog.
//!
//! Stock commands need the SKU to be in the catalog; the inventory's own rules (never below reserved, the sign
//! of an adjustment) are the domain's. Reservations, releases, commits and restocks are not here: they are steps
//! of the order process (`placement.rs`, `settle.rs`), caused by order events, never sent by a client directly.
//!
//! Prices come from the `product-{sku}` states, never from the client: [`Commands::price_lines`] takes every
//! product of an order (from the cache when it was current within `catalog_max_age`, else concurrently from the
//! cache plus its tail) and prices the lines with the domain's `catalog::price_lines`, which refuses unknown and
//! discontinued products and mixed currencies.

use futures::future::try_join_all;
use std::collections::HashMap;
use tally_domain::catalog::price_lines;
use tally_domain::inventory::AdjustmentReason;
use tally_domain::order::{ItemLine, OrderLine};
use tally_domain::{Aggregate, InventoryCommand, LocationId, Money, Product, ProductCommand, Quantity, Sku};
use tracing::instrument;

use crate::context::CommandContext;
use crate::engine::{Commands, InventoryOutcome, ProductOutcome};
use crate::error::CommandError;
use crate::stream::Snapshot;

impl Commands {
    /// Registers a product. A SKU registered before is refused (`CatalogError::AlreadyRegistered`).
    #[instrument(skip_all, fields(product.sku = %sku))]
    pub async fn register_product(
        &self,
        context: &CommandContext,
        sku: Sku,
        name: String,
        price: Money,
    ) -> Result<ProductOutcome, CommandError> {
        let stream_id = Product::stream_id(&sku);
        let command = ProductCommand::RegisterProduct { sku, name, price };
        self.products.execute(&stream_id, command, None, context).await
    }

    /// Changes a product's price (same currency). Repricing to the current price records nothing.
    #[instrument(skip_all, fields(product.sku = %sku))]
    pub async fn reprice_product(
        &self,
        context: &CommandContext,
        sku: &Sku,
        price: Money,
        expected: Option<u64>,
    ) -> Result<ProductOutcome, CommandError> {
        let command = ProductCommand::RepriceProduct { price };
        self.products.execute(&Product::stream_id(sku), command, expected, context).await
    }

    /// Discontinues a product: it can no longer be ordered. Final.
    #[instrument(skip_all, fields(product.sku = %sku))]
    pub async fn discontinue_product(
        &self,
        context: &CommandContext,
        sku: &Sku,
        expected: Option<u64>,
    ) -> Result<ProductOutcome, CommandError> {
        let command = ProductCommand::DiscontinueProduct;
        self.products.execute(&Product::stream_id(sku), command, expected, context).await
    }

    /// Goods in: `quantity` units at `location` (`reference`: a purchase order or delivery note).
    #[instrument(skip_all, fields(inventory.sku = %sku, location = %location))]
    pub async fn receive_stock(
        &self,
        context: &CommandContext,
        sku: &Sku,
        location: LocationId,
        quantity: Quantity,
        reference: String,
        expected: Option<u64>,
    ) -> Result<InventoryOutcome, CommandError> {
        self.require_registered(sku).await?;
        let command = InventoryCommand::ReceiveStock { location, quantity, reference };
        self.on_inventory(context, sku, command, expected).await
    }

    /// Corrects the units on hand at `location` by `delta` (negative for damaged or lost units).
    #[instrument(skip_all, fields(inventory.sku = %sku, location = %location))]
    pub async fn adjust_stock(
        &self,
        context: &CommandContext,
        sku: &Sku,
        location: LocationId,
        delta: i64,
        reason: AdjustmentReason,
        expected: Option<u64>,
    ) -> Result<InventoryOutcome, CommandError> {
        self.require_registered(sku).await?;
        let command = InventoryCommand::AdjustStock { location, delta, reason };
        self.on_inventory(context, sku, command, expected).await
    }

    /// Prices requested lines with the current catalog prices.
    #[instrument(skip_all, fields(lines = requested.len()))]
    pub async fn price_lines(&self, requested: &[ItemLine]) -> Result<Vec<OrderLine>, CommandError> {
        let mut skus: Vec<&Sku> = requested.iter().map(|line| &line.sku).collect();
        skus.sort();
        skus.dedup();
        let snapshots = try_join_all(skus.iter().map(|sku| self.product_for_pricing(sku))).await?;
        let products: HashMap<&Sku, Product> =
            skus.into_iter().zip(snapshots).map(|(sku, snapshot)| (sku, (*snapshot.state).clone())).collect();
        let wanted: Vec<_> = requested.iter().map(|line| (line.sku.clone(), line.quantity)).collect();
        price_lines(&wanted, |sku| products.get(sku)).map_err(|error| CommandError::Domain(error.into()))
    }

    /// A product's state for pricing: the cached one if it was current within `catalog_max_age`, else read.
    async fn product_for_pricing(&self, sku: &Sku) -> Result<Snapshot<Product>, CommandError> {
        let max_age = self.config.catalog_max_age;
        match self.products.current_within(&Product::stream_id(sku), max_age) {
            Some(snapshot) => Ok(snapshot),
            None => self.product(sku).await,
        }
    }

    /// Refuses a SKU the catalog never registered (stock of an unknown product is a typo, not a receipt).
    /// A product stays registered once it is (discontinuing it does not unregister it), so a cached registration
    /// is trusted without reading the stream's tail; anything else is checked against the store.
    pub(crate) async fn require_registered(&self, sku: &Sku) -> Result<(), CommandError> {
        let stream_id = Product::stream_id(sku);
        if let Some(snapshot) = self.products.cached_snapshot(&stream_id) {
            if matches!(*snapshot.state, Product::Registered(_)) {
                return Ok(());
            }
        }
        match *self.product(sku).await?.state {
            Product::Registered(_) => Ok(()),
            Product::Unregistered => Err(CommandError::NotFound { stream_id: Product::stream_id(sku) }),
        }
    }
}

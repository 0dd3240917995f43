//! [`Commands`]: the command side as the HTTP layer and the workers hold it. One value per process (cheap to
//! clone), owning the stream writers and snapshot caches of the aggregates.
//!
//! Its methods live next to their feature: products and stock in `catalog.rs`, the order lifecycle in
//! `orders.rs`, placing an order in `placement.rs`, the inventory effects of orders in `settle.rs`, API keys in
//! `access.rs`, webhook subscriptions in `webhooks.rs`.

use std::future::Future;
use std::sync::Arc;
use tally_domain::{Aggregate, ApiKey, ApiKeyEvent, InventoryCommand, OrderCommand, Webhook, WebhookEvent};
use tally_domain::{Inventory, InventoryEvent, Order, OrderEvent, OrderId, Product, ProductEvent, Sku};
use tally_store::EventStore;
use tracing::Instrument;

use crate::batch::Outcome;
use crate::config::CommandConfig;
use crate::context::{Clock, CommandContext, SystemClock};
use crate::error::CommandError;
use crate::stream::Snapshot;
use crate::writer::Writers;

pub type ProductOutcome = Outcome<Product, ProductEvent>;
pub type InventoryOutcome = Outcome<Inventory, InventoryEvent>;
pub type OrderOutcome = Outcome<Order, OrderEvent>;
pub type ApiKeyOutcome = Outcome<ApiKey, ApiKeyEvent>;
pub type WebhookOutcome = Outcome<Webhook, WebhookEvent>;

/// The command side: every command of the HTTP API, and the steps the order workers need.
#[derive(Clone)]
pub struct Commands {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: CommandConfig,
    pub(crate) products: Writers<Product>,
    pub(crate) inventories: Writers<Inventory>,
    pub(crate) orders: Writers<Order>,
    pub(crate) keys: Writers<ApiKey>,
    pub(crate) webhooks: Writers<Webhook>,
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commands").field("config", &self.config).field("stats", &self.stats()).finish()
    }
}

/// How much the command side holds in memory right now (for metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Stream writer tasks running, all aggregates together.
    pub running_writers: usize,
    /// Snapshots cached, all aggregates together (at most `cache_capacity` per aggregate).
    pub cached_snapshots: usize,
}

impl Commands {
    /// The command side on `store`, with the system clock. Its commands must run inside a tokio runtime: a
    /// stream's first command spawns the stream's writer task.
    pub fn new(store: Arc<dyn EventStore>, config: CommandConfig) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    /// The command side with another clock (tests move time by hand).
    pub fn with_clock(store: Arc<dyn EventStore>, config: CommandConfig, clock: Arc<dyn Clock>) -> Self {
        Commands {
            products: Writers::new(Arc::clone(&store), config.clone()),
            inventories: Writers::new(Arc::clone(&store), config.clone()),
            orders: Writers::new(Arc::clone(&store), config.clone()),
            keys: Writers::new(Arc::clone(&store), config.clone()),
            webhooks: Writers::new(Arc::clone(&store), config.clone()),
            store,
            clock,
            config,
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn config(&self) -> &CommandConfig {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        Stats {
            running_writers: self.products.running()
                + self.inventories.running()
                + self.orders.running()
                + self.keys.running()
                + self.webhooks.running(),
            cached_snapshots: self.products.cached()
                + self.inventories.cached()
                + self.orders.cached()
                + self.keys.cached()
                + self.webhooks.cached(),
        }
    }

    /// A product's current state and version (the catalog read that pricing and receipts decide on).
    pub async fn product(&self, sku: &Sku) -> Result<Snapshot<Product>, CommandError> {
        self.products.load(&Product::stream_id(sku)).await
    }

    /// A SKU's current stock and version.
    pub async fn inventory(&self, sku: &Sku) -> Result<Snapshot<Inventory>, CommandError> {
        self.inventories.load(&Inventory::stream_id(sku)).await
    }

    /// An order's current state and version.
    pub async fn order(&self, order_id: OrderId) -> Result<Snapshot<Order>, CommandError> {
        self.orders.load(&Order::stream_id(&order_id)).await
    }

    /// Runs an inventory command through the SKU's writer.
    pub(crate) async fn on_inventory(
        &self,
        context: &CommandContext,
        sku: &Sku,
        command: InventoryCommand,
        expected: Option<u64>,
    ) -> Result<InventoryOutcome, CommandError> {
        self.inventories.execute(&Inventory::stream_id(sku), command, expected, context).await
    }

    /// Runs an order command through the order's writer.
    pub(crate) async fn on_order(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        command: OrderCommand,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        self.orders.execute(&Order::stream_id(&order_id), command, expected, context).await
    }
}

impl Commands {
    /// Runs a step of the order process in a task of its own and waits for it: dropping the caller's future
    /// (a client that disconnects) does not leave the process half done.
    pub(crate) async fn detached<T, F>(&self, order_id: OrderId, work: F) -> Result<T, CommandError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, CommandError>> + Send + 'static,
    {
        match tokio::spawn(work.in_current_span()).await {
            Ok(result) => result,
            // The task panicked or the runtime is shutting down: what was appended stays, and is repeatable.
            Err(_) => Err(CommandError::WriterStopped { stream_id: Order::stream_id(&order_id) }),
        }
    }
}

impl<S, E> Outcome<S, E> {
    /// An outcome that recorded nothing: the stream as it stands.
    pub(crate) fn unchanged(snapshot: Snapshot<S>) -> Self {
        Outcome {
            state: snapshot.state,
            version: snapshot.version,
            position: None,
            recorded_at: None,
            events: Vec::new(),
        }
    }

    /// The id of the first event recorded, the cause of the steps it leads to on other streams.
    pub(crate) fn first_event_id(&self) -> Option<uuid::Uuid> {
        self.events.first().map(|e| e.event_id)
    }
}

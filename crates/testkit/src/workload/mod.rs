//! Realistic event histories: random commands run through the domain's deciders (decide + evolve), as the command
//! side would, with every aggregate's state kept in memory. This module decides; the caller appends, its own way:
//! the projections tests (`crates/projections/tests/it/workload.rs`) append each command's events at once, the
//! history benchmark's seeder (`crates/projections/benches/seed.rs`) a chunk of commands' events stream by stream.
//!
//! The mix ([`Generator::step`]): products registered, repriced, discontinued; receipts and adjustments; orders
//! placed with the reservation process (place, reserve every line, then confirm, or release and reject), paid
//! (whole or in part), shipped (whole or in part, committing the reservations), delivered, cancelled and expired
//! (releasing them), returned (restocking or not) and refunded. Each command's events wait, as [`Decided`], until
//! the caller takes them ([`Generator::take_decided`]).
//!
//! # Layout
//! - `rng`: the random choices, deterministic per seed;
//! - `catalog`: products and stock (register, reprice, discontinue, receive, adjust);
//! - `orders`: an order's life and the inventory steps it causes.

mod catalog;
mod orders;
mod rng;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rng::Rng;
use std::collections::{BTreeMap, VecDeque};
use tally_domain::{
    Aggregate, Event, Inventory, InventoryCommand, InventoryError, Order, OrderCommand, OrderId, Product,
    ProductCommand, Sku,
};
use tally_store::{ExpectedVersion, Metadata, NewEvent};
use uuid::Uuid;

/// What varies between the histories of the tests and of the benchmark.
pub struct Options {
    /// Seeds the random choices: the same options make the same commands (but for the ids, random UUIDs).
    pub seed: u64,
    /// Names the SKUs, products and customers after the shard (`S03-SKU-007`, `cus-3-42`), so that shards run side
    /// by side never share an aggregate; `None`: `SKU-007`, `cus-42`.
    pub shard: Option<usize>,
    /// How many customers place the orders.
    pub customers: u64,
    /// The most products registered; once there, a registration turns into a receipt.
    pub max_products: usize,
    /// The most orders in play: placing one more lets the oldest go, cancelled if still pending or confirmed
    /// (releasing its stock), then forgotten (its state dropped).
    pub max_open_orders: usize,
}

/// Each aggregate's state and how many events its stream holds.
pub type States<A> = BTreeMap<<A as Aggregate>::Id, (<A as Aggregate>::State, u64)>;

/// One command's events on one stream, decided and not yet appended.
pub struct Decided {
    pub stream_id: String,
    /// How many events the stream held before these: see [`expected_version`].
    pub stream_len: u64,
    pub events: Vec<NewEvent>,
}

/// What an append after the first `stream_len` events of a stream expects.
pub fn expected_version(stream_len: u64) -> ExpectedVersion {
    match stream_len {
        0 => ExpectedVersion::NoStream,
        len => ExpectedVersion::Exact(len - 1),
    }
}

/// Decides random commands, keeping every aggregate's state and the events not yet taken.
pub struct Generator {
    options: Options,
    rng: Rng,
    pub products: States<Product>,
    pub inventories: States<Inventory>,
    pub orders: States<Order>,
    /// The orders placed and not let go yet, oldest first.
    open_orders: VecDeque<OrderId>,
    clock: DateTime<Utc>,
    /// The command being decided (its correlation id on every event it causes).
    metadata: Metadata,
    decided: Vec<Decided>,
    /// How many times each command kind was accepted.
    pub accepted: BTreeMap<&'static str, u64>,
}

impl Generator {
    pub fn new(options: Options) -> Self {
        Generator {
            rng: Rng::new(options.seed),
            options,
            products: BTreeMap::new(),
            inventories: BTreeMap::new(),
            orders: BTreeMap::new(),
            open_orders: VecDeque::new(),
            clock: Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
            metadata: Metadata::default(),
            decided: Vec::new(),
            accepted: BTreeMap::new(),
        }
    }

    /// One random command, with the process steps it causes (refused ones included: they decide nothing).
    pub fn step(&mut self) {
        self.clock += Duration::seconds(7);
        self.metadata = Metadata {
            correlation_id: Some(Uuid::new_v4()),
            actor: Some("workload".to_owned()),
            ..Metadata::default()
        };
        if self.products.len() < 4 {
            return self.register();
        }
        match self.rng.range(0, 99) {
            0..=3 => self.register(),
            4..=7 => self.reprice(),
            8 => self.discontinue(),
            9..=20 => self.receive(),
            21..=25 => self.adjust(),
            26..=50 => self.place_order(),
            51..=62 => self.capture(),
            63..=72 => self.ship(),
            73..=77 => self.deliver(),
            78..=82 => self.cancel(None),
            83..=85 => self.expire(),
            86..=92 => self.return_goods(),
            _ => self.refund(),
        }
    }

    /// The events decided since the last call, in command order.
    pub fn take_decided(&mut self) -> Vec<Decided> {
        std::mem::take(&mut self.decided)
    }

    fn count(&mut self, kind: &'static str) {
        *self.accepted.entry(kind).or_default() += 1;
    }

    fn product(&mut self, sku: &Sku, command: ProductCommand) -> bool {
        execute::<Product>(&mut self.decided, &self.metadata, &mut self.products, sku, command).is_ok()
    }

    fn inventory(&mut self, sku: &Sku, command: InventoryCommand) -> Result<(), InventoryError> {
        execute::<Inventory>(&mut self.decided, &self.metadata, &mut self.inventories, sku, command)
    }

    fn order(&mut self, id: &OrderId, command: OrderCommand) -> bool {
        execute::<Order>(&mut self.decided, &self.metadata, &mut self.orders, id, command).is_ok()
    }
}

/// decide + evolve, queueing the events (none: nothing queued, the state unchanged); `Err` when the aggregate refuses.
fn execute<A: Aggregate>(
    decided: &mut Vec<Decided>,
    metadata: &Metadata,
    states: &mut States<A>,
    id: &A::Id,
    command: A::Command,
) -> Result<(), A::Error>
where
    A::Id: Ord,
{
    let (state, stream_len) = states.get(id).cloned().unwrap_or_default();
    let events = A::decide(&state, command)?;
    if events.is_empty() {
        return Ok(());
    }
    let new_events = events.iter().map(|e| {
        NewEvent::new(e.event_type(), serde_json::to_value(e).unwrap())
            .with_id(Uuid::new_v4())
            .with_metadata(metadata.clone())
    });
    decided.push(Decided { stream_id: A::stream_id(id), stream_len, events: new_events.collect() });
    let state = events.iter().fold(state, A::evolve);
    states.insert(id.clone(), (state, stream_len + events.len() as u64));
    Ok(())
}

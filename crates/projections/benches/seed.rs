//! Seeds a database with a realistic history, as fast as the PostgreSQL event store takes it: the history-side
//! benchmark (`scripts/bench history`) then times rebuilds, verification and export on it.
//!
//! Run: `cargo bench -p tally-projections --bench seed -- <database_url> <events>` (or `TALLY_SEED_DATABASE_URL`
//! and `TALLY_SEED_EVENTS`; default 1,000,000 events). The database must exist and be migrated (`tally migrate`).
//!
//! Workload: the projections tests' mix (`tests/it/workload.rs`): random commands run through the domain's
//! deciders (decide + evolve): products registered, repriced, discontinued; receipts and adjustments; orders
//! placed, reserved line by line, confirmed or rejected, paid, shipped (whole or partly, committing the
//! reservations), delivered, cancelled and expired (releasing them), returned (restocking) and refunded. To go
//! fast, `SHARDS` independent shards (each its own SKUs, orders and customers) run at once, each deciding
//! `CHUNK` commands in memory and then appending what they produced stream by stream (every stream's new events
//! in one append, with `Exact` expected versions), `IN_FLIGHT` appends at a time. So each stream's events keep
//! their command order; across streams, events of one chunk are in stream order, not command order (the read
//! models are per stream). A shard keeps at most `OPEN_ORDERS` orders in play, cancelling the oldest confirmed
//! order it lets go (releasing its stock), and at most `PRODUCTS` products.
//!
//! Prints `name=seed ops=<events> secs=... ops_per_s=... p50_ms=... p99_ms=...` (latencies are per append) and a
//! `# seed ...` line with the appends and the commands accepted.

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::stream::{self, StreamExt};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tally_domain::catalog::price_lines;
use tally_domain::inventory::{AdjustmentReason, ReleaseReason};
use tally_domain::order::{ItemLine, OrderStatus, Shortage};
use tally_domain::{
    Aggregate, Currency, CustomerId, Event, Inventory, InventoryCommand, InventoryError, LocationId, Money, Order,
    OrderCommand, OrderId, Product, ProductCommand, Quantity, ReturnId, ShipmentId, Sku,
};
use tally_store::{EventStore, ExpectedVersion, Metadata, NewEvent, PgEventStore, PgStoreOptions};
use uuid::Uuid;

const SHARDS: usize = 16;
const IN_FLIGHT: usize = 4;
const CHUNK: usize = 1000;
const OPEN_ORDERS: usize = 300;
const PRODUCTS: usize = 40;
const LOCATIONS: [&str; 3] = ["main", "north", "south"];

/// xorshift64*: deterministic per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.range(1, 100) <= percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(usize::try_from(self.range(0, items.len() as u64 - 1)).unwrap())
        }
    }
}

/// Each aggregate's state and how many events its stream holds.
type States<A> = BTreeMap<<A as Aggregate>::Id, (<A as Aggregate>::State, u64)>;

/// Events decided but not yet appended, per stream: the stream's event count before them, and them.
type Pending = BTreeMap<String, (u64, Vec<NewEvent>)>;

struct Shard {
    id: usize,
    rng: Rng,
    products: States<Product>,
    inventories: States<Inventory>,
    orders: States<Order>,
    open_orders: VecDeque<OrderId>,
    clock: DateTime<Utc>,
    pending: Pending,
    /// The command being decided (its correlation id on every event it causes).
    metadata: Metadata,
    accepted: BTreeMap<&'static str, u64>,
}

/// decide + evolve, queueing the events; `Err` when the aggregate refuses.
fn execute<A: Aggregate>(
    pending: &mut Pending,
    metadata: &Metadata,
    states: &mut States<A>,
    id: &A::Id,
    command: A::Command,
) -> Result<(), A::Error>
where
    A::Id: Ord,
{
    let (state, count) = states.get(id).cloned().unwrap_or_default();
    let events = A::decide(&state, command)?;
    if events.is_empty() {
        return Ok(());
    }
    let entry = pending.entry(A::stream_id(id)).or_insert_with(|| (count, Vec::new()));
    entry.1.extend(events.iter().map(|e| {
        NewEvent::new(e.event_type(), serde_json::to_value(e).unwrap())
            .with_id(Uuid::new_v4())
            .with_metadata(metadata.clone())
    }));
    let state = events.iter().fold(state, A::evolve);
    states.insert(id.clone(), (state, count + events.len() as u64));
    Ok(())
}

impl Shard {
    fn new(id: usize) -> Self {
        Shard {
            id,
            rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1)),
            products: BTreeMap::new(),
            inventories: BTreeMap::new(),
            orders: BTreeMap::new(),
            open_orders: VecDeque::new(),
            clock: Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
            pending: BTreeMap::new(),
            metadata: Metadata::default(),
            accepted: BTreeMap::new(),
        }
    }

    fn step(&mut self) {
        self.clock += Duration::seconds(7);
        self.metadata =
            Metadata { correlation_id: Some(Uuid::new_v4()), actor: Some("seed".to_owned()), ..Metadata::default() };
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

    fn count(&mut self, kind: &'static str) {
        *self.accepted.entry(kind).or_default() += 1;
    }

    fn product(&mut self, sku: &Sku, command: ProductCommand) -> bool {
        execute::<Product>(&mut self.pending, &self.metadata, &mut self.products, sku, command).is_ok()
    }

    fn inventory(&mut self, sku: &Sku, command: InventoryCommand) -> Result<(), InventoryError> {
        execute::<Inventory>(&mut self.pending, &self.metadata, &mut self.inventories, sku, command)
    }

    fn order(&mut self, id: &OrderId, command: OrderCommand) -> bool {
        execute::<Order>(&mut self.pending, &self.metadata, &mut self.orders, id, command).is_ok()
    }

    fn register(&mut self) {
        if self.products.len() >= PRODUCTS {
            return self.receive();
        }
        let n = self.products.len();
        let sku = Sku::parse(&format!("S{:02}-SKU-{n:03}", self.id)).unwrap();
        let currency = Currency::parse(if n % 3 == 2 { "USD" } else { "EUR" }).unwrap();
        let price = Money::new(i64::try_from(self.rng.range(100, 5_000)).unwrap(), currency);
        let name = format!("Product {} of shard {}", n, self.id);
        if self.product(&sku, ProductCommand::RegisterProduct { sku: sku.clone(), name, price }) {
            self.count("register");
        }
    }

    fn active_skus(&self) -> Vec<Sku> {
        self.products
            .iter()
            .filter(|(_, (p, _))| {
                p.details().is_some_and(|d| d.status() == tally_domain::catalog::ProductStatus::Active)
            })
            .map(|(sku, _)| sku.clone())
            .collect()
    }

    fn reprice(&mut self) {
        let Some(sku) = self.rng.pick(&self.active_skus()).cloned() else { return };
        let currency = self.products[&sku].0.details().unwrap().price().currency();
        let price = Money::new(i64::try_from(self.rng.range(100, 5_000)).unwrap(), currency);
        if self.product(&sku, ProductCommand::RepriceProduct { price }) {
            self.count("reprice");
        }
    }

    fn discontinue(&mut self) {
        if self.active_skus().len() < 6 {
            return;
        }
        let Some(sku) = self.rng.pick(&self.active_skus()).cloned() else { return };
        if self.product(&sku, ProductCommand::DiscontinueProduct) {
            self.count("discontinue");
        }
    }

    fn location(&mut self) -> LocationId {
        LocationId::parse(self.rng.pick(&LOCATIONS).unwrap()).unwrap()
    }

    fn receive(&mut self) {
        let skus: Vec<Sku> = self.products.keys().cloned().collect();
        let Some(sku) = self.rng.pick(&skus).cloned() else { return };
        let location = self.location();
        let quantity = Quantity::new(u32::try_from(self.rng.range(1, 40)).unwrap()).unwrap();
        let reference = format!("PO-{}", self.rng.range(1000, 9999));
        if self.inventory(&sku, InventoryCommand::ReceiveStock { location, quantity, reference }).is_ok() {
            self.count("receive");
        }
    }

    fn adjust(&mut self) {
        let skus: Vec<Sku> = self.inventories.keys().cloned().collect();
        let Some(sku) = self.rng.pick(&skus).cloned() else { return };
        let location = self.location();
        let magnitude = i64::try_from(self.rng.range(1, 5)).unwrap();
        let (delta, reason) = match self.rng.range(0, 3) {
            0 => (-magnitude, AdjustmentReason::Damaged),
            1 => (-magnitude, AdjustmentReason::Lost),
            2 => (magnitude, AdjustmentReason::Found),
            _ => (if self.rng.chance(50) { magnitude } else { -magnitude }, AdjustmentReason::CountCorrection),
        };
        if self.inventory(&sku, InventoryCommand::AdjustStock { location, delta, reason }).is_ok() {
            self.count("adjust");
        }
    }

    /// The reservation process: place, reserve each line, then confirm, or release and reject.
    fn place_order(&mut self) {
        let currency = Currency::parse(if self.rng.chance(75) { "EUR" } else { "USD" }).unwrap();
        let candidates: Vec<Sku> = self
            .active_skus()
            .into_iter()
            .filter(|sku| self.products[sku].0.details().unwrap().price().currency() == currency)
            .collect();
        let mut requested: Vec<(Sku, Quantity)> = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            let Some(sku) = self.rng.pick(&candidates).cloned() else { return };
            if requested.iter().all(|(s, _)| s != &sku) {
                requested.push((sku, Quantity::new(u32::try_from(self.rng.range(1, 6)).unwrap()).unwrap()));
            }
        }
        let Ok(lines) = price_lines(&requested, |sku| self.products.get(sku).map(|(p, _)| p)) else { return };
        let order_id = OrderId::from_uuid(Uuid::new_v4());
        let customer_id = CustomerId::parse(&format!("cus-{}-{}", self.id, self.rng.range(1, 200))).unwrap();
        let place = OrderCommand::PlaceOrder { order_id, customer_id, lines: lines.clone(), placed_at: self.clock };
        if !self.order(&order_id, place) {
            return;
        }
        self.count("place");
        self.open_orders.push_back(order_id);
        if self.open_orders.len() > OPEN_ORDERS {
            self.let_go();
        }
        if self.rng.chance(5) {
            return; // left pending (a crash before reserving): the cancel path takes these
        }
        let reserved_until = self.clock + Duration::minutes(30);
        let mut shortages = Vec::new();
        let mut reserved = Vec::new();
        for line in &lines {
            let reserve =
                InventoryCommand::ReserveStock { order_id, quantity: line.quantity, expires_at: reserved_until };
            match self.inventory(&line.sku, reserve) {
                Ok(()) => reserved.push(line.sku.clone()),
                Err(InventoryError::InsufficientStock { available, .. }) => {
                    shortages.push(Shortage { sku: line.sku.clone(), requested: line.quantity, available })
                }
                Err(other) => panic!("unexpected refusal: {other}"),
            }
        }
        if shortages.is_empty() {
            assert!(self.order(&order_id, OrderCommand::ConfirmOrder { reserved_until }));
            self.count("confirm");
        } else {
            self.release(order_id, &reserved, ReleaseReason::Rejected);
            assert!(self.order(&order_id, OrderCommand::RejectOrder { shortages }));
            self.count("reject");
        }
    }

    /// Stops playing with the oldest order: cancelled (its stock released) if still open, then forgotten.
    fn let_go(&mut self) {
        let Some(id) = self.open_orders.pop_front() else { return };
        let open = [OrderStatus::Pending, OrderStatus::Confirmed];
        if self.orders[&id].0.status().is_some_and(|s| open.contains(&s)) {
            self.cancel(Some(id));
        }
        self.orders.remove(&id);
    }

    fn release(&mut self, order_id: OrderId, skus: &[Sku], reason: ReleaseReason) {
        for sku in skus {
            self.inventory(sku, InventoryCommand::ReleaseReservation { order_id, reason }).expect("release");
        }
    }

    fn orders_in(&self, statuses: &[OrderStatus]) -> Vec<OrderId> {
        self.orders
            .iter()
            .filter(|(_, (order, _))| order.status().is_some_and(|s| statuses.contains(&s)))
            .map(|(id, _)| *id)
            .collect()
    }

    fn placed(&self, id: &OrderId) -> tally_domain::order::PlacedOrder {
        self.orders[id].0.placed().unwrap().clone()
    }

    fn capture(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Confirmed])).copied() else { return };
        let outstanding = self.placed(&id).outstanding();
        let amount = if self.rng.chance(30) && outstanding.minor() > 1 {
            Money::new(outstanding.minor() / 2, outstanding.currency())
        } else {
            outstanding
        };
        let reference = format!("psp_{}", self.rng.range(1, 1_000_000));
        if self.order(&id, OrderCommand::CapturePayment { amount, reference }) {
            self.count("capture");
        }
    }

    fn ship(&mut self) {
        let statuses = [OrderStatus::Paid, OrderStatus::PartiallyShipped];
        let Some(id) = self.rng.pick(&self.orders_in(&statuses)).copied() else { return };
        let unshipped = self.placed(&id).unshipped_lines();
        let lines: Vec<ItemLine> = if self.rng.chance(50) {
            Vec::new()
        } else {
            let first = unshipped[0].clone();
            let quantity =
                Quantity::new(u32::try_from(self.rng.range(1, u64::from(first.quantity.get()))).unwrap()).unwrap();
            vec![ItemLine { sku: first.sku, quantity }]
        };
        let shipped = if lines.is_empty() { unshipped } else { lines.clone() };
        let shipment_id = ShipmentId::from_uuid(Uuid::new_v4());
        let command = OrderCommand::DispatchShipment {
            shipment_id,
            lines,
            carrier: "dhl".to_owned(),
            tracking_number: format!("1Z{}", self.rng.range(1, 1_000_000)),
        };
        if !self.order(&id, command) {
            return;
        }
        self.count("ship");
        for line in shipped {
            let commit = InventoryCommand::CommitReservation { order_id: id, shipment_id, quantity: line.quantity };
            self.inventory(&line.sku, commit).expect("commit the shipped units");
        }
    }

    fn deliver(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Shipped])).copied() else { return };
        if self.order(&id, OrderCommand::DeliverOrder) {
            self.count("deliver");
        }
    }

    fn cancel(&mut self, id: Option<OrderId>) {
        let statuses = [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Paid, OrderStatus::PartiallyShipped];
        let id = match id {
            Some(id) => id,
            None => {
                let Some(id) = self.rng.pick(&self.orders_in(&statuses)).copied() else { return };
                id
            }
        };
        if !self.order(&id, OrderCommand::CancelOrder { reason: "customer request".to_owned() }) {
            return;
        }
        self.count("cancel");
        let skus: Vec<Sku> = self.placed(&id).lines().iter().map(|l| l.sku.clone()).collect();
        self.release(id, &skus, ReleaseReason::Cancelled);
    }

    fn expire(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Confirmed])).copied() else { return };
        let now = self.clock + Duration::hours(1);
        if !self.order(&id, OrderCommand::ExpireOrder { now }) {
            return;
        }
        self.count("expire");
        let skus: Vec<Sku> = self.placed(&id).lines().iter().map(|l| l.sku.clone()).collect();
        self.release(id, &skus, ReleaseReason::Expired);
    }

    fn return_goods(&mut self) {
        let statuses =
            [OrderStatus::PartiallyShipped, OrderStatus::Shipped, OrderStatus::Delivered, OrderStatus::Cancelled];
        let candidates: Vec<OrderId> = self
            .orders_in(&statuses)
            .into_iter()
            .filter(|id| {
                let order = self.placed(id);
                order.lines().iter().any(|l| order.shipped(&l.sku) > order.returned(&l.sku))
            })
            .collect();
        let Some(id) = self.rng.pick(&candidates).copied() else { return };
        let order = self.placed(&id);
        let Some(line) = order.lines().iter().find(|l| order.shipped(&l.sku) > order.returned(&l.sku)) else { return };
        let returnable = order.shipped(&line.sku) - order.returned(&line.sku);
        let quantity = Quantity::new(u32::try_from(self.rng.range(1, u64::from(returnable))).unwrap()).unwrap();
        let restock = self.rng.chance(70);
        let location = LocationId::main();
        let lines = vec![ItemLine { sku: line.sku.clone(), quantity }];
        let command = OrderCommand::ReceiveReturn { lines, restock, location: location.clone() };
        if !self.order(&id, command) {
            return;
        }
        self.count("return");
        if restock {
            let return_id = ReturnId::from_uuid(Uuid::new_v4());
            let restock = InventoryCommand::RestockReturn { order_id: id, return_id, location, quantity };
            self.inventory(&line.sku, restock).expect("restock");
        }
    }

    fn refund(&mut self) {
        let statuses = [
            OrderStatus::Paid,
            OrderStatus::PartiallyShipped,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
            OrderStatus::Cancelled,
            OrderStatus::Expired,
        ];
        let candidates: Vec<OrderId> =
            self.orders_in(&statuses).into_iter().filter(|id| self.placed(id).refundable().is_positive()).collect();
        let Some(id) = self.rng.pick(&candidates).copied() else { return };
        let refundable = self.placed(&id).refundable();
        let amount = Money::new(
            i64::try_from(self.rng.range(1, u64::try_from(refundable.minor()).unwrap())).unwrap(),
            refundable.currency(),
        );
        if self.order(&id, OrderCommand::IssueRefund { amount, reason: "goodwill".to_owned() }) {
            self.count("refund");
        }
    }
}

/// What one shard did: append latencies, appends, commands accepted.
struct ShardReport {
    latencies: Vec<std::time::Duration>,
    accepted: BTreeMap<&'static str, u64>,
}

/// Decides `CHUNK` commands, appends their events, again, until the shards together appended `target` events.
async fn run_shard(id: usize, store: PgEventStore, appended: Arc<AtomicU64>, target: u64) -> ShardReport {
    let mut shard = Shard::new(id);
    let mut latencies = Vec::new();
    while appended.load(Ordering::Relaxed) < target {
        for _ in 0..CHUNK {
            shard.step();
        }
        let batches = std::mem::take(&mut shard.pending);
        let mut appends = stream::iter(batches)
            .map(|(stream_id, (count, events))| {
                let store = store.clone();
                async move {
                    let expected =
                        if count == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(count - 1) };
                    let n = events.len() as u64;
                    let started = Instant::now();
                    store.append(&stream_id, expected, events).await.expect("append");
                    (n, started.elapsed())
                }
            })
            .buffer_unordered(IN_FLIGHT);
        while let Some((n, latency)) = appends.next().await {
            appended.fetch_add(n, Ordering::Relaxed);
            latencies.push(latency);
        }
    }
    ShardReport { latencies, accepted: shard.accepted }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let url = args
        .first()
        .cloned()
        .or_else(|| std::env::var("TALLY_SEED_DATABASE_URL").ok())
        .expect("usage: seed <database_url> [events] (or TALLY_SEED_DATABASE_URL, TALLY_SEED_EVENTS)");
    let target: u64 = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("TALLY_SEED_EVENTS").ok())
        .map_or(1_000_000, |n| n.replace('_', "").parse().expect("events: a number"));

    let options = PgStoreOptions { max_connections: 16, ..PgStoreOptions::default() };
    let store = PgEventStore::connect(&url, options).await.expect("connect the store");
    let appended = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let shards: Vec<_> =
        (0..SHARDS).map(|id| tokio::spawn(run_shard(id, store.clone(), Arc::clone(&appended), target))).collect();
    let mut latencies = Vec::new();
    let mut accepted: BTreeMap<&'static str, u64> = BTreeMap::new();
    for shard in shards {
        let report = shard.await.expect("a shard finished");
        latencies.extend(report.latencies);
        for (kind, n) in report.accepted {
            *accepted.entry(kind).or_default() += n;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let events = appended.load(Ordering::Relaxed);
    let head = store.head_position().await.expect("the log head");
    store.close().await;

    latencies.sort();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "name=seed ops={events} secs={secs:.2} ops_per_s={:.0} p50_ms={:.2} p99_ms={:.2}",
        events as f64 / secs,
        quantile(0.50),
        quantile(0.99)
    );
    let mix: Vec<String> = accepted.iter().map(|(kind, n)| format!("{kind}={n}")).collect();
    println!(
        "# seed appends={} events_per_append={:.1} head={head} commands: {}",
        latencies.len(),
        events as f64 / latencies.len().max(1) as f64,
        mix.join(" ")
    );
}

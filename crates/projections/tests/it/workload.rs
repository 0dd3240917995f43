//! Realistic event histories: random command sequences run through the domain's deciders (decide + evolve), as
//! the command side would, and appended through the event store with optimistic concurrency.
//!
//! Placing an order runs the reservation process (place, reserve every line, confirm or release and reject);
//! shipping commits reservations, cancelling and expiring release them, returns restock. The workload keeps every
//! aggregate's state, so tests can compare read models with the domain's own view.

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use tally_domain::catalog::price_lines;
use tally_domain::inventory::{AdjustmentReason, ReleaseReason};
use tally_domain::order::{ItemLine, OrderStatus, Shortage};
use tally_domain::{
    Aggregate, Currency, CustomerId, Event, Inventory, InventoryCommand, InventoryError, LocationId, Money, Order,
    OrderCommand, OrderId, Product, ProductCommand, Quantity, ReturnId, ShipmentId, Sku,
};
use tally_store::{EventStore, ExpectedVersion, NewEvent};
use uuid::Uuid;

/// xorshift64*: deterministic per seed, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.range(1, 100) <= percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(usize::try_from(self.range(0, items.len() as u64 - 1)).unwrap())
        }
    }
}

type States<A> = BTreeMap<<A as Aggregate>::Id, (<A as Aggregate>::State, u64)>;

const LOCATIONS: [&str; 3] = ["main", "north", "south"];

pub struct Workload {
    pub rng: Rng,
    store: Arc<dyn EventStore>,
    pub products: States<Product>,
    pub inventories: States<Inventory>,
    pub orders: States<Order>,
    clock: DateTime<Utc>,
    /// The position of the last event appended.
    pub last_position: u64,
    /// How many times each command kind was accepted.
    pub accepted: BTreeMap<&'static str, usize>,
}

impl Workload {
    pub fn new(store: Arc<dyn EventStore>, seed: u64) -> Self {
        Workload {
            rng: Rng::new(seed),
            store,
            products: BTreeMap::new(),
            inventories: BTreeMap::new(),
            orders: BTreeMap::new(),
            clock: Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
            last_position: 0,
            accepted: BTreeMap::new(),
        }
    }

    /// Runs `steps` random commands (refused ones included: they append nothing).
    pub async fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            self.step().await;
        }
    }

    pub async fn step(&mut self) {
        self.clock += Duration::seconds(7);
        if self.products.len() < 4 {
            return self.register().await;
        }
        match self.rng.range(0, 99) {
            0..=3 => self.register().await,
            4..=7 => self.reprice().await,
            8 => self.discontinue().await,
            9..=20 => self.receive().await,
            21..=25 => self.adjust().await,
            26..=50 => self.place_order().await,
            51..=62 => self.capture().await,
            63..=72 => self.ship().await,
            73..=77 => self.deliver().await,
            78..=82 => self.cancel().await,
            83..=85 => self.expire().await,
            86..=92 => self.return_goods().await,
            _ => self.refund().await,
        }
    }

    fn count(&mut self, kind: &'static str) {
        *self.accepted.entry(kind).or_default() += 1;
    }

    /// decide + append + evolve; `Err` when the aggregate refuses. Nothing appended for no events.
    async fn execute<A: Aggregate>(
        store: &Arc<dyn EventStore>,
        states: &mut States<A>,
        last_position: &mut u64,
        id: &A::Id,
        command: A::Command,
    ) -> Result<Vec<A::Event>, A::Error>
    where
        A::Id: Ord,
    {
        let (state, version) = states.get(id).cloned().map_or((A::State::default(), None), |(s, v)| (s, Some(v)));
        let events = A::decide(&state, command)?;
        if events.is_empty() {
            return Ok(events);
        }
        let new_events: Vec<NewEvent> = events
            .iter()
            .map(|e| NewEvent::new(e.event_type(), serde_json::to_value(e).unwrap()).with_id(Uuid::new_v4()))
            .collect();
        let expected = version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let result = store.append(&A::stream_id(id), expected, new_events).await.expect("append");
        let state = events.iter().fold(state, A::evolve);
        states.insert(id.clone(), (state, result.next_version));
        *last_position = result.position;
        Ok(events)
    }

    async fn product(&mut self, sku: &Sku, command: ProductCommand) -> bool {
        Self::execute::<Product>(&self.store, &mut self.products, &mut self.last_position, sku, command).await.is_ok()
    }

    async fn inventory(&mut self, sku: &Sku, command: InventoryCommand) -> Result<(), InventoryError> {
        Self::execute::<Inventory>(&self.store, &mut self.inventories, &mut self.last_position, sku, command)
            .await
            .map(|_| ())
    }

    async fn order(&mut self, id: &OrderId, command: OrderCommand) -> bool {
        Self::execute::<Order>(&self.store, &mut self.orders, &mut self.last_position, id, command).await.is_ok()
    }

    async fn register(&mut self) {
        let n = self.products.len();
        let sku = Sku::parse(&format!("SKU-{n:03}")).unwrap();
        let currency = Currency::parse(if n % 3 == 2 { "USD" } else { "EUR" }).unwrap();
        let price = Money::new(i64::try_from(self.rng.range(100, 5_000)).unwrap(), currency);
        let name = format!("Product {n}");
        if self.product(&sku, ProductCommand::RegisterProduct { sku: sku.clone(), name, price }).await {
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

    async fn reprice(&mut self) {
        let Some(sku) = self.rng.pick(&self.active_skus()).cloned() else { return };
        let currency = self.products[&sku].0.details().unwrap().price().currency();
        let price = Money::new(i64::try_from(self.rng.range(100, 5_000)).unwrap(), currency);
        if self.product(&sku, ProductCommand::RepriceProduct { price }).await {
            self.count("reprice");
        }
    }

    async fn discontinue(&mut self) {
        if self.active_skus().len() < 6 {
            return;
        }
        let Some(sku) = self.rng.pick(&self.active_skus()).cloned() else { return };
        if self.product(&sku, ProductCommand::DiscontinueProduct).await {
            self.count("discontinue");
        }
    }

    fn location(&mut self) -> LocationId {
        LocationId::parse(self.rng.pick(&LOCATIONS).unwrap()).unwrap()
    }

    async fn receive(&mut self) {
        let skus: Vec<Sku> = self.products.keys().cloned().collect();
        let Some(sku) = self.rng.pick(&skus).cloned() else { return };
        let location = self.location();
        let quantity = Quantity::new(u32::try_from(self.rng.range(1, 40)).unwrap()).unwrap();
        let reference = format!("PO-{}", self.rng.range(1000, 9999));
        if self.inventory(&sku, InventoryCommand::ReceiveStock { location, quantity, reference }).await.is_ok() {
            self.count("receive");
        }
    }

    async fn adjust(&mut self) {
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
        if self.inventory(&sku, InventoryCommand::AdjustStock { location, delta, reason }).await.is_ok() {
            self.count("adjust");
        }
    }

    /// The reservation process: place, reserve each line, then confirm, or release and reject.
    async fn place_order(&mut self) {
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
        let customer_id = CustomerId::parse(&format!("cus-{}", self.rng.range(1, 20))).unwrap();
        let place = OrderCommand::PlaceOrder { order_id, customer_id, lines: lines.clone(), placed_at: self.clock };
        if !self.order(&order_id, place).await {
            return;
        }
        self.count("place");
        if self.rng.chance(5) {
            return; // left pending (a crash before reserving): the cancel path takes these
        }
        let reserved_until = self.clock + Duration::minutes(30);
        let mut shortages = Vec::new();
        let mut reserved = Vec::new();
        for line in &lines {
            let reserve =
                InventoryCommand::ReserveStock { order_id, quantity: line.quantity, expires_at: reserved_until };
            match self.inventory(&line.sku, reserve).await {
                Ok(()) => reserved.push(line.sku.clone()),
                Err(InventoryError::InsufficientStock { available, .. }) => {
                    shortages.push(Shortage { sku: line.sku.clone(), requested: line.quantity, available })
                }
                Err(other) => panic!("unexpected refusal: {other}"),
            }
        }
        if shortages.is_empty() {
            assert!(self.order(&order_id, OrderCommand::ConfirmOrder { reserved_until }).await);
            self.count("confirm");
        } else {
            self.release(order_id, &reserved, ReleaseReason::Rejected).await;
            assert!(self.order(&order_id, OrderCommand::RejectOrder { shortages }).await);
            self.count("reject");
        }
    }

    async fn release(&mut self, order_id: OrderId, skus: &[Sku], reason: ReleaseReason) {
        for sku in skus {
            self.inventory(sku, InventoryCommand::ReleaseReservation { order_id, reason }).await.expect("release");
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

    async fn capture(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Confirmed])).copied() else { return };
        let outstanding = self.placed(&id).outstanding();
        let amount = if self.rng.chance(30) && outstanding.minor() > 1 {
            Money::new(outstanding.minor() / 2, outstanding.currency())
        } else {
            outstanding
        };
        let reference = format!("psp_{}", self.rng.range(1, 1_000_000));
        if self.order(&id, OrderCommand::CapturePayment { amount, reference }).await {
            self.count("capture");
        }
    }

    async fn ship(&mut self) {
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
        if !self.order(&id, command).await {
            return;
        }
        self.count("ship");
        for line in shipped {
            let commit = InventoryCommand::CommitReservation { order_id: id, shipment_id, quantity: line.quantity };
            self.inventory(&line.sku, commit).await.expect("commit the shipped units");
        }
    }

    async fn deliver(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Shipped])).copied() else { return };
        if self.order(&id, OrderCommand::DeliverOrder).await {
            self.count("deliver");
        }
    }

    async fn cancel(&mut self) {
        let statuses = [OrderStatus::Pending, OrderStatus::Confirmed, OrderStatus::Paid, OrderStatus::PartiallyShipped];
        let Some(id) = self.rng.pick(&self.orders_in(&statuses)).copied() else { return };
        if !self.order(&id, OrderCommand::CancelOrder { reason: "customer request".to_owned() }).await {
            return;
        }
        self.count("cancel");
        let skus: Vec<Sku> = self.placed(&id).lines().iter().map(|l| l.sku.clone()).collect();
        self.release(id, &skus, ReleaseReason::Cancelled).await;
    }

    async fn expire(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Confirmed])).copied() else { return };
        let now = self.clock + Duration::hours(1);
        if !self.order(&id, OrderCommand::ExpireOrder { now }).await {
            return;
        }
        self.count("expire");
        let skus: Vec<Sku> = self.placed(&id).lines().iter().map(|l| l.sku.clone()).collect();
        self.release(id, &skus, ReleaseReason::Expired).await;
    }

    async fn return_goods(&mut self) {
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
        if !self.order(&id, command).await {
            return;
        }
        self.count("return");
        if restock {
            let return_id = ReturnId::from_uuid(Uuid::new_v4());
            let restock = InventoryCommand::RestockReturn { order_id: id, return_id, location, quantity };
            self.inventory(&line.sku, restock).await.expect("restock");
        }
    }

    async fn refund(&mut self) {
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
        if self.order(&id, OrderCommand::IssueRefund { amount, reason: "goodwill".to_owned() }).await {
            self.count("refund");
        }
    }
}

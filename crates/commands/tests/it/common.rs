//! Shared by the integration tests: a store wrapper that counts what is read, a hand-moved clock, command sides
//! on the in-memory and the PostgreSQL store, and small builders for values and events.

use chrono::{DateTime, TimeZone, Utc};
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tally_commands::{Clock, CommandConfig, CommandContext, Commands};
use tally_domain::order::ItemLine;
use tally_domain::{Aggregate, Currency, Event, Inventory, InventoryEvent, LocationId, Money, Quantity, Sku};
use tally_store::{
    AppendResult, EventStore, ExpectedVersion, LogFilter, LogSlice, MemoryEventStore, NewEvent, PgEventStore,
    PgStoreOptions, ReadStream, RecordedEvent, StoreError, Verification,
};

/// A real store, wrapped to count stream reads and the events they returned (not a mock: every call goes through).
pub struct CountingStore {
    inner: Arc<dyn EventStore>,
    stream_reads: AtomicU64,
    events_read: AtomicU64,
    appends: AtomicU64,
    /// Added before every append, to make a fast store behave like one across a network.
    append_delay: Duration,
    /// Appends to make, then answer as if the connection was lost during the commit (outcome unknown).
    lose_answers: AtomicU64,
    /// While set, every append to this stream is preceded by one event appended by "another process".
    rival: Mutex<Option<String>>,
    /// Once: "another process" appends this event to this stream just before our append number `skip + 1` to it.
    interject: Mutex<Option<(String, usize, NewEvent)>>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn EventStore>, append_delay: Duration) -> Self {
        let (stream_reads, events_read, appends) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
        let (lose_answers, rival, interject) = (AtomicU64::new(0), Mutex::new(None), Mutex::new(None));
        CountingStore { inner, stream_reads, events_read, appends, append_delay, lose_answers, rival, interject }
    }

    /// Just before our append number `skip + 1` to `stream_id`, "another process" appends `event` there.
    pub fn interject(&self, stream_id: &str, skip: usize, event: NewEvent) {
        *self.interject.lock().unwrap() = Some((stream_id.to_owned(), skip, event));
    }

    /// The interjected event, if it is due now for an append to `stream_id`.
    fn due_interjection(&self, stream_id: &str) -> Option<NewEvent> {
        let mut interject = self.interject.lock().unwrap();
        let (stream, skip, _) = interject.as_mut()?;
        if stream != stream_id {
            return None;
        }
        if *skip > 0 {
            *skip -= 1;
            return None;
        }
        interject.take().map(|(_, _, event)| event)
    }

    /// The next `count` appends are written, but their callers get an error as if the answer was lost.
    pub fn lose_next_answers(&self, count: u64) {
        self.lose_answers.store(count, Ordering::SeqCst);
    }

    /// From now on another process appends to `stream_id` just before every append of ours (`None`: stop).
    pub fn set_rival(&self, stream_id: Option<&str>) {
        *self.rival.lock().unwrap() = stream_id.map(str::to_owned);
    }

    /// Events returned by `read_stream` since the last call; resets the count.
    pub fn take_events_read(&self) -> u64 {
        self.stream_reads.store(0, Ordering::SeqCst);
        self.events_read.swap(0, Ordering::SeqCst)
    }

    pub fn appends(&self) -> u64 {
        self.appends.load(Ordering::SeqCst)
    }
}

impl EventStore for CountingStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendResult, StoreError>> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if !self.append_delay.is_zero() {
                tokio::time::sleep(self.append_delay).await;
            }
            let rival = self.rival.lock().unwrap().clone();
            if rival.as_deref() == Some(stream_id) {
                let found = InventoryEvent::StockAdjusted {
                    location: loc("main"),
                    delta: 1,
                    reason: tally_domain::inventory::AdjustmentReason::Found,
                };
                self.inner.append(stream_id, ExpectedVersion::Any, vec![stored(&found)]).await?;
            }
            if let Some(event) = self.due_interjection(stream_id) {
                self.inner.append(stream_id, ExpectedVersion::Any, vec![event]).await?;
            }
            let result = self.inner.append(stream_id, expected, events).await;
            let lose = self.lose_answers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            if lose && result.is_ok() {
                return Err(StoreError::WriterStopped);
            }
            result
        })
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        read: ReadStream,
    ) -> BoxFuture<'a, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            let events = self.inner.read_stream(stream_id, read).await?;
            self.stream_reads.fetch_add(1, Ordering::SeqCst);
            self.events_read.fetch_add(events.len() as u64, Ordering::SeqCst);
            Ok(events)
        })
    }

    fn read_all<'a>(
        &'a self,
        after: u64,
        limit: usize,
        filter: &'a LogFilter,
    ) -> BoxFuture<'a, Result<LogSlice, StoreError>> {
        self.inner.read_all(after, limit, filter)
    }

    fn find_event<'a>(
        &'a self,
        stream_id: &'a str,
        event_id: uuid::Uuid,
    ) -> BoxFuture<'a, Result<Option<RecordedEvent>, StoreError>> {
        self.inner.find_event(stream_id, event_id)
    }

    fn head_position(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.head_position()
    }

    fn wait_for_position_after(&self, after: u64, timeout: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.wait_for_position_after(after, timeout)
    }

    fn verify_stream<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Verification, StoreError>> {
        self.inner.verify_stream(stream_id)
    }

    fn verify_all<'a>(
        &'a self,
        progress: &'a (dyn Fn(tally_store::VerifyProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<Verification, StoreError>> {
        self.inner.verify_all(progress)
    }
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap())))
    }

    pub fn now_for_test(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A command side on `store` with the given clock and config.
pub struct Harness {
    pub commands: Commands,
    pub counting: Arc<CountingStore>,
    pub clock: Arc<ManualClock>,
    /// The store behind the counter: "another process" appends here behind the writers' backs.
    pub raw: Arc<dyn EventStore>,
}

pub fn harness_on(raw: Arc<dyn EventStore>, config: CommandConfig) -> Harness {
    harness_with_delay(raw, config, Duration::ZERO)
}

pub fn harness_with_delay(raw: Arc<dyn EventStore>, config: CommandConfig, append_delay: Duration) -> Harness {
    let counting = Arc::new(CountingStore::new(Arc::clone(&raw), append_delay));
    let clock = ManualClock::new();
    let commands = Commands::with_clock(counting.clone(), config, clock.clone());
    Harness { commands, counting, clock, raw }
}

pub fn memory(config: CommandConfig) -> Harness {
    harness_on(Arc::new(MemoryEventStore::new()), config)
}

/// A store on a fresh, migrated database of the test cluster (`TALLY_TEST_DATABASE_URL`). It runs on the
/// database's own pool, which keeps the database for as long as the store lives (`tally_testkit`).
pub async fn postgres_store() -> Arc<dyn EventStore> {
    let db = tally_testkit::fresh_database().await;
    tally_store::MIGRATOR.run(&db.pool).await.expect("migrate the test database");
    let store = PgEventStore::with_pool(db.pool.clone(), PgStoreOptions::default()).await.expect("open the store");
    Arc::new(store)
}

pub async fn postgres(config: CommandConfig) -> Harness {
    harness_on(postgres_store().await, config)
}

pub fn config() -> CommandConfig {
    CommandConfig::default()
}

pub fn context() -> CommandContext {
    CommandContext::new("test")
}

pub fn sku(name: &str) -> Sku {
    Sku::parse(name).unwrap()
}

pub fn loc(name: &str) -> LocationId {
    LocationId::parse(name).unwrap()
}

pub fn qty(units: u32) -> Quantity {
    Quantity::new(units).unwrap()
}

pub fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

pub fn customer() -> tally_domain::CustomerId {
    tally_domain::CustomerId::parse("cus-42").unwrap()
}

/// An order request for `lines`, with a new order id.
pub fn order_of(lines: Vec<ItemLine>) -> tally_commands::PlaceOrder {
    tally_commands::PlaceOrder { order_id: None, customer_id: customer(), lines }
}

pub fn item(name: &str, units: u32) -> ItemLine {
    ItemLine { sku: sku(name), quantity: qty(units) }
}

/// Registers `name` at `price` EUR cents and receives `stock` units per `(location, units)`.
pub async fn stocked(commands: &Commands, name: &str, price: i64, stock: &[(&str, u32)]) {
    let ctx = context();
    commands.register_product(&ctx, sku(name), format!("product {name}"), eur(price)).await.unwrap();
    for (location, units) in stock {
        commands.receive_stock(&ctx, &sku(name), loc(location), qty(*units), "PO-1".into(), None).await.unwrap();
    }
}

/// A domain event as a store event, for appending behind the command side's back.
pub fn stored<E: Event>(event: &E) -> NewEvent {
    NewEvent::new(event.event_type(), serde_json::to_value(event).unwrap())
}

/// Every event of a stream, straight from the store.
pub async fn history(store: &dyn EventStore, stream_id: &str) -> Vec<RecordedEvent> {
    store.read_stream(stream_id, ReadStream::forwards(0, 1_000_000)).await.unwrap()
}

/// Replays `inventory-{name}` from the store and asserts that no location's available stock ever went below
/// zero, counting in `i128` from the events alone (no saturation). Returns the final state.
pub async fn replay_inventory_never_oversold(store: &dyn EventStore, name: &str) -> Inventory {
    let mut ledger: std::collections::BTreeMap<LocationId, (i128, i128)> = Default::default();
    let mut state = Inventory::default();
    for recorded in history(store, &Inventory::stream_id(&sku(name))).await {
        let event: InventoryEvent = serde_json::from_value(recorded.data).unwrap();
        let mut change = |location: &LocationId, on_hand: i128, reserved: i128| {
            let entry = ledger.entry(location.clone()).or_default();
            entry.0 += on_hand;
            entry.1 += reserved;
        };
        match &event {
            InventoryEvent::StockReceived { location, quantity, .. }
            | InventoryEvent::StockRestocked { location, quantity, .. } => change(location, quantity.get().into(), 0),
            InventoryEvent::StockAdjusted { location, delta, .. } => change(location, (*delta).into(), 0),
            InventoryEvent::StockReserved { allocations, .. } => {
                allocations.iter().for_each(|a| change(&a.location, 0, a.quantity.get().into()))
            }
            InventoryEvent::ReservationReleased { allocations, .. } => {
                allocations.iter().for_each(|a| change(&a.location, 0, -i128::from(a.quantity.get())))
            }
            InventoryEvent::ReservationCommitted { allocations, .. } => allocations
                .iter()
                .for_each(|a| change(&a.location, -i128::from(a.quantity.get()), -i128::from(a.quantity.get()))),
        }
        for (location, (on_hand, reserved)) in &ledger {
            assert!(*reserved >= 0 && on_hand - reserved >= 0, "{location}: on hand {on_hand}, reserved {reserved}");
        }
        state = Inventory::evolve(state, &event);
    }
    state
}

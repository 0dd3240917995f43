//! The order process: the stock consequences of order events, driven by the log.
//!
//! A [`Follower`] of the global log like every projection (one holder per cluster under a lease, a checkpoint in
//! `projections` under the name `order-process`, another `tally serve` taking over within about a second when the
//! holder dies). The HTTP request that appends an order event applies its stock effects inline for latency; this
//! process makes them durable: whatever failed after the order event committed, it repairs within seconds.
//!
//! - `OrderRejected`, `OrderCancelled`, `OrderExpired`, `ShipmentDispatched`, `ReturnReceived`: the order's stock
//!   effects are settled (`Commands::settle_order`: derived from the order's whole history, applied once per
//!   cause, so repeating them after the request already did is a no-op).
//! - `OrderPlaced` without its decision: the order is pending. Once this process has seen it pending for
//!   [`PENDING_GRACE`] (measured on this process's own monotonic clock, from when it read the event), it finishes
//!   it: reserves the lines again (idempotent per order) and confirms or rejects it. The decision goes on the
//!   order's stream before any hold is released, so this runner and a slow request cannot leave holds that
//!   disagree with the outcome.
//! - `StockReserved` for an order this process does not hold as pending: a runner that read the order as pending
//!   reserved after another runner decided it; the order is settled (released unless it is confirmed).
//! - Every [`EXPIRY_INTERVAL`], confirmed orders unpaid past `reserved_until` (by this holder's clock; one holder
//!   at a time) are expired and their stock released.
//!
//! **Checkpoint.** Effects are applied before the checkpoint moves, so after a crash they are applied again
//! (repeat-safe). The checkpoint is a low-water mark: it never passes an `OrderPlaced` whose order this process
//! has not seen decided, so a new holder reads that order's placement again and finishes it. It is stored at most
//! every 500 ms (not per batch, which under load would cost the write path a transaction per read).

use chrono::Utc;
use futures::stream::{self, StreamExt};
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tally_commands::{CommandContext, CommandError, Commands, ErrorKind};
use tally_domain::OrderId;
use tally_projections::read::orders as order_reads;
use tally_projections::{move_checkpoint, Applied, Follower, ProjectionError};
use tally_store::{LogFilter, RecordedEvent, StoreError};
use uuid::Uuid;

/// The follower's name: its row in `projections` and its lease.
pub const NAME: &str = "order-process";
/// How long an order may stay pending, after this process read its placement, before the process finishes it.
/// A request decides its order within milliseconds; longer means it failed or its process died.
pub const PENDING_GRACE: Duration = Duration::from_secs(2);
/// How often unpaid orders past their reservation are looked for.
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(5);
/// The least time between two rounds of time-driven work (pending orders, expiry).
const TICK: Duration = Duration::from_millis(500);
/// Orders worked on at once.
const CONCURRENCY: usize = 16;
/// Unpaid orders expired per round.
const EXPIRY_PAGE: u32 = 200;
/// The events this process reacts to: the order events with stock effects, and reservations (to catch one made
/// for an order already decided).
const EVENT_TYPES: [&str; 8] = [
    "StockReserved",
    "OrderPlaced",
    "OrderConfirmed",
    "OrderRejected",
    "OrderCancelled",
    "OrderExpired",
    "ShipmentDispatched",
    "ReturnReceived",
];

/// The order process of one `tally serve` (cheap to clone; clones share their state).
#[derive(Clone)]
pub struct OrderProcess {
    inner: Arc<Inner>,
}

struct Inner {
    commands: Commands,
    /// The read models (for the expiry query).
    pool: PgPool,
    context: CommandContext,
    state: Mutex<ProcessState>,
}

/// What this runner knows while it holds the lease.
#[derive(Default)]
struct ProcessState {
    /// Orders whose placement it read and whose decision it has not: position of `OrderPlaced`, and when it was read.
    pending: BTreeMap<OrderId, (u64, Instant)>,
    /// Where the log was read up to.
    read_to: u64,
    /// The checkpoint as stored.
    stored: u64,
    last_tick: Option<Instant>,
    last_expiry: Option<Instant>,
}

impl ProcessState {
    /// The checkpoint to store: just before the oldest undecided placement, else where the log was read to.
    fn low_water(&self) -> u64 {
        let oldest = self.pending.values().map(|(position, _)| position - 1).min();
        oldest.map_or(self.read_to, |oldest| oldest.min(self.read_to))
    }
}

impl OrderProcess {
    pub fn new(commands: Commands, pool: PgPool) -> Self {
        let context = CommandContext::new(NAME);
        OrderProcess { inner: Arc::new(Inner { commands, pool, context, state: Mutex::default() }) }
    }

    fn state(&self) -> MutexGuard<'_, ProcessState> {
        // Every critical section leaves the maps consistent, so poison is harmless.
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Settles the stock effects of these orders, several at once.
    async fn settle(&self, orders: BTreeSet<OrderId>) -> Result<(), ProjectionError> {
        let results: Vec<Result<(), CommandError>> = stream::iter(orders)
            .map(|order_id| async move {
                match self.inner.commands.settle_order(&self.inner.context, order_id).await {
                    Err(error) if !is_transient(&error) => {
                        // Repeating it would refuse again (e.g. an effect the stock cannot take): report, go on.
                        tracing::error!(order.id = %order_id, error = %error, "an order's stock effects were refused");
                        Ok(())
                    }
                    other => other,
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), _>>().map_err(into_projection_error)
    }

    /// Finishes pending orders this runner has seen pending for longer than [`PENDING_GRACE`].
    async fn finish_pending(&self) {
        let due: Vec<OrderId> = {
            let state = self.state();
            state.pending.iter().filter(|(_, (_, seen))| seen.elapsed() >= PENDING_GRACE).map(|(id, _)| *id).collect()
        };
        let finished: Vec<Option<OrderId>> = stream::iter(due)
            .map(|order_id| async move {
                match self.inner.commands.resume_pending_order(&self.inner.context, order_id).await {
                    Ok(placement) => {
                        let status = placement.outcome().state.status();
                        tracing::info!(order.id = %order_id, status = ?status, "finished a pending order");
                        Some(order_id)
                    }
                    Err(error) => {
                        tracing::warn!(order.id = %order_id, error = %error, "could not finish a pending order yet");
                        None
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut state = self.state();
        for order_id in finished.into_iter().flatten() {
            state.pending.remove(&order_id);
        }
    }

    /// Expires confirmed orders unpaid past their reservation (by this holder's clock).
    async fn expire_overdue(&self) -> Result<(), ProjectionError> {
        let overdue = order_reads::orders_confirmed_unpaid_past(&self.inner.pool, Utc::now(), EXPIRY_PAGE)
            .await
            .map_err(|error| ProjectionError::TaskFailed { name: NAME.to_owned(), reason: error.to_string() })?;
        for order_id in overdue {
            match self.inner.commands.expire_order(&self.inner.context, order_id).await {
                Ok(_) => tracing::info!(order.id = %order_id, "expired an unpaid order and released its stock"),
                Err(error) => tracing::warn!(order.id = %order_id, error = %error, "could not expire an order"),
            }
        }
        Ok(())
    }

    /// Stores the low-water mark if it moved.
    async fn store_checkpoint(&self, conn: &mut PgConnection, holder: &str) -> Result<Option<u64>, ProjectionError> {
        let (stored, low_water) = {
            let state = self.state();
            (state.stored, state.low_water())
        };
        if low_water == stored {
            return Ok(None);
        }
        let moved = move_checkpoint(conn, NAME, holder, stored, low_water).await?;
        if moved.is_none() {
            self.state().stored = low_water;
        }
        Ok(moved)
    }
}

impl Follower for OrderProcess {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> LogFilter {
        LogFilter { stream_prefix: None, event_types: EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect() }
    }

    async fn resume(&self, checkpoint: u64) -> Result<u64, ProjectionError> {
        *self.state() = ProcessState { read_to: checkpoint, stored: checkpoint, ..ProcessState::default() };
        Ok(checkpoint)
    }

    async fn apply(
        &self,
        _conn: &mut PgConnection,
        _holder: &str,
        _from: u64,
        to: u64,
        events: &[RecordedEvent],
    ) -> Result<Applied, ProjectionError> {
        let mut to_settle = BTreeSet::new();
        {
            let mut state = self.state();
            for event in events {
                let order_id = match order_of(event) {
                    Ok(order_id) => order_id,
                    // Not an event Tally writes: stop here (reported as the follower's failure) until cleared.
                    Err(error) => return Ok(Applied::Poisoned { position: event.position, error }),
                };
                match event.event_type.as_str() {
                    // In log order an order's reservations come after its placement and before its decision: a
                    // reservation for an order not pending here was made late, by a runner that had read the order
                    // as pending, for an order decided meanwhile. Settling releases it if the order holds nothing.
                    "StockReserved" => {
                        if !state.pending.contains_key(&order_id) {
                            to_settle.insert(order_id);
                        }
                    }
                    "OrderPlaced" => {
                        state.pending.insert(order_id, (event.position, Instant::now()));
                    }
                    "OrderConfirmed" => {
                        state.pending.remove(&order_id);
                    }
                    _ => {
                        state.pending.remove(&order_id);
                        to_settle.insert(order_id);
                    }
                }
            }
        }
        self.settle(to_settle).await?;
        // The checkpoint is stored by `tick`, at most every `TICK`: under load a transaction per batch would cost
        // the write path, and a checkpoint a little behind only means reading a little again after a crash.
        self.state().read_to = to;
        Ok(Applied::Through(to))
    }

    async fn tick(&self, conn: &mut PgConnection, holder: &str) -> Result<(), ProjectionError> {
        let (due, expiry_due) = {
            let mut state = self.state();
            if state.last_tick.is_some_and(|last| last.elapsed() < TICK) {
                return Ok(());
            }
            state.last_tick = Some(Instant::now());
            let expiry_due = state.last_expiry.is_none_or(|last| last.elapsed() >= EXPIRY_INTERVAL);
            if expiry_due {
                state.last_expiry = Some(Instant::now());
            }
            (!state.pending.is_empty(), expiry_due)
        };
        if due {
            self.finish_pending().await;
        }
        if expiry_due {
            self.expire_overdue().await?;
        }
        match self.store_checkpoint(conn, holder).await? {
            None => Ok(()),
            // Another holder moved it: this runner lost its lease without noticing. End the session; the worker
            // takes the lease again (or waits for it) and resumes from the stored checkpoint.
            Some(stored) => Err(ProjectionError::TaskFailed {
                name: NAME.to_owned(),
                reason: format!("the checkpoint was moved to {stored} by another holder"),
            }),
        }
    }
}

/// The order an event is about: the order of an `order-` stream's event, the `order_id` of a reservation.
fn order_of(event: &RecordedEvent) -> Result<OrderId, ProjectionError> {
    let id = match event.stream_id.strip_prefix("order-") {
        Some(id) => Some(id),
        None => event.data.get("order_id").and_then(serde_json::Value::as_str),
    };
    id.and_then(|id| Uuid::parse_str(id).ok()).map(OrderId::from_uuid).ok_or_else(|| ProjectionError::Decode {
        position: event.position,
        event_type: event.event_type.clone(),
        reason: format!("no order id in this event of {}", event.stream_id),
    })
}

/// Whether a failed command may succeed later (the store unavailable, contention): then the batch is repeated.
fn is_transient(error: &CommandError) -> bool {
    matches!(error.kind(), ErrorKind::Unavailable)
}

fn into_projection_error(error: CommandError) -> ProjectionError {
    match error {
        CommandError::Store(store) => ProjectionError::Store(store),
        other => ProjectionError::Store(StoreError::Unavailable(Arc::new(other))),
    }
}

//! Placing an order: the reservation process that spans the order and every SKU it names.
//!
//! 1. Price the lines from the catalog (never the client's prices; unknown or discontinued products refused).
//! 2. Append `OrderPlaced` (stream must not exist; the client may choose the order id).
//! 3. Reserve every line on `inventory-{sku}`, lines of different SKUs concurrently, each through its SKU's
//!    writer (so hot SKUs are batched, never retried into a storm). A reservation is idempotent per order.
//! 4. All reserved: append `OrderConfirmed { reserved_until = now + reservation TTL }`. Otherwise append
//!    `OrderRejected { shortages }`, then release what was reserved (reason `rejected`): decide before undoing.
//!
//! Every step is an event and every step is repeatable, so [`Commands::resume_pending_order`] (for the recovery
//! worker) finishes an order a crash left `pending` by running steps 3-4 again.
//!
//! **The same order id again.** A `place_order` whose order id exists is a retry if it names the same customer
//! and the same lines (SKU and quantity): it gets the order's current outcome (`Confirmed` with the order as it
//! stands, or `Rejected` with the recorded shortages), and nothing is appended. If that order is still `pending`
//! (its first request is in flight or crashed) the answer is [`CommandError::OrderPending`]: retry later, or
//! let the recovery worker finish it. Other lines or another customer: `OrderError::AlreadyPlaced`.
//!
//! **Decided by someone else.** If the order is no longer pending when the process appends its decision (it was
//! cancelled meanwhile), the order's history wins: the process settles the order's inventory effects (releasing
//! what it reserved) and reports the order as it stands.
//!
//! **Two runners of one order** (a request and the order process, two nodes) are safe: reservations are
//! idempotent per order, and the decision is appended to the order's stream before any hold is released, so the
//! runner that loses the race finds the order decided and settles the holds from its history (a confirmed order
//! keeps them, a rejected one releases them). No runner releases a hold on a guess.

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tally_domain::inventory::ReleaseReason;
use tally_domain::order::{ItemLine, OrderLine, OrderStatus, PlacedOrder, Shortage};
use tally_domain::{Aggregate, CustomerId, DomainError, InventoryCommand, InventoryError, Order, OrderCommand};
use tally_domain::{OrderError, OrderEvent, OrderId};
use tracing::instrument;
use uuid::Uuid;

use crate::context::CommandContext;
use crate::engine::{Commands, OrderOutcome};
use crate::error::CommandError;
use crate::stream::{decode, read_whole};

/// An order as a storefront asks for it: no prices (they come from the catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    /// Chosen by the client, or `None` for a new time-ordered id.
    pub order_id: Option<OrderId>,
    pub customer_id: CustomerId,
    pub lines: Vec<ItemLine>,
}

/// How placing an order ended.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Every line is reserved and the order is `confirmed`. On a repeat, a resume, or when the order was decided
    /// by someone else meanwhile: the order as it stands (which may have moved on: paid, shipped, cancelled).
    Confirmed(OrderOutcome),
    /// Some lines lacked stock: the order is `rejected`, nothing is held.
    Rejected { order_id: OrderId, shortages: Vec<Shortage>, outcome: OrderOutcome },
}

impl Placement {
    pub fn outcome(&self) -> &OrderOutcome {
        match self {
            Placement::Confirmed(outcome) | Placement::Rejected { outcome, .. } => outcome,
        }
    }
}

impl Commands {
    /// Places an order and waits for the reservation process to confirm or reject it (see the module doc). The
    /// process runs in a task of its own: if the caller stops waiting, it still finishes.
    #[instrument(skip_all, fields(order.id))]
    pub async fn place_order(&self, context: &CommandContext, request: PlaceOrder) -> Result<Placement, CommandError> {
        // An id made up here names a stream nobody has written yet.
        let new_id = request.order_id.is_none();
        let order_id = request.order_id.unwrap_or_else(|| OrderId::from_uuid(Uuid::now_v7()));
        tracing::Span::current().record("order.id", tracing::field::display(order_id));
        let (this, context) = (self.clone(), context.clone());
        self.detached(order_id, async move { this.place(&context, request, order_id, new_id).await }).await
    }

    /// The process itself, in its own task (see [`Commands::place_order`]). `new_id`: the id was made up here.
    async fn place(
        &self,
        context: &CommandContext,
        request: PlaceOrder,
        order_id: OrderId,
        new_id: bool,
    ) -> Result<Placement, CommandError> {
        let lines = self.price_lines(&request.lines).await?;
        let customer_id = request.customer_id.clone();
        let command = OrderCommand::PlaceOrder { order_id, customer_id, lines, placed_at: self.clock.now() };
        let placed = if new_id {
            self.orders.execute_on_new_stream(&Order::stream_id(&order_id), command, context).await
        } else {
            self.on_order(context, order_id, command, None).await
        };
        match placed {
            Ok(outcome) => {
                let context = outcome.first_event_id().map_or_else(|| context.clone(), |id| context.caused_by(id));
                let Some(order) = outcome.state.placed().cloned() else {
                    return Err(CommandError::NotFound { stream_id: Order::stream_id(&order_id) });
                };
                self.reserve_and_decide(&context, &order).await
            }
            Err(CommandError::Domain(DomainError::Order(OrderError::AlreadyPlaced { .. }))) => {
                self.place_again(&request, order_id).await
            }
            Err(error) => Err(error),
        }
    }

    /// For the recovery worker: finishes an order left `pending` (reserves its lines again, idempotently, then
    /// confirms or rejects it). On an order that is no longer pending, finishes its inventory effects and reports
    /// how it ended. Only for orders pending longer than a request can take (see the module doc).
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn resume_pending_order(
        &self,
        context: &CommandContext,
        order_id: OrderId,
    ) -> Result<Placement, CommandError> {
        let snapshot = self.order(order_id).await?;
        let Some(order) = snapshot.state.placed() else {
            return Err(CommandError::NotFound { stream_id: Order::stream_id(&order_id) });
        };
        if order.status() == OrderStatus::Pending {
            return self.reserve_and_decide(context, order).await;
        }
        self.settle_order(context, order_id).await?;
        self.report(order_id).await
    }

    /// A repeat of an existing order id: the current outcome if it is the same order (see the module doc).
    async fn place_again(&self, request: &PlaceOrder, order_id: OrderId) -> Result<Placement, CommandError> {
        let snapshot = self.order(order_id).await?;
        let Some(order) = snapshot.state.placed() else {
            return Err(CommandError::NotFound { stream_id: Order::stream_id(&order_id) });
        };
        if !same_order(order, request) {
            return Err(CommandError::Domain(OrderError::AlreadyPlaced { order_id }.into()));
        }
        if order.status() == OrderStatus::Pending {
            return Err(CommandError::OrderPending { order_id });
        }
        self.report(order_id).await
    }

    /// Steps 3-4 of the process for a pending order.
    async fn reserve_and_decide(
        &self,
        context: &CommandContext,
        order: &PlacedOrder,
    ) -> Result<Placement, CommandError> {
        let order_id = order.order_id();
        let reserved_until = self.reserved_until();
        let results = join_all(order.lines().iter().map(|line| {
            let command =
                InventoryCommand::ReserveStock { order_id, quantity: line.quantity, expires_at: reserved_until };
            self.on_inventory(context, &line.sku, command, None)
        }))
        .await;
        let mut shortages = Vec::new();
        for (line, result) in order.lines().iter().zip(results) {
            match result {
                Ok(_) => {}
                Err(CommandError::Domain(DomainError::Inventory(InventoryError::InsufficientStock {
                    available,
                    ..
                }))) => {
                    shortages.push(Shortage { sku: line.sku.clone(), requested: line.quantity, available });
                }
                // The order stays pending: the recovery worker finishes it.
                Err(error) => return Err(error),
            }
        }
        #[cfg(feature = "test-hooks")]
        if let Some(gate) = &self.config.decision_gate {
            gate.pass().await;
        }
        // Decide before undoing: the outcome goes on the order's own stream first (optimistic concurrency), and
        // the holds follow from it. A runner that loses the race (another one decided first) releases nothing
        // itself; it settles whatever the order's history says.
        if shortages.is_empty() {
            let confirmed = self.on_order(context, order_id, OrderCommand::ConfirmOrder { reserved_until }, None).await;
            return self.decided(context, order_id, confirmed.map(Placement::Confirmed)).await;
        }
        let command = OrderCommand::RejectOrder { shortages: shortages.clone() };
        match self.on_order(context, order_id, command, None).await {
            Ok(outcome) => {
                let context = outcome.first_event_id().map_or_else(|| context.clone(), |id| context.caused_by(id));
                self.release_lines(&context, order_id, order.lines(), ReleaseReason::Rejected).await?;
                Ok(Placement::Rejected { order_id, shortages, outcome })
            }
            Err(error) => self.decided(context, order_id, Err(error)).await,
        }
    }

    /// The process's answer; when the order was decided by someone else meanwhile (cancelled while pending),
    /// the order's own history wins: its effects are settled and its outcome reported.
    async fn decided(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        result: Result<Placement, CommandError>,
    ) -> Result<Placement, CommandError> {
        match result {
            Err(CommandError::Domain(DomainError::Order(OrderError::InvalidTransition { .. }))) => {
                self.settle_order(context, order_id).await?;
                self.report(order_id).await
            }
            other => other,
        }
    }

    async fn release_lines(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        lines: &[OrderLine],
        reason: ReleaseReason,
    ) -> Result<(), CommandError> {
        let results = join_all(lines.iter().map(|line| {
            let command = InventoryCommand::ReleaseReservation { order_id, reason };
            self.on_inventory(context, &line.sku, command, None)
        }))
        .await;
        results.into_iter().try_for_each(|result| result.map(|_| ()))
    }

    /// How a decided order ended, as it stands now; `Rejected` carries the shortages it recorded.
    async fn report(&self, order_id: OrderId) -> Result<Placement, CommandError> {
        let snapshot = self.order(order_id).await?;
        let outcome = OrderOutcome::unchanged(snapshot);
        if outcome.state.status() != Some(OrderStatus::Rejected) {
            return Ok(Placement::Confirmed(outcome));
        }
        let history = read_whole(self.store.as_ref(), &Order::stream_id(&order_id)).await?;
        let mut shortages = Vec::new();
        for recorded in &history {
            if let OrderEvent::OrderRejected { shortages: recorded_shortages } = decode::<OrderEvent>(recorded)? {
                shortages = recorded_shortages;
            }
        }
        Ok(Placement::Rejected { order_id, shortages, outcome })
    }

    /// Now plus the reservation TTL.
    fn reserved_until(&self) -> DateTime<Utc> {
        let ttl = chrono::Duration::from_std(self.config.reservation_ttl).unwrap_or(chrono::Duration::MAX);
        self.clock.now().checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Whether an existing order is the one `request` asks for (same customer, same SKUs and quantities in order).
fn same_order(order: &PlacedOrder, request: &PlaceOrder) -> bool {
    let requested = request.lines.iter().map(|line| (&line.sku, line.quantity));
    order.customer_id() == &request.customer_id
        && order.lines().len() == request.lines.len()
        && order.lines().iter().map(|line| (&line.sku, line.quantity)).eq(requested)
}

//! The order lifecycle after placement: pay, ship, deliver, cancel, return, refund, and expiry.
//!
//! Each command is decided by the order aggregate and appended to `order-{id}` first: the order's history is the
//! record of what was decided. Commands with an effect on stock (ship -> commit, cancel and expire -> release,
//! return with restock -> restock) then apply it with [`Commands::settle_order`], which derives every inventory
//! effect from that history and applies each one at most once per cause (shipment id, return id, release of
//! whatever is still held). A crash between the two steps leaves nothing wrong that repeating `settle_order`
//! does not finish; until then the answer to the caller may be an error although the order event was recorded.

use tally_domain::order::{ItemLine, OrderStatus};
use tally_domain::{LocationId, Money, OrderCommand, OrderId, ShipmentId};
use tracing::instrument;
use uuid::Uuid;

use crate::context::CommandContext;
use crate::engine::{Commands, OrderOutcome};
use crate::error::CommandError;

impl Commands {
    /// Captures a payment (partial captures add up; the order is `paid` when they reach the total).
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn capture_payment(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        amount: Money,
        reference: String,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        let command = OrderCommand::CapturePayment { amount, reference };
        self.on_order(context, order_id, command, expected).await
    }

    /// Dispatches a shipment (`lines` empty: everything still unshipped) with a new shipment id, then commits the
    /// shipped units on each SKU's reservation.
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn ship(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        lines: Vec<ItemLine>,
        carrier: String,
        tracking_number: String,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        let shipment_id = ShipmentId::from_uuid(Uuid::now_v7());
        let command = OrderCommand::DispatchShipment { shipment_id, lines, carrier, tracking_number };
        self.with_effects(context, order_id, command, expected).await
    }

    /// Records the delivery of a shipped order.
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn deliver(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        self.on_order(context, order_id, OrderCommand::DeliverOrder, expected).await
    }

    /// Cancels an order that has not fully shipped, then releases whatever stock it still holds.
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn cancel(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        reason: String,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        self.with_effects(context, order_id, OrderCommand::CancelOrder { reason }, expected).await
    }

    /// Receives returned goods; with `restock`, puts them back on the shelf at `location` (once per return).
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn receive_return(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        lines: Vec<ItemLine>,
        restock: bool,
        location: LocationId,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        let command = OrderCommand::ReceiveReturn { lines, restock, location };
        if restock {
            self.with_effects(context, order_id, command, expected).await
        } else {
            self.on_order(context, order_id, command, expected).await
        }
    }

    /// Refunds money captured and not yet refunded.
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn refund(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        amount: Money,
        reason: String,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        self.on_order(context, order_id, OrderCommand::IssueRefund { amount, reason }, expected).await
    }

    /// For the expiry worker: expires a confirmed order whose `reserved_until` has passed (by this side's clock)
    /// and releases its stock. Repeat-safe: on an order already expired it only finishes the release.
    /// Refuses an order still within its reservation (`OrderError::NotYetExpired`) or not confirmed.
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn expire_order(
        &self,
        context: &CommandContext,
        order_id: OrderId,
    ) -> Result<OrderOutcome, CommandError> {
        let snapshot = self.order(order_id).await?;
        if snapshot.state.status() == Some(OrderStatus::Expired) {
            self.settle_order(context, order_id).await?;
            return Ok(OrderOutcome::unchanged(snapshot));
        }
        let command = OrderCommand::ExpireOrder { now: self.clock.now() };
        self.with_effects(context, order_id, command, None).await
    }

    /// Appends an order command, then settles the order's inventory effects, in a task of its own: a caller that
    /// stops waiting (a client disconnecting) does not stop the process between its two steps.
    async fn with_effects(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        command: OrderCommand,
        expected: Option<u64>,
    ) -> Result<OrderOutcome, CommandError> {
        let (this, context) = (self.clone(), context.clone());
        self.detached(order_id, async move {
            let outcome = this.on_order(&context, order_id, command, expected).await?;
            this.settle_order(&context, order_id).await?;
            Ok(outcome)
        })
        .await
    }
}

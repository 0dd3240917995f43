//! Inventory: one aggregate per SKU (stream `inventory-{sku}`) holding every location of that SKU, so that an
//! allocation across locations is one decision.
//!
//! Per location: `on_hand` (units on the shelf), `reserved` (held for orders) and `available = on_hand -
//! reserved`. Active reservations are kept per order, with their allocations to locations.
//!
//! Rules (all in [`decide`], each refusal an [`InventoryError`] variant):
//! - `available` never goes below zero: a reservation beyond what is available is refused;
//! - one active reservation per order: reserving again while the order holds stock is a no-op (no events), not a
//!   second hold, whatever the quantity asked;
//! - releasing an order that holds nothing is a no-op; a release always frees everything the order still holds;
//! - committing (shipping) takes only what the order holds: more is refused, an order holding nothing is refused;
//!   a commit names its shipment, and committing the same shipment again is a no-op (no events), so the command side
//!   can repeat the step after a crash without shipping the units twice;
//! - restocking a return names the return; restocking the same return again is a no-op (no events);
//! - an adjustment is never zero and never takes `on_hand` below zero nor below `reserved`; `damaged` and `lost`
//!   adjustments are negative, `found` ones positive, `count_correction` either way;
//! - no count may overflow `u64`.
//!
//! The shipments committed and the returns restocked are remembered in the state (one id each) for that rule.
//!
//! Restocking a return does not check the order: what was shipped and returned is the order aggregate's rule.
//! A reservation's `expires_at` is recorded for readers; the inventory never expires anything by itself (it has
//! no clock): the expiry worker expires the order, then releases its stock with reason `expired`. "Active" means
//! held now: once an order's reservation is released or fully committed, a new reservation for it is a new hold
//! (the reservation process only reserves for pending orders).
//!
//! # Allocation policy
//!
//! A reservation takes from the location with the most available units first, ties broken by location id
//! ascending, and splits across locations when one is not enough: with `a: 3, b: 5, c: 5` available, reserving 7
//! takes 5 from `b` then 2 from `c`.
//!
//! A commit of part of a reservation takes from the order's allocations in the same order: the largest
//! allocation first, ties by location id ascending. A release frees every remaining allocation.

mod decide;
mod evolve;
mod state;
#[cfg(test)]
mod tests;

pub use decide::decide;
pub use evolve::evolve;
pub use state::{Inventory, LocationStock, Reservation};

use crate::aggregate::{Aggregate, Event};
use crate::names::named_enum;
use crate::values::{LocationId, OrderId, Quantity, ReturnId, ShipmentId, Sku};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Units of a reservation (or a commit) at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub location: LocationId,
    pub quantity: Quantity,
}

named_enum! {
    /// Why a count of stock was corrected.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum AdjustmentReason ("adjustment reason") {
        /// A stock count found a different number; either sign.
        CountCorrection = "count_correction",
        /// Units damaged beyond sale; negative.
        Damaged = "damaged",
        /// Units missing; negative.
        Lost = "lost",
        /// Units found again; positive.
        Found = "found",
    }
}

named_enum! {
    /// Why an order's hold on stock was released.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ReleaseReason ("release reason") {
        /// The order was cancelled.
        Cancelled = "cancelled",
        /// The order stayed unpaid past its reservation.
        Expired = "expired",
        /// The order was rejected (another line lacked stock).
        Rejected = "rejected",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryCommand {
    /// Goods in at a location (`reference`: a purchase order or delivery note, free text).
    ReceiveStock { location: LocationId, quantity: Quantity, reference: String },
    /// Corrects `on_hand` at a location by `delta` units.
    AdjustStock { location: LocationId, delta: i64, reason: AdjustmentReason },
    /// Holds `quantity` units for an order, allocated by the policy in the module doc.
    ReserveStock { order_id: OrderId, quantity: Quantity, expires_at: DateTime<Utc> },
    /// Frees everything the order still holds.
    ReleaseReservation { order_id: OrderId, reason: ReleaseReason },
    /// Ships `quantity` units of what the order holds for shipment `shipment_id`: `on_hand` and `reserved` both
    /// fall. Once per shipment: a repeat is a no-op.
    CommitReservation { order_id: OrderId, shipment_id: ShipmentId, quantity: Quantity },
    /// Puts returned units of an order back on the shelf at a location. Once per return: a repeat is a no-op.
    RestockReturn { order_id: OrderId, return_id: ReturnId, location: LocationId, quantity: Quantity },
}

/// The inventory's stored events. The SKU is the stream's (`inventory-{sku}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InventoryEvent {
    StockReceived {
        location: LocationId,
        quantity: Quantity,
        reference: String,
    },
    /// `delta` is never zero.
    StockAdjusted {
        location: LocationId,
        delta: i64,
        reason: AdjustmentReason,
    },
    StockReserved {
        order_id: OrderId,
        allocations: Vec<Allocation>,
        expires_at: DateTime<Utc>,
    },
    /// `allocations`: what was still held and is now free again.
    ReservationReleased {
        order_id: OrderId,
        reason: ReleaseReason,
        allocations: Vec<Allocation>,
    },
    /// `allocations`: what was shipped from where in shipment `shipment_id`; the order keeps holding whatever
    /// remains.
    ReservationCommitted {
        order_id: OrderId,
        shipment_id: ShipmentId,
        allocations: Vec<Allocation>,
    },
    /// `return_id`: the return the units came back in.
    StockRestocked {
        order_id: OrderId,
        return_id: ReturnId,
        location: LocationId,
        quantity: Quantity,
    },
}

impl Event for InventoryEvent {
    fn event_type(&self) -> &'static str {
        match self {
            InventoryEvent::StockReceived { .. } => "StockReceived",
            InventoryEvent::StockAdjusted { .. } => "StockAdjusted",
            InventoryEvent::StockReserved { .. } => "StockReserved",
            InventoryEvent::ReservationReleased { .. } => "ReservationReleased",
            InventoryEvent::ReservationCommitted { .. } => "ReservationCommitted",
            InventoryEvent::StockRestocked { .. } => "StockRestocked",
        }
    }

    fn schema_version(&self) -> u16 {
        match self {
            InventoryEvent::StockReceived { .. }
            | InventoryEvent::StockAdjusted { .. }
            | InventoryEvent::StockReserved { .. }
            | InventoryEvent::ReservationReleased { .. }
            | InventoryEvent::ReservationCommitted { .. }
            | InventoryEvent::StockRestocked { .. } => 1,
        }
    }
}

/// Why the inventory refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("insufficient stock: requested {requested}, available {available}")]
    InsufficientStock { requested: u64, available: u64 },
    #[error("an adjustment must change the stock")]
    ZeroAdjustment,
    #[error("a {reason} adjustment cannot have a delta of {delta}")]
    AdjustmentSignMismatch { reason: AdjustmentReason, delta: i64 },
    #[error("adjusting {location} by {delta} would take on hand ({on_hand}) below zero")]
    AdjustmentBelowZero { location: LocationId, on_hand: u64, delta: i64 },
    #[error("adjusting {location} by {delta} would take on hand ({on_hand}) below reserved ({reserved})")]
    AdjustmentBelowReserved { location: LocationId, on_hand: u64, reserved: u64, delta: i64 },
    #[error("a receipt or adjustment moves at most {max} units")]
    QuantityTooLarge { max: u32 },
    #[error("the reference must not contain a nul character (u+0000)")]
    NulInReference,
    #[error("stock at {location} would overflow")]
    QuantityOverflow { location: LocationId },
    #[error("order {order_id} holds no reservation")]
    NoActiveReservation { order_id: OrderId },
    #[error("order {order_id} holds {reserved} units, cannot commit {requested}")]
    CommitExceedsReservation { order_id: OrderId, requested: u64, reserved: u64 },
}

impl Aggregate for Inventory {
    const STREAM_PREFIX: &'static str = "inventory-";
    type Id = Sku;
    type State = Inventory;
    type Command = InventoryCommand;
    type Event = InventoryEvent;
    type Error = InventoryError;

    fn decide(state: &Inventory, command: InventoryCommand) -> Result<Vec<InventoryEvent>, InventoryError> {
        decide(state, command)
    }

    fn evolve(state: Inventory, event: &InventoryEvent) -> Inventory {
        evolve(state, event)
    }
}

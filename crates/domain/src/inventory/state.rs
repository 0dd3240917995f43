//! The inventory state of one SKU: stock per location and the active reservations per order.
//!
//! Only `evolve` builds it; everyone else reads it through the accessors. Counts are `u64`, so sums across
//! locations cannot overflow in practice; `decide` still checks every addition.

use super::Allocation;
use crate::values::{LocationId, OrderId, ReturnId, ShipmentId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The state of one `inventory-{sku}` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub(super) locations: BTreeMap<LocationId, LocationStock>,
    pub(super) reservations: BTreeMap<OrderId, Reservation>,
    /// Every shipment committed on this SKU, so a repeated commit is a no-op. Not serialized: bookkeeping, not
    /// stock. It only grows, so it sits behind an `Arc`: cloning the state (as a command handler does before each
    /// decision) shares it, and only a commit copies it.
    #[serde(skip)]
    pub(super) committed_shipments: Arc<BTreeSet<ShipmentId>>,
    /// Every return restocked on this SKU, so a repeated restock is a no-op. Kept like the shipments.
    #[serde(skip)]
    pub(super) restocked_returns: Arc<BTreeSet<ReturnId>>,
}

/// Stock at one location. Serialized as `{"on_hand", "reserved", "available"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationStock {
    pub(super) on_hand: u64,
    pub(super) reserved: u64,
}

/// What one order holds: its allocations to locations, in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    pub(super) allocations: Vec<Allocation>,
    pub(super) expires_at: DateTime<Utc>,
}

impl Inventory {
    /// Stock at `location`, if anything ever happened there.
    pub fn location(&self, location: &LocationId) -> Option<&LocationStock> {
        self.locations.get(location)
    }

    /// Every location that ever had stock, by location id.
    pub fn locations(&self) -> impl Iterator<Item = (&LocationId, &LocationStock)> {
        self.locations.iter()
    }

    /// Units on hand across all locations.
    pub fn on_hand(&self) -> u64 {
        self.locations.values().map(|stock| stock.on_hand).fold(0, u64::saturating_add)
    }

    /// Units reserved across all locations.
    pub fn reserved(&self) -> u64 {
        self.locations.values().map(|stock| stock.reserved).fold(0, u64::saturating_add)
    }

    /// Units available across all locations.
    pub fn available(&self) -> u64 {
        self.locations.values().map(LocationStock::available).fold(0, u64::saturating_add)
    }

    /// The active reservation of `order_id`, if it holds stock.
    pub fn reservation(&self, order_id: &OrderId) -> Option<&Reservation> {
        self.reservations.get(order_id)
    }

    /// Whether shipment `shipment_id` was committed on this SKU.
    pub fn has_committed(&self, shipment_id: &ShipmentId) -> bool {
        self.committed_shipments.contains(shipment_id)
    }

    /// Whether return `return_id` was restocked on this SKU.
    pub fn has_restocked(&self, return_id: &ReturnId) -> bool {
        self.restocked_returns.contains(return_id)
    }

    /// Every active reservation, by order id.
    pub fn reservations(&self) -> impl Iterator<Item = (&OrderId, &Reservation)> {
        self.reservations.iter()
    }
}

impl LocationStock {
    pub fn on_hand(&self) -> u64 {
        self.on_hand
    }

    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    pub fn available(&self) -> u64 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

impl Serialize for LocationStock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut fields = serializer.serialize_struct("LocationStock", 3)?;
        fields.serialize_field("on_hand", &self.on_hand)?;
        fields.serialize_field("reserved", &self.reserved)?;
        fields.serialize_field("available", &self.available())?;
        fields.end()
    }
}

impl Reservation {
    pub fn allocations(&self) -> &[Allocation] {
        &self.allocations
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Units held across all locations.
    pub fn quantity(&self) -> u64 {
        self.allocations.iter().map(|a| u64::from(a.quantity)).fold(0, u64::saturating_add)
    }
}

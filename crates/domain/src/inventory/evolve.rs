//! The inventory's evolve: applies a recorded stock event to the state. Checks nothing, never fails.
//!
//! Counts use saturating arithmetic: `decide` never produces an event that would wrap or go negative, so the
//! saturation only matters for a stream written by something else, which then cannot crash a reader.

use super::{Allocation, Inventory, InventoryEvent, LocationStock, Reservation};
use crate::values::{LocationId, Quantity};
use std::sync::Arc;

/// Applies one recorded fact.
pub fn evolve(mut state: Inventory, event: &InventoryEvent) -> Inventory {
    match event {
        InventoryEvent::StockReceived { location, quantity, .. } => {
            let stock = stock_at(&mut state, location);
            stock.on_hand = stock.on_hand.saturating_add(u64::from(*quantity));
        }
        InventoryEvent::StockRestocked { return_id, location, quantity, .. } => {
            let stock = stock_at(&mut state, location);
            stock.on_hand = stock.on_hand.saturating_add(u64::from(*quantity));
            Arc::make_mut(&mut state.restocked_returns).insert(*return_id);
        }
        InventoryEvent::StockAdjusted { location, delta, .. } => {
            let stock = stock_at(&mut state, location);
            stock.on_hand = stock.on_hand.saturating_add_signed(*delta);
        }
        InventoryEvent::StockReserved { order_id, allocations, expires_at } => {
            for allocation in allocations {
                let stock = stock_at(&mut state, &allocation.location);
                stock.reserved = stock.reserved.saturating_add(u64::from(allocation.quantity));
            }
            let reservation = Reservation { allocations: allocations.clone(), expires_at: *expires_at };
            state.reservations.insert(*order_id, reservation);
        }
        InventoryEvent::ReservationReleased { order_id, allocations, .. } => {
            for allocation in allocations {
                let stock = stock_at(&mut state, &allocation.location);
                stock.reserved = stock.reserved.saturating_sub(u64::from(allocation.quantity));
            }
            state.reservations.remove(order_id);
        }
        InventoryEvent::ReservationCommitted { order_id, shipment_id, allocations } => {
            Arc::make_mut(&mut state.committed_shipments).insert(*shipment_id);
            for allocation in allocations {
                let stock = stock_at(&mut state, &allocation.location);
                stock.on_hand = stock.on_hand.saturating_sub(u64::from(allocation.quantity));
                stock.reserved = stock.reserved.saturating_sub(u64::from(allocation.quantity));
            }
            if let Some(reservation) = state.reservations.get_mut(order_id) {
                reservation.allocations = remaining_after(&reservation.allocations, allocations);
                if reservation.allocations.is_empty() {
                    state.reservations.remove(order_id);
                }
            }
        }
    }
    state
}

/// The stock at `location`, created empty on first use.
fn stock_at<'a>(state: &'a mut Inventory, location: &LocationId) -> &'a mut LocationStock {
    state.locations.entry(location.clone()).or_default()
}

/// `held` minus `committed`, location by location, keeping the order of `held` and dropping emptied allocations.
fn remaining_after(held: &[Allocation], committed: &[Allocation]) -> Vec<Allocation> {
    held.iter()
        .filter_map(|allocation| {
            let taken: u32 = committed
                .iter()
                .filter(|c| c.location == allocation.location)
                .map(|c| c.quantity.get())
                .fold(0, u32::saturating_add);
            let left = Quantity::new(allocation.quantity.get().saturating_sub(taken)).ok()?;
            Some(Allocation { location: allocation.location.clone(), quantity: left })
        })
        .collect()
}

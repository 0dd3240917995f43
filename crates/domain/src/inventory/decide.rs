//! The inventory's decider: every stock rule, and the allocation policy described in the module doc.

use super::{AdjustmentReason, Allocation, Inventory, InventoryCommand, InventoryError, InventoryEvent};
use super::{LocationStock, ReleaseReason};
use crate::values::{storable_text, LocationId, OrderId, Quantity, ShipmentId};
use chrono::{DateTime, Utc};

/// Accepts an inventory command with the events it causes (maybe none), or refuses it with the rule it breaks.
pub fn decide(state: &Inventory, command: InventoryCommand) -> Result<Vec<InventoryEvent>, InventoryError> {
    match command {
        InventoryCommand::ReceiveStock { location, quantity, reference } => {
            if !quantity.is_within_bound() {
                return Err(InventoryError::QuantityTooLarge { max: Quantity::MAX });
            }
            storable_text(&reference).map_err(|_| InventoryError::NulInReference)?;
            add_to_shelf(state, &location, quantity)?;
            Ok(vec![InventoryEvent::StockReceived { location, quantity, reference }])
        }
        InventoryCommand::AdjustStock { location, delta, reason } => adjust(state, location, delta, reason),
        InventoryCommand::ReserveStock { order_id, quantity, expires_at } => {
            reserve(state, order_id, quantity, expires_at)
        }
        InventoryCommand::ReleaseReservation { order_id, reason } => Ok(release(state, order_id, reason)),
        InventoryCommand::CommitReservation { order_id, shipment_id, quantity } => {
            commit(state, order_id, shipment_id, quantity)
        }
        InventoryCommand::RestockReturn { order_id, return_id, location, quantity } => {
            if state.has_restocked(&return_id) {
                return Ok(Vec::new());
            }
            add_to_shelf(state, &location, quantity)?;
            Ok(vec![InventoryEvent::StockRestocked { order_id, return_id, location, quantity }])
        }
    }
}

/// Refuses adding `quantity` units at `location` if `on_hand` would overflow.
fn add_to_shelf(state: &Inventory, location: &LocationId, quantity: Quantity) -> Result<(), InventoryError> {
    let on_hand = state.location(location).map_or(0, LocationStock::on_hand);
    match on_hand.checked_add(u64::from(quantity)) {
        Some(_) => Ok(()),
        None => Err(InventoryError::QuantityOverflow { location: location.clone() }),
    }
}

fn adjust(
    state: &Inventory,
    location: LocationId,
    delta: i64,
    reason: AdjustmentReason,
) -> Result<Vec<InventoryEvent>, InventoryError> {
    if delta == 0 {
        return Err(InventoryError::ZeroAdjustment);
    }
    if delta.unsigned_abs() > u64::from(Quantity::MAX) {
        return Err(InventoryError::QuantityTooLarge { max: Quantity::MAX });
    }
    let sign_fits = match reason {
        AdjustmentReason::CountCorrection => true,
        AdjustmentReason::Damaged | AdjustmentReason::Lost => delta < 0,
        AdjustmentReason::Found => delta > 0,
    };
    if !sign_fits {
        return Err(InventoryError::AdjustmentSignMismatch { reason, delta });
    }
    let (on_hand, reserved) = state.location(&location).map_or((0, 0), |s| (s.on_hand(), s.reserved()));
    // i128 holds every u64 +/- i64 result exactly.
    let after = i128::from(on_hand) + i128::from(delta);
    if after < 0 {
        return Err(InventoryError::AdjustmentBelowZero { location, on_hand, delta });
    }
    if after < i128::from(reserved) {
        return Err(InventoryError::AdjustmentBelowReserved { location, on_hand, reserved, delta });
    }
    if after > i128::from(u64::MAX) {
        return Err(InventoryError::QuantityOverflow { location });
    }
    Ok(vec![InventoryEvent::StockAdjusted { location, delta, reason }])
}

fn reserve(
    state: &Inventory,
    order_id: OrderId,
    quantity: Quantity,
    expires_at: DateTime<Utc>,
) -> Result<Vec<InventoryEvent>, InventoryError> {
    if state.reservation(&order_id).is_some() {
        return Ok(Vec::new());
    }
    let requested = u64::from(quantity);
    let available = state.available();
    if requested > available {
        return Err(InventoryError::InsufficientStock { requested, available });
    }
    let candidates = state.locations().map(|(location, stock)| (location.clone(), stock.available()));
    let allocations = take_largest_first(candidates.collect(), quantity);
    Ok(vec![InventoryEvent::StockReserved { order_id, allocations, expires_at }])
}

fn release(state: &Inventory, order_id: OrderId, reason: ReleaseReason) -> Vec<InventoryEvent> {
    match state.reservation(&order_id) {
        None => Vec::new(),
        Some(reservation) => {
            let allocations = reservation.allocations().to_vec();
            vec![InventoryEvent::ReservationReleased { order_id, reason, allocations }]
        }
    }
}

fn commit(
    state: &Inventory,
    order_id: OrderId,
    shipment_id: ShipmentId,
    quantity: Quantity,
) -> Result<Vec<InventoryEvent>, InventoryError> {
    if state.has_committed(&shipment_id) {
        return Ok(Vec::new());
    }
    let Some(reservation) = state.reservation(&order_id) else {
        return Err(InventoryError::NoActiveReservation { order_id });
    };
    let requested = u64::from(quantity);
    let reserved = reservation.quantity();
    if requested > reserved {
        return Err(InventoryError::CommitExceedsReservation { order_id, requested, reserved });
    }
    let held = reservation.allocations().iter().map(|a| (a.location.clone(), u64::from(a.quantity)));
    let allocations = take_largest_first(held.collect(), quantity);
    Ok(vec![InventoryEvent::ReservationCommitted { order_id, shipment_id, allocations }])
}

/// Takes `quantity` units from `(location, units)` sources: the largest source first, ties by location id
/// ascending, as much of each as needed. The caller has checked that the sources hold enough.
fn take_largest_first(mut sources: Vec<(LocationId, u64)>, quantity: Quantity) -> Vec<Allocation> {
    sources.sort_by(|(a_location, a_units), (b_location, b_units)| {
        b_units.cmp(a_units).then_with(|| a_location.cmp(b_location))
    });
    let mut remaining = quantity.get();
    let mut allocations = Vec::new();
    for (location, units) in sources {
        // A source larger than u32::MAX certainly covers the rest.
        let take = u32::try_from(units).map_or(remaining, |units| units.min(remaining));
        if let Ok(quantity) = Quantity::new(take) {
            allocations.push(Allocation { location, quantity });
            remaining -= take;
        }
        if remaining == 0 {
            break;
        }
    }
    allocations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(list: &[(&str, u64)]) -> Vec<(LocationId, u64)> {
        list.iter().map(|(name, units)| (LocationId::parse(name).unwrap(), *units)).collect()
    }

    fn taken(allocations: &[Allocation]) -> Vec<(&str, u32)> {
        allocations.iter().map(|a| (a.location.as_str(), a.quantity.get())).collect()
    }

    #[test]
    fn the_largest_source_goes_first_and_ties_go_by_location_id() {
        let quantity = Quantity::new(7).unwrap();
        let allocations = take_largest_first(sources(&[("a", 3), ("c", 5), ("b", 5)]), quantity);
        assert_eq!(taken(&allocations), [("b", 5), ("c", 2)]);
    }

    #[test]
    fn empty_sources_are_skipped_and_one_source_is_not_split() {
        let quantity = Quantity::new(2).unwrap();
        let allocations = take_largest_first(sources(&[("a", 0), ("b", 2), ("c", 1)]), quantity);
        assert_eq!(taken(&allocations), [("b", 2)]);
    }

    #[test]
    fn a_source_beyond_u32_covers_any_quantity() {
        let quantity = Quantity::new(u32::MAX).unwrap();
        let allocations = take_largest_first(sources(&[("a", u64::MAX)]), quantity);
        assert_eq!(taken(&allocations), [("a", u32::MAX)]);
    }
}

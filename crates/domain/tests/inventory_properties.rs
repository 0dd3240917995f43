//! Property tests of the inventory decider: random command sequences over three locations and four orders.
//!
//! - Stock never goes below zero: an independent ledger, kept in `i128` from the accepted events alone, never sees
//!   `on_hand` or `reserved` below zero nor `reserved` above `on_hand`, and agrees with the state (so `evolve`'s
//!   saturating arithmetic never had to saturate). Reservations add up to each location's `reserved`.
//! - Refusals are honest: an `InsufficientStock` reports the real availability, and a reservation takes exactly
//!   what it asked for.
//! - Replay reproduces the past: folding `evolve` over the events emitted so far, after a JSON round trip (the
//!   stored form), gives exactly the state `decide` saw at each step.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use std::collections::BTreeMap;
use tally_domain::inventory::{self, AdjustmentReason, ReleaseReason};
use tally_domain::{Aggregate, Inventory, InventoryCommand, InventoryError, InventoryEvent};
use tally_domain::{LocationId, OrderId, Quantity, ReturnId, ShipmentId};
use uuid::Uuid;

fn location() -> impl Strategy<Value = LocationId> {
    prop::sample::select(vec!["a", "b", "c"]).prop_map(|name| LocationId::parse(name).unwrap())
}

fn order() -> impl Strategy<Value = OrderId> {
    (0u128..4).prop_map(|n| OrderId::from_uuid(Uuid::from_u128(n)))
}

fn quantity() -> impl Strategy<Value = Quantity> {
    (1u32..=20).prop_map(|units| Quantity::new(units).unwrap())
}

fn adjustment_reason() -> impl Strategy<Value = AdjustmentReason> {
    prop::sample::select(vec![
        AdjustmentReason::CountCorrection,
        AdjustmentReason::Damaged,
        AdjustmentReason::Lost,
        AdjustmentReason::Found,
    ])
}

/// A shipment or return id from a small set, so repeats happen.
fn cause() -> impl Strategy<Value = u128> {
    1u128..=6
}

fn release_reason() -> impl Strategy<Value = ReleaseReason> {
    prop::sample::select(vec![ReleaseReason::Cancelled, ReleaseReason::Expired, ReleaseReason::Rejected])
}

fn command() -> impl Strategy<Value = InventoryCommand> {
    let expires_at = Utc.with_ymd_and_hms(2026, 11, 21, 12, 30, 0).unwrap();
    prop_oneof![
        (location(), quantity()).prop_map(|(location, quantity)| InventoryCommand::ReceiveStock {
            location,
            quantity,
            reference: "PO-1".to_owned()
        }),
        (location(), -25i64..=25, adjustment_reason())
            .prop_map(|(location, delta, reason)| InventoryCommand::AdjustStock { location, delta, reason }),
        (order(), quantity()).prop_map(move |(order_id, quantity)| InventoryCommand::ReserveStock {
            order_id,
            quantity,
            expires_at
        }),
        (order(), release_reason())
            .prop_map(|(order_id, reason)| InventoryCommand::ReleaseReservation { order_id, reason }),
        (order(), cause(), quantity()).prop_map(|(order_id, cause, quantity)| InventoryCommand::CommitReservation {
            order_id,
            shipment_id: ShipmentId::from_uuid(Uuid::from_u128(cause)),
            quantity
        }),
        (order(), cause(), location(), quantity()).prop_map(|(order_id, cause, location, quantity)| {
            InventoryCommand::RestockReturn {
                order_id,
                return_id: ReturnId::from_uuid(Uuid::from_u128(cause)),
                location,
                quantity,
            }
        }),
    ]
}

/// `(on_hand, reserved)` per location, kept from the events alone with arithmetic that cannot saturate.
#[derive(Default)]
struct Ledger(BTreeMap<LocationId, (i128, i128)>);

impl Ledger {
    fn apply(&mut self, event: &InventoryEvent) {
        let mut change = |location: &LocationId, on_hand: i128, reserved: i128| {
            let entry = self.0.entry(location.clone()).or_default();
            entry.0 += on_hand;
            entry.1 += reserved;
        };
        match event {
            InventoryEvent::StockReceived { location, quantity, .. }
            | InventoryEvent::StockRestocked { location, quantity, .. } => {
                change(location, i128::from(quantity.get()), 0)
            }
            InventoryEvent::StockAdjusted { location, delta, .. } => change(location, i128::from(*delta), 0),
            InventoryEvent::StockReserved { allocations, .. } => {
                allocations.iter().for_each(|a| change(&a.location, 0, i128::from(a.quantity.get())))
            }
            InventoryEvent::ReservationReleased { allocations, .. } => {
                allocations.iter().for_each(|a| change(&a.location, 0, -i128::from(a.quantity.get())))
            }
            InventoryEvent::ReservationCommitted { allocations, .. } => allocations.iter().for_each(|a| {
                let units = i128::from(a.quantity.get());
                change(&a.location, -units, -units)
            }),
        }
    }
}

fn check_invariants(state: &Inventory, ledger: &Ledger) -> Result<(), TestCaseError> {
    for (location, (on_hand, reserved)) in &ledger.0 {
        prop_assert!(*reserved >= 0 && *on_hand >= *reserved, "{location}: on hand {on_hand}, reserved {reserved}");
        let stock = state.location(location).expect("every location in the ledger is in the state");
        prop_assert_eq!(i128::from(stock.on_hand()), *on_hand);
        prop_assert_eq!(i128::from(stock.reserved()), *reserved);
        prop_assert_eq!(stock.available(), stock.on_hand() - stock.reserved());
        let held: u64 = state
            .reservations()
            .flat_map(|(_, reservation)| reservation.allocations())
            .filter(|allocation| &allocation.location == location)
            .map(|allocation| u64::from(allocation.quantity))
            .sum();
        prop_assert_eq!(held, stock.reserved());
    }
    prop_assert_eq!(state.locations().count(), ledger.0.len());
    Ok(())
}

proptest! {
    #[test]
    fn stock_never_goes_below_zero_and_refusals_are_honest(commands in prop::collection::vec(command(), 0..80)) {
        let mut state = Inventory::default();
        let mut ledger = Ledger::default();
        for command in commands {
            let reserve = match &command {
                InventoryCommand::ReserveStock { order_id, quantity, .. } => Some((*order_id, u64::from(*quantity))),
                _ => None,
            };
            match inventory::decide(&state, command) {
                Ok(events) => {
                    if let Some((order_id, requested)) = reserve {
                        if state.reservation(&order_id).is_none() {
                            let after = events.iter().fold(state.clone(), inventory::evolve);
                            prop_assert_eq!(after.available() + requested, state.available());
                            prop_assert_eq!(after.reservation(&order_id).map(|r| r.quantity()), Some(requested));
                        } else {
                            prop_assert!(events.is_empty(), "a repeated reservation holds nothing more");
                        }
                    }
                    events.iter().for_each(|event| ledger.apply(event));
                    state = events.iter().fold(state, inventory::evolve);
                }
                Err(InventoryError::InsufficientStock { requested, available }) => {
                    prop_assert_eq!(available, state.available());
                    prop_assert!(requested > available);
                }
                Err(_) => {}
            }
            check_invariants(&state, &ledger)?;
        }
    }

    #[test]
    fn replaying_the_stored_events_reproduces_every_state_decide_saw(
        commands in prop::collection::vec(command(), 0..60)
    ) {
        let mut state = Inventory::default();
        let mut history: Vec<InventoryEvent> = Vec::new();
        // (state decide saw, how many events existed then)
        let mut seen: Vec<(Inventory, usize)> = Vec::new();
        for command in commands {
            seen.push((state.clone(), history.len()));
            if let Ok(events) = inventory::decide(&state, command) {
                state = events.iter().fold(state, inventory::evolve);
                history.extend(events);
            }
        }
        seen.push((state, history.len()));
        let stored = serde_json::to_string(&history).unwrap();
        let read_back: Vec<InventoryEvent> = serde_json::from_str(&stored).unwrap();
        prop_assert_eq!(&read_back, &history);
        for (state, count) in &seen {
            prop_assert_eq!(&Inventory::replay(&read_back[..*count]), state);
        }
    }
}

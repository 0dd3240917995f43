//! The inventory effects of an order, derived from its history and applied at most once per cause.
//!
//! An order's events say what must happen to stock; this module turns them into inventory commands, per SKU in
//! the order of the history, each carrying its cause so that a repeat is a no-op in the domain:
//!
//! | order event | inventory command, on each line's SKU | repeat-safe because |
//! | --- | --- | --- |
//! | `ShipmentDispatched` | `CommitReservation` of the shipped units | once per shipment id |
//! | `OrderRejected`, `OrderCancelled`, `OrderExpired` | `ReleaseReservation`, that reason | nothing is held after |
//! | `ReturnReceived` with `restock` | `RestockReturn` at the return's location | once per return id (event id) |
//!
//! Applying the whole list again is therefore safe at any time, which is what crash recovery needs: whichever
//! step a crash interrupted, [`Commands::settle_order`] finishes it. Effects on one SKU run in history order (a
//! shipment's commit before a later cancellation's release); different SKUs run concurrently.

use futures::future::try_join_all;
use std::collections::BTreeMap;
use tally_domain::inventory::ReleaseReason;
use tally_domain::{Aggregate, InventoryCommand, Order, OrderEvent, OrderId, ReturnId, Sku};
use tally_store::RecordedEvent;
use tracing::instrument;
use uuid::Uuid;

use crate::context::CommandContext;
use crate::engine::Commands;
use crate::error::CommandError;
use crate::stream::{decode, read_whole};

/// An inventory command an order event implies, with that event's id as its cause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Effect {
    pub(crate) cause: Uuid,
    pub(crate) command: InventoryCommand,
}

impl Commands {
    /// Applies every inventory effect of the order's history that is not applied yet (see the module doc).
    /// Safe to repeat; a recovery worker calls it for orders whose last step may have been interrupted.
    #[instrument(skip_all, fields(order.id = %order_id))]
    pub async fn settle_order(&self, context: &CommandContext, order_id: OrderId) -> Result<(), CommandError> {
        let stream_id = Order::stream_id(&order_id);
        let history = read_whole(self.store.as_ref(), &stream_id).await?;
        if history.is_empty() {
            return Err(CommandError::NotFound { stream_id });
        }
        let plan = effects(&history)?;
        try_join_all(plan.into_iter().map(|(sku, effects)| async move {
            for effect in effects {
                self.on_inventory(&context.caused_by(effect.cause), &sku, effect.command, None).await?;
            }
            Ok::<(), CommandError>(())
        }))
        .await?;
        Ok(())
    }
}

/// The inventory effects of an order's recorded history, per SKU, in history order.
pub(crate) fn effects(history: &[RecordedEvent]) -> Result<BTreeMap<Sku, Vec<Effect>>, CommandError> {
    let mut plan: BTreeMap<Sku, Vec<Effect>> = BTreeMap::new();
    let mut placed: Option<(OrderId, Vec<Sku>)> = None;
    for recorded in history {
        let event: OrderEvent = decode(recorded)?;
        let cause = recorded.event_id;
        let mut push = |sku: &Sku, command: InventoryCommand| {
            plan.entry(sku.clone()).or_default().push(Effect { cause, command });
        };
        let release = match &event {
            OrderEvent::OrderPlaced { order_id, lines, .. } => {
                placed = Some((*order_id, lines.iter().map(|line| line.sku.clone()).collect()));
                None
            }
            OrderEvent::OrderRejected { .. } => Some(ReleaseReason::Rejected),
            OrderEvent::OrderCancelled { .. } => Some(ReleaseReason::Cancelled),
            OrderEvent::OrderExpired { .. } => Some(ReleaseReason::Expired),
            _ => None,
        };
        let Some((order_id, skus)) = &placed else { continue };
        let order_id = *order_id;
        if let Some(reason) = release {
            // Every line's SKU: a release of an order that holds nothing there is a no-op.
            for sku in skus {
                push(sku, InventoryCommand::ReleaseReservation { order_id, reason });
            }
            continue;
        }
        match event {
            OrderEvent::ShipmentDispatched { shipment_id, lines, .. } => {
                for line in lines {
                    let command =
                        InventoryCommand::CommitReservation { order_id, shipment_id, quantity: line.quantity };
                    push(&line.sku, command);
                }
            }
            OrderEvent::ReturnReceived { lines, restock: true, location } => {
                let return_id = ReturnId::from_uuid(cause);
                for line in lines {
                    let command = InventoryCommand::RestockReturn {
                        order_id,
                        return_id,
                        location: location.clone(),
                        quantity: line.quantity,
                    };
                    push(&line.sku, command);
                }
            }
            _ => {}
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::to_value;
    use tally_domain::order::{ItemLine, OrderLine};
    use tally_domain::{Currency, CustomerId, Event, LocationId, Money, Quantity, ShipmentId};
    use tally_store::{EventHash, Metadata};

    fn sku(name: &str) -> Sku {
        Sku::parse(name).unwrap()
    }

    fn item(name: &str, units: u32) -> ItemLine {
        ItemLine { sku: sku(name), quantity: Quantity::new(units).unwrap() }
    }

    fn recorded(version: u64, event: OrderEvent) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::from_u128(100 + u128::from(version)),
            stream_id: "order-x".to_owned(),
            stream_version: version,
            position: version + 1,
            event_type: event.event_type().to_owned(),
            schema_version: 1,
            data: to_value(&event).unwrap(),
            metadata: Metadata::default(),
            recorded_at: Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap(),
            hash: EventHash::GENESIS,
        }
    }

    #[test]
    fn shipments_cancellation_and_restocked_returns_become_effects_in_order() {
        let eur = Currency::parse("EUR").unwrap();
        let order_id = OrderId::from_uuid(Uuid::from_u128(7));
        let line = |name: &str, units| OrderLine {
            sku: sku(name),
            quantity: Quantity::new(units).unwrap(),
            unit_price: Money::new(100, eur),
        };
        let shipment_id = ShipmentId::from_uuid(Uuid::from_u128(9));
        let history = [
            recorded(
                0,
                OrderEvent::OrderPlaced {
                    order_id,
                    customer_id: CustomerId::parse("c").unwrap(),
                    lines: vec![line("A", 2), line("B", 1)],
                    currency: eur,
                    total: Money::new(300, eur),
                    placed_at: Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap(),
                },
            ),
            recorded(
                1,
                OrderEvent::ShipmentDispatched {
                    shipment_id,
                    lines: vec![item("A", 1)],
                    carrier: "dhl".into(),
                    tracking_number: "1Z".into(),
                    fully_shipped: false,
                },
            ),
            recorded(
                2,
                OrderEvent::OrderCancelled {
                    reason: "r".into(),
                    unshipped_lines: vec![],
                    refundable: Money::new(0, eur),
                },
            ),
            recorded(
                3,
                OrderEvent::ReturnReceived { lines: vec![item("A", 1)], restock: true, location: LocationId::main() },
            ),
            recorded(
                4,
                OrderEvent::ReturnReceived { lines: vec![item("A", 1)], restock: false, location: LocationId::main() },
            ),
        ];
        let plan = effects(&history).unwrap();
        let a: Vec<&InventoryCommand> = plan[&sku("A")].iter().map(|e| &e.command).collect();
        assert_eq!(a.len(), 3);
        assert!(matches!(a[0], InventoryCommand::CommitReservation { shipment_id: s, .. } if *s == shipment_id));
        assert!(matches!(a[1], InventoryCommand::ReleaseReservation { reason: ReleaseReason::Cancelled, .. }));
        let InventoryCommand::RestockReturn { return_id, .. } = a[2] else { panic!("expected a restock") };
        assert_eq!(return_id.as_uuid(), Uuid::from_u128(103), "the return id is the ReturnReceived event's id");
        let b: Vec<&InventoryCommand> = plan[&sku("B")].iter().map(|e| &e.command).collect();
        assert!(matches!(b[..], [InventoryCommand::ReleaseReservation { .. }]));
        assert_eq!(plan[&sku("A")][0].cause, Uuid::from_u128(101));
    }
}

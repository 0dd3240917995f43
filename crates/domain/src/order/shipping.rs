//! Goods out of and back into an order: shipments and returns. Delivery is a plain status rule in `decide.rs`.

use super::decide::{require, text};
use super::{ItemLine, OrderAction, OrderError, OrderEvent, OrderStatus, PlacedOrder};
use crate::values::{LocationId, ShipmentId};
use std::collections::BTreeSet;

/// A shipment of a fully paid order: per SKU never more than ordered minus shipped. No lines: everything left.
pub(super) fn dispatch(
    order: &PlacedOrder,
    shipment_id: ShipmentId,
    lines: Vec<ItemLine>,
    carrier: String,
    tracking_number: String,
) -> Result<OrderEvent, OrderError> {
    require(order, OrderAction::Ship, &OrderStatus::SHIPPABLE)?;
    text("carrier", &carrier)?;
    text("tracking_number", &tracking_number)?;
    let lines = if lines.is_empty() { order.unshipped_lines() } else { lines };
    check_skus(order, &lines)?;
    for line in &lines {
        let ordered = order.line(&line.sku).map_or(0, |l| l.quantity.get());
        let remaining = ordered.saturating_sub(order.shipped(&line.sku));
        if line.quantity.get() > remaining {
            return Err(OrderError::OverShipment { sku: line.sku.clone(), requested: line.quantity.get(), remaining });
        }
    }
    let fully_shipped = order.unshipped_lines().iter().all(|left| {
        let now = lines.iter().find(|line| line.sku == left.sku).map_or(0, |line| line.quantity.get());
        now == left.quantity.get()
    });
    Ok(OrderEvent::ShipmentDispatched { shipment_id, lines, carrier, tracking_number, fully_shipped })
}

/// A return of shipped goods: per SKU never more than shipped minus returned, with or without restocking.
pub(super) fn receive_return(
    order: &PlacedOrder,
    lines: Vec<ItemLine>,
    restock: bool,
    location: LocationId,
) -> Result<OrderEvent, OrderError> {
    require(order, OrderAction::Return, &OrderStatus::RETURNABLE)?;
    if lines.is_empty() {
        return Err(OrderError::NoLines);
    }
    check_skus(order, &lines)?;
    for line in &lines {
        let returnable = order.returnable(&line.sku);
        if line.quantity.get() > returnable {
            return Err(OrderError::OverReturn { sku: line.sku.clone(), requested: line.quantity.get(), returnable });
        }
    }
    Ok(OrderEvent::ReturnReceived { lines, restock, location })
}

/// Refuses a SKU named twice or not in the order.
fn check_skus(order: &PlacedOrder, lines: &[ItemLine]) -> Result<(), OrderError> {
    let mut seen = BTreeSet::new();
    for line in lines {
        if !seen.insert(&line.sku) {
            return Err(OrderError::DuplicateSku { sku: line.sku.clone() });
        }
        if order.line(&line.sku).is_none() {
            return Err(OrderError::UnknownSku { sku: line.sku.clone() });
        }
    }
    Ok(())
}

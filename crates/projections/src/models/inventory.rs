//! The inventory read model: stock per SKU and location (`inventory_levels`), per SKU (`inventory_totals`), and
//! the stock ledger (`stock_ledger`): every movement with the levels right after it.
//!
//! Reads `inventory-{sku}` streams; the SKU comes from the stream name. The batch loads every location of the
//! SKUs it touches, replays the movements in log order in memory (which gives each ledger row its levels after),
//! then writes levels, totals and ledger rows with one statement each.
//!
//! Arithmetic saturates at `i64::MAX` rather than overflowing (levels are never negative, so `on_hand - reserved`
//! always fits): an event recorded before the input bounds can never stop the projection.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use tally_domain::inventory::Allocation;
use tally_domain::{InventoryEvent, Sku};
use tally_store::RecordedEvent;
use uuid::Uuid;

use super::rows::{inconsistent, load_rows, to_i64, write_rows};
use super::Model;
use crate::error::ProjectionError;

#[derive(Debug, Clone, sqlx::FromRow)]
struct LevelRow {
    sku: String,
    location: String,
    on_hand: i64,
    reserved: i64,
    position: i64,
    updated_at: DateTime<Utc>,
    /// Whether the batch changed it (and writes it back).
    #[sqlx(skip)]
    changed: bool,
}

#[derive(Debug, Clone)]
struct TotalRow {
    sku: String,
    on_hand: i64,
    reserved: i64,
    locations: i32,
    version: i64,
    position: i64,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct LedgerRow {
    position: i64,
    location: String,
    sku: String,
    version: i64,
    kind: &'static str,
    reason: Option<String>,
    order_id: Option<Uuid>,
    shipment_id: Option<Uuid>,
    return_id: Option<Uuid>,
    reference: Option<String>,
    on_hand_delta: i64,
    reserved_delta: i64,
    on_hand_after: i64,
    reserved_after: i64,
    available_after: i64,
    sku_on_hand_after: i64,
    sku_reserved_after: i64,
    sku_available_after: i64,
    recorded_at: DateTime<Utc>,
}

/// One event's effect: what kind of movement, why, and the deltas per location.
struct Movement {
    kind: &'static str,
    reason: Option<String>,
    order_id: Option<Uuid>,
    shipment_id: Option<Uuid>,
    return_id: Option<Uuid>,
    reference: Option<String>,
    /// (location, on_hand delta, reserved delta), one entry per location.
    deltas: BTreeMap<String, (i64, i64)>,
}

const LOAD: &str = "select * from inventory_levels where sku = any($1)";

const LEVELS_ON_CONFLICT: &str = "\
    on conflict (sku, location) do update
       set on_hand = excluded.on_hand, reserved = excluded.reserved, position = excluded.position,
           updated_at = excluded.updated_at";

const TOTALS_ON_CONFLICT: &str = "\
    on conflict (sku) do update
       set on_hand = excluded.on_hand, reserved = excluded.reserved, locations = excluded.locations,
           version = excluded.version, position = excluded.position, updated_at = excluded.updated_at";

/// The inventory model.
pub(super) struct Inventory;

/// A batch's stock: every level of its SKUs, the totals and the ledger rows of its events.
pub(super) struct Stock {
    /// sku -> location -> level.
    levels: BTreeMap<String, BTreeMap<String, LevelRow>>,
    /// Each SKU's totals after the batch's last event of it.
    totals: BTreeMap<String, TotalRow>,
    ledger: Vec<LedgerRow>,
}

impl Model for Inventory {
    type Stream = tally_domain::Inventory;
    type Key = String;
    type Batch = Stock;

    fn key(sku: Sku) -> String {
        sku.to_string()
    }

    async fn load(conn: &mut PgConnection, skus: Vec<String>) -> Result<Stock, ProjectionError> {
        let mut levels: BTreeMap<String, BTreeMap<String, LevelRow>> = BTreeMap::new();
        for row in load_rows::<LevelRow, _>(conn, LOAD, skus).await? {
            levels.entry(row.sku.clone()).or_default().insert(row.location.clone(), row);
        }
        Ok(Stock { levels, totals: BTreeMap::new(), ledger: Vec::new() })
    }

    fn fold(
        stock: &mut Stock,
        event: &RecordedEvent,
        sku: String,
        inventory_event: InventoryEvent,
    ) -> Result<(), ProjectionError> {
        let movement = movement(inventory_event);
        let locations = stock.levels.entry(sku.clone()).or_default();
        for (location, (on_hand_delta, reserved_delta)) in &movement.deltas {
            let level = locations.entry(location.clone()).or_insert_with(|| LevelRow {
                sku: sku.clone(),
                location: location.clone(),
                on_hand: 0,
                reserved: 0,
                position: 0,
                updated_at: event.recorded_at,
                changed: false,
            });
            // Saturating: levels recorded before the input bounds may be huge; never a panic or a wrap.
            level.on_hand = level.on_hand.saturating_add(*on_hand_delta);
            level.reserved = level.reserved.saturating_add(*reserved_delta);
            if level.on_hand < 0 || level.reserved < 0 {
                return Err(inconsistent(event, format!("stock of {sku} at {location} would go negative")));
            }
            level.position = to_i64(event.position);
            level.updated_at = event.recorded_at;
            level.changed = true;
        }
        let total = total_of(&sku, locations, event);
        for (location, (on_hand_delta, reserved_delta)) in &movement.deltas {
            let Some(level) = locations.get(location) else { continue };
            stock.ledger.push(LedgerRow {
                position: to_i64(event.position),
                location: location.clone(),
                sku: sku.clone(),
                version: to_i64(event.stream_version),
                kind: movement.kind,
                reason: movement.reason.clone(),
                order_id: movement.order_id,
                shipment_id: movement.shipment_id,
                return_id: movement.return_id,
                reference: movement.reference.clone(),
                on_hand_delta: *on_hand_delta,
                reserved_delta: *reserved_delta,
                on_hand_after: level.on_hand,
                reserved_after: level.reserved,
                available_after: level.on_hand - level.reserved,
                sku_on_hand_after: total.on_hand,
                sku_reserved_after: total.reserved,
                sku_available_after: total.on_hand - total.reserved,
                recorded_at: event.recorded_at,
            });
        }
        stock.totals.insert(sku, total);
        Ok(())
    }

    async fn write(conn: &mut PgConnection, stock: Stock) -> Result<(), ProjectionError> {
        let levels: Vec<&LevelRow> =
            stock.levels.values().flat_map(BTreeMap::values).filter(|level| level.changed).collect();
        write_rows!(
            conn,
            "inventory_levels",
            levels,
            [sku, location, on_hand, reserved, position, updated_at],
            LEVELS_ON_CONFLICT
        )?;
        let totals: Vec<&TotalRow> = stock.totals.values().collect();
        write_rows!(
            conn,
            "inventory_totals",
            totals,
            [sku, on_hand, reserved, locations, version, position, updated_at],
            TOTALS_ON_CONFLICT
        )?;
        write_rows!(
            conn,
            "stock_ledger",
            stock.ledger,
            [
                position,
                location,
                sku,
                version,
                kind,
                reason,
                order_id,
                shipment_id,
                return_id,
                reference,
                on_hand_delta,
                reserved_delta,
                on_hand_after,
                reserved_after,
                available_after,
                sku_on_hand_after,
                sku_reserved_after,
                sku_available_after,
                recorded_at,
            ],
            ""
        )
    }
}

/// The SKU's totals after `event`, from every location it has.
fn total_of(sku: &str, locations: &BTreeMap<String, LevelRow>, event: &RecordedEvent) -> TotalRow {
    TotalRow {
        sku: sku.to_owned(),
        on_hand: locations.values().fold(0, |sum, l| sum.saturating_add(l.on_hand)),
        reserved: locations.values().fold(0, |sum, l| sum.saturating_add(l.reserved)),
        locations: i32::try_from(locations.len()).unwrap_or(i32::MAX),
        version: to_i64(event.stream_version),
        position: to_i64(event.position),
        updated_at: event.recorded_at,
    }
}

fn movement(event: InventoryEvent) -> Movement {
    let single = |location: String, on_hand: i64| BTreeMap::from([(location, (on_hand, 0))]);
    let base = |kind: &'static str, deltas: BTreeMap<String, (i64, i64)>| Movement {
        kind,
        reason: None,
        order_id: None,
        shipment_id: None,
        return_id: None,
        reference: None,
        deltas,
    };
    match event {
        InventoryEvent::StockReceived { location, quantity, reference } => Movement {
            reference: Some(reference),
            ..base("received", single(location.to_string(), i64::from(quantity.get())))
        },
        InventoryEvent::StockAdjusted { location, delta, reason } => Movement {
            reason: Some(reason.as_str().to_owned()),
            ..base("adjusted", single(location.to_string(), delta))
        },
        InventoryEvent::StockReserved { order_id, allocations, .. } => {
            Movement { order_id: Some(order_id.as_uuid()), ..base("reserved", per_location(&allocations, 0, 1)) }
        }
        InventoryEvent::ReservationReleased { order_id, reason, allocations } => Movement {
            reason: Some(reason.as_str().to_owned()),
            order_id: Some(order_id.as_uuid()),
            ..base("released", per_location(&allocations, 0, -1))
        },
        InventoryEvent::ReservationCommitted { order_id, shipment_id, allocations } => Movement {
            order_id: Some(order_id.as_uuid()),
            shipment_id: Some(shipment_id.as_uuid()),
            ..base("committed", per_location(&allocations, -1, -1))
        },
        InventoryEvent::StockRestocked { order_id, return_id, location, quantity } => Movement {
            order_id: Some(order_id.as_uuid()),
            return_id: Some(return_id.as_uuid()),
            ..base("restocked", single(location.to_string(), i64::from(quantity.get())))
        },
    }
}

/// Allocations summed per location, times the signs for on_hand and reserved.
fn per_location(allocations: &[Allocation], on_hand_sign: i64, reserved_sign: i64) -> BTreeMap<String, (i64, i64)> {
    let mut deltas: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for allocation in allocations {
        let quantity = i64::from(allocation.quantity.get());
        let delta = deltas.entry(allocation.location.to_string()).or_default();
        delta.0 = delta.0.saturating_add(on_hand_sign * quantity);
        delta.1 = delta.1.saturating_add(reserved_sign * quantity);
    }
    deltas
}

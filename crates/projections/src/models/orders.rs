//! The orders read model: each order as it stands (`orders`) with the time of every state change, and its lines
//! with units shipped and returned (`order_lines`).
//!
//! Reads `order-{uuid}` streams. Statuses follow what the events record (`fully_paid`, `fully_shipped`), and
//! money follows their running totals (`paid_total`, `refunded_total`): nothing is recomputed here. The few counts
//! kept here (`units`, `shipped`, `returned`) add with saturating arithmetic, so no recorded event can overflow
//! them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use tally_domain::order::{ItemLine, OrderLine, OrderStatus};
use tally_domain::{Money, Order, OrderEvent, OrderId};
use tally_store::RecordedEvent;
use uuid::Uuid;

use super::rows::{inconsistent, load_rows, to_i64, write_rows};
use super::Model;
use crate::error::ProjectionError;

#[derive(Debug, Clone, sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    customer_id: String,
    status: String,
    currency: String,
    total_amount: i64,
    paid_amount: i64,
    refunded_amount: i64,
    line_count: i32,
    units: i64,
    shortages: Option<serde_json::Value>,
    cancel_reason: Option<String>,
    reserved_until: Option<DateTime<Utc>>,
    placed_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    rejected_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
    partially_shipped_at: Option<DateTime<Utc>>,
    shipped_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    expired_at: Option<DateTime<Utc>>,
    last_returned_at: Option<DateTime<Utc>>,
    last_refunded_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    version: i64,
    position: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct LineRow {
    order_id: Uuid,
    line_no: i32,
    sku: String,
    quantity: i64,
    unit_price_amount: i64,
    currency: String,
    shipped: i64,
    returned: i64,
}

/// An order and its lines, as loaded and changed by a batch.
struct OrderState {
    row: OrderRow,
    lines: Vec<LineRow>,
}

const LOAD_ORDERS: &str = "select * from orders where order_id = any($1)";
const LOAD_LINES: &str = "select * from order_lines where order_id = any($1)";

/// What an upsert changes of an order placed before: everything that can change after `OrderPlaced`.
const ORDERS_ON_CONFLICT: &str = "\
    on conflict (order_id) do update
       set status = excluded.status, paid_amount = excluded.paid_amount,
           refunded_amount = excluded.refunded_amount, shortages = excluded.shortages,
           cancel_reason = excluded.cancel_reason, reserved_until = excluded.reserved_until,
           confirmed_at = excluded.confirmed_at, rejected_at = excluded.rejected_at, paid_at = excluded.paid_at,
           partially_shipped_at = excluded.partially_shipped_at, shipped_at = excluded.shipped_at,
           delivered_at = excluded.delivered_at, cancelled_at = excluded.cancelled_at,
           expired_at = excluded.expired_at, last_returned_at = excluded.last_returned_at,
           last_refunded_at = excluded.last_refunded_at, updated_at = excluded.updated_at,
           version = excluded.version, position = excluded.position";

const LINES_ON_CONFLICT: &str = "\
    on conflict (order_id, line_no) do update set shipped = excluded.shipped, returned = excluded.returned";

/// The orders model.
pub(super) struct Orders;

/// A batch's orders (with their lines), and which of them it changed.
pub(super) struct OrderBook {
    orders: BTreeMap<Uuid, OrderState>,
    touched: BTreeSet<Uuid>,
}

impl Model for Orders {
    type Stream = Order;
    type Key = Uuid;
    type Batch = OrderBook;

    fn key(order_id: OrderId) -> Uuid {
        order_id.as_uuid()
    }

    async fn load(conn: &mut PgConnection, order_ids: Vec<Uuid>) -> Result<OrderBook, ProjectionError> {
        let mut orders: BTreeMap<Uuid, OrderState> = BTreeMap::new();
        for row in load_rows::<OrderRow, _>(conn, LOAD_ORDERS, order_ids.clone()).await? {
            orders.insert(row.order_id, OrderState { row, lines: Vec::new() });
        }
        for line in load_rows::<LineRow, _>(conn, LOAD_LINES, order_ids).await? {
            if let Some(order) = orders.get_mut(&line.order_id) {
                order.lines.push(line);
            }
        }
        Ok(OrderBook { orders, touched: BTreeSet::new() })
    }

    fn fold(
        book: &mut OrderBook,
        event: &RecordedEvent,
        order_id: Uuid,
        order_event: OrderEvent,
    ) -> Result<(), ProjectionError> {
        let orders = &mut book.orders;
        match order_event {
            OrderEvent::OrderPlaced { customer_id, lines, total, placed_at, .. } => {
                if orders.contains_key(&order_id) {
                    return Err(inconsistent(event, format!("order {order_id} placed twice")));
                }
                let mut row = placed_row(order_id, customer_id.to_string(), total, placed_at, event);
                let lines = line_rows(order_id, lines);
                row.line_count = i32::try_from(lines.len()).unwrap_or(i32::MAX);
                row.units = lines.iter().fold(0, |sum, line| sum.saturating_add(line.quantity));
                orders.insert(order_id, OrderState { row, lines });
            }
            other => {
                let order = orders
                    .get_mut(&order_id)
                    .ok_or_else(|| inconsistent(event, format!("order {order_id} was never placed")))?;
                evolve(order, other, event)?;
            }
        }
        if let Some(order) = orders.get_mut(&order_id) {
            order.row.updated_at = event.recorded_at;
            order.row.version = to_i64(event.stream_version);
            order.row.position = to_i64(event.position);
        }
        book.touched.insert(order_id);
        Ok(())
    }

    async fn write(conn: &mut PgConnection, book: OrderBook) -> Result<(), ProjectionError> {
        let changed: Vec<&OrderState> = book.touched.iter().filter_map(|id| book.orders.get(id)).collect();
        let rows: Vec<&OrderRow> = changed.iter().map(|order| &order.row).collect();
        let lines: Vec<&LineRow> = changed.iter().flat_map(|order| &order.lines).collect();
        write_rows!(
            conn,
            "orders",
            rows,
            [
                order_id,
                customer_id,
                status,
                currency,
                total_amount,
                paid_amount,
                refunded_amount,
                line_count,
                units,
                shortages,
                cancel_reason,
                reserved_until,
                placed_at,
                confirmed_at,
                rejected_at,
                paid_at,
                partially_shipped_at,
                shipped_at,
                delivered_at,
                cancelled_at,
                expired_at,
                last_returned_at,
                last_refunded_at,
                updated_at,
                version,
                position,
            ],
            ORDERS_ON_CONFLICT
        )?;
        write_rows!(
            conn,
            "order_lines",
            lines,
            [order_id, line_no, sku, quantity, unit_price_amount, currency, shipped, returned],
            LINES_ON_CONFLICT
        )
    }
}

fn line_rows(order_id: Uuid, lines: Vec<OrderLine>) -> Vec<LineRow> {
    (1..)
        .zip(lines)
        .map(|(line_no, line)| LineRow {
            order_id,
            line_no,
            sku: line.sku.to_string(),
            quantity: i64::from(line.quantity.get()),
            unit_price_amount: line.unit_price.minor(),
            currency: line.unit_price.currency().to_string(),
            shipped: 0,
            returned: 0,
        })
        .collect()
}

fn placed_row(
    order_id: Uuid,
    customer_id: String,
    total: Money,
    placed_at: DateTime<Utc>,
    event: &RecordedEvent,
) -> OrderRow {
    OrderRow {
        order_id,
        customer_id,
        status: OrderStatus::Pending.as_str().to_owned(),
        currency: total.currency().to_string(),
        total_amount: total.minor(),
        paid_amount: 0,
        refunded_amount: 0,
        line_count: 0,
        units: 0,
        shortages: None,
        cancel_reason: None,
        reserved_until: None,
        placed_at,
        confirmed_at: None,
        rejected_at: None,
        paid_at: None,
        partially_shipped_at: None,
        shipped_at: None,
        delivered_at: None,
        cancelled_at: None,
        expired_at: None,
        last_returned_at: None,
        last_refunded_at: None,
        updated_at: event.recorded_at,
        version: 0,
        position: 0,
    }
}

fn evolve(order: &mut OrderState, order_event: OrderEvent, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let at = Some(event.recorded_at);
    let row = &mut order.row;
    match order_event {
        OrderEvent::OrderPlaced { .. } => return Err(inconsistent(event, "order placed twice")),
        OrderEvent::OrderConfirmed { reserved_until } => {
            set_status(row, OrderStatus::Confirmed);
            row.reserved_until = Some(reserved_until);
            row.confirmed_at = at;
        }
        OrderEvent::OrderRejected { shortages } => {
            set_status(row, OrderStatus::Rejected);
            row.shortages = serde_json::to_value(&shortages).ok();
            row.rejected_at = at;
        }
        OrderEvent::PaymentCaptured { paid_total, fully_paid, .. } => {
            row.paid_amount = paid_total.minor();
            if fully_paid {
                set_status(row, OrderStatus::Paid);
                row.paid_at = at;
            }
        }
        OrderEvent::ShipmentDispatched { lines, fully_shipped, .. } => {
            add_units(&mut order.lines, &lines, event, |line| &mut line.shipped)?;
            if fully_shipped {
                set_status(&mut order.row, OrderStatus::Shipped);
                order.row.shipped_at = at;
            } else {
                set_status(&mut order.row, OrderStatus::PartiallyShipped);
                order.row.partially_shipped_at = order.row.partially_shipped_at.or(at);
            }
        }
        OrderEvent::OrderDelivered {} => {
            set_status(row, OrderStatus::Delivered);
            row.delivered_at = at;
        }
        OrderEvent::OrderCancelled { reason, .. } => {
            set_status(row, OrderStatus::Cancelled);
            row.cancel_reason = Some(reason);
            row.cancelled_at = at;
        }
        OrderEvent::OrderExpired { .. } => {
            set_status(row, OrderStatus::Expired);
            row.expired_at = at;
        }
        OrderEvent::ReturnReceived { lines, .. } => {
            add_units(&mut order.lines, &lines, event, |line| &mut line.returned)?;
            order.row.last_returned_at = at;
        }
        OrderEvent::RefundIssued { refunded_total, .. } => {
            row.refunded_amount = refunded_total.minor();
            row.last_refunded_at = at;
        }
    }
    Ok(())
}

fn set_status(row: &mut OrderRow, status: OrderStatus) {
    row.status = status.as_str().to_owned();
}

/// Adds each item line's units to the matching order line's counter (`shipped` or `returned`).
fn add_units(
    lines: &mut [LineRow],
    items: &[ItemLine],
    event: &RecordedEvent,
    counter: impl Fn(&mut LineRow) -> &mut i64,
) -> Result<(), ProjectionError> {
    for item in items {
        let sku = item.sku.as_str();
        let line = lines
            .iter_mut()
            .find(|line| line.sku == sku)
            .ok_or_else(|| inconsistent(event, format!("sku {sku} is not a line of the order")))?;
        let count = counter(line);
        *count = count.saturating_add(i64::from(item.quantity.get()));
    }
    Ok(())
}

//! An order: `POST /v1/orders[/{id}/...]` and `GET /v1/orders[/{id}]`.

use super::{count, micros, LastChange, MoneyView};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::schemas;
use tally_domain::order::{OrderLine, OrderTimeline, PlacedOrder, Shortage};
use tally_projections::read::orders::{OrderLineRow, OrderRow};
use uuid::Uuid;

/// `{order_id, status, customer_id, currency, lines, total, paid, refunded, units, reserved_until, shortages,
/// cancel_reason, placed_at, <status>_at..., updated_at, version, position}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Order)]
pub(crate) struct OrderView {
    pub order_id: Uuid,
    #[schema(value_type = schemas::OrderStatus)]
    pub status: String,
    #[schema(value_type = schemas::CustomerId)]
    pub customer_id: String,
    #[schema(value_type = schemas::Currency)]
    pub currency: String,
    pub lines: Vec<OrderLineView>,
    pub total: MoneyView,
    /// Captured so far.
    pub paid: MoneyView,
    pub refunded: MoneyView,
    /// Units ordered, all lines together.
    pub units: u64,
    /// Until when the stock is held for the order (set once it is confirmed).
    pub reserved_until: Option<DateTime<Utc>>,
    /// What a rejected order could not get.
    pub shortages: Option<Vec<ShortageView>>,
    /// Why a cancelled order was cancelled (empty when no reason was given).
    pub cancel_reason: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub partially_shipped_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
    pub last_returned_at: Option<DateTime<Utc>>,
    pub last_refunded_at: Option<DateTime<Utc>>,
    /// When the event at `version` was recorded.
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    /// The log position of the order's last change.
    pub position: u64,
}

/// One line: what was ordered at which price, and how much of it shipped and came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = OrderLine)]
pub(crate) struct OrderLineView {
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    pub quantity: u64,
    pub unit_price: MoneyView,
    pub shipped: u64,
    pub returned: u64,
}

/// A line stock could not cover: `{sku, requested, available}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Shortage)]
pub(crate) struct ShortageView {
    #[schema(value_type = schemas::Sku)]
    pub sku: String,
    pub requested: u64,
    pub available: u64,
}

impl From<&Shortage> for ShortageView {
    fn from(shortage: &Shortage) -> Self {
        ShortageView {
            sku: shortage.sku.to_string(),
            requested: u64::from(shortage.requested.get()),
            available: shortage.available,
        }
    }
}

impl OrderView {
    /// The order as a command left it, with its timeline folded from the log up to `last.version`.
    pub(crate) fn from_aggregate(order: &PlacedOrder, timeline: &OrderTimeline, last: LastChange) -> Self {
        let line = |line: &OrderLine| OrderLineView {
            sku: line.sku.to_string(),
            quantity: u64::from(line.quantity.get()),
            unit_price: line.unit_price.into(),
            shipped: u64::from(order.shipped(&line.sku)),
            returned: u64::from(order.returned(&line.sku)),
        };
        let lines: Vec<OrderLineView> = order.lines().iter().map(line).collect();
        OrderView {
            order_id: order.order_id().as_uuid(),
            status: order.status().as_str().to_owned(),
            customer_id: order.customer_id().to_string(),
            currency: order.currency().to_string(),
            units: lines.iter().fold(0, |sum, line| sum.saturating_add(line.quantity)),
            lines,
            total: order.total().into(),
            paid: order.paid().into(),
            refunded: order.refunded().into(),
            reserved_until: order.reserved_until().map(micros),
            shortages: timeline.shortages.as_ref().map(|shortages| shortages.iter().map(ShortageView::from).collect()),
            cancel_reason: timeline.cancel_reason.clone(),
            placed_at: micros(order.placed_at()),
            confirmed_at: timeline.confirmed_at,
            rejected_at: timeline.rejected_at,
            paid_at: timeline.paid_at,
            partially_shipped_at: timeline.partially_shipped_at,
            shipped_at: timeline.shipped_at,
            delivered_at: timeline.delivered_at,
            cancelled_at: timeline.cancelled_at,
            expired_at: timeline.expired_at,
            last_returned_at: timeline.last_returned_at,
            last_refunded_at: timeline.last_refunded_at,
            updated_at: last.at,
            version: last.version,
            position: last.position,
        }
    }
}

impl From<OrderLineRow> for OrderLineView {
    fn from(line: OrderLineRow) -> Self {
        OrderLineView {
            unit_price: MoneyView::new(line.unit_price_amount, &line.currency),
            sku: line.sku,
            quantity: count(line.quantity),
            shipped: count(line.shipped),
            returned: count(line.returned),
        }
    }
}

impl From<OrderRow> for OrderView {
    fn from(row: OrderRow) -> Self {
        // The projection stores the rejection's shortages as the event wrote them.
        let shortages = row.shortages.and_then(|json| match serde_json::from_value::<Vec<Shortage>>(json) {
            Ok(shortages) => Some(shortages.iter().map(ShortageView::from).collect()),
            Err(error) => {
                tracing::warn!(order.id = %row.order_id, %error, "an order's shortages do not decode");
                None
            }
        });
        OrderView {
            order_id: row.order_id,
            total: MoneyView::new(row.total_amount, &row.currency),
            paid: MoneyView::new(row.paid_amount, &row.currency),
            refunded: MoneyView::new(row.refunded_amount, &row.currency),
            currency: row.currency,
            status: row.status,
            customer_id: row.customer_id,
            lines: row.lines.into_iter().map(OrderLineView::from).collect(),
            units: count(row.units),
            reserved_until: row.reserved_until,
            shortages,
            cancel_reason: row.cancel_reason,
            placed_at: row.placed_at,
            confirmed_at: row.confirmed_at,
            rejected_at: row.rejected_at,
            paid_at: row.paid_at,
            partially_shipped_at: row.partially_shipped_at,
            shipped_at: row.shipped_at,
            delivered_at: row.delivered_at,
            cancelled_at: row.cancelled_at,
            expired_at: row.expired_at,
            last_returned_at: row.last_returned_at,
            last_refunded_at: row.last_refunded_at,
            updated_at: row.updated_at,
            version: count(row.version),
            position: count(row.position),
        }
    }
}

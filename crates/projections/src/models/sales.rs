//! The sales read model: sales per UTC day and currency (`sales_daily`), per day and SKU (`sales_daily_sku`), and
//! lost demand, the shortages of rejected orders (`lost_demand_daily`).
//!
//! **When is it a sale?** When the order is confirmed (`OrderConfirmed`: every line's stock is reserved), on the
//! day that event was recorded. A rejected order never was a sale (it counts as lost demand instead); a pending
//! order cancelled before confirmation never was one either. Taking back is a negative on its own day, never an
//! edit of the sale's day: a cancellation or expiry of a confirmed order takes out its unshipped units (what was
//! already shipped stays sold until it is returned), a return takes out the returned units. Units are valued at
//! the order's unit prices. Refunds are money, not goods: they are summed per day in `refunded_amount` and do not
//! change revenue.
//!
//! The daily tables are sums, so a batch adds its deltas with `on conflict ... do update set x = x + excluded.x`:
//! one statement per table for the whole batch. The model remembers each order's lines in `sales_orders`.
//!
//! **Sums never fail.** Every sum, in Rust and in SQL, saturates at `rows::SUM_CEILING` (2^62 - 1) instead of
//! overflowing: the log may hold events from before the input bounds (an order of 4,294,967,295 units at 99,999
//! is a valid recorded fact), and a `bigint out of range` would stop the projection for good. A figure at the
//! ceiling reads "at least this much".

use chrono::NaiveDate;
use sqlx::types::Json;
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use tally_domain::order::{ItemLine, OrderLine};
use tally_domain::{Order, OrderEvent, OrderId};
use tally_store::RecordedEvent;
use uuid::Uuid;

use super::rows::{add_capped, capped_sums, inconsistent, load_rows, write_rows};
use super::Model;
use crate::error::ProjectionError;

#[derive(Debug, Clone, sqlx::FromRow)]
struct SalesOrderRow {
    order_id: Uuid,
    currency: String,
    lines: Json<Vec<OrderLine>>,
    confirmed: bool,
    withdrawn: bool,
}

#[derive(Debug, Clone, Default)]
struct DailyRow {
    day: NaiveDate,
    currency: String,
    orders: i64,
    cancelled_orders: i64,
    units_sold: i64,
    units_cancelled: i64,
    units_returned: i64,
    revenue_amount: i64,
    cancelled_amount: i64,
    returned_amount: i64,
    refunded_amount: i64,
}

#[derive(Debug, Clone, Default)]
struct SkuRow {
    day: NaiveDate,
    sku: String,
    currency: String,
    orders: i64,
    units_sold: i64,
    units_cancelled: i64,
    units_returned: i64,
    revenue_amount: i64,
    cancelled_amount: i64,
    returned_amount: i64,
}

#[derive(Debug, Clone, Default)]
struct LostRow {
    day: NaiveDate,
    sku: String,
    currency: String,
    rejected_orders: i64,
    units_requested: i64,
    units_available: i64,
    lost_revenue_amount: i64,
}

/// A batch's deltas, keyed like the tables.
#[derive(Default)]
struct Deltas {
    daily: BTreeMap<(NaiveDate, String), DailyRow>,
    per_sku: BTreeMap<(NaiveDate, String, String), SkuRow>,
    lost: BTreeMap<(NaiveDate, String, String), LostRow>,
}

impl Deltas {
    fn daily(&mut self, day: NaiveDate, currency: &str) -> &mut DailyRow {
        self.daily.entry((day, currency.to_owned())).or_insert_with(|| DailyRow {
            day,
            currency: currency.to_owned(),
            ..DailyRow::default()
        })
    }

    fn sku(&mut self, day: NaiveDate, sku: &str, currency: &str) -> &mut SkuRow {
        self.per_sku.entry((day, sku.to_owned(), currency.to_owned())).or_insert_with(|| SkuRow {
            day,
            sku: sku.to_owned(),
            currency: currency.to_owned(),
            ..SkuRow::default()
        })
    }

    fn lost(&mut self, day: NaiveDate, sku: &str, currency: &str) -> &mut LostRow {
        self.lost.entry((day, sku.to_owned(), currency.to_owned())).or_insert_with(|| LostRow {
            day,
            sku: sku.to_owned(),
            currency: currency.to_owned(),
            ..LostRow::default()
        })
    }
}

const LOAD: &str = "select * from sales_orders where order_id = any($1)";

const ORDERS_ON_CONFLICT: &str =
    "on conflict (order_id) do update set confirmed = excluded.confirmed, withdrawn = excluded.withdrawn";

/// The daily tables' upserts add the batch's deltas to the sums already there (`t` is the table), capped.
static DAILY_ON_CONFLICT: LazyLock<String> = LazyLock::new(|| {
    let sums = capped_sums(&[
        "orders",
        "cancelled_orders",
        "units_sold",
        "units_cancelled",
        "units_returned",
        "revenue_amount",
        "cancelled_amount",
        "returned_amount",
        "refunded_amount",
    ]);
    format!("on conflict (day, currency) do update set {sums}")
});

static SKU_ON_CONFLICT: LazyLock<String> = LazyLock::new(|| {
    let sums = capped_sums(&[
        "orders",
        "units_sold",
        "units_cancelled",
        "units_returned",
        "revenue_amount",
        "cancelled_amount",
        "returned_amount",
    ]);
    format!("on conflict (day, sku, currency) do update set {sums}")
});

static LOST_ON_CONFLICT: LazyLock<String> = LazyLock::new(|| {
    let sums = capped_sums(&["rejected_orders", "units_requested", "units_available", "lost_revenue_amount"]);
    format!("on conflict (day, sku, currency) do update set {sums}")
});

/// The sales model.
pub(super) struct Sales;

/// A batch's orders as the model remembers them (and which of them it changed), and the sums it adds.
pub(super) struct SalesBatch {
    orders: BTreeMap<Uuid, SalesOrderRow>,
    changed: BTreeSet<Uuid>,
    deltas: Deltas,
}

impl Model for Sales {
    type Stream = Order;
    type Key = Uuid;
    type Batch = SalesBatch;

    fn key(order_id: OrderId) -> Uuid {
        order_id.as_uuid()
    }

    async fn load(conn: &mut PgConnection, order_ids: Vec<Uuid>) -> Result<SalesBatch, ProjectionError> {
        let rows = load_rows::<SalesOrderRow, _>(conn, LOAD, order_ids).await?;
        let orders = rows.into_iter().map(|row| (row.order_id, row)).collect();
        Ok(SalesBatch { orders, changed: BTreeSet::new(), deltas: Deltas::default() })
    }

    fn fold(
        batch: &mut SalesBatch,
        event: &RecordedEvent,
        order_id: Uuid,
        order_event: OrderEvent,
    ) -> Result<(), ProjectionError> {
        let day = event.recorded_at.date_naive();
        let (orders, deltas) = (&mut batch.orders, &mut batch.deltas);
        if let OrderEvent::OrderPlaced { lines, currency, .. } = order_event {
            if orders.contains_key(&order_id) {
                return Err(inconsistent(event, format!("order {order_id} placed twice")));
            }
            let row = SalesOrderRow {
                order_id,
                currency: currency.to_string(),
                lines: Json(lines),
                confirmed: false,
                withdrawn: false,
            };
            orders.insert(order_id, row);
            batch.changed.insert(order_id);
            return Ok(());
        }
        let order = orders
            .get_mut(&order_id)
            .ok_or_else(|| inconsistent(event, format!("order {order_id} was never placed")))?;
        let currency = order.currency.clone();
        match order_event {
            OrderEvent::OrderConfirmed { .. } => {
                order.confirmed = true;
                batch.changed.insert(order_id);
                add_capped(&mut deltas.daily(day, &currency).orders, 1);
                for line in order.lines.iter() {
                    let (units, amount) = value(line, line.quantity.get());
                    let daily = deltas.daily(day, &currency);
                    add_capped(&mut daily.units_sold, units);
                    add_capped(&mut daily.revenue_amount, amount);
                    let sku = deltas.sku(day, line.sku.as_str(), &currency);
                    add_capped(&mut sku.orders, 1);
                    add_capped(&mut sku.units_sold, units);
                    add_capped(&mut sku.revenue_amount, amount);
                }
            }
            OrderEvent::OrderRejected { shortages } => {
                for shortage in shortages {
                    let line = line_of(&order.lines, shortage.sku.as_str(), event)?;
                    let (units, amount) = value(line, shortage.requested.get());
                    let lost = deltas.lost(day, shortage.sku.as_str(), &currency);
                    add_capped(&mut lost.rejected_orders, 1);
                    add_capped(&mut lost.units_requested, units);
                    add_capped(&mut lost.units_available, i64::try_from(shortage.available).unwrap_or(i64::MAX));
                    add_capped(&mut lost.lost_revenue_amount, amount);
                }
            }
            OrderEvent::OrderCancelled { unshipped_lines, .. } | OrderEvent::OrderExpired { unshipped_lines, .. } => {
                if order.confirmed && !order.withdrawn {
                    order.withdrawn = true;
                    batch.changed.insert(order_id);
                    add_capped(&mut deltas.daily(day, &currency).cancelled_orders, 1);
                    take_back(deltas, day, &currency, &order.lines, &unshipped_lines, event, Kind::Cancelled)?;
                }
            }
            OrderEvent::ReturnReceived { lines: returned, .. } => {
                take_back(deltas, day, &currency, &order.lines, &returned, event, Kind::Returned)?;
            }
            OrderEvent::RefundIssued { amount, .. } => {
                add_capped(&mut deltas.daily(day, amount.currency().as_str()).refunded_amount, amount.minor());
            }
            OrderEvent::OrderPlaced { .. }
            | OrderEvent::PaymentCaptured { .. }
            | OrderEvent::ShipmentDispatched { .. }
            | OrderEvent::OrderDelivered {} => {}
        }
        Ok(())
    }

    async fn write(conn: &mut PgConnection, batch: SalesBatch) -> Result<(), ProjectionError> {
        let SalesBatch { orders, changed, deltas } = batch;
        let rows: Vec<&SalesOrderRow> = changed.iter().filter_map(|id| orders.get(id)).collect();
        write_rows!(conn, "sales_orders", rows, [order_id, currency, lines, confirmed, withdrawn], ORDERS_ON_CONFLICT)?;
        let daily: Vec<DailyRow> = deltas.daily.into_values().collect();
        write_rows!(
            conn,
            "sales_daily",
            daily,
            [
                day,
                currency,
                orders,
                cancelled_orders,
                units_sold,
                units_cancelled,
                units_returned,
                revenue_amount,
                cancelled_amount,
                returned_amount,
                refunded_amount,
            ],
            &DAILY_ON_CONFLICT
        )?;
        let per_sku: Vec<SkuRow> = deltas.per_sku.into_values().collect();
        write_rows!(
            conn,
            "sales_daily_sku",
            per_sku,
            [
                day,
                sku,
                currency,
                orders,
                units_sold,
                units_cancelled,
                units_returned,
                revenue_amount,
                cancelled_amount,
                returned_amount,
            ],
            &SKU_ON_CONFLICT
        )?;
        let lost: Vec<LostRow> = deltas.lost.into_values().collect();
        write_rows!(
            conn,
            "lost_demand_daily",
            lost,
            [day, sku, currency, rejected_orders, units_requested, units_available, lost_revenue_amount],
            &LOST_ON_CONFLICT
        )
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Cancelled,
    Returned,
}

/// Subtracts `items` (valued at their order line's unit price) as cancelled or returned units on `day`.
fn take_back(
    deltas: &mut Deltas,
    day: NaiveDate,
    currency: &str,
    lines: &[OrderLine],
    items: &[ItemLine],
    event: &RecordedEvent,
    kind: Kind,
) -> Result<(), ProjectionError> {
    for item in items {
        let line = line_of(lines, item.sku.as_str(), event)?;
        let (units, amount) = value(line, item.quantity.get());
        let daily = deltas.daily(day, currency);
        match kind {
            Kind::Cancelled => {
                add_capped(&mut daily.units_cancelled, units);
                add_capped(&mut daily.cancelled_amount, amount);
            }
            Kind::Returned => {
                add_capped(&mut daily.units_returned, units);
                add_capped(&mut daily.returned_amount, amount);
            }
        }
        let sku = deltas.sku(day, item.sku.as_str(), currency);
        match kind {
            Kind::Cancelled => {
                add_capped(&mut sku.units_cancelled, units);
                add_capped(&mut sku.cancelled_amount, amount);
            }
            Kind::Returned => {
                add_capped(&mut sku.units_returned, units);
                add_capped(&mut sku.returned_amount, amount);
            }
        }
    }
    Ok(())
}

fn line_of<'a>(lines: &'a [OrderLine], sku: &str, event: &RecordedEvent) -> Result<&'a OrderLine, ProjectionError> {
    lines
        .iter()
        .find(|line| line.sku.as_str() == sku)
        .ok_or_else(|| inconsistent(event, format!("sku {sku} is not a line of the order")))
}

/// `units` of a line and their value at its unit price (saturating: `add_capped` then caps it).
fn value(line: &OrderLine, units: u32) -> (i64, i64) {
    let units = i64::from(units);
    (units, units.saturating_mul(line.unit_price.minor()))
}

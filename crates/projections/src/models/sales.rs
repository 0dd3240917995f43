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

use chrono::NaiveDate;
use sqlx::types::Json;
use sqlx::PgConnection;
use std::collections::{BTreeMap, BTreeSet};
use tally_domain::order::{ItemLine, OrderLine};
use tally_domain::{Order, OrderEvent, OrderId};
use tally_store::RecordedEvent;
use tracing::instrument;
use uuid::Uuid;

use super::rows::{decode, inconsistent, load, stream_key, write_rows};
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

/// The daily tables' upserts add the batch's deltas to the sums already there (`t` is the table).
const DAILY_ON_CONFLICT: &str = "\
    on conflict (day, currency) do update
       set orders = t.orders + excluded.orders, cancelled_orders = t.cancelled_orders + excluded.cancelled_orders,
           units_sold = t.units_sold + excluded.units_sold,
           units_cancelled = t.units_cancelled + excluded.units_cancelled,
           units_returned = t.units_returned + excluded.units_returned,
           revenue_amount = t.revenue_amount + excluded.revenue_amount,
           cancelled_amount = t.cancelled_amount + excluded.cancelled_amount,
           returned_amount = t.returned_amount + excluded.returned_amount,
           refunded_amount = t.refunded_amount + excluded.refunded_amount";

const SKU_ON_CONFLICT: &str = "\
    on conflict (day, sku, currency) do update
       set orders = t.orders + excluded.orders, units_sold = t.units_sold + excluded.units_sold,
           units_cancelled = t.units_cancelled + excluded.units_cancelled,
           units_returned = t.units_returned + excluded.units_returned,
           revenue_amount = t.revenue_amount + excluded.revenue_amount,
           cancelled_amount = t.cancelled_amount + excluded.cancelled_amount,
           returned_amount = t.returned_amount + excluded.returned_amount";

const LOST_ON_CONFLICT: &str = "\
    on conflict (day, sku, currency) do update
       set rejected_orders = t.rejected_orders + excluded.rejected_orders,
           units_requested = t.units_requested + excluded.units_requested,
           units_available = t.units_available + excluded.units_available,
           lost_revenue_amount = t.lost_revenue_amount + excluded.lost_revenue_amount";

#[instrument(skip_all, fields(events = events.len()))]
pub(super) async fn apply(conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    let mut decoded = Vec::with_capacity(events.len());
    for event in events {
        let order_id: OrderId = stream_key::<Order>(event)?;
        decoded.push((event, order_id.as_uuid(), decode::<OrderEvent>(event)?));
    }
    let keys: Vec<Uuid> = decoded.iter().map(|(_, id, _)| *id).collect();
    let mut orders: BTreeMap<Uuid, SalesOrderRow> =
        load::<SalesOrderRow, _>(conn, LOAD, keys).await?.into_iter().map(|row| (row.order_id, row)).collect();
    let mut changed = BTreeSet::new();
    let mut deltas = Deltas::default();

    for (event, order_id, order_event) in decoded {
        let day = event.recorded_at.date_naive();
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
            changed.insert(order_id);
            continue;
        }
        let order = orders
            .get_mut(&order_id)
            .ok_or_else(|| inconsistent(event, format!("order {order_id} was never placed")))?;
        let currency = order.currency.clone();
        match order_event {
            OrderEvent::OrderConfirmed { .. } => {
                order.confirmed = true;
                changed.insert(order_id);
                deltas.daily(day, &currency).orders += 1;
                for line in order.lines.iter() {
                    let (units, amount) = value(line, line.quantity.get());
                    let daily = deltas.daily(day, &currency);
                    daily.units_sold += units;
                    daily.revenue_amount += amount;
                    let sku = deltas.sku(day, line.sku.as_str(), &currency);
                    sku.orders += 1;
                    sku.units_sold += units;
                    sku.revenue_amount += amount;
                }
            }
            OrderEvent::OrderRejected { shortages } => {
                for shortage in shortages {
                    let line = line_of(&order.lines, shortage.sku.as_str(), event)?;
                    let (units, amount) = value(line, shortage.requested.get());
                    let lost = deltas.lost(day, shortage.sku.as_str(), &currency);
                    lost.rejected_orders += 1;
                    lost.units_requested += units;
                    lost.units_available += i64::try_from(shortage.available).unwrap_or(i64::MAX);
                    lost.lost_revenue_amount += amount;
                }
            }
            OrderEvent::OrderCancelled { unshipped_lines, .. } | OrderEvent::OrderExpired { unshipped_lines, .. } => {
                if order.confirmed && !order.withdrawn {
                    order.withdrawn = true;
                    changed.insert(order_id);
                    deltas.daily(day, &currency).cancelled_orders += 1;
                    take_back(&mut deltas, day, &currency, &order.lines, &unshipped_lines, event, Kind::Cancelled)?;
                }
            }
            OrderEvent::ReturnReceived { lines: returned, .. } => {
                take_back(&mut deltas, day, &currency, &order.lines, &returned, event, Kind::Returned)?;
            }
            OrderEvent::RefundIssued { amount, .. } => {
                deltas.daily(day, amount.currency().as_str()).refunded_amount += amount.minor();
            }
            OrderEvent::OrderPlaced { .. }
            | OrderEvent::PaymentCaptured { .. }
            | OrderEvent::ShipmentDispatched { .. }
            | OrderEvent::OrderDelivered {} => {}
        }
    }

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
        DAILY_ON_CONFLICT
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
        SKU_ON_CONFLICT
    )?;
    let lost: Vec<LostRow> = deltas.lost.into_values().collect();
    write_rows!(
        conn,
        "lost_demand_daily",
        lost,
        [day, sku, currency, rejected_orders, units_requested, units_available, lost_revenue_amount],
        LOST_ON_CONFLICT
    )
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
                daily.units_cancelled += units;
                daily.cancelled_amount += amount;
            }
            Kind::Returned => {
                daily.units_returned += units;
                daily.returned_amount += amount;
            }
        }
        let sku = deltas.sku(day, item.sku.as_str(), currency);
        match kind {
            Kind::Cancelled => {
                sku.units_cancelled += units;
                sku.cancelled_amount += amount;
            }
            Kind::Returned => {
                sku.units_returned += units;
                sku.returned_amount += amount;
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

/// `units` of a line and their value at its unit price.
fn value(line: &OrderLine, units: u32) -> (i64, i64) {
    let units = i64::from(units);
    (units, units.saturating_mul(line.unit_price.minor()))
}

//! Sums that would leave a `bigint` saturate instead of stopping a projection: 25,000 rejected orders at the
//! largest quantity and price the input bounds allow (their lost revenue, 2.5e19 minor units, is more than a
//! `bigint` holds), and orders recorded before the bounds existed (4,294,967,295 units at 99,999, the issue's
//! reproduction), confirmed and cancelled, keep every projection running.

use futures::{stream, StreamExt};
use std::sync::Arc;
use tally_domain::order::{decide, evolve, OrderCommand, OrderLine, Shortage};
use tally_domain::{Aggregate, Currency, CustomerId, Event, Money, Order, OrderEvent, OrderId, Quantity, Sku};
use tally_projections::{ProjectionState, Projector};
use tally_store::{EventStore, ExpectedVersion, NewEvent};
use uuid::Uuid;

use crate::{caught_up, options, setup, Running};

const REJECTED_ORDERS: usize = 25_000;
/// The ceiling the read models' sums saturate at (2^62 - 1, see `models/rows.rs`).
const SUM_CEILING: i64 = (1 << 62) - 1;

fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z").unwrap().to_utc()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

/// An order placed and rejected through the order's decider: the largest line the bounds allow, none in stock.
fn rejected_at_the_bounds(sku: &Sku) -> Vec<OrderEvent> {
    let line = OrderLine {
        sku: sku.clone(),
        quantity: Quantity::bounded(1_000_000).unwrap(),
        unit_price: eur(Money::MAX_PRICE),
    };
    let place = OrderCommand::PlaceOrder {
        order_id: OrderId::from_uuid(Uuid::new_v4()),
        customer_id: CustomerId::parse("cus-big").unwrap(),
        lines: vec![line],
        placed_at: at(),
    };
    let placed = decide(&Order::default(), place).expect("the largest order is accepted");
    let state = placed.iter().fold(Order::default(), evolve);
    let shortages = vec![Shortage { sku: sku.clone(), requested: Quantity::new(Quantity::MAX).unwrap(), available: 0 }];
    let rejected = decide(&state, OrderCommand::RejectOrder { shortages }).expect("a pending order is rejected");
    placed.into_iter().chain(rejected).collect()
}

/// An order as a log may hold it from before the bounds: `units` at `price`, then `then` (confirmed and cancelled,
/// or rejected). Built as the events were recorded, since today's decider refuses to place it.
fn recorded_before_the_bounds(sku: &Sku, units: u32, price: i64, rejected: bool) -> Vec<OrderEvent> {
    let quantity = Quantity::new(units).unwrap();
    let line = OrderLine { sku: sku.clone(), quantity, unit_price: eur(price) };
    let placed = OrderEvent::OrderPlaced {
        order_id: OrderId::from_uuid(Uuid::new_v4()),
        customer_id: CustomerId::parse("cus-old").unwrap(),
        lines: vec![line],
        currency: Currency::parse("EUR").unwrap(),
        total: eur(i64::from(units).saturating_mul(price)),
        placed_at: at(),
    };
    let state = evolve(Order::default(), &placed);
    let outcome = if rejected {
        OrderCommand::RejectOrder { shortages: vec![Shortage { sku: sku.clone(), requested: quantity, available: 0 }] }
    } else {
        OrderCommand::ConfirmOrder { reserved_until: at() }
    };
    let mut events = vec![placed];
    events.extend(decide(&state, outcome).unwrap());
    if !rejected {
        let state = events.iter().fold(Order::default(), evolve);
        events.extend(decide(&state, OrderCommand::CancelOrder { reason: "too big".to_owned() }).unwrap());
    }
    events
}

async fn append_order(store: &Arc<dyn EventStore>, events: Vec<OrderEvent>) -> u64 {
    let OrderEvent::OrderPlaced { order_id, .. } = &events[0] else { panic!("an order starts with OrderPlaced") };
    let stream = Order::stream_id(order_id);
    let new_events =
        events.iter().map(|e| NewEvent::new(e.event_type(), serde_json::to_value(e).unwrap()).with_id(Uuid::new_v4()));
    store.append(&stream, ExpectedVersion::NoStream, new_events.collect()).await.expect("append an order").position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_at_and_beyond_the_bounds_never_stop_a_projection() {
    let (db, store) = setup().await;
    let sku = Sku::parse("BIG").unwrap();
    let mut orders: Vec<Vec<OrderEvent>> = (0..REJECTED_ORDERS).map(|_| rejected_at_the_bounds(&sku)).collect();
    for _ in 0..3 {
        orders.push(recorded_before_the_bounds(&sku, u32::MAX, 99_999, true));
        orders.push(recorded_before_the_bounds(&sku, u32::MAX, i64::MAX, false));
    }
    // Concurrent appends: the store's writer commits them in shared batches.
    let positions: Vec<u64> =
        stream::iter(orders).map(|events| append_order(&store, events)).buffer_unordered(64).collect().await;
    let head = positions.into_iter().max().unwrap();

    let projector = Projector::new(store.clone(), db.pool.clone(), options("bounds", 2_000));
    let running = Running::start(projector.clone());
    caught_up(&projector, head).await;
    for status in projector.status().await.unwrap() {
        assert_eq!(status.state, ProjectionState::Running, "{}: {:?}", status.name, status.failure);
        assert!(status.failure.is_none(), "{}", status.name);
        assert_eq!(status.position, head, "{}", status.name);
    }
    let failures: i64 = sqlx::query_scalar("select count(*) from projections where failed_position is not null")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(failures, 0);

    let (rejected, requested, lost): (i64, i64, i64) = sqlx::query_as(
        "select rejected_orders, units_requested, lost_revenue_amount from lost_demand_daily where sku = 'BIG'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(rejected, REJECTED_ORDERS as i64 + 3);
    assert_eq!(requested, REJECTED_ORDERS as i64 * 1_000_000 + 3 * i64::from(u32::MAX));
    assert_eq!(lost, SUM_CEILING, "lost revenue saturates at the ceiling");
    let (revenue, cancelled, net): (i64, i64, i64) =
        sqlx::query_as("select revenue_amount, cancelled_amount, net_revenue_amount from sales_daily")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((revenue, cancelled, net), (SUM_CEILING, SUM_CEILING, 0));
    let orders: i64 = sqlx::query_scalar("select count(*) from orders").fetch_one(&db.pool).await.unwrap();
    assert_eq!(orders, REJECTED_ORDERS as i64 + 6);
    running.stop().await;
}

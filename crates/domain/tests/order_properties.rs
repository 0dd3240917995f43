//! Property tests of the order decider: a random order, then random commands of every kind.
//!
//! - The money and unit rules hold after every step: `0 <= refunded <= paid <= total`, nothing ships before full
//!   payment, `returned <= shipped <= ordered` per SKU, and the status agrees with those counts.
//! - Replay reproduces the past: folding `evolve` over the events emitted so far, after a JSON round trip (the
//!   stored form), gives exactly the state `decide` saw at each step.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use tally_domain::order::{self, ItemLine, OrderLine, OrderStatus, PlacedOrder, Shortage};
use tally_domain::{Aggregate, Currency, CustomerId, LocationId, Money, Order, OrderCommand, OrderEvent, OrderId};
use tally_domain::{Quantity, ShipmentId, Sku};
use uuid::Uuid;

const SKUS: [&str; 4] = ["A", "B", "C", "D"];

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, hour, minute, 0).unwrap()
}

fn money() -> impl Strategy<Value = Money> {
    let currency = prop::sample::select(vec!["EUR", "EUR", "EUR", "USD"]);
    (-50i64..3000, currency).prop_map(|(minor, code)| Money::new(minor, Currency::parse(code).unwrap()))
}

fn items() -> impl Strategy<Value = Vec<ItemLine>> {
    prop::collection::vec((prop::sample::select(SKUS.to_vec()), 1u32..=3), 0..3).prop_map(|lines| {
        let to_item =
            |(code, units)| ItemLine { sku: Sku::parse(code).unwrap(), quantity: Quantity::new(units).unwrap() };
        lines.into_iter().map(to_item).collect()
    })
}

fn place() -> impl Strategy<Value = OrderCommand> {
    let skus = prop::sample::subsequence(SKUS[..3].to_vec(), 1..=3);
    let details = prop::collection::vec((1u32..=4, 0i64..2000), 3);
    (skus, details).prop_map(|(skus, details)| OrderCommand::PlaceOrder {
        order_id: OrderId::from_uuid(Uuid::from_u128(1)),
        customer_id: CustomerId::parse("cus-42").unwrap(),
        lines: skus
            .into_iter()
            .zip(details)
            .map(|(code, (units, price))| OrderLine {
                sku: Sku::parse(code).unwrap(),
                quantity: Quantity::new(units).unwrap(),
                unit_price: Money::new(price, Currency::parse("EUR").unwrap()),
            })
            .collect(),
        placed_at: at(12, 0),
    })
}

/// A step of a random scenario: a ready command, or one whose amount depends on the order as it stands then.
#[derive(Debug, Clone)]
enum Step {
    Command(OrderCommand),
    /// Capture exactly what is outstanding (random amounts alone rarely complete a payment).
    CaptureOutstanding,
}

impl Step {
    fn command(self, state: &Order) -> OrderCommand {
        match self {
            Step::Command(command) => command,
            Step::CaptureOutstanding => {
                let amount = state.placed().map_or(Money::new(1, Currency::parse("EUR").unwrap()), |o| o.outstanding());
                OrderCommand::CapturePayment { amount, reference: "psp".to_owned() }
            }
        }
    }
}

/// Weighted so that most scenarios get through payment to shipments, returns and refunds.
fn step() -> impl Strategy<Value = Step> {
    let command = prop_oneof![
        1 => place(),
        4 => (12u32..14).prop_map(|hour| OrderCommand::ConfirmOrder { reserved_until: at(hour, 30) }),
        1 => Just(OrderCommand::RejectOrder {
            shortages: vec![Shortage { sku: Sku::parse("A").unwrap(), requested: Quantity::new(1).unwrap(), available: 0 }]
        }),
        3 => money().prop_map(|amount| OrderCommand::CapturePayment { amount, reference: "psp".to_owned() }),
        6 => items().prop_map(|lines| OrderCommand::DispatchShipment {
            shipment_id: ShipmentId::from_uuid(Uuid::from_u128(2)),
            lines,
            carrier: "dhl".to_owned(),
            tracking_number: "1Z".to_owned(),
        }),
        2 => Just(OrderCommand::DeliverOrder),
        1 => Just(OrderCommand::CancelOrder { reason: "changed mind".to_owned() }),
        1 => (11u32..15).prop_map(|hour| OrderCommand::ExpireOrder { now: at(hour, 30) }),
        4 => (items(), any::<bool>())
            .prop_map(|(lines, restock)| OrderCommand::ReceiveReturn { lines, restock, location: LocationId::main() }),
        4 => money().prop_map(|amount| OrderCommand::IssueRefund { amount, reason: "goodwill".to_owned() }),
    ];
    prop_oneof![6 => command.prop_map(Step::Command), 1 => Just(Step::CaptureOutstanding)]
}

fn check_invariants(order: &PlacedOrder) -> Result<(), TestCaseError> {
    let (total, paid, refunded) = (order.total(), order.paid(), order.refunded());
    for amount in [total, paid, refunded] {
        prop_assert_eq!(amount.currency(), order.currency());
    }
    prop_assert!(0 <= refunded.minor() && refunded.minor() <= paid.minor() && paid.minor() <= total.minor());
    let mut any_shipped = false;
    for line in order.lines() {
        let (shipped, returned) = (order.shipped(&line.sku), order.returned(&line.sku));
        prop_assert!(returned <= shipped && shipped <= line.quantity.get(), "{}: {returned} <= {shipped}", line.sku);
        any_shipped |= shipped > 0;
    }
    let all_shipped = order.unshipped_lines().is_empty();
    if any_shipped || order.status() == OrderStatus::Paid {
        prop_assert_eq!(paid, total, "goods leave only once paid in full");
    }
    match order.status() {
        OrderStatus::Confirmed => {
            prop_assert!(order.reserved_until().is_some());
            prop_assert!(paid.minor() < total.minor());
        }
        OrderStatus::PartiallyShipped => prop_assert!(any_shipped && !all_shipped),
        OrderStatus::Shipped | OrderStatus::Delivered => prop_assert!(all_shipped),
        OrderStatus::Pending | OrderStatus::Rejected | OrderStatus::Expired => prop_assert!(!any_shipped),
        OrderStatus::Paid | OrderStatus::Cancelled => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn money_and_units_stay_consistent_and_replay_reproduces_every_state(
        first in place(),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let mut state = Order::default();
        let mut history: Vec<OrderEvent> = Vec::new();
        let mut seen: Vec<(Order, usize)> = Vec::new();
        for step in std::iter::once(Step::Command(first)).chain(steps) {
            seen.push((state.clone(), history.len()));
            let command = step.command(&state);
            if let Ok(events) = order::decide(&state, command) {
                state = events.iter().fold(state, order::evolve);
                history.extend(events);
            }
            if let Some(placed) = state.placed() {
                check_invariants(placed)?;
            }
        }
        seen.push((state, history.len()));
        let stored = serde_json::to_string(&history).unwrap();
        let read_back: Vec<OrderEvent> = serde_json::from_str(&stored).unwrap();
        prop_assert_eq!(&read_back, &history);
        for (state, count) in &seen {
            prop_assert_eq!(&Order::replay(&read_back[..*count]), state);
        }
    }
}

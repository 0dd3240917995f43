//! The resources of the API, one type each: what a command answers and what the GET of the same resource answers
//! are the same struct, so they cannot drift apart (DESIGN.md, "HTTP API": a command answers the GET shape).
//!
//! Each type has two constructors: one from the aggregate as a command left it (with where and when the log
//! recorded that state, [`LastChange`]), one from the read model's row (`From<Row>`). Fields the decider's state does
//! not keep come from the log on the command side (an order's [`OrderTimeline`](tally_domain::order::OrderTimeline),
//! a product's registration time), so both sides fill every field. `crates/api/tests/commands_http/one_shape.rs`
//! checks, per resource, that a command's answer equals the GET that follows it.
//!
//! - `products`: [`ProductView`].
//! - `stock`: [`StockView`] with its `LocationView`s.
//! - `orders`: [`OrderView`] with its `OrderLineView`s and `ShortageView`s.

mod orders;
mod products;
mod stock;

pub(crate) use orders::{OrderView, ShortageView};
pub(crate) use products::ProductView;
pub(crate) use stock::StockView;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::schemas;
use tally_domain::Money;

/// Money: `{"amount": 1999, "currency": "EUR"}`, integer minor units and an ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = Money)]
pub(crate) struct MoneyView {
    /// Minor units (cents for EUR).
    #[schema(example = 1999)]
    pub amount: i64,
    #[schema(value_type = schemas::Currency)]
    pub currency: String,
}

impl MoneyView {
    /// From a read model's columns.
    pub(crate) fn new(amount: i64, currency: &str) -> Self {
        MoneyView { amount, currency: currency.to_owned() }
    }
}

impl From<Money> for MoneyView {
    fn from(money: Money) -> Self {
        MoneyView { amount: money.minor(), currency: money.currency().to_string() }
    }
}

/// Where and when the log recorded the state a command answers with: its stream version, the global position and
/// the time of the event at that version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastChange {
    pub version: u64,
    pub position: u64,
    pub at: DateTime<Utc>,
}

/// A time from the domain's state (the command side's clock, to the nanosecond) as PostgreSQL keeps it, and so
/// as the read model answers it: to the microsecond, truncated (as sqlx writes it).
pub(crate) fn micros(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}

/// A count from a read model's `bigint` column: never negative there (PostgreSQL has no unsigned type).
pub(crate) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

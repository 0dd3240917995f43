//! The order state: status, customer, lines, money captured and refunded, units shipped and returned per SKU.
//!
//! Only `evolve` builds it; everyone else reads it through the accessors.

use super::{ItemLine, OrderLine, OrderStatus};
use crate::values::{Currency, CustomerId, Money, OrderId, Quantity, Sku};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// The state of one `order-{uuid}` stream. Serialized as `null` before placement, else as the placed order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Order {
    #[default]
    NotPlaced,
    Placed(PlacedOrder),
}

/// An order as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlacedOrder {
    pub(super) order_id: OrderId,
    pub(super) customer_id: CustomerId,
    pub(super) status: OrderStatus,
    pub(super) lines: Vec<OrderLine>,
    pub(super) currency: Currency,
    pub(super) total: Money,
    /// Captured so far.
    pub(super) paid: Money,
    pub(super) refunded: Money,
    /// Units shipped per SKU; a SKU with nothing shipped is absent.
    pub(super) shipped: BTreeMap<Sku, u32>,
    /// Units returned per SKU; a SKU with nothing returned is absent.
    pub(super) returned: BTreeMap<Sku, u32>,
    /// Set when the order is confirmed.
    pub(super) reserved_until: Option<DateTime<Utc>>,
    pub(super) placed_at: DateTime<Utc>,
}

impl Order {
    pub fn placed(&self) -> Option<&PlacedOrder> {
        match self {
            Order::NotPlaced => None,
            Order::Placed(order) => Some(order),
        }
    }

    pub fn status(&self) -> Option<OrderStatus> {
        self.placed().map(PlacedOrder::status)
    }
}

impl PlacedOrder {
    pub fn order_id(&self) -> OrderId {
        self.order_id
    }

    pub fn customer_id(&self) -> &CustomerId {
        &self.customer_id
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }

    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn total(&self) -> Money {
        self.total
    }

    /// Captured so far.
    pub fn paid(&self) -> Money {
        self.paid
    }

    pub fn refunded(&self) -> Money {
        self.refunded
    }

    pub fn reserved_until(&self) -> Option<DateTime<Utc>> {
        self.reserved_until
    }

    pub fn placed_at(&self) -> DateTime<Utc> {
        self.placed_at
    }

    /// The order's line for `sku`.
    pub fn line(&self, sku: &Sku) -> Option<&OrderLine> {
        self.lines.iter().find(|line| &line.sku == sku)
    }

    /// Units of `sku` shipped so far.
    pub fn shipped(&self, sku: &Sku) -> u32 {
        self.shipped.get(sku).copied().unwrap_or(0)
    }

    /// Units of `sku` returned so far.
    pub fn returned(&self, sku: &Sku) -> u32 {
        self.returned.get(sku).copied().unwrap_or(0)
    }

    /// Units of `sku` that may still come back: shipped minus returned.
    pub fn returnable(&self, sku: &Sku) -> u32 {
        self.shipped(sku).saturating_sub(self.returned(sku))
    }

    /// Every line's units not shipped yet, in line order, leaving out fully shipped lines.
    pub fn unshipped_lines(&self) -> Vec<ItemLine> {
        self.lines
            .iter()
            .filter_map(|line| {
                let left = line.quantity.get().saturating_sub(self.shipped(&line.sku));
                let quantity = Quantity::new(left).ok()?;
                Some(ItemLine { sku: line.sku.clone(), quantity })
            })
            .collect()
    }

    /// The total minus what was captured.
    pub fn outstanding(&self) -> Money {
        Money::new(self.total.minor().saturating_sub(self.paid.minor()), self.currency)
    }

    /// What was captured minus what was refunded.
    pub fn refundable(&self) -> Money {
        Money::new(self.paid.minor().saturating_sub(self.refunded.minor()), self.currency)
    }
}

//! Tally's pure domain: the aggregates as deciders, their commands and events, and the value types they use.
//!
//! No I/O, no async, no clock, no randomness: time and new ids come in on commands. Each aggregate is a pair of
//! functions, `decide(&State, Command) -> Result<Vec<Event>, Error>` (every business rule) and
//! `evolve(State, &Event) -> State` (applies a recorded fact, never fails), also reachable generically through the
//! [`Aggregate`] trait.
//!
//! # Layout
//!
//! - [`values`]: validated newtypes: `Sku`, `LocationId`, `CustomerId`, `OrderId`, `ShipmentId`, `ReturnId`,
//!   `ApiKeyId`, `WebhookId`, `Quantity`, `Currency`, `Money`, and their `ValueError`.
//! - [`aggregate`]: the `Aggregate` and `Event` traits a generic command handler codes against.
//! - [`catalog`]: the `product-{sku}` aggregate, and `price_lines` to price an order from it.
//! - [`inventory`]: the `inventory-{sku}` aggregate: stock per location, reservations per order.
//! - [`order`]: the `order-{uuid}` aggregate: lifecycle, payments, shipments, returns, refunds.
//! - [`access`]: the `apikey-{uuid}` aggregate: issuing and revoking API keys, and their [`Role`]s.
//! - [`webhook`]: the `webhook-{uuid}` aggregate: subscriptions to the log's events, delivered to a URL.
//! - `names`: `named_enum!`, the one way a unit enum (statuses, reasons, roles) is spelled as text, and
//!   [`UnknownName`] for text that names no variant.
//! - `error`: [`DomainError`], any refusal of the domain, with `From` each aggregate's error and `ValueError`.
//! - `testing` (tests only): the given/when/then helper the unit tests share.
//!
//! Events are the stored contract: `#[serde(tag = "type")]` with the event type as tag, snake_case fields, schema
//! version 1. `crates/domain/tests/golden/events.json` pins their JSON; see `tests/golden.rs` to change it.

pub mod access;
pub mod aggregate;
pub mod catalog;
mod error;
pub mod inventory;
mod names;
pub mod order;
#[cfg(test)]
mod testing;
pub mod values;
pub mod webhook;

pub use access::{AccessError, ApiKey, ApiKeyCommand, ApiKeyEvent, Role};
pub use aggregate::{Aggregate, Event};
pub use catalog::{CatalogError, Product, ProductCommand, ProductEvent};
pub use error::DomainError;
pub use inventory::{Inventory, InventoryCommand, InventoryError, InventoryEvent};
pub use names::UnknownName;
pub use order::{Order, OrderCommand, OrderError, OrderEvent};
pub use values::{
    ApiKeyId, Currency, CustomerId, LocationId, Money, OrderId, Quantity, ReturnId, ShipmentId, Sku, ValueError,
    WebhookId,
};
pub use webhook::{Webhook, WebhookCommand, WebhookDetails, WebhookError, WebhookEvent};

//! Tally's command side: load an aggregate, decide, append at its expected version, retry on conflict; the order
//! reservation process and the inventory effects of orders, safe to repeat after a crash.
//!
//! Everything goes through [`Commands`] (one per process, cheap to clone), built on an `Arc<dyn EventStore>`.
//! Each command names a stream; it is queued to that stream's writer task, which decides the commands waiting for
//! it in one batch against the state it holds in memory, appends the accepted events of the batch as one append
//! with the expected version, and answers each caller with its own [`Outcome`] or [`CommandError`]. A hot SKU
//! thus costs one append per batch instead of a storm of conflicting retries, and a stream's long history is
//! never read again: states are kept (with their version) in a bounded LRU cache, and only the tail after that
//! version is read. Ids and time are made here ([`CommandContext`], [`Clock`]), never in the domain.
//!
//! # Layout
//!
//! - [`context`] - `CommandContext` (correlation, causation, actor, idempotency key, trace id: the events'
//!   metadata) and the `Clock`.
//! - [`config`] - `CommandConfig` (reservation TTL, cache bound, writer idle time, batch size) and `RetryPolicy`.
//! - [`error`] - `CommandError`, keeping the domain's typed refusals, and its `ErrorKind` for the API.
//! - `engine` - `Commands` itself, its reads and the outcome type aliases.
//! - `catalog`, `orders` - the commands of the HTTP API: products and stock (the back office), the order
//!   lifecycle after placement and expiry.
//! - `access` - issuing and revoking API keys.
//! - `placement` - placing an order (price, place, reserve every line, confirm or reject) and resuming a pending
//!   one.
//! - `repeat` - a keyed command run again: its earlier attempt found in the log and answered.
//! - `settle` - the inventory effects of an order's history (commit, release, restock), once per cause.
//! - `writer` - one writer task per active stream, and the snapshot cache it shares.
//! - `batch` - deciding and appending one batch of a writer, with conflict retries; the `Outcome` type.
//! - `stream` - snapshots, catching up a stream's tail, encoding and decoding events.
//! - `cache` - the bounded LRU cache of snapshots.
//!
//! `tests/it` runs every handler and the process against the in-memory store and the key scenarios against
//! PostgreSQL; `benches/orders.rs` compares a hot SKU with orders spread over many SKUs.

mod access;
mod batch;
mod cache;
mod catalog;
pub mod config;
pub mod context;
mod engine;
pub mod error;
mod orders;
mod placement;
mod repeat;
mod settle;
mod stream;
mod webhooks;
mod writer;

pub use batch::{Outcome, Recorded};
#[cfg(feature = "test-hooks")]
pub use config::DecisionGate;
pub use config::{CommandConfig, RetryPolicy};
pub use context::{Clock, CommandContext, IdempotentRun, SystemClock};
pub use engine::{ApiKeyOutcome, Commands, InventoryOutcome, OrderOutcome, ProductOutcome, Stats, WebhookOutcome};
pub use error::{CommandError, ErrorKind};
pub use placement::{PlaceOrder, Placement};
pub use stream::Snapshot;

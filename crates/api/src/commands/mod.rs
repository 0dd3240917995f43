//! The `/v1` command endpoints (POST): products, stock, orders. Each turns a JSON body into a typed command,
//! runs it through `tally_commands::Commands`, and answers with the resource's new state.
//!
//! Every route is wrapped in [`crate::idempotency::idempotent`] (the `Idempotency-Key` contract), and the whole
//! group has a body limit ([`BODY_LIMIT`], 413 beyond it) and echoes `X-Request-Id` ([`headers::request_id`]).
//!
//! - `products`: register, reprice, discontinue.
//! - `inventory`: receipts and adjustments.
//! - `orders`: place, then pay, ship, deliver, cancel, return, refund.
//! - `dto`: request and response bodies, and the field checks.
//! - `headers`: actor, correlation, `If-Match` in; `ETag`, `Tally-Position`, `Location` out.

mod dto;
mod headers;
mod inventory;
mod orders;
mod products;

use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::Router;

/// The largest command body accepted: 64 KiB (an order of a thousand lines fits).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(products::routes())
        .merge(inventory::routes())
        .merge(orders::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(headers::request_id))
}

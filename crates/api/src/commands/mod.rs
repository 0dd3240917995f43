//! The `/v1` command endpoints (POST): products, stock, orders, API keys, webhooks. Each turns a JSON body into a
//! typed command, runs it through `tally_commands::Commands`, and answers with the resource's new state.
//!
//! Every route but `POST /v1/keys` is routed with `ApiRoutes::command`, which adds the `Idempotency-Key` contract
//! ([`crate::idempotency::layer`]), and the whole group has a body limit ([`BODY_LIMIT`], 413 beyond it).
//! `X-Request-Id` is every route's ([`crate::layers`]). Each handler declares its OpenAPI operation
//! (`#[utoipa::path]`), and its request type its schema.
//!
//! - `products`: register, reprice, discontinue.
//! - `inventory`: receipts and adjustments.
//! - `orders`: place, then pay, ship, deliver, cancel, return, refund.
//! - `keys`: issue, list, read and revoke API keys (`admin`).
//! - `webhooks`: subscribe, list, rotate secrets, pause, resume, replay, delete webhooks, and their deliveries
//!   (`admin`).
//! - `answer`: what a command answers: the resource's GET shape (`crate::resources`), with its place in the log.
//! - `dto`: request bodies and the field checks.
//! - `headers`: actor, correlation, `If-Match` in; `ETag`, `Tally-Position`, `Location` out.

mod answer;
mod dto;
mod headers;
mod inventory;
mod keys;
mod orders;
mod products;
mod webhooks;

pub(crate) use headers::check as check_command_headers;

use crate::auth::ApiRoutes;
use axum::extract::DefaultBodyLimit;

/// The largest command body accepted: 64 KiB (an order of a thousand lines fits).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn routes(routes: ApiRoutes) -> ApiRoutes {
    let routes = webhooks::routes(keys::routes(orders::routes(inventory::routes(products::routes(routes)))));
    routes.map_router(|router| router.layer(DefaultBodyLimit::max(BODY_LIMIT)))
}

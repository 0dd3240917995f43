//! End-to-end tests of the command endpoints (`POST /v1/...`): the whole router, driven in-process with
//! `tower::ServiceExt::oneshot`, on a fresh migrated PostgreSQL database per test (`TALLY_TEST_DATABASE_URL`).
//!
//! One test binary, one module per area: `products`, `inventory`, `orders`, `idempotency`, `concurrency`,
//! `one_shape` (a command answers what the GET of its resource answers);
//! `support` builds the app and sends requests.

mod access;
mod bounds;
mod concurrency;
mod idempotency;
mod inventory;
mod one_shape;
mod orders;
mod products;
mod support;

//! The command side's integration tests, in one binary: handlers, the reservation process, the order lifecycle
//! and the repeat-safety of its inventory effects, stream writers under concurrency, against the in-memory store
//! (fast) and, for the key scenarios, PostgreSQL (a fresh database per test on `TALLY_TEST_DATABASE_URL`).

mod common;
mod handlers;
mod lifecycle;
mod placement;
mod postgres;
mod repeats;
mod runners;
mod scenarios;
mod writers;

//! End-to-end tests: the real `tally` binary, a real PostgreSQL, driven from outside as a user would.
//!
//! One test binary with a shared harness (`harness`), one module per feature.

mod browser;
mod console;
mod contract;
mod harness;
mod lost_ack;
mod nats_relay;
mod order_expiry;
mod order_process;
mod orders_crash;
mod outage;
mod private_cluster;
mod projectors;
mod read_your_writes;
mod secrets;
mod tls;
mod two_nodes;
mod webhooks;

//! Tally's audit library: what auditors read and prove, over the event store, shared by the HTTP API's audit
//! endpoints (`tally-api`) and the `tally` CLI (`verify`, `digest`, `export`). No HTTP here.
//!
//! Everything is read from the event store itself (and the recorded digests), never from read models, so it shows
//! what was recorded and can prove that it was not altered.
//!
//! # Layout
//! - [`history`]: an aggregate's history (each event with the state after it) and its state at a point in time
//!   (`as_of` / `at_version`), folded with the domain's own `evolve`.
//! - [`digests`]: recorded digests (the `audit_digests` tables): record, load, list. The digest itself is
//!   `tally_store::digest`'s.
//! - [`export`]: the log, whole or a [`LogRange`](export::LogRange) of it, as JSON lines or CloudEvents, a page at
//!   a time in constant memory.
//! - [`verify`]: a hash-chain verification's report, as JSON.

pub mod digests;
pub mod export;
pub mod history;
pub mod verify;

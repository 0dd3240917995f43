//! Tally's projector runtime (checkpoints, batching, leases, rebuild) and the read models it maintains.
//!
//! Not built yet: this crate is filled in by the projections issue. It holds no code until then.

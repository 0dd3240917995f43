//! Tally's command side: load an aggregate, decide, append with its expected version, retry on conflict; the order
//! reservation process and idempotency keys.
//!
//! Not built yet: this crate is filled in by the command-side issue. It holds no code until then.

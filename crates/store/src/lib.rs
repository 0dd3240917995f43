//! Tally's event store: the [`EventStore`] port and its adapters.
//!
//! Everything that changes state in Tally is an event appended here; the command side appends with optimistic
//! concurrency, projectors follow the global log, auditors read streams and verify the hash chain. Which storage
//! holds the events is chosen at start-up: callers hold an `Arc<dyn EventStore>`.
//!
//! # Layout
//! - [`port`]: the `EventStore` trait (boxed futures, so it works as `dyn`).
//! - [`event`]: the port's types: `NewEvent`, `RecordedEvent`, `Metadata`, `ExpectedVersion`, reads and filters.
//! - [`error`]: `StoreError`, with `WrongExpectedVersion` for optimistic-concurrency conflicts.
//! - [`hash`]: the hash chain's canonical encoding and `EventHash` (docs/hash-chain.md).
//! - [`verify`]: checking stored chains and reporting every broken place (`ChainBreak`).
//! - [`digest`]: a Merkle root over every stream's head as of a position, and checking the store against one.
//! - `append`: validation and the append decision (conflict, idempotent retry, versions, hashes) every adapter
//!   shares.
//! - [`postgres`]: the PostgreSQL adapter (group commit, serialized positions, LISTEN/NOTIFY wake-ups).
//! - [`kurrentdb`]: the KurrentDB / EventStoreDB adapter (`KurrentDbEventStore`, `esdb://` / `kurrentdb://` URLs).
//! - [`memory`]: the in-memory adapter, for fast tests.
//! - [`conformance`]: the test suite every adapter must pass (used by this crate's tests and future adapters').
//! - [`MIGRATOR`]: the database schema of the whole engine (`migrations/` at the workspace root), embedded.

mod append;
pub mod conformance;
pub mod digest;
pub mod error;
pub mod event;
pub mod hash;
pub mod kurrentdb;
pub mod memory;
pub mod port;
pub mod postgres;
pub mod verify;

pub use error::StoreError;
pub use event::{
    AppendResult, Direction, ExpectedVersion, LogFilter, LogSlice, Metadata, NewEvent, ReadStream, RecordedEvent,
};
pub use hash::{canonical_json, recompute_hash, EventHash, HashInput};
pub use memory::MemoryEventStore;
pub use port::{read_to_head, EventStore, FIND_EVENT_WINDOW};
pub use postgres::{PgEventStore, PgStoreOptions};
pub use verify::{no_progress, BreakKind, ChainBreak, Verification, VerifyProgress};

/// Every migration in the workspace's `migrations/` folder: event store, read models, checkpoints, idempotency keys.
/// One migrator for the one database, so `tally migrate` and the tests apply the same schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

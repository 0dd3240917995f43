//! The PostgreSQL adapter: the event log in the `events`, `streams` and `event_log_head` tables of
//! migrations/0001_event_store.sql.
//!
//! Appends go through one writer task per store instance, which commits whatever is waiting as one transaction
//! (group commit); every appending transaction holds the log-head row lock, so positions are contiguous in commit
//! order and readers of the global log never skip an event (design: "Global order on PostgreSQL"). Each batch
//! costs four round trips: begin, lock and look up, write (multi-row inserts), commit. Waiting readers are woken
//! by LISTEN/NOTIFY (sent after commit), with polling as the fallback.
//!
//! # Layout
//! - `writer`: the group-commit writer task.
//! - `read`: stream and global-log reads, row decoding.
//! - `notify`: NOTIFY of committed heads, LISTEN and polling for waiting readers.
//! - `verify`: paging stored chains into the shared verifier.

mod notify;
mod read;
mod verify;
mod writer;

use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::instrument;

use crate::append::PreparedAppend;
use crate::error::StoreError;
use crate::event::{AppendResult, ExpectedVersion, LogFilter, LogSlice, NewEvent, ReadStream, RecordedEvent};
use crate::port::{wait_for_head, EventStore};
use crate::verify::{Verification, VerifyProgress};
use writer::{AppendRequest, HeadAnnouncer, WriterLimits};

/// How the PostgreSQL adapter uses its connections. The defaults suit a service; tests and benchmarks tune them.
#[derive(Debug, Clone)]
pub struct PgStoreOptions {
    /// Pool size (used by [`PgEventStore::connect`]): the writer uses one connection at a time, the notification
    /// listener one, the notifier one now and then, readers the rest.
    pub max_connections: u32,
    /// How long an append or a read waits for a connection (used by [`PgEventStore::connect`]) before it fails
    /// with [`StoreError::Database`] (`PoolTimedOut`). With the database down, sqlx keeps retrying a refused
    /// connection until this deadline, so it is how long every store call takes to fail during an outage: short
    /// enough that a command answers 503 within its 2 s budget (docs/decisions.md, 2026-12-04), far above a
    /// healthy pool's waits.
    pub acquire_timeout: Duration,
    /// `statement_timeout` on the store's connections (set by [`PgEventStore::connect`]).
    pub statement_timeout: Duration,
    /// `idle_in_transaction_session_timeout` on the store's connections (set by [`PgEventStore::connect`]): a
    /// transaction left open cannot hold the log-head lock for longer.
    pub idle_in_transaction_timeout: Duration,
    /// At most this many appends per group-commit transaction.
    pub max_batch_appends: usize,
    /// At most this many bytes of event JSON per group-commit transaction (a larger single append still goes
    /// alone).
    pub max_batch_bytes: usize,
    /// How often waiting readers' view of the log head is refreshed by polling, in case a notification was lost.
    pub poll_interval: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        PgStoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(30),
            idle_in_transaction_timeout: Duration::from_secs(10),
            max_batch_appends: 512,
            max_batch_bytes: 8 * 1024 * 1024,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// The event store on PostgreSQL. Cloning is cheap and shares the pool and the writer.
#[derive(Clone)]
pub struct PgEventStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    appends: mpsc::Sender<AppendRequest>,
    heads: watch::Receiver<u64>,
}

impl std::fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEventStore").field("log_head", &*self.inner.heads.borrow()).finish_non_exhaustive()
    }
}

/// Appends queued for the writer before callers wait for room.
const APPEND_QUEUE: usize = 4096;

/// A pooled connection idle for at least this long is pinged before use (see [`PgEventStore::connect`]).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

impl PgEventStore {
    /// Connects a pool of its own to `url`, with the statement and idle-in-transaction timeouts set (and JIT
    /// compilation off) on every connection, and starts the writer and the notification tasks. The schema must be
    /// migrated already.
    pub async fn connect(url: &str, options: PgStoreOptions) -> Result<Self, StoreError> {
        let connect_options = PgConnectOptions::from_str(url)?.options([
            ("statement_timeout", options.statement_timeout.as_millis().to_string()),
            ("idle_in_transaction_session_timeout", options.idle_in_transaction_timeout.as_millis().to_string()),
            // The store's statements are short index lookups and inserts; JIT compilation only adds latency (it
            // can cost hundreds of milliseconds when a young table's statistics make a plan look expensive).
            ("jit", "off".to_owned()),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // No ping before each use of a busy connection (it would add a round trip to every group commit): the
            // writer closes a connection after any failure instead. A connection that sat idle is pinged, since a
            // database restart may have ended it: a dead one is then replaced instead of failing the next batch.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect_options)
            .await?;
        Self::with_pool(pool, options).await
    }

    /// Uses a pool built elsewhere (tests): its connections keep whatever settings they were given. Starts the
    /// writer and the notification tasks; the schema must be migrated already.
    pub async fn with_pool(pool: PgPool, options: PgStoreOptions) -> Result<Self, StoreError> {
        let log_head = read::log_head(&pool).await?;
        let (heads_sender, heads) = watch::channel(log_head);
        let heads_sender = Arc::new(heads_sender);
        let (committed, committed_heads) = watch::channel(log_head);
        let announcer = HeadAnnouncer { readers: Arc::clone(&heads_sender), notifier: committed };
        let (appends, queue) = mpsc::channel(APPEND_QUEUE);
        let limits = WriterLimits { max_appends: options.max_batch_appends.max(1), max_bytes: options.max_batch_bytes };
        tokio::spawn(writer::run(pool.clone(), queue, announcer, limits));
        tokio::spawn(notify::notify_commits(pool.clone(), committed_heads));
        tokio::spawn(notify::watch_log_head(pool.clone(), heads_sender, options.poll_interval));
        Ok(PgEventStore { inner: Arc::new(Inner { pool, appends, heads }) })
    }

    /// The store's pool (for health checks and tests).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Closes the store's connections and stops its notification listener, before the database goes away (a
    /// process shutting down). Appends and reads after this fail.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    #[instrument(skip_all, fields(stream.id = %stream_id, events = events.len()))]
    async fn submit(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let append = PreparedAppend::new(stream_id, expected, events)?;
        let (reply, outcome) = oneshot::channel();
        self.inner.appends.send(AppendRequest { append, reply }).await.map_err(|_| StoreError::WriterStopped)?;
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }
}

impl EventStore for PgEventStore {
    fn append<'a>(
        &'a self,
        stream_id: &'a str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<AppendResult, StoreError>> {
        Box::pin(self.submit(stream_id, expected, events))
    }

    fn read_stream<'a>(
        &'a self,
        stream_id: &'a str,
        read: ReadStream,
    ) -> BoxFuture<'a, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(read::read_stream(&self.inner.pool, stream_id, read))
    }

    fn read_all<'a>(
        &'a self,
        after: u64,
        limit: usize,
        filter: &'a LogFilter,
    ) -> BoxFuture<'a, Result<LogSlice, StoreError>> {
        Box::pin(read::read_all(&self.inner.pool, after, limit, filter))
    }

    fn find_event<'a>(
        &'a self,
        stream_id: &'a str,
        event_id: uuid::Uuid,
    ) -> BoxFuture<'a, Result<Option<RecordedEvent>, StoreError>> {
        Box::pin(read::find_event(&self.inner.pool, stream_id, event_id))
    }

    fn head_position(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let head = read::log_head(&self.inner.pool).await?;
            Ok(head)
        })
    }

    fn wait_for_position_after(&self, after: u64, timeout: Duration) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Ok(wait_for_head(self.inner.heads.clone(), after, timeout).await) })
    }

    fn verify_stream<'a>(&'a self, stream_id: &'a str) -> BoxFuture<'a, Result<Verification, StoreError>> {
        Box::pin(verify::verify_stream(&self.inner.pool, stream_id))
    }

    fn verify_all<'a>(
        &'a self,
        progress: &'a (dyn Fn(VerifyProgress) + Send + Sync),
    ) -> BoxFuture<'a, Result<Verification, StoreError>> {
        Box::pin(verify::verify_all(&self.inner.pool, progress))
    }
}

/// Converts a stored bigint that must not be negative.
fn stored_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

/// Converts a version or position for a query; values past `i64::MAX` cannot be stored, so they clamp.
fn query_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

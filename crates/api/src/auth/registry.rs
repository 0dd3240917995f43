//! [`KeyRegistry`]: every API key in memory on every node, so authenticating a request costs a hash and a map
//! lookup, never a database round trip.
//!
//! The registry is a cache of the log: it reads the `apikey-` streams from where it last read (their
//! `ApiKeyIssued` and `ApiKeyRevoked` events) and the hashes of newly issued keys from `api_key_secrets`. It is
//! brought up to date
//! - in the background ([`KeyRegistry::follow`]), woken by every append (the store's head notifications), so a
//!   revocation made on any node is refused here within a fraction of a second (the issue asks for 2 s);
//! - on a miss: a well-formed key the registry does not know makes it read the log's tail once more before the
//!   key is refused, so a key issued through another node works here at once. Concurrent misses share one read
//!   (a miss waits for the next read to start after it arrived), so a flood of made-up keys costs one small
//!   query at a time.
//!
//! It is not a [`tally_projections::follower::Follower`]: those run on one node at a time under a lease with a
//! checkpoint in the database, while every node needs all of this, in memory. Keys are few (thousands at most),
//! so holding them all is cheap; the first read scans the log for the `apikey-` streams once per start.
//!
//! It also notes when each key was last used (in memory, per request) and writes that to `api_key_usage` every
//! few seconds ([`KeyRegistry::follow`] does), for `tally keys list`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tally_domain::{Aggregate, ApiKey, ApiKeyEvent, ApiKeyId, Role};
use tally_store::{read_to_head, EventStore, LogFilter, LogSlice, RecordedEvent, StoreError};
use tokio::sync::watch;
use tracing::warn;
use uuid::Uuid;

use super::secret::{self, SecretHash};

/// The longest the background reader waits for news before reading anyway.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The least time between two background reads under a steady stream of appends.
const PACE: Duration = Duration::from_millis(100);
/// How often uses are written to `api_key_usage`.
const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// The authenticated caller of a request (in its extensions once the guard let it through).
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: ApiKeyId,
    pub name: Arc<str>,
    pub role: Role,
}

impl Caller {
    /// The actor recorded on the events this caller causes: the key's stream, `apikey-{uuid}`.
    pub fn actor(&self) -> String {
        ApiKey::stream_id(&self.key_id)
    }
}

/// Why a presented key was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not the shape of a Tally key, or its checksum is wrong.
    Malformed,
    /// Well formed, but no key with this secret was ever issued.
    Unknown,
    Revoked,
    /// The key is not known here and the log could not be read to look for it: the database is unreachable.
    Unavailable,
}

/// An API key as Tally knows it: never its secret, nor the hash that is all Tally keeps of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct KeyRecord {
    /// The key id; its stream is `apikey-{id}`, which is also the `actor` of the events the key causes.
    #[schema(value_type = uuid::Uuid)]
    pub id: ApiKeyId,
    /// What the key is for.
    pub name: String,
    #[schema(value_type = crate::openapi::schemas::Role)]
    pub role: Role,
    /// The secret's last four characters, to tell keys apart.
    #[schema(min_length = 4, max_length = 4)]
    pub hint: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// Who issued it: the `actor` of its issue (`apikey-{uuid}` of an admin key, or `cli`).
    pub created_by: Option<String>,
    /// When it last authenticated a request, to the second (`null`: never). Nodes record uses every few seconds,
    /// so it may lag a little.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked (`null`: it is not).
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked it (`apikey-{uuid}` or `cli`; `null` while it is not revoked).
    pub revoked_by: Option<String>,
}

/// A known key, with its last use (Unix seconds, 0: never) and the last use written to the database.
#[derive(Debug)]
struct Entry {
    record: RwLock<KeyRecord>,
    caller: Caller,
    last_used: AtomicI64,
    flushed: AtomicI64,
}

#[derive(Debug, Default)]
struct Keys {
    /// The log has been read up to here.
    position: u64,
    by_id: BTreeMap<ApiKeyId, Arc<Entry>>,
    by_hash: HashMap<SecretHash, Arc<Entry>>,
}

/// Every API key, on this node (see the module doc). Cheap to clone.
#[derive(Clone)]
pub struct KeyRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    pool: PgPool,
    keys: RwLock<Keys>,
    /// Held while reading the log; the count of reads finished so far.
    reading: tokio::sync::Mutex<()>,
    reads: AtomicU64,
}

impl KeyRegistry {
    /// An empty registry over `store` (the log) and `pool` (`api_key_secrets`); it fills on first use.
    pub fn new(store: Arc<dyn EventStore>, pool: PgPool) -> Self {
        KeyRegistry {
            inner: Arc::new(Inner {
                store,
                pool,
                keys: RwLock::new(Keys::default()),
                reading: tokio::sync::Mutex::new(()),
                reads: AtomicU64::new(0),
            }),
        }
    }

    /// The caller `presented` (a key as sent after `Bearer`) authenticates, or why not.
    pub async fn authenticate(&self, presented: &str) -> Result<Caller, Refusal> {
        let hash = secret::parse(presented).ok_or(Refusal::Malformed)?;
        if let Some(known) = self.lookup(&hash) {
            return known;
        }
        let seen = self.inner.reads.load(Ordering::Acquire);
        self.refresh_after(seen).await.map_err(|_| Refusal::Unavailable)?;
        self.lookup(&hash).unwrap_or(Err(Refusal::Unknown))
    }

    fn lookup(&self, hash: &SecretHash) -> Option<Result<Caller, Refusal>> {
        let keys = self.inner.keys.read().expect("the key registry lock is never poisoned");
        let entry = keys.by_hash.get(hash)?;
        if entry.record.read().expect("never poisoned").revoked_at.is_some() {
            return Some(Err(Refusal::Revoked));
        }
        entry.last_used.store(Utc::now().timestamp(), Ordering::Relaxed);
        Some(Ok(entry.caller.clone()))
    }

    /// Every key, read up to the log's head first (a key just issued or revoked anywhere is listed as it is).
    pub async fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.refresh().await?;
        let keys = self.inner.keys.read().expect("never poisoned");
        Ok(keys.by_id.values().map(|entry| entry.current()).collect())
    }

    /// One key, read up to the log's head first.
    pub async fn get(&self, key_id: ApiKeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.refresh().await?;
        let keys = self.inner.keys.read().expect("never poisoned");
        Ok(keys.by_id.get(&key_id).map(|entry| entry.current()))
    }

    /// Whether any key was ever issued (the demo issues its keys on a first start only).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        self.refresh().await?;
        Ok(self.inner.keys.read().expect("never poisoned").by_id.is_empty())
    }

    /// Reads the log's tail now (unless a read that started after this call finishes first).
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let seen = self.inner.reads.load(Ordering::Acquire);
        self.refresh_after(seen).await
    }

    /// Reads the log's tail, unless a read that started after `seen` reads were done has finished meanwhile.
    async fn refresh_after(&self, seen: u64) -> Result<(), StoreError> {
        let _reading = self.inner.reading.lock().await;
        // A read that began after the caller's miss has finished while it waited: it saw what the caller needs.
        if self.inner.reads.load(Ordering::Acquire) > seen + 1 {
            return Ok(());
        }
        let result = self.read_tail().await;
        self.inner.reads.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// Applies the key events after the registry's position, then the hashes of the keys they issued.
    async fn read_tail(&self) -> Result<(), StoreError> {
        let filter = LogFilter::stream_prefix(ApiKey::STREAM_PREFIX);
        let after = self.inner.keys.read().expect("never poisoned").position;
        let LogSlice { events, last_position: position } = read_to_head(&*self.inner.store, after, &filter).await?;
        let issued: Vec<Uuid> = events
            .iter()
            .filter(|event| event.event_type == "ApiKeyIssued")
            .filter_map(|event| ApiKey::id_from_stream(&event.stream_id))
            .map(|id| id.as_uuid())
            .collect();
        let hashes = self.hashes(&issued).await?;
        let mut keys = self.inner.keys.write().expect("never poisoned");
        for event in &events {
            keys.apply(event, &hashes);
        }
        keys.position = keys.position.max(position);
        Ok(())
    }

    async fn hashes(&self, key_ids: &[Uuid]) -> Result<HashMap<Uuid, SecretHash>, StoreError> {
        if key_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(Uuid, Vec<u8>)> =
            sqlx::query_as("select key_id, secret_sha256 from api_key_secrets where key_id = any($1)")
                .bind(key_ids)
                .fetch_all(&self.inner.pool)
                .await?;
        Ok(rows.into_iter().filter_map(|(id, hash)| Some((id, SecretHash::try_from(hash).ok()?))).collect())
    }

    /// Keeps the registry current until `shutdown`: reads the log's tail whenever it grows (at most every 100 ms,
    /// at least every second) and writes the keys' last uses every 5 s.
    pub async fn follow(self, mut shutdown: watch::Receiver<bool>) {
        let mut last_flush = tokio::time::Instant::now();
        let mut failures = 0u32;
        loop {
            if *shutdown.borrow() {
                let _ = self.flush_usage().await;
                return;
            }
            let position = self.inner.keys.read().expect("never poisoned").position;
            let waited = self.inner.store.wait_for_position_after(position, POLL_INTERVAL);
            tokio::select! {
                _ = waited => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return; // nobody can ask us to stop any more: the server is gone
                    }
                    continue;
                }
            }
            match self.refresh().await {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(30) {
                        warn!(error = %error, failures, "cannot read the API keys from the log; known keys still work");
                    }
                }
            }
            if last_flush.elapsed() >= USAGE_FLUSH_INTERVAL {
                // Ours out, the other nodes' in: a listing on any node shows the last use anywhere.
                if let Err(error) = self.flush_usage().await.and(self.load_usage().await) {
                    warn!(error = %error, "cannot record when API keys were last used");
                }
                last_flush = tokio::time::Instant::now();
            }
            tokio::time::sleep(PACE).await;
        }
    }

    /// Writes the uses noted since the last flush to `api_key_usage`.
    pub async fn flush_usage(&self) -> Result<(), sqlx::Error> {
        let pending: Vec<(Uuid, i64)> = {
            let keys = self.inner.keys.read().expect("never poisoned");
            keys.by_id
                .values()
                .filter_map(|entry| {
                    let used = entry.last_used.load(Ordering::Relaxed);
                    (used > entry.flushed.load(Ordering::Relaxed)).then(|| (entry.caller.key_id.as_uuid(), used))
                })
                .collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<Uuid>, Vec<DateTime<Utc>>) = pending
            .iter()
            .map(|(id, seconds)| (*id, DateTime::from_timestamp(*seconds, 0).unwrap_or_default()))
            .unzip();
        sqlx::query(
            "insert into api_key_usage (key_id, last_used_at) select * from unnest($1::uuid[], $2::timestamptz[]) \
             on conflict (key_id) do update set last_used_at = greatest(api_key_usage.last_used_at, excluded.last_used_at)",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&self.inner.pool)
        .await?;
        let keys = self.inner.keys.read().expect("never poisoned");
        for (id, seconds) in pending {
            if let Some(entry) = keys.by_id.get(&ApiKeyId::from_uuid(id)) {
                entry.flushed.fetch_max(seconds, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Reads the last uses every node recorded into the registry.
    pub async fn load_usage(&self) -> Result<(), sqlx::Error> {
        let rows: Vec<(Uuid, DateTime<Utc>)> =
            sqlx::query_as("select key_id, last_used_at from api_key_usage").fetch_all(&self.inner.pool).await?;
        let keys = self.inner.keys.read().expect("never poisoned");
        for (id, at) in rows {
            if let Some(entry) = keys.by_id.get(&ApiKeyId::from_uuid(id)) {
                entry.last_used.fetch_max(at.timestamp(), Ordering::Relaxed);
                entry.flushed.fetch_max(at.timestamp(), Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

impl Entry {
    /// The record with the last use noted in memory.
    fn current(&self) -> KeyRecord {
        let mut record = self.record.read().expect("never poisoned").clone();
        let used = self.last_used.load(Ordering::Relaxed);
        record.last_used_at = (used > 0).then(|| DateTime::from_timestamp(used, 0)).flatten();
        record
    }
}

impl Keys {
    /// Applies one key event (events that do not decode are skipped: they were not written by Tally).
    fn apply(&mut self, event: &RecordedEvent, hashes: &HashMap<Uuid, SecretHash>) {
        let Some(key_id) = ApiKey::id_from_stream(&event.stream_id) else { return };
        let Ok(decoded) = serde_json::from_value::<ApiKeyEvent>(event.data.clone()) else {
            warn!(position = event.position, "an apikey event does not decode; skipped");
            return;
        };
        let actor = event.metadata.actor.clone();
        match decoded {
            ApiKeyEvent::ApiKeyIssued { name, role, hint, .. } => {
                let record = KeyRecord {
                    id: key_id,
                    name: name.clone(),
                    role,
                    hint,
                    created_at: event.recorded_at,
                    created_by: actor,
                    last_used_at: None,
                    revoked_at: None,
                    revoked_by: None,
                };
                let entry = Arc::new(Entry {
                    record: RwLock::new(record),
                    caller: Caller { key_id, name: name.into(), role },
                    last_used: AtomicI64::new(0),
                    flushed: AtomicI64::new(0),
                });
                if let Some(hash) = hashes.get(&key_id.as_uuid()) {
                    self.by_hash.insert(*hash, Arc::clone(&entry));
                }
                self.by_id.insert(key_id, entry);
            }
            ApiKeyEvent::ApiKeyRevoked {} => {
                if let Some(entry) = self.by_id.get(&key_id) {
                    let mut record = entry.record.write().expect("never poisoned");
                    record.revoked_at = Some(event.recorded_at);
                    record.revoked_by = actor;
                }
            }
        }
    }
}

//! One writer task per active stream: commands for a stream are queued to its writer, which decides them in
//! batches (`batch.rs`) against the state it keeps in memory, so a hot stream (a popular SKU's inventory) is
//! written one batch at a time instead of by many racing handlers that conflict and retry.
//!
//! A writer starts on a stream's first command, keeps the stream's snapshot while it runs (no read before a
//! batch: the append's expected version detects anything written by other processes), and stops after
//! `writer_idle` without commands, leaving its snapshot in the bounded cache. A stopping writer first leaves the
//! registry, then closes its queue and answers whatever was queued before the close; a caller whose command finds
//! the queue closed starts a new writer. Two writers of one stream can overlap for a moment then, which the
//! optimistic check makes safe.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tally_domain::Aggregate;
use tally_store::EventStore;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, instrument};

use crate::batch::{self, Answer, Job};
use crate::cache::StateCache;
use crate::config::CommandConfig;
use crate::context::CommandContext;
use crate::error::CommandError;
use crate::repeat;
use crate::stream::{catch_up, Snapshot};

/// Commands queued per stream before callers wait for room.
const QUEUE: usize = 1024;

/// The writers and the snapshot cache of one aggregate type. Cheap to clone.
pub(crate) struct Writers<A: Aggregate> {
    shared: Arc<Shared<A>>,
}

impl<A: Aggregate> Clone for Writers<A> {
    fn clone(&self) -> Self {
        Writers { shared: Arc::clone(&self.shared) }
    }
}

/// What the writers of one aggregate type share.
pub(crate) struct Shared<A: Aggregate> {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) config: CommandConfig,
    cache: Mutex<StateCache<A::State>>,
    running: Mutex<HashMap<String, Handle<A>>>,
    generations: AtomicU64,
}

/// A running writer: its queue and a number telling it apart from a later writer of the same stream.
struct Handle<A: Aggregate> {
    generation: u64,
    queue: mpsc::Sender<Job<A>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a few map operations that leave the map consistent, so poison is harmless.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<A: Aggregate> Shared<A> {
    /// The stream's snapshot, brought up to date: the cached one (or an empty one) plus the tail read from the store.
    #[instrument(skip_all, fields(stream.id = %stream_id))]
    pub(crate) async fn load(&self, stream_id: &str) -> Result<Snapshot<A::State>, CommandError> {
        let cached = lock(&self.cache).get(stream_id).unwrap_or_else(Snapshot::empty);
        let (snapshot, _) = catch_up::<A>(self.store.as_ref(), stream_id, cached).await?;
        self.remember(stream_id, snapshot.clone());
        Ok(snapshot)
    }

    /// Offers the stream's current state (just read up to its end, or just appended) to the cache.
    pub(crate) fn remember(&self, stream_id: &str, snapshot: Snapshot<A::State>) {
        lock(&self.cache).put_current(stream_id, snapshot);
    }
}

impl<A> Writers<A>
where
    A: Aggregate + 'static,
    A::Command: Clone + Sync,
{
    pub(crate) fn new(store: Arc<dyn EventStore>, config: CommandConfig) -> Self {
        let cache = Mutex::new(StateCache::new(config.cache_capacity));
        let shared =
            Shared { store, config, cache, running: Mutex::new(HashMap::new()), generations: AtomicU64::new(0) };
        Writers { shared: Arc::new(shared) }
    }

    /// Runs `command` on `stream_id` through the stream's writer and waits for its answer. `expected`: the
    /// version the client expects the stream to be at (`If-Match`), if any.
    pub(crate) async fn execute(
        &self,
        stream_id: &str,
        command: A::Command,
        expected: Option<u64>,
        context: &CommandContext,
    ) -> Answer<A> {
        self.submit(stream_id, command, expected, context, None).await
    }

    /// Runs `command` on a stream the caller has just made up a fresh id for (a new order), so it is known to be
    /// empty: a writer started for it begins from the empty state instead of reading the stream first. Should the
    /// stream exist after all, the append's expected version (`NoStream`) catches it and the writer catches up.
    pub(crate) async fn execute_on_new_stream(
        &self,
        stream_id: &str,
        command: A::Command,
        context: &CommandContext,
    ) -> Answer<A> {
        self.submit(stream_id, command, None, context, Some(Snapshot::empty())).await
    }

    async fn submit(
        &self,
        stream_id: &str,
        command: A::Command,
        expected: Option<u64>,
        context: &CommandContext,
        start_from: Option<Snapshot<A::State>>,
    ) -> Answer<A> {
        let (reply, answer) = oneshot::channel();
        let mut job = Job { command, expected, context: context.clone(), reply };
        loop {
            match self.queue_of(stream_id, start_from.clone()).send(job).await {
                Ok(()) => break,
                // That writer stopped between the lookup and the send: the next lookup starts a new one.
                Err(mpsc::error::SendError(returned)) => job = returned,
            }
        }
        let answer =
            answer.await.unwrap_or_else(|_| Err(CommandError::WriterStopped { stream_id: stream_id.to_owned() }));
        if !repeat::needs_lookup::<A>(context, &answer) {
            return answer;
        }
        match repeat::earlier_outcome(&self.shared, stream_id, context).await? {
            Some(earlier) => Ok(earlier),
            // Refused by the store although not found: the attempt's events were not where they should be.
            None if matches!(answer, Err(CommandError::AlreadyRecorded { .. })) => {
                Err(CommandError::Contention { stream_id: stream_id.to_owned(), attempts: 1 })
            }
            None => answer,
        }
    }

    /// The stream's up-to-date snapshot (for reads that decide something: pricing, recovery).
    pub(crate) async fn load(&self, stream_id: &str) -> Result<Snapshot<A::State>, CommandError> {
        self.shared.load(stream_id).await
    }

    /// The stream's snapshot as the cache holds it, without reading the store: only for facts that, once true,
    /// stay true (a product once registered is registered for good).
    pub(crate) fn cached_snapshot(&self, stream_id: &str) -> Option<Snapshot<A::State>> {
        lock(&self.shared.cache).get(stream_id)
    }

    /// The stream's snapshot if the cache knew it to be current within `max_age`, without reading the store.
    pub(crate) fn current_within(&self, stream_id: &str, max_age: Duration) -> Option<Snapshot<A::State>> {
        lock(&self.shared.cache).get_current_within(stream_id, max_age)
    }

    /// How many writer tasks are running now.
    pub(crate) fn running(&self) -> usize {
        lock(&self.shared.running).len()
    }

    /// How many snapshots the cache holds now.
    pub(crate) fn cached(&self) -> usize {
        lock(&self.shared.cache).len()
    }

    /// The queue of the stream's writer, starting one if none runs (from `start_from`, if given, instead of the
    /// cache and the store).
    fn queue_of(&self, stream_id: &str, start_from: Option<Snapshot<A::State>>) -> mpsc::Sender<Job<A>> {
        let mut running = lock(&self.shared.running);
        if let Some(handle) = running.get(stream_id) {
            // A closed queue here means its writer died (a panic): replace it.
            if !handle.queue.is_closed() {
                return handle.queue.clone();
            }
        }
        let (queue, jobs) = mpsc::channel(QUEUE);
        let generation = self.shared.generations.fetch_add(1, Ordering::Relaxed);
        running.insert(stream_id.to_owned(), Handle { generation, queue: queue.clone() });
        tokio::spawn(run(Arc::clone(&self.shared), stream_id.to_owned(), generation, jobs, start_from));
        queue
    }
}

/// A stream's writer task: batches until idle, then leaves the registry and answers what is left. `current`: the
/// snapshot to decide the first batch on (`None`: the cache plus the stream's tail).
async fn run<A>(
    shared: Arc<Shared<A>>,
    stream_id: String,
    generation: u64,
    mut jobs: mpsc::Receiver<Job<A>>,
    mut current: Option<Snapshot<A::State>>,
) where
    A: Aggregate + 'static,
    A::Command: Clone + Sync,
{
    debug!(stream.id = %stream_id, "stream writer started");
    loop {
        let first = match tokio::time::timeout(shared.config.writer_idle, jobs.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) | Err(_) => break,
        };
        let batch = gather(first, &mut jobs, shared.config.max_batch);
        current = batch::run(&shared, &stream_id, current, batch).await;
    }
    {
        let mut running = lock(&shared.running);
        if running.get(&stream_id).is_some_and(|handle| handle.generation == generation) {
            running.remove(&stream_id);
        }
    }
    jobs.close();
    // Commands queued before the close are still answered.
    while let Some(first) = jobs.recv().await {
        let batch = gather(first, &mut jobs, shared.config.max_batch);
        current = batch::run(&shared, &stream_id, current, batch).await;
    }
    // The writer's last state, current when its last batch ran: kept, but not as known current now.
    if let Some(snapshot) = current {
        lock(&shared.cache).put(&stream_id, snapshot);
    }
    debug!(stream.id = %stream_id, "stream writer stopped");
}

/// `first` and whatever else is queued right now, up to `max` jobs.
fn gather<A: Aggregate>(first: Job<A>, jobs: &mut mpsc::Receiver<Job<A>>, max: usize) -> Vec<Job<A>> {
    let mut batch = vec![first];
    while batch.len() < max.max(1) {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

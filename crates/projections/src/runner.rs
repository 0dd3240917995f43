//! The [`Projector`]: what the CLI and the HTTP layer hold. It runs the projections of one process until
//! shutdown, waits for positions (read-your-writes), reports status, retries failed projections and rebuilds.
//!
//! Each projection gets its own worker task, its own connection (the lease) and its own checkpoint, so the
//! projections of one process run concurrently and a slow or failed one holds back no other.

use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tally_store::EventStore;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, instrument};

use crate::checkpoint;
use crate::error::ProjectionError;
use crate::models::ReadModel;
use crate::worker::Worker;

/// How the projector batches, polls and leases. The defaults suit a service; tests shorten the intervals.
#[derive(Debug, Clone)]
pub struct ProjectorOptions {
    /// At most this many events per batch transaction.
    pub batch_size: usize,
    /// How long a caught-up worker waits for a wake-up before it reads the log anyway.
    pub poll_interval: Duration,
    /// The least time between the starts of two reads of the log, unless the previous read filled a whole batch
    /// (catching up). Under a steady stream of appends the worker then applies one batch per `pace` instead of one
    /// per wake-up (each commit of a few events), which costs the read models' lag at most `pace` and saves most
    /// of the per-transaction work. Sparse events are applied at once.
    pub pace: Duration,
    /// How often a runner without the lease tries to take it (and a failed projection is checked for a retry):
    /// the takeover time after a holder dies.
    pub lease_retry: Duration,
    /// How often an idle holder proves it is alive (`heartbeat_at`), which also checks its connection. Keep it
    /// (and `poll_interval`, `lease_retry`) well below the lease connection's 20 s idle timeout, which is what
    /// frees the lease of a frozen holder.
    pub heartbeat_interval: Duration,
    /// This runner's name in the status (`holder`): unique per process.
    pub holder: String,
    /// How long a rebuild's swap waits for queries to release the live tables before it backs off and retries.
    pub swap_lock_timeout: Duration,
}

impl Default for ProjectorOptions {
    fn default() -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        ProjectorOptions {
            batch_size: 500,
            poll_interval: Duration::from_secs(1),
            pace: Duration::from_millis(20),
            lease_retry: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(5),
            holder: format!("pid-{}-{}", std::process::id(), &suffix[..8]),
            swap_lock_timeout: Duration::from_secs(5),
        }
    }
}

/// The projector runtime of one process. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Projector {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    pool: PgPool,
    models: Vec<ReadModel>,
    options: ProjectorOptions,
    applied: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("models", &self.inner.models)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Projector {
    /// Every read model, reading the log from `store` and writing to the read-model database `pool` (migrated).
    pub fn new(store: Arc<dyn EventStore>, pool: PgPool, options: ProjectorOptions) -> Self {
        Self::with_models(store, pool, options, &ReadModel::ALL)
    }

    /// Only `models` (e.g. to scale one projection out to its own process).
    pub fn with_models(
        store: Arc<dyn EventStore>,
        pool: PgPool,
        options: ProjectorOptions,
        models: &[ReadModel],
    ) -> Self {
        let mut models = models.to_vec();
        models.sort();
        models.dedup();
        let applied = Arc::new(watch::Sender::new(0));
        Projector { inner: Arc::new(Inner { store, pool, models, options, applied }) }
    }

    pub fn models(&self) -> &[ReadModel] {
        &self.inner.models
    }

    pub fn options(&self) -> &ProjectorOptions {
        &self.inner.options
    }

    pub(crate) fn store(&self) -> &Arc<dyn EventStore> {
        &self.inner.store
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Runs every projection of this projector until `shutdown` turns true (or its sender is dropped), each in
    /// its own task, competing for the leases with the projectors of other processes. A projection that hits a
    /// poison event stops alone; the others go on; lost connections are retried with backoff. Returns an error only
    /// if the projections' rows cannot be created at start or a worker task panicked.
    #[instrument(skip_all, fields(holder = %self.inner.options.holder))]
    pub async fn run(&self, shutdown: watch::Receiver<bool>) -> Result<(), ProjectionError> {
        checkpoint::ensure_rows(&self.inner.pool, &self.inner.models).await?;
        let connect = (*self.inner.pool.connect_options()).clone();
        let mut tasks = JoinSet::new();
        for &model in &self.inner.models {
            let worker = Worker {
                follower: model,
                store: Arc::clone(&self.inner.store),
                connect: connect.clone(),
                options: self.inner.options.clone(),
                applied: Arc::clone(&self.inner.applied),
            };
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                worker.run(shutdown).await;
                model
            });
        }
        info!(projections = self.inner.models.len(), "projectors started");
        while let Some(ended) = tasks.join_next().await {
            if let Err(join_error) = ended {
                return Err(ProjectionError::TaskFailed {
                    name: "projector".to_owned(),
                    reason: join_error.to_string(),
                });
            }
        }
        info!("projectors stopped");
        Ok(())
    }

    /// Waits until every projection in `models` (all of this projector's when empty) has applied the log up to
    /// `position`, or `timeout` passes. `Ok(true)`: applied; `Ok(false)`: timed out. A projection stopped on a
    /// poison event before `position` is [`ProjectionError::Failed`]: waiting longer would not help.
    ///
    /// Works whichever process runs the projections: it reads the checkpoints (a few milliseconds apart, and
    /// woken at once by this process's own workers).
    #[instrument(skip_all, fields(position, timeout_ms = timeout.as_millis()))]
    pub async fn wait_for_position(
        &self,
        models: &[ReadModel],
        position: u64,
        timeout: Duration,
    ) -> Result<bool, ProjectionError> {
        let models = if models.is_empty() { self.inner.models.as_slice() } else { models };
        let deadline = Instant::now() + timeout;
        let mut applied = self.inner.applied.subscribe();
        let mut pause = Duration::from_millis(2);
        loop {
            let rows = checkpoint::read_rows(&self.inner.pool, models).await?;
            if rows.len() < models.len() {
                // A projection that never ran has no row yet: it has applied nothing.
                if position == 0 {
                    return Ok(true);
                }
            } else {
                for row in &rows {
                    if let Some((failed_at, error)) = row.failure() {
                        if row.position() < position {
                            return Err(ProjectionError::Failed { name: row.name.clone(), position: failed_at, error });
                        }
                    }
                }
                if rows.iter().all(|row| row.position() >= position) {
                    return Ok(true);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let wait = pause.min(deadline - now);
            // Either this process applied something, or the pause passed (another process may have).
            tokio::time::timeout(wait, applied.changed()).await.ok();
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Clears the failure of a projection stopped on a poison event, so it resumes from its checkpoint (after
    /// the code or the data that made the event poison was fixed). A rebuild clears it too.
    #[instrument(skip_all, fields(projection = %model))]
    pub async fn retry(&self, model: ReadModel) -> Result<(), ProjectionError> {
        checkpoint::clear_failure(&self.inner.pool, model).await?;
        info!(projection = %model, "failure cleared; the projection resumes from its checkpoint");
        Ok(())
    }
}

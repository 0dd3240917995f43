//! The supervisor of `tally serve`: one sender ([`WebhookSender`]) per active subscription, started when a
//! subscription is made or resumed, stopped when it is paused or deleted.
//!
//! Every node runs one; the senders' leases make sure only one node delivers each subscription, and another takes
//! over within about a second when that node dies. The supervisor follows the log's `webhook-` streams
//! ([`Subscriptions`]), woken by appends (at most ten reads a second), and cleans up after a deleted subscription
//! once its own sender has stopped (each node does, so the last one to stop leaves nothing behind).

use sqlx::postgres::PgConnectOptions;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tally_domain::WebhookId;
use tally_projections::ProjectorOptions;
use tally_store::EventStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::sender::{follower_name, Senders, WebhookSender};
use crate::storage;

/// The longest the supervisor waits for news before reading the log anyway.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The least time between two reads under a steady stream of appends (the log is read for `webhook-` events only,
/// which are rare: a few reads a second cost nothing, one per commit would).
const PACE: Duration = Duration::from_millis(100);

/// A sender this node runs.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Runs the senders of every active subscription until `shutdown` turns true, then stops them all.
pub async fn supervise(
    senders: Senders,
    store: Arc<dyn EventStore>,
    connect: PgConnectOptions,
    options: ProjectorOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut running: HashMap<WebhookId, Running> = HashMap::new();
    let mut forgotten: HashSet<WebhookId> = HashSet::new();
    let mut failures = 0u32;
    loop {
        match senders.subscriptions.refresh().await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(30) {
                    tracing::warn!(error = %error, failures, "cannot read the webhook subscriptions from the log");
                }
            }
        }
        for subscription in senders.subscriptions.all() {
            let id = subscription.id;
            if subscription.is_active() && !running.contains_key(&id) {
                // The host only: a URL may hold a token of the receiver's.
                let host =
                    url::Url::parse(&subscription.details.url).ok().and_then(|u| u.host_str().map(str::to_owned));
                tracing::info!(webhook = %id, host = host.as_deref().unwrap_or("?"), "starting the webhook's sender");
                let (stop, stopped) = watch::channel(false);
                let sender = WebhookSender::new(id, senders.clone());
                let task = tokio::spawn(tally_projections::follow(
                    sender,
                    Arc::clone(&store),
                    connect.clone(),
                    options.clone(),
                    stopped,
                ));
                running.insert(id, Running { stop, task });
            } else if !subscription.is_active() {
                if let Some(sender) = running.remove(&id) {
                    tracing::info!(webhook = %id, "stopping the webhook's sender");
                    sender.stop.send(true).ok();
                    let pool = senders.pool.clone();
                    let deleted = subscription.details.deleted;
                    tokio::spawn(async move {
                        sender.task.await.ok();
                        if deleted {
                            forget(&pool, id).await;
                        }
                    });
                } else if subscription.details.deleted && forgotten.insert(id) {
                    forget(&senders.pool, id).await;
                }
            }
        }
        let waited = async {
            let _ = store.wait_for_position_after(senders.subscriptions.position(), POLL_INTERVAL).await;
            tokio::time::sleep(PACE).await;
        };
        tokio::select! {
            () = waited => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    for sender in running.values() {
        sender.stop.send(true).ok();
    }
    for (_, sender) in running {
        sender.task.await.ok();
    }
}

/// Removes what a deleted subscription kept beside the log.
async fn forget(pool: &sqlx::PgPool, id: WebhookId) {
    if let Err(error) = storage::forget(pool, id, &follower_name(id)).await {
        tracing::warn!(webhook = %id, error = %error, "could not remove a deleted webhook's state");
    }
}

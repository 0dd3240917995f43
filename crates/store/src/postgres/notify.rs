//! Wake-ups across store instances (and processes): each instance NOTIFYs the log heads its writer commits, and
//! keeps its own view of the log head fresh for waiting readers by LISTENing, plus a poll of the head every
//! `poll_interval`, because a notification is only a hint: one sent while the listener reconnects is lost.
//!
//! The notification is sent after commit, outside the appending transaction: a NOTIFY inside it would add to the
//! time the log-head lock is held, which is the one serial section of every append.

use sqlx::postgres::{PgListener, PgNotification};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{debug, instrument, warn};

use super::read::log_head;
use crate::port::publish_head;

/// The channel the writer notifies with the new log head as payload.
pub(super) const CHANNEL: &str = "tally_events";

/// Sends the log heads this instance commits to every listener, until the writer is gone. Heads committed while a
/// notification is in flight are coalesced into the next one.
pub(super) async fn notify_commits(pool: PgPool, mut committed: watch::Receiver<u64>) {
    while committed.changed().await.is_ok() {
        let head = *committed.borrow_and_update();
        let notified =
            sqlx::query("select pg_notify($1, $2)").bind(CHANNEL).bind(head.to_string()).execute(&pool).await;
        if let Err(error) = notified {
            debug!(error = %error, "cannot notify a new log head; listeners will poll");
        }
    }
}

/// Runs until every receiver of `heads` is gone (the store was dropped) or the store's pool is closed
/// ([`PgEventStore::close`](super::PgEventStore::close)).
pub(super) async fn watch_log_head(pool: PgPool, heads: Arc<watch::Sender<u64>>, poll_interval: Duration) {
    let mut listener: Option<PgListener> = None;
    let mut poll = tokio::time::interval(poll_interval);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if pool.is_closed() {
            return;
        }
        if listener.is_none() {
            listener = listen(&pool).await;
            // Notifications sent before the LISTEN took effect were missed.
            poll_head(&pool, &heads).await;
        }
        tokio::select! {
            () = heads.closed() => return,
            () = pool.close_event() => return,
            _ = poll.tick() => poll_head(&pool, &heads).await,
            received = next_notification(&mut listener) => match received {
                Ok(Some(notification)) => match notification.payload().parse::<u64>() {
                    Ok(position) => publish_head(&heads, position),
                    Err(_) => poll_head(&pool, &heads).await,
                },
                // The connection was lost and has been re-established: whatever was sent meanwhile is lost.
                Ok(None) => poll_head(&pool, &heads).await,
                // Closing the store's pool ends the listener's connection too: that is a stop, not a failure.
                Err(_) if pool.is_closed() => return,
                Err(error) => {
                    warn!(error = %error, "event notification listener failed; polling until it reconnects");
                    listener = None;
                }
            },
        }
    }
}

#[instrument(skip_all)]
async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => {
            warn!(error = %error, "cannot connect the event notification listener");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(error) => {
            warn!(error = %error, "cannot listen for event notifications");
            None
        }
    }
}

/// The next notification; never resolves while there is no listener (the poll tick drives the loop then).
async fn next_notification(listener: &mut Option<PgListener>) -> Result<Option<PgNotification>, sqlx::Error> {
    match listener {
        Some(listener) => listener.try_recv().await,
        None => std::future::pending().await,
    }
}

async fn poll_head(pool: &PgPool, heads: &watch::Sender<u64>) {
    match log_head(pool).await {
        Ok(position) => publish_head(heads, position),
        Err(error) => debug!(error = %error, "cannot poll the log head"),
    }
}

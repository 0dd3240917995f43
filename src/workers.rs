//! Background upkeep of `tally serve` besides the log's followers: the hourly purge of idempotency keys past their
//! retention (24 h) and of webhook delivery attempts past theirs (7 days). (Recovering pending orders, expiring
//! unpaid ones and settling stock effects are the order process's work: `order_process.rs`.)

use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::watch;

/// How often the purges run.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes expired idempotency keys and webhook delivery attempts once an hour, until `stopped` turns true.
pub async fn purge(pool: PgPool, mut stopped: watch::Receiver<bool>) {
    loop {
        match tally_api::idempotency::purge_expired_idempotency_keys(&pool, Duration::ZERO).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "purged expired idempotency keys"),
            Err(error) => tracing::warn!(error = %error, "could not purge expired idempotency keys"),
        }
        match tally_webhooks::storage::purge_attempts(&pool).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "purged old webhook delivery attempts"),
            Err(error) => tracing::warn!(error = %error, "could not purge old webhook delivery attempts"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PURGE_INTERVAL) => {}
            _ = stopped.wait_for(|stopped| *stopped) => return,
        }
    }
}

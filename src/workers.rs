//! The order workers that run inside `tally serve`: they find orders in the read models and hand them to the
//! command side, which decides on the order's own stream (a stale read model can only cause a no-op).
//!
//! - Recovery: an order left `pending` by a crash (placed longer ago than any request takes) is finished or
//!   undone: its reservations are made again, idempotently, then it is confirmed or rejected. At start-up, every
//!   order that changed shortly before the last event in the log is settled too: inventory effects an interrupted
//!   request did not apply (a release after a rejection, a commit after a shipment) are applied, once.
//! - Expiry: a confirmed order still not fully paid past its `reserved_until` is expired and its stock released.

use anyhow::Result;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;
use tally_commands::{CommandContext, Commands, Placement};
use tally_projections::read::orders as order_reads;
use tally_projections::{Projector, ReadModel};
use tally_store::LogFilter;
use tokio::sync::watch;

/// How often the workers look for work.
const INTERVAL: Duration = Duration::from_secs(5);
/// A pending order younger than this may still be in the hands of a request.
const PENDING_GRACE: Duration = Duration::from_secs(10);
/// At start-up, orders that changed within this long before the log's last event are settled.
const SETTLE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Orders handled per query.
const PAGE: u32 = 200;
/// How often expired idempotency keys are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Runs the recovery and expiry workers until `stopped` turns true. `pool` holds the read models. Stopping
/// interrupts a settlement or a sweep midway: each order's settlement is idempotent, and the next start (or the
/// next process's workers) finishes the job.
pub async fn run(commands: Commands, projector: Projector, pool: PgPool, mut stopped: watch::Receiver<bool>) {
    let context = CommandContext::new("order-workers");
    tokio::select! {
        settled = settle_recent(&commands, &projector, &pool, &context) => if let Err(error) = settled {
            tracing::error!(error = %format!("{error:#}"), "start-up settlement of recent orders failed");
        },
        _ = stopped.wait_for(|stopped| *stopped) => return,
    }
    loop {
        tokio::select! {
            swept = sweep(&commands, &pool, &context) => if let Err(error) = swept {
                tracing::warn!(error = %format!("{error:#}"), "order workers: sweep failed; retrying");
            },
            _ = stopped.wait_for(|stopped| *stopped) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stopped.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// One pass of both workers.
async fn sweep(commands: &Commands, pool: &PgPool, context: &CommandContext) -> Result<()> {
    let now = Utc::now();
    let grace = chrono::Duration::from_std(PENDING_GRACE)?;
    for order_id in order_reads::orders_pending_since(pool, now - grace, PAGE).await? {
        match commands.resume_pending_order(context, order_id).await {
            Ok(Placement::Confirmed(_)) => tracing::info!(order.id = %order_id, "recovered a pending order: confirmed"),
            Ok(Placement::Rejected { .. }) => {
                tracing::info!(order.id = %order_id, "recovered a pending order: rejected")
            }
            Err(error) => tracing::warn!(order.id = %order_id, error = %error, "could not recover a pending order"),
        }
    }
    for order_id in order_reads::orders_confirmed_unpaid_past(pool, now, PAGE).await? {
        match commands.expire_order(context, order_id).await {
            Ok(_) => tracing::info!(order.id = %order_id, "expired an unpaid order and released its stock"),
            Err(error) => tracing::warn!(order.id = %order_id, error = %error, "could not expire an order"),
        }
    }
    Ok(())
}

/// Settles every order that changed within [`SETTLE_WINDOW`] before the last event in the log, once the orders
/// read model has caught up with it. Anchored on the log rather than the clock, so a restart long after a crash
/// still finds the orders the crash interrupted.
async fn settle_recent(
    commands: &Commands,
    projector: &Projector,
    pool: &PgPool,
    context: &CommandContext,
) -> Result<()> {
    let store = commands.store();
    let head = store.head_position().await?;
    if head == 0 {
        return Ok(());
    }
    let last = store.read_all(head - 1, 1, &LogFilter::default()).await?;
    let Some(last_at) = last.events.first().map(|event| event.recorded_at) else { return Ok(()) };
    if !projector.wait_for_position(&[ReadModel::Orders], head, Duration::from_secs(60)).await? {
        anyhow::bail!("the orders read model did not reach position {head} within 60s");
    }
    let since: DateTime<Utc> = last_at - chrono::Duration::from_std(SETTLE_WINDOW)?;
    let mut after = None;
    let mut settled = 0_u64;
    loop {
        let page = order_reads::orders_updated_since(pool, since, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(*last);
        for (order_id, _) in &page {
            commands.settle_order(context, *order_id).await?;
            settled += 1;
        }
    }
    tracing::info!(orders = settled, "settled the orders that changed just before the last event in the log");
    Ok(())
}

/// Deletes idempotency keys past their retention (24 h) once an hour, until `stopped` turns true.
pub async fn purge_idempotency_keys(pool: PgPool, mut stopped: watch::Receiver<bool>) {
    loop {
        match tally_api::idempotency::purge_expired_idempotency_keys(&pool, Duration::ZERO).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "purged expired idempotency keys"),
            Err(error) => tracing::warn!(error = %error, "could not purge expired idempotency keys"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PURGE_INTERVAL) => {}
            _ = stopped.wait_for(|stopped| *stopped) => return,
        }
    }
}

//! Leases: at most one runner processes a projection (or any follower of the log) at a time, whichever process it
//! lives in.
//!
//! A lease is a session-level PostgreSQL advisory lock (`pg_try_advisory_lock`) held by the worker's own
//! connection, the same connection its batch transactions run on. When the holder dies, its connection closes and
//! PostgreSQL releases the lock at once; the other runners retry every `lease_retry` (1 s by default), so one of
//! them takes over within about a second. A holder whose connection breaks loses the lock with it, and notices
//! at its next statement. Correctness does not rest on the lease: the checkpoint row lock (see `checkpoint`) keeps
//! two holders from applying an event twice even in a split brain. The lease only keeps them from wasting work.
//!
//! A holder that freezes (SIGSTOP, a VM pause) keeps its TCP connection open, so the lease connection also sets
//! `idle_session_timeout` and `idle_in_transaction_session_timeout` ([`SESSION_IDLE_TIMEOUT`]): a live holder
//! runs a statement at least every heartbeat interval, a frozen one is cut off by the server, which releases the
//! lease. (On PostgreSQL 13 and older, which lack `idle_session_timeout`, a frozen idle holder keeps the lease
//! until its connection dies.)

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgExecutor};
use tracing::{debug, instrument};

use crate::error::ProjectionError;
use crate::models::ReadModel;

/// How long a lease connection may sit idle (in or out of a transaction) before the server ends it. Far above
/// the heartbeat and lease-retry intervals, which keep a live holder's and a live candidate's connection busy.
pub(crate) const SESSION_IDLE_TIMEOUT: &str = "20s";

/// The first key of every projection lease (`'tall'`), so Tally's advisory locks do not collide with others'.
const LEASE_NAMESPACE: i32 = 0x7461_6c6c;
/// The first key of every rebuild lock (`'talr'`).
const REBUILD_NAMESPACE: i32 = 0x7461_6c72;

/// The advisory lock keys of a follower's lease: the namespace and a stable 31-bit hash of its name (FNV-1a).
pub(crate) fn lease_key(name: &str) -> (i32, i32) {
    (LEASE_NAMESPACE, name_hash(name))
}

/// The advisory lock keys that keep two rebuilds of one projection apart.
pub(crate) fn rebuild_key(model: ReadModel) -> (i32, i32) {
    (REBUILD_NAMESPACE, name_hash(model.name()))
}

fn name_hash(name: &str) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    // Keep it positive: pg_locks shows the key as an oid, and a positive one reads the same both ways.
    i32::try_from(hash & 0x7fff_ffff).unwrap_or(0)
}

/// A connection of its own (not from a pool: dropping it closes it, which releases its locks and rolls back its
/// transaction), named so operators can find it in `pg_stat_activity`.
#[instrument(skip_all, fields(purpose = purpose))]
pub(crate) async fn connect(options: &PgConnectOptions, purpose: &str) -> Result<PgConnection, ProjectionError> {
    let options = options.clone().application_name(&format!("tally-projector {purpose}"));
    Ok(PgConnection::connect_with(&options).await?)
}

/// Makes the server end `conn` when its process stops talking (see the module doc). A server that does not know
/// a setting is left with its default.
#[instrument(skip_all)]
pub(crate) async fn arm_idle_timeouts(conn: &mut PgConnection) {
    for setting in ["idle_session_timeout", "idle_in_transaction_session_timeout"] {
        let set = sqlx::query("select set_config($1, $2, false)")
            .bind(setting)
            .bind(SESSION_IDLE_TIMEOUT)
            .execute(&mut *conn)
            .await;
        if let Err(error) = set {
            debug!(setting, error = %error, "cannot set a lease connection timeout");
        }
    }
}

/// Tries to take the session lock `key` on `conn` without waiting.
#[instrument(skip_all, fields(key1 = key.0, key2 = key.1))]
pub(crate) async fn try_lock(conn: &mut PgConnection, key: (i32, i32)) -> Result<bool, ProjectionError> {
    let locked: bool =
        sqlx::query_scalar("select pg_try_advisory_lock($1, $2)").bind(key.0).bind(key.1).fetch_one(&mut *conn).await?;
    Ok(locked)
}

/// Releases the session lock `key` held by `conn`.
pub(crate) async fn unlock(conn: &mut PgConnection, key: (i32, i32)) -> Result<(), ProjectionError> {
    sqlx::query_scalar::<_, bool>("select pg_advisory_unlock($1, $2)")
        .bind(key.0)
        .bind(key.1)
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

/// Whether some session of this database holds the lease of the follower `name` right now.
#[instrument(skip_all, fields(projection = %name))]
pub(crate) async fn is_held(executor: impl PgExecutor<'_>, name: &str) -> Result<bool, ProjectionError> {
    let (key1, key2) = lease_key(name);
    // advisory locks are per database; the two-key form shows up with objsubid 2.
    let held: bool = sqlx::query_scalar(
        "select exists (
             select 1 from pg_locks
              where locktype = 'advisory' and granted and objsubid = 2
                and database = (select oid from pg_database where datname = current_database())
                and classid = $1::int4::oid and objid = $2::int4::oid)",
    )
    .bind(key1)
    .bind(key2)
    .fetch_one(executor)
    .await?;
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_positive_and_distinct() {
        let keys: Vec<(i32, i32)> = ReadModel::ALL.into_iter().map(|model| lease_key(model.name())).collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(key.1 >= 0);
            assert!(!keys[..i].contains(key));
        }
        assert_eq!(name_hash("products"), name_hash("products"));
        assert_ne!(lease_key(ReadModel::Orders.name()), rebuild_key(ReadModel::Orders));
    }
}

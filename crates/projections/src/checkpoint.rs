//! The `projections` table: the checkpoint, failure and holder of each follower of the log (every projection,
//! and the order process).
//!
//! The checkpoint row is the fence that makes every event apply exactly once. A batch transaction first locks the
//! row (`for update`) and checks it holds the position the batch starts from; only then does it write read-model
//! rows and move the checkpoint, and both commit together. A runner that lost its lease without noticing, or that
//! raced a rebuild's swap, finds another position there and rolls back instead of applying anything twice.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use tracing::instrument;

use crate::error::ProjectionError;
use crate::models::ReadModel;

/// A row of `projections`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct CheckpointRow {
    pub(crate) name: String,
    pub(crate) position: i64,
    pub(crate) failed_position: Option<i64>,
    pub(crate) failed_at: Option<DateTime<Utc>>,
    pub(crate) error: Option<String>,
    pub(crate) holder: Option<String>,
    pub(crate) heartbeat_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) last_error: Option<String>,
    pub(crate) last_error_at: Option<DateTime<Utc>>,
}

impl CheckpointRow {
    pub(crate) fn position(&self) -> u64 {
        u64::try_from(self.position).unwrap_or(0)
    }

    /// The poison event's position and error, when the projection stopped on one.
    pub(crate) fn failure(&self) -> Option<(u64, String)> {
        let error = self.error.clone()?;
        let position = self.failed_position.and_then(|p| u64::try_from(p).ok()).unwrap_or(0);
        Some((position, error))
    }
}

/// A position as a column value.
pub(crate) fn column(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

/// The columns of a [`CheckpointRow`].
const SELECT_ROWS: &str = "select name, position, failed_position, failed_at, error, holder, heartbeat_at, updated_at,
        last_error, last_error_at from projections";

fn names(models: &[ReadModel]) -> Vec<&'static str> {
    models.iter().map(|model| model.name()).collect()
}

/// Creates the rows of projections that have none yet (at position 0).
pub(crate) async fn ensure_rows(executor: impl PgExecutor<'_>, models: &[ReadModel]) -> Result<(), ProjectionError> {
    ensure_named(executor, &names(models)).await
}

/// The rows of these projections, by name.
pub(crate) async fn read_rows(
    executor: impl PgExecutor<'_>,
    models: &[ReadModel],
) -> Result<Vec<CheckpointRow>, ProjectionError> {
    rows_where(executor, "name = any($1::text[])", &names(models)).await
}

/// The rows of every follower but these, by name.
pub(crate) async fn rows_other_than(
    executor: impl PgExecutor<'_>,
    names: &[&str],
) -> Result<Vec<CheckpointRow>, ProjectionError> {
    rows_where(executor, "name <> all($1::text[])", names).await
}

/// One follower's row (a projection's, or another follower of the log's), created if missing.
pub(crate) async fn read_row(conn: &mut PgConnection, name: &str) -> Result<CheckpointRow, ProjectionError> {
    ensure_named(&mut *conn, &[name]).await?;
    let rows = rows_where(&mut *conn, "name = any($1::text[])", &[name]).await?;
    rows.into_iter().next().ok_or_else(|| ProjectionError::UnknownProjection { name: name.to_owned() })
}

/// Creates the rows of followers that have none yet (at position 0).
#[instrument(skip_all)]
async fn ensure_named(executor: impl PgExecutor<'_>, names: &[&str]) -> Result<(), ProjectionError> {
    sqlx::query("insert into projections (name) select unnest($1::text[]) on conflict (name) do nothing")
        .bind(names)
        .execute(executor)
        .await?;
    Ok(())
}

/// The rows whose name passes `condition` on the names `$1`, by name.
#[instrument(skip_all)]
async fn rows_where(
    executor: impl PgExecutor<'_>,
    condition: &str,
    names: &[&str],
) -> Result<Vec<CheckpointRow>, ProjectionError> {
    let sql = format!("{SELECT_ROWS} where {condition} order by name");
    Ok(sqlx::query_as::<_, CheckpointRow>(&sql).bind(names).fetch_all(executor).await?)
}

/// Locks the projection's row until the end of the transaction and returns its position. Every writer of a
/// projection's tables takes this lock first, so they never interleave.
#[instrument(skip_all, fields(projection = %name))]
pub(crate) async fn lock(conn: &mut PgConnection, name: &str) -> Result<u64, ProjectionError> {
    let position: i64 = sqlx::query_scalar("select position from projections where name = $1 for update")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(position).unwrap_or(0))
}

/// Moves the checkpoint (inside the batch's transaction, after [`lock`]) and records the holder's heartbeat.
#[instrument(skip_all, fields(projection = %name, position))]
pub(crate) async fn advance(
    conn: &mut PgConnection,
    name: &str,
    position: u64,
    holder: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "update projections set position = $2, holder = $3, heartbeat_at = now(), updated_at = now()
          where name = $1",
    )
    .bind(name)
    .bind(column(position))
    .bind(holder)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records that `holder` holds the lease and is alive.
#[instrument(skip_all, fields(projection = %name))]
pub(crate) async fn heartbeat(conn: &mut PgConnection, name: &str, holder: &str) -> Result<(), ProjectionError> {
    sqlx::query("update projections set holder = $2, heartbeat_at = now() where name = $1")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records the error that interrupted the follower's previous session (by the runner that took the lease after it).
#[instrument(skip_all, fields(projection = %name))]
pub(crate) async fn record_interruption(
    conn: &mut PgConnection,
    name: &str,
    error: &str,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    sqlx::query("update projections set last_error = $2, last_error_at = $3 where name = $1")
        .bind(name)
        .bind(error)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stops the projection at the poison event at `position`, with the error that stopped it.
#[instrument(skip_all, fields(projection = %name, position))]
pub(crate) async fn record_failure(
    conn: &mut PgConnection,
    name: &str,
    position: u64,
    error: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "update projections set failed_position = $2, failed_at = now(), error = $3, updated_at = now()
          where name = $1",
    )
    .bind(name)
    .bind(column(position))
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Clears a recorded failure, so runners take the projection up again from its checkpoint.
#[instrument(skip_all, fields(projection = %model))]
pub(crate) async fn clear_failure(executor: impl PgExecutor<'_>, model: ReadModel) -> Result<(), ProjectionError> {
    sqlx::query(
        "update projections set failed_position = null, failed_at = null, error = null, updated_at = now()
          where name = $1",
    )
    .bind(model.name())
    .execute(executor)
    .await?;
    Ok(())
}

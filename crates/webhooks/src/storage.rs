//! What webhooks keep beside the log, in PostgreSQL (`migrations/0007_webhooks.sql`): the signing secrets, each
//! sender's state (where deliveries start, the replay it last carried out, its run of failures) and every delivery
//! attempt. The checkpoint of a sender is its row in `projections`, like every follower's.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use std::time::Duration;
use tally_domain::WebhookId;
use uuid::Uuid;

use crate::signature::SigningSecret;

/// How long a rotated secret still signs.
pub const PREVIOUS_SECRET_VALID_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long delivery attempts are kept.
pub const DELIVERIES_KEPT_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Stores the secret of a subscription about to be made.
pub async fn insert_secret(
    executor: impl PgExecutor<'_>,
    id: WebhookId,
    secret: &SigningSecret,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into webhook_secrets (webhook_id, secret) values ($1, $2)")
        .bind(id.as_uuid())
        .bind(secret.text())
        .execute(executor)
        .await?;
    Ok(())
}

/// The secrets of a subscription as stored (to put back a rotation that was not recorded).
#[derive(Clone, sqlx::FromRow)]
pub struct StoredSecrets {
    secret: String,
    previous_secret: Option<String>,
    previous_expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for StoredSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSecrets(***)")
    }
}

/// Makes `secret` the subscription's secret; the one it replaces signs too for [`PREVIOUS_SECRET_VALID_FOR`].
/// Returns the secrets as they were (`None`: the subscription has none, and nothing changed).
pub async fn rotate_secret(
    pool: &PgPool,
    id: WebhookId,
    secret: &SigningSecret,
) -> Result<Option<StoredSecrets>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let before: Option<StoredSecrets> = sqlx::query_as(
        "select secret, previous_secret, previous_expires_at from webhook_secrets where webhook_id = $1 for update",
    )
    .bind(id.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "update webhook_secrets
            set previous_secret = secret, previous_expires_at = now() + make_interval(secs => $3),
                secret = $2, updated_at = now()
          where webhook_id = $1",
    )
    .bind(id.as_uuid())
    .bind(secret.text())
    .bind(PREVIOUS_SECRET_VALID_FOR.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(before)
}

/// Puts back the secrets a rotation to `secret` replaced, unless another rotation came after it.
pub async fn undo_rotation(
    pool: &PgPool,
    id: WebhookId,
    secret: &SigningSecret,
    before: &StoredSecrets,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_secrets set secret = $3, previous_secret = $4, previous_expires_at = $5, updated_at = now()
          where webhook_id = $1 and secret = $2",
    )
    .bind(id.as_uuid())
    .bind(secret.text())
    .bind(&before.secret)
    .bind(&before.previous_secret)
    .bind(before.previous_expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The secrets that sign the subscription's deliveries now: the current one, then the previous one while it is
/// valid. Empty when the subscription has none (it was never made).
pub async fn signing_secrets(executor: impl PgExecutor<'_>, id: WebhookId) -> Result<Vec<SigningSecret>, sqlx::Error> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "select secret, case when previous_expires_at > now() then previous_secret end
           from webhook_secrets where webhook_id = $1",
    )
    .bind(id.as_uuid())
    .fetch_optional(executor)
    .await?;
    let Some((current, previous)) = row else { return Ok(Vec::new()) };
    // A stored secret that does not parse was not written by Tally; it signs nothing.
    Ok([Some(current), previous].into_iter().flatten().filter_map(|text| SigningSecret::parse(&text).ok()).collect())
}

/// A sender's state (see the migration for each column).
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct SenderState {
    pub start_position: i64,
    pub replayed_through: i64,
    pub failed_attempts: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl SenderState {
    /// No failure pending.
    pub fn clear_failures(&mut self) {
        self.failed_attempts = 0;
        self.failing_since = None;
        self.next_attempt_at = None;
        self.last_error = None;
    }
}

const STATE_COLUMNS: &str =
    "start_position, replayed_through, failed_attempts, failing_since, next_attempt_at, last_error";

/// The sender's state, made (deliveries starting after `start_position`) when it has none.
pub async fn load_state(
    conn: &mut PgConnection,
    id: WebhookId,
    start_position: u64,
) -> Result<SenderState, sqlx::Error> {
    sqlx::query(
        "insert into webhook_state (webhook_id, start_position) values ($1, $2) on conflict (webhook_id) do nothing",
    )
    .bind(id.as_uuid())
    .bind(position_column(start_position))
    .execute(&mut *conn)
    .await?;
    read_state(&mut *conn, id).await.map(Option::unwrap_or_default)
}

/// The sender's state, if it has one.
pub async fn read_state(executor: impl PgExecutor<'_>, id: WebhookId) -> Result<Option<SenderState>, sqlx::Error> {
    sqlx::query_as(&format!("select {STATE_COLUMNS} from webhook_state where webhook_id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(executor)
        .await
}

/// Writes the sender's state.
pub async fn save_state(executor: impl PgExecutor<'_>, id: WebhookId, state: &SenderState) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_state
            set start_position = $2, replayed_through = $3, failed_attempts = $4, failing_since = $5,
                next_attempt_at = $6, last_error = $7, updated_at = now()
          where webhook_id = $1",
    )
    .bind(id.as_uuid())
    .bind(state.start_position)
    .bind(state.replayed_through)
    .bind(state.failed_attempts)
    .bind(state.failing_since)
    .bind(state.next_attempt_at)
    .bind(&state.last_error)
    .execute(executor)
    .await?;
    Ok(())
}

/// Where a subscription's deliveries stand, for the API: its checkpoint and its sender's state.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct DeliveryStatus {
    pub webhook_id: Uuid,
    /// The sender's checkpoint (`null`: it has not run yet).
    pub checkpoint: Option<i64>,
    /// Where deliveries start (`null`: the sender has not run yet).
    pub start_position: Option<i64>,
    pub failed_attempts: Option<i32>,
    pub failing_since: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl DeliveryStatus {
    /// Every wanted event up to here has been delivered: the checkpoint, or where deliveries start if later.
    pub fn position(&self) -> Option<u64> {
        let position = self.checkpoint.max(self.start_position)?;
        u64::try_from(position).ok()
    }
}

/// The delivery status of each of these subscriptions, in any order.
pub async fn delivery_status(
    executor: impl PgExecutor<'_>,
    ids: &[WebhookId],
) -> Result<Vec<DeliveryStatus>, sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    sqlx::query_as(
        "select w.id as webhook_id, p.position as checkpoint, s.start_position, s.failed_attempts, s.failing_since,
                s.next_attempt_at, s.last_error
           from unnest($1::uuid[]) as w(id)
           left join projections p on p.name = 'webhook-' || w.id
           left join webhook_state s on s.webhook_id = w.id",
    )
    .bind(&ids)
    .fetch_all(executor)
    .await
}

/// Forgets the run of failures, so the sender tries again at once (after a resume).
pub async fn clear_failures(executor: impl PgExecutor<'_>, id: WebhookId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_state
            set failed_attempts = 0, failing_since = null, next_attempt_at = null, last_error = null, updated_at = now()
          where webhook_id = $1",
    )
    .bind(id.as_uuid())
    .execute(executor)
    .await?;
    Ok(())
}

/// Removes what a deleted subscription kept: its secrets, its state and its checkpoint (its attempts stay until
/// they expire).
pub async fn forget(pool: &PgPool, id: WebhookId, follower: &str) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("delete from webhook_secrets where webhook_id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
    sqlx::query("delete from webhook_state where webhook_id = $1").bind(id.as_uuid()).execute(&mut *tx).await?;
    sqlx::query("delete from projections where name = $1").bind(follower).execute(&mut *tx).await?;
    tx.commit().await
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Attempt {
    /// Increasing with every attempt recorded (the list's order).
    pub id: i64,
    /// The event's global position.
    pub position: i64,
    /// The event's id: the delivery's `webhook-id`.
    pub event_id: Uuid,
    pub event_type: String,
    /// 1 for the first attempt at this event, then +1 per retry.
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status; `null` when no answer came (refused, timed out, not allowed).
    pub status: Option<i32>,
    /// From sending the request to the answer's end, in milliseconds.
    pub latency_ms: f64,
    pub error: Option<String>,
}

/// Records attempts of the subscription's sender.
pub async fn record_attempts(
    executor: impl PgExecutor<'_>,
    id: WebhookId,
    attempts: &[Attempt],
) -> Result<(), sqlx::Error> {
    if attempts.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into webhook_deliveries
           (webhook_id, position, event_id, event_type, attempt, attempted_at, status, latency_ms, error)
         select $1, * from unnest($2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::timestamptz[], $7::int[],
                                  $8::float8[], $9::text[])",
    )
    .bind(id.as_uuid())
    .bind(attempts.iter().map(|a| a.position).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.event_id).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.event_type.clone()).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.attempt).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.attempted_at).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.status).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.latency_ms).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.error.clone()).collect::<Vec<_>>())
    .execute(executor)
    .await?;
    Ok(())
}

/// The subscription's attempts, newest first, before the attempt `before` (its `id`) when given.
pub async fn attempts(
    executor: impl PgExecutor<'_>,
    id: WebhookId,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as(
        "select id, position, event_id, event_type, attempt, attempted_at, status, latency_ms, error
           from webhook_deliveries
          where webhook_id = $1 and ($2::bigint is null or id < $2)
          order by id desc limit $3",
    )
    .bind(id.as_uuid())
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(executor)
    .await
}

/// Deletes attempts older than [`DELIVERIES_KEPT_FOR`]; returns how many.
pub async fn purge_attempts(executor: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("delete from webhook_deliveries where attempted_at < now() - make_interval(secs => $1)")
        .bind(DELIVERIES_KEPT_FOR.as_secs_f64())
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

/// A position as a column value.
pub fn position_column(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

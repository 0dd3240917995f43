//! Applying one batch of events to one projection: read-model writes and checkpoint in one transaction.
//!
//! The transaction locks the checkpoint row first and checks it still holds the position the batch starts from,
//! so a batch applies exactly once (see `checkpoint`). When a batch fails for a reason that would repeat, the
//! events are applied again one per transaction to find the poison event: the events before it commit, and the
//! projection stops at it with its position and error recorded. Nothing is skipped.

use sqlx::{Connection, PgConnection};
use tally_store::{LogFilter, RecordedEvent};
use tracing::{info, instrument};

use crate::checkpoint;
use crate::error::ProjectionError;
use crate::follower::Follower;
use crate::models::ReadModel;

pub(crate) use crate::follower::Applied as Outcome;

/// A read model follows the log one transaction per batch: its rows and its checkpoint commit together.
impl Follower for ReadModel {
    fn name(&self) -> &'static str {
        ReadModel::name(*self)
    }

    fn filter(&self) -> LogFilter {
        ReadModel::filter(*self)
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        holder: &str,
        from: u64,
        to: u64,
        events: &[RecordedEvent],
    ) -> Result<Outcome, ProjectionError> {
        apply(conn, *self, holder, from, to, events).await
    }
}

/// Applies `events` (read after `from`, examined up to `to`) and moves the checkpoint from `from` to `to`.
#[instrument(skip_all, fields(projection = %model, from, to, events = events.len()))]
pub(crate) async fn apply(
    conn: &mut PgConnection,
    model: ReadModel,
    holder: &str,
    from: u64,
    to: u64,
    events: &[RecordedEvent],
) -> Result<Outcome, ProjectionError> {
    match apply_once(conn, model, holder, from, to, events).await {
        Ok(outcome) => Ok(outcome),
        Err(error) if error.is_transient() => Err(error),
        Err(error) if events.len() <= 1 => {
            let position = events.first().map_or(to, |event| event.position);
            Ok(Outcome::Poisoned { position, error })
        }
        Err(_) => isolate(conn, model, holder, from, events).await,
    }
}

/// One transaction: lock and check the checkpoint, apply, advance, commit.
async fn apply_once(
    conn: &mut PgConnection,
    model: ReadModel,
    holder: &str,
    from: u64,
    to: u64,
    events: &[RecordedEvent],
) -> Result<Outcome, ProjectionError> {
    let mut tx = conn.begin().await?;
    let stored = checkpoint::lock(&mut tx, model.name()).await?;
    if stored != from {
        tx.rollback().await?;
        info!(projection = %model, expected = from, found = stored, "checkpoint moved by someone else; resuming there");
        return Ok(Outcome::Moved(stored));
    }
    model.apply(&mut tx, events).await?;
    checkpoint::advance(&mut tx, model.name(), to, holder).await?;
    tx.commit().await?;
    crate::visibility::record(model, events.iter().map(|event| event.recorded_at), chrono::Utc::now());
    Ok(Outcome::Through(to))
}

/// Applies the events one per transaction until one fails.
async fn isolate(
    conn: &mut PgConnection,
    model: ReadModel,
    holder: &str,
    from: u64,
    events: &[RecordedEvent],
) -> Result<Outcome, ProjectionError> {
    let mut position = from;
    for event in events {
        match apply_once(conn, model, holder, position, event.position, std::slice::from_ref(event)).await {
            Ok(Outcome::Through(applied)) => position = applied,
            Ok(other) => return Ok(other),
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => return Ok(Outcome::Poisoned { position: event.position, error }),
        }
    }
    // Every event applied alone: the batch's failure did not come from one event. Go on from here.
    Ok(Outcome::Through(position))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tally_store::{EventStore, ExpectedVersion, LogFilter, MemoryEventStore, NewEvent};

    /// The fence: a holder that lost its lease without noticing (it still believes the checkpoint is where it
    /// left it) applies nothing.
    #[tokio::test]
    async fn a_batch_from_a_stale_position_applies_nothing() {
        let db = tally_testkit::fresh_database().await;
        tally_store::MIGRATOR.run(&db.pool).await.expect("migrate");
        let store = MemoryEventStore::new();
        let registered = json!({"type": "ProductRegistered", "sku": "A", "name": "A",
                                "price": {"amount": 100, "currency": "EUR"}});
        let event = NewEvent::new("ProductRegistered", registered);
        store.append("product-A", ExpectedVersion::NoStream, vec![event]).await.expect("append");
        let events = store.read_all(0, 10, &LogFilter::all()).await.expect("read").events;
        let mut conn = db.pool.acquire().await.expect("connect");
        checkpoint::ensure_rows(&mut *conn, &[ReadModel::Products]).await.expect("rows");

        let first = apply(&mut conn, ReadModel::Products, "holder", 0, 1, &events).await.expect("apply");
        assert!(matches!(first, Outcome::Through(1)), "{first:?}");
        let zombie = apply(&mut conn, ReadModel::Products, "zombie", 0, 1, &events).await.expect("apply");
        assert!(matches!(zombie, Outcome::Moved(1)), "{zombie:?}");

        let (count, holder): (i64, Option<String>) = sqlx::query_as(
            "select (select count(*) from products), (select holder from projections where name = 'products')",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("query");
        assert_eq!((count, holder.as_deref()), (1, Some("holder")));
    }
}

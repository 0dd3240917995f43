//! The NATS JetStream relay: every event of the global log published to a JetStream stream, in log order, once.
//!
//! A [`Follower`] of the log like the order process (`order_process.rs`): one holder per cluster under the lease
//! `nats-relay`, its checkpoint in `projections` (so `/v1/projections` lists it with its holder and position),
//! another `tally relay nats` (or `tally serve --nats-url`) taking over within about a second when the holder dies.
//!
//! - **Subject**: `<prefix>.<stream category>.<event type>`, e.g. `tally.order.OrderPlaced` ([`SubjectMapping`]).
//! - **Body**: the event as the audit API (`/v1/events`, `tally export`) shows it: `RecordedEvent`'s JSON.
//! - **Headers**: `Nats-Msg-Id` = the event id, so JetStream drops a message it already holds (within the stream's
//!   duplicate window); `Tally-Position` = the event's global position, so a new holder resumes after the last
//!   message the stream holds; `Nats-Expected-Last-Msg-Id` = the id of the event published before it, so JetStream
//!   refuses a message that would overtake a lost predecessor (a publish lost in a NATS restart while the next one
//!   was delivered after the reconnect).
//!
//! **Checkpoint after acknowledgement.** A batch is published pipelined (every publish sent, then the
//! acknowledgements awaited in order); the checkpoint moves to the last acknowledged event, never past it. On a
//! publish error the session ends and the worker retries with backoff, from the checkpoint. Repeats are harmless:
//! JetStream drops them by `Nats-Msg-Id`, and [`Follower::resume`] starts after the stream's own last message, so
//! even a holder that was down longer than the duplicate window publishes nothing twice.
//!
//! The stream is created when missing: subjects `<prefix>.>`, file storage, duplicate window [`DUPLICATE_WINDOW`].

use async_nats::header::{HeaderMap, NATS_EXPECTED_LAST_MESSAGE_ID, NATS_MESSAGE_ID};
use async_nats::jetstream::{self, context::PublishAckFuture, stream};
use bytes::Bytes;
use sqlx::PgConnection;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tally_projections::{move_checkpoint, Applied, Follower, ProjectionError};
use tally_store::{LogFilter, RecordedEvent};

/// The follower's name: its row in `projections` and its lease.
pub const NAME: &str = "nats-relay";
/// How long JetStream remembers a message id to drop a repeat. Repeats come from a holder that published a
/// batch and died before moving its checkpoint, and are re-published within seconds of its successor taking
/// over; 2 minutes covers that with room, and keeps the server's id table small (it holds every id of the window).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// How long a publish waits for its acknowledgement before the batch counts as failed.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The header carrying the event's global position.
pub const POSITION_HEADER: &str = "Tally-Position";

pub const EVENTS_RELAYED: &str = "tally_relay_events_total";
pub const PUBLISH_FAILURES: &str = "tally_relay_publish_failures_total";
pub const ACK_SECONDS: &str = "tally_relay_ack_seconds";
pub const LAG_SECONDS: &str = "tally_relay_lag_seconds";

/// How log events map to NATS subjects, under a validated prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectMapping {
    prefix: String,
}

impl SubjectMapping {
    /// A prefix is one or more dot-separated NATS subject tokens: not empty, no whitespace, no wildcard (`*`, `>`).
    pub fn parse(prefix: &str) -> Result<Self, String> {
        let valid = prefix.split('.').all(|token| !token.is_empty() && token.chars().all(is_token_char));
        if valid {
            Ok(SubjectMapping { prefix: prefix.to_owned() })
        } else {
            Err(format!("{prefix:?} is not a NATS subject prefix like `tally` or `acme.tally` (dot-separated tokens, no spaces or wildcards)"))
        }
    }

    /// The subjects of the stream: everything under the prefix.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.prefix)
    }

    /// The stream's name: the prefix in capitals, dots as underscores (`tally` -> `TALLY`).
    pub fn stream_name(&self) -> String {
        self.prefix.replace('.', "_").to_uppercase()
    }

    /// `<prefix>.<category>.<event type>`; characters a subject token cannot hold become `_`.
    pub fn subject(&self, stream_id: &str, event_type: &str) -> String {
        format!("{}.{}.{}", self.prefix, token(category(stream_id)), token(event_type))
    }
}

/// A stream's category: its id before the first `-` (`order-0193...` -> `order`), the whole id if it has none.
pub fn category(stream_id: &str) -> &str {
    stream_id.split_once('-').map_or(stream_id, |(category, _)| category)
}

fn is_token_char(c: char) -> bool {
    !(c.is_whitespace() || c == '.' || c == '*' || c == '>')
}

fn token(text: &str) -> String {
    if text.is_empty() {
        return "_".to_owned();
    }
    text.chars().map(|c| if is_token_char(c) { c } else { '_' }).collect()
}

/// The relay of one process (cheap to clone; clones share their state).
#[derive(Clone)]
pub struct NatsRelay {
    inner: Arc<Inner>,
}

struct Inner {
    jetstream: jetstream::Context,
    subjects: SubjectMapping,
    state: Mutex<RelayState>,
}

/// What this runner knows while it holds the lease.
#[derive(Default)]
struct RelayState {
    /// The checkpoint as stored.
    stored: u64,
    /// The id of the last event the stream acknowledged (or held when this runner took over).
    last_published: Option<String>,
}

impl NatsRelay {
    /// A relay over this connection to NATS. The connection reconnects by itself after a NATS restart.
    pub fn new(client: async_nats::Client, subjects: SubjectMapping) -> Self {
        let mut jetstream = jetstream::new(client);
        jetstream.set_timeout(ACK_TIMEOUT);
        NatsRelay { inner: Arc::new(Inner { jetstream, subjects, state: Mutex::default() }) }
    }

    fn state(&self) -> MutexGuard<'_, RelayState> {
        // Every critical section leaves the state consistent, so poison is harmless.
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The JetStream stream, created when missing.
    async fn ensure_stream(&self) -> Result<stream::Stream, ProjectionError> {
        let config = stream::Config {
            name: self.inner.subjects.stream_name(),
            subjects: vec![self.inner.subjects.stream_subjects()],
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        self.inner.jetstream.get_or_create_stream(config).await.map_err(|error| failed("create the stream", error))
    }

    /// The position and event id of the stream's last message, if it is one of this relay's.
    async fn last_relayed(&self) -> Result<Option<(u64, String)>, ProjectionError> {
        let mut stream = self.ensure_stream().await?;
        let last = stream.info().await.map_err(|error| failed("read the stream's state", error))?.state.last_sequence;
        if last == 0 {
            return Ok(None);
        }
        let message =
            stream.get_raw_message(last).await.map_err(|error| failed("read the stream's last message", error))?;
        let position = message.headers.get(POSITION_HEADER).and_then(|value| value.as_str().parse::<u64>().ok());
        let id = message.headers.get(NATS_MESSAGE_ID).map(|value| value.as_str().to_owned());
        Ok(position.zip(id))
    }

    /// Sends the publish of `event`, chained to the event published before it.
    async fn send(&self, event: &RecordedEvent, previous: Option<&str>) -> Result<PublishAckFuture, ProjectionError> {
        let body = serde_json::to_vec(event).map_err(|error| failed("encode an event", error))?;
        let mut headers = HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, event.event_id.to_string().as_str());
        headers.insert(POSITION_HEADER, event.position.to_string().as_str());
        if let Some(previous) = previous {
            headers.insert(NATS_EXPECTED_LAST_MESSAGE_ID, previous);
        }
        let subject = self.inner.subjects.subject(&event.stream_id, &event.event_type);
        self.inner
            .jetstream
            .publish_with_headers(subject, headers, Bytes::from(body))
            .await
            .map_err(|error| failed("publish an event", error))
    }

    /// Publishes `events` pipelined; returns how many were acknowledged (a prefix of `events`) and the first error.
    async fn publish(&self, events: &[RecordedEvent]) -> (usize, Option<ProjectionError>) {
        let mut previous = self.state().last_published.clone();
        let mut pending = Vec::with_capacity(events.len());
        let mut error = None;
        let started = Instant::now();
        for event in events {
            match self.send(event, previous.as_deref()).await {
                Ok(ack) => pending.push(ack),
                Err(cause) => {
                    error = Some(cause);
                    break;
                }
            }
            previous = Some(event.event_id.to_string());
        }
        let mut acknowledged = 0;
        for (ack, event) in pending.into_iter().zip(events) {
            match ack.await {
                Ok(_) => {
                    metrics::histogram!(ACK_SECONDS).record(started.elapsed().as_secs_f64());
                    metrics::histogram!(LAG_SECONDS).record(since(event.recorded_at));
                    acknowledged += 1;
                    self.state().last_published = Some(event.event_id.to_string());
                }
                Err(cause) => {
                    error.get_or_insert(failed("publish an event", cause));
                    break;
                }
            }
        }
        metrics::counter!(EVENTS_RELAYED).increment(acknowledged as u64);
        if error.is_some() {
            metrics::counter!(PUBLISH_FAILURES).increment(1);
        }
        (acknowledged, error)
    }
}

impl Follower for NatsRelay {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self) -> LogFilter {
        LogFilter::all()
    }

    /// Reads after the checkpoint, or after the stream's last message when it is further on (it was published
    /// and acknowledged, the checkpoint not yet moved).
    async fn resume(&self, checkpoint: u64) -> Result<u64, ProjectionError> {
        let last = self.last_relayed().await?;
        let resume_at = last.as_ref().map_or(checkpoint, |(position, _)| checkpoint.max(*position));
        *self.state() = RelayState { stored: checkpoint, last_published: last.map(|(_, id)| id) };
        tracing::info!(checkpoint, resume_at, "the NATS relay resumes");
        Ok(resume_at)
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        holder: &str,
        _from: u64,
        to: u64,
        events: &[RecordedEvent],
    ) -> Result<Applied, ProjectionError> {
        let (acknowledged, error) = self.publish(events).await;
        // Through the last acknowledged event; through `to` (the log examined) when every event was.
        let through = match (acknowledged, &error) {
            (_, None) => Some(to),
            (0, Some(_)) => None,
            (n, Some(_)) => Some(events[n - 1].position),
        };
        if let Some(through) = through {
            let stored = self.state().stored;
            if through > stored {
                if let Some(moved) = move_checkpoint(conn, NAME, holder, stored, through).await? {
                    return Ok(Applied::Moved(moved));
                }
                self.state().stored = through;
            }
        }
        match error {
            // The session ends; the worker retries with backoff from the checkpoint.
            Some(error) => Err(error),
            None => Ok(Applied::Through(to)),
        }
    }
}

/// Seconds from `recorded_at` to now (0 if the clock says it is in the future).
fn since(recorded_at: chrono::DateTime<chrono::Utc>) -> f64 {
    let elapsed = chrono::Utc::now().signed_duration_since(recorded_at);
    elapsed.num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6
}

fn failed(what: &str, error: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::TaskFailed { name: NAME.to_owned(), reason: format!("{what}: {error}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_prefix_category_and_event_type() {
        let tally = SubjectMapping::parse("tally").unwrap();
        assert_eq!(
            tally.subject("order-0193d2c4-7c4e-7000-8000-000000000001", "OrderPlaced"),
            "tally.order.OrderPlaced"
        );
        assert_eq!(tally.subject("inventory-TEE-RED-M", "StockReceived"), "tally.inventory.StockReceived");
        let nested = SubjectMapping::parse("acme.tally").unwrap();
        assert_eq!(nested.subject("product-TEE", "ProductAdded"), "acme.tally.product.ProductAdded");
        assert_eq!(nested.stream_subjects(), "acme.tally.>");
        assert_eq!(nested.stream_name(), "ACME_TALLY");
    }

    #[test]
    fn the_category_is_the_stream_id_before_the_first_dash() {
        assert_eq!(category("order-0193d2c4-7c4e"), "order");
        assert_eq!(category("apikey-x"), "apikey");
        assert_eq!(category("singleton"), "singleton");
    }

    #[test]
    fn characters_a_token_cannot_hold_become_underscores() {
        let tally = SubjectMapping::parse("tally").unwrap();
        assert_eq!(tally.subject("odd.stream-1", "Some Event>"), "tally.odd_stream.Some_Event_");
        assert_eq!(tally.subject("-x", ""), "tally._._");
    }

    #[test]
    fn a_prefix_must_be_subject_tokens_without_wildcards() {
        for bad in ["", ".", "tally.", ".tally", "tally..x", "tal ly", "tally.*", "tally.>", ">"] {
            assert!(SubjectMapping::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(SubjectMapping::parse("tally_prod.eu-1").is_ok());
    }
}

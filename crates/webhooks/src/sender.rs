//! The sender of one subscription: a [`Follower`] of the log like every other, named `webhook-{uuid}` (its row in
//! `projections` is its checkpoint, its lease makes it one sender across the cluster), that POSTs each event the
//! subscription wants to its URL, in log order, signed as Standard Webhooks 1.0 says.
//!
//! - **Advanced only after a 2xx.** A batch's events are delivered one at a time, in order; the checkpoint then
//!   moves to the last event delivered (or past the events the subscription does not want). A crash re-delivers at
//!   most the batch's delivered events, with the same `webhook-id` (the event id): at least once, duplicates
//!   recognisable.
//! - **Retries hold nothing.** A failed attempt (any answer but a 2xx or 410, or none: refused, timed out, a
//!   redirect, an address the egress policy refuses) is recorded, and the time of the next attempt stored
//!   (`tally_webhooks::retry`: exponential backoff with jitter, `Retry-After` honoured). Until then `apply` delivers
//!   nothing and leaves the checkpoint where it is, so a crash or a takeover keeps the schedule.
//! - **Paused, with the reason.** A 410 Gone pauses the subscription at once; failing for 24 hours pauses it. The
//!   pause is a `WebhookPaused` event recorded by the actor [`SENDER_ACTOR`], so the API, the log and the audit
//!   trail say why; the supervisor then stops the sender.
//! - **Replays** are events of the subscription's stream (`WebhookReplayRequested`): before each batch the holder
//!   looks for a request newer than the last it carried out, moves the checkpoint back (or on) to its `after` and
//!   notes it, so each is done once, at once (even while the sender is stuck retrying an event: a replay past it is
//!   how an operator skips an event a receiver cannot take).
//! - **Egress.** The HTTP client resolves every host through the egress policy and connects only to the addresses
//!   it vetted (a name that starts resolving to a private address is refused at the next delivery); an IP literal
//!   is checked before each delivery. Redirects are not followed; connect and response times are bounded.

use chrono::Utc;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sqlx::{PgConnection, PgPool};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use tally_commands::{CommandContext, Commands};
use tally_domain::{Aggregate, Webhook, WebhookCommand, WebhookId};
use tally_projections::{keep_alive, move_checkpoint, Applied, Follower, ProjectionError};
use tally_store::{LogFilter, RecordedEvent};
use url::Url;

use crate::egress::EgressPolicy;
use crate::retry::{self, Verdict};
use crate::signature::{signature_header, SigningSecret};
use crate::storage::{self, position_column, Attempt, SenderState};
use crate::subscriptions::{ReplayRequest, Subscription, Subscriptions};

/// The actor of the pauses a sender records.
pub const SENDER_ACTOR: &str = "webhook-sender";
/// How long a connection to a receiver may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a receiver may take to answer, from the request's start to the answer's end.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an answer's body is read (and thrown away) before the connection is dropped.
const ANSWER_BODY_LIMIT: usize = 64 * 1024;
/// How often a sender waiting for a batch's deliveries proves it holds the lease (the lease connection is closed
/// after 20 s idle).
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(5);
/// How long `apply` waits before answering "nothing delivered" while it may not deliver (paused, or waiting for
/// the next attempt), so the worker does not spin.
const IDLE_WAIT: Duration = Duration::from_secs(1);

pub const DELIVERIES: &str = "tally_webhook_deliveries_total";
pub const DELIVERY_SECONDS: &str = "tally_webhook_delivery_seconds";
pub const LAG_SECONDS: &str = "tally_webhook_lag_seconds";
pub const FAILED_ATTEMPTS: &str = "tally_webhook_failed_attempts";

/// The follower (and lease) name of a subscription's sender: its stream's name, `webhook-{uuid}`.
pub fn follower_name(id: WebhookId) -> String {
    Webhook::stream_id(&id)
}

/// The HTTP client of the senders: no redirects, bounded times, every name resolved through `policy`.
pub fn http_client(policy: EgressPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(RESPONSE_TIMEOUT)
        .dns_resolver(Arc::new(VettedResolver(policy)))
        .no_proxy()
        .user_agent(concat!("Tally-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client without custom TLS settings builds")
}

/// Resolves a receiver's host to the addresses the egress policy allows (all of them, or an error).
struct VettedResolver(EgressPolicy);

impl Resolve for VettedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            // The connector sets the URL's port on each address.
            let addresses = policy.resolve_host(name.as_str(), 0).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// What everything a sender needs (cheap to clone).
#[derive(Clone)]
pub struct Senders {
    pub subscriptions: Subscriptions,
    pub pool: PgPool,
    pub commands: Commands,
    pub policy: EgressPolicy,
    pub client: reqwest::Client,
}

/// The sender of one subscription (cheap to clone; clones share their state).
#[derive(Clone)]
pub struct WebhookSender {
    inner: Arc<Inner>,
}

struct Inner {
    id: WebhookId,
    name: String,
    label: String,
    senders: Senders,
    held: Mutex<Held>,
}

/// What this runner knows while it holds the lease.
#[derive(Default)]
struct Held {
    /// The checkpoint as stored.
    stored: u64,
    state: SenderState,
}

/// The wanted events of a batch, to deliver in order, and what they need.
struct Batch {
    events: Vec<RecordedEvent>,
    url: Url,
    secrets: Vec<SigningSecret>,
    state: SenderState,
    /// The log was examined up to here.
    to: u64,
}

/// What became of a batch's deliveries.
struct Delivered {
    attempts: Vec<Attempt>,
    state: SenderState,
    /// Every wanted event up to here was delivered.
    through: u64,
    /// Why to pause the subscription, if it should be.
    pause: Option<String>,
}

/// The runtime the deliveries run on: one thread of their own. A sender delivers one event at a time, each
/// waiting for the one before, so its pace is the latency of a chain of steps (sign, send, read the answer); on
/// the server's runtime each step would queue behind every request in progress, and under load the chain would
/// crawl (measured: seconds of lag at the receipts benchmark's load, where the senders alone deliver 16,000
/// events/s). Here each step runs as soon as its I/O is ready.
fn deliveries_runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let (handle_sender, handle) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("webhook-deliveries".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the webhook deliveries");
                handle_sender.send(runtime.handle().clone()).ok();
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("start the webhook deliveries' thread");
        handle.recv().expect("the webhook deliveries' runtime")
    })
}

/// How one attempt went.
struct Outcome {
    attempt: Attempt,
    verdict: Verdict,
    retry_after: Option<Duration>,
}

impl WebhookSender {
    pub fn new(id: WebhookId, senders: Senders) -> Self {
        let inner = Inner { id, name: follower_name(id), label: id.to_string(), senders, held: Mutex::default() };
        WebhookSender { inner: Arc::new(inner) }
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        // Every critical section leaves the state consistent, so poison is harmless.
        self.inner.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The subscription as this node last read it, if it may be delivered to now.
    fn active_subscription(&self) -> Option<Subscription> {
        self.inner.senders.subscriptions.get(self.inner.id).filter(Subscription::is_active)
    }

    /// Delivers the batch's events in order until one fails (on the deliveries' runtime).
    async fn deliver_batch(self, batch: Batch) -> Delivered {
        let Batch { events, url, secrets, mut state, to } = batch;
        let mut attempts = Vec::new();
        let mut through = to;
        let mut pause = None;
        for event in &events {
            // Paused or deleted meanwhile: stop before this event (a batch to a slow receiver can take a while).
            if !self.inner.senders.subscriptions.is_active(self.inner.id) {
                through = event.position.saturating_sub(1);
                break;
            }
            let outcome = self.deliver(&url, event, &secrets, state.failed_attempts.saturating_add(1)).await;
            let error = outcome.attempt.error.clone();
            attempts.push(outcome.attempt);
            match outcome.verdict {
                Verdict::Delivered => {
                    let lag = Utc::now().signed_duration_since(event.recorded_at);
                    let lag = lag.num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
                    metrics::histogram!(LAG_SECONDS, "webhook" => self.inner.label.clone()).record(lag);
                    state.clear_failures();
                }
                Verdict::Gone => {
                    // Scheduled like a failure too, so nothing is sent before the pause is seen (or, if it could
                    // not be recorded, before the next attempt records it).
                    through = event.position.saturating_sub(1);
                    fail(&mut state, error, None);
                    pause = Some(format!("the receiver answered 410 Gone at {}", Utc::now().to_rfc3339()));
                    break;
                }
                Verdict::Retry => {
                    through = event.position.saturating_sub(1);
                    pause = fail(&mut state, error, outcome.retry_after);
                    break;
                }
            }
        }
        Delivered { attempts, state, through, pause }
    }

    /// POSTs `event` to `url`, signed with `secrets`.
    async fn deliver(&self, url: &Url, event: &RecordedEvent, secrets: &[SigningSecret], attempt: i32) -> Outcome {
        let attempted_at = Utc::now();
        let started = Instant::now();
        let answer = self.post(url, event, secrets).await;
        let latency = started.elapsed();
        metrics::histogram!(DELIVERY_SECONDS, "webhook" => self.inner.label.clone()).record(latency.as_secs_f64());
        let (status, retry_after, error) = match answer {
            Ok((status, retry_after)) => {
                let error = (!(200..300).contains(&status)).then(|| format!("the receiver answered {status}"));
                (Some(status), retry_after, error)
            }
            Err(error) => (None, None, Some(error)),
        };
        let verdict = retry::verdict(status);
        let result = match verdict {
            Verdict::Delivered => "delivered",
            Verdict::Gone => "gone",
            Verdict::Retry => "failed",
        };
        metrics::counter!(DELIVERIES, "webhook" => self.inner.label.clone(), "result" => result).increment(1);
        let attempt = Attempt {
            id: 0,
            position: position_column(event.position),
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            attempt,
            attempted_at,
            status: status.map(i32::from),
            latency_ms: latency.as_secs_f64() * 1000.0,
            error,
        };
        Outcome { attempt, verdict, retry_after }
    }

    /// The request itself: the answer's status and `Retry-After`, or why there was no answer.
    async fn post(
        &self,
        url: &Url,
        event: &RecordedEvent,
        secrets: &[SigningSecret],
    ) -> Result<(u16, Option<Duration>), String> {
        // A name is vetted by the client's resolver; an address literal never reaches it.
        match url.host() {
            Some(url::Host::Ipv4(address)) => self.inner.senders.policy.check_address(address.into()),
            Some(url::Host::Ipv6(address)) => self.inner.senders.policy.check_address(address.into()),
            _ => Ok(()),
        }
        .map_err(|error| error.to_string())?;
        let body = serde_json::to_vec(event).map_err(|error| format!("cannot encode the event: {error}"))?;
        let id = event.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = signature_header(secrets, &id, timestamp, &body);
        let mut response = self
            .inner
            .senders
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            // Without the URL: it may hold a token of the receiver's, and the error is stored and shown.
            .map_err(|error| describe(&error.without_url()))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry::parse_retry_after(value, SystemTime::now()));
        // Read a little of the answer so the connection can be reused; a receiver's essay is not waited for.
        let mut read = 0;
        while read < ANSWER_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        Ok((status, retry_after))
    }

    /// Records a pause in the log (as [`SENDER_ACTOR`]) and logs it.
    async fn pause(&self, reason: String) {
        let reason: String = reason.chars().take(tally_domain::webhook::REASON_MAX_CHARS).collect();
        tracing::warn!(webhook = %self.inner.id, reason = %reason, "pausing the webhook subscription");
        let context = CommandContext::new(SENDER_ACTOR);
        let command = WebhookCommand::Pause { reason };
        if let Err(error) = self.inner.senders.commands.webhook_command(&context, self.inner.id, command, None).await {
            // The next failure pauses it again.
            tracing::warn!(webhook = %self.inner.id, error = %error, "could not record the pause");
        }
    }

    /// Carries out a replay: the checkpoint moves to its `after`, and the sender notes the request as done. In that
    /// order, so a crash between repeats the replay rather than losing it.
    async fn replay(
        &self,
        conn: &mut PgConnection,
        holder: &str,
        replay: ReplayRequest,
    ) -> Result<Applied, ProjectionError> {
        let ReplayRequest { position, after } = replay;
        let stored = self.held().stored;
        if let Some(moved) = move_checkpoint(conn, &self.inner.name, holder, stored, after).await? {
            return Ok(Applied::Moved(moved));
        }
        let mut state = self.held().state.clone();
        state.start_position = position_column(after);
        state.replayed_through = position_column(position);
        state.clear_failures();
        storage::save_state(&mut *conn, self.inner.id, &state).await?;
        tracing::info!(webhook = %self.inner.id, after, "replaying the webhook's deliveries");
        Ok(Applied::Moved(after))
    }
}

impl Follower for WebhookSender {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn filter(&self) -> LogFilter {
        // Every event: the subscription's filter is applied here (and a replay request, an event like any other,
        // wakes the sender up).
        LogFilter::all()
    }

    /// Reads after the checkpoint, or after where deliveries start when that is further on (a new subscription
    /// starts after its own `WebhookSubscribed`).
    async fn resume(&self, checkpoint: u64) -> Result<u64, ProjectionError> {
        let subscriptions = &self.inner.senders.subscriptions;
        if subscriptions.get(self.inner.id).is_none() {
            subscriptions.refresh().await?;
        }
        let subscribed = subscriptions.get(self.inner.id).map_or(checkpoint, |known| known.subscribed_position);
        let mut conn = self.inner.senders.pool.acquire().await?;
        let state = storage::load_state(&mut conn, self.inner.id, subscribed).await?;
        let start = u64::try_from(state.start_position).unwrap_or(0);
        *self.held() = Held { stored: checkpoint, state };
        Ok(checkpoint.max(start))
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        holder: &str,
        from: u64,
        to: u64,
        events: &[RecordedEvent],
    ) -> Result<Applied, ProjectionError> {
        // What the subscription is up to the end of this batch (a replay asked for meanwhile, say).
        let subscriptions = &self.inner.senders.subscriptions;
        if subscriptions.position() < to {
            subscriptions.refresh().await?;
        }
        let Some(subscription) = self.active_subscription() else {
            keep_alive(conn, &self.inner.name, holder).await?;
            tokio::time::sleep(IDLE_WAIT).await;
            return Ok(Applied::Through(from));
        };
        // The state as stored: a resume clears the failures there while this sender may still be running.
        if let Some(state) = storage::read_state(&mut *conn, self.inner.id).await? {
            self.held().state = state;
        }
        let replayed_through = u64::try_from(self.held().state.replayed_through).unwrap_or(0);
        if let Some(replay) = subscription.replay.filter(|replay| replay.position > replayed_through) {
            return self.replay(conn, holder, replay).await;
        }
        let next_attempt_at = self.held().state.next_attempt_at;
        if let Some(wait) = next_attempt_at.and_then(|at| (at - Utc::now()).to_std().ok()) {
            keep_alive(conn, &self.inner.name, holder).await?;
            tokio::time::sleep(wait.min(IDLE_WAIT)).await;
            return Ok(Applied::Through(from));
        }
        let policy = self.inner.senders.policy;
        let url = policy.parse_url(&subscription.details.url).map_err(|error| failed(&self.inner.name, error))?;
        let secrets = storage::signing_secrets(&mut *conn, self.inner.id).await?;
        if secrets.is_empty() {
            return Err(failed(&self.inner.name, "the subscription has no signing secret"));
        }
        // Only the wanted events go to the deliveries' thread.
        let wanted: Vec<RecordedEvent> = events
            .iter()
            .filter(|event| subscription.details.wants(&event.stream_id, &event.event_type))
            .cloned()
            .collect();
        let batch = Batch { events: wanted, url, secrets, state: self.held().state.clone(), to };
        let sender = self.clone();
        let mut delivering = deliveries_runtime().spawn(async move { sender.deliver_batch(batch).await });
        // A batch to a slow receiver can take minutes: the lease connection must not sit idle meanwhile.
        let Delivered { attempts, state, through, pause } = loop {
            tokio::select! {
                done = &mut delivering => break done.map_err(|error| failed(&self.inner.name, error))?,
                () = tokio::time::sleep(KEEP_ALIVE_EVERY) => keep_alive(conn, &self.inner.name, holder).await?,
            }
        };
        metrics::gauge!(FAILED_ATTEMPTS, "webhook" => self.inner.label.clone()).set(f64::from(state.failed_attempts));
        storage::record_attempts(&mut *conn, self.inner.id, &attempts).await?;
        storage::save_state(&mut *conn, self.inner.id, &state).await?;
        self.held().state = state;
        let stored = self.held().stored;
        if through > stored {
            if let Some(moved) = move_checkpoint(conn, &self.inner.name, holder, stored, through).await? {
                return Ok(Applied::Moved(moved));
            }
            self.held().stored = through;
        }
        if let Some(reason) = pause {
            self.pause(reason).await;
        }
        Ok(Applied::Through(through.max(from)))
    }
}

/// Notes a failed attempt in `state`: the next attempt's time, and the reason to pause when the subscription has
/// been failing for [`retry::GIVE_UP_AFTER`].
fn fail(state: &mut SenderState, error: Option<String>, retry_after: Option<Duration>) -> Option<String> {
    let now = Utc::now();
    state.failed_attempts = state.failed_attempts.saturating_add(1);
    let since = *state.failing_since.get_or_insert(now);
    state.last_error = error;
    let failures = u32::try_from(state.failed_attempts).unwrap_or(u32::MAX);
    let delay = retry::next_delay(failures, jitter(), retry_after);
    state.next_attempt_at = Some(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX));
    let failing_for = (now - since).to_std().unwrap_or_default();
    (failing_for >= retry::GIVE_UP_AFTER).then(|| {
        format!(
            "deliveries failed for {} hours since {}, {} attempts; the last: {}",
            failing_for.as_secs() / 3600,
            since.to_rfc3339(),
            state.failed_attempts,
            state.last_error.as_deref().unwrap_or("no answer")
        )
    })
}

/// A number in `[0, 1)` from the operating system's random source (0 if it fails: no jitter).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.0,
    }
}

/// An error with its causes, for a delivery's `error` (reqwest's own text leaves out why a request failed).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn failed(name: &str, error: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::TaskFailed { name: name.to_owned(), reason: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due_in(state: &SenderState) -> Duration {
        (state.next_attempt_at.expect("a next attempt") - Utc::now()).to_std().unwrap_or_default()
    }

    #[test]
    fn a_failure_schedules_the_next_attempt_with_backoff() {
        let mut state = SenderState::default();
        assert_eq!(fail(&mut state, Some("the receiver answered 500".into()), None), None);
        assert_eq!(state.failed_attempts, 1);
        assert!(state.failing_since.is_some());
        assert!(due_in(&state) <= Duration::from_secs(1), "1 s less jitter");
        for _ in 0..3 {
            fail(&mut state, None, None);
        }
        assert_eq!(state.failed_attempts, 4);
        assert!(
            due_in(&state) >= Duration::from_secs(3) && due_in(&state) <= Duration::from_secs(8),
            "8 s less jitter"
        );
        assert_eq!(state.last_error, None, "the last attempt's error, not an older one");
    }

    #[test]
    fn retry_after_is_honoured_when_longer() {
        let mut state = SenderState::default();
        fail(&mut state, None, Some(Duration::from_secs(120)));
        assert!(due_in(&state) >= Duration::from_secs(119));
    }

    #[test]
    fn a_day_of_failures_pauses_with_the_reason() {
        let mut state =
            SenderState { failing_since: Some(Utc::now() - chrono::Duration::hours(25)), ..Default::default() };
        let reason = fail(&mut state, Some("connection refused".into()), None).expect("a pause");
        assert!(reason.contains("25 hours") && reason.contains("connection refused"), "{reason}");
        state.clear_failures();
        assert_eq!(state, SenderState::default());
    }

    #[test]
    fn jitter_is_in_the_unit_interval() {
        assert!((0..100).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }
}

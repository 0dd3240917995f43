//! Who runs a command and why: the [`CommandContext`] that becomes every event's metadata, and the [`Clock`].
//!
//! The domain never makes ids or reads the time (design, invariant 1): this crate does. The HTTP layer fills a
//! context from `X-Request-Id`, `traceparent`, its caller and `Idempotency-Key`; whatever is absent gets a new id
//! here. Steps a command causes on other streams (a reservation caused by `OrderPlaced`) run with a child context
//! from [`CommandContext::caused_by`]: same correlation and trace, causation = the causing event.
//!
//! **Idempotency keys.** A command run under a client's `Idempotency-Key` ([`IdempotentRun`]) appends events whose
//! ids are derived from the key, the stream and the event's place in the command
//! ([`CommandContext::derived_event_id`]),
//! so two attempts of one keyed command can never both be recorded: the store refuses the second attempt's ids
//! (`DuplicateEventId`), and the command side answers it with the first attempt's outcome, read from the log.
//! Steps the command causes on other streams keep the key in their metadata but get ids of their own: they are
//! made idempotent by their causes instead.

use chrono::{DateTime, Utc};
use std::fmt::Debug;
use tally_store::Metadata;
use uuid::Uuid;

/// The metadata of one command, copied onto every event it appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    /// The request (or worker run) this command belongs to; shared by every event it causes, on every stream.
    pub correlation_id: Uuid,
    /// What directly caused the events: the command itself, or the event of another stream that led to it.
    pub causation_id: Uuid,
    /// Who: the authenticated API key (`apikey-{uuid}`, the stream that records its issuance), or a worker name
    /// such as `order-process`. Set by the server, never taken from the client.
    pub actor: String,
    /// The actor's name for people: the API key's name.
    pub actor_name: Option<String>,
    /// On whose behalf the client says it acts (`X-Actor`: a back-office user, a customer). Recorded as said,
    /// never trusted as the actor.
    pub claimed_actor: Option<String>,
    /// The client's `Idempotency-Key`, when the request had one.
    pub idempotency: Option<IdempotentRun>,
    /// The W3C trace id (32 hex digits).
    pub trace_id: String,
    /// Whether this is the keyed command's own context (its events get ids derived from the key), not the
    /// context of a step it caused on another stream.
    own_command: bool,
}

/// A command run under a client's `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRun {
    /// Whose key it is: keys are per API key (the authenticated caller's key id; empty outside HTTP requests).
    pub scope: String,
    pub key: String,
    /// An earlier attempt under this key ended without a recorded answer (a crash, a 5xx, a lost record) and may
    /// have appended: the command looks for that attempt's events before it reports a refusal or a no-op.
    pub earlier_attempt: bool,
}

impl IdempotentRun {
    /// A first attempt under `key`, in the empty scope (tests and callers outside HTTP).
    pub fn first(key: impl Into<String>) -> Self {
        IdempotentRun { scope: String::new(), key: key.into(), earlier_attempt: false }
    }
}

/// The namespace of event ids derived from idempotency keys (a version-5 UUID of its own).
const KEYED_EVENT_IDS: Uuid = Uuid::from_u128(0x6f1c_2a4e_93d7_4b0a_8e55_7a61_6c6c_7901);

impl CommandContext {
    /// A context with new ids: a command that is its own cause (a worker run, a test).
    pub fn new(actor: impl Into<String>) -> Self {
        let id = Uuid::now_v7();
        CommandContext {
            correlation_id: id,
            causation_id: id,
            actor: actor.into(),
            actor_name: None,
            claimed_actor: None,
            idempotency: None,
            trace_id: new_trace_id(),
            own_command: false,
        }
    }

    /// A context from what an HTTP request carries. `request_id` (`X-Request-Id`) is used as the correlation id
    /// when it is a UUID; `traceparent` gives the trace id when it is well formed. Anything absent or malformed is
    /// replaced by a new id, never refused: metadata must not make a command fail.
    pub fn from_request(
        actor: impl Into<String>,
        request_id: Option<&str>,
        traceparent: Option<&str>,
        idempotency: Option<IdempotentRun>,
    ) -> Self {
        let mut context = CommandContext::new(actor);
        if let Some(id) = request_id.and_then(|id| Uuid::parse_str(id.trim()).ok()) {
            context.correlation_id = id;
        }
        if let Some(trace_id) = traceparent.and_then(trace_id_of) {
            context.trace_id = trace_id;
        }
        context.own_command = idempotency.is_some();
        context.idempotency = idempotency;
        context
    }

    /// The context of a step caused by `event_id` (an event this command, or an earlier one, appended).
    #[must_use]
    pub fn caused_by(&self, event_id: Uuid) -> Self {
        CommandContext { causation_id: event_id, own_command: false, ..self.clone() }
    }

    /// The id of the `index`-th event this command appends to `stream_id`, derived from the idempotency key, for
    /// a keyed command's own events (so a second attempt's events collide with the first's); `None` otherwise
    /// (the event keeps the new id it was made with).
    pub fn derived_event_id(&self, stream_id: &str, index: usize) -> Option<Uuid> {
        let run = self.idempotency.as_ref().filter(|_| self.own_command)?;
        let name = format!("{}\0{}\0{}\0{}", run.scope, run.key, stream_id, index);
        Some(Uuid::new_v5(&KEYED_EVENT_IDS, name.as_bytes()))
    }

    /// Whether an earlier attempt of this keyed command may have appended (see [`IdempotentRun`]).
    pub(crate) fn earlier_attempt(&self) -> bool {
        self.own_command && self.idempotency.as_ref().is_some_and(|run| run.earlier_attempt)
    }

    /// The stored metadata of an event appended in this context.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            correlation_id: Some(self.correlation_id),
            causation_id: Some(self.causation_id),
            actor: Some(self.actor.clone()),
            actor_name: self.actor_name.clone(),
            claimed_actor: self.claimed_actor.clone(),
            idempotency_key: self.idempotency.as_ref().map(|run| run.key.clone()),
            trace_id: Some(self.trace_id.clone()),
        }
    }
}

/// The trace id of a W3C `traceparent` (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`), if valid.
fn trace_id_of(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace_id, parent_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let all_zero = trace_id.bytes().all(|b| b == b'0');
    if hex(version, 2) && hex(trace_id, 32) && hex(parent_id, 16) && hex(flags, 2) && !all_zero {
        Some(trace_id.to_ascii_lowercase())
    } else {
        None
    }
}

fn new_trace_id() -> String {
    Uuid::new_v4().simple().to_string()
}

/// Where the command side reads the time: the system clock in production, a hand-moved one in tests.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's UTC clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_context_keeps_a_uuid_request_id_and_the_trace_id() {
        let request_id = "0193a4b2-7c1e-7d3a-9f00-1234567890ab";
        let traceparent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
        let key = Some(IdempotentRun::first("k1"));
        let context = CommandContext::from_request("api", Some(request_id), Some(traceparent), key);
        assert_eq!(context.correlation_id.to_string(), request_id);
        assert_eq!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        let metadata = context.metadata();
        assert_eq!(metadata.idempotency_key.as_deref(), Some("k1"));
        assert_eq!(metadata.actor.as_deref(), Some("api"));
    }

    #[test]
    fn missing_or_malformed_ids_are_replaced_by_new_ones() {
        let context = CommandContext::from_request("api", Some("not-a-uuid"), Some("00-zz-00-01"), None);
        assert_eq!(context.trace_id.len(), 32);
        assert_ne!(context.correlation_id.to_string(), "not-a-uuid");
        let zero_trace = format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32));
        let context = CommandContext::from_request("api", None, Some(&zero_trace), None);
        assert_ne!(context.trace_id, "0".repeat(32));
    }

    #[test]
    fn a_caused_step_keeps_correlation_and_trace() {
        let parent = CommandContext::new("api");
        let event_id = Uuid::now_v7();
        let child = parent.caused_by(event_id);
        assert_eq!((child.correlation_id, child.trace_id.as_str()), (parent.correlation_id, parent.trace_id.as_str()));
        assert_eq!(child.causation_id, event_id);
    }

    #[test]
    fn a_keyed_command_derives_its_event_ids_and_its_caused_steps_do_not() {
        let keyed = |key: &str| CommandContext::from_request("api", None, None, Some(IdempotentRun::first(key)));
        let (first, again) = (keyed("k1"), keyed("k1"));
        let id = |context: &CommandContext, stream: &str, index| context.derived_event_id(stream, index);
        assert!(id(&first, "order-1", 0).is_some());
        assert_eq!(id(&first, "order-1", 0), id(&again, "order-1", 0), "the same key, the same ids");
        assert_ne!(id(&first, "order-1", 0), id(&first, "order-1", 1));
        assert_ne!(id(&first, "order-1", 0), id(&first, "order-2", 0));
        assert_ne!(id(&first, "order-1", 0), id(&keyed("k2"), "order-1", 0));
        let mut scoped = keyed("k1");
        scoped.idempotency.as_mut().unwrap().scope = "client-b".into();
        assert_ne!(id(&first, "order-1", 0), id(&scoped, "order-1", 0), "keys are per client");
        let caused = first.caused_by(Uuid::now_v7());
        assert_eq!(id(&caused, "inventory-A", 0), None, "new ids");
        assert_eq!(caused.metadata().idempotency_key.as_deref(), Some("k1"), "the key stays in the metadata");
        let plain = CommandContext::new("worker");
        assert_eq!(id(&plain, "order-1", 0), None);
    }
}

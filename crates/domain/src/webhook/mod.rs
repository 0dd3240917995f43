//! Webhooks: one `webhook` aggregate per subscription (stream `webhook-{uuid}`).
//!
//! Subscribing, rotating the secret, pausing, resuming, asking for a replay and deleting are events, so the log
//! says who sent which events where, from when, and why deliveries stopped (issue #14; docs/decisions.md,
//! 2026-12-05). The signing secret is never part of the domain or the log: the caller makes it and keeps it beside
//! the log, as it does an API key's hash. Whether a URL may be delivered to (its scheme, the addresses it resolves
//! to) needs the network, so the caller checks it (`tally-webhooks`' egress policy); the domain keeps the rules that
//! need none.
//!
//! Rules (all in [`decide`]):
//! - a subscription is made once, with a URL (1 to [`URL_MAX_CHARS`] characters, no whitespace or control
//!   characters), the event types it wants (none: every type; at most [`MAX_EVENT_TYPES`], each a word of 1 to 64
//!   ASCII letters and digits, listed once) and an optional stream prefix (1 to 200 characters, no control
//!   characters);
//! - a deleted subscription stays deleted: every other command on it is refused, and deleting it again records
//!   nothing;
//! - pausing records why (1 to [`REASON_MAX_CHARS`] characters); pausing a paused subscription or resuming an active
//!   one records nothing;
//! - a replay names the position after which deliveries start again.

mod decide;
mod evolve;
#[cfg(test)]
mod tests;

pub use decide::decide;
pub use evolve::evolve;

use crate::aggregate::{Aggregate, Event};
use crate::values::WebhookId;
use serde::{Deserialize, Serialize};

/// The longest target URL accepted, in characters.
pub const URL_MAX_CHARS: usize = 2048;
/// The most event types one subscription may list.
pub const MAX_EVENT_TYPES: usize = 64;
/// The longest pause reason kept, in characters.
pub const REASON_MAX_CHARS: usize = 500;
/// The longest stream prefix, in characters.
pub const STREAM_PREFIX_MAX_CHARS: usize = 200;

/// The state of one `webhook-{uuid}` stream. Serialized as `null` before the subscription, else as its details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Webhook {
    #[default]
    Unsubscribed,
    Subscribed(WebhookDetails),
}

/// A subscription as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookDetails {
    pub webhook_id: WebhookId,
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub stream_prefix: Option<String>,
    /// Why deliveries are paused, while they are.
    pub paused: Option<String>,
    pub deleted: bool,
    /// How many times the secret was rotated.
    pub rotations: u32,
}

impl Webhook {
    /// The details of a subscription (deleted or not).
    pub fn details(&self) -> Option<&WebhookDetails> {
        match self {
            Webhook::Unsubscribed => None,
            Webhook::Subscribed(details) => Some(details),
        }
    }
}

impl WebhookDetails {
    /// Whether an event of `event_type` on stream `stream_id` is delivered to this subscription.
    pub fn wants(&self, stream_id: &str, event_type: &str) -> bool {
        let type_wanted = self.event_types.is_empty() || self.event_types.iter().any(|wanted| wanted == event_type);
        let stream_wanted = self.stream_prefix.as_deref().is_none_or(|prefix| stream_id.starts_with(prefix));
        type_wanted && stream_wanted
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookCommand {
    Subscribe {
        webhook_id: WebhookId,
        url: String,
        event_types: Vec<String>,
        stream_prefix: Option<String>,
    },
    /// The new secret itself is the caller's; the event says only that it changed.
    RotateSecret,
    Pause {
        reason: String,
    },
    Resume,
    /// Deliver again every wanted event after this global log position.
    Replay {
        after: u64,
    },
    Delete,
}

/// The webhook events. The subscription's id is in the stream name (`webhook-{uuid}`) and, for convenience, in the
/// first event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WebhookEvent {
    WebhookSubscribed { webhook_id: WebhookId, url: String, event_types: Vec<String>, stream_prefix: Option<String> },
    WebhookSecretRotated {},
    WebhookPaused { reason: String },
    WebhookResumed {},
    WebhookReplayRequested { after: u64 },
    WebhookDeleted {},
}

impl Event for WebhookEvent {
    fn event_type(&self) -> &'static str {
        match self {
            WebhookEvent::WebhookSubscribed { .. } => "WebhookSubscribed",
            WebhookEvent::WebhookSecretRotated {} => "WebhookSecretRotated",
            WebhookEvent::WebhookPaused { .. } => "WebhookPaused",
            WebhookEvent::WebhookResumed {} => "WebhookResumed",
            WebhookEvent::WebhookReplayRequested { .. } => "WebhookReplayRequested",
            WebhookEvent::WebhookDeleted {} => "WebhookDeleted",
        }
    }

    fn schema_version(&self) -> u16 {
        1
    }
}

/// Why a webhook command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook {webhook_id} is already subscribed")]
    AlreadySubscribed { webhook_id: WebhookId },
    #[error("webhook is not subscribed")]
    NotSubscribed,
    #[error("webhook is deleted")]
    Deleted,
    #[error("url must be 1 to {max} characters without whitespace or control characters")]
    InvalidUrl { max: usize },
    #[error("event type {0:?} is not an event type name (1 to 64 ASCII letters and digits)")]
    InvalidEventType(String),
    #[error("event type {0} is listed twice")]
    DuplicateEventType(String),
    #[error("at most {max} event types")]
    TooManyEventTypes { max: usize },
    #[error("stream prefix must be 1 to {max} characters without control characters")]
    InvalidStreamPrefix { max: usize },
    #[error("pause reason must be 1 to {max} characters")]
    InvalidReason { max: usize },
}

impl Aggregate for Webhook {
    const STREAM_PREFIX: &'static str = "webhook-";
    type Id = WebhookId;
    type State = Webhook;
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    type Error = WebhookError;

    fn decide(state: &Webhook, command: WebhookCommand) -> Result<Vec<WebhookEvent>, WebhookError> {
        decide(state, command)
    }

    fn evolve(state: Webhook, event: &WebhookEvent) -> Webhook {
        evolve(state, event)
    }
}

//! Access: one `apikey` aggregate per API key (stream `apikey-{uuid}`), and the roles a key can hold.
//!
//! Issuing and revoking a key are events, so the log says who held which access when (an auditor reads the
//! stream; the actor of every other event names the key that wrote it). The secret itself is never part of the
//! domain or the log: the HTTP layer makes it and keeps only its hash, beside the log. The events carry a `hint`
//! (the secret's last characters, as Stripe shows them) so a person can tell keys apart.
//!
//! Rules (all in [`decide`]):
//! - a key is issued once, with a name (trimmed, 1 to [`KEY_NAME_MAX_CHARS`] characters, no control characters)
//!   and one [`Role`];
//! - revoking is final; revoking a revoked key records nothing (a retried revocation is not an error);
//! - a key never issued cannot be revoked.

mod decide;
mod evolve;
#[cfg(test)]
mod tests;

pub use decide::decide;
pub use evolve::evolve;

use crate::aggregate::{Aggregate, Event};
use crate::names::named_enum;
use crate::values::ApiKeyId;
use serde::{Deserialize, Serialize};

/// The longest key name accepted, in characters (after trimming).
pub const KEY_NAME_MAX_CHARS: usize = 100;

named_enum! {
    /// What a key may do: each role is a set of routes (the HTTP layer's table says which).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Role ("role") {
        /// A shop's front end: place, pay and cancel orders; read products, stock and an order.
        Storefront = "storefront",
        /// The back office: the catalog, stock, every order command, every query.
        Operations = "operations",
        /// Every query and analytics endpoint; nothing that writes, no audit.
        Analyst = "analyst",
        /// The audit API and the queries; writes nothing but digests.
        Auditor = "auditor",
        /// Everything, keys included.
        Admin = "admin",
    }
}

/// The state of one `apikey-{uuid}` stream. Serialized as `null` before issuance, else as its details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ApiKey {
    #[default]
    Unissued,
    Issued(ApiKeyDetails),
}

/// An issued key as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyDetails {
    pub key_id: ApiKeyId,
    pub name: String,
    pub role: Role,
    pub hint: String,
    pub revoked: bool,
}

impl ApiKey {
    /// The details of an issued key (revoked or not).
    pub fn details(&self) -> Option<&ApiKeyDetails> {
        match self {
            ApiKey::Unissued => None,
            ApiKey::Issued(details) => Some(details),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyCommand {
    /// `hint`: the last characters of the secret, made by the caller with the secret.
    IssueKey {
        key_id: ApiKeyId,
        name: String,
        role: Role,
        hint: String,
    },
    RevokeKey,
}

/// The access events. The key id is in the stream name (`apikey-{uuid}`) and, for convenience, in the first
/// event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ApiKeyEvent {
    /// `name` is stored trimmed.
    ApiKeyIssued {
        key_id: ApiKeyId,
        name: String,
        role: Role,
        hint: String,
    },
    ApiKeyRevoked {},
}

impl Event for ApiKeyEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ApiKeyEvent::ApiKeyIssued { .. } => "ApiKeyIssued",
            ApiKeyEvent::ApiKeyRevoked {} => "ApiKeyRevoked",
        }
    }

    fn schema_version(&self) -> u16 {
        match self {
            ApiKeyEvent::ApiKeyIssued { .. } | ApiKeyEvent::ApiKeyRevoked {} => 1,
        }
    }
}

/// Why a key command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("api key {key_id} is already issued")]
    AlreadyIssued { key_id: ApiKeyId },
    #[error("api key is not issued")]
    NotIssued,
    #[error("key name must not be empty")]
    EmptyName,
    #[error("key name must be at most {max} characters")]
    NameTooLong { max: usize },
    #[error("key name must not contain control characters")]
    ControlCharacterInName,
}

impl Aggregate for ApiKey {
    const STREAM_PREFIX: &'static str = "apikey-";
    type Id = ApiKeyId;
    type State = ApiKey;
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Error = AccessError;

    fn decide(state: &ApiKey, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, AccessError> {
        decide(state, command)
    }

    fn evolve(state: ApiKey, event: &ApiKeyEvent) -> ApiKey {
        evolve(state, event)
    }
}

//! Making a subscription and rotating its secret, for `POST /v1/webhooks` and `POST /v1/webhooks/{id}/secret`.
//!
//! Both make the secret and store it in `webhook_secrets` first, then append the event. In that order: a crash in
//! between leaves a secret no subscription uses (a new one), or a rotated secret nobody was shown while the old one
//! still signs beside it for 24 hours (a rotation; the caller, who got no answer, rotates again). A rotation whose
//! event is refused (a concurrent change: 412) puts the secrets back as they were. The URL passes the egress
//! policy, and the rest the domain's rules, before anything is written.

use sqlx::PgPool;
use tally_commands::{CommandContext, CommandError, Commands, WebhookOutcome};
use tally_domain::{Aggregate, Webhook, WebhookCommand, WebhookId};
use uuid::Uuid;

use crate::egress::{EgressError, EgressPolicy};
use crate::signature::SigningSecret;
use crate::storage;

/// A secret just made, with what the log recorded.
pub struct WithSecret {
    pub webhook_id: WebhookId,
    pub secret: SigningSecret,
    pub outcome: WebhookOutcome,
}

impl std::fmt::Debug for WithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithSecret").field("webhook_id", &self.webhook_id).finish_non_exhaustive()
    }
}

/// Why a subscription was not made or its secret not rotated.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The URL may not be delivered to.
    #[error(transparent)]
    Egress(#[from] EgressError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("cannot store the signing secret")]
    Database(#[from] sqlx::Error),
    #[error("the operating system's random generator failed")]
    Random(#[from] getrandom::Error),
}

/// What a new subscription asks for.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub stream_prefix: Option<String>,
}

/// Makes a subscription, in `context` (whose actor is the subscriber).
pub async fn subscribe(
    pool: &PgPool,
    commands: &Commands,
    context: &CommandContext,
    policy: &EgressPolicy,
    new: NewSubscription,
) -> Result<WithSecret, ManageError> {
    let webhook_id = WebhookId::from_uuid(Uuid::now_v7());
    let command = WebhookCommand::Subscribe {
        webhook_id,
        url: new.url.clone(),
        event_types: new.event_types,
        stream_prefix: new.stream_prefix,
    };
    // The domain's rules, then the network's, so a refused subscription leaves nothing behind.
    tally_domain::webhook::decide(&Webhook::Unsubscribed, command.clone())
        .map_err(|error| CommandError::Domain(error.into()))?;
    let url = policy.parse_url(&new.url)?;
    policy.resolve(&url).await?;
    let secret = SigningSecret::generate()?;
    storage::insert_secret(pool, webhook_id, &secret).await?;
    let outcome = commands.webhook_command(context, webhook_id, command, None).await?;
    Ok(WithSecret { webhook_id, secret, outcome })
}

/// Rotates the subscription's secret, if its stream is at `expected` (when given).
pub async fn rotate_secret(
    pool: &PgPool,
    commands: &Commands,
    context: &CommandContext,
    webhook_id: WebhookId,
    expected: Option<u64>,
) -> Result<WithSecret, ManageError> {
    let current = commands.webhook(webhook_id).await?;
    if let Some(expected) = expected.filter(|expected| Some(*expected) != current.version) {
        let stream_id = Webhook::stream_id(&webhook_id);
        return Err(CommandError::VersionMismatch { stream_id, expected, actual: current.version }.into());
    }
    // Refused (unknown, deleted) before a secret is made.
    tally_domain::webhook::decide(&current.state, WebhookCommand::RotateSecret)
        .map_err(|error| CommandError::Domain(error.into()))?;
    let secret = SigningSecret::generate()?;
    let before = storage::rotate_secret(pool, webhook_id, &secret).await?;
    match commands.webhook_command(context, webhook_id, WebhookCommand::RotateSecret, current.version).await {
        Ok(outcome) => Ok(WithSecret { webhook_id, secret, outcome }),
        Err(error) => {
            // Not recorded (a concurrent change, say): the secrets go back to what they were, so the one the
            // caller holds keeps signing. (A crash right here leaves the new one in place: see the module doc.)
            if let Some(before) = before {
                storage::undo_rotation(pool, webhook_id, &secret, &before).await?;
            }
            Err(error.into())
        }
    }
}

//! The webhook commands: subscribe, rotate the secret, pause, resume, replay, delete. The signing secret is made
//! and stored by the caller; the URL's egress check (which needs the network) is the caller's too. The command
//! side records the subscription's history in its `webhook-{uuid}` stream.

use tally_domain::{Aggregate, Webhook, WebhookCommand, WebhookId};
use tracing::instrument;

use crate::context::CommandContext;
use crate::engine::{Commands, WebhookOutcome};
use crate::error::CommandError;
use crate::stream::Snapshot;

impl Commands {
    /// Runs `command` on subscription `webhook_id`, if its stream is at `expected` (when given).
    #[instrument(skip_all, fields(webhook.id = %webhook_id))]
    pub async fn webhook_command(
        &self,
        context: &CommandContext,
        webhook_id: WebhookId,
        command: WebhookCommand,
        expected: Option<u64>,
    ) -> Result<WebhookOutcome, CommandError> {
        self.webhooks.execute(&Webhook::stream_id(&webhook_id), command, expected, context).await
    }

    /// A subscription's current state and version.
    pub async fn webhook(&self, webhook_id: WebhookId) -> Result<Snapshot<Webhook>, CommandError> {
        self.webhooks.load(&Webhook::stream_id(&webhook_id)).await
    }
}

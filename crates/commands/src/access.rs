//! The access commands: issue an API key, revoke it. The secret is made and hashed by the caller (the HTTP
//! layer); the command side records who may do what, in the key's `apikey-{uuid}` stream.

use tally_domain::{Aggregate, ApiKey, ApiKeyCommand, ApiKeyId, Role};
use tracing::instrument;

use crate::context::CommandContext;
use crate::engine::{ApiKeyOutcome, Commands};
use crate::error::CommandError;
use crate::stream::Snapshot;

impl Commands {
    /// Records a new key `key_id` with `name` and `role`. `hint`: the secret's last characters, for people.
    #[instrument(skip_all, fields(api_key.id = %key_id, api_key.role = %role))]
    pub async fn issue_api_key(
        &self,
        context: &CommandContext,
        key_id: ApiKeyId,
        name: String,
        role: Role,
        hint: String,
    ) -> Result<ApiKeyOutcome, CommandError> {
        let command = ApiKeyCommand::IssueKey { key_id, name, role, hint };
        self.keys.execute(&ApiKey::stream_id(&key_id), command, None, context).await
    }

    /// Revokes a key: final. Revoking a revoked key records nothing.
    #[instrument(skip_all, fields(api_key.id = %key_id))]
    pub async fn revoke_api_key(
        &self,
        context: &CommandContext,
        key_id: ApiKeyId,
        expected: Option<u64>,
    ) -> Result<ApiKeyOutcome, CommandError> {
        self.keys.execute(&ApiKey::stream_id(&key_id), ApiKeyCommand::RevokeKey, expected, context).await
    }

    /// A key's current state and version.
    pub async fn api_key(&self, key_id: ApiKeyId) -> Result<Snapshot<ApiKey>, CommandError> {
        self.keys.load(&ApiKey::stream_id(&key_id)).await
    }
}

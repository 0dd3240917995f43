//! Issuing an API key, for `POST /v1/keys` and `tally keys create` alike.
//!
//! Issuing makes the secret, stores its hash in `api_key_secrets`, then appends `ApiKeyIssued` to the key's
//! stream. In that order: a crash in between leaves a hash without an event, a key that never came to exist and
//! never authenticates (the registry only knows keys the log issued). The name and role are checked by the domain
//! before anything is written.

use sqlx::PgPool;
use tally_commands::{ApiKeyOutcome, CommandContext, CommandError, Commands};
use tally_domain::{ApiKey, ApiKeyCommand, ApiKeyId, Role};
use uuid::Uuid;

use super::secret;

/// A key just issued: its secret, shown once, and what the log recorded.
pub struct IssuedKey {
    pub key_id: ApiKeyId,
    pub secret: String,
    pub outcome: ApiKeyOutcome,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Why a key was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("cannot store the key's hash")]
    Database(#[from] sqlx::Error),
    #[error("the operating system's random generator failed")]
    Random(#[from] getrandom::Error),
}

/// Issues a key named `name` with `role`, in `context` (whose actor is the issuer).
pub async fn issue_key(
    pool: &PgPool,
    commands: &Commands,
    context: &CommandContext,
    name: String,
    role: Role,
) -> Result<IssuedKey, IssueError> {
    let key_id = ApiKeyId::from_uuid(Uuid::now_v7());
    let new = secret::generate()?;
    let command = ApiKeyCommand::IssueKey { key_id, name: name.clone(), role, hint: new.hint.clone() };
    // The domain's rules first, so a refused name leaves nothing behind.
    tally_domain::access::decide(&ApiKey::Unissued, command).map_err(|e| CommandError::Domain(e.into()))?;
    sqlx::query("insert into api_key_secrets (key_id, secret_sha256) values ($1, $2)")
        .bind(key_id.as_uuid())
        .bind(new.hash.as_slice())
        .execute(pool)
        .await?;
    let outcome = commands.issue_api_key(context, key_id, name, role, new.hint).await?;
    Ok(IssuedKey { key_id, secret: new.secret, outcome })
}

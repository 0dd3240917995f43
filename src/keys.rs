//! `tally keys create|list|revoke`: API keys from the command line, for the operator who holds the database's
//! credentials (the first admin key of a new deployment is made this way). Keys are issued and revoked through
//! the same code as `/v1/keys`; the events record the actor `cli`.

use anyhow::{Context, Result};
use sqlx::PgPool;
use std::sync::Arc;
use tally_api::auth::issue::issue_key;
use tally_api::auth::{KeyRecord, KeyRegistry};
use tally_commands::{CommandConfig, CommandContext, Commands};
use tally_domain::{ApiKeyId, Role};
use tally_store::EventStore;

/// The actor of keys issued and revoked from the command line.
const CLI_ACTOR: &str = "cli";

/// Issues a key and prints its secret, alone, on the last line.
pub async fn create(store: Arc<dyn EventStore>, pool: PgPool, role: Role, name: String) -> Result<()> {
    let commands = Commands::new(store, CommandConfig::default());
    let issued = issue_key(&pool, &commands, &CommandContext::new(CLI_ACTOR), name.clone(), role)
        .await
        .context("issue the key")?;
    println!("issued key {} ({role}) named {name:?}; its secret is shown this once, below:", issued.key_id);
    println!("{}", issued.secret);
    Ok(())
}

/// Prints every key as a table (never a secret or a hash).
pub async fn list(store: Arc<dyn EventStore>, pool: PgPool) -> Result<()> {
    let registry = KeyRegistry::new(store, pool);
    registry.refresh().await.context("read the keys from the log")?;
    registry.load_usage().await.context("read when the keys were last used")?;
    let keys = registry.list().await.context("read the keys from the log")?;
    println!("{:<36}  {:<10}  {:<20}  {:<20}  {:<20}  NAME", "ID", "ROLE", "CREATED", "LAST USED", "REVOKED");
    for key in &keys {
        println!("{}", row(key));
    }
    Ok(())
}

/// Revokes a key.
pub async fn revoke(store: Arc<dyn EventStore>, key_id: ApiKeyId) -> Result<()> {
    let commands = Commands::new(store, CommandConfig::default());
    let outcome = commands.revoke_api_key(&CommandContext::new(CLI_ACTOR), key_id, None).await;
    let outcome = outcome.with_context(|| format!("revoke key {key_id}"))?;
    if outcome.events.is_empty() {
        println!("key {key_id} was already revoked");
    } else {
        println!("revoked key {key_id}; every node refuses it within about a second");
    }
    Ok(())
}

fn row(key: &KeyRecord) -> String {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(|| "-".to_owned(), |at| at.format("%Y-%m-%d %H:%M:%S").to_string())
    };
    format!(
        "{:<36}  {:<10}  {:<20}  {:<20}  {:<20}  {}",
        key.id,
        key.role,
        time(Some(key.created_at)),
        time(key.last_used_at),
        time(key.revoked_at),
        key.name
    )
}

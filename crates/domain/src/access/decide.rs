//! The access decider: every rule about issuing and revoking an API key.

use super::{AccessError, ApiKey, ApiKeyCommand, ApiKeyEvent, KEY_NAME_MAX_CHARS};

/// Accepts a key command with the events it causes, or refuses it with the rule it breaks.
pub fn decide(state: &ApiKey, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, AccessError> {
    match command {
        ApiKeyCommand::IssueKey { key_id, name, role, hint } => {
            if state.details().is_some() {
                return Err(AccessError::AlreadyIssued { key_id });
            }
            let name = valid_name(&name)?;
            Ok(vec![ApiKeyEvent::ApiKeyIssued { key_id, name, role, hint }])
        }
        ApiKeyCommand::RevokeKey => match state.details() {
            None => Err(AccessError::NotIssued),
            Some(details) if details.revoked => Ok(Vec::new()),
            Some(_) => Ok(vec![ApiKeyEvent::ApiKeyRevoked {}]),
        },
    }
}

/// The name trimmed, if it is not empty, not too long and free of control characters (NUL among them).
fn valid_name(name: &str) -> Result<String, AccessError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AccessError::EmptyName);
    }
    if name.chars().count() > KEY_NAME_MAX_CHARS {
        return Err(AccessError::NameTooLong { max: KEY_NAME_MAX_CHARS });
    }
    if name.chars().any(char::is_control) {
        return Err(AccessError::ControlCharacterInName);
    }
    Ok(name.to_owned())
}

//! The access evolve: applies a recorded key event to the key's state. Checks nothing, never fails.

use super::{ApiKey, ApiKeyDetails, ApiKeyEvent};

/// Applies one recorded fact. An event that cannot follow the current state (which `decide` never produces) leaves
/// the state as it is.
pub fn evolve(state: ApiKey, event: &ApiKeyEvent) -> ApiKey {
    match (state, event) {
        (ApiKey::Unissued, ApiKeyEvent::ApiKeyIssued { key_id, name, role, hint }) => ApiKey::Issued(ApiKeyDetails {
            key_id: *key_id,
            name: name.clone(),
            role: *role,
            hint: hint.clone(),
            revoked: false,
        }),
        (ApiKey::Issued(details), ApiKeyEvent::ApiKeyRevoked {}) => {
            ApiKey::Issued(ApiKeyDetails { revoked: true, ..details })
        }
        (state, _) => state,
    }
}

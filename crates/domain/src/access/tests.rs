//! Given/when/then tests of every access rule.

use super::*;
use crate::testing::{self, Given};
use uuid::Uuid;

fn given(events: &[ApiKeyEvent]) -> Given<ApiKey> {
    testing::given(events)
}

fn key_id() -> ApiKeyId {
    ApiKeyId::from_uuid(Uuid::from_u128(0x0193_a4b2_0000_7000_8000_0000_0000_00aa))
}

fn issue(name: &str, role: Role) -> ApiKeyCommand {
    ApiKeyCommand::IssueKey { key_id: key_id(), name: name.to_owned(), role, hint: "x7Qa".to_owned() }
}

fn issued(name: &str, role: Role) -> ApiKeyEvent {
    ApiKeyEvent::ApiKeyIssued { key_id: key_id(), name: name.to_owned(), role, hint: "x7Qa".to_owned() }
}

#[test]
fn issuing_a_key_records_its_name_role_and_hint() {
    let state = given(&[]).when(issue("  web shop  ", Role::Storefront)).then(&[issued("web shop", Role::Storefront)]);
    let details = state.details().unwrap();
    assert_eq!((details.name.as_str(), details.role, details.revoked), ("web shop", Role::Storefront, false));
}

#[test]
fn a_key_is_issued_once() {
    given(&[issued("web shop", Role::Storefront)])
        .when(issue("web shop", Role::Admin))
        .then_err(|e| matches!(e, AccessError::AlreadyIssued { .. }));
}

#[test]
fn a_key_name_is_not_empty_not_too_long_and_has_no_control_characters() {
    given(&[]).when(issue("   ", Role::Analyst)).then_err(|e| matches!(e, AccessError::EmptyName));
    let long = "k".repeat(KEY_NAME_MAX_CHARS + 1);
    given(&[]).when(issue(&long, Role::Analyst)).then_err(|e| matches!(e, AccessError::NameTooLong { .. }));
    given(&[]).when(issue("a\u{0}b", Role::Analyst)).then_err(|e| matches!(e, AccessError::ControlCharacterInName));
    given(&[])
        .when(issue(&"k".repeat(KEY_NAME_MAX_CHARS), Role::Analyst))
        .then(&[issued(&"k".repeat(KEY_NAME_MAX_CHARS), Role::Analyst)]);
}

#[test]
fn revoking_a_key_is_final_and_a_second_revocation_records_nothing() {
    let state = given(&[issued("web shop", Role::Storefront)])
        .when(ApiKeyCommand::RevokeKey)
        .then(&[ApiKeyEvent::ApiKeyRevoked {}]);
    assert!(state.details().unwrap().revoked);
    given(&[issued("web shop", Role::Storefront), ApiKeyEvent::ApiKeyRevoked {}])
        .when(ApiKeyCommand::RevokeKey)
        .then_nothing();
}

#[test]
fn a_key_never_issued_cannot_be_revoked() {
    given(&[]).when(ApiKeyCommand::RevokeKey).then_err(|e| matches!(e, AccessError::NotIssued));
}

#[test]
fn roles_read_and_print_as_their_names() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
    }
    assert!("root".parse::<Role>().is_err());
}

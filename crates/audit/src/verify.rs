//! A hash-chain verification as auditors read it: `GET /v1/audit/verify` answers it and `tally verify` prints it.
//! The verification itself is the store's (`EventStore::verify_*`); these are its JSON shapes.

use serde::Serialize;
use tally_store::{BreakKind, ChainBreak, EventHash, Verification};

/// One broken place, as JSON.
#[derive(Debug, Serialize)]
pub struct BreakView {
    stream_id: String,
    version: u64,
    /// `hash_mismatch`, `missing` or `head_mismatch` (docs/hash-chain.md).
    kind: &'static str,
    /// For `missing`: how many versions from `version` on are absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    /// For `head_mismatch`: the version the stream head records (`null`: the head row is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    head_version: Option<Option<u64>>,
    expected: Option<EventHash>,
    found: Option<EventHash>,
}

impl From<&ChainBreak> for BreakView {
    fn from(broken: &ChainBreak) -> Self {
        let (kind, count, head_version) = match broken.kind {
            BreakKind::HashMismatch => ("hash_mismatch", None, None),
            BreakKind::Missing { count } => ("missing", Some(count), None),
            BreakKind::HeadMismatch { head_version } => ("head_mismatch", None, Some(head_version)),
        };
        BreakView {
            stream_id: broken.stream_id.clone(),
            version: broken.version,
            kind,
            count,
            head_version,
            expected: broken.expected,
            found: broken.found,
        }
    }
}

/// The body of `GET /v1/audit/verify`.
#[derive(Debug, Serialize)]
pub struct VerificationView {
    streams_checked: u64,
    events_checked: u64,
    intact: bool,
    breaks: Vec<BreakView>,
}

impl From<&Verification> for VerificationView {
    fn from(verification: &Verification) -> Self {
        VerificationView {
            streams_checked: verification.streams_checked,
            events_checked: verification.events_checked,
            intact: verification.is_intact(),
            breaks: verification.breaks.iter().map(BreakView::from).collect(),
        }
    }
}

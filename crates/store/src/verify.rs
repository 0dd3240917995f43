//! Hash-chain verification: walks a stream's stored events in version order, recomputes each hash, compares the
//! end of the chain with the stream head recorded at append time, and reports every broken place.
//!
//! Adapters only fetch the stored rows ([`ChainLink`]s) and heads; the checking is this one piece of code, so every
//! adapter judges a chain the same way.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt;
use uuid::Uuid;

use crate::hash::{canonical_json, EventHash, HashInput};

/// What is wrong at a place in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// The stored hash is not `SHA-256(previous stored hash || this event's canonical bytes)`: the event (a field,
    /// its data or its metadata) was changed, or the previous event's hash was rewritten to hide a change.
    /// `expected` is the recomputed hash, `found` the stored one.
    HashMismatch,
    /// `count` versions starting at this one are missing: events were deleted. When the missing versions end the
    /// stream (the head recorded at append time is later than the last stored event), `expected` is the hash the
    /// head records for the last of them.
    Missing { count: u64 },
    /// The stream head recorded at append time disagrees with the last stored event (`version`): events were
    /// added behind the store's back, the head row was removed (`head_version: None`) or the last hash rewritten.
    /// `expected` is the head's hash, `found` the last stored event's.
    HeadMismatch { head_version: Option<u64> },
}

/// One broken place in a stream's hash chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub stream_id: String,
    pub version: u64,
    pub kind: BreakKind,
    pub expected: Option<EventHash>,
    pub found: Option<EventHash>,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hash = |h: &Option<EventHash>| h.map_or_else(|| "-".to_owned(), |h| h.to_hex());
        write!(
            f,
            "stream {} version {}: {:?}, expected hash {}, found hash {}",
            self.stream_id,
            self.version,
            self.kind,
            hash(&self.expected),
            hash(&self.found)
        )
    }
}

/// The outcome of verifying one stream or the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub streams_checked: u64,
    pub events_checked: u64,
    /// Every broken place found, by stream then version.
    pub breaks: Vec<ChainBreak>,
}

impl Verification {
    /// No break anywhere.
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }

    pub(crate) fn add_stream(&mut self, stream: StreamVerifier, head: Option<StreamHead>) {
        self.streams_checked += 1;
        self.events_checked += stream.events_checked;
        self.breaks.extend(stream.finish(head));
    }
}

/// How far a verification of the whole store got: events and streams checked so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyProgress {
    pub events_checked: u64,
    pub streams_checked: u64,
}

/// A progress report nobody watches: for [`EventStore::verify_all`](crate::EventStore::verify_all) without a bar.
pub fn no_progress(_: VerifyProgress) {}

/// A stream's head as the store records it at each append: the last version and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamHead {
    pub(crate) version: u64,
    pub(crate) hash: EventHash,
}

/// A stored event as verification sees it. Data and metadata are the stored JSON values (not the typed
/// metadata), so a key added behind the store's back is hashed too.
#[derive(Debug, Clone)]
pub(crate) struct ChainLink {
    pub(crate) event_id: Uuid,
    pub(crate) stream_version: u64,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) data: Value,
    pub(crate) metadata: Value,
    pub(crate) hash: EventHash,
}

/// Checks one stream's links, fed in increasing version order.
#[derive(Debug)]
pub(crate) struct StreamVerifier {
    stream_id: String,
    next_version: u64,
    previous: EventHash,
    events_checked: u64,
    breaks: Vec<ChainBreak>,
}

impl StreamVerifier {
    pub(crate) fn new(stream_id: impl Into<String>) -> Self {
        StreamVerifier {
            stream_id: stream_id.into(),
            next_version: 0,
            previous: EventHash::GENESIS,
            events_checked: 0,
            breaks: Vec::new(),
        }
    }

    pub(crate) fn stream_id(&self) -> &str {
        &self.stream_id
    }

    pub(crate) fn push(&mut self, link: &ChainLink) {
        self.events_checked += 1;
        if link.stream_version > self.next_version {
            // A gap: the missing event's hash is unknown, so this link cannot be checked against its
            // predecessor. The chain resumes from its stored hash, so one deletion is reported once.
            let count = link.stream_version - self.next_version;
            self.report(self.next_version, BreakKind::Missing { count }, None, None);
        } else {
            let recomputed = HashInput {
                event_id: link.event_id,
                stream_id: &self.stream_id,
                stream_version: link.stream_version,
                event_type: &link.event_type,
                schema_version: link.schema_version,
                recorded_at: link.recorded_at,
                data_json: &canonical_json(&link.data),
                metadata_json: &canonical_json(&link.metadata),
            }
            .hash(&self.previous);
            if recomputed != link.hash {
                self.report(link.stream_version, BreakKind::HashMismatch, Some(recomputed), Some(link.hash));
            }
        }
        // The next link is checked against this stored hash, so a single altered event is a single break.
        self.previous = link.hash;
        self.next_version = link.stream_version + 1;
    }

    /// Compares the end of the chain with the recorded head and returns every break found.
    pub(crate) fn finish(mut self, head: Option<StreamHead>) -> Vec<ChainBreak> {
        let last = self.next_version.checked_sub(1).filter(|_| self.events_checked > 0);
        match (last, head) {
            (None, None) => {}
            (None, Some(head)) => {
                self.report(0, BreakKind::Missing { count: head.version + 1 }, Some(head.hash), None);
            }
            (Some(last), None) => {
                let kind = BreakKind::HeadMismatch { head_version: None };
                self.report(last, kind, None, Some(self.previous));
            }
            (Some(last), Some(head)) if head.version > last => {
                let kind = BreakKind::Missing { count: head.version - last };
                self.report(last + 1, kind, Some(head.hash), None);
            }
            (Some(last), Some(head)) if head.version < last || head.hash != self.previous => {
                let kind = BreakKind::HeadMismatch { head_version: Some(head.version) };
                self.report(last, kind, Some(head.hash), Some(self.previous));
            }
            (Some(_), Some(_)) => {}
        }
        self.breaks
    }

    fn report(&mut self, version: u64, kind: BreakKind, expected: Option<EventHash>, found: Option<EventHash>) {
        let stream_id = self.stream_id.clone();
        self.breaks.push(ChainBreak { stream_id, version, kind, expected, found });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(stream_id: &str, length: u64) -> Vec<ChainLink> {
        let mut previous = EventHash::GENESIS;
        let mut links = Vec::new();
        for version in 0..length {
            let mut link = ChainLink {
                event_id: Uuid::from_u128(u128::from(version) + 1),
                stream_version: version,
                event_type: "Happened".to_owned(),
                schema_version: 1,
                recorded_at: DateTime::from_timestamp_micros(1_000_000 + i64::try_from(version).unwrap_or(0))
                    .unwrap_or_default(),
                data: json!({"n": version}),
                metadata: json!({}),
                hash: EventHash::GENESIS,
            };
            link.hash = HashInput {
                event_id: link.event_id,
                stream_id,
                stream_version: version,
                event_type: &link.event_type,
                schema_version: 1,
                recorded_at: link.recorded_at,
                data_json: &canonical_json(&link.data),
                metadata_json: "{}",
            }
            .hash(&previous);
            previous = link.hash;
            links.push(link);
        }
        links
    }

    fn verify(links: &[ChainLink], head: Option<StreamHead>) -> Vec<ChainBreak> {
        let mut verifier = StreamVerifier::new("s");
        for link in links {
            verifier.push(link);
        }
        verifier.finish(head)
    }

    fn head_of(links: &[ChainLink]) -> Option<StreamHead> {
        links.last().map(|l| StreamHead { version: l.stream_version, hash: l.hash })
    }

    #[test]
    fn an_intact_chain_has_no_breaks() {
        let links = chain("s", 5);
        assert_eq!(verify(&links, head_of(&links)), vec![]);
        assert_eq!(verify(&[], None), vec![]);
    }

    #[test]
    fn an_altered_event_is_the_only_break() {
        let mut links = chain("s", 5);
        let head = head_of(&links);
        links[2].data = json!({"n": 99});
        let breaks = verify(&links, head);
        assert_eq!(breaks.len(), 1);
        assert_eq!((breaks[0].version, breaks[0].kind), (2, BreakKind::HashMismatch));
        assert_eq!(breaks[0].found, Some(links[2].hash));
    }

    #[test]
    fn deletions_are_named_by_version() {
        let links = chain("s", 6);
        let head = head_of(&links);
        let kept: Vec<ChainLink> = links.iter().filter(|l| ![2, 3, 5].contains(&l.stream_version)).cloned().collect();
        let breaks = verify(&kept, head);
        let places: Vec<(u64, BreakKind)> = breaks.iter().map(|b| (b.version, b.kind)).collect();
        assert_eq!(places, vec![(2, BreakKind::Missing { count: 2 }), (5, BreakKind::Missing { count: 1 })]);
        assert_eq!(breaks[1].expected, Some(links[5].hash));
    }

    #[test]
    fn a_head_that_disagrees_is_reported() {
        let links = chain("s", 3);
        let stale = StreamHead { version: 1, hash: links[1].hash };
        let breaks = verify(&links, Some(stale));
        assert_eq!(breaks[0].kind, BreakKind::HeadMismatch { head_version: Some(1) });
        assert_eq!(verify(&links, None)[0].kind, BreakKind::HeadMismatch { head_version: None });
        let orphan_head = StreamHead { version: 0, hash: links[0].hash };
        assert_eq!(verify(&[], Some(orphan_head))[0].kind, BreakKind::Missing { count: 1 });
    }
}

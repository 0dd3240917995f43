//! Store digests: one SHA-256 Merkle root over the head of every stream as of a global position, so an auditor
//! can keep 32 bytes outside the database and later prove that nothing the digest covers was truncated, deleted
//! or rewritten (docs/audit.md).
//!
//! Only the [`EventStore`] port is needed: the log is read in pages up to the position and each stream's hash
//! chain is recomputed from the events' contents (so a changed event changes its stream's head hash even when
//! the stored `hash` column was left alone). Memory grows with the number of streams, not of events.
//!
//! Definition (RFC 6962's Merkle Tree Hash, with its 0x00 / 0x01 domain-separation prefixes):
//! - leaf = SHA-256(0x00 || u32be(len(stream_id)) || stream_id || u64be(head version) || head hash (32 bytes));
//! - leaves in stream_id byte order; node = SHA-256(0x01 || left || right), paired left to right, a level's odd
//!   last node promoted unchanged to the next level; the root of no stream is SHA-256 of the empty string.

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

use crate::error::StoreError;
use crate::event::LogFilter;
use crate::hash::{recompute_hash, EventHash};
use crate::port::EventStore;

/// Events per `read_all` while computing a digest.
pub const DIGEST_PAGE: usize = 1000;

/// One stream's head as a digest covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestLeaf {
    pub stream_id: String,
    /// The version of the stream's last event at or below the digest's position.
    pub version: u64,
    /// The recomputed chain hash of that event (equal to its stored hash on an intact store).
    pub hash: EventHash,
}

impl DigestLeaf {
    /// SHA-256(0x00 || u32be(len(stream_id)) || stream_id || u64be(version) || hash).
    pub fn leaf_hash(&self) -> EventHash {
        let length = u32::try_from(self.stream_id.len()).unwrap_or(u32::MAX);
        let mut hasher = Sha256::new();
        hasher.update([0x00]);
        hasher.update(length.to_be_bytes());
        hasher.update(self.stream_id.as_bytes());
        hasher.update(self.version.to_be_bytes());
        hasher.update(self.hash.as_bytes());
        EventHash::from_bytes(hasher.finalize().into())
    }
}

/// A digest of the store as of `position`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    /// The global position covered: every event at or below it.
    pub position: u64,
    pub stream_count: u64,
    pub event_count: u64,
    pub root: EventHash,
    /// Every stream's head, in stream_id byte order (empty when only the root was kept).
    pub leaves: Vec<DigestLeaf>,
}

/// How far a digest computation has read: call-backs receive it after each page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestProgress {
    /// Log examined up to here.
    pub position: u64,
    /// The position being digested.
    pub target: u64,
    pub events: u64,
}

/// The Merkle root of leaf hashes (RFC 6962 shape: odd nodes are promoted).
pub fn merkle_root(leaves: &[EventHash]) -> EventHash {
    if leaves.is_empty() {
        return EventHash::from_bytes(Sha256::digest([]).into());
    }
    let mut level: Vec<EventHash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut hasher = Sha256::new();
                    hasher.update([0x01]);
                    hasher.update(left.as_bytes());
                    hasher.update(right.as_bytes());
                    EventHash::from_bytes(hasher.finalize().into())
                }
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

impl Digest {
    /// The digest of these leaves (sorted here) as of `position`.
    pub fn from_leaves(position: u64, event_count: u64, mut leaves: Vec<DigestLeaf>) -> Self {
        leaves.sort_by(|a, b| a.stream_id.as_bytes().cmp(b.stream_id.as_bytes()));
        let hashes: Vec<EventHash> = leaves.iter().map(DigestLeaf::leaf_hash).collect();
        Digest { position, stream_count: leaves.len() as u64, event_count, root: merkle_root(&hashes), leaves }
    }
}

/// A digest of the whole store as it is now (up to its current head position).
#[tracing::instrument(skip_all)]
pub async fn compute_digest(store: &dyn EventStore) -> Result<Digest, StoreError> {
    let head = store.head_position().await?;
    digest_at(store, head, &|_| {}).await
}

/// A digest of the store as of `position`: every event at or below it, whatever was appended since.
#[tracing::instrument(skip_all, fields(position = position))]
pub async fn digest_at(
    store: &dyn EventStore,
    position: u64,
    progress: &(dyn Fn(DigestProgress) + Send + Sync),
) -> Result<Digest, StoreError> {
    let filter = LogFilter::all();
    let mut chains: BTreeMap<String, (u64, EventHash)> = BTreeMap::new();
    let mut after = 0u64;
    let mut events = 0u64;
    while after < position {
        let slice = store.read_all(after, DIGEST_PAGE, &filter).await?;
        for event in slice.events.iter().take_while(|event| event.position <= position) {
            let previous = chains.get(&event.stream_id).map_or(EventHash::GENESIS, |(_, hash)| *hash);
            let hash = recompute_hash(&previous, event);
            match chains.get_mut(&event.stream_id) {
                Some(chain) => *chain = (event.stream_version, hash),
                None => {
                    chains.insert(event.stream_id.clone(), (event.stream_version, hash));
                }
            }
            events += 1;
        }
        if slice.last_position <= after {
            // The log ends before `position` (its end was removed): what is there is the answer.
            break;
        }
        after = slice.last_position;
        progress(DigestProgress { position: after.min(position), target: position, events });
    }
    let leaves = chains.into_iter().map(|(stream_id, (version, hash))| DigestLeaf { stream_id, version, hash });
    Ok(Digest::from_leaves(position, events, leaves.collect()))
}

/// How one stream differs from an earlier digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// The digest has the stream; the store has no event of it at or below the position (deleted).
    Missing,
    /// The stream's head is at a lower version than the digest's (its last events were deleted).
    Truncated,
    /// Same head version, different chain hash: an event at or before it was changed or removed.
    Rewritten,
    /// A higher head version below the position than the digest recorded (events were inserted).
    Extended,
    /// A stream the digest does not know has events at or below its position (inserted).
    Unexpected,
}

/// One stream whose head differs from the digest's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamDifference {
    pub stream_id: String,
    pub kind: DifferenceKind,
    pub expected_version: Option<u64>,
    pub found_version: Option<u64>,
    pub expected_hash: Option<EventHash>,
    pub found_hash: Option<EventHash>,
}

/// The store checked against an earlier digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestCheck {
    pub position: u64,
    pub expected_root: EventHash,
    pub recomputed_root: EventHash,
    /// The recomputed root equals the digest's.
    pub intact: bool,
    /// Whether the digest's leaves were known, so that `differences` names the streams.
    pub streams_compared: bool,
    pub differences: Vec<StreamDifference>,
    pub stream_count: u64,
    pub event_count: u64,
}

/// Recomputes every stream's head as of `expected.position` and compares it with the digest. Events appended
/// after the position do not matter; anything at or below it that was truncated, deleted or rewritten does.
#[tracing::instrument(skip_all, fields(position = expected.position))]
pub async fn verify_against(
    store: &dyn EventStore,
    expected: &Digest,
    progress: &(dyn Fn(DigestProgress) + Send + Sync),
) -> Result<DigestCheck, StoreError> {
    let found = digest_at(store, expected.position, progress).await?;
    let streams_compared = expected.leaves.len() as u64 == expected.stream_count;
    let differences = if streams_compared { compare_leaves(&expected.leaves, &found.leaves) } else { Vec::new() };
    Ok(DigestCheck {
        position: expected.position,
        expected_root: expected.root,
        recomputed_root: found.root,
        intact: found.root == expected.root,
        streams_compared,
        differences,
        stream_count: found.stream_count,
        event_count: found.event_count,
    })
}

/// Every stream whose leaf differs, in stream_id order.
pub fn compare_leaves(expected: &[DigestLeaf], found: &[DigestLeaf]) -> Vec<StreamDifference> {
    let expected: BTreeMap<&str, &DigestLeaf> = expected.iter().map(|l| (l.stream_id.as_str(), l)).collect();
    let found: BTreeMap<&str, &DigestLeaf> = found.iter().map(|l| (l.stream_id.as_str(), l)).collect();
    let mut names: Vec<&str> = expected.keys().chain(found.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    let mut differences = Vec::new();
    for name in names {
        let (before, now) = (expected.get(name), found.get(name));
        let kind = match (before, now) {
            (Some(_), None) => DifferenceKind::Missing,
            (None, Some(_)) => DifferenceKind::Unexpected,
            (Some(b), Some(n)) if n.version < b.version => DifferenceKind::Truncated,
            (Some(b), Some(n)) if n.version > b.version => DifferenceKind::Extended,
            (Some(b), Some(n)) if n.hash != b.hash => DifferenceKind::Rewritten,
            _ => continue,
        };
        differences.push(StreamDifference {
            stream_id: name.to_owned(),
            kind,
            expected_version: before.map(|l| l.version),
            found_version: now.map(|l| l.version),
            expected_hash: before.map(|l| l.hash),
            found_hash: now.map(|l| l.hash),
        });
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(stream_id: &str, version: u64, byte: u8) -> DigestLeaf {
        DigestLeaf { stream_id: stream_id.to_owned(), version, hash: EventHash::from_bytes([byte; 32]) }
    }

    fn node(left: EventHash, right: EventHash) -> EventHash {
        let mut bytes = vec![0x01];
        bytes.extend_from_slice(left.as_bytes());
        bytes.extend_from_slice(right.as_bytes());
        EventHash::from_bytes(Sha256::digest(&bytes).into())
    }

    #[test]
    fn leaves_hash_their_length_prefixed_fields() {
        let mut bytes = vec![0x00, 0, 0, 0, 3];
        bytes.extend_from_slice(b"s-1");
        bytes.extend_from_slice(&7u64.to_be_bytes());
        bytes.extend_from_slice(&[9u8; 32]);
        assert_eq!(leaf("s-1", 7, 9).leaf_hash().as_bytes()[..], Sha256::digest(&bytes)[..]);
    }

    #[test]
    fn the_tree_promotes_odd_nodes() {
        let h: Vec<EventHash> = (1..=5).map(|b| EventHash::from_bytes([b; 32])).collect();
        assert_eq!(merkle_root(&h[..1]), h[0]);
        assert_eq!(merkle_root(&h[..3]), node(node(h[0], h[1]), h[2]));
        assert_eq!(merkle_root(&h), node(node(node(h[0], h[1]), node(h[2], h[3])), h[4]));
        assert_eq!(merkle_root(&[]).to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn leaves_are_ordered_by_stream_id_bytes() {
        let a = Digest::from_leaves(9, 3, vec![leaf("b", 0, 1), leaf("B", 1, 2), leaf("a", 0, 3)]);
        let names: Vec<&str> = a.leaves.iter().map(|l| l.stream_id.as_str()).collect();
        assert_eq!(names, vec!["B", "a", "b"]);
        let b = Digest::from_leaves(9, 3, vec![leaf("a", 0, 3), leaf("b", 0, 1), leaf("B", 1, 2)]);
        assert_eq!(a.root, b.root);
    }

    #[test]
    fn differences_name_each_stream_and_kind() {
        let before = vec![leaf("a", 3, 1), leaf("b", 3, 1), leaf("c", 3, 1), leaf("d", 1, 1)];
        let after = vec![leaf("a", 3, 1), leaf("b", 2, 1), leaf("c", 3, 2), leaf("e", 0, 1)];
        let kinds: Vec<(String, DifferenceKind)> =
            compare_leaves(&before, &after).into_iter().map(|d| (d.stream_id, d.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("b".to_owned(), DifferenceKind::Truncated),
                ("c".to_owned(), DifferenceKind::Rewritten),
                ("d".to_owned(), DifferenceKind::Missing),
                ("e".to_owned(), DifferenceKind::Unexpected),
            ]
        );
    }
}

//! Appends: the port's expected-version semantics, idempotent retries and the hash chain on top of KurrentDB's
//! optimistic concurrency.
//!
//! Every append first reads the stream's tail from the leader (its last `events + RETRY_WINDOW` events), then
//! decides, as the shared `Planner` does for the other adapters:
//!
//! 1. **Already written?** With `Exact(v)` / `NoStream` the batch would sit at versions `v + 1 ...` / `0 ...`; if
//!    the stream already holds exactly these event ids there, the append is a retry and returns the first
//!    result without writing. With `Any` the batch is looked for among the tail's events.
//! 2. **Expectation.** Otherwise a stream not at the expected version is a `WrongExpectedVersion` with the actual
//!    version.
//! 3. **Duplicate ids.** An event id already in the tail is a `DuplicateEventId`. KurrentDB keeps no index of
//!    event ids, so the adapter cannot see an id reused in another stream or further back in this one: on
//!    KurrentDB, event-id uniqueness is only checked within this window (the conformance case that reuses an id
//!    across streams is not run against this adapter).
//! 4. **Write.** The new events' hashes chain from the tail's last hash, so the write must land exactly after that
//!    event: it is sent with the tail's last revision as KurrentDB's expected revision (`NoStream` for a new
//!    stream), whatever the caller's expectation was. If another writer got there first the server refuses it,
//!    and the decision is made again from a fresh tail (so `Any` retries, and `Exact` reports the conflict): two
//!    appends can never chain from the same previous hash, and the chain cannot fork. Retries within KurrentDB's
//!    own idempotence (same ids at the same revision) succeed without writing.
//!
//! The port's result needs the global position of the last event, which the append response does not reliably
//! give (an idempotent write answers without one), so the last event is read back from the leader.

use chrono::{DateTime, Utc};
use kurrentdb::{AppendToStreamOptions, Client, CurrentRevision, EventData};
use tracing::{debug, instrument};
use uuid::Uuid;

use super::error::{append_error, stream_state_for, wrong_expected_version, KurrentDbError};
use super::mapping::{append_time, check_event_type, event_data, StoredEvent};
use super::read::stream_events;
use crate::append::PreparedAppend;
use crate::error::StoreError;
use crate::event::{AppendResult, ExpectedVersion, NewEvent, ReadStream};
use crate::hash::EventHash;

/// How many events beyond the batch's own size the tail read covers (retries of `Any` appends and duplicate ids
/// are recognised within it).
pub(crate) const RETRY_WINDOW: usize = 16;
/// How often an append re-decides after losing a race for the stream's next revision.
const MAX_ATTEMPTS: usize = 8;

/// What to do with an append, given the stream's tail.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// Write after the tail's last event (`current`: its version, `None` for a new stream).
    Write {
        current: Option<u64>,
        previous_hash: EventHash,
        previous_recorded_at: Option<DateTime<Utc>>,
    },
    /// The batch is already stored where this append would put it: return the first result.
    AlreadyWritten(AppendResult),
    /// The stream holds versions `start ...` but they are older than the tail: read them to tell a retry from
    /// a conflict.
    CheckRange {
        start: u64,
        current: Option<u64>,
    },
    Conflict {
        actual: Option<u64>,
    },
    Duplicate {
        event_id: Uuid,
    },
}

/// Decides an append of events with `ids` (in order) at `expected` against the stream's `tail` (its last events,
/// oldest first, contiguous versions; empty for a stream that does not exist).
pub(crate) fn plan(expected: ExpectedVersion, ids: &[Uuid], tail: &[StoredEvent]) -> Plan {
    let current = tail.last().map(|event| event.stream_version);
    let count = ids.len() as u64;
    if !expected.is_satisfied_by(current) {
        let start = match expected {
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(version) => version.checked_add(1),
            ExpectedVersion::Any => None,
        };
        // Does the stream hold versions start .. start + count - 1 at all?
        let held = start.filter(|start| {
            let end = start.checked_add(count.saturating_sub(1));
            current.zip(end).is_some_and(|(current, end)| count > 0 && current >= end)
        });
        return match held {
            Some(start) => match run_at(tail, start, ids) {
                Some(result) => result.map_or(Plan::Conflict { actual: current }, Plan::AlreadyWritten),
                None => Plan::CheckRange { start, current },
            },
            None => Plan::Conflict { actual: current },
        };
    }
    if expected == ExpectedVersion::Any {
        if let Some(result) = find_run(tail, ids) {
            return Plan::AlreadyWritten(result);
        }
    }
    if let Some(&event_id) = ids.iter().find(|id| tail.iter().any(|event| event.event_id == **id)) {
        return Plan::Duplicate { event_id };
    }
    let last = tail.last();
    Plan::Write {
        current,
        previous_hash: last.map_or(EventHash::GENESIS, |event| event.hash),
        previous_recorded_at: last.map(|event| event.recorded_at),
    }
}

/// `None` when `events` do not cover versions `start ..= start + ids.len() - 1`; else whether they hold exactly
/// `ids` there (`Some(Some(result))`) or something else (`Some(None)`).
pub(crate) fn run_at(events: &[StoredEvent], start: u64, ids: &[Uuid]) -> Option<Option<AppendResult>> {
    let first = events.first()?.stream_version;
    let offset = usize::try_from(start.checked_sub(first)?).ok()?;
    let run = events.get(offset..offset.checked_add(ids.len())?)?;
    Some(matching_run(run, ids))
}

/// The result of an `Any` append whose ids are a run of `tail`.
fn find_run(tail: &[StoredEvent], ids: &[Uuid]) -> Option<AppendResult> {
    let first = ids.first()?;
    let offset = tail.iter().position(|event| event.event_id == *first)?;
    matching_run(tail.get(offset..offset + ids.len())?, ids)
}

fn matching_run(run: &[StoredEvent], ids: &[Uuid]) -> Option<AppendResult> {
    let same = run.len() == ids.len() && run.iter().zip(ids).all(|(event, id)| event.event_id == *id);
    let last = run.last().filter(|_| same)?;
    Some(AppendResult { next_version: last.stream_version, position: last.position, recorded_at: last.recorded_at })
}

/// Appends `events` to `stream_id` if it is at `expected` (module doc).
#[instrument(skip_all, fields(stream.id = %stream_id, expected = %expected, events = events.len()))]
pub(crate) async fn append(
    client: &Client,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult, StoreError> {
    let append = PreparedAppend::new(stream_id, expected, events)?;
    for event in &append.events {
        check_event_type(&event.event.event_type)?;
    }
    let ids: Vec<Uuid> = append.events.iter().map(|event| event.event.event_id).collect();
    let tail_size = ids.len().saturating_add(RETRY_WINDOW);
    let mut last_seen = CurrentRevision::NoStream;
    for attempt in 1..=MAX_ATTEMPTS {
        let tail = match read_tail(client, stream_id, tail_size).await {
            Ok(tail) => tail,
            Err(error) if moved_leader(&error) && attempt < MAX_ATTEMPTS => continue,
            Err(error) => return Err(error.into()),
        };
        match plan(expected, &ids, &tail) {
            Plan::AlreadyWritten(result) => return Ok(result),
            Plan::Conflict { actual } => return Err(StoreError::WrongExpectedVersion { expected, actual }),
            Plan::Duplicate { event_id } => return Err(StoreError::DuplicateEventId { event_id }),
            Plan::CheckRange { start, current } => {
                let range = ReadStream::forwards(start, ids.len());
                let stored = stream_events(client, stream_id, range, true).await?;
                return match run_at(&stored, start, &ids).flatten() {
                    Some(result) => Ok(result),
                    None => Err(StoreError::WrongExpectedVersion { expected, actual: current }),
                };
            }
            Plan::Write { current, previous_hash, previous_recorded_at } => {
                let recorded_at = append_time(Utc::now(), previous_recorded_at);
                let data = chained_events(&append, current, previous_hash, recorded_at)?;
                match send(client, stream_id, current, data).await {
                    Ok(()) => return read_back(client, stream_id, current, &ids).await,
                    Err(KurrentDbError::Request {
                        source: kurrentdb::Error::WrongExpectedVersion { current: server_current, .. },
                        ..
                    }) => {
                        debug!(attempt, "another append took the next revision; deciding again");
                        last_seen = server_current;
                    }
                    Err(error) if moved_leader(&error) && attempt < MAX_ATTEMPTS => {
                        debug!(attempt, "the leader moved; deciding again");
                    }
                    Err(error) => return Err(append_error(error)),
                }
            }
        }
    }
    Err(wrong_expected_version(expected, last_seen))
}

/// The stream's last `size` events, oldest first, from the leader.
async fn read_tail(client: &Client, stream_id: &str, size: usize) -> Result<Vec<StoredEvent>, KurrentDbError> {
    let mut tail = stream_events(client, stream_id, ReadStream::backwards_from_end(size), true).await?;
    tail.reverse();
    Ok(tail)
}

/// Whether a request went to a node that is no longer (or not) the leader; the client has already switched to
/// the new leader, so trying again is safe (an append that did land is then found as already written).
fn moved_leader(error: &KurrentDbError) -> bool {
    matches!(error, KurrentDbError::Request { source: kurrentdb::Error::NotLeaderException(_), .. })
}

/// The hashes of the events when written after `current`: each chains from the previous one, the first from
/// `previous_hash`.
pub(crate) fn chain_hashes(
    append: &PreparedAppend,
    current: Option<u64>,
    previous_hash: EventHash,
    recorded_at: DateTime<Utc>,
) -> Vec<EventHash> {
    let first_version = current.map_or(0, |version| version + 1);
    let mut previous = previous_hash;
    (first_version..)
        .zip(&append.events)
        .map(|(version, event)| {
            previous = event.hash_input(&append.stream_id, version, recorded_at).hash(&previous);
            previous
        })
        .collect()
}

/// The KurrentDB events of an append written after `current`.
fn chained_events(
    append: &PreparedAppend,
    current: Option<u64>,
    previous_hash: EventHash,
    recorded_at: DateTime<Utc>,
) -> Result<Vec<EventData>, StoreError> {
    let hashes = chain_hashes(append, current, previous_hash, recorded_at);
    append.events.iter().zip(&hashes).map(|(event, hash)| event_data(event, recorded_at, hash)).collect()
}

/// Sends the events, expecting the stream at exactly `current` (`None`: no stream).
async fn send(
    client: &Client,
    stream_id: &str,
    current: Option<u64>,
    data: Vec<EventData>,
) -> Result<(), KurrentDbError> {
    // The caller's expectation was checked against the tail: the write expects exactly what the tail showed.
    let state = stream_state_for(current.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact));
    let options = AppendToStreamOptions::default().stream_state(state).requires_leader(true);
    client.append_to_stream(stream_id, &options, data).await.map_err(KurrentDbError::request("append"))?;
    Ok(())
}

/// The result of a write that landed after `current`: the last event's version and position, read back.
async fn read_back(
    client: &Client,
    stream_id: &str,
    current: Option<u64>,
    ids: &[Uuid],
) -> Result<AppendResult, StoreError> {
    let last_version = current.map_or(0, |version| version + 1) + (ids.len() as u64 - 1);
    let stored = stream_events(client, stream_id, ReadStream::forwards(last_version, 1), true).await?;
    let last = stored.first().filter(|event| Some(event.event_id) == ids.last().copied()).ok_or_else(|| {
        KurrentDbError::Inconsistent {
            stream_id: stream_id.to_owned(),
            reason: format!("the append was acknowledged but version {last_version} is not its last event"),
        }
    })?;
    Ok(AppendResult { next_version: last.stream_version, position: last.position, recorded_at: last.recorded_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn stored(version: u64, id: u128) -> StoredEvent {
        StoredEvent {
            event_id: Uuid::from_u128(id),
            stream_id: "order-1".to_owned(),
            stream_version: version,
            position: 1000 + version * 10,
            event_type: "Placed".to_owned(),
            schema_version: 1,
            data: json!({}),
            metadata: Value::Object(Default::default()),
            recorded_at: DateTime::from_timestamp_micros(i64::try_from(version).unwrap_or(0)).unwrap_or_default(),
            hash: EventHash::from_bytes([u8::try_from(version + 1).unwrap_or(0); 32]),
        }
    }

    /// A stream whose versions `from ..= to` hold ids `100 + version`.
    fn tail(from: u64, to: u64) -> Vec<StoredEvent> {
        (from..=to).map(|v| stored(v, 100 + u128::from(v))).collect()
    }

    fn ids(values: &[u128]) -> Vec<Uuid> {
        values.iter().map(|&v| Uuid::from_u128(v)).collect()
    }

    fn result(version: u64) -> AppendResult {
        let recorded_at = stored(version, 0).recorded_at;
        AppendResult { next_version: version, position: 1000 + version * 10, recorded_at }
    }

    #[test]
    fn a_stream_at_the_expected_version_is_written_after_its_last_event() {
        let written = plan(ExpectedVersion::Exact(4), &ids(&[1, 2]), &tail(0, 4));
        let last = stored(4, 104);
        assert_eq!(
            written,
            Plan::Write { current: Some(4), previous_hash: last.hash, previous_recorded_at: Some(last.recorded_at) }
        );
        let new = plan(ExpectedVersion::NoStream, &ids(&[1]), &[]);
        assert_eq!(new, Plan::Write { current: None, previous_hash: EventHash::GENESIS, previous_recorded_at: None });
        assert!(matches!(plan(ExpectedVersion::Any, &ids(&[1]), &[]), Plan::Write { current: None, .. }));
        assert!(matches!(plan(ExpectedVersion::Any, &ids(&[1]), &tail(0, 2)), Plan::Write { current: Some(2), .. }));
    }

    #[test]
    fn a_mismatch_is_a_conflict_with_the_actual_version() {
        assert_eq!(plan(ExpectedVersion::Exact(0), &ids(&[1]), &[]), Plan::Conflict { actual: None });
        assert_eq!(plan(ExpectedVersion::NoStream, &ids(&[1]), &tail(0, 0)), Plan::Conflict { actual: Some(0) });
        assert_eq!(plan(ExpectedVersion::Exact(0), &ids(&[1]), &tail(0, 1)), Plan::Conflict { actual: Some(1) });
        assert_eq!(plan(ExpectedVersion::Exact(7), &ids(&[1]), &tail(0, 1)), Plan::Conflict { actual: Some(1) });
        assert_eq!(plan(ExpectedVersion::Exact(u64::MAX), &ids(&[1]), &tail(0, 1)), Plan::Conflict { actual: Some(1) });
    }

    #[test]
    fn a_retry_returns_the_first_result() {
        // Versions 3 and 4 hold ids 103, 104: a retry of that batch at Exact(2) or, for 0 and 1, at NoStream.
        assert_eq!(plan(ExpectedVersion::Exact(2), &ids(&[103, 104]), &tail(0, 6)), Plan::AlreadyWritten(result(4)));
        assert_eq!(plan(ExpectedVersion::NoStream, &ids(&[100, 101]), &tail(0, 6)), Plan::AlreadyWritten(result(1)));
        assert_eq!(plan(ExpectedVersion::Any, &ids(&[105, 106]), &tail(0, 6)), Plan::AlreadyWritten(result(6)));
        // The same ids one version off, or a different batch at a taken version, are conflicts.
        assert_eq!(plan(ExpectedVersion::Exact(1), &ids(&[103, 104]), &tail(0, 6)), Plan::Conflict { actual: Some(6) });
        assert_eq!(plan(ExpectedVersion::Exact(2), &ids(&[103, 9]), &tail(0, 6)), Plan::Conflict { actual: Some(6) });
        assert_eq!(plan(ExpectedVersion::Exact(5), &ids(&[106, 107]), &tail(0, 6)), Plan::Conflict { actual: Some(6) });
    }

    #[test]
    fn a_retry_older_than_the_tail_is_checked_by_reading_its_versions() {
        let plan_of = plan(ExpectedVersion::Exact(2), &ids(&[103, 104]), &tail(20, 40));
        assert_eq!(plan_of, Plan::CheckRange { start: 3, current: Some(40) });
        let range = tail(3, 4);
        assert_eq!(run_at(&range, 3, &ids(&[103, 104])), Some(Some(result(4))));
        assert_eq!(run_at(&range, 3, &ids(&[103, 9])), Some(None));
        assert_eq!(run_at(&tail(3, 3), 3, &ids(&[103, 104])), None, "a short read does not cover the batch");
        assert_eq!(run_at(&[], 3, &ids(&[103])), None);
    }

    #[test]
    fn ids_already_in_the_tail_are_duplicates() {
        assert_eq!(
            plan(ExpectedVersion::Exact(0), &ids(&[1, 100]), &tail(0, 0)),
            Plan::Duplicate { event_id: Uuid::from_u128(100) }
        );
        assert_eq!(
            plan(ExpectedVersion::Any, &ids(&[104, 5]), &tail(0, 4)),
            Plan::Duplicate { event_id: Uuid::from_u128(104) }
        );
        assert_eq!(
            plan(ExpectedVersion::Any, &ids(&[103, 105]), &tail(0, 4)),
            Plan::Duplicate { event_id: Uuid::from_u128(103) }
        );
    }

    #[test]
    fn hashes_chain_from_the_tails_last_hash() {
        let events = vec![NewEvent::new("Placed", json!({"n": 0})), NewEvent::new("Paid", json!({"n": 1}))];
        let append = PreparedAppend::new("order-1", ExpectedVersion::Exact(4), events).expect("valid");
        let at = DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap_or_default();
        let previous = EventHash::from_bytes([9; 32]);
        let hashes = chain_hashes(&append, Some(4), previous, at);
        let first = append.events[0].hash_input("order-1", 5, at).hash(&previous);
        let second = append.events[1].hash_input("order-1", 6, at).hash(&first);
        assert_eq!(hashes, vec![first, second], "versions follow the tail, each hash chains from the one before");
        let fresh = chain_hashes(&append, None, EventHash::GENESIS, at);
        assert_eq!(fresh[0], append.events[0].hash_input("order-1", 0, at).hash(&EventHash::GENESIS));
    }
}

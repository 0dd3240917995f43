//! How a Tally event is laid out in KurrentDB, and back.
//!
//! - **Ids.** The port's `event_id` is the KurrentDB event id, so the server's own idempotence check sees a retry.
//! - **Type and data.** The event type is the KurrentDB event type; `data` is stored as JSON
//!   (`content-type: application/json`). Types starting with `$` are KurrentDB's system events and are refused.
//! - **Custom metadata.** One JSON object: the port's [`Metadata`] fields (`correlation_id`, `causation_id`,
//!   `actor`, `actor_name`, `claimed_actor`, `idempotency_key`, `trace_id`, absent ones omitted) plus three keys of the adapter's own:
//!   `tally_schema_version` (the event's schema version), `tally_recorded_at` (RFC 3339 UTC with microseconds) and
//!   `tally_hash` (64 hex digits). The metadata the hash covers is the object without the `tally_` keys, so an
//!   event reads back with the metadata it was hashed with.
//! - **recorded_at.** The hash chain covers `recorded_at` (docs/hash-chain.md), and the hash is written inside
//!   the event, so the time must be known before the write: it is the adapter's clock at append time (truncated to
//!   microseconds, never earlier than the stream's previous event), stored as `tally_recorded_at`. The server's
//!   `created` stamp is only known after the write and is not used.
//! - **Positions.** Every event the gRPC API writes is a self-committed prepare record, so KurrentDB reports it at
//!   `Position { commit: p, prepare: p }` where `p` is the byte offset of its record in the transaction log, both
//!   in `$all` and in stream reads. The port's `u64` position is that `p`, taken from the prepare half (the two
//!   are equal here; where they are not, the prepare position is the one that names the event itself, while the
//!   events of one transaction share a commit position). The single writer appends records in
//!   order and `$all` is read in record order, so `p` is strictly increasing in log order (with gaps: it is a byte
//!   offset). Readers never skip a late commit (design invariant 5): positions are assigned by that one writer in
//!   write order, and reads only see the log up to its committed (in a cluster: replicated) checkpoint, which
//!   only moves forwards. "After `p`" is a read of `$all` from `Position { commit: p, prepare: p }`, which the
//!   server treats as inclusive, minus the event at `p` itself; 0 reads from the start. Stream reads report these
//!   positions since EventStoreDB 22.6; older servers are not supported. An event whose commit and prepare positions
//!   differ (legacy explicit transactions, which gRPC clients cannot write) or are unknown cannot be placed on this
//!   scale and reads as corrupt.

use chrono::{DateTime, SecondsFormat, Utc};
use kurrentdb::{EventData, Position, StreamPosition};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::KurrentDbError;
use crate::append::PreparedEvent;
use crate::error::StoreError;
use crate::event::{Metadata, RecordedEvent};
use crate::hash::EventHash;
use crate::verify::ChainLink;

pub(crate) const HASH_KEY: &str = "tally_hash";
pub(crate) const SCHEMA_VERSION_KEY: &str = "tally_schema_version";
pub(crate) const RECORDED_AT_KEY: &str = "tally_recorded_at";
/// Keys starting with this belong to the adapter, not to the event's metadata.
const RESERVED_PREFIX: &str = "tally_";

/// Whether an event is KurrentDB's own: a `$` event type (`$metadata`, `$>` links, `$statsCollected`) or any event
/// of a `$` stream (`$$order-1`, `$et-OrderPlaced`, `$projections-...`). The global log never shows them.
pub(crate) fn is_system_event(stream_id: &str, event_type: &str) -> bool {
    stream_id.starts_with('$') || event_type.starts_with('$')
}

/// Refuses what the shared validation allows but KurrentDB would hide: a `$` event type is a system event.
pub(crate) fn check_event_type(event_type: &str) -> Result<(), StoreError> {
    if event_type.starts_with('$') {
        return Err(StoreError::InvalidAppend(format!(
            "event type {event_type:?}: types starting with '$' are reserved for KurrentDB system events"
        )));
    }
    Ok(())
}

/// The port position of an event at `position`: its prepare position (see the module doc).
pub(crate) fn port_position(position: Position) -> Result<u64, String> {
    if position.commit == u64::MAX || position.prepare == u64::MAX {
        return Err("the server did not report the event's log position (EventStoreDB before 22.6?)".to_owned());
    }
    if position.commit != position.prepare {
        return Err(format!("log position {position} belongs to a multi-record transaction, which Tally cannot order"));
    }
    Ok(position.prepare)
}

/// Where a forward read of `$all` for events after `after` starts (inclusive: the event at `after` comes back).
pub(crate) fn read_start(after: u64) -> StreamPosition<Position> {
    if after == 0 {
        StreamPosition::Start
    } else {
        StreamPosition::Position(Position { commit: after, prepare: after })
    }
}

/// The time an append records: now, truncated to microseconds (the hash's precision), and never before the
/// stream's previous event, so `recorded_at` never goes backwards within a stream even across skewed clocks.
pub(crate) fn append_time(now: DateTime<Utc>, previous: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    previous.map_or(now, |previous| previous.max(now))
}

/// The custom metadata object of an event: the port's metadata plus the adapter's `tally_` keys.
pub(crate) fn custom_metadata(
    metadata: &Metadata,
    schema_version: u32,
    recorded_at: DateTime<Utc>,
    hash: &EventHash,
) -> Value {
    let mut object = match serde_json::to_value(metadata) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    object.insert(SCHEMA_VERSION_KEY.to_owned(), Value::from(schema_version));
    object.insert(RECORDED_AT_KEY.to_owned(), Value::String(recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true)));
    object.insert(HASH_KEY.to_owned(), Value::String(hash.to_hex()));
    Value::Object(object)
}

/// The KurrentDB event for a prepared event, recorded at `recorded_at` with `hash`.
pub(crate) fn event_data(
    event: &PreparedEvent,
    recorded_at: DateTime<Utc>,
    hash: &EventHash,
) -> Result<EventData, StoreError> {
    let new = &event.event;
    let metadata = custom_metadata(&new.metadata, new.schema_version, recorded_at, hash);
    let data = EventData::json(&new.event_type, &new.data)
        .and_then(|data| data.metadata_as_json(&metadata))
        .map_err(|e| StoreError::InvalidAppend(format!("event does not serialize: {e}")))?;
    Ok(data.id(new.event_id))
}

/// The fields of a stored KurrentDB event the adapter reads (the client's `RecordedEvent` cannot be built
/// outside the client, so decoding works on this view).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEvent<'a> {
    pub(crate) stream_id: &'a str,
    pub(crate) revision: u64,
    pub(crate) event_id: Uuid,
    pub(crate) event_type: &'a str,
    pub(crate) data: &'a [u8],
    pub(crate) custom_metadata: &'a [u8],
    pub(crate) position: Position,
}

impl<'a> From<&'a kurrentdb::RecordedEvent> for RawEvent<'a> {
    fn from(event: &'a kurrentdb::RecordedEvent) -> Self {
        RawEvent {
            stream_id: event.stream_id(),
            revision: event.revision,
            event_id: event.id,
            event_type: &event.event_type,
            data: &event.data,
            custom_metadata: &event.custom_metadata,
            position: event.position,
        }
    }
}

/// A stored event decoded as a Tally event, before its metadata is typed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredEvent {
    pub(crate) event_id: Uuid,
    pub(crate) stream_id: String,
    pub(crate) stream_version: u64,
    pub(crate) position: u64,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    pub(crate) data: Value,
    /// The stored metadata object without the `tally_` keys: what the hash covers.
    pub(crate) metadata: Value,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) hash: EventHash,
}

impl StoredEvent {
    /// Decodes a stored event; anything that is not a well-formed Tally event is an error naming the event.
    pub(crate) fn decode(raw: RawEvent<'_>) -> Result<StoredEvent, KurrentDbError> {
        let fail = |reason: String| KurrentDbError::Decode {
            stream_id: raw.stream_id.to_owned(),
            version: raw.revision,
            reason,
        };
        let position = port_position(raw.position).map_err(&fail)?;
        let data: Value = serde_json::from_slice(raw.data).map_err(|e| fail(format!("data is not JSON: {e}")))?;
        let mut object = match serde_json::from_slice(raw.custom_metadata) {
            Ok(Value::Object(object)) => object,
            _ => return Err(fail("custom metadata is not a JSON object".to_owned())),
        };
        let hash = match object.get(HASH_KEY) {
            Some(Value::String(hex)) => EventHash::from_hex(hex),
            _ => None,
        }
        .ok_or_else(|| fail(format!("no {HASH_KEY} of 64 hex digits")))?;
        let schema_version = object
            .get(SCHEMA_VERSION_KEY)
            .and_then(Value::as_u64)
            .and_then(|version| u32::try_from(version).ok())
            .ok_or_else(|| fail(format!("no {SCHEMA_VERSION_KEY}")))?;
        let recorded_at = object
            .get(RECORDED_AT_KEY)
            .and_then(Value::as_str)
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&Utc))
            .ok_or_else(|| fail(format!("no {RECORDED_AT_KEY} timestamp")))?;
        object.retain(|key, _| !key.starts_with(RESERVED_PREFIX));
        Ok(StoredEvent {
            event_id: raw.event_id,
            stream_id: raw.stream_id.to_owned(),
            stream_version: raw.revision,
            position,
            event_type: raw.event_type.to_owned(),
            schema_version,
            data,
            metadata: Value::Object(object),
            recorded_at,
            hash,
        })
    }

    /// The event as the port shows it.
    pub(crate) fn into_recorded(self) -> Result<RecordedEvent, KurrentDbError> {
        let metadata: Metadata = serde_json::from_value(self.metadata).map_err(|e| KurrentDbError::Decode {
            stream_id: self.stream_id.clone(),
            version: self.stream_version,
            reason: format!("metadata of the wrong shape: {e}"),
        })?;
        Ok(RecordedEvent {
            event_id: self.event_id,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            position: self.position,
            event_type: self.event_type,
            schema_version: self.schema_version,
            data: self.data,
            metadata,
            recorded_at: self.recorded_at,
            hash: self.hash,
        })
    }

    /// The event as verification sees it: the stored metadata object, not the typed metadata.
    pub(crate) fn into_chain_link(self) -> ChainLink {
        ChainLink {
            event_id: self.event_id,
            stream_version: self.stream_version,
            event_type: self.event_type,
            schema_version: self.schema_version,
            recorded_at: self.recorded_at,
            data: self.data,
            metadata: self.metadata,
            hash: self.hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::recompute_hash;
    use serde_json::json;

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).expect("a valid time")
    }

    fn metadata() -> Metadata {
        Metadata {
            correlation_id: Some(Uuid::from_u128(7)),
            causation_id: None,
            actor: Some("user:alice".to_owned()),
            actor_name: Some("web shop".to_owned()),
            claimed_actor: Some("clerk 7".to_owned()),
            idempotency_key: Some("key-1".to_owned()),
            trace_id: None,
        }
    }

    fn raw<'a>(custom: &'a [u8], data: &'a [u8], position: u64) -> RawEvent<'a> {
        RawEvent {
            stream_id: "order-1",
            revision: 3,
            event_id: Uuid::from_u128(42),
            event_type: "OrderPlaced",
            data,
            custom_metadata: custom,
            position: Position { commit: position, prepare: position },
        }
    }

    #[test]
    fn custom_metadata_holds_the_port_fields_and_the_tally_keys() {
        let hash = EventHash::from_bytes([0xab; 32]);
        let value = custom_metadata(&metadata(), 2, at(1_700_000_000_123_456), &hash);
        assert_eq!(
            value,
            json!({
                "correlation_id": "00000000-0000-0000-0000-000000000007",
                "actor": "user:alice",
                "actor_name": "web shop",
                "claimed_actor": "clerk 7",
                "idempotency_key": "key-1",
                "tally_schema_version": 2,
                "tally_recorded_at": "2023-11-14T22:13:20.123456Z",
                "tally_hash": "ab".repeat(32),
            })
        );
        let empty = custom_metadata(&Metadata::default(), 1, at(0), &EventHash::GENESIS);
        assert_eq!(empty.as_object().map(|o| o.len()), Some(3), "no metadata: only the tally keys");
    }

    #[test]
    fn an_event_decodes_to_what_was_hashed() {
        let recorded_at = at(1_700_000_000_123_456);
        let data = json!({"total": {"amount": 3998, "currency": "EUR"}, "lines": [1.5, null]});
        let mut event = RecordedEvent {
            event_id: Uuid::from_u128(42),
            stream_id: "order-1".to_owned(),
            stream_version: 3,
            position: 9000,
            event_type: "OrderPlaced".to_owned(),
            schema_version: 2,
            data: data.clone(),
            metadata: metadata(),
            recorded_at,
            hash: EventHash::GENESIS,
        };
        let previous = EventHash::from_bytes([1; 32]);
        event.hash = recompute_hash(&previous, &event);

        let custom = serde_json::to_vec(&custom_metadata(&event.metadata, 2, recorded_at, &event.hash)).expect("json");
        let bytes = serde_json::to_vec(&data).expect("json");
        let stored = StoredEvent::decode(raw(&custom, &bytes, 9000)).expect("decodes");
        assert_eq!(stored.metadata, serde_json::to_value(metadata()).expect("json"), "the tally keys are removed");
        let decoded = stored.clone().into_recorded().expect("typed metadata");
        assert_eq!(decoded, event);
        assert_eq!(recompute_hash(&previous, &decoded), decoded.hash, "the chain recomputes from what is read back");
        let link = stored.into_chain_link();
        assert_eq!((link.stream_version, link.hash, link.recorded_at), (3, event.hash, recorded_at));
    }

    #[test]
    fn events_that_are_not_tally_events_are_named() {
        let good =
            serde_json::to_vec(&custom_metadata(&Metadata::default(), 1, at(5), &EventHash::GENESIS)).expect("json");
        let cases: Vec<(Vec<u8>, &[u8], &str)> = vec![
            (b"".to_vec(), b"{}", "not a JSON object"),
            (
                br#"{"tally_schema_version": 1, "tally_recorded_at": "1970-01-01T00:00:00Z"}"#.to_vec(),
                b"{}",
                "tally_hash",
            ),
            (br#"{"tally_hash": "zz", "tally_schema_version": 1}"#.to_vec(), b"{}", "tally_hash"),
            (
                format!(r#"{{"tally_hash": "{}", "tally_recorded_at": "1970-01-01T00:00:00Z"}}"#, "0".repeat(64))
                    .into_bytes(),
                b"{}",
                "tally_schema_version",
            ),
            (
                format!(r#"{{"tally_hash": "{}", "tally_schema_version": 1}}"#, "0".repeat(64)).into_bytes(),
                b"{}",
                "tally_recorded_at",
            ),
            (good.clone(), b"not json", "data is not JSON"),
        ];
        for (custom, data, reason) in cases {
            let error = StoredEvent::decode(raw(&custom, data, 10)).expect_err("refused");
            let message = error.to_string();
            assert!(message.starts_with("stream order-1 version 3: ") && message.contains(reason), "{message}");
        }
        let typed = StoredEvent::decode(raw(br#"x"#, b"{}", 10));
        assert!(typed.is_err());
        let wrong_shape = format!(
            r#"{{"actor": 5, "tally_hash": "{}", "tally_schema_version": 1, "tally_recorded_at": "1970-01-01T00:00:00Z"}}"#,
            "0".repeat(64)
        );
        let stored = StoredEvent::decode(raw(wrong_shape.as_bytes(), b"{}", 10)).expect("decodes untyped");
        assert!(stored.into_recorded().is_err(), "typed metadata of the wrong shape is refused");
    }

    #[test]
    fn positions_are_prepare_positions_of_self_committed_events() {
        assert_eq!(port_position(Position { commit: 1234, prepare: 1234 }), Ok(1234));
        assert!(port_position(Position { commit: 2000, prepare: 1500 }).is_err(), "legacy transactions");
        assert!(port_position(Position { commit: u64::MAX, prepare: u64::MAX }).is_err(), "unknown position");
        assert_eq!(read_start(0), StreamPosition::Start);
        assert_eq!(read_start(77), StreamPosition::Position(Position { commit: 77, prepare: 77 }));
        let good =
            serde_json::to_vec(&custom_metadata(&Metadata::default(), 1, at(5), &EventHash::GENESIS)).expect("json");
        let odd = RawEvent { position: Position { commit: 20, prepare: 10 }, ..raw(&good, b"{}", 0) };
        assert!(StoredEvent::decode(odd).is_err());
    }

    #[test]
    fn system_events_are_recognised_and_refused() {
        assert!(is_system_event("$$order-1", "$metadata"));
        assert!(is_system_event("$et-OrderPlaced", "$>"));
        assert!(is_system_event("$stats-127.0.0.1:2113", "OrderPlaced"), "any event of a $ stream");
        assert!(is_system_event("order-1", "$statsCollected"), "a $ type anywhere");
        assert!(!is_system_event("order-1", "OrderPlaced"));
        assert!(!is_system_event("order-$1", "Order$Placed"), "only a leading $ counts");
        assert!(matches!(check_event_type("$Placed"), Err(StoreError::InvalidAppend(_))));
        assert!(check_event_type("Placed").is_ok());
    }

    #[test]
    fn recorded_at_is_microseconds_and_never_goes_backwards() {
        let now = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("a valid time");
        assert_eq!(append_time(now, None), at(1_700_000_000_123_456), "truncated to microseconds");
        let later = at(1_700_000_001_000_000);
        assert_eq!(append_time(now, Some(later)), later, "a previous event from a clock ahead of ours wins");
        assert_eq!(append_time(now, Some(at(1))), at(1_700_000_000_123_456));
    }
}

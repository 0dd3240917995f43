//! The OpenAPI schemas of what the audit API answers with the store's and `tally_audit`'s own types
//! (`RecordedEvent`, `HistoryEntry`, `DigestCheck`, ...): those crates know nothing of HTTP, so their JSON is
//! described here, one documentation type per shape, never built, each named after the component it becomes. The
//! tests below serialise a real value of each type and hold its JSON to the schema (the same members, the required
//! ones always present), so a field added to a store type fails a test until it is documented here.

// Documentation shapes: read by `#[derive(ToSchema)]` only.
#![allow(dead_code)]

use crate::openapi::schemas;
use crate::resources::MoneyView;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;
use uuid::Uuid;

/// A SHA-256 hash as 64 lowercase hex digits (docs/hash-chain.md).
pub(crate) struct Hash;

impl utoipa::PartialSchema for Hash {
    fn schema() -> RefOr<Schema> {
        crate::openapi::schema(json!({
            "type": "string", "pattern": "^[0-9a-f]{64}$",
            "description": "A SHA-256 hash as 64 lowercase hex digits (docs/hash-chain.md)."
        }))
    }
}

impl ToSchema for Hash {}

/// An event as the store recorded it.
#[derive(ToSchema)]
#[schema(as = RecordedEvent)]
pub(crate) struct RecordedEventDoc {
    /// Unique in the store.
    event_id: Uuid,
    /// `product-{sku}`, `inventory-{sku}`, `order-{uuid}` or `apikey-{uuid}`.
    stream_id: String,
    /// 0 for the stream's first event, then +1 per event.
    stream_version: u64,
    /// The place in the global log: strictly increasing in log order.
    position: u64,
    #[schema(example = "OrderPlaced")]
    event_type: String,
    schema_version: u32,
    /// The event's data (JSON), as the domain recorded it.
    #[schema(value_type = Object)]
    data: Value,
    metadata: EventMetadataDoc,
    /// When the store recorded it (UTC, microseconds).
    recorded_at: DateTime<Utc>,
    /// The event's link in its stream's hash chain.
    hash: Hash,
}

/// Who caused an event and why. Absent fields are omitted.
#[derive(ToSchema)]
#[schema(as = EventMetadata)]
pub(crate) struct EventMetadataDoc {
    /// The request or process the event belongs to.
    correlation_id: Option<Uuid>,
    /// The command or event that directly caused it.
    causation_id: Option<Uuid>,
    /// Who did it: the API key that sent the request (`apikey-{uuid}`), `cli` for the command line, or a worker's
    /// name. Set by the server, never by the client.
    actor: Option<String>,
    /// The actor's name for people (the API key's name).
    actor_name: Option<String>,
    /// On whose behalf the client said it acted: the request's `X-Actor`, as claimed (not verified).
    claimed_actor: Option<String>,
    /// The request's `Idempotency-Key`, when it had one.
    idempotency_key: Option<String>,
    /// The W3C trace id (from `traceparent`).
    trace_id: Option<String>,
}

/// One message of the live tail (Server-Sent Events): `id:` the event's global position, `data:` the event as
/// JSON (`RecordedEvent`). Keep-alive comments (`: keep-alive`) carry no event.
#[derive(ToSchema)]
#[schema(as = TailEvent)]
pub(crate) struct TailEventDoc {
    /// The SSE event name: always the default, `message`.
    #[schema(value_type = String, pattern = "^message$")]
    event: String,
    /// The event's global position: send it back as `Last-Event-ID` to resume after it.
    #[schema(pattern = "^[0-9]{1,20}$")]
    id: String,
    /// The event as JSON, a `RecordedEvent`.
    #[schema(schema_with = tail_data)]
    data: String,
}

/// The `data:` of a tail message: JSON text of a `RecordedEvent`.
fn tail_data() -> RefOr<Schema> {
    crate::openapi::schema(json!({
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": { "$ref": "#/components/schemas/RecordedEvent" },
        "description": "The event as JSON (a `RecordedEvent`)."
    }))
}

/// One event of a history: the event, who caused it, and the order's state after it.
#[derive(ToSchema)]
#[schema(as = HistoryEntry)]
pub(crate) struct HistoryEntryDoc {
    event: RecordedEventDoc,
    /// The event's `metadata.actor`.
    #[schema(required = true)]
    actor: Option<String>,
    #[schema(required = true)]
    correlation_id: Option<Uuid>,
    #[schema(required = true)]
    causation_id: Option<Uuid>,
    recorded_at: DateTime<Utc>,
    state_after: PlacedOrderStateDoc,
}

/// The order aggregate's state as the domain folds it from its events (the domain's serialization).
#[derive(ToSchema)]
#[schema(as = PlacedOrderState)]
pub(crate) struct PlacedOrderStateDoc {
    order_id: Uuid,
    #[schema(value_type = schemas::CustomerId)]
    customer_id: String,
    #[schema(value_type = schemas::OrderStatus)]
    status: String,
    lines: Vec<OrderStateLineDoc>,
    #[schema(value_type = schemas::Currency)]
    currency: String,
    total: MoneyView,
    /// Captured so far.
    paid: MoneyView,
    refunded: MoneyView,
    /// Units shipped per SKU; a SKU with nothing shipped is absent.
    #[schema(value_type = BTreeMap<String, u32>)]
    shipped: BTreeMap<String, u32>,
    /// Units returned per SKU; a SKU with nothing returned is absent.
    #[schema(value_type = BTreeMap<String, u32>)]
    returned: BTreeMap<String, u32>,
    /// Set when the order is confirmed.
    #[schema(required = true)]
    reserved_until: Option<DateTime<Utc>>,
    placed_at: DateTime<Utc>,
}

/// A priced line of an order's state.
#[derive(ToSchema)]
#[schema(as = OrderStateLine)]
pub(crate) struct OrderStateLineDoc {
    #[schema(value_type = schemas::Sku)]
    sku: String,
    #[schema(minimum = 1)]
    quantity: u32,
    unit_price: MoneyView,
}

/// The result of verifying hash chains (still 200 when broken: see `intact`).
#[derive(ToSchema)]
#[schema(as = Verification)]
pub(crate) struct VerificationDoc {
    streams_checked: u64,
    events_checked: u64,
    /// No break was found.
    intact: bool,
    breaks: Vec<ChainBreakDoc>,
}

/// What kind of break a hash chain has (docs/hash-chain.md).
#[derive(ToSchema)]
#[schema(as = ChainBreakKind)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChainBreakKindDoc {
    /// An event's stored hash is not the one recomputed from its predecessor and itself.
    HashMismatch,
    /// Versions are absent from the chain.
    Missing,
    /// The stream head records another last version or hash than the events have.
    HeadMismatch,
}

/// One broken place in a hash chain.
#[derive(ToSchema)]
#[schema(as = ChainBreak)]
pub(crate) struct ChainBreakDoc {
    stream_id: String,
    version: u64,
    kind: ChainBreakKindDoc,
    /// Only for `missing`: how many versions from `version` on are absent.
    count: Option<u64>,
    /// Only for `head_mismatch`: the version the stream head records (`null`: the head row is gone).
    head_version: Option<u64>,
    #[schema(required = true, value_type = Option<Hash>)]
    expected: Option<String>,
    #[schema(required = true, value_type = Option<Hash>)]
    found: Option<String>,
}

/// A recorded digest of the store, without its leaves.
#[derive(ToSchema)]
#[schema(as = DigestSummary)]
pub(crate) struct DigestSummaryDoc {
    #[schema(minimum = 1)]
    id: i64,
    /// The global position covered: every event at or below it.
    position: u64,
    stream_count: u64,
    event_count: u64,
    root: Hash,
    created_at: DateTime<Utc>,
}

/// A recorded digest with its leaves.
#[derive(ToSchema)]
#[schema(as = Digest)]
pub(crate) struct DigestDoc {
    #[schema(minimum = 1)]
    id: i64,
    created_at: DateTime<Utc>,
    /// The global position covered: every event at or below it.
    position: u64,
    stream_count: u64,
    event_count: u64,
    root: Hash,
    /// Every stream's head, in stream id byte order.
    leaves: Vec<DigestLeafDoc>,
}

/// One stream's head as a digest covers it.
#[derive(ToSchema)]
#[schema(as = DigestLeaf)]
pub(crate) struct DigestLeafDoc {
    stream_id: String,
    /// The version of the stream's last event at or below the digest's position.
    version: u64,
    hash: Hash,
}

/// The store checked against a recorded digest (still 200 when it differs: see `intact`).
#[derive(ToSchema)]
#[schema(as = DigestCheck)]
pub(crate) struct DigestCheckDoc {
    position: u64,
    expected_root: Hash,
    recomputed_root: Hash,
    /// The recomputed root equals the digest's.
    intact: bool,
    /// Whether the digest's leaves were known, so that `differences` names the streams.
    streams_compared: bool,
    differences: Vec<StreamDifferenceDoc>,
    stream_count: u64,
    event_count: u64,
}

/// How one stream differs from the digest.
#[derive(ToSchema)]
#[schema(as = DifferenceKind)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DifferenceKindDoc {
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
#[derive(ToSchema)]
#[schema(as = StreamDifference)]
pub(crate) struct StreamDifferenceDoc {
    stream_id: String,
    kind: DifferenceKindDoc,
    #[schema(required = true)]
    expected_version: Option<u64>,
    #[schema(required = true)]
    found_version: Option<u64>,
    #[schema(required = true, value_type = Option<Hash>)]
    expected_hash: Option<String>,
    #[schema(required = true, value_type = Option<Hash>)]
    found_hash: Option<String>,
}

/// An event as a CloudEvents 1.0 structured-mode JSON object (one per line of a `format=cloudevents` export).
#[derive(ToSchema)]
#[schema(as = CloudEvent)]
pub(crate) struct CloudEventDoc {
    #[schema(pattern = r"^1\.0$")]
    specversion: String,
    /// The event id.
    id: Uuid,
    #[schema(pattern = "^tally$")]
    source: String,
    /// The event type.
    #[serde(rename = "type")]
    event_type: String,
    /// The stream id.
    subject: String,
    time: DateTime<Utc>,
    #[schema(pattern = "^application/json$")]
    datacontenttype: String,
    /// The event's data.
    #[schema(value_type = Object)]
    data: Value,
    /// The stream id.
    tallystream: String,
    /// The stream version as a decimal string.
    #[schema(pattern = "^[0-9]{1,20}$")]
    tallyversion: String,
    /// The global position as a decimal string.
    #[schema(pattern = "^[0-9]{1,20}$")]
    tallyposition: String,
    /// The schema version as a decimal string.
    #[schema(pattern = "^[0-9]{1,10}$")]
    tallyschemaversion: String,
    tallyhash: Hash,
    /// The event metadata as canonical JSON text.
    tallymetadata: String,
}

/// The schema of `T` by name and the schemas it refers to, for a component no operation's types name (the
/// export's `CloudEvent` lines).
pub(crate) fn named<T: ToSchema>() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut schemas);
    schemas
}

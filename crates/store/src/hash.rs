//! The hash chain: every event's hash is `SHA-256(previous hash in its stream || canonical bytes of the event)`,
//! so changing, removing or reordering a stored event breaks the chain from that event on.
//!
//! The canonical bytes are defined here and in docs/hash-chain.md (which shows how to recompute a hash with psql
//! and sha256sum). They never depend on how an adapter stores JSON: data and metadata are hashed in a canonical
//! JSON form (sorted keys, no whitespace) computed from the JSON value.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;

use crate::event::RecordedEvent;

/// A SHA-256 hash of an event, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventHash([u8; 32]);

impl EventHash {
    /// The "previous hash" of a stream's first event: 32 zero bytes.
    pub const GENESIS: EventHash = EventHash([0; 32]);

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EventHash(bytes)
    }

    /// `None` unless `bytes` is exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(EventHash)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            *byte = u8::try_from(high * 16 + low).ok()?;
        }
        Some(EventHash(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Display for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventHash({})", self.to_hex())
    }
}

impl Serialize for EventHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for EventHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EventHash::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

/// The fields an event's hash covers, in their canonical order. `data_json` and `metadata_json` must be
/// [`canonical_json`] text.
#[derive(Debug, Clone, Copy)]
pub struct HashInput<'a> {
    pub event_id: Uuid,
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub recorded_at: DateTime<Utc>,
    pub data_json: &'a str,
    pub metadata_json: &'a str,
}

impl HashInput<'_> {
    /// The canonical bytes of the event: each field as UTF-8 text, preceded by its byte length as a 4-byte
    /// big-endian integer, in this order: event id (lowercase, hyphenated), stream id, stream version (decimal),
    /// event type, schema version (decimal), recorded at (microseconds since 1970-01-01 UTC, decimal), data
    /// (canonical JSON), metadata (canonical JSON).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let fields = [
            self.event_id.hyphenated().to_string(),
            self.stream_id.to_owned(),
            self.stream_version.to_string(),
            self.event_type.to_owned(),
            self.schema_version.to_string(),
            self.recorded_at.timestamp_micros().to_string(),
        ];
        let json_fields = [self.data_json, self.metadata_json];
        let size = fields.iter().map(String::len).sum::<usize>() + self.data_json.len() + self.metadata_json.len();
        let mut bytes = Vec::with_capacity(size + 4 * 8);
        for field in fields.iter().map(String::as_str).chain(json_fields) {
            // Fields are bounded far below 4 GiB (the store refuses larger appends), so the length fits.
            let length = u32::try_from(field.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        bytes
    }

    /// `SHA-256(previous || canonical bytes)`.
    pub fn hash(&self, previous: &EventHash) -> EventHash {
        let mut hasher = Sha256::new();
        hasher.update(previous.as_bytes());
        hasher.update(self.canonical_bytes());
        EventHash(hasher.finalize().into())
    }
}

/// Recomputes a recorded event's hash from its fields and the previous hash of its stream.
pub fn recompute_hash(previous: &EventHash, event: &RecordedEvent) -> EventHash {
    let metadata = serde_json::to_value(&event.metadata).unwrap_or(Value::Null);
    HashInput {
        event_id: event.event_id,
        stream_id: &event.stream_id,
        stream_version: event.stream_version,
        event_type: &event.event_type,
        schema_version: event.schema_version,
        recorded_at: event.recorded_at,
        data_json: &canonical_json(&event.data),
        metadata_json: &canonical_json(&metadata),
    }
    .hash(previous)
}

/// The canonical JSON text of a value: object keys sorted by their UTF-8 bytes, no whitespace, strings escaped as
/// serde_json and PostgreSQL escape them, integral numbers as plain integers (docs/hash-chain.md).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here rather than trusting the map's order: serde_json keeps insertion order when any crate
            // in the build enables its `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

/// Integers as decimal digits; a float with an integral value in the 64-bit integer range as that integer (a
/// database may hand `5.0` back as `5`, and `-0.0` as `0`); any other float as the shortest text that reads back
/// to the same double (serde_json's format).
fn write_number(out: &mut String, number: &Number) {
    if let Some(integer) = number.as_i64() {
        out.push_str(&integer.to_string());
    } else if let Some(integer) = number.as_u64() {
        out.push_str(&integer.to_string());
    } else if let Some(float) = number.as_f64() {
        const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
        const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
        if float.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&float) {
            out.push_str(&(float as i64).to_string());
        } else if float.fract() == 0.0 && (0.0..TWO_POW_64).contains(&float) {
            out.push_str(&(float as u64).to_string());
        } else {
            out.push_str(&number.to_string());
        }
    }
}

/// `"` and `\` escaped with a backslash; `\b \f \n \r \t` as such; other characters below U+0020 as `\u00xx`
/// (lowercase hex); everything else, non-ASCII included, as its UTF-8 bytes.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let value = json!({"b": [1, 2, {"z": null, "a": true}], "a": "x", "ab": {}, "A": []});
        assert_eq!(canonical_json(&value), r#"{"A":[],"a":"x","ab":{},"b":[1,2,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let mut every_ascii = String::new();
        for code in 0u8..0x80 {
            every_ascii.push(char::from(code));
        }
        for text in [every_ascii.as_str(), "é ü 日本 😀 \u{2028} \u{7f}", ""] {
            let expected = serde_json::to_string(text).expect("a string serializes");
            assert_eq!(canonical_json(&Value::String(text.to_owned())), expected);
        }
    }

    #[test]
    fn integral_numbers_are_written_as_integers() {
        let value = json!([5.0, -0.0, 1e16, 1.5e19, -3, u64::MAX, i64::MIN, 0.1, 2.5, 1.5e-7, 1e20]);
        assert_eq!(
            canonical_json(&value),
            concat!(
                "[5,0,10000000000000000,15000000000000000000,-3,18446744073709551615,-9223372036854775808,",
                "0.1,2.5,1.5e-7,1e+20]"
            )
        );
        for float in [0.1, 2.5, 1.5e-7, 1e20, 0.30000000000000004] {
            let expected = serde_json::to_string(&float).expect("a float serializes");
            assert_eq!(canonical_json(&json!(float)), expected, "floats are written as serde_json writes them");
        }
    }

    #[test]
    fn canonical_json_reads_back_to_itself() {
        let value = json!({"n": [1e16, 0.30000000000000004, -12.5, 1.5e-7], "s": "a\"b\\c\u{1}"});
        let text = canonical_json(&value);
        let reread: Value = serde_json::from_str(&text).expect("canonical JSON parses");
        assert_eq!(canonical_json(&reread), text);
    }

    #[test]
    fn canonical_bytes_are_length_prefixed_fields() {
        let input = HashInput {
            event_id: Uuid::nil(),
            stream_id: "s",
            stream_version: 12,
            event_type: "T",
            schema_version: 1,
            recorded_at: DateTime::from_timestamp_micros(1_500_000).expect("a valid time"),
            data_json: "{}",
            metadata_json: "{}",
        };
        let mut expected = Vec::new();
        for field in ["00000000-0000-0000-0000-000000000000", "s", "12", "T", "1", "1500000", "{}", "{}"] {
            expected.extend_from_slice(&u32::try_from(field.len()).expect("short").to_be_bytes());
            expected.extend_from_slice(field.as_bytes());
        }
        assert_eq!(input.canonical_bytes(), expected);
        let mut hasher = Sha256::new();
        hasher.update([0u8; 32]);
        hasher.update(&expected);
        assert_eq!(input.hash(&EventHash::GENESIS).as_bytes()[..], hasher.finalize()[..]);
    }

    #[test]
    fn hex_round_trips() {
        let hash = EventHash::from_bytes([0xab; 32]);
        assert_eq!(hash.to_hex(), "ab".repeat(32));
        assert_eq!(EventHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(EventHash::from_hex("xyz"), None);
    }
}

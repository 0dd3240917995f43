//! The documented query parameters the log's readers share (`GET /v1/streams/{stream_id}/events`, `/v1/events`,
//! its live tail, `/v1/export`, the digest list), written as their OpenAPI JSON: positions are `u64`s whose whole
//! range the server parses, which JSON states exactly (a derived `maximum` would pass through a float).

use crate::openapi::{or_empty, parameter};
use serde_json::json;
use utoipa::openapi::path::Parameter;

/// Text the server accepts in a query parameter: anything but a NUL (400).
pub(super) const NO_NUL: &str = "^[^\\u0000]*$";

/// A non-negative integer parameter that the server reads as a `u64` (a position, a version, a cursor).
pub(super) fn position(name: &str, description: &str) -> Parameter {
    parameter(json!({
        "name": name, "in": "query", "schema": or_empty(json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})),
        "description": description,
    }))
}

/// `limit`: 1 to `max`, `default` when absent; outside: 422.
pub(super) fn limit(default: usize, max: usize) -> Parameter {
    parameter(json!({
        "name": "limit", "in": "query",
        "schema": or_empty(json!({"type": "integer", "minimum": 1, "maximum": max, "default": default})),
        "description": format!("Items per page (1 to {max}, default {default}; outside: 422)."),
    }))
}

/// A text parameter.
pub(super) fn text(name: &str, description: &str) -> Parameter {
    parameter(json!({
        "name": name, "in": "query", "schema": {"type": "string", "pattern": NO_NUL}, "description": description,
    }))
}

/// The filters of the log (`after`, `stream_prefix`, `event_type`, `from_time`, `to_time`), shared by the global
/// log, its live tail and the export.
pub(super) fn log_filters() -> Vec<Parameter> {
    let time = or_empty(json!({"type": "string", "format": "date-time"}));
    vec![
        position("after", "Only events with a position greater than this (default 0: from the start)."),
        text("stream_prefix", "Only events of streams whose id starts with this (e.g. `order-`)."),
        parameter(json!({
            "name": "event_type", "in": "query", "style": "form", "explode": true,
            "schema": {"type": "array", "items": {"type": "string", "pattern": NO_NUL}},
            "description": "Only events of these types (e.g. `OrderPlaced`): repeat the parameter or give a comma \
                list.",
        })),
        parameter(json!({
            "name": "from_time", "in": "query", "schema": time,
            "description": "Only events recorded at or after this time (RFC 3339; else 400).",
        })),
        parameter(json!({
            "name": "to_time", "in": "query", "schema": time,
            "description": "Only events recorded before this time (RFC 3339; else 400). Before `from_time`: 400 \
                (equal to it: an empty range).",
        })),
    ]
}

/// `follow`: the global log's switch to its live tail.
pub(super) fn follow(description: &str) -> Parameter {
    parameter(json!({
        "name": "follow", "in": "query", "schema": or_empty(json!({"type": "boolean", "default": false})),
        "description": description,
    }))
}

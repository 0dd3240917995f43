//! Export round trips: every exported line, in both formats, parses back to the stored event (and its hash
//! recomputes from the line alone); ranges and one stream; the library stream pages through a large log.

use super::Shop;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::Value;
use tally_audit::export::{export_lines, ExportFormat, LogRange};
use tally_store::{recompute_hash, EventHash, ExpectedVersion, Metadata, NewEvent, RecordedEvent};
use uuid::Uuid;

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect()
}

/// A JSON-lines record as a recorded event.
fn from_json_line(line: &Value) -> RecordedEvent {
    serde_json::from_value(line.clone()).unwrap()
}

/// A CloudEvents record as a recorded event.
fn from_cloud_event(line: &Value) -> RecordedEvent {
    assert_eq!(line["specversion"], "1.0");
    assert_eq!(line["source"], "tally");
    assert_eq!(line["datacontenttype"], "application/json");
    assert_eq!(line["subject"], line["tallystream"]);
    let text = |name: &str| line[name].as_str().unwrap_or_else(|| panic!("{name} is a string")).to_owned();
    let metadata: Metadata = serde_json::from_str(&text("tallymetadata")).unwrap();
    RecordedEvent {
        event_id: Uuid::parse_str(&text("id")).unwrap(),
        stream_id: text("tallystream"),
        stream_version: text("tallyversion").parse().unwrap(),
        position: text("tallyposition").parse().unwrap(),
        event_type: text("type"),
        schema_version: text("tallyschemaversion").parse().unwrap(),
        data: line["data"].clone(),
        metadata,
        recorded_at: text("time").parse::<DateTime<Utc>>().unwrap(),
        hash: EventHash::from_hex(&text("tallyhash")).unwrap(),
    }
}

/// Checks that `exported` are exactly `stored`, and that each hash recomputes from the exported fields.
fn assert_round_trip(exported: &[RecordedEvent], stored: &[RecordedEvent]) {
    assert_eq!(exported.len(), stored.len());
    let mut previous: std::collections::HashMap<&str, EventHash> = std::collections::HashMap::new();
    for (back, event) in exported.iter().zip(stored) {
        assert_eq!(back, event, "position {}", event.position);
        let before = previous.get(back.stream_id.as_str()).copied().unwrap_or(EventHash::GENESIS);
        assert_eq!(recompute_hash(&before, back), back.hash, "the hash recomputes from the exported line");
        previous.insert(&back.stream_id, back.hash);
    }
}

#[tokio::test]
async fn both_formats_round_trip_to_the_stored_events() {
    let (shop, ids) = Shop::busy(2).await;
    let stored = shop.all_events().await;

    let answer = shop.get("/v1/export").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type, "application/x-ndjson");
    let exported: Vec<RecordedEvent> = lines(&answer.text()).iter().map(from_json_line).collect();
    assert_round_trip(&exported, &stored);

    let answer = shop.get("/v1/export?format=cloudevents").await;
    let exported: Vec<RecordedEvent> = lines(&answer.text()).iter().map(from_cloud_event).collect();
    assert_round_trip(&exported, &stored);

    let stream = format!("order-{}", ids[1]);
    let answer = shop.get(&format!("/v1/export?stream={stream}&format=cloudevents")).await;
    let exported: Vec<RecordedEvent> = lines(&answer.text()).iter().map(from_cloud_event).collect();
    let of_stream: Vec<RecordedEvent> = stored.iter().filter(|e| e.stream_id == stream).cloned().collect();
    assert_round_trip(&exported, &of_stream);

    let answer = shop.get("/v1/export?after=3&to_position=9&event_type=StockReceived,OrderPlaced").await;
    let exported: Vec<RecordedEvent> = lines(&answer.text()).iter().map(from_json_line).collect();
    let expected: Vec<RecordedEvent> = stored
        .iter()
        .filter(|e| (4..=9).contains(&e.position) && ["StockReceived", "OrderPlaced"].contains(&e.event_type.as_str()))
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(exported, expected);

    assert_eq!(shop.get("/v1/export?stream=order-nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(shop.get("/v1/export?format=xml").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_library_export_pages_through_the_log_and_stops_at_its_start_head() {
    let shop = super::shop().await;
    for batch in 0..5u64 {
        let events = (0..500).map(|n| NewEvent::new("Counted", serde_json::json!({ "n": batch * 500 + n }))).collect();
        shop.state.store.append(&format!("counter-{batch}"), ExpectedVersion::NoStream, events).await.unwrap();
    }
    let chunks: Vec<axum::body::Bytes> =
        export_lines(shop.state.store.clone(), LogRange::default(), ExportFormat::JsonLines)
            .try_collect()
            .await
            .unwrap();
    assert_eq!(chunks.len(), 3, "one chunk per page of 1,000 events");
    let text: String = chunks.iter().map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let positions: Vec<u64> = lines(&text).iter().map(|l| l["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, (1..=2501).collect::<Vec<u64>>(), "the test's admin key, then 2,500 events");

    let range = LogRange { stream: Some("counter-2".into()), ..LogRange::default() };
    let chunks: Vec<axum::body::Bytes> =
        export_lines(shop.state.store.clone(), range, ExportFormat::CloudEvents).try_collect().await.unwrap();
    let text: String = chunks.iter().map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let versions: Vec<String> = lines(&text).iter().map(|l| l["tallyversion"].as_str().unwrap().to_owned()).collect();
    assert_eq!(versions, (0..500).map(|v| v.to_string()).collect::<Vec<_>>());
}

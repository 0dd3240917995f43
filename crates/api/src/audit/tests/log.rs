//! Streams by version, the global log with its filters and paging, and the live tail's resume after a dropped
//! connection.

use super::{shop, Shop};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tally_store::{ExpectedVersion, NewEvent, ReadStream};
use tower::ServiceExt;

fn positions(page: &Value) -> Vec<u64> {
    page["items"].as_array().unwrap().iter().map(|e| e["position"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn a_stream_reads_forwards_and_backwards_as_stored() {
    let (shop, ids) = Shop::busy(1).await;
    let stream = format!("order-{}", ids[0]);
    let stored = shop.state.store.read_stream(&stream, ReadStream::forwards(0, 100)).await.unwrap();
    assert!(stored.len() >= 4, "placed, confirmed, paid, shipped");

    let page = shop.ok(&format!("/v1/streams/{stream}/events?limit=2")).await;
    assert_eq!(page["stream_id"], stream);
    assert_eq!(page["next_from"], 2);
    let rest = shop.ok(&format!("/v1/streams/{stream}/events?from=2")).await;
    assert_eq!(rest["next_from"], Value::Null);
    let items: Vec<&Value> =
        page["items"].as_array().unwrap().iter().chain(rest["items"].as_array().unwrap()).collect();
    assert_eq!(items.len(), stored.len());
    for (item, event) in items.iter().zip(&stored) {
        assert_eq!(item["event_id"], event.event_id.to_string());
        assert_eq!(item["stream_version"], event.stream_version);
        assert_eq!(item["position"], event.position);
        assert_eq!(item["event_type"], event.event_type);
        assert_eq!(item["data"], event.data);
        assert_eq!(item["hash"], event.hash.to_hex());
        assert_eq!(item["metadata"]["actor"], "auditor-test");
    }

    let last = shop.ok(&format!("/v1/streams/{stream}/events?direction=backwards&limit=1")).await;
    assert_eq!(last["items"][0]["stream_version"], stored.len() - 1);
    assert_eq!(last["next_from"], stored.len() - 2);

    let missing = shop.get("/v1/streams/order-00000000-0000-0000-0000-000000000000/events").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.content_type, "application/problem+json");
    let bad = shop.get(&format!("/v1/streams/{stream}/events?direction=sideways")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_global_log_pages_and_filters() {
    let (shop, _) = Shop::busy(3).await;
    let all = shop.all_events().await;

    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = shop.ok(&format!("/v1/events?after={after}&limit=7")).await;
        seen.extend(positions(&page));
        after = page["next_after"].as_u64().unwrap();
        if page["next_cursor"].is_null() {
            break;
        }
    }
    assert_eq!(seen, all.iter().map(|e| e.position).collect::<Vec<_>>(), "every event once, in order");

    let types = shop.ok("/v1/events?limit=1000&event_type=OrderPlaced,PaymentCaptured&stream_prefix=order-").await;
    let expected: Vec<u64> = all
        .iter()
        .filter(|e| {
            e.stream_id.starts_with("order-") && ["OrderPlaced", "PaymentCaptured"].contains(&e.event_type.as_str())
        })
        .map(|e| e.position)
        .collect();
    assert_eq!(positions(&types), expected);
    let repeated = shop.ok("/v1/events?limit=1000&event_type=OrderPlaced&event_type=PaymentCaptured").await;
    assert_eq!(positions(&repeated), expected);

    let middle = &all[all.len() / 2];
    let from = middle.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let timed = shop.ok(&format!("/v1/events?limit=1000&from_time={}", from.replace('+', "%2B"))).await;
    let expected: Vec<u64> = all.iter().filter(|e| e.recorded_at >= middle.recorded_at).map(|e| e.position).collect();
    assert_eq!(positions(&timed), expected);
    // `[from_time, to_time)` with both the same is an empty range, not an error; one that ends before it starts is.
    let from = from.replace('+', "%2B");
    let same = shop.ok(&format!("/v1/events?limit=1000&from_time={from}&to_time={from}")).await;
    assert_eq!(positions(&same), Vec::<u64>::new());
    let before = middle.recorded_at - chrono::Duration::seconds(1);
    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
    let reversed = shop.get(&format!("/v1/events?from_time={from}&to_time={before}")).await;
    assert_eq!(reversed.status, StatusCode::BAD_REQUEST, "{}", reversed.text());

    // Typed query strings: a bad value names its parameter; an unknown one, a repeated scalar, a tail with a
    // limit are refused; empty values mean "not given".
    let bad = shop.get("/v1/events?after=x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (bad.json()["type"].as_str(), bad.json()["field"].as_str()),
        (Some("/problems/validation"), Some("after"))
    );
    assert_eq!(shop.get("/v1/events?limit=0").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(shop.get("/v1/events?bogus=1").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(shop.get("/v1/events?after=1&after=2").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(shop.get("/v1/events/stream?limit=5").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(shop.get("/v1/events?follow=maybe").await.status, StatusCode::BAD_REQUEST);
    let empty = shop.ok("/v1/events?limit=1000&after=&stream_prefix=&event_type=&from_time=").await;
    assert_eq!(positions(&empty), all.iter().map(|e| e.position).collect::<Vec<_>>());
}

/// Opens the live tail and reads SSE messages until `count` ids were seen; the connection is dropped after.
async fn tail(shop: &Shop, last_event_id: Option<u64>, count: usize) -> Vec<u64> {
    let mut request = Request::get("/v1/events/stream").header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = shop.app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let (mut text, mut ids) = (String::new(), Vec::new());
    while ids.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next()).await.expect("an event in time");
        text.push_str(std::str::from_utf8(&chunk.expect("the tail goes on").unwrap()).unwrap());
        while let Some(end) = text.find("\n\n") {
            let message: String = text.drain(..end + 2).collect();
            let id = message.lines().find_map(|line| line.strip_prefix("id:")).map(|id| id.trim().parse().unwrap());
            let data = message.lines().find_map(|line| line.strip_prefix("data:"));
            if let (Some(id), Some(data)) = (id, data) {
                let event: Value = serde_json::from_str(data.trim()).unwrap();
                assert_eq!(event["position"], id, "the SSE id is the position");
                ids.push(id);
            }
        }
    }
    ids.truncate(count);
    ids
}

#[tokio::test]
async fn the_live_tail_resumes_without_gaps_or_repeats() {
    let shop = shop().await;
    let append = |n: u64| {
        let store = shop.state.store.clone();
        async move {
            let event = NewEvent::new("Counted", serde_json::json!({ "n": n }));
            store.append(&format!("counter-{}", n % 3), ExpectedVersion::Any, vec![event]).await.unwrap();
        }
    };
    for n in 0..10 {
        append(n).await;
    }

    let first = tail(&shop, None, 6).await;
    assert_eq!(first, (1..=6).collect::<Vec<u64>>());

    // Reconnect after the dropped connection while new events are appended.
    let writer = {
        let store = shop.state.store.clone();
        tokio::spawn(async move {
            for n in 10..30u64 {
                let event = NewEvent::new("Counted", serde_json::json!({ "n": n }));
                store.append(&format!("counter-{}", n % 3), ExpectedVersion::Any, vec![event]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let rest = tail(&shop, first.last().copied(), 24).await;
    writer.await.unwrap();
    let all: Vec<u64> = first.iter().chain(&rest).copied().collect();
    assert_eq!(all, (1..=30).collect::<Vec<u64>>(), "contiguous and unique across the reconnect");

    // `GET /v1/events?follow=true` is the same tail, with the same filters.
    let request = Request::get("/v1/events?follow=true&event_type=Counted&after=28").body(Body::empty()).unwrap();
    let response = shop.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let chunk = tokio::time::timeout(Duration::from_secs(5), body.next()).await.unwrap().unwrap().unwrap();
    assert!(std::str::from_utf8(&chunk).unwrap().contains("id: 29"), "{chunk:?}");
}

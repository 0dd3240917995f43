//! Webhooks against a receiver in this test process (a real HTTP server on a free port) and a real `tally serve`
//! on a real PostgreSQL: deliveries arrive in log order, each signature verifies with the Standard Webhooks
//! algorithm written out here from the specification (not Tally's code), a receiver that fails for a while gets
//! every event afterwards exactly once per `webhook-id`, a 410 pauses the subscription, a kill -9 of the sending
//! node loses nothing, and a loopback target is refused unless the server allows private addresses.

use crate::harness::{self, follower_status, get_json, poll_until, post_expect, post_json, TallyProcess};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Within this a sender has delivered what the test wrote (retries with their backoff included).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(90);
const SKUS: [&str; 3] = ["HOOK-A", "HOOK-B", "HOOK-C"];

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// The receiver: records every request, answers the statuses queued in `script` first, then `then`, each after
/// `delay`.
#[derive(Default)]
struct Receiver {
    received: Mutex<Vec<Received>>,
    script: Mutex<Vec<u16>>,
    then: Mutex<u16>,
    delay: Mutex<Duration>,
}

impl Receiver {
    fn answering(status: u16) -> Arc<Self> {
        let receiver = Receiver::default();
        *receiver.then.lock().unwrap() = status;
        Arc::new(receiver)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The event ids answered with a 2xx, in the order they were.
    fn delivered_ids(&self) -> Vec<String> {
        self.received().into_iter().filter(|r| (200..300).contains(&r.answered)).map(|r| r.id).collect()
    }
}

async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let delay = *receiver.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let answered = {
        let mut script = receiver.script.lock().unwrap();
        if script.is_empty() {
            *receiver.then.lock().unwrap()
        } else {
            script.remove(0)
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    receiver.received.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
        answered,
    });
    StatusCode::from_u16(answered).expect("a status")
}

/// Starts `receiver` on a free loopback port; returns its URL.
async fn serve_receiver(receiver: Arc<Receiver>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let address = listener.local_addr().expect("its address");
    let app = Router::new().route("/hook", post(receive)).with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the receiver") });
    format!("http://{address}/hook")
}

/// The Standard Webhooks verification, as the specification writes it: the secret is the base64 after `whsec_`;
/// the signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is base64 HMAC-SHA256 of it,
/// and the header holds space-separated `v1,<signature>` entries, any of which may match.
fn verifies(secret: &str, delivery: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{}.{}.", delivery.id, delivery.timestamp).as_bytes());
    mac.update(&delivery.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    delivery.signature.split(' ').any(|entry| entry == format!("v1,{expected}"))
}

async fn add_products(base: &str) {
    harness::add_products(base, &SKUS).await;
}

async fn receive_stock(base: &str, count: usize) {
    harness::receive_stock(base, &SKUS, count).await;
}

/// A server that allows private targets, a receiver answering `script` then `then`, and its subscription to every
/// event.
struct Subscribed {
    _db: tally_testkit::TestDatabase,
    server: TallyProcess,
    base: String,
    receiver: Arc<Receiver>,
    /// The receiver's URL, as subscribed (`http://127.0.0.1:<port>/hook`).
    url: String,
    id: String,
    /// The position of the subscription: deliveries start after it.
    position: u64,
}

async fn subscribed_receiver(script: Vec<u16>, then: u16) -> Subscribed {
    let db = tally_testkit::fresh_database().await;
    let (server, base) = TallyProcess::serve(&["--database-url", &db.url, "--webhook-allow-private"]);
    let receiver = Receiver::answering(then);
    *receiver.script.lock().unwrap() = script;
    let url = serve_receiver(Arc::clone(&receiver)).await;
    let (webhook, position) = subscribe(&base, json!({ "url": url })).await;
    let id = webhook["id"].as_str().expect("id").to_owned();
    Subscribed { _db: db, server, base, receiver, url, id, position }
}

/// Subscribes `url`; returns the subscription's JSON (with its `secret`) and the position of the subscription.
async fn subscribe(base: &str, body: Value) -> (Value, u64) {
    let reply = post_expect(&format!("{base}/v1/webhooks"), &body, 201).await;
    (reply.body, reply.position.expect("Tally-Position"))
}

/// The log's events after `after`, in log order, from the audit API.
async fn log_after(base: &str, after: u64) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = after;
    loop {
        let (status, page) = get_json(&format!("{base}/v1/events?after={after}&limit=1000")).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().expect("items").clone();
        let Some(last) = items.last() else { return events };
        after = last["position"].as_u64().expect("position");
        events.extend(items);
        if page["next_cursor"].is_null() {
            return events;
        }
    }
}

fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(|event| event["event_id"].as_str().expect("event_id").to_owned()).collect()
}

/// Waits until the receiver has had a 2xx for every id of `wanted`.
async fn wait_for_deliveries(receiver: &Receiver, wanted: &[String]) {
    poll_until("every event to be delivered", DELIVERY_TIMEOUT, || async {
        let delivered: HashSet<String> = receiver.delivered_ids().into_iter().collect();
        let missing = wanted.iter().filter(|id| !delivered.contains(*id)).count();
        if missing == 0 {
            Ok(())
        } else {
            Err(format!("{missing} of {} not delivered yet", wanted.len()))
        }
    })
    .await;
}

/// The ids in the order they were first delivered (a repeat after a crash is a recognisable duplicate).
fn first_deliveries(ids: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}

#[tokio::test]
async fn deliveries_arrive_in_log_order_signed_as_the_standard_says() {
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve(&["--database-url", &db.url, "--webhook-allow-private"]);
    let receiver = Receiver::answering(204);
    let url = serve_receiver(Arc::clone(&receiver)).await;
    let (every, subscribed) = subscribe(&base, json!({ "url": url })).await;
    let secret = every["secret"].as_str().expect("the secret, shown once").to_owned();
    assert!(secret.starts_with("whsec_"), "{every}");
    let narrow_receiver = Receiver::answering(200);
    let narrow_url = serve_receiver(Arc::clone(&narrow_receiver)).await;
    let _narrow = subscribe(
        &base,
        json!({ "url": narrow_url, "event_types": ["StockReceived"], "stream_prefix": "inventory-HOOK-B" }),
    )
    .await;
    add_products(&base).await;
    receive_stock(&base, 30).await;

    let log = log_after(&base, subscribed).await;
    wait_for_deliveries(&receiver, &ids(&log)).await;
    let received = receiver.received();
    assert_eq!(received.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids(&log), "once each, in log order");
    for delivery in &received {
        assert!(verifies(&secret, delivery), "signature of {} does not verify", delivery.id);
        assert_eq!(delivery.event()["event_id"], delivery.id.as_str(), "webhook-id is the event id");
        let sent_at: i64 = delivery.timestamp.parse().expect("a Unix timestamp");
        assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 300);
    }
    // The body is the event as the audit API shows it.
    assert_eq!(received[0].event(), log[0]);

    // The narrow subscription gets only its events (and its own subscription event is not one of them).
    let wanted: Vec<Value> = log
        .iter()
        .filter(|e| e["event_type"] == "StockReceived" && e["stream_id"] == "inventory-HOOK-B")
        .cloned()
        .collect();
    assert_eq!(wanted.len(), 10);
    wait_for_deliveries(&narrow_receiver, &ids(&wanted)).await;
    assert_eq!(narrow_receiver.delivered_ids(), ids(&wanted));

    // Rotated: the new secret signs, and the old one still does for a day (two signatures per delivery).
    let id = every["id"].as_str().expect("id");
    let rotated = post_expect(&format!("{base}/v1/webhooks/{id}/secret"), &json!({}), 200).await;
    let new_secret = rotated.body["secret"].as_str().expect("the new secret").to_owned();
    assert_ne!(new_secret, secret);
    receive_stock(&base, 3).await;
    let log = log_after(&base, subscribed).await;
    wait_for_deliveries(&receiver, &ids(&log)).await;
    let last = receiver.received().last().cloned().expect("a delivery");
    assert_eq!(last.signature.split(' ').count(), 2, "{}", last.signature);
    assert!(verifies(&new_secret, &last) && verifies(&secret, &last));

    // The API shows where deliveries stand, and every attempt.
    let (status, shown) = get_json(&format!("{base}/v1/webhooks/{id}")).await;
    assert_eq!(status, 200, "{shown}");
    assert!(shown.get("secret").is_none(), "never the secret again: {shown}");
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["delivery"]["failed_attempts"], 0);
    let (_, attempts) = get_json(&format!("{base}/v1/webhooks/{id}/deliveries?limit=5")).await;
    assert_eq!(attempts["items"].as_array().expect("items").len(), 5, "{attempts}");
    assert_eq!(attempts["items"][0]["status"], 204);
    let (_, listed) = get_json(&format!("{base}/v1/webhooks")).await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 2, "{listed}");
}

#[tokio::test]
async fn a_receiver_failing_for_a_while_then_gets_every_event_once() {
    // Three failures in a row (1 s, 2 s, 4 s of backoff, less jitter).
    let Subscribed { _db, server: _server, base, receiver, url: _, id, position: subscribed } =
        subscribed_receiver(vec![500, 503, 500], 200).await;
    add_products(&base).await;
    receive_stock(&base, 20).await;

    let log = log_after(&base, subscribed).await;
    wait_for_deliveries(&receiver, &ids(&log)).await;
    let delivered = receiver.delivered_ids();
    assert_eq!(delivered, ids(&log), "each event once with a 2xx, in log order");
    // The failed attempts were at the first event, with the same webhook-id: a retry the receiver can recognise.
    let failed: Vec<Received> = receiver.received().into_iter().filter(|r| r.answered >= 300).collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|r| r.id == delivered[0]));
    let (_, attempts) = get_json(&format!("{base}/v1/webhooks/{id}/deliveries?limit=100")).await;
    let attempts = attempts["items"].as_array().expect("items").clone();
    let first_event: Vec<&Value> = attempts.iter().filter(|a| a["event_id"] == delivered[0].as_str()).collect();
    let numbers: HashSet<u64> = first_event.iter().map(|a| a["attempt"].as_u64().expect("attempt")).collect();
    assert_eq!(numbers, HashSet::from([1, 2, 3, 4]), "{first_event:?}");
    assert!(first_event.iter().any(|a| a["status"] == 503 && a["error"].is_string()));
    let (_, shown) = get_json(&format!("{base}/v1/webhooks/{id}")).await;
    assert_eq!(shown["delivery"]["failed_attempts"], 0, "{shown}");
}

#[tokio::test]
async fn a_410_pauses_the_subscription_with_the_reason_and_a_resume_delivers_the_rest() {
    let Subscribed { _db, server: _server, base, receiver, url: _, id, position: subscribed } =
        subscribed_receiver(vec![410], 200).await;
    add_products(&base).await;

    let shown = poll_until("the subscription to be paused", DELIVERY_TIMEOUT, || async {
        let (_, shown) = get_json(&format!("{base}/v1/webhooks/{id}")).await;
        if shown["status"] == "paused" {
            Ok(shown)
        } else {
            Err(shown.to_string())
        }
    })
    .await;
    assert_eq!(shown["paused_by"], "webhook-sender", "{shown}");
    assert!(shown["paused_reason"].as_str().expect("a reason").contains("410"), "{shown}");
    // Paused: nothing more is sent.
    receive_stock(&base, 5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1);

    post_expect(&format!("{base}/v1/webhooks/{id}/resume"), &json!({}), 200).await;
    // Everything after the subscription is delivered (the pause and the resume too), the refused event first.
    let log = log_after(&base, subscribed).await;
    wait_for_deliveries(&receiver, &ids(&log)).await;
    assert_eq!(receiver.delivered_ids(), ids(&log));
    assert_eq!(receiver.received()[1].id, receiver.received()[0].id, "the refused event comes first");

    // A replay from the subscription's position delivers everything again, with the same ids.
    let before = receiver.delivered_ids().len();
    post_expect(&format!("{base}/v1/webhooks/{id}/replay"), &json!({ "after": subscribed }), 200).await;
    let log = log_after(&base, subscribed).await;
    poll_until("the replay", DELIVERY_TIMEOUT, || async {
        let again = receiver.delivered_ids()[before..].to_vec();
        if again.len() >= log.len() {
            Ok(())
        } else {
            Err(format!("{} of {} replayed", again.len(), log.len()))
        }
    })
    .await;
    assert_eq!(receiver.delivered_ids()[before..before + log.len()].to_vec(), ids(&log));
}

#[tokio::test]
async fn a_replay_past_an_event_the_receiver_refuses_moves_the_sender_on() {
    let Subscribed { _db, server: _server, base, receiver, id, .. } = subscribed_receiver(Vec::new(), 500).await;
    add_products(&base).await;
    poll_until("a failed attempt", DELIVERY_TIMEOUT, || async {
        if receiver.received().is_empty() {
            Err("no attempt yet".to_owned())
        } else {
            Ok(())
        }
    })
    .await;
    // The operator skips what the receiver cannot take: a replay from the head on.
    let (_, readiness) = get_json(&format!("{base}/readyz")).await;
    let head = readiness["event_store"]["position"].as_u64().expect("the head");
    post_expect(&format!("{base}/v1/webhooks/{id}/replay"), &json!({ "after": head }), 200).await;
    *receiver.then.lock().unwrap() = 200;
    receive_stock(&base, 2).await;
    let wanted = ids(&log_after(&base, head).await);
    assert_eq!(wanted.len(), 3, "the replay request and two receipts");
    wait_for_deliveries(&receiver, &wanted).await;
    assert_eq!(receiver.delivered_ids(), wanted, "nothing before the replay's position");
}

#[tokio::test]
async fn a_slow_receiver_keeps_its_sender_and_gets_each_event_once() {
    // Each answer takes 11 s: a batch of two or three outlasts the 20 s after which an idle lease connection is closed (and
    // the lease with it). The sender keeps its lease meanwhile, so nothing is delivered twice.
    let Subscribed { _db, server: _server, base, receiver, url: _, id, position: subscribed } =
        subscribed_receiver(Vec::new(), 200).await;
    *receiver.delay.lock().unwrap() = Duration::from_secs(11);
    harness::add_products(&base, &["SLOW-A", "SLOW-B", "SLOW-C"]).await;
    let log = log_after(&base, subscribed).await;
    let last = log.last().and_then(|event| event["position"].as_u64()).expect("events");
    // Until the checkpoint has passed them all (a sender that lost its lease would deliver them again first).
    let name = format!("webhook-{id}");
    let sender = poll_until("the checkpoint to pass the last event", DELIVERY_TIMEOUT, || async {
        let sender = follower_status(&base, &name).await?;
        if sender["position"].as_u64() >= Some(last) {
            Ok(sender)
        } else {
            Err(sender.to_string())
        }
    })
    .await;
    assert_eq!(receiver.delivered_ids(), ids(&log), "once each, in order");
    assert!(sender["last_interruption"].is_null(), "the sender kept its lease: {sender}");
}

#[tokio::test]
async fn a_sending_node_killed_mid_stream_loses_nothing() {
    let Subscribed { _db: db, server: first, base, receiver, url: _, id: _, position: subscribed } =
        subscribed_receiver(Vec::new(), 200).await;
    // Slow enough that the kill lands mid-stream.
    *receiver.delay.lock().unwrap() = Duration::from_millis(20);
    add_products(&base).await;
    receive_stock(&base, 150).await;
    poll_until("the first deliveries", DELIVERY_TIMEOUT, || async {
        let count = receiver.delivered_ids().len();
        if count >= 20 {
            Ok(())
        } else {
            Err(format!("{count} delivered"))
        }
    })
    .await;
    first.kill();
    let delivered_before_the_kill = receiver.delivered_ids().len();
    let (_second, base) = TallyProcess::serve(&["--database-url", &db.url, "--webhook-allow-private"]);
    receive_stock(&base, 10).await;

    let log = log_after(&base, subscribed).await;
    assert!(delivered_before_the_kill < log.len(), "the kill came after the last delivery");
    wait_for_deliveries(&receiver, &ids(&log)).await;
    // Nothing lost, in log order; the repeats (events delivered but not yet checkpointed when the node died) carry
    // the ids the receiver already saw.
    assert_eq!(first_deliveries(receiver.delivered_ids()), ids(&log));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in receiver.delivered_ids() {
        *counts.entry(id).or_default() += 1;
    }
    let repeated = counts.values().filter(|count| **count > 1).count();
    assert!(repeated <= 500, "at most a batch is repeated: {repeated}");
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve_on(&db.url);
    let receiver = Receiver::answering(200);
    let url = serve_receiver(receiver).await;
    for target in [
        url.as_str(),
        "http://localhost:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[::1]:9/hook",
        "http://0.0.0.0/hook",
    ] {
        let reply = post_json(&format!("{base}/v1/webhooks"), &json!({ "url": target })).await;
        assert_eq!(reply.status, 422, "{target}: {}", reply.body);
        assert_eq!(reply.body["field"], "url", "{target}: {}", reply.body);
    }
    for target in ["ftp://example.com/x", "http://user:pw@example.com/x", "not a url"] {
        let reply = post_json(&format!("{base}/v1/webhooks"), &json!({ "url": target })).await;
        assert_eq!(reply.status, 422, "{target}: {}", reply.body);
    }
    let (_, listed) = get_json(&format!("{base}/v1/webhooks")).await;
    assert_eq!(listed["items"], json!([]), "nothing was subscribed");
}

#[tokio::test]
async fn a_target_is_checked_again_before_every_delivery() {
    // Subscribed while private targets were allowed, by address and by name; the node restarted without the flag
    // refuses to deliver to either: the address literal is checked before each attempt, and the name is resolved
    // through the policy on each connection (the check a DNS rebinding meets).
    let Subscribed { _db: db, server, base, receiver, url, id: by_address, .. } =
        subscribed_receiver(Vec::new(), 200).await;
    let by_name_url = url.replace("127.0.0.1", "localhost");
    let (by_name, _) = subscribe(&base, json!({ "url": by_name_url })).await;
    let by_name = by_name["id"].as_str().expect("id").to_owned();
    server.terminate();
    let (_server, base) = TallyProcess::serve_on(&db.url);
    add_products(&base).await;
    for id in [by_address, by_name] {
        let attempts = poll_until("a refused attempt", DELIVERY_TIMEOUT, || async {
            let (_, attempts) = get_json(&format!("{base}/v1/webhooks/{id}/deliveries")).await;
            match attempts["items"].as_array() {
                Some(items) if !items.is_empty() => Ok(items.clone()),
                _ => Err(attempts.to_string()),
            }
        })
        .await;
        assert!(attempts[0]["status"].is_null(), "no request was sent: {attempts:?}");
        assert!(attempts[0]["error"].as_str().expect("an error").contains("loopback"), "{attempts:?}");
        let (_, shown) = get_json(&format!("{base}/v1/webhooks/{id}")).await;
        assert!(shown["delivery"]["failed_attempts"].as_u64() >= Some(1), "{shown}");
        assert!(shown["delivery"]["next_attempt_at"].is_string(), "{shown}");
    }
    assert!(receiver.received().is_empty());
}

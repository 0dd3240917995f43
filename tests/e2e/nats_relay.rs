//! The NATS JetStream relay (`tally relay nats`, `tally serve --nats-url`) against a real `nats-server` and a real
//! PostgreSQL: every event of the log lands in the stream once, in log order, whatever is killed or restarted
//! meanwhile (the relay, the NATS server). The stream is read back message by message and its `Nats-Msg-Id`s
//! compared with the event ids of `/v1/events`.

use crate::harness::{self, follower_status, get_json, get_text, poll_until, NatsServer, TallyProcess};
use std::time::Duration;

/// Within this the relay has taken its lease and published what the test wrote (retries after an outage
/// included: its backoff grows to a few seconds).
const RELAY_TIMEOUT: Duration = Duration::from_secs(60);
const SKUS: [&str; 3] = ["NATS-A", "NATS-B", "NATS-C"];

async fn add_products(base: &str) {
    harness::add_products(base, &SKUS).await;
}

async fn receive_stock(base: &str, count: usize) {
    harness::receive_stock(base, &SKUS, count).await;
}

/// [`receive_stock`] on a task of its own, while the test kills or restarts something.
async fn receive_stock_in_background(base: String, count: usize) {
    receive_stock(&base, count).await;
}

/// Waits until the relay has published something (so what comes next happens mid-stream).
async fn wait_for_first_messages(nats_url: &str) {
    poll_until("the relay to publish its first events", RELAY_TIMEOUT, || async {
        let count = stream_message_ids(nats_url).await?.len();
        if count > 0 {
            Ok(())
        } else {
            Err("nothing published yet".to_owned())
        }
    })
    .await;
}

/// The event ids of the whole log, in log order, from the audit API.
async fn log_event_ids(base: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = get_json(&format!("{base}/v1/events?after={after}&limit=1000")).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().expect("items");
        ids.extend(items.iter().map(|event| event["event_id"].as_str().expect("event_id").to_owned()));
        if page["next_cursor"].is_null() {
            return ids;
        }
        after = page["next_after"].as_u64().expect("next_after");
    }
}

/// The `Nats-Msg-Id` of every message of the stream `TALLY`, in stream order (empty while there is no stream).
async fn stream_message_ids(nats_url: &str) -> Result<Vec<String>, String> {
    let client = async_nats::connect(nats_url).await.map_err(|e| e.to_string())?;
    let jetstream = async_nats::jetstream::new(client);
    let Ok(mut stream) = jetstream.get_stream("TALLY").await else { return Ok(Vec::new()) };
    let last = stream.info().await.map_err(|e| e.to_string())?.state.last_sequence;
    let mut ids = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.map_err(|e| e.to_string())?;
        let id = message.headers.get("Nats-Msg-Id").ok_or("a message without Nats-Msg-Id")?;
        ids.push(id.as_str().to_owned());
    }
    Ok(ids)
}

/// Waits until the stream holds as many messages as the log has events, then asserts they are the log's events
/// in log order (a message lost, repeated or out of place fails here).
async fn assert_stream_mirrors_log(base: &str, nats_url: &str) {
    let log = log_event_ids(base).await;
    assert!(!log.is_empty());
    let relayed = poll_until("the stream to hold every event of the log", RELAY_TIMEOUT, || async {
        let ids = stream_message_ids(nats_url).await?;
        if ids.len() >= log.len() {
            Ok(ids)
        } else {
            Err(format!("{} of {} events in the stream", ids.len(), log.len()))
        }
    })
    .await;
    assert_eq!(relayed.len(), log.len(), "the stream holds more messages than the log has events (duplicates)");
    assert_eq!(relayed, log, "the stream's messages are not the log's events in log order");
}

/// The relay's position and lag in `/v1/projections`, once it is listed.
async fn relay_position(base: &str) -> Result<(u64, u64), String> {
    let relay = follower_status(base, "nats-relay").await?;
    relay["position"].as_u64().zip(relay["lag_events"].as_u64()).ok_or_else(|| relay.to_string())
}

#[tokio::test]
async fn every_event_reaches_the_stream_once_in_log_order() {
    let nats = NatsServer::start();
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve_on(&db.url);
    add_products(&base).await;
    let _relay = TallyProcess::spawn(&["relay", "nats", "--nats-url", &nats.url(), "--database-url", &db.url]);
    receive_stock(&base, 40).await;
    assert_stream_mirrors_log(&base, &nats.url()).await;
    // Its checkpoint follows, and `/v1/projections` lists it with its lag.
    let head = log_event_ids(&base).await.len() as u64;
    poll_until("the relay's checkpoint to reach the head", RELAY_TIMEOUT, || async {
        let (position, lag) = relay_position(&base).await?;
        if position >= head && lag == 0 {
            Ok(())
        } else {
            Err(format!("at {position} of {head}, lag {lag}"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_relay_killed_mid_stream_is_replaced_without_loss_or_duplicates() {
    let nats = NatsServer::start();
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve_on(&db.url);
    add_products(&base).await;
    receive_stock(&base, 150).await;
    let relay_args = ["relay", "nats", "--nats-url", &nats.url(), "--database-url", &db.url];
    let first = TallyProcess::spawn(&relay_args);
    let writing = tokio::spawn(receive_stock_in_background(base.clone(), 100));
    wait_for_first_messages(&nats.url()).await;
    first.kill();
    let _second = TallyProcess::spawn(&relay_args);
    writing.await.expect("the writer");
    assert_stream_mirrors_log(&base, &nats.url()).await;
}

#[tokio::test]
async fn a_nats_restart_loses_reorders_and_repeats_nothing() {
    let mut nats = NatsServer::start();
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve(&["--database-url", &db.url, "--nats-url", &nats.url()]);
    add_products(&base).await;
    receive_stock(&base, 30).await;
    wait_for_first_messages(&nats.url()).await;
    let writing = tokio::spawn(receive_stock_in_background(base.clone(), 60));
    nats.stop();
    receive_stock(&base, 20).await;
    // The outage is seen: a batch failed (refused, or unacknowledged within the relay's timeout) and was not
    // counted as relayed.
    poll_until("the relay to fail a publish while NATS is down", RELAY_TIMEOUT, || async {
        let metrics = get_text(&format!("{base}/metrics")).await;
        let failures = metrics
            .lines()
            .find_map(|line| line.strip_prefix("tally_relay_publish_failures_total "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if failures > 0.0 {
            Ok(())
        } else {
            Err("no publish failure yet".to_owned())
        }
    })
    .await;
    nats.restart();
    writing.await.expect("the writer");
    receive_stock(&base, 20).await;
    assert_stream_mirrors_log(&base, &nats.url()).await;
    // Operators see that it was interrupted, and why.
    let relay = follower_status(&base, "nats-relay").await.unwrap_or_else(|body| panic!("no nats-relay row: {body}"));
    assert!(relay["last_interruption"]["error"].is_string(), "{relay}");
    assert!(relay["last_interruption"]["at"].is_string(), "{relay}");
}

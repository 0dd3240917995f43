//! Seeds a database with a realistic history, as fast as the PostgreSQL event store takes it: the history-side
//! benchmark (`scripts/bench history`) then times rebuilds, verification and export on it.
//!
//! Run: `cargo bench -p tally-projections --bench seed -- <database_url> <events>` (or `TALLY_SEED_DATABASE_URL`
//! and `TALLY_SEED_EVENTS`; default 1,000,000 events). The database must exist and be migrated (`tally migrate`).
//!
//! Workload: the projections tests' mix (`tally_testkit::workload`, the tests append it in `tests/it/workload.rs`):
//! random commands run through the domain's deciders (decide + evolve): products registered, repriced,
//! discontinued; receipts and adjustments; orders placed, reserved line by line, confirmed or rejected, paid, shipped
//! (whole or partly, committing the reservations), delivered, cancelled and expired (releasing them), returned
//! (restocking) and refunded. To go fast, `SHARDS` independent shards (each its own SKUs, orders and customers) run
//! at once, each deciding `CHUNK` commands in memory and then appending what they produced stream by stream (every
//! stream's new events in one append, with `Exact` expected versions), `IN_FLIGHT` appends at a time. So each
//! stream's events keep their command order; across streams, events of one chunk are in stream order, not command
//! order (the read models are per stream). A shard keeps at most `OPEN_ORDERS` orders in play, letting the oldest go
//! (cancelled if still pending or confirmed, releasing its stock), and at most `PRODUCTS` products.
//!
//! Prints `name=seed ops=<events> secs=... ops_per_s=... p50_ms=... p99_ms=...` (latencies are per append) and a
//! `# seed ...` line with the appends and the commands accepted.

use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tally_store::{EventStore, NewEvent, PgEventStore, PgStoreOptions};
use tally_testkit::workload::{expected_version, Decided, Generator, Options};

const SHARDS: usize = 16;
const IN_FLIGHT: usize = 4;
const CHUNK: usize = 1000;
const OPEN_ORDERS: usize = 300;
const PRODUCTS: usize = 40;

/// Shard `id`'s workload: its own SKUs, customers and random choices.
fn shard(id: usize) -> Generator {
    Generator::new(Options {
        seed: 0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1),
        shard: Some(id),
        customers: 200,
        max_products: PRODUCTS,
        max_open_orders: OPEN_ORDERS,
    })
}

/// A chunk's events per stream, in command order: the stream's event count before them, and them.
fn per_stream(decided: Vec<Decided>) -> BTreeMap<String, (u64, Vec<NewEvent>)> {
    let mut streams: BTreeMap<String, (u64, Vec<NewEvent>)> = BTreeMap::new();
    for Decided { stream_id, stream_len, events } in decided {
        streams.entry(stream_id).or_insert_with(|| (stream_len, Vec::new())).1.extend(events);
    }
    streams
}

/// What one shard did: append latencies, appends, commands accepted.
struct ShardReport {
    latencies: Vec<std::time::Duration>,
    accepted: BTreeMap<&'static str, u64>,
}

/// Decides `CHUNK` commands, appends their events, again, until the shards together appended `target` events.
async fn run_shard(id: usize, store: PgEventStore, appended: Arc<AtomicU64>, target: u64) -> ShardReport {
    let mut generator = shard(id);
    let mut latencies = Vec::new();
    while appended.load(Ordering::Relaxed) < target {
        for _ in 0..CHUNK {
            generator.step();
        }
        let mut appends = stream::iter(per_stream(generator.take_decided()))
            .map(|(stream_id, (stream_len, events))| {
                let store = store.clone();
                async move {
                    let expected = expected_version(stream_len);
                    let n = events.len() as u64;
                    let started = Instant::now();
                    store.append(&stream_id, expected, events).await.expect("append");
                    (n, started.elapsed())
                }
            })
            .buffer_unordered(IN_FLIGHT);
        while let Some((n, latency)) = appends.next().await {
            appended.fetch_add(n, Ordering::Relaxed);
            latencies.push(latency);
        }
    }
    ShardReport { latencies, accepted: generator.accepted }
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let url = args
        .first()
        .cloned()
        .or_else(|| std::env::var("TALLY_SEED_DATABASE_URL").ok())
        .expect("usage: seed <database_url> [events] (or TALLY_SEED_DATABASE_URL, TALLY_SEED_EVENTS)");
    let target: u64 = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("TALLY_SEED_EVENTS").ok())
        .map_or(1_000_000, |n| n.replace('_', "").parse().expect("events: a number"));

    let options = PgStoreOptions { max_connections: 16, ..PgStoreOptions::default() };
    let store = PgEventStore::connect(&url, options).await.expect("connect the store");
    let appended = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let shards: Vec<_> =
        (0..SHARDS).map(|id| tokio::spawn(run_shard(id, store.clone(), Arc::clone(&appended), target))).collect();
    let mut latencies = Vec::new();
    let mut accepted: BTreeMap<&'static str, u64> = BTreeMap::new();
    for shard in shards {
        let report = shard.await.expect("a shard finished");
        latencies.extend(report.latencies);
        for (kind, n) in report.accepted {
            *accepted.entry(kind).or_default() += n;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let events = appended.load(Ordering::Relaxed);
    let head = store.head_position().await.expect("the log head");
    store.close().await;

    latencies.sort();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "name=seed ops={events} secs={secs:.2} ops_per_s={:.0} p50_ms={:.2} p99_ms={:.2}",
        events as f64 / secs,
        quantile(0.50),
        quantile(0.99)
    );
    let mix: Vec<String> = accepted.iter().map(|(kind, n)| format!("{kind}={n}")).collect();
    println!(
        "# seed appends={} events_per_append={:.1} head={head} commands: {}",
        latencies.len(),
        events as f64 / latencies.len().max(1) as f64,
        mix.join(" ")
    );
}

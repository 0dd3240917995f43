//! Append benchmark for the PostgreSQL event store, against the raw ceiling of the same database.
//!
//! Run: `TALLY_BENCH_DATABASE_URL=postgres://... cargo bench -p tally-store --bench append` (an admin URL: the
//! benchmark creates, and finally drops, a database of its own). `TALLY_BENCH_SECS` sets each measurement's length
//! (default 6 s).
//!
//! Workload, each measurement flat out for the set time, in one process and one run so the ratios compare like
//! with like:
//! - `store_append_1ev_wN`: N tasks each appending one event (~150 bytes of data, metadata with a correlation id
//!   and an actor) to a new stream (`NoStream`) in a loop, for N = 1, 8, 32;
//! - `store_append_10ev_w32`: the same with 10 events per append;
//! - `raw_insert_1row_wN` / `raw_insert_10row_w32`: the ceiling: N connections each committing single-row INSERTs
//!   (or 10-row INSERTs) of the same rows into a table shaped like `events` (identity position, the same unique
//!   indexes), with autocommit;
//! - `follower_lag`: 32 one-event writers flat out on one store instance, and a follower on another instance that
//!   waits with `wait_for_position_after` (woken by LISTEN/NOTIFY) and reads the log; lag = time from the append's
//!   acknowledgement to the follower reading the event (0 when the follower read it first).
//!
//! Each line: `name=... ops=... secs=... ops_per_s=... p50_ms=... p99_ms=...` (ops are appends or commits), then
//! `name=ratio_...` lines comparing store and raw throughput measured in this run.

use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tally_store::{EventStore, ExpectedVersion, LogFilter, Metadata, NewEvent, PgEventStore, PgStoreOptions};
use uuid::Uuid;

const RAW_TABLE: &str = "\
    create table bench_raw_events (
        position bigint generated always as identity primary key,
        event_id uuid not null unique,
        stream_id text not null,
        stream_version bigint not null,
        event_type text not null,
        schema_version integer not null,
        data jsonb not null,
        metadata jsonb not null,
        recorded_at timestamptz not null default now(),
        hash bytea not null,
        unique (stream_id, stream_version)
    )";

const RAW_INSERT: &str = "\
    insert into bench_raw_events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, hash)
    select * from unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::integer[], $6::text[]::jsonb[],
                         $7::text[]::jsonb[], $8::bytea[])";

struct Measurement {
    name: String,
    ops: usize,
    secs: f64,
    latencies: Vec<Duration>,
}

impl Measurement {
    fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    fn print(&self) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let quantile = |q: f64| {
            let index = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
            sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "name={} ops={} secs={:.2} ops_per_s={:.0} p50_ms={:.2} p99_ms={:.2}",
            self.name,
            self.ops,
            self.secs,
            self.ops_per_s(),
            quantile(0.50),
            quantile(0.99)
        );
    }
}

fn payload() -> serde_json::Value {
    json!({
        "order_id": Uuid::new_v4(),
        "customer_id": "cus-42",
        "lines": [{"sku": "TEE-RED-M", "quantity": 2, "unit_price": {"amount": 1999, "currency": "EUR"}}],
        "total": {"amount": 3998, "currency": "EUR"}
    })
}

fn new_events(count: usize) -> Vec<NewEvent> {
    let metadata =
        Metadata { correlation_id: Some(Uuid::new_v4()), actor: Some("bench".to_owned()), ..Metadata::default() };
    (0..count).map(|_| NewEvent::new("BenchOrderPlaced", payload()).with_metadata(metadata.clone())).collect()
}

/// Appends `events_per_append` events to a new stream, again and again, until `deadline`. Returns the latency of
/// each append and the (position, acknowledgement time) of each.
async fn store_writer(
    store: PgEventStore,
    events_per_append: usize,
    deadline: Instant,
) -> (Vec<Duration>, Vec<(u64, Instant)>) {
    let (mut latencies, mut acks) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        let stream = format!("bench-{}", Uuid::now_v7().simple());
        let events = new_events(events_per_append);
        let started = Instant::now();
        let result = store.append(&stream, ExpectedVersion::NoStream, events).await.expect("append");
        let acknowledged = Instant::now();
        latencies.push(acknowledged - started);
        acks.push((result.position, acknowledged));
    }
    (latencies, acks)
}

async fn measure_store(store: &PgEventStore, writers: usize, events: usize, run: Duration) -> Measurement {
    let started = Instant::now();
    let deadline = started + run;
    let tasks: Vec<_> = (0..writers).map(|_| tokio::spawn(store_writer(store.clone(), events, deadline))).collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a writer finished").0);
    }
    let secs = started.elapsed().as_secs_f64();
    Measurement { name: format!("store_append_{events}ev_w{writers}"), ops: latencies.len(), secs, latencies }
}

/// Commits `rows`-row INSERTs on its own connection until `deadline`.
async fn raw_writer(url: String, rows: usize, deadline: Instant) -> Vec<Duration> {
    let mut connection = PgConnection::connect(&url).await.expect("connect");
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let stream = format!("raw-{}", Uuid::now_v7().simple());
        let events = new_events(rows);
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let streams = vec![stream; rows];
        let versions: Vec<i64> = (0..rows as i64).collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let schema_versions = vec![1i32; rows];
        let data: Vec<String> = events.iter().map(|e| e.data.to_string()).collect();
        let metadata: Vec<String> =
            events.iter().map(|e| serde_json::to_string(&e.metadata).expect("metadata serializes")).collect();
        let hashes = vec![vec![0u8; 32]; rows];
        let started = Instant::now();
        sqlx::query(RAW_INSERT)
            .bind(&ids)
            .bind(&streams)
            .bind(&versions)
            .bind(&types)
            .bind(&schema_versions)
            .bind(&data)
            .bind(&metadata)
            .bind(&hashes)
            .execute(&mut connection)
            .await
            .expect("raw insert");
        latencies.push(started.elapsed());
    }
    latencies
}

async fn measure_raw(url: &str, writers: usize, rows: usize, run: Duration) -> Measurement {
    let started = Instant::now();
    let deadline = started + run;
    let tasks: Vec<_> = (0..writers).map(|_| tokio::spawn(raw_writer(url.to_owned(), rows, deadline))).collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a raw writer finished"));
    }
    let secs = started.elapsed().as_secs_f64();
    Measurement { name: format!("raw_insert_{rows}row_w{writers}"), ops: latencies.len(), secs, latencies }
}

/// Reads the log as it grows, waking up through `wait_for_position_after`, until it has read up to the head sent
/// on `stop`. Returns when each position was read.
async fn follower(
    store: PgEventStore,
    start: u64,
    stop: tokio::sync::watch::Receiver<Option<u64>>,
) -> HashMap<u64, Instant> {
    let mut seen = HashMap::new();
    let mut after = start;
    loop {
        let slice = store.read_all(after, 1000, &LogFilter::all()).await.expect("read the log");
        let now = Instant::now();
        for event in &slice.events {
            seen.insert(event.position, now);
        }
        let caught_up = slice.events.is_empty();
        after = slice.last_position;
        if stop.borrow().is_some_and(|end| after >= end) {
            return seen;
        }
        if caught_up {
            store.wait_for_position_after(after, Duration::from_secs(1)).await.expect("wait");
        }
    }
}

async fn measure_follower_lag(url: &str, store: &PgEventStore, run: Duration) -> Measurement {
    let reader = PgEventStore::connect(url, PgStoreOptions::default()).await.expect("connect the follower");
    let start = store.head_position().await.expect("head");
    let (stop, stop_at) = tokio::sync::watch::channel(None);
    let follower = tokio::spawn(follower(reader, start, stop_at));
    let started = Instant::now();
    let deadline = started + run;
    let tasks: Vec<_> = (0..32).map(|_| tokio::spawn(store_writer(store.clone(), 1, deadline))).collect();
    let mut acks = Vec::new();
    for task in tasks {
        acks.extend(task.await.expect("a writer finished").1);
    }
    let secs = started.elapsed().as_secs_f64();
    stop.send_replace(Some(store.head_position().await.expect("head")));
    let seen = follower.await.expect("the follower finished");
    let latencies: Vec<Duration> = acks
        .iter()
        .filter_map(|(position, acked)| seen.get(position).map(|read| read.saturating_duration_since(*acked)))
        .collect();
    assert_eq!(latencies.len(), acks.len(), "the follower read every acknowledged event");
    Measurement { name: "follower_lag".to_owned(), ops: latencies.len(), secs, latencies }
}

/// One ratio line; `target` only where the issue sets one (at 32 writers).
fn print_ratio(name: &str, store: &Measurement, raw: &Measurement, target: Option<f64>) {
    let target = target.map_or(String::new(), |target| format!(" target={target:.1}"));
    println!(
        "name={name} store_ops_per_s={:.0} raw_ops_per_s={:.0} ratio={:.2}{target}",
        store.ops_per_s(),
        raw.ops_per_s(),
        store.ops_per_s() / raw.ops_per_s()
    );
}

async fn checkpoint(admin: &mut PgConnection) {
    // Start each measurement from a clean WAL state; skipped where the role may not checkpoint.
    let _ = admin.execute("checkpoint").await;
}

async fn run(admin_url: &str, run: Duration) {
    let name = format!("tally_bench_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(admin_url).await.expect("connect to the benchmark cluster");
    admin.execute(format!("create database {name}").as_str()).await.expect("create the benchmark database");
    let url = tally_testkit::with_database(admin_url, &name);
    {
        let pool = PgPoolOptions::new().max_connections(2).connect(&url).await.expect("connect");
        tally_store::MIGRATOR.run(&pool).await.expect("migrate");
        pool.execute(RAW_TABLE).await.expect("create the raw table");
        pool.close().await;
    }
    let store = PgEventStore::connect(&url, PgStoreOptions::default()).await.expect("connect the store");
    println!("# workload: see crates/store/benches/append.rs; {}s per measurement", run.as_secs());

    let mut results = HashMap::new();
    for writers in [1, 8, 32] {
        checkpoint(&mut admin).await;
        let measured = measure_store(&store, writers, 1, run).await;
        measured.print();
        results.insert(measured.name.clone(), measured);
        checkpoint(&mut admin).await;
        let measured = measure_raw(&url, writers, 1, run).await;
        measured.print();
        results.insert(measured.name.clone(), measured);
    }
    checkpoint(&mut admin).await;
    let measured = measure_store(&store, 32, 10, run).await;
    measured.print();
    results.insert(measured.name.clone(), measured);
    checkpoint(&mut admin).await;
    let measured = measure_raw(&url, 32, 10, run).await;
    measured.print();
    results.insert(measured.name.clone(), measured);
    checkpoint(&mut admin).await;
    measure_follower_lag(&url, &store, run).await.print();

    for writers in [1, 8, 32] {
        let store = &results[&format!("store_append_1ev_w{writers}")];
        let raw = &results[&format!("raw_insert_1row_w{writers}")];
        let target = (writers == 32).then_some(1.0);
        print_ratio(&format!("ratio_1ev_w{writers}"), store, raw, target);
    }
    print_ratio("ratio_10ev_w32", &results["store_append_10ev_w32"], &results["raw_insert_10row_w32"], Some(0.8));

    drop(store);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let drop_database = format!("drop database if exists {name} with (force)");
    if let Err(error) = admin.execute(drop_database.as_str()).await {
        eprintln!("could not drop the benchmark database {name}: {error}");
    }
}

fn main() {
    let Ok(admin_url) = std::env::var("TALLY_BENCH_DATABASE_URL") else {
        eprintln!(
            "set TALLY_BENCH_DATABASE_URL to an admin URL of a PostgreSQL to benchmark against (scripts/bench does)"
        );
        std::process::exit(2);
    };
    let secs = std::env::var("TALLY_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("start a runtime");
    runtime.block_on(run(&admin_url, Duration::from_secs(secs)));
}

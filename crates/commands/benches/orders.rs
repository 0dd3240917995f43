//! Order placement benchmark on PostgreSQL: a hot SKU against orders spread over many SKUs.
//!
//! Run: `TALLY_BENCH_DATABASE_URL=postgres://... cargo bench -p tally-commands --bench orders` (an admin URL: the
//! benchmark creates, and finally drops, a database of its own). `TALLY_BENCH_SECS` sets each measurement's length
//! (default 6 s).
//!
//! Workload, each measurement flat out for the set time, in one process and one run so the ratio compares like
//! with like. N client tasks each place single-line orders of one unit in a loop (`place_order`: price from the
//! catalog, `OrderPlaced`, reserve, `OrderConfirmed`: three appends and two catalog/order reads per order):
//! - `orders_hot_sku_wN`: every order names the same SKU (stock never runs out), for N = 8, 64: every
//!   reservation goes through that SKU's one writer, batched;
//! - `orders_spread_wN`: each order names one of 200 SKUs in turn, for N = 64;
//! - `ratio_hot_to_spread_w64`: hot-SKU throughput over spread throughput (1.0: a hot SKU costs nothing extra).
//!
//! Each line: `name=... ops=... secs=... ops_per_s=... p50_ms=... p99_ms=...` (ops are confirmed orders).

use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tally_commands::{CommandConfig, CommandContext, Commands, PlaceOrder, Placement};
use tally_domain::order::ItemLine;
use tally_domain::{Currency, CustomerId, LocationId, Money, Quantity, Sku};
use tally_store::{PgEventStore, PgStoreOptions};

const SPREAD_SKUS: usize = 200;

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

    fn print(&mut self) {
        self.latencies.sort_unstable();
        let percentile = |p: f64| {
            let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "name={} ops={} secs={:.2} ops_per_s={:.1} p50_ms={:.2} p99_ms={:.2}",
            self.name,
            self.ops,
            self.secs,
            self.ops_per_s(),
            percentile(0.50),
            percentile(0.99)
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("start a runtime");
    runtime.block_on(run());
}

async fn run() {
    let admin_url = std::env::var("TALLY_BENCH_DATABASE_URL").expect("set TALLY_BENCH_DATABASE_URL to an admin url");
    let secs = std::env::var("TALLY_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6.0);
    let duration = Duration::from_secs_f64(secs);
    let name = format!("tally_bench_orders_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await.expect("connect to the bench cluster");
    sqlx::query(&format!("create database {name}")).execute(&mut admin).await.expect("create the bench database");
    let url = tally_testkit::with_database(&admin_url, &name);

    let pool = sqlx::PgPool::connect(&url).await.expect("connect the bench database");
    tally_store::MIGRATOR.run(&pool).await.expect("migrate the bench database");
    pool.close().await;
    let store = PgEventStore::connect(&url, PgStoreOptions::default()).await.expect("connect the store");
    let commands = Commands::new(Arc::new(store), CommandConfig::default());
    stock(&commands, "HOT", 10_000_000).await;
    for n in 0..SPREAD_SKUS {
        stock(&commands, &format!("SPREAD-{n}"), 1_000_000).await;
    }

    let mut results = Vec::new();
    for (label, clients, spread) in [("orders_hot_sku_w8", 8, false), ("orders_hot_sku_w64", 64, false)] {
        results.push(measure(&commands, label, clients, spread, duration).await);
    }
    results.push(measure(&commands, "orders_spread_w64", 64, true, duration).await);
    for result in &mut results {
        result.print();
    }
    let ratio = results[1].ops_per_s() / results[2].ops_per_s();
    println!("name=ratio_hot_to_spread_w64 value={ratio:.2}");

    drop(commands);
    sqlx::query(&format!("drop database {name} with (force)")).execute(&mut admin).await.ok();
}

async fn stock(commands: &Commands, sku: &str, units: u32) {
    let context = CommandContext::new("bench");
    let eur = Currency::parse("EUR").expect("a currency");
    let sku = Sku::parse(sku).expect("a sku");
    commands.register_product(&context, sku.clone(), "bench".into(), Money::new(100, eur)).await.expect("register");
    let quantity = Quantity::new(units).expect("a quantity");
    let receipt = commands.receive_stock(&context, &sku, LocationId::main(), quantity, "bench".into(), None);
    receipt.await.expect("receive");
}

async fn measure(commands: &Commands, name: &str, clients: usize, spread: bool, duration: Duration) -> Measurement {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let commands = commands.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = client;
                while started.elapsed() < duration {
                    let sku = if spread { format!("SPREAD-{}", n % SPREAD_SKUS) } else { "HOT".to_owned() };
                    n += clients;
                    let line =
                        ItemLine { sku: Sku::parse(&sku).expect("a sku"), quantity: Quantity::new(1).expect("1") };
                    let customer_id = CustomerId::parse("bench").expect("a customer");
                    let request = PlaceOrder { order_id: None, customer_id, lines: vec![line] };
                    let begun = Instant::now();
                    let placement = commands.place_order(&CommandContext::new("bench"), request).await;
                    assert!(matches!(placement, Ok(Placement::Confirmed(_))), "{placement:?}");
                    latencies.push(begun.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a client task"));
    }
    let secs = started.elapsed().as_secs_f64();
    Measurement { name: name.to_owned(), ops: latencies.len(), secs, latencies }
}

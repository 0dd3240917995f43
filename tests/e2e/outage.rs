//! Fail fast, recover alone: with PostgreSQL stopped under a running `tally serve`, every answer is prompt
//! (`/healthz` 200, `/readyz` 503 within 1 s, queries and commands 503 problem+json with `Retry-After` within 2 s);
//! once PostgreSQL is back the node serves again within 5 s, projections included, with nobody touching it. And
//! a projection stopped on a poison event is reported without taking the node out of the load balancer.
//!
//! The bounds are the contract (issue 12, point 5), measured with a 15 s client timeout so that a failure
//! reports the time it actually took.

use crate::harness::{authorized, get_json, get_text, poll_until, post_expect, DataDir, TallyProcess};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use tally_store::{EventStore, ExpectedVersion, NewEvent, PgEventStore, PgStoreOptions};

/// Far above every bound asserted here, so a slow answer is measured rather than cut off.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// A PostgreSQL cluster of the test's own (created by `tally postgres start`), which the test stops as a crash
/// would (`pg_ctl stop -m immediate`) and starts again on the same port.
struct OwnCluster {
    data_dir: DataDir,
    pgdata: PathBuf,
    port: u16,
    url: String,
}

impl OwnCluster {
    fn start() -> Self {
        let data_dir = DataDir::new();
        let output = Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["postgres", "start", "--data-dir", data_dir.arg()])
            .env("TALLY_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run tally postgres start");
        assert!(output.status.success(), "tally postgres start: {}", String::from_utf8_lossy(&output.stderr));
        let url = String::from_utf8(output.stdout).expect("a UTF-8 URL").trim().to_owned();
        let pgdata = data_dir.path().join("postgres/data");
        // postmaster.pid: line 4 is the port.
        let pid_file = std::fs::read_to_string(pgdata.join("postmaster.pid")).expect("read postmaster.pid");
        let port = pid_file.lines().nth(3).and_then(|line| line.trim().parse().ok()).expect("a port in postmaster.pid");
        OwnCluster { data_dir, pgdata, port, url }
    }

    /// Kills the server the way a crash does: no checkpoint, every connection cut.
    fn stop_immediately(&self) {
        self.pg_ctl(&["stop", "--wait", "--mode", "immediate"]);
        assert!(self.data_dir.postgres_pid().is_none(), "PostgreSQL still runs");
    }

    /// Starts the server again on the same port (and waits until it accepts connections).
    fn start_again(&self) {
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200",
            self.port
        );
        let log = self.pgdata.with_file_name("server.log");
        self.pg_ctl(&["start", "--wait", "--timeout", "60", "--log", log.to_str().unwrap(), "-o", &options]);
    }

    /// Runs `pg_ctl <args> --pgdata <pgdata>` as the owner of the cluster's files (as root: the `postgres` user,
    /// which PostgreSQL insists on), the way `src/private_postgres.rs` does.
    fn pg_ctl(&self, args: &[&str]) {
        let owner = std::fs::metadata(&self.pgdata).expect("the cluster's data directory");
        let mut command = Command::new(pg_ctl());
        command.args(args).arg("--pgdata").arg(&self.pgdata).current_dir(self.pgdata.parent().unwrap());
        if std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0 {
            command.uid(owner.uid()).gid(owner.gid());
        }
        let output = command.output().expect("run pg_ctl");
        assert!(
            output.status.success(),
            "pg_ctl {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `pg_ctl` from `PATH`, else from the newest `/usr/lib/postgresql/*/bin` (where `tally` finds it too).
fn pg_ctl() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("pg_ctl")).find(|file| file.is_file()));
    on_path.unwrap_or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's binaries on PATH or under /usr/lib/postgresql")
            .flatten()
            .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin/pg_ctl"))))
            .filter(|(_, file)| file.is_file())
            .collect();
        versions.sort();
        versions.pop().expect("a pg_ctl under /usr/lib/postgresql/*/bin").1
    })
}

/// One HTTP answer and how long it took.
#[derive(Debug)]
struct Timed {
    status: u16,
    position: Option<u64>,
    content_type: String,
    retry_after: Option<String>,
    body: Value,
    elapsed: Duration,
}

async fn timed(request: reqwest::RequestBuilder, what: &str) -> Timed {
    let started = Instant::now();
    let response = request.send().await.unwrap_or_else(|error| {
        panic!("{what}: no answer after {:?} ({error})", started.elapsed());
    });
    let elapsed = started.elapsed();
    let header = |name: &str| response.headers().get(name).map(|value| value.to_str().unwrap().to_owned());
    let (status, content_type, retry_after) =
        (response.status().as_u16(), header("content-type").unwrap_or_default(), header("retry-after"));
    let position = header("tally-position").map(|value| value.parse().expect("a numeric Tally-Position"));
    let body = response.json().await.unwrap_or(Value::Null);
    println!("{what}: {status} in {} ms", elapsed.as_millis());
    Timed { status, position, content_type, retry_after, body, elapsed }
}

/// A 503 `unavailable` problem with `Retry-After`, answered within `bound`.
fn assert_prompt_unavailable(answer: &Timed, bound: Duration, what: &str) {
    assert_eq!(answer.status, 503, "{what}: {answer:?}");
    assert_eq!(answer.content_type, "application/problem+json", "{what}: {answer:?}");
    assert_eq!(answer.body["type"], "/problems/unavailable", "{what}: {answer:?}");
    assert!(answer.retry_after.is_some(), "{what}: no Retry-After: {answer:?}");
    assert!(answer.elapsed < bound, "{what}: answered after {:?}, more than {bound:?}", answer.elapsed);
}

fn receipt(quantity: u32) -> Value {
    json!({ "location": "main", "quantity": quantity, "reference": "PO-outage" })
}

#[tokio::test]
async fn a_database_outage_is_answered_promptly_and_the_node_recovers_alone() {
    let cluster = OwnCluster::start();
    let (_server, base) = TallyProcess::serve_on(&cluster.url);
    let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
    let receipts = format!("{base}/v1/inventory/TEE/receipts");
    let get = |path: &str| {
        let url = format!("{base}{path}");
        authorized(client.get(&url), &url)
    };
    let post_receipt = |quantity| authorized(client.post(&receipts), &receipts).json(&receipt(quantity));
    post_expect(
        &format!("{base}/v1/products"),
        &json!({ "sku": "TEE", "name": "Tee", "price": { "amount": 1999, "currency": "EUR" } }),
        201,
    )
    .await;
    post_expect(&receipts, &receipt(10), 201).await;

    cluster.stop_immediately();

    let health = timed(get("/healthz"), "GET /healthz during the outage").await;
    assert_eq!(health.status, 200, "{health:?}");
    let ready = timed(get("/readyz"), "GET /readyz during the outage").await;
    assert_eq!(ready.status, 503, "{ready:?}");
    assert_eq!(ready.content_type, "application/problem+json", "{ready:?}");
    assert_eq!(ready.body["type"], "/problems/unavailable", "{ready:?}");
    assert!(ready.elapsed < Duration::from_secs(1), "/readyz answered after {:?}", ready.elapsed);
    let query = timed(get("/v1/inventory/TEE"), "GET /v1/inventory/TEE during the outage").await;
    assert_prompt_unavailable(&query, Duration::from_secs(2), "the query");
    let command = timed(post_receipt(5), "POST a receipt during the outage").await;
    assert_prompt_unavailable(&command, Duration::from_secs(2), "the command");
    // A second round: the node's pools and writer have now seen the outage; still prompt.
    let command = timed(post_receipt(5), "POST a receipt again during the outage").await;
    assert_prompt_unavailable(&command, Duration::from_secs(2), "the repeated command");
    let query = timed(get("/v1/products/TEE"), "GET /v1/products/TEE during the outage").await;
    assert_prompt_unavailable(&query, Duration::from_secs(2), "the repeated query");

    cluster.start_again();
    let restarted = Instant::now();
    let recovery = Duration::from_secs(5);
    poll_until("/readyz to answer 200 after the restart", recovery, || async {
        let (status, body) = get_json(&format!("{base}/readyz")).await;
        if status == 200 {
            Ok(())
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    println!("/readyz 200 {} ms after the restart", restarted.elapsed().as_millis());
    let min_position = poll_until("a command to succeed after the restart", recovery, || async {
        let reply = timed(post_receipt(7), "POST a receipt after the restart").await;
        match reply.status {
            201 => Ok(reply.position.expect("a Tally-Position on a 201")),
            _ => Err(format!("{} {}", reply.status, reply.body)),
        }
    })
    .await;
    println!("command 201 {} ms after the restart", restarted.elapsed().as_millis());
    // The projection resumes from its checkpoint and reaches the command's position (read-your-writes).
    let inventory = poll_until("the inventory read model to reach the command's position", recovery, || async {
        let url = format!("{base}/v1/inventory/TEE?min_position={min_position}");
        let (status, body) = get_json(&url).await;
        if status == 200 {
            Ok(body)
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    println!("projections caught up {} ms after the restart", restarted.elapsed().as_millis());
    // 10 before the outage and 7 after it: the receipts answered 503 during it were not applied.
    assert_eq!(inventory["on_hand"], 17, "{inventory}");
    assert!(restarted.elapsed() < recovery, "recovered after {:?}", restarted.elapsed());
}

#[tokio::test]
async fn a_projection_stopped_on_a_poison_event_leaves_the_node_ready_and_is_reported() {
    let db = tally_testkit::fresh_database().await;
    let (_server, base) = TallyProcess::serve_on(&db.url);
    // An event the products projection cannot decode, appended through the real store behind the API's back.
    let store = PgEventStore::with_pool(db.pool.clone(), PgStoreOptions::default()).await.expect("open the store");
    let poison = NewEvent::new("ProductRegistered", json!({ "type": "ProductRegistered", "sku": 42 }));
    store.append("product-POISON", ExpectedVersion::NoStream, vec![poison]).await.expect("append the poison event");

    let failure =
        poll_until("the products projection to stop on the poison event", Duration::from_secs(30), || async {
            let (status, body) = get_json(&format!("{base}/v1/projections")).await;
            let items = body["items"].as_array().ok_or_else(|| format!("{status} {body}"))?;
            let products = items.iter().find(|item| item["name"] == "products").ok_or_else(|| body.to_string())?;
            match products["state"].as_str() {
                Some("failed") => Ok(products["failure"].clone()),
                _ => Err(body.to_string()),
            }
        })
        .await;
    assert!(failure["position"].as_u64().is_some(), "{failure}");

    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "a failed read model must not make the node unready: {body}");
    assert_eq!((body["projections"].as_str(), &body["failed_projections"]), (Some("failed"), &json!(["products"])));
    let metrics = get_text(&format!("{base}/metrics")).await;
    assert!(metrics.contains("tally_projection_failed{projection=\"products\"} 1"), "{metrics}");
    // The write path still serves.
    post_expect(
        &format!("{base}/v1/products"),
        &json!({ "sku": "CAP", "name": "Cap", "price": { "amount": 999, "currency": "EUR" } }),
        201,
    )
    .await;
}

#[tokio::test]
async fn a_database_restart_under_keyed_commands_with_client_retries_applies_each_key_once() {
    const CLIENTS: usize = 8;
    const RECEIPTS_PER_CLIENT: usize = 40;
    let cluster = OwnCluster::start();
    let (_server, base) = TallyProcess::serve_on(&cluster.url);
    post_expect(
        &format!("{base}/v1/products"),
        &json!({ "sku": "KEYED", "name": "Keyed tee", "price": { "amount": 1999, "currency": "EUR" } }),
        201,
    )
    .await;
    let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().unwrap();
    let receipts = format!("{base}/v1/inventory/KEYED/receipts");
    let (sent, mut progress) = tokio::sync::watch::channel(0_usize);
    let sent = std::sync::Arc::new(sent);
    // Each client sends its receipts one after the other, each retried with its key until it is answered 201.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (client, receipts, sent) = (client.clone(), receipts.clone(), sent.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for i in 0..RECEIPTS_PER_CLIENT {
                    let key = format!("restart-{n}-{i}");
                    loop {
                        let request = authorized(client.post(&receipts), &receipts)
                            .header("idempotency-key", &key)
                            .json(&receipt(1));
                        match request.send().await {
                            Ok(response) if response.status().as_u16() == 201 => break,
                            Ok(response) => statuses.push(response.status().as_u16()),
                            Err(_) => statuses.push(0),
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    sent.send_modify(|count| *count += 1);
                }
                statuses
            })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(60), progress.wait_for(|count| *count >= CLIENTS * 5))
        .await
        .expect("the load got going")
        .ok();
    cluster.stop_immediately();
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.start_again();
    let mut refusals = Vec::new();
    for client in clients {
        refusals.extend(client.await.expect("a client"));
    }
    println!("answers other than 201 during the restart: {refusals:?}");
    assert!(refusals.iter().all(|status| [503, 409].contains(status)), "only 503 and 409 while retrying: {refusals:?}");
    assert!(refusals.contains(&503), "the restart was noticed");

    let pool = sqlx::PgPool::connect(&cluster.url).await.expect("connect");
    let per_key: Vec<(String, i64)> = sqlx::query_as(
        "select metadata->>'idempotency_key', count(*) from events
          where stream_id = 'inventory-KEYED' group by 1 order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(per_key.len(), CLIENTS * RECEIPTS_PER_CLIENT, "every key was received");
    assert!(per_key.iter().all(|(_, count)| *count == 1), "a key received twice: {per_key:?}");
}

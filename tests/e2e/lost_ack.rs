//! A commit whose acknowledgement is lost: `tally serve` talks to PostgreSQL through a TCP proxy of the test's
//! own, which, while armed, lets a `COMMIT` reach the server and then, instead of passing the server's answer
//! back, cuts every connection and refuses new ones for a while (the network between them failed). The events
//! are committed; the server cannot know it, cannot record the key's answer either, and answers 503. The client's
//! retry with the same `Idempotency-Key`, once the network is back, must append nothing and answer the first
//! outcome.

use crate::harness::{authorized, poll_until, post_expect, TallyProcess};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The PostgreSQL wire protocol's untyped opening messages: SSLRequest and GSSENCRequest codes.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// How long the network stays down after an acknowledgement was dropped.
const OUTAGE: Duration = Duration::from_secs(2);

/// A proxy to PostgreSQL that, while `armed`, swallows the answer to a `COMMIT`, cuts every connection and
/// refuses new ones for [`OUTAGE`].
struct CommitAckDropper {
    port: u16,
    armed: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
}

/// What the relays share: whether to drop the next acknowledgement, how many were dropped, and the network's
/// state (bumped to cut every connection; `down_until` refuses new ones).
#[derive(Clone)]
struct Network {
    armed: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
    cut: Arc<tokio::sync::watch::Sender<u64>>,
    down_until: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
}

impl Network {
    fn fail(&self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
        *self.down_until.lock().unwrap() = Some(tokio::time::Instant::now() + OUTAGE);
        self.cut.send_modify(|generation| *generation += 1);
    }

    fn is_down(&self) -> bool {
        self.down_until.lock().unwrap().is_some_and(|until| tokio::time::Instant::now() < until)
    }
}

impl CommitAckDropper {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let network = Network {
            armed: Arc::new(AtomicBool::new(false)),
            dropped: Arc::new(AtomicUsize::new(0)),
            cut: Arc::new(tokio::sync::watch::Sender::new(0)),
            down_until: Arc::new(std::sync::Mutex::new(None)),
        };
        let (armed, dropped) = (network.armed.clone(), network.dropped.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                // Subscribed before the checks, so a failure from now on cuts this connection too.
                let cut = network.cut.subscribe();
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                if network.is_down() {
                    continue; // dropping the sockets refuses the connection
                }
                tokio::spawn(relay(client, server, network.clone(), cut));
            }
        });
        CommitAckDropper { port, armed, dropped }
    }
}

/// Relays one connection. Client messages are parsed (length-prefixed; the opening ones untyped) to spot a
/// transaction that appends events (it binds a statement prepared from `insert into events`) and its simple-
/// protocol `COMMIT`; after such a COMMIT is forwarded while armed, the server's answer is dropped and the network
/// fails.
async fn relay(client: TcpStream, server: TcpStream, network: Network, mut cut: tokio::sync::watch::Receiver<u64>) {
    let armed = network.armed.clone();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let commit_sent = Arc::new(AtomicBool::new(false));
    let sent = commit_sent.clone();
    let upstream = async move {
        let mut untyped = true;
        // Prepared statement name -> whether it appends events; whether the open transaction did.
        let mut appending_statements = std::collections::HashMap::<Vec<u8>, bool>::new();
        let mut appended = false;
        loop {
            let mut header = [0u8; 5];
            let typed = !untyped;
            let header = if typed { &mut header[..] } else { &mut header[1..] };
            if client_read.read_exact(header).await.is_err() {
                return;
            }
            let length = u32::from_be_bytes(header[header.len() - 4..].try_into().unwrap()) as usize;
            let mut body = vec![0u8; length.saturating_sub(4)];
            if client_read.read_exact(&mut body).await.is_err() {
                return;
            }
            if !typed {
                let code = body.get(..4).map(|c| u32::from_be_bytes(c.try_into().unwrap()));
                // After SSLRequest/GSSENCRequest the startup message follows, untyped too.
                untyped = matches!(code, Some(SSL_REQUEST | GSSENC_REQUEST));
            }
            let kind = if typed { header[0] } else { 0 };
            let mut strings = body.split(|byte| *byte == 0);
            match kind {
                // Parse: statement name, query text.
                b'P' => {
                    let name = strings.next().unwrap_or_default().to_vec();
                    let query = String::from_utf8_lossy(strings.next().unwrap_or_default()).to_lowercase();
                    let appends = query.contains("insert into events");
                    appended |= appends && name.is_empty();
                    appending_statements.insert(name, appends);
                }
                // Bind: portal name, statement name.
                b'B' => {
                    let statement = strings.nth(1).unwrap_or_default();
                    appended |= appending_statements.get(statement).copied().unwrap_or(false);
                }
                _ => {}
            }
            let is_commit = kind == b'Q' && body.trim_ascii_end().eq_ignore_ascii_case(b"COMMIT\0");
            let appending_commit = is_commit && std::mem::take(&mut appended);
            if server_write.write_all(header).await.is_err() || server_write.write_all(&body).await.is_err() {
                return;
            }
            if appending_commit && armed.swap(false, Ordering::SeqCst) {
                sent.store(true, Ordering::SeqCst);
            }
        }
    };
    let downstream = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let Ok(read) = server_read.read(&mut buffer).await else { return };
            if read == 0 {
                return;
            }
            if commit_sent.load(Ordering::SeqCst) {
                // The server answered the COMMIT: the acknowledgement is lost with the network.
                network.fail();
                return;
            }
            if client_write.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    // Whichever side ends, or the network fails, both sockets close.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
        _ = cut.changed() => {}
    }
}

/// `host:port` of a `postgres://user@host:port/db?...` URL, and the URL with that part replaced.
fn through_proxy(url: &str, proxy_port: u16) -> (String, String) {
    let after_at = url.split_once('@').map_or(url, |(_, rest)| rest);
    let host_port = after_at.split('/').next().expect("host:port").to_owned();
    (host_port.clone(), url.replacen(&host_port, &format!("127.0.0.1:{proxy_port}"), 1))
}

// The proxy runs on the test's runtime while the harness blocks this thread waiting for the server: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_acknowledgement_is_lost_is_answered_once_on_the_retry() {
    let db = tally_testkit::fresh_database().await;
    let (upstream, _) = through_proxy(&db.url, 0);
    let proxy = CommitAckDropper::start(upstream).await;
    let (_, proxied_url) = through_proxy(&db.url, proxy.port);
    let (server, base) = TallyProcess::serve_on(&proxied_url);
    let product = json!({ "sku": "ACK-TEE", "name": "Ack tee", "price": { "amount": 900, "currency": "EUR" } });
    post_expect(&format!("{base}/v1/products"), &product, 201).await;

    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let receipts = format!("{base}/v1/inventory/ACK-TEE/receipts");
    let receipt = || {
        authorized(http.post(&receipts), &receipts)
            .header("idempotency-key", "lost-ack-1")
            .json(&json!({ "quantity": 12, "reference": "PO-ACK" }))
    };
    proxy.armed.store(true, Ordering::SeqCst);
    let first = receipt().send().await.expect("an answer");
    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 1, "one COMMIT acknowledgement was dropped");
    assert_eq!(first.status().as_u16(), 503, "the outcome was unknown to the server: {:?}", first.text().await);

    let committed: i64 = sqlx::query_scalar("select count(*) from events where stream_id = 'inventory-ACK-TEE'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(committed, 1, "the first attempt's events were committed although its answer was a 503");

    // The key's answer could not be recorded either: the retry is 409 (in flight) until the first attempt's lease
    // runs out, then takes the key over and finds the first attempt's events.
    let retry = poll_until("the retry to be answered", Duration::from_secs(30), || async {
        let response = receipt().send().await.map_err(|error| error.to_string())?;
        match response.status().as_u16() {
            201 => Ok(response),
            409 | 503 => Err(format!("{} {:?}", response.status(), response.text().await)),
            other => panic!("the retry answered {other}: {:?}", response.text().await),
        }
    })
    .await;
    let body: serde_json::Value = retry.json().await.unwrap();
    assert_eq!((body["on_hand"].as_u64(), body["version"].as_u64()), (Some(12), Some(0)), "{body}");
    let events: i64 = sqlx::query_scalar("select count(*) from events where stream_id = 'inventory-ACK-TEE'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 1, "the retry appended nothing");
    let again = receipt().send().await.expect("an answer");
    assert_eq!(again.headers().get("idempotency-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert!(server.terminate().success());
}

//! A webhook receiver for the consumers benchmark (`scripts/bench consumers`): answers every POST to `/hook` with
//! 204 at once, as a receiver that queues the work does, and counts them. Prints its URL on the first line of its
//! output; `GET /count` answers how many deliveries it has had.
//!
//! `cargo run --release --example webhook_receiver`

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let deliveries = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/hook",
            post(|State(count): State<Arc<AtomicU64>>| async move {
                count.fetch_add(1, Ordering::Relaxed);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/count",
            get(|State(count): State<Arc<AtomicU64>>| async move { count.load(Ordering::Relaxed).to_string() }),
        )
        .with_state(deliveries);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    println!("http://{}/hook", listener.local_addr().expect("its address"));
    axum::serve(listener, app).await.expect("serve");
}

//! What the command tests share: the router on a fresh database, a small request builder and the reply it gets,
//! and the setup steps most tests start with (register a product, receive stock, place and pay an order).

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use tally_api::auth::issue::issue_key;
use tally_api::AppState;
use tally_commands::{CommandConfig, CommandContext, Commands};
use tally_domain::Role;
use tally_projections::{Projector, ProjectorOptions};
use tally_store::{EventStore, PgEventStore, PgStoreOptions, ReadStream, RecordedEvent};
use tower::ServiceExt;

/// The router on a fresh database, and the state behind it (to look at the store and the command side).
#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// An `admin` key: sent with every call that carries no `Authorization` of its own.
    pub admin_key: String,
}

pub async fn app() -> TestApp {
    app_with_store_pool().await.0
}

/// The app with its event store on a pool of its own, returned too: closing it makes the store fail while the
/// rest of the database (the idempotency keys) still answers.
pub async fn app_with_store_pool() -> (TestApp, PgPool) {
    let db = tally_testkit::fresh_database().await;
    tally_store::MIGRATOR.run(&db.pool).await.expect("migrate the test database");
    let store_pool = PgPool::connect(&db.url).await.expect("connect the store's pool");
    let store: Arc<dyn EventStore> =
        Arc::new(PgEventStore::with_pool(store_pool.clone(), PgStoreOptions::default()).await.expect("open the store"));
    let commands = Commands::new(Arc::clone(&store), CommandConfig::default());
    let projector = Projector::new(Arc::clone(&store), db.pool.clone(), ProjectorOptions::default());
    let state = AppState::new(db.pool, store, commands, projector);
    let admin_key = issue(&state, Role::Admin).await;
    (TestApp { router: tally_api::router(state.clone()), state, admin_key }, store_pool)
}

impl TestApp {
    /// Another node on the same database: a router with its own event store writer and command side, as a
    /// second `tally serve` behind the same load balancer would have.
    pub async fn second_node(&self) -> TestApp {
        let options = self.state.pool.connect_options();
        let store_pool = PgPool::connect_with((*options).clone()).await.expect("connect the second node's store");
        let store: Arc<dyn EventStore> =
            Arc::new(PgEventStore::with_pool(store_pool, PgStoreOptions::default()).await.expect("open the store"));
        let commands = Commands::new(Arc::clone(&store), CommandConfig::default());
        let projector = Projector::new(Arc::clone(&store), self.state.pool.clone(), ProjectorOptions::default());
        let state = AppState::new(self.state.pool.clone(), store, commands, projector);
        TestApp { router: tally_api::router(state.clone()), state, admin_key: self.admin_key.clone() }
    }

    /// A new key of `role`: its secret.
    pub async fn key(&self, role: Role) -> String {
        issue(&self.state, role).await
    }
}

/// A request to send: `post(uri).json(...)`, `.header(...)`, `.raw(...)`.
#[derive(Clone)]
pub struct Call {
    method: &'static str,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

pub fn post(uri: impl Into<String>) -> Call {
    Call { method: "POST", uri: uri.into(), headers: Vec::new(), body: Vec::new() }
}

pub fn get(uri: impl Into<String>) -> Call {
    Call { method: "GET", uri: uri.into(), headers: Vec::new(), body: Vec::new() }
}

impl Call {
    pub fn json(self, body: Value) -> Self {
        self.raw("application/json", body.to_string().into_bytes())
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers.push(("content-type".into(), content_type.into()));
        self.body = body.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn key(self, key: &str) -> Self {
        self.header("idempotency-key", key)
    }
}

/// What came back: status, headers, the body as JSON (`Null` when it is not JSON) and as bytes.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json of `kind` with `status`.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, kind: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.body);
        assert_eq!(self.body["type"], format!("/problems/{kind}"), "{}", self.body);
        assert_eq!(self.body["status"], status.as_u16(), "{}", self.body);
    }

    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        &self.body
    }
}

/// A key of `role` issued through the command side, as `tally keys create` issues one.
async fn issue(state: &AppState, role: Role) -> String {
    let context = CommandContext::new("test");
    let issued = issue_key(&state.pool, &state.commands, &context, format!("test {role}"), role).await;
    issued.expect("issue a test key").secret
}

impl TestApp {
    pub async fn send(&self, call: Call) -> Reply {
        let mut request = Request::builder().method(call.method).uri(&call.uri);
        if !call.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization")) {
            request = request.header("authorization", format!("Bearer {}", self.admin_key));
        }
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        let request = request.body(Body::from(call.body)).expect("a request");
        let response = self.router.clone().oneshot(request).await.expect("a response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.expect("a body").to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body, bytes }
    }

    /// Registers `sku` at `amount` EUR.
    pub async fn register(&self, sku: &str, amount: i64) -> Reply {
        let body =
            json!({ "sku": sku, "name": format!("Product {sku}"), "price": { "amount": amount, "currency": "EUR" } });
        let reply = self.send(post("/v1/products").json(body)).await;
        reply.assert_status(StatusCode::CREATED);
        reply
    }

    /// Receives `quantity` units of `sku` at `main`.
    pub async fn receive(&self, sku: &str, quantity: i64) -> Reply {
        let reply =
            self.send(post(format!("/v1/inventory/{sku}/receipts")).json(json!({ "quantity": quantity }))).await;
        reply.assert_status(StatusCode::CREATED);
        reply
    }

    /// Places a confirmed order of `lines` (sku, quantity) for `cus-42`; returns its body.
    pub async fn place(&self, lines: &[(&str, i64)]) -> Value {
        let lines: Vec<Value> =
            lines.iter().map(|(sku, quantity)| json!({ "sku": sku, "quantity": quantity })).collect();
        let reply = self.send(post("/v1/orders").json(json!({ "customer_id": "cus-42", "lines": lines }))).await;
        reply.assert_status(StatusCode::CREATED).clone()
    }

    /// A registered product with 100 units, and a confirmed order of 2 at 1999 EUR: the order's body.
    pub async fn confirmed_order(&self) -> Value {
        self.register("TEE-RED-M", 1999).await;
        self.receive("TEE-RED-M", 100).await;
        self.place(&[("TEE-RED-M", 2)]).await
    }

    /// [`Self::confirmed_order`], paid in full.
    pub async fn paid_order(&self) -> Value {
        let order = self.confirmed_order().await;
        let id = order["order_id"].as_str().unwrap().to_owned();
        let payment = json!({ "amount": 3998, "currency": "EUR", "reference": "psp_1" });
        let reply = self.send(post(format!("/v1/orders/{id}/payments")).json(payment)).await;
        reply.assert_status(StatusCode::CREATED).clone()
    }

    /// Every event of a stream.
    pub async fn events(&self, stream_id: &str) -> Vec<RecordedEvent> {
        self.state.store.read_stream(stream_id, ReadStream::forwards(0, 10_000)).await.expect("read a stream")
    }

    /// Every event of the log's first 10,000, as (position, event id).
    pub async fn all_events(&self) -> Vec<(u64, uuid::Uuid)> {
        let slice = self.state.store.read_all(0, 10_000, &Default::default()).await.expect("read the log");
        slice.events.iter().map(|event| (event.position, event.event_id)).collect()
    }
}

//! Operations endpoints: liveness (`/healthz`) and readiness (`/readyz`) for load balancers and orchestrators,
//! and the API's own description (`/openapi.json`, assembled by [`crate::openapi`] when the router is built).
//!
//! The tests below keep the document honest: every operation it documents is routed, and every route in the
//! router's table ([`crate::endpoints`]) is documented.

use crate::auth::{Access, ApiRoutes};
use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tally_projections::ProjectionState;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub(crate) fn routes(routes: ApiRoutes) -> ApiRoutes {
    routes
        .route(Access::Public, routes!(healthz))
        .route(Access::Public, routes!(readyz))
        .route(Access::Public, routes!(openapi))
}

/// The OpenAPI document as served: serialised once, when the router is built (a layer hands it to the handler).
#[derive(Clone)]
pub(crate) struct OpenApiDocument(Bytes);

impl OpenApiDocument {
    pub(crate) fn new(document: &Value) -> Self {
        OpenApiDocument(Bytes::from(serde_json::to_vec(document).expect("the document serialises")))
    }
}

/// The API's own description
///
/// This OpenAPI 3.1 document: every operation, its parameters, bodies and answers, and the roles that may call
/// it (`x-tally-roles`). Public: no key needed.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object)))]
async fn openapi(Extension(document): Extension<OpenApiDocument>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document.0)
}

/// Liveness
///
/// The process is up and serving HTTP. Says nothing about its dependencies (so a slow database never gets a
/// healthy process restarted). Public: no key needed.
#[utoipa::path(get, path = "/healthz", tag = "ops", operation_id = "healthz",
    responses((status = 200, description = "Alive.", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: Alive::Ok })
}

/// The answer of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    status: Alive,
}

/// A process that answers is alive: there is no other value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Alive {
    Ok,
}

/// How long `/readyz` waits for its checks. A dependency that has not answered by then counts as unreachable, so
/// an orchestrator gets its answer within a second even while the pools wait for connections (their acquire
/// timeout is 1 s): "answered promptly" is part of "can serve".
const READINESS_DEADLINE: Duration = Duration::from_millis(750);

/// Readiness
///
/// This node can serve: the database and the event store answer, within 750 ms (checked at the same time). A
/// projection stopped on a poison event does not make the node unready: it is reported in the body
/// (`projections`, `failed_projections`), in `/v1/projections` and in `/metrics`. Public: no key needed.
//
// Projections are reported, not judged: a read model stopped on a poison event is an operator's problem and must
// not take the write path of every node out of the load balancer (docs/decisions.md, 2026-12-04).
#[utoipa::path(get, path = "/readyz", tag = "ops", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "503 `unavailable` with `Retry-After`: the database or the event store did not \
            answer within 750 ms.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before asking again."))),
    ))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, Problem> {
    let (database, event_store, projections) = tokio::join!(
        within_deadline(sqlx::query("select 1").execute(&state.pool)),
        within_deadline(state.store.head_position()),
        within_deadline(state.projector.status()),
    );
    if let Err(error) = database {
        tracing::warn!(error = %error, "readiness check: database unreachable");
        return Err(not_ready("the database is not reachable"));
    }
    let position = event_store.map_err(|error| {
        tracing::warn!(error = %error, "readiness check: event store unreachable");
        not_ready("the event store is not reachable")
    })?;
    let (projections, failed_projections) = match projections {
        Ok(statuses) => {
            let failed: Vec<String> =
                statuses.into_iter().filter(|s| s.state == ProjectionState::Failed).map(|s| s.name).collect();
            (if failed.is_empty() { ProjectionsHealth::Ok } else { ProjectionsHealth::Failed }, failed)
        }
        Err(error) => {
            tracing::warn!(error = %error, "readiness check: projection status unreadable (readiness unaffected)");
            (ProjectionsHealth::Unknown, Vec::new())
        }
    };
    Ok(Json(Readiness {
        status: Ready::Ready,
        database: Reachable::Ok,
        event_store: EventStoreReadiness { status: Reachable::Ok, position },
        projections,
        failed_projections,
    }))
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    status: Ready,
    database: Reachable,
    event_store: EventStoreReadiness,
    /// Reported, not judged: `failed` when a projection stopped on a poison event (named in
    /// `failed_projections`), `unknown` when their status could not be read in time. Neither makes the node unready.
    projections: ProjectionsHealth,
    /// The projections stopped on a poison event, when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failed_projections: Vec<String>,
}

/// A node that answers `/readyz` with 200 is ready: there is no other value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Ready {
    Ready,
}

/// A dependency that answered in time: there is no other value (one that did not makes the answer a 503).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Reachable {
    Ok,
}

/// The event store as `/readyz` found it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventStoreReadiness {
    status: Reachable,
    /// The log's head position.
    position: u64,
}

/// The projections as `/readyz` reports them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ProjectionsHealth {
    Ok,
    Failed,
    Unknown,
}

/// A readiness check's outcome, bounded by [`READINESS_DEADLINE`]; the error as text for the log.
async fn within_deadline<T, E: std::error::Error>(check: impl Future<Output = Result<T, E>>) -> Result<T, String> {
    match tokio::time::timeout(READINESS_DEADLINE, check).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(crate::error::cause_chain(&error)),
        Err(_) => Err(format!("no answer within {} ms", READINESS_DEADLINE.as_millis())),
    }
}

fn not_ready(detail: &str) -> Problem {
    Problem::new(ProblemKind::Unavailable, detail).with_retry_after(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::Router;
    use serde_json::json;
    use std::collections::BTreeSet;
    use tower::ServiceExt;

    async fn get(app: Router, uri: &str) -> (StatusCode, String, Value) {
        let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn ready_when_the_database_and_the_event_store_answer() {
        let (app, _) = crate::test_support::app().await;
        let (status, _, body) = get(app, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["database"], "ok");
        assert_eq!(body["event_store"]["position"], 1, "the test's admin key");
        assert_eq!(body["projections"], "ok");
    }

    #[tokio::test]
    async fn not_ready_when_the_database_is_gone_but_still_healthy() {
        let (app, pool) = crate::test_support::app().await;
        pool.close().await;
        let (status, content_type, body) = get(app.clone(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["type"], "/problems/unavailable");
        let (status, _, _) = get(app, "/healthz").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_failed_projection_is_reported_but_leaves_the_node_ready() {
        let state = crate::test_support::state().await;
        state.projector.status().await.unwrap();
        // What a projection stopped on a poison event records (`checkpoint::record_failure`).
        sqlx::query(
            "update projections set failed_position = 1, failed_at = now(), error = 'boom' where name = 'orders'",
        )
        .execute(&state.pool)
        .await
        .unwrap();
        let (status, _, body) = get(crate::test_support::router(&state).await, "/readyz").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["projections"], "failed");
        assert_eq!(body["failed_projections"], json!(["orders"]));
    }

    /// The document `/openapi.json` serves.
    async fn served_document() -> Value {
        crate::openapi_document(&crate::test_support::state().await)
    }

    /// The `(METHOD, path)` pairs of the OpenAPI document.
    fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
        let paths = document["paths"].as_object().expect("the document has paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let methods = item.as_object().expect("a path item is an object").keys();
                methods.map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect()
    }

    /// `path` with each `{name}` replaced by the `example` of its documented path parameter.
    fn example_path(document: &Value, path: &str, operation: &Value) -> String {
        let mut concrete = path.to_owned();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter = match parameter["$ref"].as_str() {
                Some(reference) => &document["components"]["parameters"][reference.rsplit('/').next().unwrap()],
                None => parameter,
            };
            if parameter["in"] == "path" {
                let example = match &parameter["example"] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                concrete = concrete.replace(&format!("{{{}}}", parameter["name"].as_str().unwrap()), &example);
            }
        }
        assert!(!concrete.contains('{'), "{path}: a path parameter without a documented example");
        concrete
    }

    /// The `$ref`s in `value` that name nothing in `document`.
    fn unresolved_refs(document: &Value, value: &Value) -> BTreeSet<String> {
        match value {
            Value::Object(members) => {
                let own = members.get("$ref").and_then(Value::as_str).filter(|reference| {
                    reference.strip_prefix('#').and_then(|pointer| document.pointer(pointer)).is_none()
                });
                let nested = members.values().flat_map(|member| unresolved_refs(document, member));
                own.map(str::to_owned).into_iter().chain(nested).collect()
            }
            Value::Array(items) => items.iter().flat_map(|item| unresolved_refs(document, item)).collect(),
            _ => BTreeSet::new(),
        }
    }

    #[tokio::test]
    async fn the_openapi_document_is_served_as_openapi_3_1_json() {
        let (app, _) = crate::test_support::app().await;
        let (status, content_type, document) = get(app, "/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        assert!(
            document["openapi"].as_str().is_some_and(|version| version.starts_with("3.1")),
            "{}",
            document["openapi"]
        );
        let unresolved = unresolved_refs(&document, &document);
        assert!(unresolved.is_empty(), "$refs that name nothing: {unresolved:?}");
    }

    #[tokio::test]
    async fn an_operation_and_its_schemas_come_from_its_handler() {
        let document = served_document().await;
        let healthz = &document["paths"]["/healthz"]["get"];
        assert_eq!(healthz["operationId"], "healthz", "{healthz}");
        assert_eq!(healthz["security"], json!([]), "public");
        let schema = &healthz["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(schema["$ref"], "#/components/schemas/Health", "{healthz}");
        let health = &document["components"]["schemas"]["Health"];
        assert_eq!(health["required"], json!(["status"]), "the generated schema: {health}");
        assert_eq!(document["components"]["schemas"]["Alive"]["enum"], json!(["ok"]));
    }

    #[tokio::test]
    async fn every_documented_operation_reaches_a_handler() {
        let (app, _) = crate::test_support::app().await;
        let document = served_document().await;
        for (method, path) in documented_operations(&document) {
            let operation = &document["paths"][&path][method.to_lowercase()];
            let uri = example_path(&document, &path, operation);
            let request = Request::builder().method(method.as_str()).uri(&uri);
            let request = match method.as_str() {
                "POST" => request.header("content-type", "application/json").body(Body::from("{}")),
                _ => request.body(Body::empty()),
            };
            // Only the head is read: the live tail and the export stream their bodies.
            let response = app.clone().oneshot(request.unwrap()).await.unwrap();
            let status = response.status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}: the router does not take this method");
            // `problem::no_such_route` answers a `not-found` problem like a handler's; its detail tells it apart.
            if status == StatusCode::NOT_FOUND {
                let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
                let problem: Value = serde_json::from_slice(&body).unwrap();
                let fallback = format!("there is no resource at {uri}");
                assert_ne!(problem["detail"], fallback.as_str(), "{method} {uri}: no route");
            }
        }
    }

    /// A documented parameter, its `$ref` followed.
    fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(reference) => document.pointer(reference.strip_prefix('#').unwrap()).expect("a $ref resolves"),
            None => value,
        }
    }

    /// Requests carrying a NUL (and invalid UTF-8) for one operation: in each path parameter, in each query
    /// parameter, and in each property of its JSON body (as `\u0000`), as `(uri, body)`.
    fn nul_corpus(document: &Value, path: &str, operation: &Value) -> Vec<(String, Option<String>)> {
        let uri = example_path(document, path, operation);
        let body = operation.get("requestBody").map(|_| "{}".to_owned());
        let mut corpus = vec![(format!("{uri}%00"), body.clone()), (format!("{uri}?x=%00"), body.clone())];
        corpus.push((format!("{uri}?x=%FF"), body.clone()));
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter = resolve(document, parameter);
            let name = parameter["name"].as_str().unwrap();
            match parameter["in"].as_str() {
                Some("path") => {
                    let mut example =
                        parameter["example"].as_str().map_or(parameter["example"].to_string(), str::to_owned);
                    example.push_str("%00");
                    let with_nul = operation_path_with(path, name, &example);
                    corpus.push((example_path(document, &with_nul, operation), body.clone()));
                }
                Some("query") => corpus.push((format!("{uri}?{name}=a%00b"), body.clone())),
                _ => {}
            }
        }
        let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
        let schema = resolve(document, schema);
        for property in schema["properties"].as_object().into_iter().flat_map(|p| p.keys()) {
            corpus.push((uri.clone(), Some(format!(r#"{{"{property}": "a\u0000b"}}"#))));
            corpus.push((uri.clone(), Some(format!(r#"{{"{property}": ["\u0000"]}}"#))));
        }
        if operation.get("requestBody").is_some() {
            corpus.push((uri.clone(), Some(r#"{"\u0000": 1}"#.to_owned())));
        }
        corpus
    }

    /// `path` with the `{name}` parameter replaced by `value`.
    fn operation_path_with(path: &str, name: &str, value: &str) -> String {
        path.replace(&format!("{{{name}}}"), value)
    }

    #[tokio::test]
    async fn a_nul_anywhere_in_any_route_is_a_client_problem_never_a_5xx() {
        let (app, _) = crate::test_support::app().await;
        let document = served_document().await;
        let mut requests = 0;
        for (method, path) in documented_operations(&document) {
            let operation = &document["paths"][&path][method.to_lowercase()];
            for (uri, body) in nul_corpus(&document, &path, operation) {
                let request = Request::builder().method(method.as_str()).uri(&uri);
                let request = match &body {
                    Some(body) => request.header("content-type", "application/json").body(Body::from(body.clone())),
                    None => request.body(Body::empty()),
                };
                let response = app.clone().oneshot(request.unwrap()).await.unwrap();
                let status = response.status();
                let what = format!("{method} {uri} {body:?}");
                assert!(status.is_client_error(), "{what}: {status}");
                let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
                assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{what}");
                let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
                let problem: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(problem["type"], "/problems/validation", "{what}: {problem}");
                requests += 1;
            }
        }
        assert!(requests > 100, "the corpus covers every route ({requests} requests)");
    }

    #[tokio::test]
    async fn every_operation_declares_the_roles_the_router_allows() {
        use crate::auth::may;
        use tally_domain::Role;

        let document = served_document().await;
        let bearer = &document["components"]["securitySchemes"]["bearer"];
        assert_eq!((&bearer["type"], &bearer["scheme"]), (&json!("http"), &json!("bearer")), "{bearer}");
        assert_eq!(document["security"], json!([{ "bearer": [] }]), "every operation needs a key unless it says not");
        let state = crate::test_support::state().await;
        for endpoint in crate::endpoints(&state) {
            let what = format!("{} {} ({:?})", endpoint.method, endpoint.path, endpoint.access);
            let operation = &document["paths"][&endpoint.path][endpoint.method.as_str().to_lowercase()];
            assert!(operation.is_object(), "{what}: not documented");
            if endpoint.access == Access::Public {
                assert_eq!(operation.get("security"), Some(&json!([])), "{what}: public, so `security: []`");
                assert_eq!(operation.get("x-tally-roles"), None, "{what}: public, so no roles");
                continue;
            }
            let roles: Vec<&str> =
                Role::ALL.into_iter().filter(|role| may(*role, endpoint.access)).map(Role::as_str).collect();
            assert_eq!(operation.get("security"), None, "{what}: needs a key, so the document's `security`");
            assert_eq!(operation["x-tally-roles"], json!(roles), "{what}");
            let description = operation["description"].as_str().unwrap_or_default();
            assert!(description.contains(&format!("Roles: {}.", roles.join(", "))), "{what}: {description}");
        }
    }
}

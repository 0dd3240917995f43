//! RFC 9457 problem details: every error the API returns is `application/problem+json` with a stable `type`.
//!
//! A `type` is a relative URI, `/problems/<kind>`; `GET /problems/<kind>` answers with a short description, so a
//! developer who meets an error can look it up. Internal error text is logged, never sent to the client.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// The kinds of problem, one per stable `type` (DESIGN.md, "HTTP API").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Validation,
    NotFound,
    InsufficientStock,
    InvalidTransition,
    VersionConflict,
    IdempotencyKeyReused,
    Unauthorized,
    Forbidden,
    RateLimited,
    Unavailable,
    Internal,
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 11] = [
        Self::Validation,
        Self::NotFound,
        Self::InsufficientStock,
        Self::InvalidTransition,
        Self::VersionConflict,
        Self::IdempotencyKeyReused,
        Self::Unauthorized,
        Self::Forbidden,
        Self::RateLimited,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The last segment of the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::NotFound => "not-found",
            Self::InsufficientStock => "insufficient-stock",
            Self::InvalidTransition => "invalid-transition",
            Self::VersionConflict => "version-conflict",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate-limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Validation => "Invalid request",
            Self::NotFound => "Not found",
            Self::InsufficientStock => "Insufficient stock",
            Self::InvalidTransition => "Invalid transition",
            Self::VersionConflict => "Version conflict",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Unavailable",
            Self::Internal => "Internal error",
        }
    }

    /// The usual status; a handler may pick another (a version conflict on `If-Match` is 412, say).
    pub fn status(self) -> StatusCode {
        match self {
            Self::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::InsufficientStock | Self::InvalidTransition | Self::VersionConflict => StatusCode::CONFLICT,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Validation => {
                "The request was malformed or broke a rule on its values (a bad SKU, a zero \
                quantity, an unknown field, a body too large). Fix the request; retrying it unchanged will fail again."
            }
            Self::NotFound => "The resource (product, inventory item, order, stream) does not exist.",
            Self::InsufficientStock => {
                "Not enough stock is available for the order. The body lists the shortages \
                per SKU and the id of the rejected order."
            }
            Self::InvalidTransition => {
                "The resource cannot make this change in its current state (shipping an \
                unpaid order, refunding more than was captured, ...)."
            }
            Self::VersionConflict => {
                "The resource changed since the version the request was based on (If-Match), \
                or a concurrent change won. Read it again and decide anew."
            }
            Self::IdempotencyKeyReused => {
                "The Idempotency-Key was already used with a different request body, or \
                the first request with that key is still in flight (409)."
            }
            Self::Unauthorized => {
                "The request carries no valid API key: none, a malformed one, an unknown one or a revoked one. \
                Send `Authorization: Bearer <key>` with a key from `tally keys create` or `POST /v1/keys`."
            }
            Self::Forbidden => "The API key is valid, but its role does not allow this request.",
            Self::RateLimited => {
                "The API key sent more requests than its rate limit allows. Retry after the delay in \
                Retry-After; the RateLimit and RateLimit-Policy headers say the budget."
            }
            Self::Unavailable => {
                "The service cannot answer now (database unreachable, read model not caught up \
                with the requested position). Retry after the delay in Retry-After."
            }
            Self::Internal => {
                "An unexpected error. It was logged with the request id; the request may be retried \
                with the same Idempotency-Key."
            }
        }
    }

    fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.slug() == slug)
    }
}

/// One problem response: a kind, a human-readable `detail`, and any extension members (e.g. `shortages`).
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: ProblemKind,
    pub status: StatusCode,
    pub detail: String,
    pub extensions: Map<String, Value>,
    pub retry_after_secs: Option<u32>,
}

impl Problem {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self { kind, status: kind.status(), detail: detail.into(), extensions: Map::new(), retry_after_secs: None }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_extension(mut self, name: &str, value: Value) -> Self {
        self.extensions.insert(name.to_owned(), value);
        self
    }

    pub fn with_retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("/problems/{}", self.kind.slug())));
        body.insert("title".into(), json!(self.kind.title()));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extensions);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The schema of every problem body: `type`, `title`, `status`, `detail`, and the extension members some problems
/// add. `type` lists every [`ProblemKind`].
impl utoipa::PartialSchema for Problem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let types: Vec<String> = ProblemKind::ALL.iter().map(|kind| format!("/problems/{}", kind.slug())).collect();
        let mut properties = json!({
            "type": {"type": "string", "format": "uri-reference", "enum": types,
                     "description": "`/problems/<kind>`; `GET` it for a description."},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status of the response."},
            "detail": {"type": "string"},
        });
        let extensions: Value = serde_json::from_str(EXTENSION_MEMBERS).expect("the extension members are JSON");
        properties.as_object_mut().expect("an object").extend(extensions.as_object().expect("an object").clone());
        crate::openapi::schema(json!({
            "type": "object",
            "description": "An RFC 9457 problem. `type` is stable per kind of error; `detail` is for people and never \
                carries internal error text. Extension members depend on the problem (listed below); others may be added.",
            "properties": properties,
            "required": ["type", "title", "status", "detail"],
            "additionalProperties": true,
        }))
    }
}

impl utoipa::ToSchema for Problem {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        use crate::openapi::schemas::{OrderAction, OrderStatus};
        use utoipa::PartialSchema;
        schemas.push(("Shortage".into(), crate::resources::ShortageView::schema()));
        schemas.push(("OrderStatus".into(), OrderStatus::schema()));
        schemas.push(("OrderAction".into(), OrderAction::schema()));
    }
}

/// The extension members problems carry, by the problems that carry them.
const EXTENSION_MEMBERS: &str = r##"{
  "field": {
    "type": "string",
    "description": "`validation` of a command body: the field at fault (e.g. `lines[0].quantity`, `price.currency`)."
  },
  "order_id": {
    "type": "string",
    "description": "`insufficient-stock` of `POST /v1/orders`: the id of the rejected order."
  },
  "shortages": {
    "type": "array",
    "items": {
      "$ref": "#/components/schemas/Shortage"
    },
    "description": "`insufficient-stock` of `POST /v1/orders`: what was short, per SKU."
  },
  "requested": {
    "type": "integer",
    "minimum": 0,
    "description": "`insufficient-stock` of a reservation: units requested."
  },
  "available": {
    "type": "integer",
    "minimum": 0,
    "description": "`insufficient-stock`: units available."
  },
  "location": {
    "type": "string",
    "description": "`insufficient-stock` of an adjustment: the location."
  },
  "on_hand": {
    "type": "integer",
    "minimum": 0,
    "description": "`insufficient-stock` of an adjustment: units on hand."
  },
  "reserved": {
    "type": "integer",
    "minimum": 0,
    "description": "`insufficient-stock` of an adjustment below what is reserved: units reserved."
  },
  "delta": {
    "type": "integer",
    "format": "int64",
    "description": "`insufficient-stock` of an adjustment: the delta refused."
  },
  "current_status": {
    "$ref": "#/components/schemas/OrderStatus",
    "description": "`invalid-transition` refused by an order: its status."
  },
  "action": {
    "$ref": "#/components/schemas/OrderAction",
    "description": "`invalid-transition` refused by an order: the action refused."
  },
  "expected_version": {
    "type": "integer",
    "minimum": 0,
    "description": "412 `version-conflict`: the version given in `If-Match`."
  },
  "current_version": {
    "type": [
      "integer",
      "null"
    ],
    "minimum": 0,
    "description": "412 `version-conflict`: the stream's version (`null`: no stream)."
  },
  "min_position": {
    "type": "integer",
    "minimum": 0,
    "description": "503 `unavailable` of a query: the position asked for."
  },
  "head": {
    "type": "integer",
    "minimum": 0,
    "description": "400 `validation` of a `min_position` beyond the log's head: the log's head."
  },
  "projections": {
    "type": "array",
    "items": {
      "type": "string"
    },
    "description": "503 `unavailable` of a query: the projections that had not reached `min_position`."
  },
  "failed_projection": {
    "type": "string",
    "description": "503 `unavailable` of a query: the projection stopped before `min_position`."
  },
  "failed_position": {
    "type": "integer",
    "minimum": 0,
    "description": "The position that projection stopped at."
  }
}"##;

/// What `GET /problems/{kind}` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ProblemType {
    /// `/problems/<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The status this kind usually has.
    pub status: u16,
    pub description: String,
}

#[cfg(test)]
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new().route("/problems/{kind}", axum::routing::get(describe))
}

/// Any path the API does not serve: a `not-found` problem instead of an empty 404.
pub(crate) async fn no_such_route(uri: axum::http::Uri) -> Problem {
    Problem::new(ProblemKind::NotFound, format!("there is no resource at {}", uri.path()))
}

/// A known path with a method it does not take: a 405 `validation` problem instead of an empty 405.
pub(crate) async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(ProblemKind::Validation, format!("{method} is not allowed on {}", uri.path()))
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Describe a problem type
///
/// What a problem `type` means. Public: no key needed.
#[utoipa::path(get, path = "/problems/{kind}", tag = "ops", operation_id = "describeProblem",
    params(("kind" = ProblemKindName, Path, description = "A problem kind (the last segment of a problem `type`).",
        example = "validation")),
    responses(
        (status = 200, description = "The description.", body = ProblemType),
        (status = 404, description = "404 `not-found`: no problem type has this name.", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub(crate) async fn describe(Path(slug): Path<String>) -> Response {
    match ProblemKind::from_slug(&slug) {
        Some(kind) => Json(ProblemType {
            kind: format!("/problems/{}", kind.slug()),
            title: kind.title().to_owned(),
            status: kind.status().as_u16(),
            description: kind.description().to_owned(),
        })
        .into_response(),
        None => Problem::new(ProblemKind::NotFound, format!("there is no problem type named {slug:?}")).into_response(),
    }
}

/// The name of a problem kind, as `/problems/{kind}` takes it: one of [`ProblemKind::ALL`]'s slugs.
pub(crate) struct ProblemKindName;

impl utoipa::PartialSchema for ProblemKindName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let slugs: Vec<&str> = ProblemKind::ALL.iter().map(|kind| kind.slug()).collect();
        crate::openapi::schema(json!({ "type": "string", "enum": slugs }))
    }
}

impl utoipa::ToSchema for ProblemKindName {}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::Router;
    use tower::ServiceExt;

    #[tokio::test]
    async fn every_problem_type_is_described() {
        for kind in ProblemKind::ALL {
            let app: Router = routes();
            let uri = format!("/problems/{}", kind.slug());
            let response = app.oneshot(Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            let body: Value =
                serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap()).unwrap();
            assert_eq!(body["type"], uri);
            assert!(!body["description"].as_str().unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn an_unknown_problem_type_is_a_not_found_problem() {
        let app: Router = routes();
        let response = app.oneshot(Request::get("/problems/nope").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }

    #[tokio::test]
    async fn unknown_routes_and_wrong_methods_are_problems() {
        let app: Router = routes().fallback(no_such_route).method_not_allowed_fallback(method_not_allowed);
        let response = app.clone().oneshot(Request::get("/v2/nothing").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let response = app.oneshot(Request::delete("/problems/internal").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }

    #[test]
    fn extensions_and_retry_after_reach_the_response() {
        let response = Problem::new(ProblemKind::Unavailable, "catching up")
            .with_extension("position", json!(42))
            .with_retry_after(1)
            .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}

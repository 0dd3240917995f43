//! `GET /v1/me`: who the presented key is and what its role may do, for any valid key. A client (the console)
//! asks once after signing in, to show and allow only what the role may; the API refuses the rest anyway.

use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use tally_domain::{ApiKeyId, Role};
use tracing::instrument;
use utoipa::ToSchema;

use super::access::{may, Access};
use super::registry::Caller;
use crate::problem::{Problem, ProblemKind};

/// The key that sent the request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Me)]
pub(crate) struct MeBody {
    /// The key's id (its stream is `apikey-{id}`, the `actor` of the events it causes).
    #[schema(value_type = uuid::Uuid)]
    key_id: ApiKeyId,
    /// The key's name.
    name: String,
    #[schema(value_type = crate::openapi::schemas::Role)]
    role: Role,
    /// The kinds of route the role may call (each operation of `/openapi.json` names its roles in
    /// `x-tally-roles`).
    #[schema(value_type = Vec<String>, example = json!(["public", "session", "storefront-read", "query"]))]
    accesses: Vec<Access>,
}

/// Who am I
///
/// The key that sent the request: its id, name and role, and the accesses the role has (which operations it may
/// call). Any valid key may ask.
#[utoipa::path(get, path = "/v1/me", tag = "keys", operation_id = "getMe",
    responses((status = 200, description = "The key.", body = MeBody)))]
#[instrument(skip_all)]
pub(crate) async fn me(caller: Option<Extension<Caller>>) -> Result<Response, Problem> {
    // The guard puts the caller on every route but the public ones; this route is not public.
    let Some(Extension(caller)) = caller else {
        return Err(Problem::new(ProblemKind::Unauthorized, "no API key was presented"));
    };
    let accesses = Access::ALL.into_iter().filter(|access| may(caller.role, *access)).collect();
    let body = MeBody { key_id: caller.key_id, name: caller.name.to_string(), role: caller.role, accesses };
    Ok(Json(body).into_response())
}

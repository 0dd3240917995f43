//! The guard every routed request passes (a route layer, so unknown paths stay 404 and wrong methods 405):
//! authenticate the `Authorization: Bearer` key (401), check its role may call the route (403), charge its rate
//! limit (429, with `Retry-After`), then hand the [`Caller`] to the handler in the request's extensions. Every
//! answer to a key carries the `RateLimit-Policy` and `RateLimit` headers. Public routes pass untouched.
//!
//! Every refusal is problem+json; a 401 carries `WWW-Authenticate: Bearer` (with `error="invalid_token"` when a
//! key was sent, RFC 6750). The detail never repeats what was sent.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::access::{may, Access};
use super::registry::{Caller, KeyRegistry, Refusal};
use crate::limits::{RateLimiter, RoleLimits};
use crate::problem::{Problem, ProblemKind};

/// What the guard of every route shares: the keys and the rate limits. Cheap to clone.
#[derive(Clone)]
pub struct Guard {
    keys: KeyRegistry,
    limiter: RateLimiter,
    limits: RoleLimits,
}

impl Guard {
    pub fn new(keys: KeyRegistry, limiter: RateLimiter, limits: RoleLimits) -> Self {
        Guard { keys, limiter, limits }
    }

    /// The guard of one route.
    pub(crate) fn route(&self, access: Access) -> RouteGuard {
        RouteGuard { guard: self.clone(), access }
    }
}

/// The guard of one route: what it checks against.
#[derive(Clone)]
pub(crate) struct RouteGuard {
    guard: Guard,
    access: Access,
}

/// The middleware (see the module doc).
pub(crate) async fn check(State(route): State<RouteGuard>, mut request: Request, next: Next) -> Response {
    if route.access == Access::Public {
        return next.run(request).await;
    }
    let caller = match authenticate(&route.guard.keys, request.headers()).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if !may(caller.role, route.access) {
        let detail = format!("a key of role {} may not call this route", caller.role);
        return Problem::new(ProblemKind::Forbidden, detail).into_response();
    }
    let policy = route.guard.limits.policy(caller.role);
    let decision = route.guard.limiter.check(caller.key_id.as_uuid(), policy);
    let policy_name = caller.role.as_str();
    let mut response = if decision.allowed {
        request.extensions_mut().insert(caller);
        next.run(request).await
    } else {
        let detail =
            format!("this key's rate limit ({policy}) is spent; retry after {} s", decision.retry_after_secs());
        Problem::new(ProblemKind::RateLimited, detail).with_retry_after(decision.retry_after_secs()).into_response()
    };
    decision.write_headers(policy_name, response.headers_mut());
    response
}

async fn authenticate(keys: &KeyRegistry, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized("send an API key: Authorization: Bearer <key>", false));
    };
    let Some(presented) = bearer(value) else {
        return Err(unauthorized("the Authorization header must be `Bearer <key>`", true));
    };
    keys.authenticate(presented).await.map_err(|refusal| match refusal {
        Refusal::Malformed => unauthorized("the API key is malformed (not a Tally key, or mistyped)", true),
        Refusal::Unknown => unauthorized("the API key is not known", true),
        Refusal::Revoked => unauthorized("the API key is revoked", true),
        Refusal::Unavailable => Problem::new(ProblemKind::Unavailable, "the API key cannot be checked right now")
            .with_retry_after(1)
            .into_response(),
    })
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
fn bearer(value: &HeaderValue) -> Option<&str> {
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

fn unauthorized(detail: &str, key_sent: bool) -> Response {
    let mut response = Problem::new(ProblemKind::Unauthorized, detail).into_response();
    let challenge = if key_sent { r#"Bearer realm="tally", error="invalid_token""# } else { r#"Bearer realm="tally""# };
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let value = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer(&value("Bearer tally_abc")), Some("tally_abc"));
        assert_eq!(bearer(&value("bearer   tally_abc ")), Some("tally_abc"));
        assert_eq!(bearer(&value("Basic dXNlcjpwYXNz")), None);
        assert_eq!(bearer(&value("Bearer ")), None);
        assert_eq!(bearer(&value("tally_abc")), None);
    }
}

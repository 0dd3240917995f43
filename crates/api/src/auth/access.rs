//! Who may call what: each route declares the [`Access`] it needs where it is routed ([`ApiRoutes`]), and each
//! [`Role`] is a set of accesses ([`may`]). So the router itself is the table of routes and their accesses: the
//! guard reads it on every request, the tests walk it (every route × every role) and the OpenAPI document
//! declares each operation's roles from it ([`crate::openapi`]).

use axum::http::Method;
use axum::Router;
use tally_domain::Role;
use utoipa_axum::router::UtoipaMethodRouter;

use crate::{idempotency, AppState};
use sqlx::PgPool;

use super::guard::{self, Guard};

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Anyone, no key: `/healthz`, `/readyz`, `/openapi.json`, `/problems/*`.
    Public,
    /// Any valid key, whatever its role: `/v1/me` (who the key is and what its role may do).
    Session,
    /// What a shop front reads: products, one product, one SKU's stock, one order.
    StorefrontRead,
    /// What a shop front writes: place an order, pay it, cancel it.
    Checkout,
    /// The rest of the order lifecycle: shipments, delivery, returns, refunds.
    Fulfilment,
    /// The catalog and stock: register, reprice, discontinue products; receipts and adjustments.
    BackOffice,
    /// Every other query and analytics endpoint, JSON and CSV, and the projections' status.
    Query,
    /// The audit API: streams, the global log and its tail, history, verification, digests, export.
    Audit,
    /// The process's metrics (`/metrics`), for the operators who scrape them.
    Metrics,
    /// API keys: issue, list, revoke.
    Keys,
    /// Webhook subscriptions: subscribe, list, rotate secrets, pause, resume, replay, delete.
    Webhooks,
}

impl Access {
    /// Every access, in the order of the enum.
    pub const ALL: [Access; 11] = [
        Access::Public,
        Access::Session,
        Access::StorefrontRead,
        Access::Checkout,
        Access::Fulfilment,
        Access::BackOffice,
        Access::Query,
        Access::Audit,
        Access::Metrics,
        Access::Keys,
        Access::Webhooks,
    ];
}

/// Whether `role` may call a route that needs `access`.
pub fn may(role: Role, access: Access) -> bool {
    use Access::*;
    match role {
        Role::Admin => true,
        Role::Storefront => matches!(access, Public | Session | StorefrontRead | Checkout),
        Role::Operations => {
            matches!(access, Public | Session | StorefrontRead | Checkout | Fulfilment | BackOffice | Query | Metrics)
        }
        Role::Analyst => matches!(access, Public | Session | StorefrontRead | Query),
        Role::Auditor => matches!(access, Public | Session | StorefrontRead | Query | Audit),
    }
}

/// One routed method and path, and the access it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    /// As routed, e.g. `/v1/orders/{id}`.
    pub path: String,
    pub access: Access,
    /// A command that takes an `Idempotency-Key` ([`crate::idempotency`]).
    pub idempotent: bool,
}

/// The router being built, with the table of its endpoints: every route is added with the access it needs, and
/// gets the guard that checks it.
pub(crate) struct ApiRoutes {
    router: Router<AppState>,
    endpoints: Vec<Endpoint>,
    /// The operations and schemas of the routes (`#[utoipa::path]` handlers).
    openapi: utoipa::openapi::OpenApi,
    guard: Guard,
    /// Where the commands' idempotency keys are kept.
    pool: PgPool,
}

impl ApiRoutes {
    pub(crate) fn new(guard: Guard, pool: PgPool) -> Self {
        let openapi = utoipa::openapi::OpenApi::default();
        ApiRoutes { router: Router::new(), endpoints: Vec::new(), openapi, guard, pool }
    }

    /// The operations of `#[utoipa::path]` handlers, collected by `utoipa_axum::routes!`, each needing `access`:
    /// routed with the guard, and documented.
    pub(crate) fn route(self, access: Access, routes: UtoipaMethodRouter<AppState>) -> Self {
        self.documented(access, routes, false)
    }

    /// Like [`ApiRoutes::route`], for commands: their POST takes an `Idempotency-Key` ([`crate::idempotency`]).
    pub(crate) fn command(self, access: Access, routes: UtoipaMethodRouter<AppState>) -> Self {
        self.documented(access, routes, true)
    }

    fn documented(
        mut self,
        access: Access,
        (schemas, paths, route): UtoipaMethodRouter<AppState>,
        idempotent: bool,
    ) -> Self {
        let [(path, item)] = <[_; 1]>::try_from(paths.paths.into_iter().collect::<Vec<_>>())
            .unwrap_or_else(|_| panic!("routes! of handlers that share one path"));
        let methods: Vec<Method> = [
            (item.get.is_some(), Method::GET),
            (item.post.is_some(), Method::POST),
            (item.put.is_some(), Method::PUT),
            (item.delete.is_some(), Method::DELETE),
            (item.patch.is_some(), Method::PATCH),
        ]
        .into_iter()
        .filter_map(|(documented, method)| documented.then_some(method))
        .collect();
        // The guard is the outer layer: a key belongs to the caller it found.
        let route = if idempotent {
            route.route_layer(axum::middleware::from_fn_with_state(self.pool.clone(), idempotency::layer))
        } else {
            route
        };
        let guarded = route.route_layer(axum::middleware::from_fn_with_state(self.guard.route(access), guard::check));
        self.router = self.router.route(&path, guarded);
        for method in methods {
            let idempotent = idempotent && method == Method::POST;
            self.endpoints.push(Endpoint { method, path: path.clone(), access, idempotent });
        }
        self.openapi.paths.paths.insert(path, item);
        self.openapi.components.get_or_insert_with(Default::default).schemas.extend(schemas);
        self
    }

    /// Routes built elsewhere, merged in.
    pub(crate) fn merge(mut self, other: ApiRoutes) -> Self {
        self.router = self.router.merge(other.router);
        self.endpoints.extend(other.endpoints);
        self.openapi.merge(other.openapi);
        self
    }

    /// Applies `wrap` (layers) to the routes added so far.
    pub(crate) fn map_router(mut self, wrap: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = wrap(self.router);
        self
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<Endpoint>, utoipa::openapi::OpenApi) {
        (self.router, self.endpoints, self.openapi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_may_do_everything_and_every_role_may_call_public_routes() {
        for access in Access::ALL {
            assert!(may(Role::Admin, access));
        }
        assert!(Role::ALL.into_iter().all(|role| may(role, Access::Public) && may(role, Access::Session)));
        assert!(Role::ALL.into_iter().all(|role| may(role, Access::Keys) == (role == Role::Admin)));
        assert!(Role::ALL.into_iter().all(|role| may(role, Access::Webhooks) == (role == Role::Admin)));
    }
}

//! Who may do what: API keys, roles, the guard on every route, and the actor the events record.
//!
//! - [`secret`]: the key format (`tally_` + random + checksum) and the SHA-256 that is all Tally keeps of it.
//! - [`registry`]: every key in memory on every node, kept current from the log; [`Caller`], the authenticated
//!   key of a request.
//! - [`access`]: [`Access`], what a route needs; [`may`], which role has which; [`ApiRoutes`], the router
//!   builder through which every route declares its access.
//! - `guard`: the middleware on every route (401, 403, 429).
//! - `me`: `GET /v1/me`, the key that sent the request and what its role may call.
//! - [`issue`]: issuing and revoking keys (the secret, its hash, the event), for `/v1/keys` and `tally keys`.

pub mod access;
mod guard;
pub mod issue;
pub(crate) mod me;
pub mod registry;
pub mod secret;

pub(crate) use access::ApiRoutes;
pub use access::{may, Access, Endpoint};
pub use guard::Guard;
pub use registry::{Caller, KeyRecord, KeyRegistry, Refusal};

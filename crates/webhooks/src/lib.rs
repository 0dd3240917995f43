//! Webhooks: how Tally tells other systems what happened by POSTing each event of the log to the URLs that
//! subscribed to it (issue #14, Standard Webhooks 1.0; the design is in docs/decisions.md, 2026-12-05).
//!
//! - [`subscriptions`]: every subscription, read from the log's `webhook-` streams (the log is their truth).
//! - [`manage`]: making a subscription and rotating its secret (the secret stored, then the event appended).
//! - [`sender`]: one follower of the log per subscription, delivering in order from its checkpoint, retrying,
//!   pausing; [`supervisor`] runs one per active subscription in `tally serve`.
//! - [`storage`]: what is kept beside the log: secrets, each sender's state, every delivery attempt.
//! - [`signature`]: the signing secrets (`whsec_...`) and the `webhook-signature` header, exactly as the Standard
//!   Webhooks specification defines them, so a receiver verifies a delivery with any of its libraries.
//! - [`egress`]: which targets a subscription may name: a server that POSTs wherever it is told is a way into
//!   the network it runs in (loopback, private ranges, cloud metadata), so those are refused unless allowed.
//! - [`retry`]: what an answer means (delivered, gone, try again) and when the next attempt is due.

pub mod egress;
pub mod manage;
pub mod retry;
pub mod sender;
pub mod signature;
pub mod storage;
pub mod subscriptions;
pub mod supervisor;

pub use egress::EgressPolicy;
pub use sender::Senders;
pub use subscriptions::{Subscription, Subscriptions};

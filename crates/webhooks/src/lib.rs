//! Webhooks: how Tally tells other systems what happened by POSTing each event of the log to the URLs that
//! subscribed to it (issue #14, Standard Webhooks 1.0).
//!
//! - [`signature`]: the signing secrets (`whsec_...`) and the `webhook-signature` header, exactly as the Standard
//!   Webhooks specification defines them, so a receiver verifies a delivery with any of its libraries.
//! - [`egress`]: which targets a subscription may name: a server that POSTs wherever it is told is a way into
//!   the network it runs in (loopback, private ranges, cloud metadata), so those are refused unless allowed.
//! - [`retry`]: what an answer means (delivered, gone, try again) and when the next attempt is due.

pub mod egress;
pub mod retry;
pub mod signature;

//! Rate limits per API key (issue #13; DESIGN.md, "Identity and access"): the policy of each role, an in-memory
//! limiter, and the `RateLimit-Policy`, `RateLimit` and `Retry-After` headers of its decisions.
//!
//! **Policies.** A [`RatePolicy`] is `quota` requests per `window`, written `1000/s`, `60000/min`, `500/10s` or
//! `100/h`. [`RoleLimits`] holds one per role; the defaults ([`DEFAULT_HIGH`], [`DEFAULT_READ_ONLY`]) are generous
//! and an override such as `storefront=20000/s,analyst=500/s` changes the roles it names.
//!
//! **Algorithm.** GCRA (the generic cell rate algorithm: a token bucket kept as one instant per key). A key may send
//! a burst of `quota` requests at once; its budget then refills smoothly, one request every `window / quota`, and is
//! whole again one window after its last request. A key's state is the instant its budget will be full again; a
//! request passes when, counting it, no more than one window's worth of requests is outstanding. A refused request
//! costs nothing. The interval is `window / quota` rounded up to a whole nanosecond and the burst tolerance is
//! `quota` intervals, so a burst is exactly `quota`, the sustained rate never exceeds `quota` per `window`, and the
//! budget is whole again at most `quota` nanoseconds later than one window. (As with any token bucket, a key that
//! starts with its whole budget may get up to twice the quota within one window: the burst and its refill.)
//!
//! **Why not `governor`.** It implements the same GCRA, but a keyed limiter has one quota for all its keys (here each
//! role has its own), its clock is a type parameter (tests want a plain `Instant`), and while it tells an allowed
//! request how many more may pass (`StateSnapshot::remaining_burst_capacity`) and a refused one how long to wait
//! (`NotUntil::wait_time_from`), it does not tell when the budget is whole again, which the `RateLimit` field's
//! `t` reports. The algorithm is a few lines of arithmetic; a crate would not make them simpler.
//!
//! **Per node.** The state lives in this process's memory, so a check costs a hash-map lookup under a mutex (well
//! under a microsecond) and never a round trip: authentication must cost microseconds per request. The price is
//! that limits are per node: N nodes behind a load balancer let a key through up to N times its quota. That is the
//! usual trade-off (a shared counter in PostgreSQL or Redis would cost a round trip per request); a deployment that
//! needs a cluster-wide limit divides the quotas by its node count or limits at the balancer.
//!
//! **Memory.** One entry per key that spent some of its budget within the last window. A key whose budget is full
//! again is the same as a key never seen, so such entries are dropped, in a sweep whenever the map has doubled
//! since the last one (amortised constant time). API keys are few (thousands at most), so one map behind one mutex
//! suffices; a check holds the lock for one lookup and one insert, far below what would call for sharding.
//!
//! **Headers**, as draft-ietf-httpapi-ratelimit-headers-11 (May 2026) writes them (the same syntax as -08 to -10),
//! the policy named after the role:
//!
//! ```text
//! RateLimit-Policy: "storefront";q=20000;w=1
//! RateLimit: "storefront";r=19999;t=1
//! ```
//!
//! `q` and `w` are the quota and the window in seconds. `r` is the number of requests that would pass right now. On
//! an allowed request `t` is the whole seconds (rounded up) until the whole quota is available again; budget comes
//! back sooner, bit by bit, so a client that spends no more than `r` within `t` is never refused. On a refused one
//! `r` is 0 and `t` equals `Retry-After`: the whole seconds (rounded up, at least 1) until a request can pass (the
//! draft: `Retry-After` should not point earlier than the end of the effective window).

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tally_domain::Role;
use uuid::Uuid;

/// The default of the roles that drive the shop (storefront, operations) and of admin: 20,000 requests per second
/// per key. The HTTP benchmark pushes about 7,000 stock receipts/s (its target is 9,000) and 1,500 orders/s through
/// one key on 2 cores, and must never meet a limit; this is over twice the target. At this rate one key can still
/// saturate a node: the default stops a runaway client's excess, not the node's overload, and a deployment that
/// wants less sets it.
pub const DEFAULT_HIGH: RatePolicy = RatePolicy { quota: 20_000, window: Duration::from_secs(1) };

/// The default of the read-only roles (analyst, auditor): 2,000 requests per second per key. Their heavy reads
/// (exports, verification, the live tail) are single long requests, and no dashboard or report needs more than
/// this; a tenth of [`DEFAULT_HIGH`], so a script looping over reads cannot take as much of a node as the shop does.
pub const DEFAULT_READ_ONLY: RatePolicy = RatePolicy { quota: 2_000, window: Duration::from_secs(1) };

/// The longest window: the `w` of the headers is whole seconds, and a quota per day or longer is a billing matter.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The header naming the policy (its quota and window).
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// The header with what is left of the policy's quota.
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A configuration value that is not a rate limit, with the text at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("rate limit `{text}`: expected <requests>/<window>, such as 1000/s, 60000/min or 500/10s")]
    Syntax { text: String },
    #[error("rate limit `{text}`: the quota must be a whole number of requests from 1 to 4294967295")]
    Quota { text: String },
    #[error(
        "rate limit `{text}`: the window must be s, min (or m) or h, optionally after a count (10s, 5min), 1s to 24h"
    )]
    Window { text: String },
    #[error("rate limits: `{text}` is not <role>=<requests>/<window>, such as analyst=500/s")]
    Item { text: String },
    #[error("rate limits: unknown role `{role}` (the roles: storefront, operations, analyst, auditor, admin)")]
    UnknownRole { role: String },
    #[error("rate limits: role `{role}` is given twice")]
    RepeatedRole { role: String },
}

/// `quota` requests per `window`: a burst of up to `quota`, refilled smoothly over `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    quota: u32,
    window: Duration,
}

impl RatePolicy {
    /// `None` when the quota is 0 or the window is not a whole number of seconds from 1 s to [`MAX_WINDOW`].
    pub fn new(quota: u32, window: Duration) -> Option<RatePolicy> {
        let valid = quota > 0 && window.subsec_nanos() == 0 && window >= Duration::from_secs(1) && window <= MAX_WINDOW;
        valid.then_some(RatePolicy { quota, window })
    }

    pub fn quota(&self) -> u32 {
        self.quota
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// The time one request's budget takes to come back: `window / quota`, rounded up to a whole nanosecond.
    fn interval(&self) -> Duration {
        Duration::from_nanos((self.window.as_secs() * 1_000_000_000).div_ceil(u64::from(self.quota)))
    }

    /// How far ahead of now a key's budget may be spent: `quota` intervals, about one window.
    fn tolerance(&self) -> Duration {
        self.interval() * self.quota
    }
}

impl FromStr for RatePolicy {
    type Err = LimitsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((quota, window)) = text.split_once('/') else {
            return Err(LimitsError::Syntax { text: text.to_owned() });
        };
        let quota = match quota.trim().parse::<u32>() {
            Ok(quota) if quota > 0 => quota,
            _ => return Err(LimitsError::Quota { text: text.to_owned() }),
        };
        let window = parse_window(window.trim()).ok_or_else(|| LimitsError::Window { text: text.to_owned() })?;
        Ok(RatePolicy { quota, window })
    }
}

/// `s`, `10s`, `min`, `5min`, `m`, `h`, `2h` (`humantime`'s units; no number means 1): whole seconds, from 1 s to
/// [`MAX_WINDOW`].
fn parse_window(text: &str) -> Option<Duration> {
    let text = if text.starts_with(|c: char| c.is_ascii_digit()) { text.to_owned() } else { format!("1{text}") };
    let window = humantime::parse_duration(&text).ok()?;
    let whole = window.subsec_nanos() == 0;
    (whole && (Duration::from_secs(1)..=MAX_WINDOW).contains(&window)).then_some(window)
}

impl fmt::Display for RatePolicy {
    /// The configuration syntax, in the largest unit that divides the window: `60000/min`, `500/10s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.window.as_secs();
        let (count, unit) = match secs {
            _ if secs.is_multiple_of(3600) => (secs / 3600, "h"),
            _ if secs.is_multiple_of(60) => (secs / 60, "min"),
            _ => (secs, "s"),
        };
        match count {
            1 => write!(f, "{}/{unit}", self.quota),
            _ => write!(f, "{}/{count}{unit}", self.quota),
        }
    }
}

/// The rate policy of each role. Parsed from an override of the defaults, `storefront=20000/s,analyst=500/s`
/// (roles not named keep their default; an empty text is the defaults); displayed with every role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleLimits {
    /// One per role, in the order of [`Role::ALL`].
    policies: [RatePolicy; Role::ALL.len()],
}

impl RoleLimits {
    /// The policy of a role.
    pub fn policy(&self, role: Role) -> RatePolicy {
        self.policies[role_index(role)]
    }
}

fn role_index(role: Role) -> usize {
    Role::ALL.iter().position(|known| *known == role).expect("Role::ALL lists every role")
}

impl Default for RoleLimits {
    fn default() -> Self {
        // storefront, operations, analyst, auditor, admin
        RoleLimits { policies: [DEFAULT_HIGH, DEFAULT_HIGH, DEFAULT_READ_ONLY, DEFAULT_READ_ONLY, DEFAULT_HIGH] }
    }
}

impl FromStr for RoleLimits {
    type Err = LimitsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut limits = RoleLimits::default();
        let mut named = [false; Role::ALL.len()];
        for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let Some((role, policy)) = item.split_once('=') else {
                return Err(LimitsError::Item { text: item.to_owned() });
            };
            let role = role.trim();
            let known: Role = role.parse().map_err(|_| LimitsError::UnknownRole { role: role.to_owned() })?;
            let index = role_index(known);
            if named[index] {
                return Err(LimitsError::RepeatedRole { role: role.to_owned() });
            }
            named[index] = true;
            limits.policies[index] = policy.trim().parse()?;
        }
        Ok(limits)
    }
}

impl fmt::Display for RoleLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (role, policy)) in Role::ALL.iter().zip(&self.policies).enumerate() {
            let separator = if index == 0 { "" } else { "," };
            write!(f, "{separator}{role}={policy}")?;
        }
        Ok(())
    }
}

/// The in-memory limiter of one node, keyed by API key id. Cheap to clone: clones share the state.
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    keys: Arc<Mutex<Keys>>,
}

#[derive(Debug, Default)]
struct Keys {
    /// Per key, the instant its budget is full again (GCRA's theoretical arrival time). A key missing, or whose
    /// instant has passed, has its whole budget.
    full_at: HashMap<Uuid, Instant>,
    /// The number of entries at which the next sweep runs.
    sweep_at: usize,
}

/// The fewest entries a sweep waits for, so a small map is not swept on every check.
const MIN_SWEEP: usize = 1024;

impl Keys {
    /// Drops the entries whose budget is full again, once the map has doubled since the last sweep.
    fn forget_idle(&mut self, now: Instant) {
        if self.full_at.len() >= self.sweep_at {
            self.full_at.retain(|_, full_at| *full_at > now);
            self.sweep_at = (self.full_at.len() * 2).max(MIN_SWEEP);
        }
    }
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Counts one request of `key` against `policy`, now (monotonic clock). A refused request is not counted.
    pub fn check(&self, key: Uuid, policy: RatePolicy) -> RateDecision {
        self.check_at(key, policy, Instant::now())
    }

    /// [`check`](Self::check) at a given instant, for tests. Instants earlier than one already seen for the key
    /// are treated as that one.
    pub fn check_at(&self, key: Uuid, policy: RatePolicy, now: Instant) -> RateDecision {
        let interval = policy.interval();
        let tolerance = policy.tolerance();
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.forget_idle(now);
        // When the budget would be full again if this request passed, and how much of it that leaves spent.
        let full_at = keys.full_at.get(&key).map_or(now, |&full_at| full_at.max(now)) + interval;
        let spent = full_at - now;
        if spent > tolerance {
            return RateDecision {
                allowed: false,
                policy,
                remaining: 0,
                full_after: spent - interval,
                retry_after: spent - tolerance,
            };
        }
        keys.full_at.insert(key, full_at);
        drop(keys);
        let remaining = (tolerance - spent).as_nanos() / interval.as_nanos();
        RateDecision {
            allowed: true,
            policy,
            remaining: u32::try_from(remaining).unwrap_or(policy.quota),
            full_after: spent,
            retry_after: Duration::ZERO,
        }
    }

    /// How many keys have some budget spent (or had, until the next sweep).
    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).full_at.len()
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may go on; when not, the answer is 429.
    pub allowed: bool,
    /// The policy the request was checked against.
    pub policy: RatePolicy,
    /// How many more requests would pass right now (this one counted); 0 when refused.
    pub remaining: u32,
    /// How long until the key's whole quota is available again (this request counted if allowed).
    pub full_after: Duration,
    /// How long until a request can pass: zero when allowed.
    pub retry_after: Duration,
}

impl RateDecision {
    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up and at least 1, as `Retry-After` says it.
    pub fn retry_after_secs(&self) -> u32 {
        u32::try_from(whole_secs(self.retry_after)).unwrap_or(u32::MAX)
    }

    /// Sets `RateLimit-Policy` and `RateLimit` (replacing any), naming the policy `policy_name` (the role), and
    /// `Retry-After` when the request is refused. See the module's documentation for the values.
    pub fn write_headers(&self, policy_name: &str, headers: &mut HeaderMap) {
        let name = sf_string(policy_name);
        let reset = if self.allowed { whole_secs(self.full_after) } else { u64::from(self.retry_after_secs()) };
        let policy = format!("{name};q={};w={}", self.policy.quota, self.policy.window.as_secs());
        let limit = format!("{name};r={};t={reset}", self.remaining);
        let policy = HeaderValue::try_from(policy).expect("printable ASCII is a valid header value");
        let limit = HeaderValue::try_from(limit).expect("printable ASCII is a valid header value");
        headers.insert(RATELIMIT_POLICY.clone(), policy);
        headers.insert(RATELIMIT.clone(), limit);
        if !self.allowed {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after_secs()));
        }
    }
}

/// A duration in whole seconds, rounded up, at least 1.
fn whole_secs(duration: Duration) -> u64 {
    (duration.as_secs() + u64::from(duration.subsec_nanos() > 0)).max(1)
}

/// `text` as a structured-field String (RFC 9651, section 3.3.3): quoted, with `"` and `\` escaped. Characters a
/// String cannot hold (outside printable ASCII) are left out; role names are plain lowercase words.
fn sf_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars().filter(|c| matches!(c, ' '..='~')) {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests;

//! The command side's settings ([`CommandConfig`]) and its retry policy ([`RetryPolicy`]): bounded retries with
//! exponential backoff and jitter, so processes that collide on a stream do not collide again in lockstep.

use std::time::Duration;
use uuid::Uuid;

/// Settings of [`crate::Commands`]. `Default` suits a service; tests shrink the timings.
#[derive(Debug, Clone)]
pub struct CommandConfig {
    /// How long a confirmed, unpaid order holds its stock (`--reservation-ttl`, default 30 minutes).
    pub reservation_ttl: Duration,
    /// Snapshots kept in memory per aggregate type (products, inventories, orders), least recently used out.
    /// Memory is bounded by this plus the snapshots of the writers active within `writer_idle`.
    pub cache_capacity: usize,
    /// A stream's writer task stops after this long without commands; its snapshot stays in the cache. Short
    /// enough that one-off streams (most orders) do not keep tasks around; a writer that stops and starts again
    /// costs one cache lookup and one (usually empty) tail read.
    pub writer_idle: Duration,
    /// How old a product's state in the command side's cache may be for pricing an order without reading the
    /// product's stream. This process's own catalog changes reach its cache at once; only a change made through
    /// another process can take this long to reach this one's prices. Zero: every order reads the catalog.
    pub catalog_max_age: Duration,
    /// At most this many queued commands are decided together and appended as one.
    pub max_batch: usize,
    /// Retries when another process appended to the stream first, or the store failed with an unknown outcome.
    pub retry: RetryPolicy,
    /// Test builds only: every order runner passes this gate between its reservations and its decision, so a
    /// test can run another runner of the same order in that window.
    #[cfg(feature = "test-hooks")]
    pub decision_gate: Option<DecisionGate>,
}

/// A gate a test holds closed: a runner that reaches it says so, then waits until the test lets one through.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone)]
pub struct DecisionGate {
    reached: std::sync::Arc<tokio::sync::Notify>,
    open: std::sync::Arc<tokio::sync::Semaphore>,
}

#[cfg(feature = "test-hooks")]
impl Default for DecisionGate {
    /// A closed gate.
    fn default() -> Self {
        DecisionGate { reached: Default::default(), open: std::sync::Arc::new(tokio::sync::Semaphore::new(0)) }
    }
}

#[cfg(feature = "test-hooks")]
impl DecisionGate {
    /// Waits until a runner has reached the gate.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets one waiting (or the next) runner through.
    pub fn let_one_through(&self) {
        self.open.add_permits(1);
    }

    pub(crate) async fn pass(&self) {
        self.reached.notify_one();
        if let Ok(permit) = self.open.acquire().await {
            permit.forget();
        }
    }
}

impl Default for CommandConfig {
    fn default() -> Self {
        CommandConfig {
            reservation_ttl: Duration::from_secs(30 * 60),
            cache_capacity: 10_000,
            writer_idle: Duration::from_secs(2),
            catalog_max_age: Duration::from_secs(1),
            max_batch: 256,
            retry: RetryPolicy::default(),
            #[cfg(feature = "test-hooks")]
            decision_gate: None,
        }
    }
}

/// Bounded retries: attempt `n` (from 1) waits a random time between half and all of
/// `min(base_delay * 2^(n-1), max_delay)`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first try; then the command fails (`Contention` or the store's error).
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// An append the store failed (unavailable, outcome unknown) is repeated only while less than this has passed
    /// since its first try. A quick failure (one broken connection) is retried; an outage, where every try waits
    /// for the store's connection timeout (1 s on PostgreSQL), is not retried into a command that answers past its
    /// 2 s budget: the command fails (503) and the client retries with its Idempotency-Key.
    pub unavailable_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 8,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(250),
            unavailable_budget: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// Whether an append that the store failed, first tried `since` ago after `failures` failures, is repeated.
    pub fn retries_unavailable(&self, failures: u32, since: Duration) -> bool {
        failures < self.max_retries && since < self.unavailable_budget
    }

    /// The wait before retry `attempt` (1 for the first retry), jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        let half = ceiling / 2;
        half + jitter(ceiling - half)
    }
}

/// A uniformly random duration in `[0, range]`, from a version-4 UUID's random bits (no extra dependency).
fn jitter(range: Duration) -> Duration {
    let nanos = u64::try_from(range.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let random = Uuid::new_v4().as_u64_pair().1;
    Duration::from_nanos(random % (nanos + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_half_and_all_of_the_ceiling() {
        let policy = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(4),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            let first = policy.delay(1);
            assert!(first >= Duration::from_millis(2) && first <= Duration::from_millis(4), "{first:?}");
            let third = policy.delay(3);
            assert!(third >= Duration::from_millis(8) && third <= Duration::from_millis(16), "{third:?}");
            let capped = policy.delay(30);
            assert!(capped >= Duration::from_millis(10) && capped <= Duration::from_millis(20), "{capped:?}");
        }
    }

    #[test]
    fn an_unavailable_store_is_retried_only_within_the_budget() {
        let policy = RetryPolicy { unavailable_budget: Duration::from_millis(500), ..RetryPolicy::default() };
        assert!(policy.retries_unavailable(1, Duration::from_millis(20)));
        assert!(!policy.retries_unavailable(1, Duration::from_millis(1_000)), "an outage is not retried past it");
        assert!(!policy.retries_unavailable(policy.max_retries, Duration::ZERO), "nor past max_retries");
    }

    #[test]
    fn delays_are_jittered() {
        let policy = RetryPolicy::default();
        let delays: std::collections::HashSet<Duration> = (0..50).map(|_| policy.delay(4)).collect();
        assert!(delays.len() > 10);
    }
}

//! What a delivery's answer means, and when to try again (issue #14; docs/decisions.md, 2026-12-05).
//!
//! A 2xx delivers the event. 410 Gone says the receiver is gone for good: the subscription is paused at once. Any
//! other answer, a redirect included (redirects are not followed), and no answer at all (refused, timed out) is a
//! failure: the same event is tried again after an exponential backoff with jitter, or after the receiver's
//! `Retry-After` when that is longer. A subscription still failing [`GIVE_UP_AFTER`] after its first failure is
//! paused, with the reason, by its sender (`sender`).

use std::time::{Duration, SystemTime};

/// How long a subscription may keep failing before it is paused.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The first retry's delay, before jitter.
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest delay between two attempts, before jitter (a receiver's `Retry-After` may ask for more, up to
/// [`GIVE_UP_AFTER`]).
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// What an attempt's answer means for the subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered: the checkpoint moves past the event.
    Delivered,
    /// The receiver is gone (410): pause the subscription now.
    Gone,
    /// Try the same event again later.
    Retry,
}

/// The verdict on an attempt that got `status` (`None`: no HTTP answer).
pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(410) => Verdict::Gone,
        _ => Verdict::Retry,
    }
}

/// The delay before the next attempt after `failures` consecutive failures (1 or more): `FIRST_DELAY` doubled per
/// failure up to `MAX_DELAY`, of which a random half is taken off (`jitter` in `[0, 1)`, so receivers that failed
/// together do not come back together), or the receiver's `Retry-After` if that is longer (at most a day).
pub fn next_delay(failures: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    let backoff = FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
    let jittered = backoff.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0);
    jittered.max(retry_after.unwrap_or_default().min(GIVE_UP_AFTER))
}

/// A `Retry-After` header's value: delay-seconds, or an HTTP date (taken relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_2xx_delivers_and_410_means_gone() {
        for status in [200, 201, 204, 299] {
            assert_eq!(verdict(Some(status)), Verdict::Delivered);
        }
        assert_eq!(verdict(Some(410)), Verdict::Gone);
        for status in [None, Some(100), Some(301), Some(302), Some(400), Some(404), Some(429), Some(500), Some(503)] {
            assert_eq!(verdict(status), Verdict::Retry, "{status:?}");
        }
    }

    #[test]
    fn delays_double_up_to_an_hour_with_up_to_half_taken_off() {
        assert_eq!(next_delay(1, 0.0, None), Duration::from_secs(1));
        assert_eq!(next_delay(2, 0.0, None), Duration::from_secs(2));
        assert_eq!(next_delay(11, 0.0, None), Duration::from_secs(1024));
        assert_eq!(next_delay(13, 0.0, None), Duration::from_secs(3600));
        assert_eq!(next_delay(u32::MAX, 0.0, None), Duration::from_secs(3600));
        assert_eq!(next_delay(3, 0.999_999, None).as_millis(), 2000);
        assert_eq!(next_delay(3, 0.5, None), Duration::from_secs(3));
        // A day of failures takes about 35 attempts with no jitter (1+2+...+2048 s, then hourly).
        let (mut spent, mut attempts) = (Duration::ZERO, 0);
        while spent < GIVE_UP_AFTER {
            attempts += 1;
            spent += next_delay(attempts, 0.0, None);
        }
        assert_eq!(attempts, 35);
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_a_day() {
        assert_eq!(next_delay(1, 0.0, Some(Duration::from_secs(120))), Duration::from_secs(120));
        assert_eq!(next_delay(13, 0.0, Some(Duration::from_secs(5))), Duration::from_secs(3600));
        assert_eq!(next_delay(1, 0.0, Some(Duration::from_secs(10 * 86_400))), GIVE_UP_AFTER);
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        // Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO), "in the past");
        for bad in ["soon", "-5", "Sun, 06 Foo 1994 08:49:37 GMT", ""] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}

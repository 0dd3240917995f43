//! The limiter's arithmetic at fixed instants, its headers, and the configuration syntax.

use super::*;
use tally_domain::Role;

fn policy(text: &str) -> RatePolicy {
    text.parse().unwrap()
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// The headers a decision writes, as (`RateLimit-Policy`, `RateLimit`, `Retry-After`).
fn headers(decision: &RateDecision, name: &str) -> (String, String, Option<String>) {
    let mut headers = HeaderMap::new();
    decision.write_headers(name, &mut headers);
    let text = |name: &HeaderName| headers.get(name).map(|value| value.to_str().unwrap().to_owned());
    (text(&RATELIMIT_POLICY).unwrap(), text(&RATELIMIT).unwrap(), text(&header::RETRY_AFTER))
}

#[test]
fn a_burst_of_the_quota_passes_and_the_next_request_is_refused() {
    let (limiter, key, t0) = (RateLimiter::new(), Uuid::new_v4(), Instant::now());
    for remaining in (0..5).rev() {
        let decision = limiter.check_at(key, policy("5/s"), t0);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, remaining);
    }
    let refused = limiter.check_at(key, policy("5/s"), t0);
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    // One request's budget comes back every 200 ms.
    assert_eq!(refused.retry_after, ms(200));
    assert_eq!(refused.retry_after_secs(), 1);
    assert_eq!(limiter.check_at(key, policy("5/s"), t0 + ms(150)).retry_after, ms(50));
}

#[test]
fn the_budget_refills_smoothly_and_is_whole_again_after_the_window() {
    let (limiter, key, t0) = (RateLimiter::new(), Uuid::new_v4(), Instant::now());
    let passed = |at: Instant| (0..10).take_while(|_| limiter.check_at(key, policy("5/s"), at).allowed).count();
    assert_eq!(passed(t0), 5);
    assert_eq!(passed(t0 + ms(199)), 0);
    assert_eq!(passed(t0 + ms(200)), 1);
    assert_eq!(passed(t0 + ms(600)), 2);
    assert_eq!(passed(t0 + ms(1_600)), 5);
}

#[test]
fn refused_requests_cost_nothing() {
    let (limiter, key, t0) = (RateLimiter::new(), Uuid::new_v4(), Instant::now());
    for _ in 0..5 {
        assert!(limiter.check_at(key, policy("5/s"), t0).allowed);
    }
    for _ in 0..100 {
        assert!(!limiter.check_at(key, policy("5/s"), t0 + ms(100)).allowed);
    }
    assert!(limiter.check_at(key, policy("5/s"), t0 + ms(200)).allowed);
}

#[test]
fn keys_do_not_share_a_budget() {
    let (limiter, t0) = (RateLimiter::new(), Instant::now());
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for _ in 0..3 {
        assert!(limiter.check_at(a, policy("3/min"), t0).allowed);
    }
    assert!(!limiter.check_at(a, policy("3/min"), t0).allowed);
    assert_eq!(limiter.check_at(b, policy("3/min"), t0).remaining, 2);
}

#[test]
fn a_quota_that_does_not_divide_the_window_still_bursts_exactly_the_quota() {
    for (text, quota) in [("3/s", 3), ("7/10s", 7), ("30001/s", 30_001)] {
        let (limiter, key, t0) = (RateLimiter::new(), Uuid::new_v4(), Instant::now());
        let passed = (0..quota + 10).take_while(|_| limiter.check_at(key, policy(text), t0).allowed).count();
        assert_eq!(passed, quota as usize, "{text}");
        // Whole again within the window and `quota` nanoseconds.
        let later = t0 + policy(text).window() + Duration::from_nanos(u64::from(quota));
        assert_eq!(limiter.check_at(key, policy(text), later).remaining, quota - 1, "{text}");
    }
}

#[test]
fn concurrent_checks_let_exactly_the_quota_through() {
    let (limiter, key, t0) = (RateLimiter::new(), Uuid::new_v4(), Instant::now());
    let passed: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let limiter = limiter.clone();
                scope.spawn(move || (0..400).filter(|_| limiter.check_at(key, policy("1000/s"), t0).allowed).count())
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().unwrap()).sum()
    });
    assert_eq!(passed, 1000);
}

#[test]
fn keys_whose_budget_is_whole_again_are_forgotten() {
    let (limiter, t0) = (RateLimiter::new(), Instant::now());
    for _ in 0..MIN_SWEEP {
        limiter.check_at(Uuid::new_v4(), policy("10/s"), t0);
    }
    assert_eq!(limiter.tracked_keys(), MIN_SWEEP);
    // The map is full enough to sweep: the keys of t0 have their whole budget again (after 100 ms).
    let busy = Uuid::new_v4();
    limiter.check_at(busy, policy("10/s"), t0 + ms(150));
    assert_eq!(limiter.tracked_keys(), 1);
    assert_eq!(limiter.check_at(busy, policy("10/s"), t0 + ms(150)).remaining, 8);
}

#[test]
fn headers_of_an_allowed_request() {
    let (limiter, key, t0) = (RateLimiter::new(), Uuid::new_v4(), Instant::now());
    let first = limiter.check_at(key, policy("1000/s"), t0);
    let expected = ("\"storefront\";q=1000;w=1".into(), "\"storefront\";r=999;t=1".into(), None);
    assert_eq!(headers(&first, "storefront"), expected);

    // Half a 500/10s budget spent: whole again in 5 s.
    let (limiter, key) = (RateLimiter::new(), Uuid::new_v4());
    for _ in 0..249 {
        limiter.check_at(key, policy("500/10s"), t0);
    }
    let half = limiter.check_at(key, policy("500/10s"), t0);
    let expected = ("\"analyst\";q=500;w=10".into(), "\"analyst\";r=250;t=5".into(), None);
    assert_eq!(headers(&half, "analyst"), expected);
}

#[test]
fn headers_of_a_refused_request() {
    let (limiter, key, t0) = (RateLimiter::new(), Uuid::new_v4(), Instant::now());
    for _ in 0..60 {
        limiter.check_at(key, policy("60/min"), t0);
    }
    // The next request's budget is back in 1 s, the whole quota in 60 s; `t` is the former, as Retry-After.
    let refused = limiter.check_at(key, policy("60/min"), t0 + ms(300));
    assert_eq!(refused.full_after, ms(59_700));
    let expected = ("\"auditor\";q=60;w=60".into(), "\"auditor\";r=0;t=1".into(), Some("1".into()));
    assert_eq!(headers(&refused, "auditor"), expected);

    let refused = limiter.check_at(key, policy("60/min"), t0);
    assert_eq!(refused.retry_after, ms(1_000));
    assert_eq!(headers(&refused, "auditor").2.as_deref(), Some("1"));
}

#[test]
fn a_policy_name_is_written_as_a_structured_field_string() {
    assert_eq!(sf_string("admin"), "\"admin\"");
    assert_eq!(sf_string("a \"b\" \\c\n"), "\"a \\\"b\\\" \\\\c\"");
}

#[test]
fn policies_parse_and_display_in_the_configuration_syntax() {
    for text in ["1000/s", "60000/min", "500/10s", "100/h", "5/90s", "1/24h"] {
        assert_eq!(policy(text).to_string(), text);
    }
    assert_eq!(policy("60000/min"), RatePolicy::new(60_000, Duration::from_secs(60)).unwrap());
    assert_eq!(policy(" 10 / m "), policy("10/min"));
    assert_eq!(policy("10/60s").to_string(), "10/min");
    assert_eq!(policy("10/1s").to_string(), "10/s");
    assert_eq!(policy("10/120min").to_string(), "10/2h");
}

#[test]
fn bad_policies_are_refused_with_the_text_at_fault() {
    let syntax = |text: &str| LimitsError::Syntax { text: text.into() };
    let quota = |text: &str| LimitsError::Quota { text: text.into() };
    let window = |text: &str| LimitsError::Window { text: text.into() };
    let cases = [
        syntax(""),
        syntax("1000"),
        quota("0/s"),
        quota("/s"),
        quota("-1/s"),
        quota("1_000/s"),
        quota("4294967296/s"),
        window("10/"),
        window("10/fortnight"),
        window("10/0s"),
        window("10/1.5s"),
        window("10/25h"),
        window("10/s/s"),
    ];
    for expected in cases {
        let (LimitsError::Syntax { text } | LimitsError::Quota { text } | LimitsError::Window { text }) = &expected
        else {
            unreachable!()
        };
        assert_eq!(text.parse::<RatePolicy>(), Err(expected.clone()));
    }
    assert_eq!(RatePolicy::new(0, Duration::from_secs(1)), None);
    assert_eq!(RatePolicy::new(1, ms(1_500)), None);
    assert_eq!(RatePolicy::new(1, MAX_WINDOW + Duration::from_secs(1)), None);
}

#[test]
fn role_limits_default_to_generous_policies() {
    let limits = RoleLimits::default();
    let policies = Role::ALL.map(|role| limits.policy(role).to_string());
    assert_eq!(policies, ["20000/s", "20000/s", "2000/s", "2000/s", "20000/s"]);
    assert_eq!("".parse(), Ok(limits));
}

#[test]
fn an_override_changes_the_roles_it_names() {
    let limits: RoleLimits = "storefront=20000/s, analyst=500/s,".parse().unwrap();
    assert_eq!(limits.policy(Role::Analyst), policy("500/s"));
    assert_eq!(limits.policy(Role::Auditor), DEFAULT_READ_ONLY);
    let text = "storefront=20000/s,operations=20000/s,analyst=500/s,auditor=2000/s,admin=20000/s";
    assert_eq!(limits.to_string(), text);
    assert_eq!(text.parse(), Ok(limits));
}

#[test]
fn bad_overrides_are_refused() {
    let parse = |text: &str| text.parse::<RoleLimits>().unwrap_err();
    assert_eq!(parse("root=1/s"), LimitsError::UnknownRole { role: "root".into() });
    assert_eq!(parse("Analyst=1/s"), LimitsError::UnknownRole { role: "Analyst".into() });
    assert_eq!(parse("analyst=1/s,analyst=2/s"), LimitsError::RepeatedRole { role: "analyst".into() });
    assert_eq!(parse("analyst"), LimitsError::Item { text: "analyst".into() });
    assert_eq!(parse("analyst=0/s"), LimitsError::Quota { text: "0/s".into() });
    assert_eq!(parse("analyst=5/week"), LimitsError::Window { text: "5/week".into() });
}

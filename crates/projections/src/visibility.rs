//! How long events take to become visible in the read models: for every event a projector applies, the time
//! from its `recorded_at` (the append) to the commit of the batch that applied it, counted in a histogram per
//! projection. Process-wide, like any Prometheus client's default registry: `GET /metrics` shows it as
//! `tally_projection_visible_lag_seconds`, and the HTTP benchmark reads its quantiles from there.

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::models::ReadModel;

/// Upper bounds of the histogram's buckets, in seconds (anything slower counts only in `+Inf`).
pub const LAG_BUCKETS: [f64; 19] =
    [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// One projection's counts: per bucket (not cumulative: cumulated when read), above the last, and the sum.
struct Histogram {
    buckets: [AtomicU64; LAG_BUCKETS.len()],
    over: AtomicU64,
    sum_micros: AtomicU64,
}

static HISTOGRAMS: [Histogram; ReadModel::ALL.len()] = [const {
    Histogram {
        buckets: [const { AtomicU64::new(0) }; LAG_BUCKETS.len()],
        over: AtomicU64::new(0),
        sum_micros: AtomicU64::new(0),
    }
}; ReadModel::ALL.len()];

/// A projection's visible-lag histogram as read now.
#[derive(Debug, Clone, PartialEq)]
pub struct LagHistogram {
    /// Events seen within each bound of [`LAG_BUCKETS`] (cumulative, as Prometheus has it).
    pub cumulative: [u64; LAG_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

/// Counts the events of a batch that committed at `committed_at`.
pub(crate) fn record(model: ReadModel, recorded: impl Iterator<Item = DateTime<Utc>>, committed_at: DateTime<Utc>) {
    let histogram = &HISTOGRAMS[index(model)];
    for recorded_at in recorded {
        let micros = (committed_at - recorded_at).num_microseconds().unwrap_or(i64::MAX).max(0);
        let seconds = micros as f64 / 1e6;
        match LAG_BUCKETS.iter().position(|bound| seconds <= *bound) {
            Some(bucket) => histogram.buckets[bucket].fetch_add(1, Ordering::Relaxed),
            None => histogram.over.fetch_add(1, Ordering::Relaxed),
        };
        histogram.sum_micros.fetch_add(u64::try_from(micros).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// The histogram of `model` so far.
pub fn visible_lag(model: ReadModel) -> LagHistogram {
    let histogram = &HISTOGRAMS[index(model)];
    let mut cumulative = [0; LAG_BUCKETS.len()];
    let mut running = 0;
    for (slot, bucket) in cumulative.iter_mut().zip(&histogram.buckets) {
        running += bucket.load(Ordering::Relaxed);
        *slot = running;
    }
    LagHistogram {
        cumulative,
        count: running + histogram.over.load(Ordering::Relaxed),
        sum_seconds: histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
    }
}

fn index(model: ReadModel) -> usize {
    ReadModel::ALL.iter().position(|m| *m == model).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_event_in_the_bucket_of_its_lag() {
        let committed = Utc::now();
        let before = visible_lag(ReadModel::Products);
        let lags_ms = [0, 3, 40, 2_000, 120_000];
        record(
            ReadModel::Products,
            lags_ms.iter().map(|ms| committed - chrono::Duration::milliseconds(*ms)),
            committed,
        );
        let after = visible_lag(ReadModel::Products);
        assert_eq!(after.count - before.count, 5);
        let within = |bound: f64| {
            let bucket = LAG_BUCKETS.iter().position(|b| *b == bound).unwrap();
            after.cumulative[bucket] - before.cumulative[bucket]
        };
        assert_eq!(within(0.001), 1);
        assert_eq!(within(0.005), 2);
        assert_eq!(within(0.05), 3);
        assert_eq!(within(2.5), 4);
        assert_eq!(within(60.0), 4, "two minutes counts only in +Inf");
        assert!(after.sum_seconds - before.sum_seconds >= 122.0);
    }
}

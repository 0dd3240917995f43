//! How long events take to become visible in the read models: for every event a projector applies, the time
//! from its `recorded_at` (the append) to the commit of the batch that applied it, recorded with the `metrics`
//! crate in the histogram [`VISIBLE_LAG`] per projection. `GET /metrics` shows it with the buckets
//! [`LAG_BUCKETS`], and the HTTP benchmark reads its quantiles from there.

use chrono::{DateTime, Utc};

use crate::models::ReadModel;

/// The histogram's name (label `projection`).
pub const VISIBLE_LAG: &str = "tally_projection_visible_lag_seconds";

/// Upper bounds of the histogram's buckets, in seconds (anything slower counts only in `+Inf`).
pub const LAG_BUCKETS: [f64; 19] =
    [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Records the events of a batch that committed at `committed_at`.
pub(crate) fn record(model: ReadModel, recorded: impl Iterator<Item = DateTime<Utc>>, committed_at: DateTime<Utc>) {
    let histogram = metrics::histogram!(VISIBLE_LAG, "projection" => model.name());
    for recorded_at in recorded {
        let micros = (committed_at - recorded_at).num_microseconds().unwrap_or(i64::MAX).max(0);
        histogram.record(micros as f64 / 1e6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

    #[test]
    fn counts_each_event_in_the_bucket_of_its_lag() {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(VISIBLE_LAG.to_owned()), &LAG_BUCKETS)
            .unwrap()
            .build_recorder();
        let committed = Utc::now();
        let lags_ms = [0, 3, 40, 2_000, 120_000];
        metrics::with_local_recorder(&recorder, || {
            let recorded = lags_ms.iter().map(|ms| committed - chrono::Duration::milliseconds(*ms));
            record(ReadModel::Products, recorded, committed);
        });
        let text = recorder.handle().render();
        let within = |bound: &str| {
            let series = format!("{VISIBLE_LAG}_bucket{{projection=\"products\",le=\"{bound}\"}} ");
            let line =
                text.lines().find(|line| line.starts_with(&series)).unwrap_or_else(|| panic!("{series}: {text}"));
            line[series.len()..].parse::<u64>().unwrap()
        };
        assert_eq!(within("0.001"), 1);
        assert_eq!(within("0.005"), 2);
        assert_eq!(within("0.05"), 3);
        assert_eq!(within("2.5"), 4);
        assert_eq!(within("60"), 4, "two minutes counts only in +Inf");
        assert_eq!(within("+Inf"), 5);
        let sum =
            text.lines().find_map(|line| line.strip_prefix(&format!("{VISIBLE_LAG}_sum{{projection=\"products\"}} ")));
        assert!(sum.unwrap().parse::<f64>().unwrap() >= 122.0, "{text}");
    }
}

//! Progress of a rebuild for people: a progress bar per projection with events/s on a terminal, plain lines (at
//! most one a second per projection, and the last) when stderr is a file or a pipe.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use tally_projections::{RebuildPhase, RebuildProgress};

/// Shows one projection's rebuild progress.
pub struct RebuildDisplay {
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
}

impl RebuildDisplay {
    /// A display whose bar (on a terminal) joins `bars`, below the others.
    pub fn new(bars: &MultiProgress, projection: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = bars.add(ProgressBar::new(0));
            let style = ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} events {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(projection.to_owned());
            bar
        });
        Self { bar, last_line: None }
    }

    pub fn update(&mut self, progress: &RebuildProgress) {
        let rate = format!("{:.0} events/s", progress.events_per_second);
        match &self.bar {
            Some(bar) => {
                bar.set_length(progress.head.max(progress.position));
                bar.set_position(progress.position);
                bar.set_message(format!("{rate} ({})", phase(progress.phase)));
            }
            None => {
                let due = self.last_line.is_none_or(|last| last.elapsed() >= Duration::from_secs(1));
                if due || progress.phase == RebuildPhase::Done {
                    eprintln!(
                        "rebuild {}: {} at position {}/{}, {} events applied, {rate}",
                        progress.projection,
                        phase(progress.phase),
                        progress.position,
                        progress.head,
                        progress.events_applied
                    );
                    self.last_line = Some(Instant::now());
                }
            }
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
    }
}

fn phase(phase: RebuildPhase) -> &'static str {
    match phase {
        RebuildPhase::Replaying => "replaying",
        RebuildPhase::Swapping => "swapping in",
        RebuildPhase::Done => "done",
    }
}

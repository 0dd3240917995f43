//! The auditor's commands: `tally verify` (every stream's hash chain), `tally digest` (record a Merkle root over
//! every stream's head, or check the store against an earlier one) and `tally export` (the log as JSON lines or
//! CloudEvents on stdout). Reports are JSON on stdout; a broken chain or a failed check exits non-zero.

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;
use std::io::Write;
use std::sync::Arc;
use tally_audit::digests::{load_digest, record_digest};
use tally_audit::export::{export_lines, ExportFormat, LogRange};
use tally_audit::verify::VerificationView;
use tally_store::digest::{digest_at, verify_against, DigestProgress};
use tally_store::{EventStore, VerifyProgress};

/// Verifies the hash chain of one stream or of all, and prints every broken place. Verifying everything shows a
/// bar of events checked against the log's head (hidden off a terminal).
pub async fn verify(store: &dyn EventStore, stream: Option<&str>) -> Result<()> {
    let verification = match stream {
        Some(stream) => store.verify_stream(stream).await,
        None => {
            let head = store.head_position().await.context("read the log head")?;
            let bar = progress_bar(head, "verify [{bar:40}] {pos}/{len} events, {msg} streams ({per_sec}, {eta} left)");
            let report_progress = |progress: VerifyProgress| {
                bar.set_position(progress.events_checked);
                bar.set_message(progress.streams_checked.to_string());
            };
            let verification = store.verify_all(&report_progress).await;
            bar.finish_and_clear();
            verification
        }
    };
    let verification = verification.context("verify the event store")?;
    print_json(&VerificationView::from(&verification))?;
    if !verification.is_intact() {
        bail!("the hash chain is broken in {} place(s)", verification.breaks.len());
    }
    Ok(())
}

/// Records a digest of the store as it is now, or (`check`) verifies the store against a recorded one.
pub async fn digest(store: &dyn EventStore, pool: &PgPool, check: Option<i64>) -> Result<()> {
    let bar = progress_bar(0, "digest [{bar:40}] position {pos}/{len} ({per_sec})");
    let report_progress = |progress: DigestProgress| {
        bar.set_length(progress.target);
        bar.set_position(progress.position);
    };
    match check {
        None => {
            let head = store.head_position().await?;
            let digest = digest_at(store, head, &report_progress).await.context("compute the digest")?;
            bar.finish_and_clear();
            let recorded = record_digest(pool, &digest).await.context("record the digest")?;
            print_json(&recorded)
        }
        Some(id) => {
            let recorded = load_digest(pool, id).await?.with_context(|| format!("there is no digest {id}"))?;
            let check = verify_against(store, &recorded.digest, &report_progress).await.context("check the digest")?;
            bar.finish_and_clear();
            print_json(&check)?;
            if !check.intact {
                bail!("the store no longer matches digest {id}: {} stream(s) differ", check.differences.len());
            }
            Ok(())
        }
    }
}

/// Writes the log (or a range of it) to stdout, one event per line, in constant memory.
pub async fn export(store: Arc<dyn EventStore>, range: LogRange, format: ExportFormat) -> Result<()> {
    let mut lines = Box::pin(export_lines(store, range, format));
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    while let Some(chunk) = lines.next().await {
        stdout.write_all(&chunk.context("read the event log")?)?;
    }
    stdout.flush()?;
    Ok(())
}

/// A progress bar of `length` drawn with `template` (hidden off a terminal).
fn progress_bar(length: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

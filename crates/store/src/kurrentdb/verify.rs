//! Hash-chain verification on KurrentDB: reads each stream forwards in pages and hands the events to the shared
//! [`StreamVerifier`], which recomputes every hash from what is read back.
//!
//! KurrentDB keeps no separate stream-head record (the PostgreSQL adapter's `streams` table): events are
//! immutable, and the only ways to remove them are truncating a stream's start (`$tb`, `$maxCount`, `$maxAge`,
//! reported here as versions missing from 0) or deleting the whole stream. So the head a chain is compared with is
//! the stream's last event. A deleted stream reads as empty and is not reported: keep a copy of the stream heads
//! outside the store, as docs/hash-chain.md advises, to catch that.
//!
//! `verify_all` finds the streams by reading `$all` (server-side filter: no `$` streams) and then verifies each
//! stream from its own reads, so events of a truncated stream that `$all` still shows until the next scavenge do
//! not hide the truncation. Streams are verified in id order, so breaks come out by stream, then version.

use kurrentdb::{Client, ReadAllOptions, SubscriptionFilter};
use std::collections::BTreeSet;
use tracing::instrument;

use super::error::KurrentDbError;
use super::mapping::{is_system_event, read_start};
use super::read::{drain, page_item, stream_events};
use crate::event::ReadStream;
use crate::verify::{StreamHead, StreamVerifier, Verification, VerifyProgress};

/// Events per read while verifying.
const PAGE: usize = 512;

#[instrument(skip_all, fields(stream.id = %stream_id))]
pub(crate) async fn verify_stream(client: &Client, stream_id: &str) -> Result<Verification, KurrentDbError> {
    let mut verification = Verification::default();
    verify_into(client, stream_id, &mut verification).await?;
    Ok(verification)
}

#[instrument(skip_all)]
pub(crate) async fn verify_all(
    client: &Client,
    progress: &(dyn Fn(VerifyProgress) + Send + Sync),
) -> Result<Verification, KurrentDbError> {
    let mut verification = Verification::default();
    for stream_id in stream_ids(client).await? {
        verify_into(client, &stream_id, &mut verification).await?;
        progress(VerifyProgress {
            events_checked: verification.events_checked,
            streams_checked: verification.streams_checked,
        });
    }
    Ok(verification)
}

/// Verifies one stream and adds it to `verification` (nothing when the stream has no event).
async fn verify_into(client: &Client, stream_id: &str, verification: &mut Verification) -> Result<(), KurrentDbError> {
    let mut verifier = StreamVerifier::new(stream_id);
    let mut head = None;
    let mut from = 0;
    loop {
        let page = stream_events(client, stream_id, ReadStream::forwards(from, PAGE), false).await?;
        let full = page.len() == PAGE;
        for event in page {
            head = Some(StreamHead { version: event.stream_version, hash: event.hash });
            from = event.stream_version + 1;
            verifier.push(&event.into_chain_link());
        }
        if !full {
            break;
        }
    }
    if head.is_some() {
        verification.add_stream(verifier, head);
    }
    Ok(())
}

/// Every non-system stream that has an event in `$all`, in id order.
async fn stream_ids(client: &Client) -> Result<BTreeSet<String>, KurrentDbError> {
    let filter = SubscriptionFilter::on_stream_name().exclude_system_events();
    let mut streams = BTreeSet::new();
    let mut after = 0;
    loop {
        // The read starts at `after` inclusive: one more event than a page, so a full page still moves on.
        let requested = if after == 0 { PAGE } else { PAGE + 1 };
        let options = ReadAllOptions::default()
            .position(read_start(after))
            .forwards()
            .max_count(requested)
            .filter(filter.clone());
        let read = client.read_all(&options).await.map_err(KurrentDbError::request("list the streams"))?;
        let events = drain(read, "list the streams").await?;
        for event in &events {
            let item = page_item(event)?;
            if item.position <= after {
                continue;
            }
            after = item.position;
            if !is_system_event(item.stream_id, "") && !streams.contains(item.stream_id) {
                streams.insert(item.stream_id.to_owned());
            }
        }
        if events.len() < requested {
            return Ok(streams);
        }
    }
}

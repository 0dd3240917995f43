//! A keyed command run again: finding its earlier attempt in the log and answering with that attempt's outcome.
//!
//! A command under an `Idempotency-Key` appends events whose ids are derived from the key (`context.rs`). When an
//! earlier attempt may have appended (the HTTP layer took the key over from an attempt that crashed, timed out or
//! answered 5xx) or the store refused the derived ids as already stored, the command's own decision is not the
//! answer: if the stream holds the first derived id, the earlier attempt was recorded, and the answer is the
//! stream as it stood right after that attempt's events (state, version, position, the events themselves).

use std::sync::Arc;
use tally_domain::Aggregate;
use tally_store::{ReadStream, RecordedEvent};
use tracing::{info, instrument};

use crate::batch::{Answer, Outcome, Recorded};
use crate::context::CommandContext;
use crate::error::CommandError;
use crate::stream::{decode, READ_PAGE};
use crate::writer::Shared;

/// What a command on an `A` stream did.
type AggregateOutcome<A> = Outcome<<A as Aggregate>::State, <A as Aggregate>::Event>;

/// Whether an answer needs checking against the log: the store said an earlier attempt is recorded, or an
/// earlier attempt may have appended and this attempt recorded nothing new.
pub(crate) fn needs_lookup<A: Aggregate>(context: &CommandContext, answer: &Answer<A>) -> bool {
    match answer {
        Err(CommandError::AlreadyRecorded { .. }) => true,
        Ok(outcome) if !outcome.events.is_empty() => false,
        _ => context.earlier_attempt(),
    }
}

/// The outcome of the keyed command's earlier attempt on `stream_id`, if the stream holds it.
#[instrument(skip_all, fields(stream.id = %stream_id))]
pub(crate) async fn earlier_outcome<A: Aggregate>(
    shared: &Shared<A>,
    stream_id: &str,
    context: &CommandContext,
) -> Result<Option<AggregateOutcome<A>>, CommandError> {
    let store = shared.store.as_ref();
    let Some(first_id) = context.derived_event_id(stream_id, 0) else { return Ok(None) };
    let Some(first) = store.find_event(stream_id, first_id).await? else {
        return Ok(None);
    };
    // The attempt's events are consecutive from `first`, with ids derived from the key in order.
    let mut state = A::State::default();
    let mut events: Vec<Recorded<A::Event>> = Vec::new();
    let mut last: Option<RecordedEvent> = None;
    let mut from = 0;
    'read: loop {
        let page = store.read_stream(stream_id, ReadStream::forwards(from, READ_PAGE)).await?;
        let full = page.len() == READ_PAGE;
        for recorded in page {
            from = recorded.stream_version + 1;
            let ours = recorded.stream_version >= first.stream_version
                && Some(recorded.event_id) == context.derived_event_id(stream_id, events.len());
            if recorded.stream_version > first.stream_version && !ours {
                break 'read;
            }
            let event = decode::<A::Event>(&recorded)?;
            state = A::evolve(state, &event);
            if ours {
                events.push(Recorded { event_id: recorded.event_id, version: recorded.stream_version, event });
                last = Some(recorded);
            }
        }
        if !full {
            break;
        }
    }
    let Some(last) = last else { return Ok(None) };
    info!(stream.id = %stream_id, version = last.stream_version, "answered a repeated command from its recorded attempt");
    Ok(Some(Outcome {
        state: Arc::new(state),
        version: Some(last.stream_version),
        position: Some(last.position),
        recorded_at: Some(last.recorded_at),
        events,
    }))
}

//! One batch of a stream writer: decide the queued commands in order against the evolving state, append the
//! accepted events of the whole batch as ONE append at the expected version, and answer every caller.
//!
//! Each command gets its own answer: a refused command (`InsufficientStock`, a wrong `If-Match`) does not stop the
//! others, and later commands see the state after the earlier ones, so a batch never oversells and never refuses
//! stock that is there. If another process appended first (`WrongExpectedVersion`), the writer reads the tail,
//! decides the whole batch again and retries, bounded, with jittered backoff. A batch that appends nothing (only
//! refusals and no-ops) gets no such check from the store, so when it was decided on the writer's remembered
//! state, the tail is read before answering, and the batch decided again if another process wrote meanwhile.
//!
//! **Keyed commands.** A command under an `Idempotency-Key` appends events with ids derived from the key. If the
//! store already holds one of them (`DuplicateEventId`, or seen in the tail after a conflict), an earlier attempt
//! of that command was recorded: the command is taken out of the batch with [`CommandError::AlreadyRecorded`]
//! (its caller answers from the log) and the rest of the batch is decided again.
//!
//! **Figures** (the `metrics` crate; `GET /metrics` shows them): the events each batch recorded by type
//! (`tally_events_appended_total`), conflicts (`tally_command_conflicts_total`) and repeated appends
//! (`tally_command_append_retries_total`), per aggregate.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Instant;
use tally_domain::Aggregate;
use tally_store::{AppendResult, ExpectedVersion, NewEvent, StoreError};
use tokio::sync::oneshot;
use tracing::{instrument, warn};
use uuid::Uuid;

use crate::context::CommandContext;
use crate::error::CommandError;
use crate::stream::{catch_up, encode, next_version, Snapshot};
use crate::writer::Shared;

/// What a command did: the stream's state and version after it, the global position to wait for on the read side,
/// and the events it recorded (none when the command changed nothing, e.g. an idempotent repeat).
///
/// Commands decided in one batch share the state, version and position of the whole batch: the state as a read
/// right after the batch would see it (it may include later commands of the batch), `version` being that state's
/// version (the `ETag`) and `position` the global position of the batch's last event (`Tally-Position`; at or
/// after this command's own events). `position` is `None` when nothing was appended.
#[derive(Debug, Clone)]
pub struct Outcome<S, E> {
    pub state: Arc<S>,
    pub version: Option<u64>,
    pub position: Option<u64>,
    /// When the store recorded this batch's events (`None` when nothing was appended).
    pub recorded_at: Option<DateTime<Utc>>,
    pub events: Vec<Recorded<E>>,
}

/// An event a command recorded, with its id and stream version.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded<E> {
    pub event_id: Uuid,
    pub version: u64,
    pub event: E,
}

/// The answer a caller waits for.
pub(crate) type Answer<A> = Result<Outcome<<A as Aggregate>::State, <A as Aggregate>::Event>, CommandError>;

/// A command queued for a stream's writer.
pub(crate) struct Job<A: Aggregate> {
    pub(crate) command: A::Command,
    /// The client's expected version (`If-Match`), checked against the state this command is decided on.
    pub(crate) expected: Option<u64>,
    pub(crate) context: CommandContext,
    pub(crate) reply: oneshot::Sender<Answer<A>>,
}

/// The batch decided against one base snapshot.
struct Decided<A: Aggregate> {
    state: A::State,
    version: Option<u64>,
    new_events: Vec<NewEvent>,
    /// The job each of `new_events` belongs to.
    owners: Vec<usize>,
    answers: Vec<Result<Vec<Recorded<A::Event>>, CommandError>>,
}

/// The batch after its append: the new snapshot, the position of its last event, one answer per job.
struct Settled<A: Aggregate> {
    snapshot: Snapshot<A::State>,
    position: Option<u64>,
    recorded_at: Option<DateTime<Utc>>,
    answers: Vec<Result<Vec<Recorded<A::Event>>, CommandError>>,
}

/// Runs one batch and answers its callers. Returns the writer's snapshot after it (`None` after a failure whose
/// outcome is unknown: the next batch starts again from the cache and the store).
#[instrument(skip_all, fields(stream.id = %stream_id, batch.size = jobs.len()))]
pub(crate) async fn run<A>(
    shared: &Shared<A>,
    stream_id: &str,
    current: Option<Snapshot<A::State>>,
    jobs: Vec<Job<A>>,
) -> Option<Snapshot<A::State>>
where
    A: Aggregate + 'static,
    A::Command: Clone + Sync,
{
    match decide_and_append(shared, stream_id, current, &jobs).await {
        Ok(settled) => {
            count_recorded(&settled.answers);
            for (job, answer) in jobs.into_iter().zip(settled.answers) {
                let answer = answer.map(|events| Outcome {
                    state: Arc::clone(&settled.snapshot.state),
                    version: settled.snapshot.version,
                    position: settled.position,
                    recorded_at: settled.recorded_at,
                    events,
                });
                // A caller that stopped waiting is no reason to fail the others.
                let _ = job.reply.send(answer);
            }
            Some(settled.snapshot)
        }
        Err(error) => {
            for job in jobs {
                let _ = job.reply.send(Err(error.clone()));
            }
            None
        }
    }
}

/// Counts the events a batch recorded, by type (`tally_events_appended_total`: orders placed, confirmed,
/// rejected, and every other event).
fn count_recorded<E: tally_domain::Event>(answers: &[Result<Vec<Recorded<E>>, CommandError>]) {
    for recorded in answers.iter().flatten().flatten() {
        metrics::counter!("tally_events_appended_total", "event_type" => recorded.event.event_type()).increment(1);
    }
}

/// The `aggregate` label of a stream's figures: its stream prefix without the dash (`inventory`, `order`).
fn aggregate<A: Aggregate>() -> &'static str {
    A::STREAM_PREFIX.trim_end_matches('-')
}

/// Decides the batch and appends its events, catching up and deciding again on each conflict (bounded).
async fn decide_and_append<A>(
    shared: &Shared<A>,
    stream_id: &str,
    current: Option<Snapshot<A::State>>,
    jobs: &[Job<A>],
) -> Result<Settled<A>, CommandError>
where
    A: Aggregate + 'static,
    A::Command: Clone + Sync,
{
    // `fresh`: the base was just read up to the stream's end. A writer's own snapshot may be behind when another
    // process appended; an append notices (expected version), but a batch that appends nothing does not.
    let (mut base, mut fresh) = match current {
        Some(snapshot) => (snapshot, false),
        None => (shared.load(stream_id).await?, true),
    };
    // Keyed commands whose earlier attempt is in the store: no longer decided.
    let mut recorded_before = vec![false; jobs.len()];
    let retry = shared.config.retry;
    let mut conflicts = 0;
    loop {
        let decided = decide_batch::<A>(stream_id, &base, jobs, &recorded_before);
        if decided.new_events.is_empty() {
            // Only refusals and no-ops: they must not rest on a stale state (a false "out of stock" when another
            // process received stock), so check the tail first and decide again if it is not empty.
            if !fresh {
                let (caught_up, seen) = catch_up::<A>(shared.store.as_ref(), stream_id, base).await?;
                (base, fresh) = (caught_up, true);
                if !seen.is_empty() {
                    shared.remember(stream_id, base.clone());
                    continue;
                }
            }
            let snapshot = Snapshot { state: Arc::new(decided.state), version: decided.version };
            return Ok(Settled { snapshot, position: None, recorded_at: None, answers: decided.answers });
        }
        let expected = base.version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
        let ids: Vec<Uuid> = decided.new_events.iter().map(|event| event.event_id).collect();
        match append(shared, stream_id, expected, decided.new_events).await {
            Ok(result) => {
                let snapshot = Snapshot { state: Arc::new(decided.state), version: decided.version };
                shared.remember(stream_id, snapshot.clone());
                let (position, recorded_at) = (Some(result.position), Some(result.recorded_at));
                return Ok(Settled { snapshot, position, recorded_at, answers: decided.answers });
            }
            Err(StoreError::DuplicateEventId { event_id }) => {
                // Only a keyed command's derived id can already be stored: its earlier attempt was recorded.
                let Some(job) = decided.owners.iter().zip(&ids).find(|(_, id)| **id == event_id).map(|(j, _)| *j)
                else {
                    return Err(StoreError::DuplicateEventId { event_id }.into());
                };
                recorded_before[job] = true;
            }
            Err(StoreError::WrongExpectedVersion { .. }) => {
                metrics::counter!("tally_command_conflicts_total", "aggregate" => aggregate::<A>()).increment(1);
                conflicts += 1;
                if conflicts > retry.max_retries {
                    warn!(stream.id = %stream_id, attempts = conflicts, "giving up: the stream kept moving");
                    return Err(CommandError::Contention { stream_id: stream_id.to_owned(), attempts: conflicts });
                }
                // The first conflict is usually one write by another process: catch up at once. Repeated ones
                // mean a busy rival: back off, jittered, so the two stop colliding in lockstep.
                if conflicts > 1 {
                    tokio::time::sleep(retry.delay(conflicts - 1)).await;
                }
                let (caught_up, seen) = catch_up::<A>(shared.store.as_ref(), stream_id, base).await?;
                (base, fresh) = (caught_up, true);
                // After an append whose outcome was unknown, our own events may be in the tail: then it landed.
                if ids.iter().all(|id| seen.iter().any(|e| e.event_id == *id)) {
                    let last = seen.iter().find(|e| Some(&e.event_id) == ids.last());
                    let (position, recorded_at) = (last.map(|e| e.position), last.map(|e| e.recorded_at));
                    return Ok(Settled { snapshot: base, position, recorded_at, answers: decided.answers });
                }
                // Another attempt of a keyed command of this batch may be what moved the stream.
                for (job, id) in decided.owners.iter().zip(&ids) {
                    if seen.iter().any(|e| e.event_id == *id) {
                        recorded_before[*job] = true;
                    }
                }
                shared.remember(stream_id, base.clone());
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Decides every job in order against the evolving state (but the ones `recorded_before`, which are answered
/// [`CommandError::AlreadyRecorded`]). Never fails as a whole: each job gets its answer.
fn decide_batch<A>(stream_id: &str, base: &Snapshot<A::State>, jobs: &[Job<A>], recorded_before: &[bool]) -> Decided<A>
where
    A: Aggregate + 'static,
    A::Command: Clone + Sync,
{
    let mut state = (*base.state).clone();
    let mut version = base.version;
    let mut new_events = Vec::new();
    let mut owners = Vec::new();
    let mut answers = Vec::with_capacity(jobs.len());
    for (index, job) in jobs.iter().enumerate() {
        if recorded_before[index] {
            answers.push(Err(CommandError::AlreadyRecorded { stream_id: stream_id.to_owned() }));
            continue;
        }
        if let Some(expected) = job.expected {
            if version != Some(expected) {
                let stream_id = stream_id.to_owned();
                answers.push(Err(CommandError::VersionMismatch { stream_id, expected, actual: version }));
                continue;
            }
        }
        let events = match A::decide(&state, job.command.clone()) {
            Ok(events) => events,
            Err(refusal) => {
                answers.push(Err(CommandError::refusal(stream_id, refusal.into())));
                continue;
            }
        };
        let encoded: Result<Vec<NewEvent>, CommandError> = events
            .iter()
            .enumerate()
            .map(|(n, e)| {
                let encoded = encode(e, &job.context)?;
                Ok(match job.context.derived_event_id(stream_id, n) {
                    Some(id) => encoded.with_id(id),
                    None => encoded,
                })
            })
            .collect();
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(error) => {
                answers.push(Err(error));
                continue;
            }
        };
        // The same keyed command twice in one batch: the second answers from the first once it is recorded.
        if job.context.idempotency.is_some()
            && encoded.iter().any(|event| new_events.iter().any(|queued: &NewEvent| queued.event_id == event.event_id))
        {
            answers.push(Err(CommandError::AlreadyRecorded { stream_id: stream_id.to_owned() }));
            continue;
        }
        let mut recorded = Vec::with_capacity(events.len());
        for (event, new_event) in events.into_iter().zip(encoded) {
            let event_version = next_version(version);
            state = A::evolve(state, &event);
            version = Some(event_version);
            recorded.push(Recorded { event_id: new_event.event_id, version: event_version, event });
            new_events.push(new_event);
            owners.push(index);
        }
        answers.push(Ok(recorded));
    }
    Decided { state, version, new_events, owners, answers }
}

/// Appends, repeating the very same append (same event ids, same expected version: idempotent in the store) when
/// the store failed with an unknown outcome, within the retry policy's time budget. A conflict or a refusal is
/// returned at once.
async fn append<A: Aggregate>(
    shared: &Shared<A>,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult, StoreError> {
    let retry = shared.config.retry;
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match shared.store.append(stream_id, expected, events.clone()).await {
            Err(error) if error.is_unavailable() && retry.retries_unavailable(failures, started.elapsed()) => {
                failures += 1;
                warn!(stream.id = %stream_id, error = %error, attempt = failures, "append failed, repeating it");
                metrics::counter!("tally_command_append_retries_total", "aggregate" => aggregate::<A>()).increment(1);
                tokio::time::sleep(retry.delay(failures)).await;
            }
            outcome => return outcome,
        }
    }
}

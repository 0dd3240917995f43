-- the event store: the global log (events), each stream's head (streams) and the log's head (event_log_head).
-- written only by tally-store's postgres adapter; see crates/store and docs/hash-chain.md.

-- the head of the global log: a single row. every appending transaction updates it before anything else and
-- keeps its row lock until commit, so appending transactions commit one at a time, in the order they assign
-- positions. positions are therefore contiguous integers in commit order, and a reader that follows
-- `position > last seen` can never skip an event that commits late (design: "global order on postgresql").
-- the store's writer task groups many appends into each transaction, so the lock costs one commit per batch.
create table event_log_head (
    id          boolean primary key default true check (id),
    -- position of the last event in the log (0: the log is empty; the first event gets position 1)
    position    bigint not null default 0 check (position >= 0),
    -- recorded_at of the last append: recorded_at never goes backwards along the log
    recorded_at timestamptz not null default '-infinity'
);

insert into event_log_head (id) values (true);

-- the head of each stream, updated in the appending transaction: the last version and its hash. verification
-- compares the end of each stored hash chain with it, which reveals a deleted last event.
create table streams (
    stream_id text primary key,
    version   bigint not null check (version >= 0),
    hash      bytea not null check (octet_length(hash) = 32)
);

create table events (
    -- global position: contiguous, in commit order (see event_log_head)
    position       bigint primary key check (position > 0),
    event_id       uuid not null,
    stream_id      text not null,
    -- 0 for a stream's first event
    stream_version bigint not null check (stream_version >= 0),
    event_type     text not null,
    schema_version integer not null check (schema_version >= 0),
    data           jsonb not null,
    -- correlation_id, causation_id, actor, idempotency_key, trace_id (absent when unknown)
    metadata       jsonb not null,
    recorded_at    timestamptz not null,
    -- sha-256(previous hash in the stream || canonical bytes of this event): docs/hash-chain.md
    hash           bytea not null check (octet_length(hash) = 32),
    constraint events_event_id_key unique (event_id),
    -- the store maps a violation of this one to a wrong-expected-version error
    constraint events_stream_version_key unique (stream_id, stream_version)
);

-- the first step of every appending transaction (the writer in crates/store/src/postgres/writer.rs): take the
-- log-head row lock, then return what the batch's decisions depend on. the lock is held until the transaction
-- ends, so appending transactions commit one at a time, in lock order. a volatile function takes a new snapshot
-- for each statement, so the second statement sees every transaction that committed while the first one waited
-- for the lock (a single statement would read with the snapshot it took before waiting).
-- rows: the log head ('log': position, recorded_at), the head of each given stream ('stream': stream_id,
-- version, hash) and the given event ids already stored ('event': event_id, stream_id, version, position,
-- recorded_at).
create function event_store_lock_and_lookup(stream_ids text[], event_ids uuid[])
    returns table (kind text, stream_id text, version bigint, "position" bigint, hash bytea, event_id uuid,
                   recorded_at timestamptz)
    language sql volatile as $$
    -- recorded_at comes from the database clock once the lock is held, and never goes backwards along the log
    update event_log_head set recorded_at = greatest(clock_timestamp(), event_log_head.recorded_at);

    select 'log', null::text, null::bigint, h.position, null::bytea, null::uuid, h.recorded_at
      from event_log_head h
    union all
    select 'stream', s.stream_id, s.version, null, s.hash, null, null
      from streams s
     where s.stream_id = any(event_store_lock_and_lookup.stream_ids)
    union all
    select 'event', e.stream_id, e.stream_version, e.position, null, e.event_id, e.recorded_at
      from events e
     where e.event_id = any(event_store_lock_and_lookup.event_ids);
$$;

-- the log is append-only: refuse updates, deletes and truncation. this guards against mistakes, not attackers
-- (an owner can disable a trigger); tampering is what the hash chain reveals.
create function events_refuse_change() returns trigger language plpgsql as $$
begin
    raise exception 'the event log is append-only (% on events refused)', tg_op
        using errcode = 'restrict_violation';
end;
$$;

create trigger events_append_only
    before update or delete on events
    for each row execute function events_refuse_change();

create trigger events_no_truncate
    before truncate on events
    for each statement execute function events_refuse_change();

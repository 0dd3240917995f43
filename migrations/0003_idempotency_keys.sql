-- idempotency keys of the http api's commands (crates/api/src/idempotency.rs).
-- a post with an `idempotency-key` header claims its key here before the command runs; a repeat with the same
-- key and the same request gets the stored response back instead of running the command again.
-- keys are kept at least 24 hours; `purge_expired_idempotency_keys` deletes older ones.
create table idempotency_keys (
    -- the client's key, as sent (1 to 255 visible ascii characters). keys are global, not per client.
    key          text primary key,
    -- sha-256 over the request's method, path and body: the same key with another request is refused (422)
    fingerprint  bytea not null,
    -- in_flight: the first request is running (a repeat gets 409); completed: its response is stored below.
    -- a first request answered with a 5xx (or a retry-after) deletes its row, so the key may be retried.
    state        text not null check (state in ('in_flight', 'completed')),
    -- the first response: status, the headers to replay (etag, tally-position, location, content-type) as a
    -- json object of name -> value, and the body
    status       smallint,
    headers      jsonb,
    body         bytea,
    -- when the key was claimed (or taken over from a crashed process): retention and in-flight timeout count from here
    created_at   timestamptz not null default now(),
    completed_at timestamptz
);

-- the purge deletes by age
create index idempotency_keys_created_at_idx on idempotency_keys (created_at);

-- webhooks: what is kept beside the log. subscribing, rotating, pausing, resuming, replaying and deleting are events
-- of the subscription's `webhook-{uuid}` stream; the signing secrets and the delivery state are not (the log is
-- exported to auditors, and delivery attempts are operational). see crates/webhooks.

-- each subscription's signing secret, and the one it replaced while that still signs (24 hours after a rotation).
-- written before the event that makes or rotates the subscription: a row without a `WebhookSubscribed` event (a
-- crash in between) belongs to no subscription and signs nothing.
create table webhook_secrets (
    webhook_id          uuid primary key,
    secret              text not null,
    previous_secret     text,
    previous_expires_at timestamptz,
    updated_at          timestamptz not null default now()
);

-- each subscription's sender state, written by the holder of its lease (the checkpoint itself is its row in
-- `projections`, `webhook-{uuid}`).
create table webhook_state (
    webhook_id         uuid primary key,
    -- deliveries start after this position: the subscription's own `WebhookSubscribed`, or a replay's `after`.
    start_position     bigint not null,
    -- the position of the last `WebhookReplayRequested` the sender carried out (a replay is carried out once).
    replayed_through   bigint not null default 0,
    -- consecutive failed attempts at the event the sender is stuck on, since when, and when it tries again.
    failed_attempts    integer not null default 0,
    failing_since      timestamptz,
    next_attempt_at    timestamptz,
    last_error         text,
    updated_at         timestamptz not null default now()
);

-- every delivery attempt, for `GET /v1/webhooks/{id}/deliveries`; kept 7 days (`tally serve` purges hourly).
create table webhook_deliveries (
    id            bigint generated always as identity primary key,
    webhook_id    uuid not null,
    position      bigint not null,
    event_id      uuid not null,
    event_type    text not null,
    attempt       integer not null,
    attempted_at  timestamptz not null,
    -- the HTTP status; null when no answer came (refused, timed out, not allowed).
    status        integer,
    latency_ms    double precision not null,
    error         text
);
create index webhook_deliveries_by_webhook on webhook_deliveries (webhook_id, id desc);
create index webhook_deliveries_by_time on webhook_deliveries (attempted_at);

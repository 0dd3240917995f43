-- audit digests: a merkle root over every stream's head as of a global position (crates/store/src/digest.rs,
-- docs/audit.md), recorded so the store can later be checked against it. written only by tally-api's audit module.
create table audit_digests (
    id           bigint generated always as identity primary key,
    -- every event at or below this position is covered
    position     bigint not null check (position >= 0),
    stream_count bigint not null check (stream_count >= 0),
    event_count  bigint not null check (event_count >= 0),
    -- sha-256 merkle root (32 bytes)
    root         bytea not null check (octet_length(root) = 32),
    created_at   timestamptz not null default now()
);

-- the leaves of each digest: one row per stream, so a failed check can name the streams that differ
create table audit_digest_leaves (
    digest_id bigint not null references audit_digests (id) on delete cascade,
    stream_id text not null,
    version   bigint not null check (version >= 0),
    hash      bytea not null check (octet_length(hash) = 32),
    primary key (digest_id, stream_id)
);

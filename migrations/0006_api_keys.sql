-- api keys: what is kept beside the log. issuing and revoking a key are events of its `apikey-{uuid}` stream (who
-- may do what, for auditors); the secret is not. only sha-256 of a key is kept, here, so the log and its exports
-- carry no credential material. see crates/api/src/auth.

-- the hash of each issued key's secret. written before the key's `ApiKeyIssued` event is appended: a row without
-- an event (a crash in between) is a key that never came to exist, and never authenticates.
create table api_key_secrets (
    key_id        uuid primary key,
    secret_sha256 bytea not null unique check (octet_length(secret_sha256) = 32),
    created_at    timestamptz not null default now()
);

-- when each key was last used, at about 5 seconds' precision: every node records uses in memory and writes them
-- here now and then (a database write per request would cost what authentication must not).
create table api_key_usage (
    key_id       uuid primary key,
    last_used_at timestamptz not null
);

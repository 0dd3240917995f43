-- idempotency keys, refined (crates/api/src/idempotency.rs, docs/decisions.md 2026-12-04):
-- * keys are per client: `scope` is the caller the key belongs to ('' while requests are anonymous);
-- * a key is never dropped while its command may have appended: an attempt that ends without a recorded answer
--   (a 5xx, a retry-after) leaves the key `unknown`, and a retry takes it over and looks for the attempt's events
--   in the log (their ids are derived from the key) before running the command again;
-- * an attempt in flight holds a lease that its request renews while it runs; a retry may take over a key whose
--   lease ran out (the attempt's process died or lost the database). only the database's clock is compared.
alter table idempotency_keys add column scope text not null default '';
alter table idempotency_keys drop constraint idempotency_keys_pkey;
alter table idempotency_keys add primary key (scope, key);

alter table idempotency_keys drop constraint idempotency_keys_state_check;
alter table idempotency_keys add constraint idempotency_keys_state_check
    check (state in ('in_flight', 'unknown', 'completed'));

-- until when the attempt in flight holds the key (renewed by its request while it runs)
alter table idempotency_keys add column lease_until timestamptz not null default now();
-- how many attempts ran under the key (1 unless retries took it over)
alter table idempotency_keys add column attempts integer not null default 1;

-- the error that last interrupted each follower of the log (a lost connection, NATS unreachable, a receiver's
-- database call failing): recorded by the runner that takes the lease again after it, so `/v1/projections` shows
-- a follower that keeps failing and retrying, not only one stopped on a poison event.
alter table projections add column last_error text, add column last_error_at timestamptz;

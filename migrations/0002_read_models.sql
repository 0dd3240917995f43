-- read models: the query side of tally, written only by tally-projections (crates/projections).
-- every table here is disposable: `tally rebuild` replays the event log into fresh copies and swaps them in.
-- analysts: docs/read-models.md describes each table and column.
--
-- conventions:
-- - money is integer minor units (`*_amount`, bigint) next to an iso 4217 `currency`. never floats.
-- - days are utc dates of the event's `recorded_at` (when the store recorded it).
-- - `position` is the global log position of the last event that changed the row; `version` the stream version.
-- - index names follow postgresql's default naming (`{table}_{columns}_idx`): a rebuild copies the tables with
--   `create table ... (like ... including all)`, which names indexes by that rule, so the names survive a swap.

-- one row per projection: its checkpoint (the log position its tables reflect), failure and holder.
-- a batch of read-model writes and the checkpoint update commit in one transaction, and every batch first locks
-- this row (`select ... for update`) and checks the position it expects: that row lock is what makes each event
-- apply exactly once, whoever holds the lease (the session advisory lock) and even across a rebuild's swap.
create table projections (
    name            text primary key,
    -- every event at or below this position is reflected in the projection's tables
    position        bigint not null default 0 check (position >= 0),
    -- set when an event could not be applied: the projection stops there until it is rebuilt or retried
    failed_position bigint,
    failed_at       timestamptz,
    error           text,
    -- the runner that last held the lease (shown as the holder only while the lease is actually held)
    holder          text,
    heartbeat_at    timestamptz,
    updated_at      timestamptz not null default now()
);

-- the catalog: one row per product.
create table products (
    sku           text primary key,
    name          text not null,
    price_amount  bigint not null,
    currency      text not null,
    -- active | discontinued
    status        text not null,
    version       bigint not null,
    position      bigint not null,
    registered_at timestamptz not null,
    updated_at    timestamptz not null
);

-- stock per sku and location.
create table inventory_levels (
    sku        text not null,
    location   text not null,
    on_hand    bigint not null check (on_hand >= 0),
    reserved   bigint not null check (reserved >= 0),
    available  bigint generated always as (on_hand - reserved) stored,
    position   bigint not null,
    updated_at timestamptz not null,
    primary key (sku, location)
);

create index inventory_levels_location_idx on inventory_levels (location);

-- stock per sku, all locations together.
create table inventory_totals (
    sku        text primary key,
    on_hand    bigint not null check (on_hand >= 0),
    reserved   bigint not null check (reserved >= 0),
    available  bigint generated always as (on_hand - reserved) stored,
    -- number of locations that ever held stock of this sku
    locations  integer not null,
    version    bigint not null,
    position   bigint not null,
    updated_at timestamptz not null
);

create index inventory_totals_available_idx on inventory_totals (available);

-- the stock ledger: one row per stock movement and location, with the levels right after the event.
create table stock_ledger (
    position            bigint not null,
    location            text not null,
    sku                 text not null,
    version             bigint not null,
    -- received | adjusted | reserved | released | committed | restocked
    kind                text not null,
    -- adjustment reason (count_correction, damaged, lost, found) or release reason (cancelled, expired, rejected)
    reason              text,
    order_id            uuid,
    -- the shipment a commit shipped, the return a restock came back in
    shipment_id         uuid,
    return_id           uuid,
    -- the receipt's reference (purchase order, delivery note)
    reference           text,
    on_hand_delta       bigint not null,
    reserved_delta      bigint not null,
    on_hand_after       bigint not null,
    reserved_after      bigint not null,
    available_after     bigint not null,
    sku_on_hand_after   bigint not null,
    sku_reserved_after  bigint not null,
    sku_available_after bigint not null,
    recorded_at         timestamptz not null,
    primary key (position, location)
);

create index stock_ledger_sku_position_idx on stock_ledger (sku, position);
create index stock_ledger_order_id_idx on stock_ledger (order_id);

-- orders as they stand, with the time of every state change.
create table orders (
    order_id              uuid primary key,
    customer_id           text not null,
    -- pending | confirmed | paid | partially_shipped | shipped | delivered | rejected | cancelled | expired
    status                text not null,
    currency              text not null,
    total_amount          bigint not null,
    paid_amount           bigint not null,
    refunded_amount       bigint not null,
    -- lines with units, unshipped lines at cancellation: see order_lines for the per-sku view
    line_count            integer not null,
    units                 bigint not null,
    -- [{sku, requested, available}] of a rejected order
    shortages             jsonb,
    cancel_reason         text,
    reserved_until        timestamptz,
    -- placed_at is the command side's clock (on the event); the others are when the event was recorded
    placed_at             timestamptz not null,
    confirmed_at          timestamptz,
    rejected_at           timestamptz,
    paid_at               timestamptz,
    partially_shipped_at  timestamptz,
    shipped_at            timestamptz,
    delivered_at          timestamptz,
    cancelled_at          timestamptz,
    expired_at            timestamptz,
    last_returned_at      timestamptz,
    last_refunded_at      timestamptz,
    updated_at            timestamptz not null,
    version               bigint not null,
    position              bigint not null
);

create index orders_status_placed_at_idx on orders (status, placed_at);
create index orders_customer_id_placed_at_idx on orders (customer_id, placed_at);
create index orders_placed_at_idx on orders (placed_at);

-- the lines of each order, with units shipped and returned so far.
create table order_lines (
    order_id          uuid not null,
    line_no           integer not null,
    sku               text not null,
    quantity          bigint not null,
    unit_price_amount bigint not null,
    currency          text not null,
    shipped           bigint not null,
    returned          bigint not null,
    primary key (order_id, line_no)
);

create index order_lines_sku_idx on order_lines (sku);

-- the sales projection's own memory of each order (lines, prices, whether it was confirmed): it values
-- cancellations, returns and shortages without reading another projection's tables, which may be at another
-- position. not meant for analysts.
create table sales_orders (
    order_id  uuid primary key,
    currency  text not null,
    -- [{sku, quantity, unit_price: {amount, currency}}] as placed
    lines     jsonb not null,
    confirmed boolean not null,
    -- cancelled or expired after confirmation: its unshipped lines were taken back out of the sales
    withdrawn boolean not null
);

-- sales per utc day and currency. a sale is recognised when the order is confirmed (stock reserved), on that
-- day; a cancellation or expiry of a confirmed order takes its unshipped units back out on its own day, a return
-- takes its units out on its own day. net_* = sold - cancelled - returned.
create table sales_daily (
    day                     date not null,
    currency                text not null,
    orders                  bigint not null,
    cancelled_orders        bigint not null,
    net_orders              bigint generated always as (orders - cancelled_orders) stored,
    units_sold              bigint not null,
    units_cancelled         bigint not null,
    units_returned          bigint not null,
    net_units               bigint generated always as (units_sold - units_cancelled - units_returned) stored,
    revenue_amount          bigint not null,
    cancelled_amount        bigint not null,
    returned_amount         bigint not null,
    net_revenue_amount      bigint generated always as (revenue_amount - cancelled_amount - returned_amount) stored,
    -- money paid back that day (refund events), whatever the reason
    refunded_amount         bigint not null,
    primary key (day, currency)
);

-- the same per sku.
create table sales_daily_sku (
    day                 date not null,
    sku                 text not null,
    currency            text not null,
    -- confirmed orders with this sku
    orders              bigint not null,
    units_sold          bigint not null,
    units_cancelled     bigint not null,
    units_returned      bigint not null,
    net_units           bigint generated always as (units_sold - units_cancelled - units_returned) stored,
    revenue_amount      bigint not null,
    cancelled_amount    bigint not null,
    returned_amount     bigint not null,
    net_revenue_amount  bigint generated always as (revenue_amount - cancelled_amount - returned_amount) stored,
    primary key (day, sku, currency)
);

create index sales_daily_sku_sku_day_idx on sales_daily_sku (sku, day);

-- lost demand: the shortages of rejected orders, per utc day and sku.
create table lost_demand_daily (
    day              date not null,
    sku              text not null,
    currency         text not null,
    rejected_orders  bigint not null,
    -- units the rejected orders asked for, and how many were available when they were refused
    units_requested  bigint not null,
    units_available  bigint not null,
    units_short      bigint generated always as (units_requested - units_available) stored,
    -- units_requested at the order's unit price
    lost_revenue_amount bigint not null,
    primary key (day, sku, currency)
);

create index lost_demand_daily_sku_day_idx on lost_demand_daily (sku, day);

comment on table projections is 'one row per projection: checkpoint, failure, lease holder (tally-projections)';
comment on table products is 'read model: the catalog, one row per sku';
comment on table inventory_levels is 'read model: stock per sku and location';
comment on table inventory_totals is 'read model: stock per sku, all locations';
comment on table stock_ledger is 'read model: every stock movement with the levels after it';
comment on table orders is 'read model: orders as they stand';
comment on table order_lines is 'read model: order lines with units shipped and returned';
comment on table sales_orders is 'internal to the sales projection';
comment on table sales_daily is 'read model: sales per utc day and currency';
comment on table sales_daily_sku is 'read model: sales per utc day, sku and currency';
comment on table lost_demand_daily is 'read model: shortages of rejected orders per utc day and sku';

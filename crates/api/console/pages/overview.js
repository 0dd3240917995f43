// Overview: today's orders and revenue, orders per hour, orders by status, low stock, how far each read model and
// consumer lags the log, and (for keys that may read the log) the newest events as they arrive. The figures are
// read again whenever the log's head moves, checked every two seconds.

import { get, query, tail } from "../api.js";
import { barChart } from "../chart.js";
import { h, notice, replace, table } from "../dom.js";
import { badge, clock, money, number, seconds, shortId, time, utcDay } from "../format.js";

const LOW_STOCK_BELOW = 10;

export async function render(main, { can, signal }) {
  const today = h("div", { id: "today" });
  const hourlyChart = h("div", { class: "chart", id: "hourly-chart" });
  const hourlyTable = h("div");
  const statuses = h("div", { id: "order-statuses" });
  const lowStock = h("div", { id: "low-stock" });
  const followers = h("div", { id: "followers" });
  const updated = h("p", { class: "meta", id: "updated", "aria-live": "off" });
  const problems = notice();
  replace(main,
    h("h1", {}, "Overview"),
    updated, problems,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "today-title" }, h("h2", { id: "today-title" }, `Today (${utcDay()}, UTC)`), today),
      h("section", { class: "card", "aria-labelledby": "statuses-title" }, h("h2", { id: "statuses-title" }, "Orders by status"), statuses),
      h("section", { class: "card", "aria-labelledby": "low-title" }, h("h2", { id: "low-title" }, `Low stock (fewer than ${LOW_STOCK_BELOW} available)`), lowStock),
      h("section", { class: "card wide", "aria-labelledby": "hourly-title" }, h("h2", { id: "hourly-title" }, "Orders placed per hour today (UTC)"),
        hourlyChart, h("details", {}, h("summary", {}, "The figures as a table"), hourlyTable)),
      h("section", { class: "card wide", "aria-labelledby": "lag-title" }, h("h2", { id: "lag-title" }, "Read models and consumers"), followers)));

  // The figures are read again when a read model has moved (not merely the log's head: a read model catching up
  // after the last append must still show), and marked as read only once every one of them loaded.
  let shown = null;
  async function refresh() {
    const status = await get("/v1/projections", { signal });
    showFollowers(followers, status);
    const positions = status.items.map((item) => `${item.name}:${item.position}`).join(",");
    if (positions !== shown) {
      await Promise.all([
        showToday(today, signal),
        showHourly(hourlyChart, hourlyTable, signal),
        showStatuses(statuses, signal),
        showLowStock(lowStock, signal),
      ]);
      shown = positions;
    }
    replace(updated, `Log head at position ${number(status.head)}; checked ${clock(new Date())} UTC, again every 2 s.`);
    return status.head;
  }
  const head = await refresh();
  if (can("audit")) main.querySelector(".grid").append(liveTail(head, signal));
  (async () => {
    while (!signal.aborted) {
      await new Promise((resume) => setTimeout(resume, 2000));
      if (signal.aborted) return;
      try {
        await refresh();
        problems.clear();
      } catch (error) {
        if (!signal.aborted) problems.show("error", `Could not refresh: ${error.message}`);
      }
    }
  })();
}

async function showToday(container, signal) {
  const day = utcDay();
  const page = await get(`/v1/analytics/sales${query({ from: day, to: day })}`, { signal });
  if (page.items.length === 0) {
    replace(container, h("p", { class: "empty" }, "No sales recorded today yet."));
    return;
  }
  replace(container, page.items.map((row) => h("dl", { class: "figures" },
    h("div", {}, h("dt", {}, "Orders"), h("dd", { "data-figure": "orders" }, number(row.orders))),
    h("div", {}, h("dt", {}, "Net orders"), h("dd", {}, number(row.net_orders))),
    h("div", {}, h("dt", {}, `Revenue (${row.currency})`), h("dd", { "data-figure": "revenue" }, money(row.revenue_amount, row.currency))),
    h("div", {}, h("dt", {}, `Net revenue (${row.currency})`), h("dd", {}, money(row.net_revenue_amount, row.currency))),
    h("div", {}, h("dt", {}, "Units sold"), h("dd", {}, number(row.units_sold))))),
  h("p", { class: "meta" }, "Net: after cancellations and returns. From the sales read model."));
}

async function showHourly(chart, container, signal) {
  const page = await get(`/v1/analytics/orders-per-hour${query({ day: utcDay(), limit: 500 })}`, { signal });
  const rows = page.items;
  replace(container, table({
    caption: "Orders placed per hour (UTC), not counting rejected orders",
    columns: [
      { label: "Hour (UTC)", value: (row) => row.hour.slice(11, 16) },
      { label: "Currency", value: (row) => row.currency },
      { label: "Orders", value: (row) => number(row.orders), numeric: true },
      { label: "Amount", value: (row) => money(row.amount, row.currency), numeric: true },
    ],
    rows,
    empty: "No orders placed today yet.",
  }));
  // Every hour of the day so far, an hour without orders drawn as zero.
  const start = Date.parse(`${utcDay()}T00:00:00Z`) / 1000;
  const hoursSoFar = new Date().getUTCHours() + 1;
  const x = Array.from({ length: hoursSoFar }, (_, hour) => start + hour * 3600);
  const counts = x.map((at) => rows.filter((row) => Date.parse(row.hour) / 1000 === at).reduce((sum, row) => sum + row.orders, 0));
  await barChart(chart, {
    x,
    step: 3600,
    series: [{ label: "Orders", values: counts }],
    whole: true,
    describe: `Orders placed per hour today (UTC): ${x.map((at, hour) => `${String(hour).padStart(2, "0")}:00 ${counts[hour]}`).filter((_, hour) => counts[hour] > 0).join(", ") || "none yet"}`,
  });
}

async function showStatuses(container, signal) {
  const page = await get("/v1/analytics/order-statuses", { signal });
  replace(container, table({
    columns: [
      { label: "Status", value: (row) => h("a", { href: `#/orders?status=${row.status}` }, badge(row.status)) },
      { label: "Orders", value: (row) => number(row.orders), numeric: true },
    ],
    rows: page.items,
    empty: "No orders yet.",
  }));
}

async function showLowStock(container, signal) {
  const page = await get(`/v1/inventory${query({ below: LOW_STOCK_BELOW, limit: 20 })}`, { signal });
  replace(container, table({
    columns: [
      { label: "SKU", value: (row) => h("a", { href: `#/inventory/${encodeURIComponent(row.sku)}` }, row.sku), mono: true },
      { label: "Available", value: (row) => number(row.available), numeric: true },
      { label: "On hand", value: (row) => number(row.on_hand), numeric: true },
      { label: "Reserved", value: (row) => number(row.reserved), numeric: true },
    ],
    rows: page.items,
    empty: "No SKU is low on stock.",
  }), page.next_cursor ? h("p", {}, h("a", { href: `#/inventory?below=${LOW_STOCK_BELOW}` }, "All low-stock SKUs")) : null);
}

function showFollowers(container, status) {
  const rows = [
    ...status.items.map((row) => ({ ...row, kind: "read model" })),
    ...status.followers.map((row) => ({ ...row, kind: "consumer" })),
  ];
  replace(container, table({
    caption: `The log's head: position ${number(status.head)}`,
    columns: [
      { label: "Name", value: (row) => row.name, mono: true },
      { label: "Kind", value: (row) => row.kind, narrow: false },
      { label: "State", value: (row) => badge(row.state) },
      { label: "Lag (events)", value: (row) => number(row.lag_events), numeric: true },
      { label: "Lag", value: (row) => (row.lag_seconds === undefined ? "" : seconds(row.lag_seconds)), numeric: true, narrow: false },
      { label: "Problem", value: problem, narrow: false },
    ],
    rows,
  }));
}

/** A follower's failure (it stopped) or the error that last interrupted it (it went on), in words. */
function problem(row) {
  if (row.failure) return `Stopped at position ${number(row.failure.position)}: ${row.failure.error}`;
  if (row.last_interruption) return `Interrupted ${time(row.last_interruption.at)}: ${row.last_interruption.error}`;
  return "";
}

/** The newest events, live from the SSE tail after `head` (the ten before it too), newest first (25 kept). */
function liveTail(head, signal) {
  const list = h("ol", { class: "tail", id: "live-events", reversed: true });
  const state = h("span", { class: "meta", id: "tail-state" }, "connecting…");
  const section = h("section", { class: "card wide", "aria-labelledby": "tail-title" },
    h("h2", { id: "tail-title" }, "Newest events, live"), state, list);
  (async () => {
    await tail({ after: Math.max(0, head - 10) }, (event) => {
      list.prepend(h("li", { "data-position": event.position },
        h("span", { class: "mono" }, `#${event.position}`),
        h("span", {}, h("span", { class: "type" }, event.event_type), " ",
          h("span", { class: "mono" }, event.stream_id.startsWith("order-")
            ? h("a", { href: `#/orders/${event.stream_id.slice(6)}`, title: event.stream_id }, `order-${shortId(event.stream_id.slice(6))}`)
            : event.stream_id),
          h("br"), h("span", { class: "meta" }, `${clock(event.recorded_at)} UTC by ${event.metadata?.actor_name || event.metadata?.actor || "?"}`))));
      while (list.children.length > 25) list.lastChild.remove();
    }, signal, (value) => {
      replace(state, value === "live" ? "Live." : value === "forbidden" ? "This role may not read the log." : "Reconnecting…");
    });
  })();
  return section;
}

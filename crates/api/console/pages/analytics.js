// Analytics: sales by day (a chart over its table), the top products and the demand lost to missing stock, for
// a range of UTC days. Each table downloads as CSV, the same rows the API answers with `Accept: text/csv`.

import { downloadCsv, get, getAll, query } from "../api.js";
import { barChart } from "../chart.js";
import { field, h, notice, pagedTable, replace, select, values } from "../dom.js";
import { minorUnits, money, number, utcDay } from "../format.js";

export async function render(main, { params, signal }) {
  let range = { from: params.get("from") || utcDay(-29), to: params.get("to") || utcDay() };
  let by = "units";
  const problems = notice();
  const form = h("form", { class: "inline", id: "analytics-range", "aria-label": "Days to show" },
    field("From (UTC day)", h("input", { name: "from", type: "date", value: range.from })),
    field("To (UTC day)", h("input", { name: "to", type: "date", value: range.to })),
    field("Top products by", select("by", [["units", "units"], ["revenue", "revenue"]], by)),
    h("button", { type: "submit" }, "Show"));
  const chart = h("div", { class: "chart", id: "sales-chart" });
  const sales = h("div");
  const top = h("div");
  const lost = h("div");
  // Each list's parameters: the days chosen, and how top products are ranked.
  const parameters = { sales: () => range, "top-products": () => ({ ...range, by }), "lost-demand": () => range };
  const pages = (name) => (cursor) => get(`/v1/analytics/${name}${query({ ...parameters[name](), cursor, limit: 50 })}`, { signal });
  const csvButton = (name) => h("button", { type: "button", class: "secondary", "data-csv": name,
    onclick: () => downloadCsv(`/v1/analytics/${name}`, parameters[name](), `${name}-${range.from}-${range.to}.csv`)
      .catch((error) => problems.show("error", error.message)) }, "Download CSV");

  const show = async () => {
    const salesTable = pagedTable({
      caption: "Per UTC day and currency, oldest first",
      columns: [
        { label: "Day", value: (row) => row.day },
        { label: "Currency", value: (row) => row.currency, narrow: false },
        { label: "Orders", value: (row) => number(row.orders), numeric: true },
        { label: "Cancelled", value: (row) => number(row.cancelled_orders), numeric: true, narrow: false },
        { label: "Net units", value: (row) => number(row.net_units), numeric: true },
        { label: "Revenue", value: (row) => money(row.revenue_amount, row.currency), numeric: true, narrow: false },
        { label: "Net revenue", value: (row) => money(row.net_revenue_amount, row.currency), numeric: true },
        { label: "Refunded", value: (row) => money(row.refunded_amount, row.currency), numeric: true, narrow: false },
      ],
      load: pages("sales"),
      empty: "No sales in these days.",
    });
    replace(sales, csvButton("sales"), salesTable);
    replace(top, csvButton("top-products"), pagedTable({
      caption: `Ranked by net ${by}`,
      columns: [
        { label: "SKU", value: (row) => h("a", { href: `#/inventory/${encodeURIComponent(row.sku)}` }, row.sku), mono: true },
        { label: "Currency", value: (row) => row.currency, narrow: false },
        { label: "Orders", value: (row) => number(row.orders), numeric: true },
        { label: "Net units", value: (row) => number(row.net_units), numeric: true },
        { label: "Net revenue", value: (row) => money(row.net_revenue_amount, row.currency), numeric: true },
      ],
      load: pages("top-products"),
      empty: "No products sold in these days.",
    }));
    replace(lost, csvButton("lost-demand"), pagedTable({
      caption: "Orders rejected for lack of stock, per day and SKU",
      columns: [
        { label: "Day", value: (row) => row.day },
        { label: "SKU", value: (row) => row.sku, mono: true },
        { label: "Rejected orders", value: (row) => number(row.rejected_orders), numeric: true },
        { label: "Units asked", value: (row) => number(row.units_requested), numeric: true, narrow: false },
        { label: "Units short", value: (row) => number(row.units_short), numeric: true },
        { label: "Lost revenue", value: (row) => money(row.lost_revenue_amount, row.currency), numeric: true },
      ],
      load: pages("lost-demand"),
      empty: "No demand lost in these days.",
    }));
    await drawChart(chart, range, signal);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = values(form);
    range = { from: chosen.from, to: chosen.to };
    by = chosen.by || "units";
    show().catch((error) => problems.show("error", error.message));
  });
  replace(main, h("h1", {}, "Analytics"), form, problems,
    h("div", { class: "grid halves" },
      h("section", { class: "card wide", "aria-labelledby": "sales-title" }, h("h2", { id: "sales-title" }, "Sales by day"), chart, sales),
      h("section", { class: "card", "aria-labelledby": "top-title" }, h("h2", { id: "top-title" }, "Top products"), top),
      h("section", { class: "card", "aria-labelledby": "lost-title" }, h("h2", { id: "lost-title" }, "Lost demand"), lost)));
  await show();
}

/** Net revenue per day, in the currency with the most revenue in the range (one chart, one unit). */
async function drawChart(container, range, signal) {
  const rows = await getAll("/v1/analytics/sales", range, { signal });
  const totals = new Map();
  for (const row of rows) totals.set(row.currency, (totals.get(row.currency) || 0) + row.net_revenue_amount);
  const currency = [...totals.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (!currency) {
    replace(container, h("p", { class: "empty" }, "No sales to chart in these days."));
    return;
  }
  // Every day of the range up to today, a day without sales drawn as zero.
  const net = new Map(rows.filter((row) => row.currency === currency).map((row) => [row.day, row.net_revenue_amount]));
  const first = Date.parse(`${range.from || [...net.keys()].sort()[0]}T00:00:00Z`) / 1000;
  const last = Date.parse(`${range.to && range.to < utcDay() ? range.to : utcDay()}T00:00:00Z`) / 1000;
  const x = [];
  for (let at = first; at <= last && x.length < 1000; at += 86_400) x.push(at);
  const amounts = x.map((at) => net.get(new Date(at * 1000).toISOString().slice(0, 10)) ?? 0);
  const unit = minorUnits(currency);
  await barChart(container, {
    x,
    step: 86_400,
    series: [{ label: `Net revenue (${currency})`, values: amounts.map((amount) => amount / unit) }],
    valueFormat: (value) => money(Math.round(value * unit), currency),
    describe: `Net revenue in ${currency} per day: ${[...net.entries()].sort().map(([day, amount]) => `${day} ${money(amount, currency)}`).join(", ")}`,
  });
}

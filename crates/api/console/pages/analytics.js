// Analytics: sales by day (a chart over its table), the top products and the demand lost to missing stock, for
// a range of UTC days. Each table downloads as CSV, the same rows the API answers with `Accept: text/csv`.

import { download, get, query } from "../api.js";
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
  const csvButton = (label, path, name) => h("button", { type: "button", class: "secondary", "data-csv": name,
    onclick: () => download(`${path}${query({ ...range, limit: 500 })}`, `${name}-${range.from}-${range.to}.csv`).catch((error) => problems.show("error", error.message)) }, label);

  const show = async () => {
    const path = (name, extra = {}) => (cursor) => get(`/v1/analytics/${name}${query({ ...range, ...extra, cursor, limit: 50 })}`, { signal });
    const salesTable = pagedTable({
      caption: "Per UTC day and currency, newest first",
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
      load: path("sales"),
      empty: "No sales in these days.",
    });
    replace(sales, csvButton("Download CSV", "/v1/analytics/sales", "sales"), salesTable);
    replace(top, csvButton("Download CSV", "/v1/analytics/top-products", "top-products"), pagedTable({
      caption: `Ranked by net ${by}`,
      columns: [
        { label: "SKU", value: (row) => h("a", { href: `#/inventory/${encodeURIComponent(row.sku)}` }, row.sku), mono: true },
        { label: "Currency", value: (row) => row.currency, narrow: false },
        { label: "Orders", value: (row) => number(row.orders), numeric: true },
        { label: "Net units", value: (row) => number(row.net_units), numeric: true },
        { label: "Net revenue", value: (row) => money(row.net_revenue_amount, row.currency), numeric: true },
      ],
      load: path("top-products", { by }),
      empty: "No products sold in these days.",
    }));
    replace(lost, csvButton("Download CSV", "/v1/analytics/lost-demand", "lost-demand"), pagedTable({
      caption: "Orders rejected for lack of stock, per day and SKU",
      columns: [
        { label: "Day", value: (row) => row.day },
        { label: "SKU", value: (row) => row.sku, mono: true },
        { label: "Rejected orders", value: (row) => number(row.rejected_orders), numeric: true },
        { label: "Units asked", value: (row) => number(row.units_requested), numeric: true, narrow: false },
        { label: "Units short", value: (row) => number(row.units_short), numeric: true },
        { label: "Lost revenue", value: (row) => money(row.lost_revenue_amount, row.currency), numeric: true },
      ],
      load: path("lost-demand"),
      empty: "No demand lost in these days.",
    }));
    await Promise.all([salesTable.ready, drawChart(chart, range, signal)]);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = values(form);
    range = { from: chosen.from, to: chosen.to };
    by = chosen.by || "units";
    show().catch((error) => problems.show("error", error.message));
  });
  replace(main, h("h1", {}, "Analytics"), form, problems,
    h("div", { class: "grid" },
      h("section", { class: "card wide", "aria-labelledby": "sales-title" }, h("h2", { id: "sales-title" }, "Sales by day"), chart, sales),
      h("section", { class: "card", "aria-labelledby": "top-title" }, h("h2", { id: "top-title" }, "Top products"), top),
      h("section", { class: "card", "aria-labelledby": "lost-title" }, h("h2", { id: "lost-title" }, "Lost demand"), lost)));
  await show();
}

/** Net revenue per day, in the currency with the most revenue in the range (one chart, one unit). */
async function drawChart(container, range, signal) {
  const rows = (await get(`/v1/analytics/sales${query({ ...range, limit: 500 })}`, { signal })).items;
  const totals = new Map();
  for (const row of rows) totals.set(row.currency, (totals.get(row.currency) || 0) + row.net_revenue_amount);
  const currency = [...totals.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (!currency) {
    replace(container, h("p", { class: "empty" }, "No sales to chart in these days."));
    return;
  }
  const days = rows.filter((row) => row.currency === currency).sort((a, b) => a.day.localeCompare(b.day));
  const unit = minorUnits(currency);
  await barChart(container, {
    x: days.map((row) => Date.parse(`${row.day}T00:00:00Z`) / 1000),
    series: [{ label: `Net revenue (${currency})`, values: days.map((row) => row.net_revenue_amount / unit) }],
    valueFormat: (value) => money(Math.round(value * unit), currency),
    describe: `Net revenue in ${currency} per day: ${days.map((row) => `${row.day} ${money(row.net_revenue_amount, currency)}`).join(", ")}`,
  });
}

// Orders: the list with its filters, placing an order, and one order with its lines, its timeline and the
// actions the key's role may take (pay, ship all or some lines, deliver, cancel, return, refund). Each action is
// one command: sent with an Idempotency-Key (a double click or a retry is applied once) and If-Match with the
// version on screen (acting on a stale page is refused in words, not applied).

import { call, get, getAll, onCommand, query } from "../api.js";
import { field, h, notice, pagedTable, replace, select, suggesting, table, values } from "../dom.js";
import { badge, fromLocalInput, minorUnits, money, number, shortId, time } from "../format.js";

const STATUSES = ["pending", "confirmed", "paid", "partially_shipped", "shipped", "delivered", "rejected", "cancelled", "expired"];

export async function render(main, context) {
  const [id] = context.args;
  if (id) return renderOrder(main, context, id);
  return renderList(main, context);
}

async function renderList(main, { can, params, navigate, signal }) {
  const sections = [h("h1", {}, "Orders")];
  if (can("checkout")) sections.push(await placeOrderForm(navigate, signal));
  if (can("query")) {
    sections.push(listSection(params, navigate, signal));
  } else {
    sections.push(findOrderForm(navigate));
  }
  replace(main, sections);
}

function listSection(params, navigate, signal) {
  const filters = h("form", { class: "inline", role: "search", "aria-label": "Filter orders" },
    field("Status", select("status", [["", "any"], ...STATUSES.map((status) => [status, status.replace("_", " ")])], params.get("status") || "")),
    field("Customer", h("input", { name: "customer_id", value: params.get("customer_id") || "", size: 14 })),
    field("Placed after (UTC)", h("input", { name: "placed_after", type: "datetime-local" })),
    field("Placed before (UTC)", h("input", { name: "placed_before", type: "datetime-local" })),
    h("button", { type: "submit" }, "Filter"));
  let current = { status: params.get("status") || undefined, customer_id: params.get("customer_id") || undefined };
  const list = pagedTable({
    caption: "In the order they were placed",
    columns: [
      { label: "Order", value: (row) => h("a", { href: `#/orders/${row.order_id}`, title: row.order_id, class: "mono" }, shortId(row.order_id)) },
      { label: "Status", value: (row) => badge(row.status) },
      { label: "Customer", value: (row) => row.customer_id },
      { label: "Total", value: (row) => money(row.total), numeric: true },
      { label: "Units", value: (row) => number(row.units), numeric: true, narrow: false },
      { label: "Placed", value: (row) => time(row.placed_at), narrow: false },
    ],
    load: (cursor) => get(`/v1/orders${query({ ...current, cursor, limit: 25 })}`, { signal }),
    empty: "No orders match.",
  });
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = values(filters);
    current = {
      status: chosen.status,
      customer_id: chosen.customer_id,
      placed_after: fromLocalInput(chosen.placed_after),
      placed_before: fromLocalInput(chosen.placed_before),
    };
    list.reload();
  });
  return h("section", { class: "card", "aria-labelledby": "orders-list-title" },
    h("h2", { id: "orders-list-title" }, "All orders"), filters, list);
}

function findOrderForm(navigate) {
  const input = h("input", { name: "order_id", required: true, size: 38, spellcheck: "false" });
  const form = h("form", { class: "inline" }, field("Order id", input), h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value.trim()) navigate(`orders/${encodeURIComponent(input.value.trim())}`);
  });
  return h("section", { class: "card", "aria-labelledby": "find-title" },
    h("h2", { id: "find-title" }, "Find an order"),
    h("p", { class: "meta" }, "This role may open an order by its id; the list of all orders needs a query role."), form);
}

/** Place an order: a customer and lines of active products. */
async function placeOrderForm(navigate, signal) {
  const products = await getAll("/v1/products", { status: "active" }, { signal });
  const choices = products.map((product) => [product.sku, `${product.name} · ${money(product.price)}`]);
  const lines = h("div", { class: "lines" });
  const addLine = () => {
    const line = h("div", { class: "line" },
      field("Product (SKU)", suggesting("sku", choices, { required: true, maxlength: 64 })),
      field("Quantity", h("input", { name: "quantity", type: "number", min: 1, max: 1000000, value: 1, required: true })),
      h("button", { type: "button", class: "secondary", onclick: () => { if (lines.children.length > 1) line.remove(); } }, "Remove line"));
    lines.append(line);
  };
  addLine();
  const status = notice();
  const form = h("form", { class: "stack", id: "place-order" },
    field("Customer id", h("input", { name: "customer_id", required: true, maxlength: 128 })),
    lines,
    h("div", { class: "toolbar" },
      h("button", { type: "button", class: "secondary", onclick: addLine }, "Add a line"),
      h("button", { type: "submit" }, "Place order")),
    status);
  onCommand(form, (idempotencyKey) => call("/v1/orders", { method: "POST", idempotencyKey, body: {
    customer_id: form.elements.customer_id.value.trim(),
    lines: [...lines.children].map((line) => ({
      sku: line.querySelector("[name=sku]").value,
      quantity: Number(line.querySelector("[name=quantity]").value),
    })),
  } }), {
    done: (answer) => navigate(`orders/${answer.data.order_id}${query({ after: answer.position })}`, "Order placed."),
    failed: (error) => status.show("error", error.message),
  });
  return h("section", { class: "card", "aria-labelledby": "place-title" },
    h("h2", { id: "place-title" }, "Place an order"),
    products.length ? form : h("p", { class: "empty" }, "There are no active products to order."));
}

async function renderOrder(main, context, id) {
  const { can, params, signal } = context;
  const after = params.get("after");
  const order = await get(`/v1/orders/${encodeURIComponent(id)}${query({ min_position: after })}`, { signal });
  const outcome = notice();
  if (context.flash) outcome.show("ok", context.flash);
  replace(main,
    h("p", {}, h("a", { href: "#/orders" }, "← All orders")),
    h("h1", {}, "Order ", h("span", { class: "mono" }, order.order_id)),
    outcome,
    h("div", { class: "grid" },
      summary(order),
      h("section", { class: "card", "aria-labelledby": "lines-title" }, h("h2", { id: "lines-title" }, "Lines"), lines(order)),
      can("checkout") || can("fulfilment") ? actions(order, context, outcome) : null,
      h("section", { class: "card wide", "aria-labelledby": "timeline-title" },
        h("h2", { id: "timeline-title" }, "Timeline"),
        can("audit") ? await history(order, signal) : milestones(order))));
}

function summary(order) {
  const facts = [
    ["Status", badge(order.status)],
    ["Customer", order.customer_id],
    ["Total", money(order.total)],
    ["Paid", money(order.paid)],
    ["Refunded", money(order.refunded)],
    ["Units", number(order.units)],
    ["Placed", time(order.placed_at)],
    ["Version", String(order.version)],
  ];
  if (order.reserved_until && ["pending", "confirmed"].includes(order.status)) facts.push(["Stock reserved until", time(order.reserved_until)]);
  if (order.cancel_reason) facts.push(["Cancelled because", order.cancel_reason]);
  return h("section", { class: "card", "aria-labelledby": "summary-title" },
    h("h2", { id: "summary-title" }, "Summary"),
    h("dl", { class: "figures", id: "order-summary" }, facts.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value)))),
    order.shortages ? h("p", { class: "notice error" }, "Rejected for lack of stock: ",
      order.shortages.map((shortage) => `${shortage.sku} (asked ${shortage.requested}, ${shortage.available} available)`).join("; ")) : null);
}

function lines(order) {
  return table({
    columns: [
      { label: "SKU", value: (line) => line.sku, mono: true },
      { label: "Quantity", value: (line) => number(line.quantity), numeric: true },
      { label: "Unit price", value: (line) => money(line.unit_price), numeric: true },
      { label: "Shipped", value: (line) => number(line.shipped), numeric: true },
      { label: "Returned", value: (line) => number(line.returned), numeric: true },
    ],
    rows: order.lines,
  });
}

/** The order's milestones from its read model (the full history, with who did what, needs the audit role). */
function milestones(order) {
  const steps = [
    ["Placed", order.placed_at], ["Confirmed", order.confirmed_at], ["Rejected", order.rejected_at],
    ["Paid", order.paid_at], ["Partially shipped", order.partially_shipped_at], ["Shipped", order.shipped_at],
    ["Delivered", order.delivered_at], ["Cancelled", order.cancelled_at], ["Expired", order.expired_at],
    ["Last return", order.last_returned_at], ["Last refund", order.last_refunded_at],
  ].filter(([, at]) => at).sort((a, b) => a[1].localeCompare(b[1]));
  return [
    h("ol", { class: "timeline" }, steps.map(([what, at]) => h("li", {}, h("span", { class: "what" }, what), " · ", time(at)))),
    h("p", { class: "meta" }, "Who did each step is in the order's history, which the auditor and admin roles can read."),
  ];
}

/** Every event of the order, who recorded it, and the order's state after it (`GET /v1/orders/{id}/history`). */
async function history(order, signal) {
  const page = await get(`/v1/orders/${order.order_id}/history`, { signal });
  return h("ol", { class: "timeline", id: "order-history" }, page.items.map((step) => {
    const event = step.event;
    const state = step.state_after || {};
    return h("li", {},
      h("span", { class: "what" }, event.event_type), " · ", time(event.recorded_at), " · by ",
      h("strong", {}, event.metadata?.actor_name || step.actor || event.metadata?.actor || "unknown"),
      h("div", { class: "meta" }, `Version ${event.stream_version}, position ${event.position}; after it: `,
        badge(state.status), state.paid?.amount > 0 ? ` paid ${money(state.paid)}` : ""),
      h("details", {}, h("summary", {}, "Event data"), h("pre", {}, JSON.stringify(event.data, null, 2))));
  }));
}

/** The commands the role may send, each a small form. */
function actions(order, context, outcome) {
  const { can, navigate } = context;
  const currency = order.currency;
  const unit = minorUnits(currency);
  const toMinor = (text) => Math.round(Number(text) * unit);
  const outstanding = Math.max(0, order.total.amount - order.paid.amount);
  const refundable = Math.max(0, order.paid.amount - order.refunded.amount);
  const unshipped = order.lines.map((line) => ({ sku: line.sku, left: line.quantity - line.shipped }));
  const returnable = order.lines.map((line) => ({ sku: line.sku, left: line.shipped - line.returned }));
  const amountInput = (value) => h("input", { name: "amount", type: "number", min: 0, step: 1 / unit, value: (value / unit).toFixed(Math.log10(unit)), required: true });
  const lineInputs = (rows) => rows.filter((row) => row.left > 0).map((row) =>
    field(`${row.sku} (up to ${row.left})`, h("input", { name: `line:${row.sku}`, type: "number", min: 0, max: row.left, value: row.left })));
  const chosenLines = (form) => [...form.elements].filter((element) => element.name?.startsWith("line:") && Number(element.value) > 0)
    .map((element) => ({ sku: element.name.slice(5), quantity: Number(element.value) }));

  /** One action: a fieldset with its inputs and a button; `body(form)` builds the request. */
  const action = (name, legend, path, inputs, body, button = legend) => {
    const form = h("form", { id: `action-${name}` }, h("fieldset", {}, h("legend", {}, legend), inputs, h("button", { type: "submit" }, button)));
    return onCommand(form,
      (idempotencyKey) => call(`/v1/orders/${order.order_id}/${path}`, { method: "POST", body: body(form), idempotencyKey, ifMatch: order.version }),
      {
        done: (answer) => navigate(`orders/${order.order_id}${query({ after: answer.position })}`, `${legend}: done.`),
        failed: (error) => {
          outcome.show("error", `${legend}: ${error.message}`);
          outcome.scrollIntoView({ block: "nearest" });
        },
      });
  };

  const forms = [];
  if (can("checkout")) {
    forms.push(action("pay", "Pay", "payments", [field(`Amount (${currency})`, amountInput(outstanding)), field("Reference", h("input", { name: "reference", maxlength: 500 }))],
      (form) => ({ amount: toMinor(form.elements.amount.value), currency, reference: values(form).reference })));
  }
  if (can("fulfilment")) {
    forms.push(action("ship", "Ship", "shipments", [
      ...lineInputs(unshipped),
      field("Carrier", h("input", { name: "carrier", maxlength: 500 })),
      field("Tracking number", h("input", { name: "tracking_number", maxlength: 500 })),
    ], (form) => {
      const chosen = chosenLines(form);
      const all = chosen.length === unshipped.filter((row) => row.left > 0).length && chosen.every((line) => unshipped.find((row) => row.sku === line.sku).left === line.quantity);
      const { carrier, tracking_number } = values(form);
      return { lines: all ? undefined : chosen, carrier, tracking_number };
    }));
    forms.push(action("deliver", "Mark delivered", "delivery", [h("p", { class: "meta" }, "Every line has arrived.")], () => undefined));
  }
  if (can("checkout")) {
    forms.push(action("cancel", "Cancel", "cancellation", [field("Reason", h("input", { name: "reason", maxlength: 500 }))],
      (form) => ({ reason: values(form).reason }), "Cancel the order"));
  }
  if (can("fulfilment")) {
    forms.push(action("return", "Return", "returns", [
      ...lineInputs(returnable),
      h("label", { class: "check" }, h("input", { name: "restock", type: "checkbox", checked: true }), "Put the units back in stock"),
      field("Restock at location", h("input", { name: "location", placeholder: "main", maxlength: 64 })),
    ], (form) => ({ lines: chosenLines(form), restock: form.elements.restock.checked, location: values(form).location }), "Record the return"));
    forms.push(action("refund", "Refund", "refunds", [field(`Amount (${currency})`, amountInput(refundable)), field("Reason", h("input", { name: "reason", maxlength: 500 }))],
      (form) => ({ amount: toMinor(form.elements.amount.value), currency, reason: values(form).reason })));
  }
  return h("section", { class: "card wide", "aria-labelledby": "actions-title" },
    h("h2", { id: "actions-title" }, "Actions"),
    h("p", { class: "meta" }, "The server decides whether an action is possible now; a refusal is shown above in words."),
    h("div", { class: "actions" }, forms));
}


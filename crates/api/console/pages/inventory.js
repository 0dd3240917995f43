// Inventory: stock per SKU and location (all, or only what runs low), one SKU's ledger of movements, receipts
// and adjustments for back-office roles, and the catalog (register, reprice, discontinue).

import { call, get, getAll, onCommand, query } from "../api.js";
import { field, h, notice, pagedTable, replace, select, suggesting, table, values } from "../dom.js";
import { badge, minorUnits, money, number, shortId, time } from "../format.js";

const REASONS = [["count_correction", "count correction (+/-)"], ["damaged", "damaged (-)"], ["lost", "lost (-)"], ["found", "found (+)"]];

export async function render(main, context) {
  const [sku] = context.args;
  if (sku === "catalog") return renderCatalog(main, context);
  if (sku) return renderSku(main, context, sku);
  return renderStock(main, context);
}

function tabs(current) {
  return h("nav", { class: "tabs", "aria-label": "Inventory views" },
    h("a", { href: "#/inventory", "aria-current": current === "stock" ? "page" : undefined }, "Stock"),
    h("a", { href: "#/inventory/catalog", "aria-current": current === "catalog" ? "page" : undefined }, "Catalog"));
}

async function renderStock(main, { can, params, signal, navigate }) {
  const sections = [h("h1", {}, "Inventory"), tabs("stock")];
  const outcome = notice();
  sections.push(outcome);
  if (can("back-office")) sections.push(await stockForms(outcome, navigate, signal));
  if (can("query")) {
    const below = params.get("below") || "";
    const filter = h("form", { class: "inline", role: "search", "aria-label": "Filter stock" },
      field("Only SKUs with fewer available than", h("input", { name: "below", type: "number", min: 0, value: below })),
      h("button", { type: "submit" }, "Show"));
    let current = below;
    const list = pagedTable({
      caption: "Stock per SKU; available = on hand − reserved",
      columns: [
        { label: "SKU", value: (row) => h("a", { href: `#/inventory/${encodeURIComponent(row.sku)}` }, row.sku), mono: true },
        { label: "Available", value: (row) => number(row.available), numeric: true },
        { label: "On hand", value: (row) => number(row.on_hand), numeric: true },
        { label: "Reserved", value: (row) => number(row.reserved), numeric: true },
        { label: "Per location", value: (row) => row.locations.map((location) => `${location.location}: ${number(location.available)} of ${number(location.on_hand)}`).join("; "), narrow: false },
      ],
      load: (cursor) => get(`/v1/inventory${query({ below: current, cursor, limit: 50 })}`, { signal }),
      empty: "No SKU matches.",
    });
    filter.addEventListener("submit", (event) => {
      event.preventDefault();
      current = values(filter).below;
      list.reload();
    });
    sections.push(h("section", { class: "card", "aria-labelledby": "stock-title" }, h("h2", { id: "stock-title" }, "Stock"), filter, list));
  }
  replace(main, sections);
}

/** Receipts and adjustments: one form each, for any SKU of the catalog. */
async function stockForms(outcome, navigate, signal) {
  const choices = (await getAll("/v1/products", {}, { signal })).map((product) => [product.sku, product.name]);
  const command = (id, legend, path, inputs, body) => {
    const form = h("form", { id }, h("fieldset", {}, h("legend", {}, legend), field("SKU", suggesting("sku", choices, { required: true, maxlength: 64 })), inputs, h("button", { type: "submit" }, legend)));
    const sku = () => form.elements.sku.value;
    return onCommand(form,
      (idempotencyKey) => call(`/v1/inventory/${encodeURIComponent(sku())}/${path}`, { method: "POST", body: body(form), idempotencyKey }),
      {
        done: (answer) => navigate(`inventory/${encodeURIComponent(sku())}${query({ after: answer.position })}`, `${legend}: recorded.`),
        failed: (error) => outcome.show("error", `${legend}: ${error.message}`),
      });
  };
  return h("section", { class: "card", "aria-labelledby": "movements-title" },
    h("h2", { id: "movements-title" }, "Receive or adjust stock"),
    h("div", { class: "actions" },
      command("receive-stock", "Receive stock", "receipts", [
        field("Quantity", h("input", { name: "quantity", type: "number", min: 1, required: true })),
        field("Location", h("input", { name: "location", placeholder: "main", maxlength: 64 })),
        field("Reference", h("input", { name: "reference", placeholder: "PO-1234", maxlength: 500 })),
      ], (form) => ({ quantity: Number(form.elements.quantity.value), ...pick(values(form), ["location", "reference"]) })),
      command("adjust-stock", "Adjust stock", "adjustments", [
        field("Change (units, + or −)", h("input", { name: "delta", type: "number", required: true })),
        field("Reason", select("reason", REASONS)),
        field("Location", h("input", { name: "location", placeholder: "main", maxlength: 64 })),
      ], (form) => ({ delta: Number(form.elements.delta.value), reason: form.elements.reason.value, ...pick(values(form), ["location"]) }))));
}

function pick(object, names) {
  return Object.fromEntries(names.filter((name) => object[name] !== undefined).map((name) => [name, object[name]]));
}

async function renderSku(main, { can, params, signal, flash }, sku) {
  const after = params.get("after");
  const stock = await get(`/v1/inventory/${encodeURIComponent(sku)}${query({ min_position: after })}`, { signal });
  const outcome = notice();
  if (flash) outcome.show("ok", flash);
  replace(main,
    h("p", {}, h("a", { href: "#/inventory" }, "← All stock")),
    h("h1", {}, "Stock of ", h("span", { class: "mono" }, stock.sku)),
    outcome,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "levels-title" }, h("h2", { id: "levels-title" }, "Levels"),
        h("dl", { class: "figures", id: "sku-levels" },
          h("div", {}, h("dt", {}, "Available"), h("dd", {}, number(stock.available))),
          h("div", {}, h("dt", {}, "On hand"), h("dd", {}, number(stock.on_hand))),
          h("div", {}, h("dt", {}, "Reserved"), h("dd", {}, number(stock.reserved)))),
        table({
          caption: "Per location",
          columns: [
            { label: "Location", value: (row) => row.location },
            { label: "Available", value: (row) => number(row.available), numeric: true },
            { label: "On hand", value: (row) => number(row.on_hand), numeric: true },
            { label: "Reserved", value: (row) => number(row.reserved), numeric: true },
          ],
          rows: stock.locations,
        })),
      can("query") ? h("section", { class: "card wide", "aria-labelledby": "ledger-title" }, h("h2", { id: "ledger-title" }, "Ledger"),
        pagedTable({
          caption: "Every movement, oldest first, with the levels after it",
          columns: [
            { label: "Position", value: (row) => String(row.position), numeric: true, narrow: false },
            { label: "When", value: (row) => time(row.recorded_at) },
            { label: "What", value: (row) => [row.kind, row.reason ? ` (${row.reason})` : ""] },
            { label: "Location", value: (row) => row.location },
            { label: "On hand ±", value: (row) => signed(row.on_hand_delta), numeric: true },
            { label: "Reserved ±", value: (row) => signed(row.reserved_delta), numeric: true, narrow: false },
            { label: "Available after", value: (row) => number(row.sku_available_after), numeric: true },
            { label: "Because of", value: (row) => (row.order_id ? h("a", { href: `#/orders/${row.order_id}`, title: row.order_id }, `order ${shortId(row.order_id)}`) : row.reference || ""), narrow: false },
          ],
          load: (cursor) => get(`/v1/inventory/${encodeURIComponent(sku)}/ledger${query({ cursor, limit: 50, min_position: after })}`, { signal }),
          empty: "No movements yet.",
        })) : null));
}

function signed(value) {
  return value > 0 ? `+${number(value)}` : number(value);
}

async function renderCatalog(main, { can, params, signal, navigate, flash }) {
  const outcome = notice();
  if (flash) outcome.show("ok", flash);
  const after = params.get("after");
  const sections = [h("h1", {}, "Catalog"), tabs("catalog"), outcome];
  /** Makes `form` send the catalog command `request()` describes: `{path, body, done}` (what to say after). */
  const catalogCommand = (form, request) => {
    let sent;
    return onCommand(form, (idempotencyKey) => {
      sent = request();
      return call(sent.path, { method: "POST", body: sent.body, idempotencyKey });
    }, {
      done: (answer) => navigate(`inventory/catalog${query({ after: answer.position })}`, sent.done),
      failed: (error) => outcome.show("error", error.message),
    });
  };
  if (can("back-office")) {
    const register = h("form", { id: "register-product" }, h("fieldset", {}, h("legend", {}, "Register a product"),
      field("SKU", h("input", { name: "sku", required: true, maxlength: 64, placeholder: "TEE-BLUE-L" })),
      field("Name", h("input", { name: "name", required: true, maxlength: 200 })),
      field("Price", h("input", { name: "amount", type: "number", min: 0, step: "0.01", required: true })),
      field("Currency", h("input", { name: "currency", value: "EUR", maxlength: 3, size: 4, required: true })),
      h("button", { type: "submit" }, "Register")));
    catalogCommand(register, () => {
      const form = values(register);
      const currency = (form.currency || "").toUpperCase();
      const price = { amount: Math.round(Number(form.amount) * minorUnits(currency)), currency };
      return { path: "/v1/products", body: { sku: form.sku, name: form.name, price }, done: `Registered ${form.sku}.` };
    });
    sections.push(h("section", { class: "card", "aria-labelledby": "catalog-forms" }, h("h2", { id: "catalog-forms" }, "Change the catalog"),
      h("div", { class: "actions" }, register)));
  }
  const products = pagedTable({
    caption: "Every product, by SKU",
    columns: [
      { label: "SKU", value: (row) => row.sku, mono: true },
      { label: "Name", value: (row) => row.name },
      { label: "Price", value: (row) => money(row.price), numeric: true },
      { label: "Status", value: (row) => badge(row.status) },
      ...(can("back-office") ? [{ label: "Change", value: (row) => productActions(row, catalogCommand) }] : []),
    ],
    load: (cursor) => get(`/v1/products${query({ cursor, limit: 50, min_position: after })}`, { signal }),
    empty: "The catalog is empty.",
  });
  sections.push(h("section", { class: "card", "aria-labelledby": "products-title" }, h("h2", { id: "products-title" }, "Products"), products));
  replace(main, sections);
}

/** Reprice and discontinue, in the product's row. */
function productActions(product, catalogCommand) {
  if (product.status !== "active") return "";
  const sku = encodeURIComponent(product.sku);
  const unit = minorUnits(product.price.currency);
  const reprice = h("form", { class: "inline", "aria-label": `Reprice ${product.sku}` },
    field(`New price (${product.price.currency})`, h("input", { name: "amount", type: "number", min: 0, step: 1 / unit, value: (product.price.amount / unit).toFixed(Math.log10(unit)), required: true })),
    h("button", { type: "submit", class: "secondary" }, "Reprice"));
  catalogCommand(reprice, () => ({
    path: `/v1/products/${sku}/price`,
    body: { amount: Math.round(Number(reprice.elements.amount.value) * unit), currency: product.price.currency },
    done: `Repriced ${product.sku}.`,
  }));
  const discontinue = h("form", { class: "inline", "aria-label": `Discontinue ${product.sku}` },
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "sure", required: true }), "No more orders for it"),
    h("button", { type: "submit", class: "danger" }, "Discontinue"));
  catalogCommand(discontinue, () => ({ path: `/v1/products/${sku}/discontinuation`, done: `Discontinued ${product.sku}.` }));
  return [reprice, discontinue];
}

// Building the page from data without ever writing HTML: elements are made by `h`, text goes in as text nodes
// and attributes are set one by one, so nothing an API answer holds can become markup or script.

/** An element: `h("a", {href: "#/orders", class: "x", onclick: fn}, "text", child, [more])`. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "disabled" || name === "selected") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends text (as text), nodes and arrays of them; skips null, undefined and false. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces everything in `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

let lastId = 0;
/** A unique element id, for labels and descriptions. */
export function uid(prefix = "f") {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

/** A labelled control: `field("Customer", h("input", {name: "customer_id"}), "hint")`. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid(control.name || "field");
  const parts = [h("span", {}, label), control];
  if (hint) {
    const hintId = uid("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "meta" }, hint));
  }
  const wrapper = h("label", { for: control.id }, parts);
  return wrapper;
}

/** A `<select>` of `[value, text]` pairs (or plain values), with `selected` chosen. */
export function select(name, options, selected) {
  return h("select", { name }, options.map((option) => {
    const [value, text] = Array.isArray(option) ? option : [option, option];
    return h("option", { value, selected: value === selected }, text);
  }));
}

/** A message area: `role="alert"` for errors (read out at once), `role="status"` for the rest. */
export function notice() {
  const area = h("div", { class: "notice", role: "status", "aria-live": "polite" });
  area.show = (kind, ...text) => {
    area.className = `notice ${kind}`;
    area.setAttribute("role", kind === "error" ? "alert" : "status");
    replace(area, ...text);
  };
  area.clear = () => replace(area);
  return area;
}

/**
 * A table: `columns` are `{label, value: (row) => text or node, numeric?, narrow?}`; `narrow: false` hides a
 * column on small screens. Rows with nothing show `empty`.
 */
export function table({ caption, columns, rows, empty = "Nothing to show.", rowAttributes }) {
  const cls = (column) => [column.numeric ? "num" : "", column.mono ? "mono" : "", column.narrow === false ? "hide-narrow" : ""]
    .filter(Boolean).join(" ") || undefined;
  const head = h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col", class: cls(column) }, column.label))));
  const body = h("tbody", {}, rows.length === 0
    ? h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty))
    : rows.map((row) => h("tr", rowAttributes ? rowAttributes(row) : {}, columns.map((column) =>
      h("td", { class: cls(column) }, column.value(row))))));
  return h("div", { class: "table-wrap" }, h("table", {}, caption ? h("caption", {}, caption) : null, head, body));
}

/** Disables a form's controls while `work` runs, so a double click sends nothing twice. */
export async function busy(form, work) {
  const controls = [...form.querySelectorAll("button, input, select, textarea")];
  const before = controls.map((control) => control.disabled);
  controls.forEach((control) => { control.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    controls.forEach((control, index) => { control.disabled = before[index]; });
    form.removeAttribute("aria-busy");
  }
}

/**
 * The form's named values, trimmed; empty ones and unticked boxes left out. Read from the controls themselves
 * (not `FormData`, which skips disabled controls: a form is disabled while it is being sent).
 */
export function values(form) {
  const result = {};
  for (const control of form.elements) {
    if (!control.name || control.type === "submit" || control.type === "button") continue;
    if ((control.type === "checkbox" || control.type === "radio") && !control.checked) continue;
    const text = control.value.trim();
    if (text !== "") result[control.name] = text;
  }
  return result;
}

/**
 * A table paged the API's one way (`limit`, `cursor` -> `next_cursor`): `load(cursor)` answers a page
 * `{items, next_cursor}`. "Previous" goes back through the cursors seen. `element.reload()` starts again.
 */
export function pagedTable({ caption, columns, load, empty, rowAttributes }) {
  const element = h("div", { class: "paged" });
  const status = notice();
  const cursors = [null];
  let index = 0;
  async function show() {
    try {
      const page = await load(cursors[index]);
      cursors.length = index + 1;
      if (page.next_cursor) cursors.push(page.next_cursor);
      const previous = h("button", { type: "button", class: "secondary", disabled: index === 0,
        onclick: () => { index -= 1; show(); } }, "Previous page");
      const next = h("button", { type: "button", class: "secondary", disabled: !page.next_cursor,
        onclick: () => { index += 1; show(); } }, "Next page");
      replace(element, table({ caption, columns, rows: page.items, empty, rowAttributes }), status,
        cursors.length > 1 || index > 0 ? h("div", { class: "pager" }, previous, next, h("span", { class: "meta" }, `Page ${index + 1}`)) : null);
      status.clear();
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(element, status);
      status.show("error", error.message);
    }
  }
  element.reload = () => { cursors.splice(1); index = 0; return show(); };
  element.ready = show();
  return element;
}

// Building the page from data without ever writing HTML: elements are made by `h`, text goes in as text nodes
// and attributes are set one by one, so nothing an API answer holds can become markup or script.

/** An element: `h("a", {href: "#/orders", class: "x", onclick: fn}, "text", child, [more])`. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) {
      // Handlers are functions, never text: an attribute `on...` from data would be script.
      if (typeof value !== "function") throw new Error(`${name} must be a function`);
      element.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "disabled" || name === "selected") {
      element[name] = value;
    } else {
      if (["href", "src", "action"].includes(name) && !/^(#|\/(?!\/)|blob:)/.test(String(value))) {
        // Only addresses of this console: never `javascript:` or another site, whatever the data holds.
        throw new Error(`${name} must be an address of this site: ${value}`);
      }
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

/**
 * A labelled control: `field("Customer", h("input", {name: "customer_id"}), "hint")`: the label names it, the
 * hint (outside the label, so it is read once) describes it.
 */
export function field(label, control, hint) {
  if (!control.id) control.id = uid(control.name || "field");
  let hintElement = null;
  if (hint) {
    hintElement = h("small", { id: uid("hint"), class: "meta" }, hint);
    control.setAttribute("aria-describedby", hintElement.id);
  }
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, control.suggestions ?? null, hintElement);
}

/**
 * A text input suggesting `choices` (`[value, text]` pairs) as one types, through a `<datalist>`: for lists that
 * may be too long for a `<select>` (a catalog of thousands). What is typed is checked by the server.
 */
export function suggesting(name, choices, attributes = {}) {
  const suggestions = h("datalist", { id: uid(`${name}-choices`) }, choices.map(([value, text]) => h("option", { value }, text)));
  const input = h("input", { name, list: suggestions.id, autocomplete: "off", spellcheck: "false", ...attributes });
  input.suggestions = suggestions;
  return input;
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
  const area = h("div", { class: "notice", role: "status" });
  area.show = (kind, ...text) => {
    const role = kind === "error" ? "alert" : "status";
    const before = `${area.className}|${area.textContent}`;
    const next = h("div", {}, ...text).textContent;
    // The same message again is not announced again (a refresh failing every few seconds).
    if (before === `notice ${kind}|${next}`) return;
    area.className = `notice ${kind}`;
    area.setAttribute("role", role);
    replace(area, ...text);
  };
  area.clear = () => {
    area.className = "notice";
    replace(area);
  };
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

/**
 * Disables a form's controls while `work` runs, so a double click sends nothing twice; then gives the focus back
 * to where it was (a disabled button loses it to the page), so a keyboard user stays at the form.
 */
export async function busy(form, work) {
  const focused = document.activeElement;
  const controls = [...form.querySelectorAll("button, input, select, textarea")];
  const before = controls.map((control) => control.disabled);
  controls.forEach((control) => { control.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    controls.forEach((control, index) => { control.disabled = before[index]; });
    form.removeAttribute("aria-busy");
    if (focused && focused.isConnected && (document.activeElement === document.body || document.activeElement === null)) {
      focused.focus();
    }
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
 * `{items, next_cursor}`. "Previous" goes back through the cursors seen. `element.reload()` starts again. Only
 * the newest request's answer is shown (a filter changed while a page loads wins), and the pager is disabled
 * while a page loads.
 */
export function pagedTable({ caption, columns, load, empty, rowAttributes }) {
  const element = h("div", { class: "paged" });
  const status = notice();
  let cursors = [null];
  let index = 0;
  let latest = 0;
  async function show(focus) {
    const request = ++latest;
    element.querySelectorAll(".pager button").forEach((button) => { button.disabled = true; });
    try {
      const page = await load(cursors[index]);
      if (request !== latest) return;
      cursors = cursors.slice(0, index + 1);
      if (page.next_cursor) cursors.push(page.next_cursor);
      const previous = h("button", { type: "button", class: "secondary", disabled: index === 0,
        onclick: () => { index = Math.max(0, index - 1); show("previous"); } }, "Previous page");
      const next = h("button", { type: "button", class: "secondary", disabled: !page.next_cursor,
        onclick: () => { index = Math.min(cursors.length - 1, index + 1); show("next"); } }, "Next page");
      const where = h("span", { class: "meta", role: "status" }, `Page ${index + 1}`);
      replace(element, table({ caption, columns, rows: page.items, empty, rowAttributes }), status,
        cursors.length > 1 || index > 0 ? h("div", { class: "pager" }, previous, next, where) : null);
      status.clear();
      // Paging keeps the keyboard where it was: on the same button, or the other when this one ran out.
      if (focus) {
        const wanted = focus === "next" ? next : previous;
        (wanted.disabled ? (focus === "next" ? previous : next) : wanted).focus();
      }
    } catch (error) {
      if (error.name === "AbortError" || request !== latest) return;
      replace(element, status);
      status.show("error", error.message);
    }
  }
  element.reload = () => { cursors = [null]; index = 0; return show(); };
  element.ready = show();
  return element;
}

// Audit: the hash chains verified (every stream, or one), digests recorded and checked, an order or a SKU as it
// stood at a time or version, the global log with its filters, and the export of it.

import { call, download, get, newIdempotencyKey, onCommand, query } from "../api.js";
import { busy, field, h, notice, pagedTable, replace, select, table, values } from "../dom.js";
import { fromLocalInput, number, time } from "../format.js";

/** The kinds of break `GET /v1/audit/verify` reports (docs/hash-chain.md), in words. */
const BREAKS = {
  hash_mismatch: "an event's content or chain does not match its hash",
  missing: "events are missing from the stream",
  head_mismatch: "the stream's head does not match its last event",
};

export function render(main, { signal }) {
  replace(main, h("h1", {}, "Audit"),
    h("div", { class: "grid" },
      verification(),
      pointInTime(signal),
      digests(signal),
      eventLog(signal)));
}

function verification() {
  const result = h("div", { id: "verification-result" });
  const form = h("form", { class: "inline", id: "verify" },
    field("Stream (empty: every stream)", h("input", { name: "stream", size: 30, spellcheck: "false", placeholder: "order-…" })),
    h("button", { type: "submit" }, "Verify"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      replace(result, h("p", { class: "meta" }, "Verifying…"));
      try {
        const report = await get(`/v1/audit/verify${query(values(form))}`);
        replace(result,
          h("p", { class: `notice ${report.intact ? "ok" : "error"}`, role: "status" },
            report.intact ? "Intact: " : "Broken: ",
            `${number(report.streams_checked)} streams and ${number(report.events_checked)} events checked`,
            report.intact ? "; every hash chain holds." : `; ${report.breaks.length} break(s) below.`),
          report.breaks.length ? table({
            caption: "Where a chain breaks",
            columns: [
              { label: "Stream", value: (row) => row.stream_id, mono: true },
              { label: "Version", value: (row) => String(row.version), numeric: true },
              { label: "What", value: (row) => BREAKS[row.kind] || row.kind },
              { label: "Detail", value: (row) => row.count ? `${row.count} versions missing` : row.expected ? `expected ${row.expected}, found ${row.found ?? "nothing"}` : "", mono: true },
            ],
            rows: report.breaks,
          }) : null);
      } catch (error) {
        replace(result, h("p", { class: "notice error", role: "alert" }, error.message));
      }
    });
  });
  return h("section", { class: "card", "aria-labelledby": "verify-title" },
    h("h2", { id: "verify-title" }, "Verify the hash chains"),
    h("p", { class: "meta" }, "Recomputes every event's hash from its content and its predecessor's."), form, result);
}

function digests(signal) {
  const outcome = notice();
  const list = pagedTable({
    caption: "Recorded digests, newest first",
    columns: [
      { label: "Id", value: (row) => String(row.id), numeric: true },
      { label: "Up to position", value: (row) => number(row.position), numeric: true },
      { label: "Streams", value: (row) => number(row.stream_count), numeric: true, narrow: false },
      { label: "Root", value: (row) => h("span", { class: "hash" }, row.root) },
      { label: "Recorded", value: (row) => time(row.created_at), narrow: false },
      { label: "Check", value: (row) => h("button", { type: "button", class: "secondary", "data-digest": row.id, onclick: (event) => check(row, event.target) }, "Check now") },
    ],
    load: (cursor) => get(`/v1/audit/digests${query({ cursor, limit: 10 })}`, { signal }),
    empty: "No digest recorded yet.",
  });
  async function check(digest, button) {
    button.disabled = true;
    try {
      const { data } = await call(`/v1/audit/digests/${digest.id}/verification`, { method: "POST", idempotencyKey: newIdempotencyKey() });
      outcome.show(data.intact ? "ok" : "error", `Digest ${digest.id}: `, data.intact
        ? `the store still matches it (${number(data.stream_count)} streams, ${number(data.event_count)} events up to position ${number(data.position)}).`
        : `the store no longer matches it: root ${data.recomputed_root}, expected ${data.expected_root}; ${data.differences.length} stream(s) differ: ${data.differences.map((one) => one.stream_id ?? JSON.stringify(one)).join(", ")}.`);
    } catch (error) {
      outcome.show("error", `Digest ${digest.id}: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }
  const record = h("form", { class: "inline", id: "record-digest" }, h("button", { type: "submit" }, "Record a digest now"));
  onCommand(record, (idempotencyKey) => call("/v1/audit/digests", { method: "POST", idempotencyKey }), {
    done: async ({ data }) => {
      outcome.show("ok", `Recorded digest ${data.id} over ${number(data.stream_count)} streams up to position ${number(data.position)}: root ${data.root}.`);
      await list.reload();
    },
    failed: (error) => outcome.show("error", error.message),
  });
  return h("section", { class: "card wide", "aria-labelledby": "digests-title" },
    h("h2", { id: "digests-title" }, "Digests"),
    h("p", { class: "meta" }, "A digest is a Merkle root over every stream's head: keep one outside, check the store against it later."),
    record, outcome, list);
}

function pointInTime(signal) {
  const result = h("div", { id: "point-in-time-result" });
  const form = h("form", { class: "stack", id: "point-in-time" },
    field("What", select("kind", [["order", "an order (id)"], ["inventory", "a SKU's stock"]])),
    field("Id or SKU", h("input", { name: "id", required: true, spellcheck: "false" })),
    field("As of (UTC)", h("input", { name: "as_of", type: "datetime-local", step: 1 })),
    field("Or at version", h("input", { name: "at_version", type: "number", min: 0 })),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      const chosen = values(form);
      try {
        const path = `/v1/${chosen.kind === "order" ? "orders" : "inventory"}/${encodeURIComponent(chosen.id || "")}`;
        const state = await get(`${path}${query({ as_of: fromLocalInput(chosen.as_of), at_version: chosen.at_version })}`, { signal });
        replace(result, h("p", { class: "meta" }, `Version ${state.version ?? "?"}`), h("pre", {}, JSON.stringify(state, null, 2)));
      } catch (error) {
        replace(result, h("p", { class: "notice error", role: "alert" }, error.message));
      }
    });
  });
  return h("section", { class: "card", "aria-labelledby": "pit-title" },
    h("h2", { id: "pit-title" }, "As it stood"),
    h("p", { class: "meta" }, "Replays the stream up to a time or a version. Neither: as it stands now."), form, result);
}

function eventLog(signal) {
  const filters = h("form", { class: "inline", id: "log-filters", role: "search", "aria-label": "Filter the log" },
    field("Stream prefix", h("input", { name: "stream_prefix", size: 14, placeholder: "order-" })),
    field("Event types", h("input", { name: "event_type", size: 18, placeholder: "OrderPlaced,OrderPaid" })),
    field("From (UTC)", h("input", { name: "from_time", type: "datetime-local" })),
    field("To (UTC)", h("input", { name: "to_time", type: "datetime-local" })),
    field("After position", h("input", { name: "after", type: "number", min: 0 })),
    h("button", { type: "submit" }, "Filter"));
  let current = {};
  const problems = notice();
  const list = pagedTable({
    caption: "Oldest first",
    columns: [
      { label: "Position", value: (row) => String(row.position), numeric: true },
      { label: "Recorded", value: (row) => time(row.recorded_at), narrow: false },
      { label: "Stream", value: (row) => row.stream_id, mono: true },
      { label: "Event", value: (row) => h("details", {}, h("summary", {}, row.event_type), h("pre", {}, JSON.stringify({ data: row.data, metadata: row.metadata, hash: row.hash }, null, 2))) },
      { label: "By", value: (row) => row.metadata?.actor_name || row.metadata?.actor || "", narrow: false },
    ],
    load: (cursor) => get(`/v1/events${query({ ...current, cursor, limit: 50 })}`, { signal }),
    empty: "No events match.",
  });
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = values(filters);
    current = { ...chosen, from_time: fromLocalInput(chosen.from_time), to_time: fromLocalInput(chosen.to_time) };
    list.reload();
  });
  // The export is held in the tab until it is saved (a blob: the key must travel in a header); for the whole of a
  // large log, `tally export` or curl stream it to a file instead.
  const exportAs = (format, label) => {
    const button = h("button", { type: "submit", class: "secondary" }, label);
    const form = h("form", { class: "inline", "data-export": format }, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, () => download(`/v1/export${query({ ...current, format })}`, `tally-export-${format}.jsonl`, "application/x-ndjson, application/json")
        .catch((error) => problems.show("error", error.message)));
    });
    return form;
  };
  return h("section", { class: "card wide", "aria-labelledby": "log-title" },
    h("h2", { id: "log-title" }, "The event log"),
    filters,
    h("div", { class: "toolbar" }, exportAs("jsonl", "Export as JSON lines"), exportAs("cloudevents", "Export as CloudEvents")),
    h("p", { class: "meta" }, "The export holds every event the filters applied above match, up to the log's head when it starts; it is kept in this tab until saved (for a whole large log, use `tally export`)."),
    problems, list);
}

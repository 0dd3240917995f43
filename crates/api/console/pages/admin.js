// Keys and webhooks, for admins: issue and revoke API keys; subscribe webhooks, see how each delivers, pause,
// resume, replay, rotate its secret, delete it. A new key's or secret's text is shown once, here, and never again.

import { call, get, onCommand, query } from "../api.js";
import { field, h, notice, pagedTable, replace, select, values } from "../dom.js";
import { badge, number, seconds, time } from "../format.js";

const ROLES = ["storefront", "operations", "analyst", "auditor", "admin"];

/** A secret shown once, in a read-only field a person can select and copy. */
function shownOnce(label, secret) {
  return h("div", { class: "notice ok", role: "status" },
    field(`${label} (shown only now: copy it somewhere safe)`, h("input", { class: "secret", readonly: true, value: secret, "data-secret": "" })));
}

export const keys = {
  async render(main, { me, signal }) {
    const outcome = h("div", { id: "key-outcome" });
    const create = h("form", { class: "inline", id: "create-key" },
      field("Name", h("input", { name: "name", required: true, maxlength: 200, placeholder: "warehouse scanner" })),
      field("Role", select("role", ROLES, "operations")),
      h("button", { type: "submit" }, "Issue a key"));
    const list = pagedTable({
      caption: "Every key, revoked ones too",
      columns: [
        { label: "Name", value: (row) => row.name },
        { label: "Role", value: (row) => row.role },
        { label: "Ends in", value: (row) => `…${row.hint}`, mono: true, narrow: false },
        { label: "Issued", value: (row) => [time(row.created_at), h("br"), h("span", { class: "meta" }, `by ${row.created_by ?? "?"}`)], narrow: false },
        { label: "Last used", value: (row) => time(row.last_used_at), narrow: false },
        { label: "State", value: (row) => (row.revoked_at ? [badge("revoked"), h("br"), h("span", { class: "meta" }, `${time(row.revoked_at)} by ${row.revoked_by ?? "?"}`)] : badge("active")) },
        { label: "", value: (row) => (row.revoked_at || row.id === me.key_id ? "" : revokeButton(row)) },
      ],
      load: (cursor) => get(`/v1/keys${query({ cursor, limit: 50 })}`, { signal }),
    });
    function revokeButton(row) {
      const confirm = h("input", { type: "checkbox", required: true });
      const form = h("form", { class: "inline", "aria-label": `Revoke ${row.name}` },
        h("label", { class: "check" }, confirm, "Sure"), h("button", { type: "submit", class: "danger" }, "Revoke"));
      return onCommand(form, (idempotencyKey) => call(`/v1/keys/${row.id}/revocation`, { method: "POST", idempotencyKey }), {
        done: async () => {
          replace(outcome, h("p", { class: "notice ok", role: "status" }, `Revoked ${row.name}.`));
          await list.reload();
        },
        failed: (error) => replace(outcome, h("p", { class: "notice error", role: "alert" }, error.message)),
      });
    }
    // Issuing a key takes no Idempotency-Key: a repeat issues another key, which the list shows.
    onCommand(create, () => call("/v1/keys", { method: "POST", body: values(create) }), {
      done: async ({ data }) => {
        replace(outcome, shownOnce(`The new ${data.role} key "${data.name}"`, data.secret));
        create.reset();
        await list.reload();
      },
      failed: (error) => replace(outcome, h("p", { class: "notice error", role: "alert" }, error.message)),
    });
    replace(main, h("h1", {}, "API keys"),
      h("section", { class: "card", "aria-labelledby": "new-key" }, h("h2", { id: "new-key" }, "Issue a key"), create, outcome),
      h("section", { class: "card", "aria-labelledby": "all-keys" }, h("h2", { id: "all-keys" }, "Keys"),
        h("p", { class: "meta" }, "The key you are signed in with cannot be revoked from here."), list));
  },
};

export const webhooks = {
  async render(main, context) {
    const [id] = context.args;
    if (id) return renderWebhook(main, context, id);
    const { signal } = context;
    const outcome = h("div", { id: "webhook-outcome" });
    const create = h("form", { class: "stack", id: "create-webhook" },
      field("Receiver URL (https://…)", h("input", { name: "url", type: "url", required: true, maxlength: 2000 })),
      field("Event types (comma-separated; empty: all)", h("input", { name: "event_types", placeholder: "OrderPlaced, OrderShipped" })),
      field("Stream prefix (empty: all streams)", h("input", { name: "stream_prefix", placeholder: "order-" })),
      h("button", { type: "submit" }, "Subscribe"));
    onCommand(create, () => {
      const chosen = values(create);
      const eventTypes = chosen.event_types?.split(",").map((type) => type.trim()).filter(Boolean);
      return call("/v1/webhooks", { method: "POST", body: { url: chosen.url, stream_prefix: chosen.stream_prefix, event_types: eventTypes } });
    }, {
      done: async ({ data }) => {
        replace(outcome, shownOnce("Its signing secret", data.secret), h("p", {}, h("a", { href: `#/webhooks/${data.id}` }, "Open the new subscription")));
        create.reset();
        await list.reload();
      },
      failed: (error) => replace(outcome, h("p", { class: "notice error", role: "alert" }, error.message)),
    });
    const list = pagedTable({
      columns: [
        { label: "Receiver", value: (row) => h("a", { href: `#/webhooks/${row.id}` }, row.url), mono: true },
        { label: "State", value: (row) => badge(row.status) },
        { label: "Events", value: (row) => (row.event_types?.length ? row.event_types.join(", ") : "all"), narrow: false },
        { label: "Streams", value: (row) => row.stream_prefix || "all", narrow: false },
        { label: "Lag (events)", value: (row) => number(row.delivery.lag_events), numeric: true },
      ],
      load: (cursor) => get(`/v1/webhooks${query({ cursor, limit: 50 })}`, { signal }),
      empty: "No webhook subscriptions.",
    });
    replace(main, h("h1", {}, "Webhooks"),
      h("section", { class: "card", "aria-labelledby": "new-webhook" }, h("h2", { id: "new-webhook" }, "Subscribe a receiver"),
        h("p", { class: "meta" }, "Events are delivered in log order, signed as Standard Webhooks describes, retried for up to a day."), create, outcome),
      h("section", { class: "card", "aria-labelledby": "all-webhooks" }, h("h2", { id: "all-webhooks" }, "Subscriptions"), list));
  },
};

async function renderWebhook(main, { signal, navigate, flash }, id) {
  const { data: webhook, etag } = await call(`/v1/webhooks/${encodeURIComponent(id)}`, { signal });
  // The version on screen: a command on a page someone else made stale is refused (412), not applied.
  const version = etag?.replaceAll('"', "");
  const outcome = notice();
  if (flash) outcome.show("ok", flash);
  const command = (name, label, path, inputs, body, { method = "POST", danger = false } = {}) => {
    const form = h("form", { id: `webhook-${name}` }, h("fieldset", {}, h("legend", {}, label), inputs,
      h("button", { type: "submit", class: danger ? "danger" : undefined }, label)));
    // Rotating and deleting take no Idempotency-Key (like subscribing): sent again, they are refused, not repeated.
    const idempotent = method === "POST" && path !== "/secret";
    return onCommand(form, (idempotencyKey) => call(`/v1/webhooks/${webhook.id}${path}`,
      { method, body: body(form), ifMatch: version, idempotencyKey: idempotent ? idempotencyKey : undefined }), {
      done: ({ data }) => {
        if (name === "delete") navigate("webhooks");
        else if (name === "rotate") replace(main.querySelector("#rotated"), shownOnce("The new signing secret", data.secret));
        else navigate(`webhooks/${webhook.id}`, `${label}: done.`);
      },
      failed: (error) => outcome.show("error", `${label}: ${error.message}`),
    });
  };
  const delivery = webhook.delivery || {};
  replace(main,
    h("p", {}, h("a", { href: "#/webhooks" }, "← All webhooks")),
    h("h1", {}, "Webhook ", h("span", { class: "mono" }, webhook.url)),
    outcome,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "wh-state" }, h("h2", { id: "wh-state" }, "State"),
        h("dl", { class: "figures" },
          h("div", {}, h("dt", {}, "State"), h("dd", {}, badge(webhook.status))),
          h("div", {}, h("dt", {}, "Delivered up to"), h("dd", {}, number(delivery.position))),
          h("div", {}, h("dt", {}, "Lag (events)"), h("dd", {}, number(delivery.lag_events))),
          h("div", {}, h("dt", {}, "Failed attempts"), h("dd", {}, number(delivery.failed_attempts)))),
        webhook.paused_reason ? h("p", { class: "notice error" }, `Paused: ${webhook.paused_reason}`) : null,
        delivery.last_error ? h("p", { class: "notice error" }, `Last error: ${delivery.last_error}`) : null,
        delivery.next_attempt_at ? h("p", { class: "meta" }, `Next attempt ${time(delivery.next_attempt_at)}`) : null,
        delivery.failing_since ? h("p", { class: "meta" }, `Failing since ${time(delivery.failing_since)}`) : null,
        h("p", { class: "meta" }, `Events: ${webhook.event_types?.length ? webhook.event_types.join(", ") : "all"}; streams: ${webhook.stream_prefix || "all"}; subscribed ${time(webhook.created_at)} by ${webhook.created_by ?? "?"}.`)),
      h("section", { class: "card wide", "aria-labelledby": "wh-actions" }, h("h2", { id: "wh-actions" }, "Change it"),
        h("div", { class: "actions" },
          webhook.status === "active"
            ? command("pause", "Pause", "/pause", [field("Why", h("input", { name: "reason", required: true, maxlength: 500 }))], (form) => ({ reason: form.elements.reason.value }))
            : command("resume", "Resume", "/resume", [h("p", { class: "meta" }, "Failures are forgotten and the sender tries at once.")], () => undefined),
          command("replay", "Replay", "/replay", [field("Deliver again every event after position", h("input", { name: "after", type: "number", min: 0, required: true, value: 0 }))], (form) => ({ after: Number(form.elements.after.value) })),
          command("rotate", "Rotate the secret", "/secret", [h("p", { class: "meta" }, "The old secret keeps signing beside the new one for 24 hours.")], () => undefined),
          command("delete", "Delete", "", [h("label", { class: "check" }, h("input", { type: "checkbox", required: true }), "Stop all deliveries for good")], () => undefined, { method: "DELETE", danger: true })),
        h("div", { id: "rotated" })),
      h("section", { class: "card wide", "aria-labelledby": "wh-deliveries" }, h("h2", { id: "wh-deliveries" }, "Deliveries (kept 7 days)"),
        pagedTable({
          columns: [
            { label: "When", value: (row) => time(row.attempted_at) },
            { label: "Event", value: (row) => `${row.event_type} #${row.position}` },
            { label: "Attempt", value: (row) => String(row.attempt), numeric: true, narrow: false },
            { label: "Answer", value: (row) => (row.status ? String(row.status) : "none"), numeric: true },
            { label: "Took", value: (row) => seconds(row.latency_ms / 1000), numeric: true, narrow: false },
            { label: "Error", value: (row) => row.error || "" },
          ],
          load: (cursor) => get(`/v1/webhooks/${webhook.id}/deliveries${query({ cursor, limit: 25 })}`, { signal }),
          empty: "No delivery attempted yet.",
        }))));
}

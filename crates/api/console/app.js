// The console's shell: signing in with an API key, the pages the key's role may use, and moving between them
// (`#/page/...` in the address, so the back button and bookmarks work; the key never goes there).

import { ApiError, forgetKey, get, keepKey, session, storedKey } from "./api.js";
import { field, h, notice, replace } from "./dom.js";
import * as overview from "./pages/overview.js";
import * as orders from "./pages/orders.js";
import * as inventory from "./pages/inventory.js";
import * as analytics from "./pages/analytics.js";
import * as audit from "./pages/audit.js";
import * as admin from "./pages/admin.js";

/** Every page, and the accesses (from `GET /v1/me`) of which the key needs at least one to see it. */
const PAGES = [
  { path: "overview", label: "Overview", needs: ["query"], page: overview },
  { path: "orders", label: "Orders", needs: ["query", "checkout"], page: orders },
  { path: "inventory", label: "Inventory", needs: ["query", "back-office"], page: inventory },
  { path: "analytics", label: "Analytics", needs: ["query"], page: analytics },
  { path: "audit", label: "Audit", needs: ["audit"], page: audit },
  { path: "keys", label: "Keys", needs: ["keys"], page: admin.keys },
  { path: "webhooks", label: "Webhooks", needs: ["webhooks"], page: admin.webhooks },
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const sessionArea = document.getElementById("session");

/** Who is signed in (`GET /v1/me`), or null. */
let me = null;
/** Stops the page on screen (its timers, its live tail) when another replaces it. */
let leaving = new AbortController();
/** What the last command did, said on the next page (kept here, never in the address, which anyone can write). */
let flash = null;

function can(access) {
  return Boolean(me && me.accesses.includes(access));
}

function visiblePages() {
  return PAGES.filter((page) => page.needs.some(can));
}

function signOut(message) {
  forgetKey();
  me = null;
  showSignIn(message);
}

session.onRefused = () => signOut("The server no longer accepts this key. Sign in again.");

function showSignIn(message) {
  leaving.abort();
  nav.hidden = true;
  sessionArea.hidden = true;
  replace(nav);
  replace(sessionArea);
  document.title = "Sign in · Tally console";
  // No `name`: the key is never a form field a browser could submit (and the CSP's `form-action 'none'` forbids
  // submitting any form natively).
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const status = notice();
  const form = h("form", { class: "stack", novalidate: true },
    field("API key", input, "The key stays in this browser tab only and is sent in the Authorization header."),
    h("button", { type: "submit" }, "Sign in"),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      status.show("error", "Enter an API key (it starts with tally_).");
      input.focus();
      return;
    }
    try {
      me = await get("/v1/me", { key });
      keepKey(key);
      startSession();
    } catch (error) {
      status.show("error", error instanceof ApiError && error.status === 401
        ? "This key is not valid: it may be mistyped, revoked or expired."
        : error.message);
      input.focus();
    }
  });
  replace(main, h("section", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in to the Tally console"),
    message ? h("p", { class: "notice info", role: "status" }, message) : null,
    h("p", {}, "Sign in with an API key. What the console shows and lets you do follows the key's role."),
    form));
  input.focus();
}

function startSession() {
  if (location.hash === "" || location.hash === "#/" || location.hash === "#") {
    const first = visiblePages()[0];
    if (first) history.replaceState(null, "", `#/${first.path}`);
  }
  replace(sessionArea,
    h("span", { id: "who" }, me.name, " · ", h("strong", {}, me.role)),
    h("button", { type: "button", onclick: () => signOut("Signed out.") }, "Sign out"));
  sessionArea.hidden = false;
  route();
}

function route() {
  if (!me) return;
  const hash = location.hash;
  if (hash && !hash.startsWith("#/")) return; // an in-page anchor such as the skip link
  const [where = "", search = ""] = hash.slice(2).split("?");
  const [path = "", ...rest] = where.split("/").map((part) => decodeURIComponent(part));
  const pages = visiblePages();
  replace(nav, h("ul", {}, pages.map((page) => h("li", {},
    h("a", { href: `#/${page.path}`, "aria-current": page.path === path ? "page" : undefined }, page.label)))));
  nav.hidden = pages.length === 0;
  leaving.abort();
  leaving = new AbortController();
  const entry = pages.find((page) => page.path === path);
  if (!entry) {
    const known = PAGES.find((page) => page.path === path);
    document.title = "Tally console";
    replace(main, h("section", { class: "card" },
      h("h1", { tabindex: "-1" }, known ? "Not for this role" : pages.length ? "No such page" : "Nothing for this role"),
      h("p", {}, known
        ? `The ${known.label} page is not available to the ${me.role} role.`
        : pages.length
          ? "Choose a page above."
          : `The ${me.role} role has no console pages: the console is for operations, analysts, auditors and admins.`)));
    focusHeading();
    return;
  }
  document.title = `${entry.label} · Tally console`;
  const context = { me, can, signal: leaving.signal, navigate, args: rest, params: new URLSearchParams(search), flash };
  flash = null;
  replace(main, h("p", { class: "loading" }, "Loading…"));
  delete main.dataset.ready;
  Promise.resolve(entry.page.render(main, context)).then(async () => {
    // A page is drawn once its paged tables have their first page too (each loads on its own).
    await Promise.all([...main.querySelectorAll(".paged")].map((list) => list.ready));
    if (context.signal.aborted) return;
    // What tests and the benchmark wait for: the page drawn with its data (its route, without the query).
    main.dataset.ready = where;
    performance.mark("tally:page-ready", { detail: entry.path });
    focusHeading();
  }, (error) => {
    if (context.signal.aborted || error.name === "AbortError") return;
    replace(main, h("section", { class: "card" }, h("h1", { tabindex: "-1" }, entry.label),
      h("p", { class: "notice error", role: "alert" }, error.message)));
    focusHeading();
  });
}

/** Moves keyboard and screen-reader focus to the new page's heading, as a page load would. */
function focusHeading() {
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

/** Opens `#/<path>`, saying `message` there (what a command just did). */
function navigate(path, message = null) {
  flash = message;
  if (location.hash === `#/${path}`) route();
  else location.hash = `#/${path}`;
}

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
// Leaving the console (a reload, another address) ends the page's requests at once: an open live tail would
// otherwise keep its connection, and a browser allows only six to one server.
window.addEventListener("pagehide", () => leaving.abort());

async function start() {
  const key = storedKey();
  if (!key) {
    showSignIn();
    return;
  }
  try {
    me = await get("/v1/me");
    startSession();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signOut("The server no longer accepts this key. Sign in again.");
    else replace(main, h("p", { class: "notice error", role: "alert" }, error.message));
  }
}

start();

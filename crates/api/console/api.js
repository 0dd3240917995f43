// The JSON API as the console calls it: the key from this tab's sessionStorage in the Authorization header (never
// in a URL, a cookie or a log), problem documents turned into sentences, CSV and export downloads, the live tail.

import { busy } from "./dom.js";

const KEY = "tally.console.key";

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

export function keepKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

/** An answer other than 2xx: its status and problem document, and a sentence for people. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    super(words(status, problem, retryAfter));
    this.status = status;
    this.problem = problem || {};
    this.retryAfter = retryAfter;
  }

  /**
   * Whether the command may have been applied, or may still be: no answer came (status 0), or a timeout, a rate
   * limit, a server error, or a `Retry-After` (an attempt with this key still running). Sent again with the same
   * `Idempotency-Key`, it is applied at most once and answers as the first attempt did.
   */
  get outcomeUnknown() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500 || this.retryAfter !== null;
  }
}

/** What went wrong, in words: the problem's detail, with the field or the state it names. */
export function words(status, problem, retryAfter = null) {
  if (!problem || typeof problem !== "object") return `The server answered ${status}.`;
  const kind = String(problem.type || "").replace("/problems/", "");
  const detail = problem.detail || problem.title || `The server answered ${status}.`;
  if (kind === "version-conflict" && retryAfter !== null) {
    return "The same request is still being carried out; send it again in a moment to see its outcome.";
  }
  switch (kind) {
    case "unauthorized": return "The key was not accepted (revoked, expired or mistyped). Sign in again.";
    case "forbidden": return `This key's role may not do that. ${detail}`;
    case "rate-limited": return `Too many requests for this key; try again in a moment. ${detail}`;
    case "version-conflict": return `This changed since the page was loaded: reload it and try again. (${detail})`;
    case "insufficient-stock": return `Not enough stock: ${detail}`;
    case "invalid-transition": return `Not possible now: ${detail}`;
    case "idempotency-key-reused": return `This request was already sent with other content: ${detail}`;
    case "unavailable": return `The server cannot answer right now; try again shortly. ${detail}`;
    default: return detail.charAt(0).toUpperCase() + detail.slice(1) + (/[.!?]$/.test(detail) ? "" : ".");
  }
}

/** Called when the server refuses the key (401): the console signs out. Set by app.js. */
export const session = { onRefused: () => {} };

/** `?a=1&b=2` of the non-empty entries of `params` (arrays repeat the name), or "" when there are none. */
export function query(params = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, String(one));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** A fresh UUID (v4) for an `Idempotency-Key`: from getRandomValues, which works on plain HTTP too. */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function send(path, { method = "GET", body, headers = {}, signal, key = storedKey() } = {}) {
  const request = { method, headers: { Accept: "application/json", ...headers }, signal, cache: "no-store" };
  if (key) request.headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    request.headers["Content-Type"] = "application/json";
    request.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, request);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { detail: "The server could not be reached; check the connection and try again" });
  }
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not a problem document */ }
    if (response.status === 401 && key === storedKey()) session.onRefused();
    throw new ApiError(response.status, problem, response.headers.get("Retry-After"));
  }
  return response;
}

/**
 * A JSON request: `{data, position, etag}` (position: the `Tally-Position` a command answers, to read it back
 * with `min_position`). Commands pass `idempotencyKey` so a retried click is applied once.
 */
export async function call(path, { method = "GET", body, idempotencyKey, ifMatch, signal, key } = {}) {
  const headers = {};
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
  const response = await send(path, { method, body, headers, signal, key });
  const text = await response.text();
  return {
    data: text ? JSON.parse(text) : null,
    position: response.headers.get("Tally-Position"),
    etag: response.headers.get("ETag"),
  };
}

/** GET and the JSON answer. */
export async function get(path, options = {}) {
  return (await call(path, options)).data;
}

/** Every item of a list, following its `next_cursor` page after page (`params` without `cursor`). */
export async function getAll(path, params = {}, options = {}) {
  const items = [];
  let cursor;
  do {
    const page = await get(`${path}${query({ ...params, limit: 500, cursor })}`, options);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** Downloads `path` (asked for as `accept`) as the file `filename`, through a blob: the key stays in the header. */
export async function download(path, filename, accept) {
  const response = await send(path, { headers: { Accept: accept } });
  save(await response.blob(), filename);
}

/**
 * Downloads every page of a list as one CSV file: the pages the API answers with `Accept: text/csv` (500 rows
 * each), followed through their `Tally-Next-Cursor` header, the header row kept once.
 */
export async function downloadCsv(path, params, filename) {
  const parts = [];
  let cursor;
  do {
    const response = await send(`${path}${query({ ...params, limit: 500, cursor })}`, { headers: { Accept: "text/csv" } });
    const text = await response.text();
    parts.push(parts.length === 0 ? text : text.slice(text.indexOf("\n") + 1));
    cursor = response.headers.get("Tally-Next-Cursor");
  } while (cursor);
  save(new Blob(parts, { type: "text/csv" }), filename);
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Follows the live tail (`GET /v1/events/stream`, Server-Sent Events) with a streaming fetch, since EventSource
 * cannot send the key in a header. Calls `onEvent(event)` for each; reconnects after a break from the last id it
 * saw (as EventSource would, with `Last-Event-ID`), until `signal` aborts.
 */
export async function tail(params, onEvent, signal, onState = () => {}) {
  let lastId = params.after ?? null;
  while (!signal.aborted) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastId !== null) headers["Last-Event-ID"] = String(lastId);
      const response = await send(`/v1/events/stream${query({ ...params, after: undefined })}`, { headers, signal });
      onState("live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = message.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trimStart()).join("\n");
          const id = message.split("\n").find((line) => line.startsWith("id:"));
          if (id) lastId = id.slice(3).trim();
          if (data) onEvent(JSON.parse(data));
        }
      }
      onState("reconnecting");
    } catch (error) {
      if (signal.aborted) return;
      onState(error instanceof ApiError && error.status === 403 ? "forbidden" : "reconnecting");
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
    }
    await new Promise((resume) => setTimeout(resume, 1000));
  }
}

/**
 * Makes `form` send one command on submit: `send(idempotencyKey)` calls the API, then `done(answer)` runs, or
 * `failed(error)` with the refusal. The form's controls are disabled meanwhile (a double click sends once), and
 * its Idempotency-Key is kept while the outcome is unknown (no answer, a timeout, a server error, an attempt
 * still running), so sending again is applied at most once; after a definite answer the next submit is a new
 * command with a new key.
 */
export function onCommand(form, send, { done, failed }) {
  let idempotencyKey = newIdempotencyKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      try {
        const answer = await send(idempotencyKey);
        idempotencyKey = newIdempotencyKey();
        await done(answer);
      } catch (error) {
        if (error.name === "AbortError") return;
        if (!(error instanceof ApiError) || !error.outcomeUnknown) idempotencyKey = newIdempotencyKey();
        failed(error);
      }
    });
  });
  return form;
}

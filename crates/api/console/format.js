// How figures read on the page: money from minor units, counts with separators, times in UTC (the API's days are
// UTC days, so the console shows UTC throughout and says so).

const moneyFormats = new Map();

/** `money(1999, "EUR")` -> "€19.99"; `money({amount, currency})` too. */
export function money(amount, currency) {
  if (amount && typeof amount === "object") return money(amount.amount, amount.currency);
  if (amount === null || amount === undefined) return "";
  let format = moneyFormats.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat("en", { style: "currency", currency });
    } catch {
      format = { format: (value) => `${value} ${currency}`, resolvedOptions: () => ({ maximumFractionDigits: 2 }) };
    }
    moneyFormats.set(currency, format);
  }
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(Number(amount) / 10 ** digits);
}

/** The number of minor units in one unit of `currency` (100 for EUR, 1 for JPY). */
export function minorUnits(currency) {
  try {
    return 10 ** new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 100;
  }
}

const counts = new Intl.NumberFormat("en");
export function number(value) {
  return value === null || value === undefined ? "" : counts.format(value);
}

/** "2026-12-05 04:24:37 UTC" from an RFC 3339 time. */
export function time(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** "04:24:37" (UTC). */
export function clock(value) {
  return new Date(value).toISOString().slice(11, 19);
}

/** Today's UTC day, or `offset` days from it, as `YYYY-MM-DD`. */
export function utcDay(offset = 0) {
  return new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
}

/** A `datetime-local` value (taken as UTC) -> RFC 3339, or undefined when empty. */
export function fromLocalInput(value) {
  if (!value) return undefined;
  return new Date(`${value}${value.length === 16 ? ":00" : ""}Z`).toISOString();
}

const statusTone = {
  confirmed: "", paid: "good", partially_shipped: "warn", shipped: "good", delivered: "good",
  pending: "warn", rejected: "bad", cancelled: "bad", expired: "bad",
  running: "good", failed: "bad", stopped: "warn", active: "good", paused: "bad", discontinued: "warn",
};

/** A status as a coloured badge (the word is the information; the colour only repeats it). */
export function badge(status) {
  const element = document.createElement("span");
  element.className = `badge ${statusTone[status] ?? ""}`.trim();
  element.textContent = String(status ?? "").replaceAll("_", " ");
  return element;
}

/** "4 minutes ago" style, for lag. */
export function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${Math.round(value / 60)} min`;
}

/**
 * A short id for tables, the whole id in the link's title: its first and last characters (UUIDv7s made in the same
 * millisecond share their first eight).
 */
export function shortId(id) {
  const text = String(id);
  return text.length > 13 ? `${text.slice(0, 8)}…${text.slice(-4)}` : text;
}

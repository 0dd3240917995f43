// How figures read on the page: money from minor units, counts with separators, times in UTC (the API's days are
// UTC days, so the console shows UTC throughout and says so).

/**
 * ISO 4217's minor units where they are not 2 (the API's amounts are in these units). Not the browser's own
 * currency data, which follows local usage (it shows HUF or IQD without decimals) and changes between versions.
 */
const EXPONENTS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0,
  XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

/** The number of minor units in one unit of `currency` (100 for EUR, 1 for JPY, 1000 for KWD). */
export function minorUnits(currency) {
  return 10 ** (EXPONENTS[currency] ?? 2);
}

const moneyFormats = new Map();

/** `money(1999, "EUR")` -> "€19.99"; `money({amount, currency})` too. */
export function money(amount, currency) {
  if (amount && typeof amount === "object") return money(amount.amount, amount.currency);
  if (amount === null || amount === undefined) return "";
  const digits = EXPONENTS[currency] ?? 2;
  let format = moneyFormats.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat("en", { style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
    } catch {
      format = { format: (value) => `${value.toFixed(digits)} ${currency}` };
    }
    moneyFormats.set(currency, format);
  }
  return format.format(Number(amount) / 10 ** digits);
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

/** A duration in seconds for people: "250 ms", "4.2 s", "3 min" (a lag). */
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

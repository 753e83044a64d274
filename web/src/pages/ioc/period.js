// The dashboard's filters: read from and written to the URL query string, and turned into the
// API's parameters. Periods are whole days in Huế time (+07:00): a preset or a custom range.
import { todayVN, vnMidnight } from "../../lib/i18n.js";

export const PRESETS = ["today", "7d", "30d", "month", "year", "custom"];
export const DEFAULT_PRESET = "30d";
export const CHANNELS = ["app", "web", "hotline", "email", "zalo", "facebook", "open311"];
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const KEYS = ["agency", "commune", "category", "channel"];

/** YYYY-MM-DD plus `n` days. */
export function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function readFilters(search = location.search) {
  const p = new URLSearchParams(search);
  const period = PRESETS.includes(p.get("period")) ? p.get("period") : DEFAULT_PRESET;
  const f = { period, from: "", to: "" };
  if (period === "custom") {
    f.from = DAY.test(p.get("from") || "") ? p.get("from") : addDays(todayVN(), -6);
    f.to = DAY.test(p.get("to") || "") ? p.get("to") : todayVN();
  }
  for (const k of KEYS) f[k] = p.get(k) || "";
  if (!CHANNELS.includes(f.channel)) f.channel = "";
  return f;
}

/** The dashboard's own query string (period preset, custom days, filters). */
export function filterQuery(f) {
  const p = new URLSearchParams();
  if (f.period !== DEFAULT_PRESET) p.set("period", f.period);
  if (f.period === "custom") {
    p.set("from", f.from);
    p.set("to", f.to);
  }
  for (const k of KEYS) if (f[k]) p.set(k, f[k]);
  return p.toString();
}

/** First day and the day after the last day of the period, as YYYY-MM-DD. */
export function periodDays(f) {
  const today = todayVN();
  const tomorrow = addDays(today, 1);
  switch (f.period) {
    case "today":
      return [today, tomorrow];
    case "7d":
      return [addDays(today, -6), tomorrow];
    case "month":
      return [`${today.slice(0, 8)}01`, tomorrow];
    case "year":
      return [`${today.slice(0, 5)}01-01`, tomorrow];
    case "custom": {
      let [a, b] = [f.from || today, f.to || today];
      if (b < a) [a, b] = [b, a];
      return [a, addDays(b, 1)];
    }
    default:
      return [addDays(today, -29), tomorrow];
  }
}

/** The API's filter parameters (as for /ioc/kpis, /ioc/trend, /ioc/ranking, /ioc/map). */
export function apiParams(f) {
  const [a, b] = periodDays(f);
  const params = { from: vnMidnight(a), to: vnMidnight(b) };
  for (const k of KEYS) if (f[k]) params[k] = f[k];
  return params;
}

/** The same as a query string, for links (exports). */
export function apiQuery(f, extra = {}) {
  const p = new URLSearchParams({ ...apiParams(f), ...extra });
  return p.toString();
}

// Translations: web/src/locales/<lang>/<area>.json, flat key → text with {name} placeholders.
// Vietnamese is the default and the fallback. Dates are shown in Asia/Ho_Chi_Minh time.
import { boot } from "./boot.js";
import viCommon from "../locales/vi/common.json";
import enCommon from "../locales/en/common.json";
import viPortal from "../locales/vi/portal.json";
import enPortal from "../locales/en/portal.json";
import viInbox from "../locales/vi/inbox.json";
import enInbox from "../locales/en/inbox.json";
import viIoc from "../locales/vi/ioc.json";
import enIoc from "../locales/en/ioc.json";
import viAdmin from "../locales/vi/admin.json";
import enAdmin from "../locales/en/admin.json";
import viOpendata from "../locales/vi/opendata.json";
import enOpendata from "../locales/en/opendata.json";
import viSharing from "../locales/vi/sharing.json";
import enSharing from "../locales/en/sharing.json";

const tables = {
  vi: { ...viCommon, ...viPortal, ...viInbox, ...viIoc, ...viAdmin, ...viOpendata, ...viSharing },
  en: { ...enCommon, ...enPortal, ...enInbox, ...enIoc, ...enAdmin, ...enOpendata, ...enSharing },
};

export const lang = tables[boot.lang] ? boot.lang : "vi";
const locale = lang === "vi" ? "vi-VN" : "en-GB";
export const TZ = "Asia/Ho_Chi_Minh";

/** The text of `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params) {
  let s = tables[lang][key] ?? tables.vi[key] ?? key;
  if (params) for (const [k, v] of Object.entries(params)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** Switches the language (a cookie the server reads too) and reloads the page. */
export function setLang(code) {
  document.cookie = `dothi_lang=${code}; Path=/; Max-Age=31536000; SameSite=Lax`;
  location.reload();
}

const dtf = new Intl.DateTimeFormat(locale, { timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
const df = new Intl.DateTimeFormat(locale, { timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric" });
const nf = new Intl.NumberFormat(locale);
const nf1 = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });

export const fmtDateTime = (iso) => (iso ? dtf.format(new Date(iso)) : "—");
export const fmtDate = (iso) => (iso ? df.format(new Date(iso)) : "—");
export const fmtNumber = (n) => (n == null ? "—" : nf.format(n));
export const fmtDecimal = (n) => (n == null ? "—" : nf1.format(n));
export const fmtPercent = (r) => (r == null ? "—" : `${nf1.format(r * 100)} %`);

/** Today's date in Huế as YYYY-MM-DD. */
export function todayVN(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

/** Local midnight of a YYYY-MM-DD day in Huế, as ISO 8601 with the +07:00 offset. */
export const vnMidnight = (day) => `${day}T00:00:00+07:00`;

/** The day in Huế (YYYY-MM-DD) that contains the instant `iso` (or epoch milliseconds). */
export function dayVN(iso) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

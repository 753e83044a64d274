// Periods of the sharing controls (Nghị định 47/2020): accounts and grants are valid from a day
// to the end of a day in Huế. The API takes instants, the end exclusive: the form's last day
// D is sent as D+1 at 00:00 +07:00, and an instant E is shown as the day that contains E − 1 ms.
import { t, dayVN, fmtDate, vnMidnight } from "../../lib/i18n.js";
import { addDays } from "../ioc/period.js";

/** The instant a period starting on `day` starts (ISO 8601, +07:00). */
export const startOf = (day) => vnMidnight(day);

/** The exclusive end of a period whose last day is `day`. */
export const endAfter = (day) => vnMidnight(addDays(day, 1));

/** The first day of a period starting at `iso`, for a date input. */
export const firstDay = (iso) => (iso ? dayVN(iso) : "");

/** The last day of a period ending (exclusive) at `iso`, for a date input. */
export const lastDay = (iso) => (iso ? dayVN(Date.parse(iso) - 1) : "");

/** "01/01/2026 – 31/12/2027", "from 01/01/2026", "until 31/12/2027", or "no limit". */
export function periodText(from, until) {
  const a = from ? fmtDate(from) : null;
  const b = until ? fmtDate(new Date(Date.parse(until) - 1).toISOString()) : null;
  if (a && b) return t("sharing.period.range", { from: a, to: b });
  if (a) return t("sharing.period.open", { from: a });
  if (b) return t("sharing.period.until", { to: b });
  return t("sharing.period.any");
}

/** Whether `now` is before, within or after a period (`until` exclusive). */
export function periodState(from, until, now = Date.now()) {
  if (from && now < Date.parse(from)) return "not_yet";
  if (until && now >= Date.parse(until)) return "ended";
  return "current";
}

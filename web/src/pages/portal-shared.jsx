// Pieces shared by the citizen portal pages (/, /report, /my, /reports/{id}): cached reference
// data, names in the current language, relative times, and the report list item.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { lang, t, fmtDateTime } from "../lib/i18n.js";
import { StatusBadge, DeadlineBadge } from "../components/ui.jsx";

export const OPEN_STATUSES = ["received", "assigned", "in_progress", "transferred", "reopened"];
export const ALL_STATUSES = ["received", "assigned", "in_progress", "transferred", "reopened", "resolved", "closed", "rejected"];

/** Status filter choices: groups first, then each status. Values are the API's comma lists. */
export const STATUS_GROUPS = {
  open: OPEN_STATUSES.join(","),
  done: "resolved,closed",
};

const cache = {};
function cached(path) {
  cache[path] ??= api.get(path).catch((e) => {
    delete cache[path];
    throw e;
  });
  return cache[path];
}
export const loadCategories = () => cached("/categories");
export const loadAgencies = () => cached("/agencies");
export const loadUnits = () => cached("/admin-units");

/** Reference lists for labels; empty until loaded, never throws (labels fall back to the API's names). */
export function useReference() {
  const [ref, setRef] = useState({ categories: [], agencies: [], units: [] });
  useEffect(() => {
    let live = true;
    Promise.all([loadCategories().catch(() => []), loadAgencies().catch(() => []), loadUnits().catch(() => [])]).then(
      ([categories, agencies, units]) => live && setRef({ categories, agencies, units }),
    );
    return () => (live = false);
  }, []);
  return ref;
}

/** A category's name in the current language; `named` is {code, name} or a full category. */
export function categoryName(named, categories = []) {
  if (!named) return "";
  if (lang === "en") {
    const full = named.name_en !== undefined ? named : categories.find((c) => c.code === named.code);
    if (full?.name_en) return full.name_en;
  }
  return named.name;
}

export function agencyName(named, agencies = []) {
  if (!named) return "";
  if (lang === "en") {
    const full = agencies.find((a) => a.code === named.code);
    if (full?.name_en) return full.name_en;
  }
  return named.name;
}

/** The question text of a category attribute in the current language. */
export const attributeLabel = (def) => (lang === "en" && def.description_en) || def.description;

const rtf = typeof Intl.RelativeTimeFormat === "function" ? new Intl.RelativeTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", { numeric: "auto" }) : null;

/** "5 phút trước", "hôm qua"; older than a week: the date and time. */
export function relTime(iso, now = Date.now()) {
  if (!iso) return "—";
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  const a = Math.abs(s);
  if (!rtf || a >= 7 * 86400) return fmtDateTime(iso);
  if (a < 60) return rtf.format(0, "second");
  if (a < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (a < 86400) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86400), "day");
}

/** The thumbnail of a media URL (…/media/{id} → …/media/{id}/thumbnail). */
export function thumbnailOf(url) {
  return url && /\/media\/\d+$/.test(url) ? `${url}/thumbnail` : url;
}

export const placeOf = (r) => r.address || r.commune?.name || "";

/** The id in /reports/{id}: the last path segment. */
export function reportIdFromPath(path = location.pathname) {
  const seg = path.replace(/\/+$/, "").split("/").pop();
  return /^\d+$/.test(seg) ? Number(seg) : null;
}

/** One report in a list: status, category, place, time; the whole item links to the report. */
export function ReportItem({ report: r, categories, deadline = false, extra }) {
  const thumb = thumbnailOf(r.photo_url);
  return (
    <li class="report-item">
      <a class="report-link" href={`/reports/${r.id}`}>
        <span class="ri-thumb" aria-hidden="true">
          {thumb ? <img src={thumb} alt="" loading="lazy" /> : <span class={`ri-dot dot-${r.status}`} />}
        </span>
        <span class="ri-body">
          <span class="ri-top">
            <StatusBadge status={r.status} />
            {r.priority === "urgent" && <span class="badge badge-urgent">{t("priority.urgent")}</span>}
            {deadline && <DeadlineBadge report={r} />}
            {extra}
          </span>
          <strong class="ri-cat">{categoryName(r.category, categories)}</strong>
          <span class="ri-desc">{r.description}</span>
          <span class="ri-meta">
            {placeOf(r) && <span class="ri-place">{placeOf(r)}</span>}
            <span class="ri-time">
              <span class="ri-id">#{r.id}</span> · <time datetime={r.created_at} title={fmtDateTime(r.created_at)}>{relTime(r.created_at)}</time>
            </span>
          </span>
        </span>
      </a>
    </li>
  );
}

/** The plus sign on "report a problem" buttons (a drawing: not every phone font has ＋). */
export function PlusIcon() {
  return (
    <svg class="icon" viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" focusable="false">
      <path d="M10 3v14M3 10h14" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" fill="none" />
    </svg>
  );
}

const ICONS = {
  camera: "M4 7h3l2-2.5h6L17 7h3a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1zM12 9.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7z",
  image: "M4 5h16a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1zM3.5 16l5-5 4 4 3-3 5 5M15.5 9.2a.2.2 0 1 0 .01 0",
  locate: "M12 4v3M12 17v3M4 12h3M17 12h3M12 7a5 5 0 1 0 0 10 5 5 0 0 0 0-10zM12 11a1 1 0 1 0 0 2 1 1 0 0 0 0-2z",
};

/** A line icon (camera, image, locate), drawn so that it shows on every phone. */
export function Icon({ name }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path d={ICONS[name]} stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" fill="none" />
    </svg>
  );
}

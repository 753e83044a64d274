// The public portal (/): a map of reports and a feed of the latest ones, with filters and a
// diacritics-insensitive search. The API leaves reporter identity out for the public; this
// page never shows reporter fields anyway.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { user } from "../lib/boot.js";
import { t, lang, fmtNumber } from "../lib/i18n.js";
import { createMap, escapeHtml, STATUS_COLORS } from "../lib/map.js";
import { ErrorBox, Field, Loading } from "../components/ui.jsx";
import { ALL_STATUSES, STATUS_GROUPS, PlusIcon, ReportItem, categoryName, placeOf, relTime, useReference } from "./portal-shared.jsx";

export const wide = true;

const PAGE = 20;
const MAP_LIMIT = 1000;
const FILTER_KEYS = ["q", "category", "status", "commune"];

function readFilters() {
  const p = new URLSearchParams(location.search);
  return Object.fromEntries(FILTER_KEYS.map((k) => [k, p.get(k) || ""]));
}

function writeFilters(f) {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k]) p.set(k, f[k]);
  const s = p.toString();
  history.replaceState(null, "", s ? `/?${s}` : "/");
}

/** The API's query for the filters: status groups become comma lists. */
function apiParams(f) {
  return {
    q: f.q.trim() || undefined,
    category: f.category || undefined,
    commune: f.commune || undefined,
    status: STATUS_GROUPS[f.status] || f.status || undefined,
  };
}

export default function Portal() {
  const ref = useReference();
  const [filters, setFilters] = useState(readFilters);
  const [query, setQuery] = useState(filters.q);
  const [list, setList] = useState({ items: [], page: 0, has_more: false, loading: true });
  const [mapData, setMapData] = useState(null);
  const fitted = useRef(null);
  const [error, setError] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const mapEl = useRef(null);
  const mapRef = useRef(null);
  const wideScreen = typeof matchMedia === "function" && matchMedia("(min-width: 900px)").matches;
  const active = ["category", "status", "commune"].filter((k) => filters[k]).length;

  // The search box applies itself after a short pause in typing.
  useEffect(() => {
    if (query === filters.q) return;
    const id = setTimeout(() => setFilters((f) => ({ ...f, q: query })), 400);
    return () => clearTimeout(id);
  }, [query]);

  useEffect(() => {
    mapRef.current = createMap(mapEl.current);
    return () => mapRef.current?.map.remove();
  }, []);

  // Filters changed: the first page of the feed and up to MAP_LIMIT reports for the map.
  useEffect(() => {
    writeFilters(filters);
    const ctl = new AbortController();
    const params = apiParams(filters);
    setError(null);
    setList((l) => ({ ...l, loading: true }));
    api
      .get("/reports", { ...params, page: 1, page_size: PAGE, sort: "-created" }, { signal: ctl.signal })
      .then((res) => setList({ items: res.items, page: 1, has_more: res.has_more, loading: false }))
      .catch((e) => {
        if (e.name === "AbortError") return;
        setError(e);
        setList({ items: [], page: 0, has_more: false, loading: false });
      });
    api
      .get("/reports", { ...params, page: 1, page_size: MAP_LIMIT, sort: "-created" }, { signal: ctl.signal })
      .then((res) => setMapData({ items: res.items, more: res.has_more, filtered: Object.values(params).some(Boolean) }))
      .catch((e) => {
        if (e.name !== "AbortError") setError(e);
      });
    return () => ctl.abort();
  }, [filters, attempt]);

  // New map data: markers, then fit the view to them (once per data set; the category names
  // arriving later only relabel the markers).
  useEffect(() => {
    const m = mapRef.current;
    if (!m || !mapData) return;
    const points = mapData.items.map((r) => ({ id: r.id, lat: r.lat, lon: r.long, status: r.status, overdue: r.overdue, title: `#${r.id} ${categoryName(r.category, ref.categories)}`, r }));
    m.setMarkers(points, popup);
    // The whole city at first; the matching reports once something is filtered.
    if (fitted.current !== mapData && mapData.filtered) {
      fitted.current = mapData;
      const bounds = m.cluster.getBounds();
      if (bounds.isValid()) m.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    }
  }, [mapData, ref.categories]);
  const mapCount = mapData ? mapData.items.filter((r) => r.lat != null && r.long != null).length : null;

  function popup({ r }) {
    return `<div class="map-popup">
      <span class="badge badge-${escapeHtml(r.status)}">${escapeHtml(t(`status.${r.status}`))}</span>
      <strong>${escapeHtml(categoryName(r.category, ref.categories))}</strong>
      <span>${escapeHtml(placeOf(r))}</span>
      <span class="muted">#${r.id} · ${escapeHtml(relTime(r.created_at))}</span>
      <a href="/reports/${r.id}">${escapeHtml(t("portal.view_report"))}</a>
    </div>`;
  }

  async function more() {
    setList((l) => ({ ...l, loading: true }));
    try {
      const next = list.page + 1;
      const res = await api.get("/reports", { ...apiParams(filters), page: next, page_size: PAGE, sort: "-created" });
      setList((l) => ({ items: [...l.items, ...res.items], page: next, has_more: res.has_more, loading: false }));
    } catch (e) {
      setError(e);
      setList((l) => ({ ...l, loading: false }));
    }
  }

  const set = (k) => (e) => setFilters((f) => ({ ...f, [k]: e.currentTarget.value }));
  function reset() {
    setQuery("");
    setFilters({ q: "", category: "", status: "", commune: "" });
  }
  const groups = groupCategories(ref.categories);

  return (
    <div class="portal">
      <section class="portal-hero">
        <div>
          <h1>{t("portal.title")}</h1>
          <p class="portal-lead">{t("portal.lead")}</p>
        </div>
        <a class="btn btn-primary btn-cta" href="/report">
          <PlusIcon /> {t("portal.cta")}
        </a>
        {!user && <p class="portal-signin muted">{t("portal.cta_hint")}</p>}
      </section>

      <form class="portal-filters" role="search" aria-label={t("portal.filters")} onSubmit={(e) => { e.preventDefault(); setFilters((f) => ({ ...f, q: query })); }}>
        <div class="field portal-search">
          <label for="portal-q">{t("portal.search")}</label>
          <div class="search-row">
            <input id="portal-q" type="search" value={query} placeholder={t("portal.search_placeholder")} onInput={(e) => setQuery(e.currentTarget.value)} aria-describedby="portal-q-hint" />
            <button type="submit" class="btn">{t("app.search")}</button>
          </div>
          <small id="portal-q-hint" class="hint">{t("portal.search_hint")}</small>
        </div>
        <details class="portal-more" open={wideScreen || active > 0}>
          <summary>{active ? t("portal.filters_active", { n: active }) : t("portal.filters")}</summary>
          <div class="filter-grid">
            <Field id="f-category" label={t("portal.category")}>
              <select id="f-category" value={filters.category} onChange={set("category")}>
                <option value="">{t("app.all")}</option>
                {groups.map(([g, cats]) => (
                  <optgroup label={g} key={g}>
                    {cats.map((c) => <option value={c.code} key={c.code}>{categoryName(c)}</option>)}
                  </optgroup>
                ))}
              </select>
            </Field>
            <Field id="f-status" label={t("portal.status")}>
              <select id="f-status" value={filters.status} onChange={set("status")}>
                <option value="">{t("app.all")}</option>
                <option value="open">{t("portal.status_open")}</option>
                <option value="done">{t("portal.status_done")}</option>
                <optgroup label={t("portal.status_each")}>
                  {ALL_STATUSES.map((s) => <option value={s} key={s}>{t(`status.${s}`)}</option>)}
                </optgroup>
              </select>
            </Field>
            <Field id="f-commune" label={t("portal.commune")}>
              <select id="f-commune" value={filters.commune} onChange={set("commune")}>
                <option value="">{t("app.all")}</option>
                {[...ref.units].sort((a, b) => a.name.localeCompare(b.name, "vi")).map((u) => <option value={u.code} key={u.code}>{u.name}</option>)}
              </select>
            </Field>
            {(active > 0 || filters.q) && (
              <button type="button" class="btn btn-small filter-reset" onClick={reset}>{t("portal.reset")}</button>
            )}
          </div>
        </details>
      </form>

      <ErrorBox error={error} onRetry={() => setAttempt((n) => n + 1)} />

      <div class="portal-body">
        <section class="portal-map" aria-labelledby="portal-map-h">
          <h2 id="portal-map-h" class="sr-only">{t("map.label")}</h2>
          <div ref={mapEl} class="map portal-mapbox" id="portal-map" role="region" aria-label={t("map.label")} />
          <div class="legend" aria-label={t("portal.legend")}>
            {["received", "assigned", "in_progress", "reopened", "resolved", "closed"].map((s) => (
              <span key={s} style={`--c:${STATUS_COLORS[s]}`}>{t(`status.${s}`)}</span>
            ))}
          </div>
          <p class="muted map-count" role="status">
            {mapCount == null ? "" : mapData.more ? t("portal.on_map_more", { n: fmtNumber(mapCount) }) : t("portal.on_map", { n: fmtNumber(mapCount) })}
          </p>
        </section>

        <section class="portal-feed card" aria-labelledby="portal-feed-h">
          <h2 id="portal-feed-h">{filters.q || active ? t("portal.results") : t("portal.latest")}</h2>
          {list.loading && !list.items.length ? (
            <Loading />
          ) : !list.items.length ? (
            <p class="empty" role="status">{t("portal.none")}</p>
          ) : (
            <ul class="report-list" aria-busy={list.loading}>
              {list.items.map((r) => <ReportItem key={r.id} report={r} categories={ref.categories} />)}
            </ul>
          )}
          {list.has_more && (
            <button type="button" class="btn btn-block" onClick={more} disabled={list.loading}>
              {list.loading ? t("app.loading") : t("portal.more")}
            </button>
          )}
        </section>
      </div>
    </div>
  );
}

/** Categories by their group, in the API's order (group names are Vietnamese only: in English,
 * one alphabetical list). */
function groupCategories(categories) {
  if (lang !== "vi") return [[t("portal.category"), [...categories].sort((a, b) => categoryName(a).localeCompare(categoryName(b)))]];
  const groups = new Map();
  for (const c of categories) {
    if (!groups.has(c.group)) groups.set(c.group, []);
    groups.get(c.group).push(c);
  }
  return [...groups];
}

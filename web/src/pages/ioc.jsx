// The operations centre's dashboard (/ioc): KPI tiles, the daily trend, the map of the view,
// the live feed and the agency ranking, all under one filter bar (period, agency, commune,
// category, channel) kept in the URL. Leaders use it on the wall display and on laptops.
//
// Fast first: the shell and the filter bar render at once; KPIs, trend, ranking and map are
// fetched in parallel and each panel shows as soon as its answer arrives. The map and the chart
// libraries load in their own chunks. `document.body.dataset.ready` turns "1" when the KPI
// tiles have values. The live feed (server-sent events) refreshes the figures, debounced.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { t, lang, fmtDateTime, fmtNumber, fmtPercent } from "../lib/i18n.js";
import { ErrorBox, Field, StatusBadge } from "../components/ui.jsx";
import { PRESETS, CHANNELS, readFilters, filterQuery, apiParams, apiQuery, periodDays, addDays } from "./ioc/period.js";

export const wide = true;

const FEED_MAX = 60;
const REFRESH_DEBOUNCE_MS = 1000;
const MAP_DEBOUNCE_MS = 5000;
const REFRESH_EVERY_MS = 60_000;
const MAP_EVERY_MS = 300_000;

// ---------------------------------------------------------------------------------------------
// Reference lists (agencies, communes, categories), loaded once.

const ref = {};
function loadReference() {
  ref.all ??= Promise.all([
    api.get("/agencies").catch(() => []),
    api.get("/admin-units").then((u) => (Array.isArray(u) ? u : u.items || [])).catch(() => []),
    api.get("/categories").catch(() => []),
  ]);
  return ref.all;
}

const collator = new Intl.Collator(lang === "en" ? "en" : "vi");
const localName = (x) => (lang === "en" && x?.name_en) || x?.name || "";

// ---------------------------------------------------------------------------------------------
// Filter bar

function FilterBar({ filters, onChange, lists }) {
  const set = (patch) => onChange({ ...filters, ...patch });
  const setPeriod = (period) => {
    if (period === "custom") {
      const [a, b] = periodDays(filters);
      set({ period, from: a, to: addDays(b, -1) });
    } else set({ period, from: "", to: "" });
  };
  const agencies = useMemo(() => [...lists.agencies].sort((a, b) => collator.compare(localName(a), localName(b))), [lists.agencies]);
  const communes = useMemo(() => [...lists.communes].sort((a, b) => collator.compare(a.name, b.name)), [lists.communes]);
  const categories = useMemo(() => [...lists.categories].sort((a, b) => collator.compare(localName(a), localName(b))), [lists.categories]);
  const any = filters.agency || filters.commune || filters.category || filters.channel || filters.period !== "30d";
  return (
    <form class="card ioc-filters" role="search" aria-label={t("ioc.filters.label")} onSubmit={(e) => e.preventDefault()}>
      <Field id="ioc-period" label={t("ioc.filters.period")}>
        <select id="ioc-period" value={filters.period} onChange={(e) => setPeriod(e.currentTarget.value)}>
          {PRESETS.map((p) => (
            <option key={p} value={p}>{t(`ioc.period.${p}`)}</option>
          ))}
        </select>
      </Field>
      {filters.period === "custom" && (
        <>
          <Field id="ioc-from" label={t("ioc.filters.from")}>
            <input id="ioc-from" type="date" value={filters.from} max={filters.to || undefined} required onChange={(e) => e.currentTarget.value && set({ from: e.currentTarget.value })} />
          </Field>
          <Field id="ioc-to" label={t("ioc.filters.to")}>
            <input id="ioc-to" type="date" value={filters.to} min={filters.from || undefined} required onChange={(e) => e.currentTarget.value && set({ to: e.currentTarget.value })} />
          </Field>
        </>
      )}
      <Field id="ioc-agency" label={t("ioc.filters.agency")}>
        <select id="ioc-agency" value={filters.agency} onChange={(e) => set({ agency: e.currentTarget.value })}>
          <option value="">{t("ioc.filters.all_agencies")}</option>
          {agencies.map((a) => (
            <option key={a.code} value={a.code}>{localName(a)}</option>
          ))}
          {filters.agency && !agencies.some((a) => a.code === filters.agency) && <option value={filters.agency}>{filters.agency}</option>}
        </select>
      </Field>
      <Field id="ioc-commune" label={t("ioc.filters.commune")}>
        <select id="ioc-commune" value={filters.commune} onChange={(e) => set({ commune: e.currentTarget.value })}>
          <option value="">{t("ioc.filters.all_communes")}</option>
          {communes.map((c) => (
            <option key={c.code} value={c.code}>{c.name}</option>
          ))}
          {filters.commune && !communes.some((c) => c.code === filters.commune) && <option value={filters.commune}>{filters.commune}</option>}
        </select>
      </Field>
      <Field id="ioc-category" label={t("ioc.filters.category")}>
        <select id="ioc-category" value={filters.category} onChange={(e) => set({ category: e.currentTarget.value })}>
          <option value="">{t("ioc.filters.all_categories")}</option>
          {categories.map((c) => (
            <option key={c.code} value={c.code}>{localName(c)}</option>
          ))}
          {filters.category && !categories.some((c) => c.code === filters.category) && <option value={filters.category}>{filters.category}</option>}
        </select>
      </Field>
      <Field id="ioc-channel" label={t("ioc.filters.channel")}>
        <select id="ioc-channel" value={filters.channel} onChange={(e) => set({ channel: e.currentTarget.value })}>
          <option value="">{t("ioc.filters.all_channels")}</option>
          {CHANNELS.map((c) => (
            <option key={c} value={c}>{t(`channel.${c}`)}</option>
          ))}
        </select>
      </Field>
      <div class="ioc-filters-reset">
        <button type="button" class="btn btn-small" disabled={!any} onClick={() => onChange({ period: "30d", from: "", to: "", agency: "", commune: "", category: "", channel: "" })}>
          {t("ioc.filters.reset")}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// KPI tiles

function Tile({ k, value, shown, sub, tone }) {
  return (
    <div class={`kpi ioc-kpi${tone ? ` tone-${tone}` : ""}`} data-kpi={k} data-value={value == null ? "" : String(value)}>
      <div class="label">{t(`ioc.kpi.${k}`)}</div>
      <div class="value">{shown}</div>
      <div class="sub">{sub || "\u00a0"}</div>
    </div>
  );
}

const daysFmt = new Intl.NumberFormat(lang === "en" ? "en-GB" : "vi-VN", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const fmtDays = (n) => (n == null ? "—" : daysFmt.format(n));

function rateTone(r, good, fair) {
  if (r == null) return null;
  return r >= good ? "good" : r >= fair ? "fair" : "bad";
}

function Kpis({ answer, query, params }) {
  const loading = !answer || answer.query !== query;
  const kpis = answer?.kpis;
  const k = kpis || {};
  const dash = "—";
  // The tiles show values from here on (what the benchmark waits for).
  useEffect(() => {
    if (kpis) document.body.dataset.ready = "1";
  }, [kpis]);
  return (
    <section aria-labelledby="ioc-kpis-h">
      <h2 id="ioc-kpis-h" class="sr-only">{t("ioc.kpis.title")}</h2>
      <div
        class={`kpis ioc-kpis${loading ? " stale" : ""}`}
        data-state={kpis && !loading ? "ready" : "loading"}
        data-query={query}
        data-api={new URLSearchParams(params).toString()}
        aria-busy={loading ? "true" : "false"}
      >
        <Tile k="received" value={kpis ? k.received : null} shown={kpis ? fmtNumber(k.received) : dash} sub={kpis ? t("ioc.kpi.received_sub") : ""} />
        <Tile k="handled" value={kpis ? k.handled : null} shown={kpis ? fmtNumber(k.handled) : dash} sub={kpis && k.received ? t("ioc.kpi.handled_sub", { rate: fmtPercent(k.handled / k.received) }) : ""} />
        <Tile
          k="on_time_rate"
          value={kpis ? k.on_time_rate : null}
          shown={kpis ? fmtPercent(k.on_time_rate) : dash}
          sub={kpis ? t("ioc.kpi.on_time_sub", { n: fmtNumber(k.handled_on_time), of: fmtNumber(k.handled) }) : ""}
          tone={kpis && rateTone(k.on_time_rate, 0.9, 0.75)}
        />
        <Tile k="overdue_now" value={kpis ? k.overdue_now : null} shown={kpis ? fmtNumber(k.overdue_now) : dash} sub={kpis ? t("ioc.kpi.overdue_sub") : ""} tone={kpis && (k.overdue_now > 0 ? "bad" : "good")} />
        <Tile
          k="avg_handling_working_days"
          value={kpis ? k.avg_handling_working_days : null}
          shown={kpis ? fmtDays(k.avg_handling_working_days) : dash}
          sub={kpis ? t("ioc.kpi.days_sub") : ""}
        />
        <Tile
          k="satisfaction_rate"
          value={kpis ? k.satisfaction_rate : null}
          shown={kpis ? fmtPercent(k.satisfaction_rate) : dash}
          sub={kpis ? t("ioc.kpi.satisfaction_sub", { n: fmtNumber(k.rated) }) : ""}
          tone={kpis && rateTone(k.satisfaction_rate, 0.8, 0.6)}
        />
      </div>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Agency ranking

const RANK_COLUMNS = [
  ["rank", "num", "asc"],
  ["agency_name", "", "asc"],
  ["received", "num", "desc"],
  ["handled", "num", "desc"],
  ["on_time_rate", "num", "desc"],
  ["satisfaction_rate", "num", "desc"],
  ["avg_handling_working_days", "num", "asc"],
  ["overdue_now", "num", "desc"],
];

function Ranking({ data, error, onRetry, agencyName, filters }) {
  const [sort, setSort] = useState({ key: "rank", dir: "asc" });
  const rows = useMemo(() => {
    const list = [...(data?.agencies || [])];
    const { key, dir } = sort;
    const sign = dir === "asc" ? 1 : -1;
    list.sort((a, b) => {
      if (key === "agency_name") return sign * collator.compare(agencyName(a), agencyName(b));
      const x = a[key];
      const y = b[key];
      if (x == null && y == null) return a.rank - b.rank;
      if (x == null) return 1;
      if (y == null) return -1;
      return sign * (x - y) || a.rank - b.rank;
    });
    return list;
  }, [data, sort, agencyName]);
  const click = (key, first) => setSort((s) => (s.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: first }));
  return (
    <section class="card ioc-panel ioc-ranking" aria-labelledby="ioc-ranking-h">
      <div class="ioc-panel-head">
        <h2 id="ioc-ranking-h">{t("ioc.ranking.title")}</h2>
        <span class="muted small">{t("ioc.ranking.hint")}</span>
      </div>
      <ErrorBox error={error} onRetry={onRetry} />
      {!data && !error && <p class="muted" role="status">{t("app.loading")}</p>}
      {data && !data.agencies.length && <p class="muted">{t("ioc.ranking.empty")}</p>}
      {data && data.agencies.length > 0 && (
        <div class="table-wrap ioc-ranking-wrap">
          <table class="ioc-table" data-rows={rows.length}>
            <caption class="sr-only">{t("ioc.ranking.caption")}</caption>
            <thead>
              <tr>
                {RANK_COLUMNS.map(([key, cls, first]) => (
                  <th key={key} scope="col" class={cls} aria-sort={sort.key === key ? (sort.dir === "asc" ? "ascending" : "descending") : "none"}>
                    <button type="button" class="sort" onClick={() => click(key, first)}>
                      {t(`ioc.ranking.${key}`)}
                      <span aria-hidden="true" class="sort-mark">{sort.key === key ? (sort.dir === "asc" ? "▲" : "▼") : "↕"}</span>
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.agency_code} class={r.overdue_now > 0 ? "has-overdue" : ""} data-agency={r.agency_code}>
                  <td class="num">{r.rank}</td>
                  <th scope="row" class="agency">
                    <a href={`?${filterQuery({ ...filters, agency: r.agency_code })}`} title={t("ioc.ranking.filter_to", { name: agencyName(r) })}>{agencyName(r)}</a>
                  </th>
                  <td class="num">{fmtNumber(r.received)}</td>
                  <td class="num">{fmtNumber(r.handled)}</td>
                  <td class="num">
                    <span class={`rate tone-${rateTone(r.on_time_rate, 0.9, 0.75) || "none"}`}>{fmtPercent(r.on_time_rate)}</span>
                  </td>
                  <td class="num">{fmtPercent(r.satisfaction_rate)}</td>
                  <td class="num">{fmtDays(r.avg_handling_working_days)}</td>
                  <td class={`num${r.overdue_now > 0 ? " overdue-count" : ""}`}>{fmtNumber(r.overdue_now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Live feed

function matches(f, item) {
  return (
    (!f.agency || item.agency === f.agency) &&
    (!f.commune || item.commune === f.commune) &&
    (!f.category || item.category === f.category) &&
    (!f.channel || !item.channel || item.channel === f.channel)
  );
}

function Feed({ items, state, names }) {
  return (
    <section class="card ioc-panel ioc-feed" aria-labelledby="ioc-feed-h">
      <div class="ioc-panel-head">
        <h2 id="ioc-feed-h">{t("ioc.feed.title")}</h2>
        <span class={`ioc-live live-${state}`} role="status" data-state={state}>
          <span class="dot" aria-hidden="true" />
          {t(`ioc.feed.state.${state}`)}
        </span>
      </div>
      {!items.length && <p class="muted">{t("ioc.feed.empty")}</p>}
      <ol class="feed" aria-live="polite" aria-relevant="additions">
        {items.map((it) => (
          <li key={it.key} class={it.fresh ? "fresh" : it.action ? "" : "recent"} data-report={it.report_id}>
            <div class="feed-line">
              <time datetime={it.at}>{fmtTime(it.at)}</time>
              {it.action ? <strong>{t(`event.${it.action}`)}</strong> : <span class="sr-only">{t("ioc.feed.recent")}</span>}
              <StatusBadge status={it.status} />
              {it.priority === "urgent" && <span class="badge ioc-urgent">{t("priority.urgent")}</span>}
            </div>
            <div class="feed-what">
              <a href={`/inbox/${it.report_id}`}>#{it.report_id}</a> {names.category(it.category)}
              {it.commune && <span class="muted"> · {names.commune(it.commune)}</span>}
              {it.agency && <span class="muted"> · {it.agency}</span>}
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}

const timeFmt = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "vi-VN", { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const dayFmt = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh" });
function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return dayFmt.format(d) === dayFmt.format(new Date()) ? timeFmt.format(d) : fmtDateTime(iso);
}

/** The live feed: events from GET /ioc/feed (server-sent), applied in batches (what arrives
 * within 50 ms renders once) so a busy city cannot flood the page; each new line is
 * highlighted for a while. */
function useFeed(filtersRef, onEvent) {
  const [items, setItems] = useState([]);
  const [state, setState] = useState("connecting");
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;
  useEffect(() => {
    let es;
    let retry;
    let flushTimer = null;
    let pending = [];
    let closed = false;
    const flush = () => {
      flushTimer = null;
      const batch = pending.filter((ev) => matches(filtersRef.current, ev)).reverse();
      pending = [];
      if (!batch.length) return;
      const keys = new Set(batch.map((ev) => `e${ev.event_id}`));
      setItems((list) => [...batch.map((ev) => ({ ...ev, key: `e${ev.event_id}`, fresh: true })), ...list.filter((x) => !keys.has(x.key))].slice(0, FEED_MAX));
      setTimeout(() => setItems((list) => list.map((x) => (keys.has(x.key) ? { ...x, fresh: false } : x))), 8000);
    };
    const connect = () => {
      es = new EventSource("/api/v1/ioc/feed");
      es.onopen = () => setState("live");
      es.onerror = () => {
        if (closed) return;
        if (es.readyState === EventSource.CLOSED) {
          // Refused or gone (signed out, server restarted): try again later.
          setState("offline");
          clearTimeout(retry);
          retry = setTimeout(connect, 10_000);
        } else setState("reconnecting");
      };
      es.addEventListener("report", (e) => {
        let ev;
        try {
          ev = JSON.parse(e.data);
        } catch {
          return;
        }
        setState("live");
        onEventRef.current(ev);
        pending.push(ev);
        if (pending.length > FEED_MAX) pending = pending.slice(-FEED_MAX);
        flushTimer ??= setTimeout(flush, 50);
      });
    };
    connect();
    const bye = () => {
      closed = true;
      es?.close();
    };
    addEventListener("pagehide", bye);
    return () => {
      bye();
      clearTimeout(retry);
      clearTimeout(flushTimer);
      removeEventListener("pagehide", bye);
    };
  }, []);
  return { items, setItems, state };
}

// ---------------------------------------------------------------------------------------------
// The page

function useLazy(loader) {
  const [mod, setMod] = useState(null);
  useEffect(() => {
    loader().then(setMod, () => setMod({ failed: true }));
  }, []);
  return mod;
}

export default function Ioc() {
  const [filters, setFilters] = useState(readFilters);
  const [lists, setLists] = useState({ agencies: [], communes: [], categories: [] });
  const [kpis, setKpis] = useState(null); // { query, kpis }: the filters they answer, the figures
  const [trend, setTrend] = useState(null);
  const [ranking, setRanking] = useState(null);
  const [map, setMap] = useState(null);
  const [errors, setErrors] = useState({});
  const [updated, setUpdated] = useState(null);
  const gen = useRef(0);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const query = filterQuery(filters);
  const mapMod = useLazy(() => import("./ioc/map.jsx"));
  const trendMod = useLazy(() => import("./ioc/trend.jsx"));

  useEffect(() => {
    loadReference().then(([agencies, communes, categories]) => setLists({ agencies, communes, categories }));
  }, []);

  // Filters → URL (a reload or a shared link shows the same view); back/forward → filters.
  useEffect(() => {
    const url = `${location.pathname}${query ? `?${query}` : ""}`;
    if (url !== location.pathname + location.search) history.pushState(null, "", url);
  }, [query]);
  useEffect(() => {
    const pop = () => setFilters(readFilters());
    addEventListener("popstate", pop);
    return () => removeEventListener("popstate", pop);
  }, []);

  const setError = (k, e) => setErrors((x) => ({ ...x, [k]: e }));

  /** Fetches the given panels for the current filters; stale answers are dropped. */
  const load = useCallback((parts) => {
    const g = gen.current;
    const params = apiParams(filtersRef.current);
    const forQuery = filterQuery(filtersRef.current);
    const fetchPart = (k, path, extra, set) =>
      api
        .get(path, { ...params, ...extra })
        .then((v) => {
          if (g !== gen.current) return;
          set(v);
          setError(k, null);
          setUpdated(new Date());
        })
        .catch((e) => g === gen.current && setError(k, e));
    const jobs = [];
    if (parts.includes("kpis")) {
      jobs.push(
        fetchPart("kpis", "/ioc/kpis", {}, (v) => {
          setKpis({ query: forQuery, kpis: v });
        }),
      );
    }
    if (parts.includes("trend")) jobs.push(fetchPart("trend", "/ioc/trend", {}, setTrend));
    if (parts.includes("ranking")) jobs.push(fetchPart("ranking", "/ioc/ranking", {}, setRanking));
    if (parts.includes("map")) jobs.push(fetchPart("map", "/ioc/map", {}, setMap));
    return Promise.all(jobs);
  }, []);

  // A new view: every panel, in parallel.
  useEffect(() => {
    gen.current++;
    setTrend(null);
    setRanking(null);
    setMap(null);
    setErrors({});
    load(["kpis", "trend", "ranking", "map"]);
  }, [query, load]);

  // Periodic refresh: the figures every minute ("overdue now" moves with time), the map less often.
  useEffect(() => {
    const a = setInterval(() => load(["kpis", "trend", "ranking"]), REFRESH_EVERY_MS);
    const b = setInterval(() => load(["map"]), MAP_EVERY_MS);
    return () => {
      clearInterval(a);
      clearInterval(b);
    };
  }, [load]);

  // Live feed: each event refreshes the figures (debounced ~1 s) and, for new reports, the map.
  const timers = useRef({});
  // At most one refresh per second however many events arrive (a reset-on-every-event
  // debounce would never fire in a busy hour).
  const onEvent = useCallback(
    (ev) => {
      timers.current.figures ??= setTimeout(() => {
        timers.current.figures = null;
        load(["kpis", "trend", "ranking"]);
      }, REFRESH_DEBOUNCE_MS);
      if (ev.action === "create") {
        timers.current.map ??= setTimeout(() => {
          timers.current.map = null;
          load(["map"]);
        }, MAP_DEBOUNCE_MS);
      }
    },
    [load],
  );
  useEffect(() => () => Object.values(timers.current).forEach(clearTimeout), []);
  const feed = useFeed(filtersRef, onEvent);

  // The feed starts with the latest activity of the view, then grows live.
  useEffect(() => {
    const { agency, commune, category, channel } = filters;
    api
      .get("/reports", { agency, commune, category, channel, sort: "-updated", page_size: 15 })
      .then((page) => {
        const recent = page.items.map((r) => ({
          key: `r${r.id}`,
          report_id: r.id,
          status: r.status,
          category: r.category?.code,
          commune: r.commune?.code,
          agency: r.agency?.code,
          priority: r.priority,
          at: r.updated_at,
        }));
        feed.setItems((list) => {
          const live = list.filter((x) => x.event_id && matches(filtersRef.current, x));
          const seen = new Set(live.map((x) => x.report_id));
          return [...live, ...recent.filter((x) => !seen.has(x.report_id))].slice(0, FEED_MAX);
        });
      })
      .catch(() => {});
  }, [filters.agency, filters.commune, filters.category, filters.channel]);

  const names = useMemo(() => {
    const cats = new Map(lists.categories.map((c) => [c.code, c]));
    const units = new Map(lists.communes.map((c) => [c.code, c]));
    const agencies = new Map(lists.agencies.map((a) => [a.code, a]));
    return {
      category: (code) => localName(cats.get(code)) || code || "",
      commune: (code) => units.get(code)?.name || code || "",
      agency: (r) => (lang === "en" && agencies.get(r.agency_code)?.name_en) || r.agency_name,
    };
  }, [lists]);

  const [first, end] = periodDays(filters);
  const periodText = t("ioc.period.range", { from: fmtDay(first), to: fmtDay(addDays(end, -1)) });
  const exportQuery = apiQuery(filters, lang === "en" ? { lang: "en" } : {});
  const trendPoints = useMemo(() => (trend && trendMod?.fillDays ? trendMod.fillDays(trend.days, first, end) : null), [trend, trendMod, first, end]);

  return (
    <div class="ioc">
      <header class="ioc-head">
        <div>
          <h1>{t("ioc.title")}</h1>
          <p class="muted ioc-sub">
            {periodText}
            {updated && <> · {t("ioc.updated", { time: timeFmt.format(updated) })}</>}
          </p>
          <p class="ioc-links">
            <a href="/ioc/sharing-log">{t("ioc.sharing_log")}</a>
          </p>
        </div>
        <div class="ioc-exports" role="group" aria-label={t("ioc.export.label")}>
          <a class="btn btn-small" href={`/api/v1/ioc/export.xlsx?${exportQuery}`} download data-export="xlsx">
            {t("ioc.export.xlsx")}
          </a>
          <a class="btn btn-small" href={`/api/v1/ioc/export.csv?${exportQuery}`} download data-export="csv">
            {t("ioc.export.csv")}
          </a>
        </div>
      </header>

      <FilterBar filters={filters} onChange={setFilters} lists={lists} />

      <ErrorBox error={errors.kpis} onRetry={() => load(["kpis"])} />
      <Kpis answer={kpis} query={query} params={apiParams(filters)} />

      <div class="ioc-grid">
        <section class="card ioc-panel ioc-map-panel" aria-labelledby="ioc-map-h">
          <div class="ioc-panel-head">
            <h2 id="ioc-map-h">{t("ioc.map.title")}</h2>
          </div>
          <ErrorBox error={errors.map} onRetry={() => load(["map"])} />
          {mapMod?.IocMap ? <mapMod.IocMap data={map} categoryName={names.category} view={query} /> : <div class="map ioc-map" aria-busy="true" />}
          {mapMod?.failed && <ErrorBox error={t("error.network")} />}
        </section>

        <Feed items={feed.items} state={feed.state} names={names} />

        <section class="card ioc-panel ioc-trend" aria-labelledby="ioc-trend-h">
          <div class="ioc-panel-head">
            <h2 id="ioc-trend-h">{t("ioc.trend.title")}</h2>
          </div>
          <ErrorBox error={errors.trend} onRetry={() => load(["trend"])} />
          {trendPoints && trendMod?.TrendChart ? <trendMod.TrendChart points={trendPoints} /> : !errors.trend && <p class="muted ioc-chart-placeholder" role="status">{t("app.loading")}</p>}
        </section>

        <Ranking data={ranking} error={errors.ranking} onRetry={() => load(["ranking"])} agencyName={names.agency} filters={filters} />
      </div>
    </div>
  );
}

const dayOnly = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "vi-VN", { timeZone: "UTC", day: "2-digit", month: "2-digit", year: "numeric" });
function fmtDay(day) {
  return dayOnly.format(new Date(`${day}T00:00:00Z`));
}

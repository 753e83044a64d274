// The agency inbox: the agency's reports, soonest deadline first, with filters kept in the URL
// so a reload or a shared link shows the same list. Agency staff see their own agency only;
// IOC operators and administrators see every agency and may pick one.
// On a phone each row is laid out as a card (see styles/inbox.css).
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { user, isIoc } from "../lib/boot.js";
import { t, lang, fmtDateTime, fmtNumber, vnMidnight } from "../lib/i18n.js";
import { ErrorBox, Loading, StatusBadge, DeadlineBadge, deadlineState, Field } from "../components/ui.jsx";

export const wide = true;

export const OPEN = ["received", "assigned", "in_progress", "transferred", "reopened"];
const STATUSES = [...OPEN, "resolved", "closed", "rejected"];
const SORTS = ["deadline", "-created", "created", "-updated"];
const PAGE_SIZE = 50;
const REFRESH_MS = 60_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
export const BACK_KEY = "inbox.back";

/** The agency the list is limited to: the clerk's own, or the one an IOC operator picked. */
const ownAgency = user?.role === "agency_staff" ? user.agency_code || null : null;

function readUrl() {
  const p = new URLSearchParams(location.search);
  const status = p.get("status") || "open";
  const sort = p.get("sort") || "deadline";
  return {
    status: status === "open" || status === "all" || STATUSES.includes(status) ? status : "open",
    category: p.get("category") || "",
    commune: p.get("commune") || "",
    agency: ownAgency ? "" : p.get("agency") || "",
    overdue: p.get("overdue") === "1",
    from: DAY.test(p.get("from") || "") ? p.get("from") : "",
    to: DAY.test(p.get("to") || "") ? p.get("to") : "",
    q: p.get("q") || "",
    sort: SORTS.includes(sort) ? sort : "deadline",
    page: Math.max(1, parseInt(p.get("page"), 10) || 1),
  };
}

function toQuery(f) {
  const p = new URLSearchParams();
  if (f.status !== "open") p.set("status", f.status);
  for (const k of ["category", "commune", "agency", "from", "to"]) if (f[k]) p.set(k, f[k]);
  if (f.q.trim()) p.set("q", f.q.trim());
  if (f.overdue) p.set("overdue", "1");
  if (f.sort !== "deadline") p.set("sort", f.sort);
  if (f.page > 1) p.set("page", String(f.page));
  const s = p.toString();
  return `${location.pathname}${s ? `?${s}` : ""}`;
}

function listParams(f) {
  return {
    status: f.status === "open" ? OPEN.join(",") : f.status === "all" ? undefined : f.status,
    category: f.category,
    commune: f.commune,
    agency: ownAgency || f.agency,
    overdue: f.overdue ? "true" : undefined,
    q: f.q.trim(),
    from: f.from ? vnMidnight(f.from) : undefined,
    to: f.to ? `${f.to}T23:59:59+07:00` : undefined,
    sort: f.sort,
    page: f.page,
    page_size: PAGE_SIZE,
  };
}

/** Open reports past their deadline, counted over at most a few pages. */
async function countOverdue(agency, signal) {
  let n = 0;
  for (let page = 1; page <= 10; page++) {
    const r = await api.get("/reports", { agency, status: OPEN.join(","), overdue: "true", page, page_size: 500 }, { signal });
    n += r.items.length;
    if (!r.has_more) return { n, more: false };
  }
  return { n, more: true };
}

/** Open reports due within 24 hours: walk the not-yet-overdue ones by deadline until one is later. */
async function countDueSoon(agency, signal) {
  const now = Date.now();
  const limit = now + 24 * 3600 * 1000;
  let n = 0;
  for (let page = 1; page <= 10; page++) {
    const r = await api.get("/reports", { agency, status: OPEN.join(","), overdue: "false", sort: "deadline", page, page_size: 200 }, { signal });
    for (const it of r.items) {
      const due = Date.parse(it.deadline_at);
      if (due >= limit) return { n, more: false };
      if (due >= now) n++;
    }
    if (!r.has_more) return { n, more: false };
  }
  return { n, more: true };
}

/** Name of a category or commune in the page's language, from the reference lists. */
export function categoryName(named, categories) {
  if (!named) return "—";
  const c = categories?.find((x) => x.code === named.code);
  return (lang === "en" && c?.name_en) || named.name;
}

const ref = { categories: null, communes: null, agencies: null };
function loadReference() {
  ref.categories ??= api.get("/categories").catch(() => []);
  ref.communes ??= api.get("/admin-units").then((u) => (Array.isArray(u) ? u : u.items || [])).catch(() => []);
  ref.agencies ??= isIoc() ? api.get("/agencies").catch(() => []) : Promise.resolve([]);
  return Promise.all([ref.categories, ref.communes, ref.agencies]);
}

export default function Inbox() {
  const [filters, setFilters] = useState(readUrl);
  const [draftQ, setDraftQ] = useState(filters.q);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(true);
  const [counts, setCounts] = useState(null);
  const [countsError, setCountsError] = useState(false);
  const [reference, setReference] = useState({ categories: [], communes: [], agencies: [] });
  const [showFilters, setShowFilters] = useState(false);
  const [reloadTick, setReloadTick] = useState(0);
  const typing = useRef(null);
  const silent = useRef(false);
  const scope = ownAgency || filters.agency || undefined;

  useEffect(() => {
    loadReference().then(([categories, communes, agencies]) => setReference({ categories, communes, agencies }));
    const onPop = () => {
      const f = readUrl();
      setFilters(f);
      setDraftQ(f.q);
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  // The list: reloaded whenever the filters change; the URL follows.
  useEffect(() => {
    const url = toQuery(filters);
    if (url !== location.pathname + location.search) history.replaceState(null, "", url);
    try {
      sessionStorage.setItem(BACK_KEY, url);
    } catch {}
    const ctl = new AbortController();
    const quiet = silent.current;
    silent.current = false;
    if (!quiet) {
      setLoading(true);
      setError(null);
    }
    api
      .get("/reports", listParams(filters), { signal: ctl.signal })
      .then((d) => {
        setData(d);
        setError(null);
        setLoading(false);
      })
      .catch((e) => {
        if (e.name === "AbortError") return;
        if (!quiet) setError(e);
        setLoading(false);
      });
    return () => ctl.abort();
  }, [filters, reloadTick]);

  // Clerks keep this page open all day: refresh quietly every minute while it is visible.
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState !== "visible") return;
      silent.current = true;
      setReloadTick((n) => n + 1);
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  // The counts at the top are for the whole agency (or, for the IOC, the chosen agency or all).
  useEffect(() => {
    const ctl = new AbortController();
    setCountsError(false);
    Promise.all([countOverdue(scope, ctl.signal), countDueSoon(scope, ctl.signal)])
      .then(([overdue, dueSoon]) => setCounts({ overdue, dueSoon }))
      .catch((e) => e.name !== "AbortError" && setCountsError(true));
    return () => ctl.abort();
  }, [scope, reloadTick]);

  const update = (patch, { push = false } = {}) => {
    if (push) {
      const next = { ...filters, page: 1, ...patch };
      history.pushState(null, "", toQuery(next));
      setFilters(next);
    } else {
      // Functional, so a debounced search never undoes a filter chosen meanwhile.
      setFilters((prev) => ({ ...prev, page: 1, ...patch }));
    }
  };
  const onSearchInput = (e) => {
    const v = e.currentTarget.value;
    setDraftQ(v);
    clearTimeout(typing.current);
    typing.current = setTimeout(() => update({ q: v }), 450);
  };
  const onSearchSubmit = (e) => {
    e.preventDefault();
    clearTimeout(typing.current);
    update({ q: draftQ });
  };
  const reset = () => {
    clearTimeout(typing.current);
    setDraftQ("");
    update({ status: "open", category: "", commune: "", agency: "", overdue: false, from: "", to: "", q: "", sort: "deadline" });
  };
  const goPage = (page) => {
    const next = { ...filters, page };
    history.pushState(null, "", toQuery(next));
    setFilters(next);
    document.getElementById("inbox-results")?.focus();
  };

  const active = ["category", "commune", "agency", "from", "to"].filter((k) => filters[k]).length + (filters.overdue ? 1 : 0) + (filters.status !== "open" ? 1 : 0);
  const items = data?.items || [];
  const first = (filters.page - 1) * PAGE_SIZE + 1;
  const agencyName = ownAgency ? user.agency_name : reference.agencies.find((a) => a.code === filters.agency)?.name;
  const periodError = filters.from && filters.to && filters.from > filters.to;

  return (
    <div class="inbox">
      <div class="inbox-head">
        <div>
          <h1>{t("inbox.title")}</h1>
          <p class="muted inbox-scope">{agencyName || t("inbox.all_agencies")}</p>
        </div>
        <div class="inbox-counts" aria-live="polite">
          <button
            type="button"
            class={`inbox-count count-overdue${filters.overdue ? " active" : ""}`}
            aria-pressed={filters.overdue ? "true" : "false"}
            onClick={() => update({ overdue: !filters.overdue, status: filters.overdue ? filters.status : "open" }, { push: true })}
            title={t("inbox.count.overdue_hint")}
          >
            <span class="value" data-count="overdue">{counts ? `${fmtNumber(counts.overdue.n)}${counts.overdue.more ? "+" : ""}` : "…"}</span>
            <span class="label">{t("inbox.count.overdue")}</span>
          </button>
          <div class="inbox-count count-due_soon">
            <span class="value" data-count="due_soon">{counts ? `${fmtNumber(counts.dueSoon.n)}${counts.dueSoon.more ? "+" : ""}` : "…"}</span>
            <span class="label">{t("inbox.count.due_soon")}</span>
          </div>
          {countsError && <span class="muted small">{t("inbox.count.error")}</span>}
        </div>
      </div>

      <form class={`inbox-filters card${showFilters ? " open" : ""}`} role="search" aria-label={t("inbox.filters")} onSubmit={onSearchSubmit}>
        <div class="inbox-search">
          <Field id="f-q" label={t("inbox.filter.q")} hint={t("inbox.filter.q_hint")}>
            <div class="inbox-q">
              <input id="f-q" type="search" value={draftQ} onInput={onSearchInput} aria-describedby="f-q-hint" placeholder={t("inbox.filter.q_placeholder")} autocomplete="off" />
              <button type="submit" class="btn btn-primary">{t("app.search")}</button>
            </div>
          </Field>
          <button type="button" class="btn inbox-filters-toggle" aria-expanded={showFilters ? "true" : "false"} aria-controls="inbox-more-filters" onClick={() => setShowFilters(!showFilters)}>
            {t("inbox.filters")}{active ? ` (${active})` : ""}
          </button>
        </div>
        <div class="inbox-more" id="inbox-more-filters">
          <Field id="f-status" label={t("inbox.filter.status")}>
            <select id="f-status" value={filters.status} onChange={(e) => update({ status: e.currentTarget.value })}>
              <option value="open">{t("inbox.filter.status_open")}</option>
              <option value="all">{t("inbox.filter.status_all")}</option>
              {STATUSES.map((s) => <option key={s} value={s}>{t(`status.${s}`)}</option>)}
            </select>
          </Field>
          <Field id="f-category" label={t("inbox.filter.category")}>
            <select id="f-category" value={filters.category} onChange={(e) => update({ category: e.currentTarget.value })}>
              <option value="">{t("app.all")}</option>
              {reference.categories.map((c) => <option key={c.code} value={c.code}>{(lang === "en" && c.name_en) || c.name}</option>)}
            </select>
          </Field>
          <Field id="f-commune" label={t("inbox.filter.commune")}>
            <select id="f-commune" value={filters.commune} onChange={(e) => update({ commune: e.currentTarget.value })}>
              <option value="">{t("app.all")}</option>
              {reference.communes.map((c) => <option key={c.code} value={c.code}>{c.name}</option>)}
            </select>
          </Field>
          {!ownAgency && (
            <Field id="f-agency" label={t("inbox.filter.agency")}>
              <select id="f-agency" value={filters.agency} onChange={(e) => update({ agency: e.currentTarget.value })}>
                <option value="">{t("app.all")}</option>
                {reference.agencies.map((a) => <option key={a.code} value={a.code}>{(lang === "en" && a.name_en) || a.name}</option>)}
              </select>
            </Field>
          )}
          <Field id="f-from" label={t("inbox.filter.from")}>
            <input id="f-from" type="date" value={filters.from} max={filters.to || undefined} onChange={(e) => update({ from: e.currentTarget.value })} />
          </Field>
          <Field id="f-to" label={t("inbox.filter.to")} error={periodError ? t("inbox.filter.period_error") : null}>
            <input id="f-to" type="date" value={filters.to} min={filters.from || undefined} onChange={(e) => update({ to: e.currentTarget.value })} />
          </Field>
          <Field id="f-sort" label={t("inbox.filter.sort")}>
            <select id="f-sort" value={filters.sort} onChange={(e) => update({ sort: e.currentTarget.value })}>
              {SORTS.map((s) => <option key={s} value={s}>{t(`inbox.sort.${s}`)}</option>)}
            </select>
          </Field>
          <div class="inbox-extra">
            <div class="field checkbox">
              <input id="f-overdue" type="checkbox" checked={filters.overdue} onChange={(e) => update({ overdue: e.currentTarget.checked })} />
              <label for="f-overdue">{t("inbox.filter.overdue")}</label>
            </div>
            <button type="button" class="btn btn-small" onClick={reset} disabled={!active && !filters.q && filters.sort === "deadline"}>{t("inbox.filter.reset")}</button>
          </div>
        </div>
      </form>

      <section class="inbox-results" id="inbox-results" tabIndex={-1} aria-labelledby="inbox-results-title" aria-busy={loading ? "true" : "false"}>
        <div class="row inbox-meta">
          <h2 id="inbox-results-title" class="sr-only">{t("inbox.results")}</h2>
          <p class="muted" role="status">
            {loading ? t("app.loading") : items.length ? t("inbox.showing", { from: fmtNumber(first), to: fmtNumber(first + items.length - 1) }) : ""}
          </p>
          <span class="spacer" />
          <button type="button" class="btn btn-small" onClick={() => setReloadTick(reloadTick + 1)}>{t("inbox.refresh")}</button>
        </div>
        <ErrorBox error={error} onRetry={() => setReloadTick(reloadTick + 1)} />
        {!data && loading && <Loading />}
        {data && !items.length && !loading && <p class="inbox-empty card">{t("inbox.empty")}</p>}
        {items.length > 0 && (
          <div class={`table-wrap inbox-table-wrap${loading ? " stale" : ""}`}>
            <table class="table inbox-table">
              <caption class="sr-only">{t("inbox.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("inbox.col.id")}</th>
                  <th scope="col">{t("inbox.col.category")}</th>
                  <th scope="col">{t("inbox.col.address")}</th>
                  <th scope="col">{t("inbox.col.status")}</th>
                  <th scope="col">{t("inbox.col.priority")}</th>
                  <th scope="col">{t("inbox.col.received")}</th>
                  <th scope="col">{t("inbox.col.deadline")}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <Row key={r.id} r={r} categories={reference.categories} showAgency={!scope} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {data && (filters.page > 1 || data.has_more) && (
          <nav class="row pager" aria-label={t("inbox.pages")}>
            <button type="button" class="btn btn-small" disabled={filters.page <= 1 || loading} onClick={() => goPage(filters.page - 1)}>
              ← {t("inbox.prev")}
            </button>
            <span aria-current="page">{t("inbox.page", { page: fmtNumber(filters.page) })}</span>
            <button type="button" class="btn btn-small" disabled={!data.has_more || loading} onClick={() => goPage(filters.page + 1)}>
              {t("inbox.next")} →
            </button>
          </nav>
        )}
      </section>
    </div>
  );
}

function Row({ r, categories, showAgency }) {
  const state = deadlineState(r);
  const href = `/inbox/${r.id}`;
  const open = (e) => {
    if (e.target.closest("a, button")) return;
    if (getSelection()?.toString()) return;
    if (e.ctrlKey || e.metaKey) window.open(href, "_blank");
    else location.href = href;
  };
  return (
    <tr class={state === "overdue" || state === "due_soon" ? state : undefined} data-id={r.id} data-deadline={r.deadline_at} data-status={r.status} onClick={open}>
      <td class="c-id">
        <a href={href} aria-label={t("inbox.open_report", { id: r.id })}>#{r.id}</a>
      </td>
      <td class="c-cat">
        <strong>{categoryName(r.category, categories)}</strong>
        <span class="desc" title={r.description}>{r.description}</span>
        {showAgency && r.agency && <span class="muted agency">{r.agency.code}</span>}
      </td>
      <td class="c-addr">
        {r.address && <span class="addr">{r.address}</span>}
        {r.commune && (!r.address || !r.address.includes(r.commune.name)) && <span class={r.address ? "muted commune" : "commune"}>{r.commune.name}</span>}
        {!r.address && !r.commune && <span class="muted">—</span>}
      </td>
      <td class="c-status"><StatusBadge status={r.status} /></td>
      <td class="c-prio">
        {r.priority === "urgent" ? <span class="badge prio-urgent">{t("priority.urgent")}</span> : <span class="muted">{t("priority.normal")}</span>}
      </td>
      <td class="c-recv" data-label={t("inbox.col.received")}>
        <time datetime={r.created_at}>{fmtDateTime(r.created_at)}</time>
      </td>
      <td class="c-deadline" data-label={t("inbox.col.deadline")}>
        {state === "overdue" || state === "due_soon" ? <DeadlineBadge report={r} /> : <time datetime={r.deadline_at}>{fmtDateTime(r.deadline_at)}</time>}
      </td>
    </tr>
  );
}

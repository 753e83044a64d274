// The open-data portal's catalogue (/dataset): search (the API ignores diacritics), facets with
// counts toggled as filters, sort and pages. The whole state is in the URL, so a search can be
// shared as a link and the browser's back button steps through it.
import { useEffect, useRef, useState } from "preact/hooks";
import { user } from "../lib/boot.js";
import { t, fmtNumber, fmtDate } from "../lib/i18n.js";
import { action, cachedAction, localized, langAttr, ckanTime, licenceTitle } from "../lib/ckan.js";
import { ErrorBox, Loading } from "../components/ui.jsx";
import { ckanErrorText } from "./opendata/common.jsx";

export const wide = true;

export const FACETS = ["organization", "groups", "tags", "res_format", "license_id"];
const SORTS = {
  relevance: "score desc, metadata_modified desc",
  modified: "metadata_modified desc",
  created: "metadata_created desc",
  title: "title_string asc",
};
const ROWS = 20;
const FACETS_SHOWN = 8;
// Facets start open beside the results on a wide screen, folded above them on a phone (the
// chosen ones show as chips either way).
const wideScreen = typeof matchMedia !== "function" || matchMedia("(min-width: 900px)").matches;

/** The page's state from the URL: ?q=…&tags=a&tags=b&sort=…&page=N. */
export function readState(search = location.search) {
  const p = new URLSearchParams(search);
  const filters = {};
  for (const f of FACETS) {
    const values = p.getAll(f).filter(Boolean);
    if (values.length) filters[f] = values;
  }
  const sort = SORTS[p.get("sort")] ? p.get("sort") : "";
  const page = Math.max(1, Number.parseInt(p.get("page") || "1", 10) || 1);
  return { q: p.get("q") || "", filters, sort, page };
}

function stateUrl(s) {
  const p = new URLSearchParams();
  if (s.q.trim()) p.set("q", s.q.trim());
  for (const f of FACETS) for (const v of s.filters[f] || []) p.append(f, v);
  if (s.sort) p.set("sort", s.sort);
  if (s.page > 1) p.set("page", String(s.page));
  const qs = p.toString();
  return qs ? `/dataset?${qs}` : "/dataset";
}

/** A value as a Solr phrase; a double quote cannot be escaped in the API's syntax. */
const phrase = (v) => `"${String(v).replaceAll('"', "")}"`;

/**
 * `fq` for the chosen facet values: values of one facet are alternatives (OR), facets narrow
 * each other (AND).
 */
export function filterQuery(filters) {
  return FACETS.filter((f) => filters[f]?.length)
    .map((f) => (filters[f].length === 1 ? `${f}:${phrase(filters[f][0])}` : `${f}:(${filters[f].map(phrase).join(" OR ")})`))
    .join(" ");
}

/** Names of organizations, groups and licences in the page's language (the facets give Vietnamese). */
function useNames() {
  const [names, setNames] = useState({ organization: {}, groups: {}, license_id: {} });
  useEffect(() => {
    let live = true;
    const byName = (list, pick) => Object.fromEntries((list || []).map((x) => [x.name ?? x.id, pick(x)]));
    Promise.all([
      cachedAction("organization_list", { all_fields: true }).catch(() => []),
      cachedAction("group_list", { all_fields: true }).catch(() => []),
      cachedAction("license_list").catch(() => []),
    ]).then(([orgs, groups, licences]) => {
      if (!live) return;
      setNames({
        organization: byName(orgs, (o) => localized(o.title_translated, o.display_name || o.title).text),
        groups: byName(groups, (g) => localized(g.title_translated, g.display_name || g.title).text),
        license_id: Object.fromEntries((licences || []).map((l) => [l.id, licenceTitle(l)])),
      });
    });
    return () => (live = false);
  }, []);
  return names;
}

export default function Datasets() {
  const [state, setState] = useState(() => readState());
  const [query, setQuery] = useState(state.q);
  const [result, setResult] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const names = useNames();
  // The state of the last render, for a change made from a timer (the search box's pause).
  const current = useRef(state);
  current.current = state;

  // Back and forward restore an earlier search.
  useEffect(() => {
    const onPop = () => {
      const s = readState();
      setState(s);
      setQuery(s.q);
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  /** A new search state: a new history entry, so back returns to the previous one. */
  function go(next) {
    const s = { ...current.current, page: 1, ...next };
    const url = stateUrl(s);
    if (url !== location.pathname + location.search) history.pushState(null, "", url);
    setState(s);
  }

  // The search box applies itself after a pause in typing.
  useEffect(() => {
    if (query.trim() === state.q.trim()) return undefined;
    const id = setTimeout(() => {
      if (query.trim() !== current.current.q.trim()) go({ q: query });
    }, 500);
    return () => clearTimeout(id);
  }, [query]);

  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    setError(null);
    action(
      "package_search",
      {
        q: state.q.trim(),
        fq: filterQuery(state.filters),
        "facet.field": FACETS,
        "facet.limit": 50,
        rows: ROWS,
        start: (state.page - 1) * ROWS,
        sort: SORTS[state.sort || "relevance"],
        // As CKAN's own pages: signed-in people also see the private datasets the API lets them.
        include_private: user ? true : undefined,
      },
      { signal: ctl.signal },
    )
      .then((r) => {
        setResult(r);
        setLoading(false);
      })
      .catch((e) => {
        if (e.name === "AbortError") return;
        setError(e);
        setLoading(false);
      });
    return () => ctl.abort();
  }, [state, attempt]);

  const toggle = (field, value) => {
    const current = state.filters[field] || [];
    const values = current.includes(value) ? current.filter((v) => v !== value) : [...current, value];
    const filters = { ...state.filters, [field]: values };
    if (!values.length) delete filters[field];
    go({ filters });
  };
  const label = (field, item) => names[field]?.[item.name] || item.display_name || item.name;
  const chosen = FACETS.flatMap((f) => (state.filters[f] || []).map((v) => [f, v]));
  const count = result?.count ?? 0;
  const pages = Math.max(1, Math.ceil(count / ROWS));

  return (
    <div class="od">
      <section class="od-hero">
        <h1>{t("opendata.title")}</h1>
        <p class="od-lead">{t("opendata.lead")}</p>
        <form
          class="od-search"
          role="search"
          aria-label={t("opendata.search")}
          onSubmit={(e) => {
            e.preventDefault();
            go({ q: query });
          }}
        >
          <label for="od-q" class="sr-only">{t("opendata.search")}</label>
          <input id="od-q" type="search" value={query} placeholder={t("opendata.search_placeholder")} onInput={(e) => setQuery(e.currentTarget.value)} />
          <button type="submit" class="btn btn-primary">{t("app.search")}</button>
        </form>
      </section>

      <div class="od-layout">
        <aside class="od-facets" aria-label={t("opendata.facets")}>
          <details class="od-facets-toggle" open={wideScreen}>
            <summary>{t("opendata.facets")}{chosen.length ? ` (${chosen.length})` : ""}</summary>
            {FACETS.map((f) => (
              <Facet key={f} field={f} items={result?.search_facets?.[f]?.items || []} selected={state.filters[f] || []} label={label} onToggle={toggle} />
            ))}
          </details>
        </aside>

        <section class="od-results" aria-labelledby="od-count">
          <div class="od-results-head">
            <p id="od-count" class="od-count" role="status" aria-live="polite" data-count={result ? count : undefined}>
              {result ? t(count === 1 ? "opendata.count_one" : "opendata.count", { n: fmtNumber(count) }) : t("app.loading")}
            </p>
            <div class="field od-sort">
              <label for="od-sort">{t("opendata.sort")}</label>
              <select id="od-sort" value={state.sort || "relevance"} onChange={(e) => go({ sort: e.currentTarget.value === "relevance" ? "" : e.currentTarget.value })}>
                {Object.keys(SORTS).map((k) => (
                  <option key={k} value={k}>{t(`opendata.sort.${k}`)}</option>
                ))}
              </select>
            </div>
          </div>

          {chosen.length > 0 && (
            <ul class="od-chips" aria-label={t("opendata.active_filters")}>
              {chosen.map(([f, v]) => (
                <li key={`${f}:${v}`}>
                  <button type="button" class="od-chip" onClick={() => toggle(f, v)} aria-label={t("opendata.remove_filter", { facet: t(`opendata.facet.${f}`), value: label(f, { name: v }) })}>
                    <span class="muted">{t(`opendata.facet.${f}`)}:</span> {label(f, { name: v })} <span aria-hidden="true">×</span>
                  </button>
                </li>
              ))}
              <li>
                <button type="button" class="btn btn-small" onClick={() => { setQuery(""); go({ q: "", filters: {} }); }}>{t("opendata.clear")}</button>
              </li>
            </ul>
          )}

          <ErrorBox error={error && ckanErrorText(error)} onRetry={() => setAttempt((a) => a + 1)} />
          {loading && !result && <Loading />}
          {result && (
            <ul class={`od-list${loading ? " od-busy" : ""}`} aria-busy={loading ? "true" : "false"}>
              {result.results.map((d) => (
                <DatasetItem key={d.id} dataset={d} />
              ))}
            </ul>
          )}
          {result && !count && !loading && <p class="od-empty">{t("opendata.none")}</p>}
          {pages > 1 && (
            <nav class="od-pager" aria-label={t("opendata.pages")}>
              <button type="button" class="btn btn-small" disabled={state.page <= 1} onClick={() => go({ page: state.page - 1, filters: state.filters })}>
                {t("opendata.prev")}
              </button>
              <span>{t("opendata.page_of", { page: fmtNumber(state.page), pages: fmtNumber(pages) })}</span>
              <button type="button" class="btn btn-small" disabled={state.page >= pages} onClick={() => go({ page: state.page + 1, filters: state.filters })}>
                {t("opendata.next")}
              </button>
            </nav>
          )}
          <p class="od-api muted">
            {t("opendata.api_hint")} <a href="/api/3/action/package_search">/api/3/action/package_search</a> · <a href="/catalog.ttl">{t("opendata.dcat_catalog")}</a>
          </p>
        </section>
      </div>
    </div>
  );
}

function Facet({ field, items, selected, label, onToggle }) {
  const [all, setAll] = useState(false);
  // Chosen values stay listed even when the API no longer counts them (count 0).
  const shown = [...items];
  for (const v of selected) if (!shown.some((i) => i.name === v)) shown.push({ name: v, display_name: v, count: 0 });
  const visible = all ? shown : shown.filter((i, n) => n < FACETS_SHOWN || selected.includes(i.name));
  if (!shown.length) return null;
  const id = `od-facet-${field}`;
  return (
    <fieldset class="od-facet" id={id}>
      <legend>{t(`opendata.facet.${field}`)}</legend>
      <ul>
        {visible.map((item) => {
          const on = selected.includes(item.name);
          const inputId = `${id}-${encodeURIComponent(item.name).replace(/%/g, "_")}`;
          return (
            <li key={item.name}>
              <input type="checkbox" id={inputId} checked={on} onChange={() => onToggle(field, item.name)} />
              <label for={inputId}>
                <span class="od-facet-name">{label(field, item)}</span> <span class="od-facet-count">{fmtNumber(item.count)}</span>
              </label>
            </li>
          );
        })}
      </ul>
      {shown.length > FACETS_SHOWN && (
        <button type="button" class="btn btn-small od-more" aria-expanded={all ? "true" : "false"} aria-controls={id} onClick={() => setAll(!all)}>
          {all ? t("opendata.fewer") : t("opendata.more", { n: fmtNumber(shown.length - FACETS_SHOWN) })}
        </button>
      )}
    </fieldset>
  );
}

function DatasetItem({ dataset: d }) {
  const title = localized(d.title_translated, d.title || d.name);
  const notes = localized(d.notes_translated, d.notes);
  const org = d.organization ? localized(d.organization.title_translated, d.organization.title) : null;
  const formats = [...new Set((d.resources || []).map((r) => String(r.format || "").toUpperCase()).filter(Boolean))];
  return (
    <li class="od-item">
      <h2>
        <a href={`/dataset/${encodeURIComponent(d.name)}`} lang={langAttr(title.lang)}>{title.text}</a>
        {d.private && <span class="badge od-private">{t("opendata.private")}</span>}
      </h2>
      {org && <p class="od-org" lang={langAttr(org.lang)}>{org.text}</p>}
      {notes.text && <p class="od-notes" lang={langAttr(notes.lang)}>{excerpt(notes.text)}</p>}
      <p class="od-meta">
        {formats.map((f) => (
          <span key={f} class="od-format">{f}</span>
        ))}
        <span class="muted">{t("opendata.modified", { date: fmtDate(ckanTime(d.metadata_modified)) })}</span>
      </p>
    </li>
  );
}

/** The first words of a description (CKAN's notes are Markdown; shown here as plain text). */
function excerpt(text, max = 220) {
  const plain = String(text).replace(/[#*_`>[\]]/g, "").replace(/\s+/g, " ").trim();
  return plain.length > max ? `${plain.slice(0, max).replace(/\s\S*$/, "")}…` : plain;
}

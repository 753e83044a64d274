// My reports (/my, signed in): the caller's own reports, newest first, with status, deadline,
// category and time; resolved ones wait for the citizen's rating.
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.js";
import { t, fmtNumber } from "../lib/i18n.js";
import { ErrorBox, Loading } from "../components/ui.jsx";
import { OPEN_STATUSES, PlusIcon, ReportItem, useReference } from "./portal-shared.jsx";

const PAGE = 20;
const TABS = [
  ["all", null],
  ["open", OPEN_STATUSES.join(",")],
  ["resolved", "resolved"],
  ["closed", "closed"],
  ["rejected", "rejected"],
];

export default function My() {
  const ref = useReference();
  const [tab, setTab] = useState(() => {
    const s = new URLSearchParams(location.search).get("tab");
    return TABS.some(([k]) => k === s) ? s : "all";
  });
  const [list, setList] = useState({ items: [], page: 0, has_more: false, loading: true });
  const [error, setError] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const [toRate, setToRate] = useState(null);
  const status = TABS.find(([k]) => k === tab)[1];

  useEffect(() => {
    api
      .get("/reports", { mine: true, status: "resolved", page_size: 100 })
      .then((res) => setToRate({ n: res.items.filter((r) => !r.rating).length, more: res.has_more }))
      .catch(() => {});
  }, [attempt]);

  useEffect(() => {
    history.replaceState(null, "", tab === "all" ? "/my" : `/my?tab=${tab}`);
    const ctl = new AbortController();
    setError(null);
    setList({ items: [], page: 0, has_more: false, loading: true });
    api
      .get("/reports", { mine: true, status, page: 1, page_size: PAGE, sort: "-created" }, { signal: ctl.signal })
      .then((res) => setList({ items: res.items, page: 1, has_more: res.has_more, loading: false }))
      .catch((e) => {
        if (e.name === "AbortError") return;
        setError(e);
        setList((l) => ({ ...l, loading: false }));
      });
    return () => ctl.abort();
  }, [tab, attempt]);

  async function more() {
    setList((l) => ({ ...l, loading: true }));
    try {
      const next = list.page + 1;
      const res = await api.get("/reports", { mine: true, status, page: next, page_size: PAGE, sort: "-created" });
      setList((l) => ({ items: [...l.items, ...res.items], page: next, has_more: res.has_more, loading: false }));
    } catch (e) {
      setError(e);
      setList((l) => ({ ...l, loading: false }));
    }
  }

  return (
    <div class="my">
      <div class="my-head">
        <h1>{t("page.my.title")}</h1>
        <a class="btn btn-primary" href="/report"><PlusIcon /> {t("portal.cta")}</a>
      </div>
      {toRate?.n > 0 && (
        <div class="alert alert-info" role="status">
          <span>{t(toRate.more ? "portal.my.to_rate_more" : "portal.my.to_rate", { n: fmtNumber(toRate.n) })}</span>
          {tab !== "resolved" && <button type="button" class="btn btn-small" onClick={() => setTab("resolved")}>{t("portal.my.show_to_rate")}</button>}
        </div>
      )}
      <div class="tabs" role="group" aria-label={t("portal.my.filter")}>
        {TABS.map(([k]) => (
          <button type="button" key={k} class={`tab${tab === k ? " active" : ""}`} aria-pressed={tab === k ? "true" : "false"} onClick={() => setTab(k)}>
            {t(`portal.my.tab_${k}`)}
          </button>
        ))}
      </div>
      <ErrorBox error={error} onRetry={() => setAttempt((n) => n + 1)} />
      <section class="card my-list" aria-labelledby="my-list-h" aria-busy={list.loading}>
        <h2 id="my-list-h" class="sr-only">{t(`portal.my.tab_${tab}`)}</h2>
        {list.loading && !list.items.length ? (
          <Loading />
        ) : !list.items.length && !error ? (
          <div class="empty-state">
            <p>{tab === "all" ? t("portal.my.empty") : t("portal.my.empty_filtered")}</p>
            {tab === "all" && <a class="btn btn-primary" href="/report">{t("portal.cta")}</a>}
          </div>
        ) : (
          <ul class="report-list">
            {list.items.map((r) => (
              <ReportItem
                key={r.id}
                report={r}
                categories={ref.categories}
                deadline
                extra={r.status === "resolved" && !r.rating ? <span class="badge badge-torate">{t("portal.my.needs_rating")}</span> : null}
              />
            ))}
          </ul>
        )}
        {list.has_more && (
          <button type="button" class="btn btn-block" onClick={more} disabled={list.loading}>
            {list.loading ? t("app.loading") : t("portal.more")}
          </button>
        )}
      </section>
    </div>
  );
}

// One report (/reports/{id}, public): status, category, description, place, photos, deadline,
// agency, history and a small map. The reporter (the API shows them their own `reporter`
// block) rates a resolved report and may reopen it.
import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../lib/api.js";
import { user } from "../lib/boot.js";
import { t, fmtDateTime } from "../lib/i18n.js";
import { createMap } from "../lib/map.js";
import { DeadlineBadge, ErrorBox, Field, History, Loading, Notice, StatusBadge } from "../components/ui.jsx";
import { agencyName, attributeLabel, categoryName, relTime, reportIdFromPath, useReference } from "./portal-shared.jsx";

const RATINGS = ["satisfied", "acceptable", "unsatisfied"];

export default function ReportPage() {
  const id = reportIdFromPath();
  const ref = useReference();
  const [report, setReport] = useState(null);
  const [events, setEvents] = useState(null);
  const [photos, setPhotos] = useState([]);
  const [error, setError] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const [done, setDone] = useState(null);
  const [isNew] = useState(() => {
    const fresh = new URLSearchParams(location.search).has("new");
    // The thanks are said once: a reload or a shared link shows the plain page.
    if (fresh) history.replaceState(null, "", location.pathname);
    return fresh;
  });

  useEffect(() => {
    if (id == null) return;
    setError(null);
    Promise.all([api.get(`/reports/${id}`), api.get(`/reports/${id}/history`), api.get(`/reports/${id}/photos`).catch(() => [])])
      .then(([r, h, p]) => {
        setReport(r);
        setEvents(h);
        setPhotos(p || []);
      })
      .catch(setError);
  }, [id, attempt]);

  useEffect(() => {
    if (report) document.title = `#${report.id} ${categoryName(report.category, ref.categories)} · ${t("app.name")}`;
  }, [report, ref.categories]);

  async function refresh(r, message) {
    setReport(r);
    setDone(message);
    try {
      setEvents(await api.get(`/reports/${r.id}/history`));
    } catch {}
  }

  if (id == null || (error instanceof ApiError && error.status === 404))
    return (
      <section class="card narrow">
        <h1>{t("portal.report.not_found")}</h1>
        <p><a href="/">{t("portal.back_map")}</a></p>
      </section>
    );
  if (error) return <ErrorBox error={error} onRetry={() => setAttempt((n) => n + 1)} />;
  if (!report) return <Loading />;

  const r = report;
  const cat = ref.categories.find((c) => c.code === r.category.code);
  const mine = !!user && r.reporter?.user_id != null && r.reporter.user_id === user.id;
  const reportPhotos = photos.filter((p) => p.kind !== "resolution");
  const resolutionPhotos = photos.filter((p) => p.kind === "resolution");
  const answers = Object.entries(r.attributes || {});

  return (
    <article class="report-page">
      <nav class="crumbs" aria-label={t("portal.report.crumbs")}>
        <a href="/">{t("portal.back_map")}</a>
        {mine && <> · <a href="/my">{t("nav.my")}</a></>}
      </nav>
      {isNew && mine && (
        <Notice kind="success">{t("portal.report.thanks", { id: r.id })}</Notice>
      )}
      <header class="card report-head">
        <div class="ri-top">
          <StatusBadge status={r.status} />
          {r.priority === "urgent" && <span class="badge badge-urgent">{t("priority.urgent")}</span>}
          <DeadlineBadge report={r} />
        </div>
        <h1>
          {categoryName(r.category, ref.categories)} <span class="muted report-no">#{r.id}</span>
        </h1>
        <p class="report-desc">{r.description}</p>
        {reportPhotos.length > 0 && (
          <>
            <h2 class="sr-only">{t("portal.report.photos")}</h2>
            <Gallery photos={reportPhotos} />
          </>
        )}
        <p class="muted small">
          {relTime(r.created_at) === fmtDateTime(r.created_at)
            ? t("portal.report.sent_plain", { time: fmtDateTime(r.created_at) })
            : t("portal.report.sent", { time: fmtDateTime(r.created_at), ago: relTime(r.created_at) })}
          {mine && <> · <strong>{t("portal.report.yours")}</strong>{r.anonymous && <> · {t("portal.report.anonymous")}</>}</>}
        </p>
      </header>

      <div class="report-grid">
        <section class="card" aria-labelledby="rp-facts">
          <h2 id="rp-facts">{t("portal.report.details")}</h2>
          <dl class="facts">
            <dt>{t("portal.report.place")}</dt>
            <dd>{r.address || r.commune?.name || "—"}{r.address && r.commune && !r.address.includes(r.commune.name) && <span class="muted"> · {r.commune.name}</span>}</dd>
            <dt>{t("portal.report.agency")}</dt>
            <dd>{r.agency ? agencyName(r.agency, ref.agencies) : <span class="muted">{t("portal.report.no_agency")}</span>}</dd>
            <dt>{t("deadline.label")}</dt>
            <dd>{fmtDateTime(r.deadline_at)}</dd>
            {r.resolved_at && (
              <>
                <dt>{t("portal.report.resolved_at")}</dt>
                <dd>
                  {fmtDateTime(r.resolved_at)}
                  {r.resolved_on_time != null && <span class={`badge ${r.resolved_on_time ? "deadline-on_track" : "deadline-overdue"}`}>{t(r.resolved_on_time ? "portal.report.on_time" : "portal.report.late")}</span>}
                </dd>
              </>
            )}
            {r.status_notes && (
              <>
                <dt>{t("portal.report.notes")}</dt>
                <dd class="pre">{r.status_notes}</dd>
              </>
            )}
            {r.reject_reason && (
              <>
                <dt>{t("portal.report.reject_reason")}</dt>
                <dd>{t(`reject.${r.reject_reason}`)}{r.duplicate_of && <> · <a href={`/reports/${r.duplicate_of}`}>{t("portal.report.duplicate_of", { id: r.duplicate_of })}</a></>}</dd>
              </>
            )}
            {r.rating && (
              <>
                <dt>{t("portal.report.rating")}</dt>
                <dd>
                  <span class={`rating rating-${r.rating}`}>{t(`rating.${r.rating}`)}</span>
                  {r.rating_comment && <q class="rating-comment">{r.rating_comment}</q>}
                </dd>
              </>
            )}
            {r.reopen_count > 0 && (
              <>
                <dt>{t("portal.report.reopened")}</dt>
                <dd>{t("portal.report.reopen_count", { n: r.reopen_count })}</dd>
              </>
            )}
            <dt>{t("portal.report.channel")}</dt>
            <dd>{t(`channel.${r.channel}`)}</dd>
            {answers.map(([code, v]) => {
              const def = cat?.attributes.find((a) => a.code === code);
              return (
                <Fragment key={code}>
                  <dt>{def ? attributeLabel(def) : code}</dt>
                  <dd>{answerText(def, v)}</dd>
                </Fragment>
              );
            })}
          </dl>
        </section>

        {r.lat != null && r.long != null && (
          <section class="card" aria-labelledby="rp-map">
            <h2 id="rp-map">{t("portal.report.location")}</h2>
            <PinMap report={r} />
            <p class="small">
              <a href={`https://www.openstreetmap.org/?mlat=${r.lat}&mlon=${r.long}#map=18/${r.lat}/${r.long}`} rel="noopener" target="_blank">
                {t("portal.report.open_map")}
                <span class="sr-only"> {t("portal.new_tab")}</span>
              </a>
            </p>
          </section>
        )}
      </div>

      {resolutionPhotos.length > 0 && (
        <section class="card" aria-labelledby="rp-rphotos">
          <h2 id="rp-rphotos">{t("portal.report.resolution_photos")}</h2>
          <Gallery photos={resolutionPhotos} />
        </section>
      )}

      {done && <Notice kind="success">{done}</Notice>}
      {mine && r.status === "resolved" && !r.rating && <RateForm report={r} onDone={(x) => refresh(x, t("portal.report.rated"))} />}
      {mine && ["resolved", "closed", "rejected"].includes(r.status) && <ReopenForm report={r} onDone={(x) => refresh(x, t("portal.report.reopened_done"))} />}

      <section class="card" aria-labelledby="rp-history">
        <h2 id="rp-history">{t("portal.report.history")}</h2>
        {events ? <History events={events} /> : <Loading />}
      </section>
    </article>
  );
}

function answerText(def, v) {
  const name = (k) => def?.values.find((x) => x.key === k)?.name || k;
  if (Array.isArray(v)) return v.map(name).join(", ");
  if (def?.datatype === "datetime") return fmtDateTime(v);
  if (def?.datatype === "singlevaluelist") return name(v);
  return String(v);
}

function Gallery({ photos }) {
  return (
    <ul class="gallery">
      {photos.map((p, i) => (
        <li key={p.id}>
          <a href={p.url} target="_blank" rel="noopener">
            <img src={p.thumbnail_url} alt={t("portal.report.photo_n", { n: i + 1 })} loading="lazy" width={p.width} height={p.height} />
          </a>
        </li>
      ))}
    </ul>
  );
}

function PinMap({ report: r }) {
  const el = useRef(null);
  useEffect(() => {
    const m = createMap(el.current, { center: [r.lat, r.long], zoom: 16, labels: false });
    m.setMarkers([{ id: r.id, lat: r.lat, lon: r.long, status: r.status, overdue: r.overdue, title: `#${r.id}` }]);
    return () => m.map.remove();
  }, [r.id, r.lat, r.long, r.status]);
  return <div ref={el} class="map report-pinmap" id="report-map" role="region" aria-label={t("portal.report.location")} />;
}

function RateForm({ report, onDone }) {
  const [rating, setRating] = useState("");
  const [comment, setComment] = useState("");
  const [reopen, setReopen] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    if (!rating) {
      setError(t("portal.report.rate_pick"));
      document.getElementById("rate-satisfied")?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = { rating, comment: comment.trim() || null };
      if (rating === "unsatisfied" && reopen) body.reopen = true;
      onDone(await api.post(`/reports/${report.id}/rate`, body));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  return (
    <section class="card action-card" aria-labelledby="rate-h">
      <h2 id="rate-h">{t("portal.report.rate_title")}</h2>
      <p class="muted">{t("portal.report.rate_lead")}</p>
      <form onSubmit={submit} noValidate>
        <fieldset class="rating-choices">
          <legend>{t("portal.report.rate_legend")}</legend>
          {RATINGS.map((k) => (
            <label key={k} class={`rating-choice rating-${k}${rating === k ? " selected" : ""}`}>
              <input type="radio" name="rating" id={`rate-${k}`} value={k} checked={rating === k} onChange={() => { setRating(k); setError(null); }} />
              <span>{t(`rating.${k}`)}</span>
            </label>
          ))}
        </fieldset>
        <Field id="rate-comment" label={t("portal.report.rate_comment")}>
          <textarea id="rate-comment" rows={3} maxLength={2000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
        </Field>
        {rating === "unsatisfied" && (
          <div class="field checkbox">
            <input id="rate-reopen" type="checkbox" checked={reopen} onChange={(e) => setReopen(e.currentTarget.checked)} />
            <label for="rate-reopen">{t("portal.report.rate_reopen")}</label>
          </div>
        )}
        <ErrorBox error={error} />
        <button type="submit" class="btn btn-primary" disabled={busy}>{t("portal.report.rate_submit")}</button>
      </form>
    </section>
  );
}

function ReopenForm({ report, onDone }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState(null);
  const [fieldError, setFieldError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    if (!reason.trim()) {
      setFieldError(t("portal.report.reopen_reason_required"));
      document.getElementById("reopen-reason")?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    setFieldError(null);
    try {
      onDone(await api.post(`/reports/${report.id}/reopen`, { reason: reason.trim() }));
    } catch (err) {
      if (err instanceof ApiError && err.field === "reason") setFieldError(err.detail);
      else setError(err);
      setBusy(false);
    }
  }
  return (
    <details class="card action-card reopen">
      <summary>{t("portal.report.reopen_title")}</summary>
      <form onSubmit={submit} noValidate>
        <p class="muted">{t("portal.report.reopen_lead")}</p>
        <Field id="reopen-reason" label={t("portal.report.reopen_reason")} error={fieldError}>
          <textarea id="reopen-reason" rows={3} maxLength={2000} value={reason} aria-required="true" aria-invalid={fieldError ? "true" : undefined} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorBox error={error} />
        <button type="submit" class="btn btn-danger" disabled={busy}>{t("portal.report.reopen_submit")}</button>
      </form>
    </details>
  );
}

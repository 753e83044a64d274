// One report in the agency inbox: the full report, its photos, map pin, history and extension
// requests, and the actions the current status and the user's role allow (mirroring
// crates/dothi-domain/src/workflow.rs `plan`): accept, transfer, ask for an extension, resolve
// (with photos), reject; IOC operators also assign, decide extensions and close.
import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "../lib/api.js";
import { user, isIoc } from "../lib/boot.js";
import { t, lang, fmtDateTime, fmtNumber } from "../lib/i18n.js";
import { createMap } from "../lib/map.js";
import { ErrorBox, Notice, Loading, StatusBadge, DeadlineBadge, deadlineState, Field, History } from "../components/ui.jsx";
import { BACK_KEY, OPEN, categoryName } from "./inbox.jsx";

export const wide = true;

const HANDLING = ["assigned", "in_progress", "transferred", "reopened"];
const MAX_PHOTOS = 5;
const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
const REJECT_REASONS = ["out_of_scope", "duplicate", "insufficient_information"];

const reportId = (() => {
  const m = location.pathname.match(/^\/inbox\/(\d+)/);
  return m ? Number(m[1]) : null;
})();

/** Media links are absolute with the server's public URL; keep them on this page's origin. */
function local(u) {
  try {
    const x = new URL(u, location.origin);
    return x.pathname.startsWith("/api/v1/media/") ? x.pathname + x.search : u;
  } catch {
    return u;
  }
}

/** What this user may do to this report now (the same rules as workflow::plan). */
export function allowedActions(report, extensions) {
  if (!report || !user) return [];
  const ioc = isIoc();
  const handling = user.role === "agency_staff" && !!user.agency_code && user.agency_code === report.agency?.code;
  const may = ioc || handling;
  const s = report.status;
  const pending = (extensions || []).some((x) => x.status === "pending");
  const out = [];
  if (may && ["assigned", "transferred", "reopened"].includes(s)) out.push("accept");
  if (ioc && OPEN.includes(s)) out.push("assign");
  if (may && HANDLING.includes(s)) out.push("resolve");
  if (handling && HANDLING.includes(s) && !pending) out.push("extension");
  if (ioc && HANDLING.includes(s) && pending) out.push("decide");
  if (may && HANDLING.includes(s)) out.push("transfer");
  if (may && OPEN.includes(s)) out.push("reject");
  if (ioc && ["resolved", "rejected"].includes(s)) out.push("close");
  return out;
}

export default function InboxReport() {
  const [report, setReport] = useState(null);
  const [events, setEvents] = useState(null);
  const [extensions, setExtensions] = useState(null);
  const [photos, setPhotos] = useState([]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [ref, setRef] = useState({ agencies: [], categories: [] });
  const noticeEl = useRef(null);

  async function load() {
    if (reportId == null) {
      setError(t("inbox.report.bad_id"));
      return;
    }
    try {
      const [r, h, x, p] = await Promise.all([
        api.get(`/reports/${reportId}`),
        api.get(`/reports/${reportId}/history`),
        api.get(`/reports/${reportId}/extensions`).catch((e) => (e.status === 403 ? null : Promise.reject(e))),
        api.get(`/reports/${reportId}/photos`).catch(() => []),
      ]);
      setReport(r);
      setEvents(h.map((e) => ({ ...e, photo_urls: (e.photo_urls || []).map(local) })));
      setExtensions(x);
      setPhotos(Array.isArray(p) ? p : p.items || []);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }

  useEffect(() => {
    load();
    Promise.all([api.get("/agencies").catch(() => []), api.get("/categories").catch(() => [])]).then(([agencies, categories]) =>
      setRef({ agencies, categories }),
    );
  }, []);

  useEffect(() => {
    if (report) document.title = `#${report.id} · ${t("page.inbox-report.title")} · ${t("app.name")}`;
  }, [report?.id]);

  async function done(message) {
    await load();
    setNotice(message);
    requestAnimationFrame(() => noticeEl.current?.focus());
  }

  let back = "/inbox";
  try {
    back = sessionStorage.getItem(BACK_KEY) || "/inbox";
  } catch {}

  if (!report) {
    return (
      <div class="ir">
        <a class="ir-back" href={back}>← {t("inbox.report.back")}</a>
        {error ? <ErrorBox error={error} onRetry={reportId != null ? load : undefined} /> : <Loading />}
      </div>
    );
  }

  const actions = allowedActions(report, extensions);
  const reportPhotos = photos.filter((p) => p.kind !== "resolution");
  const resolutionPhotos = photos.filter((p) => p.kind === "resolution");

  return (
    <div class="ir">
      <a class="ir-back" href={back}>← {t("inbox.report.back")}</a>
      <div class="ir-title">
        <h1>{t("inbox.report.title", { id: report.id })}</h1>
        <StatusBadge status={report.status} />
        {report.priority === "urgent" && <span class="badge prio-urgent">{t("priority.urgent")}</span>}
        <DeadlineBadge report={report} />
      </div>
      <ErrorBox error={error} onRetry={load} />
      <div class="ir-layout">
        <div class="ir-main">
          <section class="card" aria-labelledby="ir-details">
            <h2 id="ir-details">{categoryName(report.category, ref.categories)}</h2>
            <p class="ir-desc">{report.description}</p>
            <Facts report={report} />
            <Answers report={report} categories={ref.categories} />
            <Reporter report={report} />
          </section>
        </div>

        <aside class="ir-side" aria-label={t("inbox.report.side")}>
          <div class="ir-side-inner">
            <section class="card ir-actions" aria-labelledby="ir-actions-title">
              <h2 id="ir-actions-title">{t("inbox.actions.title")}</h2>
              {notice && (
                <div class="ir-notice" ref={noticeEl} tabIndex={-1}>
                  <Notice kind="success">{notice}</Notice>
                </div>
              )}
              <Actions key={`${report.status}-${report.updated_at}`} report={report} extensions={extensions} actions={actions} agencies={ref.agencies} onDone={done} />
            </section>
            {extensions && (
              <section class="card" aria-labelledby="ir-ext-title">
                <h2 id="ir-ext-title">{t("inbox.ext.title")}</h2>
                <Extensions list={extensions} />
              </section>
            )}
          </div>
        </aside>

        <div class="ir-more">
          {(report.lat != null && report.long != null) && (
            <section class="card" aria-labelledby="ir-map-title">
              <h2 id="ir-map-title">{t("inbox.report.map")}</h2>
              <Pin report={report} />
            </section>
          )}
          <section class="card" aria-labelledby="ir-photos-title">
            <h2 id="ir-photos-title">{t("inbox.report.photos")}</h2>
            <Thumbs photos={reportPhotos} empty={t("inbox.report.no_photos")} />
            {resolutionPhotos.length > 0 && (
              <>
                <h3 class="ir-sub">{t("inbox.report.resolution_photos")}</h3>
                <Thumbs photos={resolutionPhotos} />
              </>
            )}
          </section>
          <section class="card" aria-labelledby="ir-history-title">
            <h2 id="ir-history-title">{t("inbox.report.history")}</h2>
            <History events={events} />
          </section>
        </div>
      </div>
    </div>
  );
}

function Facts({ report: r }) {
  const rows = [
    ["inbox.fact.address", r.address || "—"],
    ["inbox.fact.commune", r.commune?.name || "—"],
    ["inbox.fact.agency", r.agency ? r.agency.name : t("inbox.fact.no_agency")],
    ["inbox.fact.channel", t(`channel.${r.channel}`)],
    ["inbox.fact.priority", t(`priority.${r.priority}`)],
    ["inbox.fact.received", <time datetime={r.created_at}>{fmtDateTime(r.created_at)}</time>],
    ["deadline.label", <time datetime={r.deadline_at}>{fmtDateTime(r.deadline_at)}</time>],
    ["inbox.fact.updated", <time datetime={r.updated_at}>{fmtDateTime(r.updated_at)}</time>],
  ];
  if (r.resolved_at) {
    rows.push(["inbox.fact.resolved", <>
      {fmtDateTime(r.resolved_at)}
      {r.resolved_on_time != null && <span class="muted"> · {t(r.resolved_on_time ? "inbox.fact.on_time" : "inbox.fact.late")}</span>}
    </>]);
  }
  if (r.closed_at) rows.push(["inbox.fact.closed", fmtDateTime(r.closed_at)]);
  if (r.reject_reason) rows.push(["inbox.fact.reject_reason", t(`reject.${r.reject_reason}`)]);
  if (r.duplicate_of) rows.push(["inbox.fact.duplicate_of", <a href={`/inbox/${r.duplicate_of}`}>#{r.duplicate_of}</a>]);
  if (r.status_notes) rows.push(["inbox.fact.status_notes", r.status_notes]);
  if (r.rating) rows.push(["inbox.fact.rating", <>{t(`rating.${r.rating}`)}{r.rating_comment && <span class="muted"> · {r.rating_comment}</span>}</>]);
  if (r.reopen_count > 0) rows.push(["inbox.fact.reopened", fmtNumber(r.reopen_count)]);
  return (
    <dl class="ir-facts">
      {rows.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{t(k)}</dt>
          <dd>{v}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

/** The category's extra questions and the reporter's answers. */
function Answers({ report, categories }) {
  const answers = Object.entries(report.attributes || {});
  if (!answers.length) return null;
  const defs = categories.find((c) => c.code === report.category?.code)?.attributes || [];
  const label = (code) => {
    const d = defs.find((x) => x.code === code);
    return (d && ((lang === "en" && d.description_en) || d.description)) || code;
  };
  const value = (code, v) => {
    const d = defs.find((x) => x.code === code);
    const name = (key) => d?.values?.find((x) => x.key === key)?.name || key;
    if (Array.isArray(v)) return v.map(name).join(", ");
    if (d?.datatype === "datetime" && typeof v === "string") return fmtDateTime(v);
    if (typeof v === "number") return fmtNumber(v);
    return name(String(v));
  };
  const order = (code) => defs.find((x) => x.code === code)?.order ?? 999;
  answers.sort((a, b) => order(a[0]) - order(b[0]));
  return (
    <>
      <h3 class="ir-sub">{t("inbox.report.answers")}</h3>
      <dl class="ir-facts">
        {answers.map(([code, v]) => (
          <Fragment key={code}>
            <dt>{label(code)}</dt>
            <dd>{value(code, v)}</dd>
          </Fragment>
        ))}
      </dl>
    </>
  );
}

/** The reporter's contact: only when the API gives it (IOC staff, or the reporter). */
function Reporter({ report }) {
  const p = report.reporter;
  if (!p || !(p.name || p.phone || p.email)) {
    return report.anonymous ? <p class="muted ir-sub">{t("inbox.reporter.anonymous")}</p> : null;
  }
  return (
    <>
      <h3 class="ir-sub">{t("inbox.reporter.title")}</h3>
      <dl class="ir-facts">
        {p.name && <><dt>{t("inbox.reporter.name")}</dt><dd>{p.name}</dd></>}
        {p.phone && <><dt>{t("inbox.reporter.phone")}</dt><dd><a href={`tel:${p.phone}`}>{p.phone}</a></dd></>}
        {p.email && <><dt>{t("inbox.reporter.email")}</dt><dd><a href={`mailto:${p.email}`}>{p.email}</a></dd></>}
        {report.anonymous && <><dt>{t("inbox.reporter.public")}</dt><dd>{t("inbox.reporter.anonymous")}</dd></>}
      </dl>
    </>
  );
}

function Pin({ report }) {
  const el = useRef(null);
  const m = useRef(null);
  useEffect(() => {
    if (!el.current) return;
    m.current = createMap(el.current, { center: [report.lat, report.long], zoom: 16 });
    return () => {
      m.current?.map.remove();
      m.current = null;
    };
  }, []);
  useEffect(() => {
    m.current?.setMarkers([{ id: report.id, lat: report.lat, lon: report.long, status: report.status, overdue: deadlineState(report) === "overdue", title: `#${report.id}` }]);
  }, [report.status, report.updated_at]);
  return <div class="map" ref={el} role="region" aria-label={t("inbox.report.map")} />;
}

function Thumbs({ photos, empty }) {
  if (!photos.length) return empty ? <p class="muted ir-none">{empty}</p> : null;
  return (
    <div class="thumbs">
      {photos.map((p, i) => (
        <a key={p.id} href={local(p.url)} target="_blank" rel="noopener">
          <img src={local(p.thumbnail_url)} alt={t("inbox.report.photo_n", { n: i + 1 })} loading="lazy" />
        </a>
      ))}
    </div>
  );
}

function Extensions({ list }) {
  if (!list.length) return <p class="muted ir-none">{t("inbox.ext.none")}</p>;
  return (
    <ul class="ir-ext">
      {list.map((x) => (
        <li key={x.id}>
          <div class="ext-head">
            <strong>{t("inbox.ext.days", { days: x.days })}</strong>
            <span class={`badge badge-ext-${x.status}`}>{t(`inbox.ext.status.${x.status}`)}</span>
          </div>
          <p>{x.reason}</p>
          <p class="muted small">{t("inbox.ext.requested", { who: x.requested_by, at: fmtDateTime(x.requested_at) })}</p>
          {x.decided_at && (
            <p class="muted small">
              {t("inbox.ext.decided", { who: x.decided_by || "—", at: fmtDateTime(x.decided_at) })}
              {x.decision_note && <> · {x.decision_note}</>}
            </p>
          )}
          <p class="small">
            {t("inbox.ext.old_deadline")}: {fmtDateTime(x.old_deadline_at)}
            {x.new_deadline_at && <> → <strong>{fmtDateTime(x.new_deadline_at)}</strong></>}
          </p>
        </li>
      ))}
    </ul>
  );
}

/* ---------- actions ---------- */

function Actions({ report, extensions, actions, agencies, onDone }) {
  const [open, setOpen] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const pending = (extensions || []).find((x) => x.status === "pending");
  const id = report.id;

  if (!actions.length) {
    return <p class="muted ir-none">{t(user?.role === "agency_staff" && user.agency_code !== report.agency?.code ? "inbox.actions.not_yours" : "inbox.actions.none")}</p>;
  }

  const accept = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.post(`/reports/${id}/accept`, {});
      await onDone(t("inbox.done.accept", { id }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const formActions = actions.filter((a) => a !== "accept");
  const toggle = (a) => {
    setError(null);
    setOpen(open === a ? null : a);
  };
  const forms = {
    assign: <AssignForm report={report} agencies={agencies} onDone={onDone} />,
    resolve: <ResolveForm report={report} onDone={onDone} />,
    extension: <ExtensionForm report={report} onDone={onDone} />,
    decide: <DecideForm report={report} pending={pending} onDone={onDone} />,
    transfer: <TransferForm report={report} agencies={agencies} onDone={onDone} />,
    reject: <RejectForm report={report} onDone={onDone} />,
    close: <CloseForm report={report} onDone={onDone} />,
  };
  return (
    <>
      {pending && !actions.includes("decide") && (
        <Notice kind="warn">{t("inbox.ext.pending", { days: pending.days })}</Notice>
      )}
      <div class="ir-buttons">
        {actions.includes("accept") && (
          <button type="button" class="btn btn-primary" disabled={busy} onClick={accept}>
            {busy ? t("inbox.actions.sending") : t("inbox.action.accept")}
          </button>
        )}
        {formActions.map((a) => (
          <button
            key={a}
            type="button"
            class={`btn${a === "reject" ? " btn-danger" : ""}${a === "resolve" && !actions.includes("accept") ? " btn-primary" : ""}`}
            aria-expanded={open === a ? "true" : "false"}
            aria-controls={`ir-form-${a}`}
            onClick={() => toggle(a)}
          >
            {t(`inbox.action.${a}`)}
          </button>
        ))}
      </div>
      <ErrorBox error={error} />
      {open && forms[open] && (
        <div class="ir-form" id={`ir-form-${open}`}>
          {forms[open]}
        </div>
      )}
    </>
  );
}

/** A form that posts, shows the API's error, and reports success to the page. */
function useSubmit(onDone, fields = []) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (fn, message) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      await onDone(message);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  const fieldError = (name) => (error?.field === name ? errorText(error) : null);
  // An error about one field is shown at that field (role="alert"), not a second time below.
  const formError = error && !(error.field && fields.includes(error.field)) ? error : null;
  return { busy, error: formError, setError, submit, fieldError };
}

function Buttons({ busy, label, danger, children }) {
  return (
    <div class="row">
      <button type="submit" class={`btn ${danger ? "btn-danger" : "btn-primary"}`} disabled={busy}>
        {busy ? t("inbox.actions.sending") : label}
      </button>
      {children}
    </div>
  );
}

function AgencySelect({ id, value, onChange, agencies, exclude }) {
  const list = agencies.filter((a) => a.active !== false && a.code !== exclude);
  return (
    <select id={id} required value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      <option value="">{t("inbox.form.pick_agency")}</option>
      {list.map((a) => (
        <option key={a.code} value={a.code}>{(lang === "en" && a.name_en) || a.name} ({a.code})</option>
      ))}
    </select>
  );
}

function TransferForm({ report, agencies, onDone }) {
  const [agency, setAgency] = useState("");
  const [reason, setReason] = useState("");
  const s = useSubmit(onDone, ["agency", "reason"]);
  const onSubmit = (e) => {
    e.preventDefault();
    if (!agency || !reason.trim()) return s.setError(t("inbox.form.required"));
    const name = agencies.find((a) => a.code === agency)?.name || agency;
    s.submit(() => api.post(`/reports/${report.id}/transfer`, { agency, reason: reason.trim() }), t("inbox.done.transfer", { id: report.id, agency: name }));
  };
  return (
    <form onSubmit={onSubmit} aria-labelledby="ir-h-transfer" noValidate>
      <h3 id="ir-h-transfer">{t("inbox.action.transfer")}</h3>
      <Field id="tr-agency" label={t("inbox.form.agency")} error={s.fieldError("agency")}>
        <AgencySelect id="tr-agency" value={agency} onChange={setAgency} agencies={agencies} exclude={report.agency?.code} />
      </Field>
      <Field id="tr-reason" label={t("inbox.form.transfer_reason")} error={s.fieldError("reason")}>
        <textarea id="tr-reason" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={s.error} />
      <Buttons busy={s.busy} label={t("inbox.form.transfer_submit")} />
    </form>
  );
}

function AssignForm({ report, agencies, onDone }) {
  const [agency, setAgency] = useState("");
  const [note, setNote] = useState("");
  const s = useSubmit(onDone, ["agency"]);
  const onSubmit = (e) => {
    e.preventDefault();
    if (!agency) return s.setError(t("inbox.form.required"));
    const name = agencies.find((a) => a.code === agency)?.name || agency;
    s.submit(() => api.post(`/reports/${report.id}/assign`, { agency, note: note.trim() || null }), t("inbox.done.assign", { id: report.id, agency: name }));
  };
  return (
    <form onSubmit={onSubmit} aria-labelledby="ir-h-assign" noValidate>
      <h3 id="ir-h-assign">{t("inbox.action.assign")}</h3>
      <Field id="as-agency" label={t("inbox.form.agency")} error={s.fieldError("agency")}>
        <AgencySelect id="as-agency" value={agency} onChange={setAgency} agencies={agencies} />
      </Field>
      <Field id="as-note" label={t("inbox.form.note_optional")}>
        <textarea id="as-note" maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={s.error} />
      <Buttons busy={s.busy} label={t("inbox.form.assign_submit")} />
    </form>
  );
}

function ExtensionForm({ report, onDone }) {
  const [days, setDays] = useState("3");
  const [reason, setReason] = useState("");
  const s = useSubmit(onDone, ["days", "reason"]);
  const onSubmit = (e) => {
    e.preventDefault();
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1 || n > 30) return s.setError(t("inbox.form.days_range"));
    if (!reason.trim()) return s.setError(t("inbox.form.required"));
    s.submit(() => api.post(`/reports/${report.id}/extension-request`, { days: n, reason: reason.trim() }), t("inbox.done.extension", { id: report.id, days: n }));
  };
  return (
    <form onSubmit={onSubmit} aria-labelledby="ir-h-extension" noValidate>
      <h3 id="ir-h-extension">{t("inbox.action.extension")}</h3>
      <p class="muted small">{t("inbox.form.extension_hint", { deadline: fmtDateTime(report.deadline_at) })}</p>
      <Field id="ex-days" label={t("inbox.form.days")} hint={t("inbox.form.days_hint")} error={s.fieldError("days")}>
        <input id="ex-days" type="number" inputMode="numeric" min="1" max="30" step="1" required value={days} onInput={(e) => setDays(e.currentTarget.value)} aria-describedby="ex-days-hint" />
      </Field>
      <Field id="ex-reason" label={t("inbox.form.extension_reason")} error={s.fieldError("reason")}>
        <textarea id="ex-reason" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={s.error} />
      <Buttons busy={s.busy} label={t("inbox.form.extension_submit")} />
    </form>
  );
}

function DecideForm({ report, pending, onDone }) {
  const [note, setNote] = useState("");
  const s = useSubmit(onDone);
  const decide = (approve) =>
    s.submit(
      () => api.post(`/reports/${report.id}/extension-request/${approve ? "approve" : "refuse"}`, { note: note.trim() || null }),
      t(approve ? "inbox.done.approve" : "inbox.done.refuse", { id: report.id }),
    );
  return (
    <form onSubmit={(e) => { e.preventDefault(); decide(true); }} aria-labelledby="ir-h-decide" noValidate>
      <h3 id="ir-h-decide">{t("inbox.action.decide")}</h3>
      {pending && (
        <p>
          <strong>{t("inbox.ext.days", { days: pending.days })}</strong> — {pending.reason}
          <br />
          <span class="muted small">{t("inbox.ext.requested", { who: pending.requested_by, at: fmtDateTime(pending.requested_at) })}</span>
        </p>
      )}
      <Field id="dc-note" label={t("inbox.form.note_optional")}>
        <textarea id="dc-note" maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={s.error} />
      <Buttons busy={s.busy} label={t("inbox.form.approve")}>
        <button type="button" class="btn btn-danger" disabled={s.busy} onClick={() => decide(false)}>{t("inbox.form.refuse")}</button>
      </Buttons>
    </form>
  );
}

function ResolveForm({ report, onDone }) {
  const [note, setNote] = useState("");
  const [files, setFiles] = useState([]);
  const [previews, setPreviews] = useState([]);
  const [fileError, setFileError] = useState(null);
  const s = useSubmit(onDone, ["note", "resolution", "photo"]);
  useEffect(() => {
    const urls = files.map((f) => URL.createObjectURL(f));
    setPreviews(urls);
    return () => urls.forEach((u) => URL.revokeObjectURL(u));
  }, [files]);
  const pick = (e) => {
    const list = [...e.currentTarget.files];
    setFileError(null);
    if (list.length > MAX_PHOTOS) setFileError(t("inbox.form.photos_max", { n: MAX_PHOTOS }));
    else if (list.some((f) => !PHOTO_TYPES.includes(f.type))) setFileError(t("inbox.form.photos_type"));
    else if (list.some((f) => f.size > MAX_PHOTO_BYTES)) setFileError(t("inbox.form.photos_size"));
    if (list.length > MAX_PHOTOS || list.some((f) => !PHOTO_TYPES.includes(f.type) || f.size > MAX_PHOTO_BYTES)) {
      e.currentTarget.value = "";
      setFiles([]);
      return;
    }
    setFiles(list);
  };
  const onSubmit = (e) => {
    e.preventDefault();
    if (!note.trim()) return s.setError(t("inbox.form.required"));
    let body = { note: note.trim() };
    if (files.length) {
      const fd = new FormData();
      fd.append("resolution", new Blob([JSON.stringify(body)], { type: "application/json" }));
      for (const f of files) fd.append("photo", f, f.name);
      body = fd;
    }
    s.submit(() => api.post(`/reports/${report.id}/resolve`, body), t("inbox.done.resolve", { id: report.id }));
  };
  return (
    <form onSubmit={onSubmit} aria-labelledby="ir-h-resolve" noValidate>
      <h3 id="ir-h-resolve">{t("inbox.action.resolve")}</h3>
      <Field id="rs-note" label={t("inbox.form.resolve_note")} hint={t("inbox.form.public_hint")} error={s.fieldError("note") || s.fieldError("resolution")}>
        <textarea id="rs-note" required maxLength={4000} value={note} onInput={(e) => setNote(e.currentTarget.value)} aria-describedby="rs-note-hint" />
      </Field>
      <Field id="rs-photos" label={t("inbox.form.photos")} hint={t("inbox.form.photos_hint", { n: MAX_PHOTOS })} error={fileError || s.fieldError("photo")}>
        <input id="rs-photos" type="file" accept={PHOTO_TYPES.join(",")} multiple onChange={pick} aria-describedby="rs-photos-hint" />
      </Field>
      {previews.length > 0 && (
        <ul class="ir-previews" aria-label={t("inbox.form.photos_chosen", { n: previews.length })}>
          {previews.map((u, i) => <li key={u}><img src={u} alt={files[i]?.name || ""} /></li>)}
        </ul>
      )}
      <ErrorBox error={s.error} />
      <Buttons busy={s.busy} label={t("inbox.form.resolve_submit")} />
    </form>
  );
}

function RejectForm({ report, onDone }) {
  const [reason, setReason] = useState("");
  const [dup, setDup] = useState("");
  const [note, setNote] = useState("");
  const s = useSubmit(onDone, ["reason", "duplicate_of", "note"]);
  const onSubmit = (e) => {
    e.preventDefault();
    if (!reason) return s.setError(t("inbox.form.required"));
    const body = { reason, note: note.trim() || null };
    if (reason === "duplicate") {
      const n = Number(dup);
      if (!Number.isInteger(n) || n < 1 || n === report.id) return s.setError(t("inbox.form.duplicate_invalid"));
      body.duplicate_of = n;
    }
    s.submit(() => api.post(`/reports/${report.id}/reject`, body), t("inbox.done.reject", { id: report.id }));
  };
  return (
    <form onSubmit={onSubmit} aria-labelledby="ir-h-reject" noValidate>
      <h3 id="ir-h-reject">{t("inbox.action.reject")}</h3>
      <Field id="rj-reason" label={t("inbox.form.reject_reason")} error={s.fieldError("reason")}>
        <select id="rj-reason" required value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
          <option value="">{t("inbox.form.pick_reason")}</option>
          {REJECT_REASONS.map((r) => <option key={r} value={r}>{t(`reject.${r}`)}</option>)}
        </select>
      </Field>
      {reason === "duplicate" && (
        <Field id="rj-dup" label={t("inbox.form.duplicate_of")} hint={t("inbox.form.duplicate_hint")} error={s.fieldError("duplicate_of")}>
          <input id="rj-dup" type="number" inputMode="numeric" min="1" required value={dup} onInput={(e) => setDup(e.currentTarget.value)} aria-describedby="rj-dup-hint" />
        </Field>
      )}
      <Field id="rj-note" label={t("inbox.form.reject_note")} hint={t("inbox.form.public_hint")} error={s.fieldError("note")}>
        <textarea id="rj-note" maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} aria-describedby="rj-note-hint" />
      </Field>
      <ErrorBox error={s.error} />
      <Buttons busy={s.busy} danger label={t("inbox.form.reject_submit")} />
    </form>
  );
}

function CloseForm({ report, onDone }) {
  const [note, setNote] = useState("");
  const s = useSubmit(onDone);
  const onSubmit = (e) => {
    e.preventDefault();
    s.submit(() => api.post(`/reports/${report.id}/close`, { note: note.trim() || null }), t("inbox.done.close", { id: report.id }));
  };
  return (
    <form onSubmit={onSubmit} aria-labelledby="ir-h-close" noValidate>
      <h3 id="ir-h-close">{t("inbox.action.close")}</h3>
      <Field id="cl-note" label={t("inbox.form.note_optional")}>
        <textarea id="cl-note" maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={s.error} />
      <Buttons busy={s.busy} label={t("inbox.form.close_submit")} />
    </form>
  );
}

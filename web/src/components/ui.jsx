// Small shared pieces of UI: messages, badges, form fields, the history list.
import { t, fmtDateTime } from "../lib/i18n.js";
import { errorText } from "../lib/api.js";

export function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  return (
    <div class="alert alert-error" role="alert">
      <span>{typeof error === "string" ? error : errorText(error)}</span>
      {onRetry && <button type="button" class="btn btn-small" onClick={onRetry}>{t("app.retry")}</button>}
    </div>
  );
}

export function Notice({ children, kind = "info" }) {
  return <div class={`alert alert-${kind}`} role="status">{children}</div>;
}

export function Loading() {
  return <p class="loading" role="status" aria-live="polite">{t("app.loading")}</p>;
}

export function StatusBadge({ status }) {
  return <span class={`badge badge-${status}`}>{t(`status.${status}`)}</span>;
}

/** Overdue / due within 24 h / on track, from the report's deadline. */
export function deadlineState(report, now = Date.now()) {
  if (!report?.deadline_at || !["received", "assigned", "in_progress", "transferred", "reopened"].includes(report.status)) return null;
  const due = new Date(report.deadline_at).getTime();
  if (due < now) return "overdue";
  if (due - now < 24 * 3600 * 1000) return "due_soon";
  return "on_track";
}

export function DeadlineBadge({ report }) {
  const s = deadlineState(report);
  if (!s) return null;
  return <span class={`badge deadline-${s}`}>{t(`deadline.${s}`)} · {fmtDateTime(report.deadline_at)}</span>;
}

/** A labelled form control; `children` is the input, which gets id `id`. */
export function Field({ id, label, hint, error, children }) {
  return (
    <div class={`field${error ? " field-error" : ""}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && <small id={`${id}-hint`} class="hint">{hint}</small>}
      {error && <small id={`${id}-error`} class="error-text" role="alert">{error}</small>}
    </div>
  );
}

/** The history of a report, oldest first, as the API gives it. */
export function History({ events }) {
  if (!events?.length) return <p>{t("app.empty")}</p>;
  return (
    <ol class="history">
      {events.map((e) => (
        <li key={e.id}>
          <time datetime={e.created_at}>{fmtDateTime(e.created_at)}</time>{" "}
          <strong>{t(`event.${e.action}`)}</strong>
          {e.to_status && <> → <StatusBadge status={e.to_status} /></>}
          {e.actor && <span class="muted"> · {e.actor}</span>}
          {e.agency && <span class="muted"> · {e.agency}</span>}
          {e.target_agency && <span class="muted"> → {e.target_agency}</span>}
          {e.note && <p class="note">{e.note}</p>}
          {e.photo_urls?.length > 0 && (
            <div class="thumbs">
              {e.photo_urls.map((u) => <a href={u} key={u}><img src={u} alt={t("photo.alt")} loading="lazy" /></a>)}
            </div>
          )}
        </li>
      ))}
    </ol>
  );
}

// Pieces shared by the admin sections: loading hooks, the reference data cache, confirmation
// dialogs, field errors from API problems, search folding, responsive tables.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "../../lib/api.js";
import { t, lang } from "../../lib/i18n.js";
import { Field } from "../../components/ui.jsx";

/** The admin sections, in the order of the tab bar and the overview. */
export const SECTIONS = ["categories", "agencies", "routing", "users", "holidays", "api-keys", "sharing"];

/** Pages of a section that are not tabs themselves: the tab of their section stays current. */
export const SUBSECTIONS = { "sharing-log": "sharing" };

/** Runs `load()` now and whenever `deps` change; `reload()` runs it again. */
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(async () => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const data = await load();
      if (n === seq.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (n === seq.current) setState((s) => ({ ...s, error, loading: false }));
    }
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  return { ...state, reload: run };
}

// Reference data read by several sections; fetched once per page and refreshed after writes.
let refCache = null;
export function loadReference(fresh = false) {
  if (fresh || !refCache) {
    refCache = Promise.all([api.get("/categories", { include_inactive: true }), api.get("/agencies"), api.get("/admin-units")]).then(
      ([categories, agencies, units]) => ({ categories, agencies, units }),
    );
    refCache.catch(() => (refCache = null));
  }
  return refCache;
}

/** The name to show in the page's language, falling back to Vietnamese. */
export const localName = (x) => (x ? (lang === "en" && x.name_en) || x.name : "");

/** Lower case without diacritics (đ → d), for searching Vietnamese text. */
export function fold(s) {
  return String(s ?? "")
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[đĐ]/g, "d")
    .toLowerCase();
}

/** Whether every word of `query` occurs in one of `fields`. */
export function matches(query, ...fields) {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const hay = fields.map(fold).join(" ");
  return words.every((w) => hay.includes(w));
}

/**
 * Splits an API error between the form's fields. `fields` maps an input id to the server's
 * field names for it (problem.field). `of(id)` is the message for that input; `general` is
 * the error when no input claims it.
 */
export function fieldErrors(error, fields) {
  if (!error) return { of: () => null, general: null };
  const owner = error.field ? Object.keys(fields).find((id) => fields[id].includes(error.field)) : null;
  return {
    of: (id) => (id === owner ? errorText(error) : null),
    general: owner ? null : error,
    owner,
  };
}

/** Focuses and scrolls to the input that the error belongs to. */
export function focusField(id) {
  if (!id) return;
  requestAnimationFrame(() => {
    const el = document.getElementById(id);
    if (el) {
      el.focus();
      el.scrollIntoView({ block: "center" });
    }
  });
}

/**
 * A modal confirmation: `const [dialog, ask] = useConfirm()`; render `dialog`, then
 * `if (await ask(text, label)) …`. Escape or Cancel answers no. With `{ reason: { label, hint } }`
 * the dialog also asks for a required reason, and the answer is the reason (trimmed) or false.
 */
export function useConfirm() {
  const ref = useRef(null);
  const [req, setReq] = useState(null);
  const [reason, setReason] = useState("");
  useEffect(() => {
    if (req && ref.current && !ref.current.open) ref.current.showModal();
  }, [req]);
  const answer = (yes) => {
    if (!req) return;
    req.resolve(yes);
    setReq(null);
    if (ref.current?.open) ref.current.close();
  };
  const ask = (text, confirmLabel = t("admin.confirm.yes"), options = {}) =>
    new Promise((resolve) => {
      setReason("");
      setReq({ text, confirmLabel, reason: options.reason || null, resolve });
    });
  const dialog = (
    <dialog ref={ref} class="admin-dialog" aria-labelledby="admin-confirm-title" aria-describedby="admin-confirm-text" onCancel={() => answer(false)} onClose={() => answer(false)}>
      {req && (
        <form method="dialog" onSubmit={(e) => { e.preventDefault(); if (!req.reason) answer(true); else if (reason.trim()) answer(reason.trim()); }}>
          <h2 id="admin-confirm-title">{t("admin.confirm.title")}</h2>
          <p id="admin-confirm-text">{req.text}</p>
          {req.reason && (
            <div class="field">
              <label for="admin-confirm-reason">{req.reason.label}</label>
              <textarea id="admin-confirm-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} required maxLength={1000} rows={3} autoFocus aria-describedby={req.reason.hint ? "admin-confirm-reason-hint" : undefined} />
              {req.reason.hint && <small id="admin-confirm-reason-hint" class="hint">{req.reason.hint}</small>}
            </div>
          )}
          <div class="row">
            <button type="submit" class="btn btn-danger" autoFocus={!req.reason}>{req.confirmLabel}</button>
            <button type="button" class="btn" onClick={() => answer(false)}>{t("app.cancel")}</button>
          </div>
        </form>
      )}
    </dialog>
  );
  return [dialog, ask];
}

/** The query string as an object, kept in step with the browser's back and forward buttons. */
export function useQuery() {
  const read = () => Object.fromEntries(new URLSearchParams(location.search));
  const [query, setQuery] = useState(read);
  useEffect(() => {
    const onPop = () => setQuery(read());
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const go = (params, { replace = false } = {}) => {
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
    const s = q.toString();
    const url = `${location.pathname}${s ? `?${s}` : ""}`;
    if (replace) history.replaceState(history.state, "", url);
    else history.pushState({ admin: true }, "", url);
    setQuery(read());
    scrollTo(0, 0);
  };
  /** Leaves a form: back in history when the form was opened from the list, else to the list. */
  const leave = () => (history.state?.admin ? history.back() : go({}, { replace: true }));
  return [query, go, leave];
}

/** Active / inactive badge. */
export function ActiveBadge({ active }) {
  return <span class={`badge ${active ? "badge-on" : "badge-off"}`}>{t(active ? "admin.active" : "admin.inactive")}</span>;
}

/** Shows "N of M" above a filtered list. */
export function Count({ shown, total }) {
  return (
    <p class="muted admin-count" role="status" aria-live="polite">
      {shown === total ? t("admin.count", { n: total }) : t("admin.count_of", { n: shown, total })}
    </p>
  );
}

/** A random password for a new account: 14 characters without look-alikes. */
export function randomPassword() {
  const chars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(14));
  return Array.from(bytes, (b) => chars[b % chars.length]).join("");
}

/** Copies text to the clipboard; falls back to selecting the input for Ctrl+C. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
      try {
        return document.execCommand("copy");
      } catch {
        return false;
      }
    }
    return false;
  }
}

/**
 * A secret the API returns once (an Open311 API key, a connection account's credential): shown
 * with a warning, selectable and with a copy button, until the administrator says done. `id`
 * names the input; the heading is `{id}-title` and the copy button `{id}-copy`.
 */
export function ShownOnce({ id, title, warning, label, value, usage, doneLabel, onDone, focusCopy = false }) {
  const input = useRef(null);
  const [copied, setCopied] = useState(null);
  // The page around it may still be loading when the secret arrives: focus on showing.
  useEffect(() => {
    if (focusCopy) focusField(`${id}-copy`);
  }, [value]);
  async function copy() {
    setCopied((await copyText(value, input.current)) ? "ok" : "manual");
  }
  return (
    <section class="card secret" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      <div class="alert alert-warn" role="alert">{warning}</div>
      <Field id={id} label={label}>
        <div class="row nowrap">
          <input id={id} ref={input} class="mono grow" readOnly value={value} onFocus={(e) => e.currentTarget.select()} spellcheck={false} />
          <button type="button" id={`${id}-copy`} class="btn btn-primary" onClick={copy}>{t("admin.keys.copy")}</button>
        </div>
      </Field>
      <p class="copy-status" role="status" aria-live="polite">
        {copied === "ok" && t("admin.keys.copied")}
        {copied === "manual" && t("admin.keys.copy_manual")}
      </p>
      <p class="hint">{usage}</p>
      <button type="button" class="btn" onClick={onDone}>{doneLabel}</button>
    </section>
  );
}

// Agencies (đơn vị xử lý): list, create, edit. Saved with PUT /admin/agencies/{code}.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { t } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading, Notice } from "../../components/ui.jsx";
import { ActiveBadge, Count, fieldErrors, focusField, loadReference, localName, matches, useLoad, useQuery } from "./common.jsx";

export const KINDS = ["department", "commune_committee", "utility", "police", "ioc", "other"];

export default function Agencies() {
  const [query, go, leave] = useQuery();
  const [notice, setNotice] = useState(null);
  const ref = useLoad(() => loadReference(), []);
  const reload = async () => {
    await loadReference(true);
    await ref.reload();
  };
  if (ref.loading && !ref.data) return <Loading />;
  if (ref.error) return <ErrorBox error={ref.error} onRetry={reload} />;
  const { agencies, units } = ref.data;

  if (query.new != null || query.edit) {
    const existing = query.edit ? agencies.find((a) => a.code === query.edit) : null;
    if (query.edit && !existing) {
      return (
        <>
          <ErrorBox error={t("admin.agencies.not_found", { code: query.edit })} />
          <button type="button" class="btn" onClick={() => go({})}>{t("admin.back_to_list")}</button>
        </>
      );
    }
    return (
      <AgencyForm
        key={query.edit || "new"}
        initial={existing}
        agencies={agencies}
        units={units}
        onCancel={leave}
        onSaved={async (saved) => {
          await reload();
          setNotice(t("admin.agencies.saved", { code: saved.code }));
          go({}, { replace: true });
        }}
      />
    );
  }
  return <AgencyList agencies={agencies} units={units} notice={notice} go={(q) => (setNotice(null), go(q))} />;
}

function AgencyList({ agencies, units, notice, go }) {
  const [q, setQ] = useState("");
  const [kind, setKind] = useState("");
  const unitName = (code) => units.find((u) => u.code === code)?.name || code;
  const sorted = [...agencies].sort((a, b) => a.code.localeCompare(b.code));
  const shown = sorted.filter((a) => (!kind || a.kind === kind) && matches(q, a.code, a.name, a.name_en, a.email, a.phone));
  return (
    <section>
      <div class="admin-head">
        <h1>{t("admin.section.agencies")}</h1>
        <button type="button" class="btn btn-primary" onClick={() => go({ new: "1" })}>{t("admin.agencies.new")}</button>
      </div>
      {notice && <Notice kind="success">{notice}</Notice>}
      <div class="filters card">
        <Field id="ag-q" label={t("app.search")}>
          <input id="ag-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder={t("admin.agencies.search_hint")} />
        </Field>
        <Field id="ag-kind-filter" label={t("admin.agencies.kind")}>
          <select id="ag-kind-filter" value={kind} onChange={(e) => setKind(e.currentTarget.value)}>
            <option value="">{t("app.all")}</option>
            {KINDS.map((k) => <option key={k} value={k}>{t(`admin.kind.${k}`)}</option>)}
          </select>
        </Field>
      </div>
      <Count shown={shown.length} total={agencies.length} />
      <div class="table-wrap">
        <table class="table rtable">
          <caption class="sr-only">{t("admin.section.agencies")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("admin.code")}</th>
              <th scope="col">{t("admin.name")}</th>
              <th scope="col">{t("admin.agencies.kind")}</th>
              <th scope="col">{t("admin.agencies.commune")}</th>
              <th scope="col">{t("admin.agencies.contact")}</th>
              <th scope="col">{t("admin.status")}</th>
              <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>
            </tr>
          </thead>
          <tbody>
            {shown.map((a) => (
              <tr key={a.code} class={a.active ? "" : "is-inactive"}>
                <th scope="row" data-label={t("admin.code")}><code>{a.code}</code></th>
                <td data-label={t("admin.name")}>
                  <div>
                    {a.name}
                    {a.name_en && <div class="muted small" lang="en">{a.name_en}</div>}
                  </div>
                </td>
                <td data-label={t("admin.agencies.kind")}>{t(`admin.kind.${a.kind}`)}</td>
                <td data-label={t("admin.agencies.commune")}>{a.commune_code ? unitName(a.commune_code) : "—"}</td>
                <td data-label={t("admin.agencies.contact")} class="contact">
                  <div>
                    {a.email && <div><a href={`mailto:${a.email}`}>{a.email}</a></div>}
                    {a.phone && <div><a href={`tel:${a.phone.replace(/\s/g, "")}`}>{a.phone}</a></div>}
                    {!a.email && !a.phone && "—"}
                  </div>
                </td>
                <td data-label={t("admin.status")}><ActiveBadge active={a.active} /></td>
                <td class="actions">
                  <a class="btn btn-small" href={`?edit=${encodeURIComponent(a.code)}`} onClick={(e) => (e.preventDefault(), go({ edit: a.code }))} aria-label={t("admin.edit_named", { name: a.name })}>
                    {t("app.edit")}
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!shown.length && <p>{t("app.empty")}</p>}
    </section>
  );
}

const FIELDS = {
  "ag-code": ["code", "agency code"],
  "ag-name": ["name", "agency name"],
  "ag-kind": ["kind", "agency kind"],
  "ag-commune": ["commune_code"],
};

function AgencyForm({ initial, agencies, units, onCancel, onSaved }) {
  const isNew = !initial;
  const [draft, setDraft] = useState(() => ({
    code: "",
    name: "",
    kind: "department",
    active: true,
    ...(initial || {}),
    name_en: initial?.name_en || "",
    commune_code: initial?.commune_code || "",
    email: initial?.email || "",
    phone: initial?.phone || "",
  }));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [taken, setTaken] = useState(null);
  const set = (k) => (e) => {
    const el = e.currentTarget;
    setDraft((d) => ({ ...d, [k]: el.type === "checkbox" ? el.checked : el.value }));
  };
  const errs = fieldErrors(error, FIELDS);

  async function submit(e) {
    e.preventDefault();
    setError(null);
    setTaken(null);
    const code = draft.code.trim();
    if (isNew && agencies.some((a) => a.code === code)) {
      setTaken(t("admin.agencies.code_taken"));
      focusField("ag-code");
      return;
    }
    const opt = (s) => s.trim() || null;
    const body = {
      code,
      name: draft.name.trim(),
      name_en: opt(draft.name_en),
      kind: draft.kind,
      commune_code: draft.commune_code || null,
      email: opt(draft.email),
      phone: opt(draft.phone),
      active: draft.active,
    };
    setBusy(true);
    try {
      const saved = await api.put(`/admin/agencies/${encodeURIComponent(code)}`, body);
      await onSaved(saved);
    } catch (err) {
      setError(err);
      setBusy(false);
      focusField(fieldErrors(err, FIELDS).owner);
    }
  }

  const sortedUnits = [...units].sort((a, b) => a.name.localeCompare(b.name, "vi"));
  return (
    <section>
      <div class="admin-head">
        <h1>{isNew ? t("admin.agencies.new") : t("admin.agencies.edit", { code: initial.code })}</h1>
        <button type="button" class="btn" onClick={onCancel}>{t("admin.back_to_list")}</button>
      </div>
      <form class="card admin-form" onSubmit={submit} aria-busy={busy}>
        <ErrorBox error={errs.general} />
        <div class="grid grid-3">
          <Field id="ag-code" label={t("admin.code")} hint={isNew ? t("admin.code_hint") : null} error={taken || errs.of("ag-code")}>
            <input id="ag-code" value={draft.code} onInput={set("code")} required readOnly={!isNew} pattern="[A-Za-z0-9._\-]{1,64}" maxLength={64} autocomplete="off" aria-describedby={isNew ? "ag-code-hint" : undefined} />
          </Field>
          <Field id="ag-name" label={t("admin.name_vi")} error={errs.of("ag-name")}>
            <input id="ag-name" value={draft.name} onInput={set("name")} required maxLength={300} lang="vi" />
          </Field>
          <Field id="ag-name-en" label={t("admin.name_en")}>
            <input id="ag-name-en" value={draft.name_en} onInput={set("name_en")} maxLength={300} lang="en" />
          </Field>
        </div>
        <div class="grid grid-2">
          <Field id="ag-kind" label={t("admin.agencies.kind")} error={errs.of("ag-kind")}>
            <select id="ag-kind" value={draft.kind} onChange={set("kind")}>
              {KINDS.map((k) => <option key={k} value={k}>{t(`admin.kind.${k}`)}</option>)}
            </select>
          </Field>
          <Field id="ag-commune" label={t("admin.agencies.commune")} hint={t("admin.agencies.commune_hint")} error={errs.of("ag-commune")}>
            <select id="ag-commune" value={draft.commune_code} onChange={set("commune_code")} aria-describedby="ag-commune-hint">
              <option value="">{t("admin.agencies.no_commune")}</option>
              {sortedUnits.map((u) => <option key={u.code} value={u.code}>{u.name} ({u.code})</option>)}
            </select>
          </Field>
        </div>
        <div class="grid grid-2">
          <Field id="ag-email" label={t("admin.email")}>
            <input id="ag-email" type="email" value={draft.email} onInput={set("email")} autocomplete="off" />
          </Field>
          <Field id="ag-phone" label={t("admin.phone")}>
            <input id="ag-phone" type="tel" value={draft.phone} onInput={set("phone")} autocomplete="off" />
          </Field>
        </div>
        <div class="field checkbox">
          <input id="ag-active" type="checkbox" checked={draft.active} onChange={set("active")} />
          <label for="ag-active">{t("admin.agencies.active_label")}</label>
        </div>
        <div class="row form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>{busy ? t("admin.saving") : t("app.save")}</button>
          <button type="button" class="btn" onClick={onCancel}>{t("app.cancel")}</button>
        </div>
      </form>
    </section>
  );
}

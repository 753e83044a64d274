// Sharing controls of Nghị định 47/2020 (Chương III Mục 4): connection accounts (tài khoản kết
// nối) with their validity period, suspension, termination and credential, the grants of each
// account on datasets, and the audit of administrators' changes. API: /admin/sharing/accounts,
// …/{id}/suspend|resume|terminate|credential, …/{id}/grants/{dataset}, /admin/sharing/audit.
// The credential is in the answers of creation and rotation only, so it is shown once.
//
// Views by query: the list; ?new=1 a new account; ?account=ID one account with its grants
// and audit.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { t, fmtDateTime, fmtNumber } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading, Notice } from "../../components/ui.jsx";
import { Count, fieldErrors, focusField, matches, ShownOnce, useConfirm, useLoad, useQuery } from "./common.jsx";
import { endAfter, firstDay, lastDay, periodState, periodText, startOf } from "./sharing-period.js";
import { SharingNav } from "./sharing-log.jsx";

const STATUSES = ["active", "suspended", "terminated"];
const OPERATIONS = ["read", "download"];
const AUDIT_PAGE = 20;

export default function Sharing() {
  const [query, go, leave] = useQuery();
  return (
    <>
      <SharingNav current="accounts" exact={!Object.keys(query).length} />
      <Accounts query={query} go={go} leave={leave} />
    </>
  );
}

function Accounts({ query, go, leave }) {
  const list = useLoad(() => api.get("/admin/sharing/accounts"), []);
  const [notice, setNotice] = useState(null);
  // { credential, account, kind: "created" | "rotated" } until the administrator confirms.
  const [secret, setSecret] = useState(null);

  if (query.new != null) {
    return (
      <AccountForm
        onCancel={leave}
        onSaved={async (created) => {
          setSecret({ ...created, kind: "created" });
          setNotice(null);
          go({ account: String(created.account.id) }, { replace: true });
          await list.reload();
        }}
      />
    );
  }
  if (query.account) {
    return (
      <AccountView
        key={query.account}
        id={query.account}
        secret={secret && String(secret.account.id) === query.account ? secret : null}
        onSecret={setSecret}
        onSecretDone={() => setSecret(null)}
        onChanged={list.reload}
        onBack={() => (setSecret(null), leave())}
      />
    );
  }
  if (list.loading && !list.data) return <Loading />;
  if (list.error && !list.data) return <ErrorBox error={list.error} onRetry={list.reload} />;
  return <AccountList accounts={list.data} notice={notice} go={(q) => (setNotice(null), go(q))} />;
}

/** The account's status, with its reason, and a note when its period has not begun or ended. */
function StatusCell({ a }) {
  const period = a.status === "active" ? periodState(a.valid_from, a.valid_until) : "current";
  return (
    <div>
      <span class={`badge sharing-${a.status}`}>{t(`sharing.status.${a.status}`)}</span>
      {period !== "current" && <div class="small sharing-period-note">{t(`sharing.period.${period}`)}</div>}
      {a.status_reason && <div class="muted small">{a.status_reason}</div>}
    </div>
  );
}

function AccountList({ accounts, notice, go }) {
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const shown = accounts
    .filter((a) => (!status || a.status === status) && matches(q, a.name, a.organisation, a.contact_officer, a.credential_prefix))
    .sort((a, b) => b.id - a.id);
  return (
    <section>
      <div class="admin-head">
        <h1>{t("admin.section.sharing")}</h1>
        <button type="button" class="btn btn-primary" onClick={() => go({ new: "1" })}>{t("sharing.new")}</button>
      </div>
      <p class="muted">{t("sharing.intro")}</p>
      {notice && <Notice kind="success">{notice}</Notice>}
      <div class="filters card">
        <Field id="sa-q" label={t("app.search")}>
          <input id="sa-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder={t("sharing.search_hint")} />
        </Field>
        <Field id="sa-status-filter" label={t("admin.status")}>
          <select id="sa-status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">{t("app.all")}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{t(`sharing.status.${s}`)}</option>)}
          </select>
        </Field>
      </div>
      <Count shown={shown.length} total={accounts.length} />
      {shown.length ? (
        <div class="table-wrap">
          <table class="table rtable">
            <caption class="sr-only">{t("sharing.accounts")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("sharing.name")}</th>
                <th scope="col">{t("sharing.organisation")}</th>
                <th scope="col">{t("admin.status")}</th>
                <th scope="col">{t("sharing.period")}</th>
                <th scope="col">{t("sharing.credential_prefix")}</th>
                <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <tr key={a.id} class={a.status === "terminated" ? "is-inactive" : ""}>
                  <th scope="row" data-label={t("sharing.name")}>{a.name}</th>
                  <td data-label={t("sharing.organisation")}>{a.organisation}</td>
                  <td data-label={t("admin.status")}><StatusCell a={a} /></td>
                  <td data-label={t("sharing.period")}>{periodText(a.valid_from, a.valid_until)}</td>
                  <td data-label={t("sharing.credential_prefix")}>{a.credential_prefix ? <code>{a.credential_prefix}…</code> : "—"}</td>
                  <td class="actions">
                    <a class="btn btn-small" href={`?account=${a.id}`} onClick={(e) => (e.preventDefault(), go({ account: String(a.id) }))} aria-label={t("sharing.open_named", { name: a.name })}>
                      {t("sharing.open")}
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p>{accounts.length ? t("app.empty") : t("sharing.none")}</p>
      )}
    </section>
  );
}

const ACCOUNT_FIELDS = {
  "sa-name": ["name"],
  "sa-organisation": ["organisation"],
  "sa-officer": ["contact_officer"],
  "sa-email": ["contact_email"],
  "sa-purpose": ["purpose"],
  "sa-legal": ["legal_basis"],
  "sa-from": ["valid_from"],
  "sa-until": ["valid_until"],
};

/** A new account (POST, answers with the credential) or the description of one (PATCH). */
function AccountForm({ initial, onCancel, onSaved }) {
  const isNew = !initial;
  const start = {
    name: initial?.name || "",
    organisation: initial?.organisation || "",
    contact_officer: initial?.contact_officer || "",
    contact_email: initial?.contact_email || "",
    purpose: initial?.purpose || "",
    legal_basis: initial?.legal_basis || "",
    from: firstDay(initial?.valid_from),
    until: lastDay(initial?.valid_until),
  };
  const [draft, setDraft] = useState(start);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    setDraft((d) => ({ ...d, [k]: v }));
  };
  const errs = fieldErrors(error, ACCOUNT_FIELDS);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const text = {
      name: draft.name.trim(),
      organisation: draft.organisation.trim(),
      contact_officer: draft.contact_officer.trim(),
      contact_email: draft.contact_email.trim() || null,
      purpose: draft.purpose.trim(),
      legal_basis: draft.legal_basis.trim(),
    };
    try {
      if (isNew) {
        const body = { ...text };
        if (draft.from) body.valid_from = startOf(draft.from);
        if (draft.until) body.valid_until = endAfter(draft.until);
        await onSaved(await api.post("/admin/sharing/accounts", body));
      } else {
        // Only what changed: a period set to the second through the API stays as it is.
        const body = {};
        for (const [k, v] of Object.entries(text)) if (v !== (initial[k] ?? null)) body[k] = v;
        if (draft.from !== start.from && draft.from) body.valid_from = startOf(draft.from);
        if (draft.until !== start.until) body.valid_until = draft.until ? endAfter(draft.until) : null;
        await onSaved(Object.keys(body).length ? await api.patch(`/admin/sharing/accounts/${initial.id}`, body) : initial);
      }
    } catch (err) {
      setError(err);
      setBusy(false);
      focusField(fieldErrors(err, ACCOUNT_FIELDS).owner);
    }
  }

  const form = (
    <form class="card admin-form" onSubmit={submit} aria-busy={busy} aria-labelledby="sa-form-title">
      <h2 id="sa-form-title" class={isNew ? "sr-only" : undefined}>{isNew ? t("sharing.new") : t("sharing.edit_named", { name: initial.name })}</h2>
      <ErrorBox error={errs.general} />
      <div class="grid grid-2">
        <Field id="sa-name" label={t("sharing.name")} hint={t("sharing.name_hint")} error={errs.of("sa-name")}>
          <input id="sa-name" value={draft.name} onInput={set("name")} required maxLength={200} autocomplete="off" aria-describedby="sa-name-hint" />
        </Field>
        <Field id="sa-organisation" label={t("sharing.organisation")} hint={t("sharing.organisation_hint")} error={errs.of("sa-organisation")}>
          <input id="sa-organisation" value={draft.organisation} onInput={set("organisation")} required maxLength={200} autocomplete="off" aria-describedby="sa-organisation-hint" />
        </Field>
        <Field id="sa-officer" label={t("sharing.contact_officer")} hint={t("sharing.contact_officer_hint")} error={errs.of("sa-officer")}>
          <input id="sa-officer" value={draft.contact_officer} onInput={set("contact_officer")} required maxLength={200} autocomplete="off" aria-describedby="sa-officer-hint" />
        </Field>
        <Field id="sa-email" label={t("sharing.contact_email_optional")} error={errs.of("sa-email")}>
          <input id="sa-email" type="email" value={draft.contact_email} onInput={set("contact_email")} maxLength={200} autocomplete="off" />
        </Field>
      </div>
      <Field id="sa-purpose" label={t("sharing.purpose")} hint={t("sharing.purpose_hint")} error={errs.of("sa-purpose")}>
        <textarea id="sa-purpose" value={draft.purpose} onInput={set("purpose")} required maxLength={2000} rows={3} aria-describedby="sa-purpose-hint" />
      </Field>
      <Field id="sa-legal" label={t("sharing.legal_basis")} hint={t("sharing.legal_basis_hint")} error={errs.of("sa-legal")}>
        <input id="sa-legal" value={draft.legal_basis} onInput={set("legal_basis")} required maxLength={500} autocomplete="off" aria-describedby="sa-legal-hint" />
      </Field>
      <div class="grid grid-2">
        <Field id="sa-from" label={t("sharing.valid_from")} hint={t(isNew ? "sharing.valid_from_hint_new" : "sharing.valid_from_hint")} error={errs.of("sa-from")}>
          <input id="sa-from" type="date" value={draft.from} onInput={set("from")} required={!isNew} min="1900-01-01" max="9998-12-30" aria-describedby="sa-from-hint" />
        </Field>
        <Field id="sa-until" label={t("sharing.valid_until")} hint={t("sharing.valid_until_hint")} error={errs.of("sa-until")}>
          <input id="sa-until" type="date" value={draft.until} onInput={set("until")} min={draft.from || "1900-01-01"} max="9998-12-30" aria-describedby="sa-until-hint" />
        </Field>
      </div>
      <div class="row form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{isNew ? t("sharing.create") : t("app.save")}</button>
        <button type="button" class="btn" onClick={onCancel}>{t("app.cancel")}</button>
      </div>
    </form>
  );
  if (!isNew) return form;
  return (
    <section>
      <div class="admin-head">
        <h1>{t("sharing.new")}</h1>
        <button type="button" class="btn" onClick={onCancel}>{t("admin.back_to_list")}</button>
      </div>
      <p class="muted">{t("sharing.new_intro")}</p>
      {form}
    </section>
  );
}

/** The credential, shown once after creation or rotation, with a copy button. */
function Credential({ secret, onDone }) {
  return (
    <ShownOnce
      id="sa-credential"
      title={t(`sharing.credential.title_${secret.kind}`, { name: secret.account.name })}
      warning={t("sharing.credential.warning")}
      label={t("sharing.credential")}
      value={secret.credential}
      usage={t("sharing.credential.usage")}
      doneLabel={t("sharing.credential.done")}
      onDone={onDone}
      focusCopy
    />
  );
}

async function loadAccount(id) {
  const [account, grants] = await Promise.all([api.get(`/admin/sharing/accounts/${id}`), api.get(`/admin/sharing/accounts/${id}/grants`)]);
  return { account, grants };
}

function AccountView({ id, secret, onSecret, onSecretDone, onChanged, onBack }) {
  const { data, error, loading, reload } = useLoad(() => loadAccount(id), [id]);
  const [auditKey, setAuditKey] = useState(0);
  const [editing, setEditing] = useState(false);
  const [notice, setNotice] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [dialog, ask] = useConfirm();

  if (loading && !data) return <Loading />;
  if (error && !data) {
    return (
      <>
        <ErrorBox error={error} onRetry={error.status === 404 ? undefined : reload} />
        <button type="button" class="btn" onClick={onBack}>{t("admin.back_to_list")}</button>
      </>
    );
  }
  const { account: a, grants } = data;
  const open = a.status !== "terminated";

  /** Runs one change, then reloads the account, its grants, its audit and the list. */
  async function act(run, done) {
    setNotice(null);
    setActionError(null);
    try {
      const answer = await run();
      await Promise.all([reload(), onChanged()]);
      setAuditKey((k) => k + 1);
      if (done) setNotice(done);
      return answer;
    } catch (err) {
      setActionError(err);
      return null;
    }
  }

  async function suspend() {
    const reason = await ask(t("sharing.confirm_suspend", { name: a.name }), t("sharing.suspend"), {
      reason: { label: t("sharing.reason"), hint: t("sharing.reason_hint") },
    });
    if (reason) await act(() => api.post(`/admin/sharing/accounts/${a.id}/suspend`, { reason }), t("sharing.suspended_notice", { name: a.name }));
  }
  async function terminate() {
    const reason = await ask(t("sharing.confirm_terminate", { name: a.name }), t("sharing.terminate"), {
      reason: { label: t("sharing.reason"), hint: t("sharing.reason_hint") },
    });
    if (reason) await act(() => api.post(`/admin/sharing/accounts/${a.id}/terminate`, { reason }), t("sharing.terminated_notice", { name: a.name }));
  }
  async function resume() {
    await act(() => api.post(`/admin/sharing/accounts/${a.id}/resume`), t("sharing.resumed_notice", { name: a.name }));
  }
  async function rotate() {
    if (!(await ask(t("sharing.confirm_rotate", { name: a.name, prefix: a.credential_prefix || "—" }), t("sharing.rotate")))) return;
    const answer = await act(() => api.post(`/admin/sharing/accounts/${a.id}/credential`));
    if (answer) onSecret({ ...answer, kind: "rotated" });
  }

  return (
    <section>
      {dialog}
      <div class="admin-head">
        <h1>{a.name}</h1>
        <button type="button" class="btn" onClick={onBack}>{t("admin.back_to_list")}</button>
      </div>
      {secret && (
        <Credential
          secret={secret}
          onDone={() => {
            setNotice(t(secret.kind === "created" ? "sharing.created_notice" : "sharing.rotated_notice", { name: a.name }));
            onSecretDone();
          }}
        />
      )}
      {notice && <Notice kind="success">{notice}</Notice>}
      <ErrorBox error={actionError} />
      {editing ? (
        <AccountForm
          initial={a}
          onCancel={() => setEditing(false)}
          onSaved={async (saved) => {
            setEditing(false);
            await act(async () => saved, t("sharing.updated_notice", { name: saved.name }));
          }}
        />
      ) : (
        <div class="card sharing-account">
          <dl class="sharing-facts">
            <div>
              <dt>{t("admin.status")}</dt>
              <dd>
                <StatusCell a={a} />
                {a.status_changed_at && <div class="muted small">{t("sharing.status_since", { at: fmtDateTime(a.status_changed_at) })}</div>}
              </dd>
            </div>
            <div>
              <dt>{t("sharing.organisation")}</dt>
              <dd>{a.organisation}</dd>
            </div>
            <div>
              <dt>{t("sharing.contact_officer")}</dt>
              <dd>
                {a.contact_officer}
                {a.contact_email && <div><a href={`mailto:${a.contact_email}`}>{a.contact_email}</a></div>}
              </dd>
            </div>
            <div>
              <dt>{t("sharing.period")}</dt>
              <dd>
                {periodText(a.valid_from, a.valid_until)}
                <div class="muted small">
                  {a.valid_until
                    ? t("sharing.period_exact", { from: fmtDateTime(a.valid_from), until: fmtDateTime(a.valid_until) })
                    : t("sharing.period_exact_open", { from: fmtDateTime(a.valid_from) })}
                </div>
              </dd>
            </div>
            <div class="wide">
              <dt>{t("sharing.purpose")}</dt>
              <dd class="pre">{a.purpose}</dd>
            </div>
            <div class="wide">
              <dt>{t("sharing.legal_basis")}</dt>
              <dd>{a.legal_basis}</dd>
            </div>
            <div>
              <dt>{t("sharing.credential_prefix")}</dt>
              <dd>
                {a.credential_prefix ? <code>{a.credential_prefix}…</code> : t("sharing.no_credential")}
                {a.credential_created_at && <div class="muted small">{t("sharing.issued_at", { at: fmtDateTime(a.credential_created_at) })}</div>}
              </dd>
            </div>
            <div>
              <dt>{t("sharing.created_at")}</dt>
              <dd>{fmtDateTime(a.created_at)}</dd>
            </div>
          </dl>
          <div class="row sharing-actions" role="group" aria-label={t("admin.actions")}>
            {open && <button type="button" class="btn btn-small" onClick={() => (setNotice(null), setEditing(true), focusField("sa-name"))}>{t("sharing.edit")}</button>}
            {a.status === "active" && <button type="button" class="btn btn-small btn-danger" onClick={suspend}>{t("sharing.suspend")}</button>}
            {a.status === "suspended" && <button type="button" class="btn btn-small" onClick={resume}>{t("sharing.resume")}</button>}
            {open && <button type="button" class="btn btn-small" onClick={rotate}>{t("sharing.rotate")}</button>}
            {open && <button type="button" class="btn btn-small btn-danger" onClick={terminate}>{t("sharing.terminate")}</button>}
            <a class="btn btn-small" href={`/admin/sharing-log?account=${a.id}`}>{t("sharing.log.of_account")}</a>
          </div>
          {!open && <p class="muted small">{t("sharing.terminated_note")}</p>}
        </div>
      )}
      <Grants account={a} grants={grants} act={act} ask={ask} />
      <Audit key={auditKey} accountId={a.id} />
    </section>
  );
}

const GRANT_FIELDS = { "sg-dataset": ["dataset_id"], "sg-ops": ["operations"], "sg-from": ["valid_from"], "sg-until": ["valid_until"] };

function Grants({ account, grants, act, ask }) {
  const open = account.status !== "terminated";
  const empty = { dataset: "", operations: ["read"], from: "", until: "" };
  const [draft, setDraft] = useState(empty);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const errs = fieldErrors(error, GRANT_FIELDS);
  const replacing = grants.some((g) => g.dataset_id === draft.dataset.trim());

  function edit(g) {
    setError(null);
    setDraft({ dataset: g.dataset_id, operations: g.operations, from: firstDay(g.valid_from), until: lastDay(g.valid_until) });
    focusField("sg-dataset");
  }
  function toggle(op, on) {
    setDraft((d) => ({ ...d, operations: OPERATIONS.filter((o) => (o === op ? on : d.operations.includes(o))) }));
  }
  async function submit(e) {
    e.preventDefault();
    const dataset = draft.dataset.trim();
    setBusy(true);
    setError(null);
    const body = {
      operations: draft.operations,
      valid_from: draft.from ? startOf(draft.from) : null,
      valid_until: draft.until ? endAfter(draft.until) : null,
    };
    try {
      const notice = t(replacing ? "sharing.grants.replaced_notice" : "sharing.grants.added_notice", { dataset });
      // Validation errors (dataset, operations, period) belong to the form: act() would show
      // them apart from their fields, so the PUT runs here and act() only refreshes.
      await api.put(`/admin/sharing/accounts/${account.id}/grants/${encodeURIComponent(dataset)}`, body);
      setDraft(empty);
      await act(async () => null, notice);
    } catch (err) {
      setError(err);
      focusField(fieldErrors(err, GRANT_FIELDS).owner);
    }
    setBusy(false);
  }
  async function revoke(g) {
    if (!(await ask(t("sharing.grants.confirm_revoke", { dataset: g.dataset_id, name: account.name }), t("sharing.grants.revoke")))) return;
    await act(() => api.del(`/admin/sharing/accounts/${account.id}/grants/${encodeURIComponent(g.dataset_id)}`), t("sharing.grants.revoked_notice", { dataset: g.dataset_id }));
  }

  return (
    <section class="card sharing-card" aria-labelledby="sg-title">
      <h2 id="sg-title">{t("sharing.grants")}</h2>
      <p class="muted small">{t("sharing.grants.intro")}</p>
      {grants.length ? (
        <div class="table-wrap">
          <table class="table rtable">
            <caption class="sr-only">{t("sharing.grants")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("sharing.dataset")}</th>
                <th scope="col">{t("sharing.operations")}</th>
                <th scope="col">{t("sharing.period")}</th>
                <th scope="col">{t("sharing.grants.modified")}</th>
                {open && <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>}
              </tr>
            </thead>
            <tbody>
              {grants.map((g) => {
                const period = periodState(g.valid_from, g.valid_until);
                return (
                  <tr key={g.dataset_id} class={period === "current" ? "" : "is-inactive"}>
                    <th scope="row" data-label={t("sharing.dataset")}>
                      <a href={`/dataset/${encodeURIComponent(g.dataset_id)}`}><code>{g.dataset_id}</code></a>
                    </th>
                    <td data-label={t("sharing.operations")}>{g.operations.map((o) => t(`sharing.operation.${o}`)).join(", ")}</td>
                    <td data-label={t("sharing.period")}>
                      <div>
                        {periodText(g.valid_from, g.valid_until)}
                        {period !== "current" && <div class="small sharing-period-note">{t(`sharing.period.${period}`)}</div>}
                      </div>
                    </td>
                    <td data-label={t("sharing.grants.modified")}>{fmtDateTime(g.modified_at)}</td>
                    {open && (
                      <td class="actions">
                        <div class="row">
                          <button type="button" class="btn btn-small" onClick={() => edit(g)} aria-label={t("sharing.grants.edit_named", { dataset: g.dataset_id })}>{t("app.edit")}</button>
                          <button type="button" class="btn btn-small btn-danger" onClick={() => revoke(g)} aria-label={t("sharing.grants.revoke_named", { dataset: g.dataset_id })}>{t("sharing.grants.revoke")}</button>
                        </div>
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : (
        <p>{t("sharing.grants.none")}</p>
      )}
      {open && (
        <form class="admin-form sharing-grant-form" onSubmit={submit} aria-busy={busy} aria-labelledby="sg-form-title">
          <h3 id="sg-form-title">{replacing ? t("sharing.grants.replace_title", { dataset: draft.dataset.trim() }) : t("sharing.grants.add_title")}</h3>
          <ErrorBox error={errs.general} />
          <div class="grid grid-2">
            <Field id="sg-dataset" label={t("sharing.dataset")} hint={t("sharing.grants.dataset_hint")} error={errs.of("sg-dataset")}>
              <input id="sg-dataset" value={draft.dataset} onInput={(e) => setDraft({ ...draft, dataset: e.currentTarget.value })} required maxLength={100} pattern="[A-Za-z0-9_\-]+" autocomplete="off" autocapitalize="none" spellcheck={false} aria-describedby="sg-dataset-hint" />
            </Field>
            <fieldset class={`sharing-ops${errs.of("sg-ops") ? " field-error" : ""}`} aria-describedby={errs.of("sg-ops") ? "sg-ops-error" : undefined}>
              <legend>{t("sharing.operations")}</legend>
              {OPERATIONS.map((op) => (
                <div class="field checkbox" key={op}>
                  <input id={`sg-op-${op}`} type="checkbox" checked={draft.operations.includes(op)} onChange={(e) => toggle(op, e.currentTarget.checked)} />
                  <label for={`sg-op-${op}`}>{t(`sharing.operation.${op}_long`)}</label>
                </div>
              ))}
              {errs.of("sg-ops") && <small id="sg-ops-error" class="error-text" role="alert">{errs.of("sg-ops")}</small>}
            </fieldset>
            <Field id="sg-from" label={t("sharing.grants.valid_from")} hint={t("sharing.grants.period_hint")} error={errs.of("sg-from")}>
              <input id="sg-from" type="date" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} min="1900-01-01" max="9998-12-30" aria-describedby="sg-from-hint" />
            </Field>
            <Field id="sg-until" label={t("sharing.grants.valid_until")} hint={t("sharing.valid_until_hint")} error={errs.of("sg-until")}>
              <input id="sg-until" type="date" value={draft.until} onInput={(e) => setDraft({ ...draft, until: e.currentTarget.value })} min={draft.from || "1900-01-01"} max="9998-12-30" aria-describedby="sg-until-hint" />
            </Field>
          </div>
          <div class="row form-actions">
            <button type="submit" class="btn btn-primary" disabled={busy}>{replacing ? t("sharing.grants.replace") : t("sharing.grants.add")}</button>
            {(draft.dataset || draft.from || draft.until) && <button type="button" class="btn" onClick={() => (setDraft(empty), setError(null))}>{t("app.cancel")}</button>}
          </div>
        </form>
      )}
    </section>
  );
}

/** What one audit entry changed, in words. */
function auditDetail(e) {
  const d = e.detail || {};
  switch (e.action) {
    case "create":
      return d.name ? t("sharing.audit.detail.create", { name: d.name, period: periodText(d.valid_from, d.valid_until) }) : "";
    case "update": {
      const before = d.before || {};
      const after = d.after || {};
      const changed = Object.keys(after).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
      return changed.map((k) => t(`sharing.field.${k}`)).join(", ");
    }
    case "suspend":
    case "terminate":
      return d.reason || "";
    case "resume":
      return "";
    case "rotate_credential":
      return d.prefix ? t("sharing.audit.detail.prefix", { prefix: d.prefix }) : "";
    case "grant": {
      const operations = (d.operations || []).map((o) => t(`sharing.operation.${o}`)).join(", ");
      if (!d.valid_from && !d.valid_until) return t("sharing.audit.detail.grant_any", { dataset: d.dataset_id, operations });
      return t("sharing.audit.detail.grant", { dataset: d.dataset_id, operations, period: periodText(d.valid_from, d.valid_until) });
    }
    case "revoke":
      return d.dataset_id || "";
    default:
      return "";
  }
}

/** The administrators' changes of one account, newest first, a page at a time. */
function Audit({ accountId }) {
  const [before, setBefore] = useState(null);
  const [rows, setRows] = useState([]);
  const { data, error, loading, reload } = useLoad(async () => {
    const page = await api.get("/admin/sharing/audit", { account: accountId, limit: AUDIT_PAGE, before });
    setRows((r) => (before ? [...r, ...page.items] : page.items));
    return page;
  }, [accountId, before]);
  return (
    <section class="card sharing-card" aria-labelledby="sau-title">
      <h2 id="sau-title">{t("sharing.audit")}</h2>
      <p class="muted small">{t("sharing.audit.intro")}</p>
      {error && <ErrorBox error={error} onRetry={reload} />}
      {rows.length ? (
        <div class="table-wrap">
          <table class="table rtable">
            <caption class="sr-only">{t("sharing.audit")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("sharing.log.at")}</th>
                <th scope="col">{t("sharing.audit.actor")}</th>
                <th scope="col">{t("sharing.audit.action")}</th>
                <th scope="col">{t("sharing.audit.detail")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <th scope="row" data-label={t("sharing.log.at")}><time datetime={e.at}>{fmtDateTime(e.at)}</time></th>
                  <td data-label={t("sharing.audit.actor")}>{e.actor}</td>
                  <td data-label={t("sharing.audit.action")}>{t(`sharing.audit.action.${e.action}`)}</td>
                  <td data-label={t("sharing.audit.detail")}><span class="sharing-detail">{auditDetail(e) || "—"}</span></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        !loading && !error && <p>{t("app.empty")}</p>
      )}
      {loading && <Loading />}
      {data?.next_before != null && !loading && (
        <p>
          <button type="button" class="btn" onClick={() => setBefore(data.next_before)}>{t("sharing.audit.older", { n: fmtNumber(AUDIT_PAGE) })}</button>
        </p>
      )}
    </section>
  );
}

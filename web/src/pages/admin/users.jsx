// Users and roles: GET/POST /admin/users, PATCH /admin/users/{id} (role, agency, active).
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { user as me } from "../../lib/boot.js";
import { t, fmtNumber } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading, Notice } from "../../components/ui.jsx";
import { ActiveBadge, Count, fieldErrors, focusField, loadReference, localName, matches, randomPassword, useConfirm, useLoad } from "./common.jsx";

const ROLES = ["citizen", "agency_staff", "ioc_operator", "admin"];
const PAGE = 100;

async function load() {
  const [users, ref] = await Promise.all([api.get("/admin/users"), loadReference()]);
  return { users, agencies: ref.agencies };
}

function AgencySelect({ id, agencies, value, onChange, error }) {
  return (
    <Field id={id} label={t("admin.users.agency")} error={error}>
      <select id={id} value={value} onChange={onChange} required>
        <option value="">{t("admin.choose")}</option>
        {agencies.map((a) => (
          <option key={a.code} value={a.code}>
            {localName(a)} ({a.code}){a.active ? "" : ` — ${t("admin.inactive")}`}
          </option>
        ))}
      </select>
    </Field>
  );
}

export default function Users() {
  const { data, error, loading, reload } = useLoad(load, []);
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const [status, setStatus] = useState("");
  const [limit, setLimit] = useState(PAGE);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState(null);
  const [notice, setNotice] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [dialog, ask] = useConfirm();

  if (loading && !data) return <Loading />;
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  const { users, agencies } = data;
  const sortedAgencies = [...agencies].sort((a, b) => localName(a).localeCompare(localName(b), "vi"));
  const agencyById = (id) => agencies.find((a) => a.id === id);
  const shown = users.filter(
    (u) =>
      (!role || u.role === role) &&
      (!status || (status === "active") === u.active) &&
      matches(q, u.username, u.display_name, u.email, u.phone, localName(agencyById(u.agency_id)), agencyById(u.agency_id)?.code),
  );

  async function setActive(u, active) {
    setNotice(null);
    setActionError(null);
    if (!active && !(await ask(t("admin.users.confirm_deactivate", { name: u.display_name, username: u.username }), t("admin.users.deactivate")))) return;
    try {
      await api.patch(`/admin/users/${u.id}`, { role: u.role, agency: agencyById(u.agency_id)?.code ?? null, active });
      await reload();
      setNotice(t(active ? "admin.users.reactivated" : "admin.users.deactivated", { username: u.username }));
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <section>
      {dialog}
      <div class="admin-head">
        <h1>{t("admin.section.users")}</h1>
        {!creating && (
          <button type="button" class="btn btn-primary" onClick={() => (setCreating(true), setNotice(null), focusField("nu-username"))}>
            {t("admin.users.new")}
          </button>
        )}
      </div>
      {notice && <Notice kind="success">{notice}</Notice>}
      <ErrorBox error={actionError} />
      {creating && (
        <NewUser
          agencies={sortedAgencies}
          onCancel={() => setCreating(false)}
          onSaved={async (u) => {
            setCreating(false);
            await reload();
            setQ(u.username);
            setNotice(t("admin.users.created", { username: u.username }));
          }}
        />
      )}
      <div class="filters card">
        <Field id="us-q" label={t("app.search")}>
          <input id="us-q" type="search" value={q} onInput={(e) => (setQ(e.currentTarget.value), setLimit(PAGE))} placeholder={t("admin.users.search_hint")} />
        </Field>
        <Field id="us-role" label={t("admin.users.role")}>
          <select id="us-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="">{t("app.all")}</option>
            {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}
          </select>
        </Field>
        <Field id="us-status" label={t("admin.status")}>
          <select id="us-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">{t("app.all")}</option>
            <option value="active">{t("admin.active")}</option>
            <option value="inactive">{t("admin.inactive")}</option>
          </select>
        </Field>
      </div>
      <Count shown={shown.length} total={users.length} />
      <div class="table-wrap">
        <table class="table rtable">
          <caption class="sr-only">{t("admin.section.users")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("admin.users.username")}</th>
              <th scope="col">{t("admin.users.display_name")}</th>
              <th scope="col">{t("admin.users.role")}</th>
              <th scope="col">{t("admin.users.agency")}</th>
              <th scope="col">{t("admin.status")}</th>
              <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>
            </tr>
          </thead>
          <tbody>
            {shown.slice(0, limit).map((u) => {
              const self = me && me.id === u.id;
              const agency = agencyById(u.agency_id);
              return [
                <tr key={u.id} class={u.active ? "" : "is-inactive"}>
                  <th scope="row" data-label={t("admin.users.username")}>
                    <code>{u.username}</code>
                    {self && <span class="muted small"> ({t("admin.users.you")})</span>}
                  </th>
                  <td data-label={t("admin.users.display_name")}>
                    <div>
                      {u.display_name}
                      {(u.email || u.phone) && <div class="muted small">{[u.email, u.phone].filter(Boolean).join(" · ")}</div>}
                    </div>
                  </td>
                  <td data-label={t("admin.users.role")}><span class={`role role-${u.role}`}>{t(`role.${u.role}`)}</span></td>
                  <td data-label={t("admin.users.agency")}>{agency ? localName(agency) : "—"}</td>
                  <td data-label={t("admin.status")}><ActiveBadge active={u.active} /></td>
                  <td class="actions">
                    {self ? (
                      <span class="muted small">{t("admin.users.self_note")}</span>
                    ) : (
                      <div class="row">
                        <button
                          type="button"
                          class="btn btn-small"
                          aria-expanded={editing === u.id}
                          aria-controls={`edit-user-${u.id}`}
                          onClick={() => {
                            setNotice(null);
                            setEditing(editing === u.id ? null : u.id);
                            if (editing !== u.id) focusField(`eu-${u.id}-role`);
                          }}
                          aria-label={t("admin.users.edit_named", { username: u.username })}
                        >
                          {t("admin.users.change_role")}
                        </button>
                        {u.active ? (
                          <button type="button" class="btn btn-small btn-danger" onClick={() => setActive(u, false)} aria-label={t("admin.users.deactivate_named", { username: u.username })}>
                            {t("admin.users.deactivate")}
                          </button>
                        ) : (
                          <button type="button" class="btn btn-small" onClick={() => setActive(u, true)} aria-label={t("admin.users.reactivate_named", { username: u.username })}>
                            {t("admin.users.reactivate")}
                          </button>
                        )}
                      </div>
                    )}
                  </td>
                </tr>,
                editing === u.id && (
                  <tr key={`${u.id}-edit`} class="edit-row" id={`edit-user-${u.id}`}>
                    <td colSpan={6}>
                      <EditUser
                        u={u}
                        agencies={sortedAgencies}
                        agencyCode={agency?.code || ""}
                        onCancel={() => setEditing(null)}
                        onSaved={async (saved) => {
                          setEditing(null);
                          await reload();
                          setNotice(t("admin.users.updated", { username: saved.username }));
                        }}
                      />
                    </td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      </div>
      {!shown.length && <p>{t("app.empty")}</p>}
      {shown.length > limit && (
        <p>
          <button type="button" class="btn" onClick={() => setLimit((l) => l + PAGE)}>
            {t("admin.show_more", { n: fmtNumber(Math.min(PAGE, shown.length - limit)) })}
          </button>
        </p>
      )}
    </section>
  );
}

function EditUser({ u, agencies, agencyCode, onCancel, onSaved }) {
  const [role, setRole] = useState(u.role);
  const [agency, setAgency] = useState(agencyCode);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const prefix = `eu-${u.id}`;
  const errs = fieldErrors(error, { [`${prefix}-role`]: ["role"], [`${prefix}-agency`]: ["agency"] });
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await api.patch(`/admin/users/${u.id}`, { role, agency: role === "agency_staff" ? agency || null : null, active: u.active });
      await onSaved(saved);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  return (
    <>
    <form class="inline-form" onSubmit={submit} aria-busy={busy} aria-label={t("admin.users.edit_named", { username: u.username })}>
      <ErrorBox error={errs.general} />
      <div class="filters">
        <Field id={`${prefix}-role`} label={t("admin.users.role")} error={errs.of(`${prefix}-role`)}>
          <select id={`${prefix}-role`} value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}
          </select>
        </Field>
        {role === "agency_staff" && (
          <AgencySelect id={`${prefix}-agency`} agencies={agencies} value={agency} onChange={(e) => setAgency(e.currentTarget.value)} error={errs.of(`${prefix}-agency`)} />
        )}
        <div class="row">
          <button type="submit" class="btn btn-primary" disabled={busy}>{t("app.save")}</button>
          <button type="button" class="btn" onClick={onCancel}>{t("app.cancel")}</button>
        </div>
      </div>
    </form>
    <ResetPassword u={u} />
    </>
  );
}

/** An administrator sets a new password (the user's sessions end); shown once to pass on. */
function ResetPassword({ u }) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const id = `rp-${u.id}`;
  const errs = fieldErrors(error, { [id]: ["password"] });
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      await api.post(`/admin/users/${u.id}/password`, { password });
      setDone(true);
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  }
  return (
    <form class="inline-form" onSubmit={submit} aria-busy={busy} aria-label={t("admin.users.reset_named", { username: u.username })}>
      <ErrorBox error={errs.general} />
      {done && <Notice kind="success">{t("admin.users.reset_done", { username: u.username })}</Notice>}
      <div class="filters">
        <Field id={id} label={t("admin.users.new_password")} hint={t("admin.users.reset_hint")} error={errs.of(id)}>
          <input id={id} type="text" autocomplete="new-password" minLength={8} maxLength={256} required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <div class="row">
          <button type="button" class="btn" onClick={() => setPassword(randomPassword())}>{t("admin.users.generate")}</button>
          <button type="submit" class="btn btn-primary" disabled={busy}>{t("admin.users.reset")}</button>
        </div>
      </div>
    </form>
  );
}

const NEW_FIELDS = {
  "nu-username": ["username"],
  "nu-display": ["display_name"],
  "nu-password": ["password"],
  "nu-role": ["role"],
  "nu-agency": ["agency"],
  "nu-email": ["email"],
  "nu-phone": ["phone"],
};

function NewUser({ agencies, onCancel, onSaved }) {
  const [draft, setDraft] = useState({ username: "", display_name: "", email: "", phone: "", role: "agency_staff", agency: "", password: "" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    setDraft((d) => ({ ...d, [k]: v }));
  };
  const errs = fieldErrors(error, NEW_FIELDS);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const opt = (s) => s.trim() || null;
    try {
      const u = await api.post("/admin/users", {
        username: draft.username.trim(),
        display_name: draft.display_name.trim(),
        email: opt(draft.email),
        phone: opt(draft.phone),
        role: draft.role,
        agency: draft.role === "agency_staff" ? draft.agency || null : null,
        password: draft.password,
      });
      await onSaved(u);
    } catch (err) {
      setError(err);
      setBusy(false);
      focusField(fieldErrors(err, NEW_FIELDS).owner);
    }
  }
  return (
    <form class="card admin-form" onSubmit={submit} aria-busy={busy} aria-labelledby="nu-title">
      <h2 id="nu-title">{t("admin.users.new")}</h2>
      <ErrorBox error={errs.general} />
      <div class="grid grid-2">
        <Field id="nu-username" label={t("admin.users.username")} hint={t("admin.users.username_hint")} error={errs.of("nu-username")}>
          <input id="nu-username" value={draft.username} onInput={set("username")} required minLength={3} maxLength={64} pattern="[A-Za-z0-9._@+\-]{3,64}" autocomplete="off" autocapitalize="none" spellcheck={false} aria-describedby="nu-username-hint" />
        </Field>
        <Field id="nu-display" label={t("admin.users.display_name")} error={errs.of("nu-display")}>
          <input id="nu-display" value={draft.display_name} onInput={set("display_name")} required maxLength={200} autocomplete="off" />
        </Field>
        <Field id="nu-email" label={t("admin.users.email_optional")} error={errs.of("nu-email")}>
          <input id="nu-email" type="email" value={draft.email} onInput={set("email")} autocomplete="off" />
        </Field>
        <Field id="nu-phone" label={t("admin.users.phone_optional")} error={errs.of("nu-phone")}>
          <input id="nu-phone" type="tel" value={draft.phone} onInput={set("phone")} autocomplete="off" />
        </Field>
        <Field id="nu-role" label={t("admin.users.role")} error={errs.of("nu-role")}>
          <select id="nu-role" value={draft.role} onChange={set("role")}>
            {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}
          </select>
        </Field>
        {draft.role === "agency_staff" ? (
          <AgencySelect id="nu-agency" agencies={agencies} value={draft.agency} onChange={set("agency")} error={errs.of("nu-agency")} />
        ) : (
          <p class="muted small nu-agency-note">{t("admin.users.no_agency_note")}</p>
        )}
      </div>
      <Field id="nu-password" label={t("admin.users.password")} hint={t("admin.users.password_hint")} error={errs.of("nu-password")}>
        <div class="row nowrap">
          <input id="nu-password" type="text" class="mono grow" value={draft.password} onInput={set("password")} required minLength={8} maxLength={256} autocomplete="new-password" spellcheck={false} aria-describedby="nu-password-hint" />
          <button type="button" class="btn" onClick={() => setDraft((d) => ({ ...d, password: randomPassword() }))}>{t("admin.users.generate")}</button>
        </div>
      </Field>
      <div class="row form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t("admin.users.create")}</button>
        <button type="button" class="btn" onClick={onCancel}>{t("app.cancel")}</button>
      </div>
    </form>
  );
}

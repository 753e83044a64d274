// Open311 API keys: GET/POST /admin/api-keys, DELETE /admin/api-keys/{id} (revoke). The secret
// is in the POST answer only, so it is shown once, with a copy button.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { t, fmtDateTime } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading, Notice } from "../../components/ui.jsx";
import { Count, fieldErrors, focusField, ShownOnce, useConfirm, useLoad } from "./common.jsx";

export default function ApiKeys() {
  const { data: keys, error, loading, reload } = useLoad(() => api.get("/admin/api-keys"), []);
  const [created, setCreated] = useState(null); // { api_key, key } until dismissed
  const [notice, setNotice] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [showRevoked, setShowRevoked] = useState(true);
  const [dialog, ask] = useConfirm();

  async function revoke(k) {
    setNotice(null);
    setActionError(null);
    if (!(await ask(t("admin.keys.confirm_revoke", { name: k.name, prefix: k.prefix }), t("admin.keys.revoke")))) return;
    try {
      await api.del(`/admin/api-keys/${k.id}`);
      await reload();
      setNotice(t("admin.keys.revoked_notice", { name: k.name }));
    } catch (err) {
      setActionError(err);
    }
  }

  const list = (keys || []).filter((k) => showRevoked || !k.revoked_at).sort((a, b) => b.id - a.id);
  return (
    <section>
      {dialog}
      <h1>{t("admin.section.api-keys")}</h1>
      <p class="muted">{t("admin.keys.intro")}</p>
      {created ? (
        <Secret
          created={created}
          onDone={() => {
            setNotice(t("admin.keys.created_notice", { name: created.key.name }));
            setCreated(null);
            focusField("key-name");
          }}
        />
      ) : (
        <NewKey
          onCreated={async (c) => {
            setNotice(null);
            setActionError(null);
            setCreated(c);
            focusField("key-secret-copy");
            await reload();
          }}
        />
      )}
      {notice && <Notice kind="success">{notice}</Notice>}
      <ErrorBox error={actionError} />
      <h2>{t("admin.keys.list")}</h2>
      {loading && !keys && <Loading />}
      {error && <ErrorBox error={error} onRetry={reload} />}
      {keys && (
        <>
          <div class="row">
            <div class="field checkbox">
              <input id="key-show-revoked" type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.currentTarget.checked)} />
              <label for="key-show-revoked">{t("admin.keys.show_revoked")}</label>
            </div>
          </div>
          <Count shown={list.length} total={keys.length} />
          {list.length ? (
            <div class="table-wrap">
              <table class="table rtable">
                <caption class="sr-only">{t("admin.keys.list")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("admin.keys.name")}</th>
                    <th scope="col">{t("admin.keys.prefix")}</th>
                    <th scope="col">{t("admin.keys.created")}</th>
                    <th scope="col">{t("admin.status")}</th>
                    <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((k) => (
                    <tr key={k.id} class={k.revoked_at ? "is-inactive" : ""}>
                      <th scope="row" data-label={t("admin.keys.name")}>{k.name}</th>
                      <td data-label={t("admin.keys.prefix")}><code>{k.prefix}…</code></td>
                      <td data-label={t("admin.keys.created")}>{fmtDateTime(k.created_at)}</td>
                      <td data-label={t("admin.status")}>
                        {k.revoked_at ? (
                          <span class="badge badge-off">{t("admin.keys.revoked_at", { at: fmtDateTime(k.revoked_at) })}</span>
                        ) : (
                          <span class="badge badge-on">{t("admin.keys.valid")}</span>
                        )}
                      </td>
                      <td class="actions">
                        {!k.revoked_at && (
                          <button type="button" class="btn btn-small btn-danger" onClick={() => revoke(k)} aria-label={t("admin.keys.revoke_named", { name: k.name })}>
                            {t("admin.keys.revoke")}
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p>{t("admin.keys.none")}</p>
          )}
        </>
      )}
    </section>
  );
}

function NewKey({ onCreated }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const errs = fieldErrors(error, { "key-name": ["name"] });
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const c = await api.post("/admin/api-keys", { name: name.trim() });
      setName("");
      await onCreated(c);
    } catch (err) {
      setError(err);
      focusField("key-name");
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="card admin-form" onSubmit={submit} aria-busy={busy} aria-labelledby="key-form-title">
      <h2 id="key-form-title">{t("admin.keys.new")}</h2>
      <ErrorBox error={errs.general} />
      <div class="key-new">
        <Field id="key-name" label={t("admin.keys.name")} hint={t("admin.keys.name_hint")} error={errs.of("key-name")}>
          <input id="key-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={100} autocomplete="off" aria-describedby="key-name-hint" />
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t("admin.keys.create")}</button>
      </div>
    </form>
  );
}

function Secret({ created, onDone }) {
  return (
    <ShownOnce
      id="key-secret"
      title={t("admin.keys.secret_title", { name: created.key.name })}
      warning={t("admin.keys.secret_warning")}
      label={t("admin.keys.secret")}
      value={created.api_key}
      usage={t("admin.keys.usage")}
      doneLabel={t("admin.keys.done")}
      onDone={onDone}
    />
  );
}

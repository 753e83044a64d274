// Routing rules: category × commune → agency. GET/PUT/DELETE /admin/routing-rules.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { t, fmtNumber } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading, Notice } from "../../components/ui.jsx";
import { Count, fieldErrors, focusField, loadReference, localName, useConfirm, useLoad } from "./common.jsx";

const PAGE = 100;
const ANY = "*"; // the filter and form value for "every commune" (commune: null in the API)

async function load() {
  const [rules, ref] = await Promise.all([api.get("/admin/routing-rules"), loadReference()]);
  return { rules, ...ref };
}

export default function Routing() {
  const { data, error, loading, reload } = useLoad(load, []);
  const [filter, setFilter] = useState({ category: "", commune: "", agency: "" });
  const [limit, setLimit] = useState(PAGE);
  const [notice, setNotice] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [dialog, ask] = useConfirm();

  if (loading && !data) return <Loading />;
  if (error && !data) return <ErrorBox error={error} onRetry={reload} />;
  const { rules, categories, agencies, units } = data;
  const catName = (code) => localName(categories.find((c) => c.code === code)) || code;
  const agName = (code) => localName(agencies.find((a) => a.code === code)) || code;
  const unitName = (code) => units.find((u) => u.code === code)?.name || code;
  const setF = (k) => (e) => {
    const v = e.currentTarget.value;
    setFilter((f) => ({ ...f, [k]: v }));
    setLimit(PAGE);
  };
  const shown = rules.filter(
    (r) =>
      (!filter.category || r.category === filter.category) &&
      (!filter.commune || (filter.commune === ANY ? r.commune == null : r.commune === filter.commune)) &&
      (!filter.agency || r.agency === filter.agency),
  );
  const sortedCats = [...categories].sort((a, b) => localName(a).localeCompare(localName(b), "vi"));
  const sortedUnits = [...units].sort((a, b) => a.name.localeCompare(b.name, "vi"));
  const sortedAgencies = [...agencies].sort((a, b) => localName(a).localeCompare(localName(b), "vi"));

  async function remove(r) {
    setNotice(null);
    setActionError(null);
    const where = r.commune ? unitName(r.commune) : t("admin.routing.any_commune");
    if (!(await ask(t("admin.routing.confirm_delete", { category: catName(r.category), commune: where, agency: agName(r.agency) }), t("app.delete")))) return;
    try {
      const q = new URLSearchParams({ category: r.category });
      if (r.commune) q.set("commune", r.commune);
      await api.del(`/admin/routing-rules?${q}`);
      await reload();
      setNotice(t("admin.routing.deleted", { category: catName(r.category), commune: where }));
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <section>
      {dialog}
      <h1>{t("admin.section.routing")}</h1>
      <p class="muted">{t("admin.routing.intro")}</p>
      {notice && <Notice kind="success">{notice}</Notice>}
      <ErrorBox error={actionError} />
      <RuleForm
        rules={rules}
        categories={sortedCats}
        units={sortedUnits}
        agencies={sortedAgencies}
        names={{ catName, agName, unitName }}
        onSaved={async (rule, replaced) => {
          setActionError(null);
          await reload();
          const where = rule.commune ? unitName(rule.commune) : t("admin.routing.any_commune");
          setNotice(t(replaced ? "admin.routing.replaced" : "admin.routing.added", { category: catName(rule.category), commune: where, agency: agName(rule.agency) }));
          setFilter({ category: rule.category, commune: rule.commune || ANY, agency: "" });
        }}
      />
      <h2>{t("admin.routing.list")}</h2>
      <div class="filters card">
        <Field id="rr-f-category" label={t("admin.routing.category")}>
          <select id="rr-f-category" value={filter.category} onChange={setF("category")}>
            <option value="">{t("app.all")}</option>
            {sortedCats.map((c) => <option key={c.code} value={c.code}>{localName(c)}</option>)}
          </select>
        </Field>
        <Field id="rr-f-commune" label={t("admin.routing.commune")}>
          <select id="rr-f-commune" value={filter.commune} onChange={setF("commune")}>
            <option value="">{t("app.all")}</option>
            <option value={ANY}>{t("admin.routing.any_commune")}</option>
            {sortedUnits.map((u) => <option key={u.code} value={u.code}>{u.name}</option>)}
          </select>
        </Field>
        <Field id="rr-f-agency" label={t("admin.routing.agency")}>
          <select id="rr-f-agency" value={filter.agency} onChange={setF("agency")}>
            <option value="">{t("app.all")}</option>
            {sortedAgencies.map((a) => <option key={a.code} value={a.code}>{localName(a)}</option>)}
          </select>
        </Field>
        {(filter.category || filter.commune || filter.agency) && (
          <button type="button" class="btn" onClick={() => setFilter({ category: "", commune: "", agency: "" })}>{t("admin.clear_filters")}</button>
        )}
      </div>
      <Count shown={shown.length} total={rules.length} />
      <div class="table-wrap">
        <table class="table rtable">
          <caption class="sr-only">{t("admin.routing.list")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("admin.routing.category")}</th>
              <th scope="col">{t("admin.routing.commune")}</th>
              <th scope="col">{t("admin.routing.agency")}</th>
              <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>
            </tr>
          </thead>
          <tbody>
            {shown.slice(0, limit).map((r) => (
              <tr key={`${r.category}|${r.commune}`}>
                <th scope="row" data-label={t("admin.routing.category")}>
                  {catName(r.category)} <span class="muted small">({r.category})</span>
                </th>
                <td data-label={t("admin.routing.commune")}>{r.commune ? unitName(r.commune) : <em>{t("admin.routing.any_commune")}</em>}</td>
                <td data-label={t("admin.routing.agency")}>{agName(r.agency)}</td>
                <td class="actions">
                  <button type="button" class="btn btn-small btn-danger" onClick={() => remove(r)} aria-label={t("admin.routing.delete_named", { category: catName(r.category), commune: r.commune ? unitName(r.commune) : t("admin.routing.any_commune") })}>
                    {t("app.delete")}
                  </button>
                </td>
              </tr>
            ))}
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

const FIELDS = { "rr-category": ["category"], "rr-commune": ["commune"], "rr-agency": ["agency"] };

function RuleForm({ rules, categories, units, agencies, names, onSaved }) {
  const [draft, setDraft] = useState({ category: "", commune: ANY, agency: "" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    setDraft((d) => ({ ...d, [k]: v }));
  };
  const commune = draft.commune === ANY ? null : draft.commune;
  const existing = draft.category && rules.find((r) => r.category === draft.category && (r.commune ?? null) === commune);
  const errs = fieldErrors(error, FIELDS);

  async function submit(e) {
    e.preventDefault();
    setError(null);
    const rule = { category: draft.category, commune, agency: draft.agency };
    setBusy(true);
    try {
      await api.put("/admin/routing-rules", rule);
      await onSaved(rule, !!existing);
      setDraft((d) => ({ ...d, agency: "" }));
    } catch (err) {
      setError(err);
      focusField(fieldErrors(err, FIELDS).owner);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card admin-form" onSubmit={submit} aria-busy={busy} aria-labelledby="rr-form-title">
      <h2 id="rr-form-title">{t("admin.routing.add")}</h2>
      <ErrorBox error={errs.general} />
      <div class="grid grid-3">
        <Field id="rr-category" label={t("admin.routing.category")} error={errs.of("rr-category")}>
          <select id="rr-category" value={draft.category} onChange={set("category")} required>
            <option value="">{t("admin.choose")}</option>
            {categories.map((c) => <option key={c.code} value={c.code}>{localName(c)} ({c.code})</option>)}
          </select>
        </Field>
        <Field id="rr-commune" label={t("admin.routing.commune")} error={errs.of("rr-commune")}>
          <select id="rr-commune" value={draft.commune} onChange={set("commune")}>
            <option value={ANY}>{t("admin.routing.any_commune")}</option>
            {units.map((u) => <option key={u.code} value={u.code}>{u.name}</option>)}
          </select>
        </Field>
        <Field id="rr-agency" label={t("admin.routing.agency")} error={errs.of("rr-agency")}>
          <select id="rr-agency" value={draft.agency} onChange={set("agency")} required>
            <option value="">{t("admin.choose")}</option>
            {agencies.map((a) => (
              <option key={a.code} value={a.code} disabled={!a.active}>
                {localName(a)} ({a.code}){a.active ? "" : ` — ${t("admin.inactive")}`}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {existing && (
        <p class="alert alert-warn" role="status">
          {t("admin.routing.will_replace", { agency: names.agName(existing.agency) })}
        </p>
      )}
      <button type="submit" class="btn btn-primary" disabled={busy}>{existing ? t("admin.routing.replace") : t("admin.routing.add_button")}</button>
    </form>
  );
}

// Categories (lĩnh vực): list, create, edit, with the editor of the extra questions
// (Open311 attributes). Saved with PUT /admin/categories/{code}.
import { useMemo, useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { t } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading, Notice } from "../../components/ui.jsx";
import { ActiveBadge, Count, fieldErrors, focusField, loadReference, localName, matches, useLoad, useQuery } from "./common.jsx";

const DATATYPES = ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"];
const isList = (d) => d === "singlevaluelist" || d === "multivaluelist";
const CODE_RE = /^[A-Za-z0-9_-]+$/;

// The list comes with inactive categories (include_inactive=true); one made inactive here is
// also kept in this map, so it shows at once, before the cached reference data is refreshed.
const inactive = new Map();

let uid = 0;
const withIds = (attrs) =>
  (attrs || []).map((a) => ({ ...a, _id: ++uid, values: (a.values || []).map((v) => ({ ...v, _id: ++uid })) }));

function blank() {
  return {
    code: "",
    name: "",
    name_en: "",
    description: "",
    description_en: "",
    group: "",
    keywords: [],
    deadline_normal_days: 5,
    deadline_urgent_days: 1,
    default_agency: "",
    attributes: [],
    active: true,
  };
}

export default function Categories() {
  const [query, go, leave] = useQuery();
  const [notice, setNotice] = useState(null);
  const ref = useLoad(() => loadReference(), []);
  const reload = async () => {
    await loadReference(true);
    await ref.reload();
  };

  if (ref.loading && !ref.data) return <Loading />;
  if (ref.error) return <ErrorBox error={ref.error} onRetry={reload} />;
  const { agencies } = ref.data;
  const categories = [...ref.data.categories.filter((c) => !inactive.has(c.code)), ...inactive.values()].sort((a, b) =>
    a.code.localeCompare(b.code),
  );

  if (query.new != null || query.edit) {
    const existing = query.edit ? categories.find((c) => c.code === query.edit) : null;
    if (query.edit && !existing) {
      return (
        <>
          <ErrorBox error={t("admin.categories.not_found", { code: query.edit })} />
          <button type="button" class="btn" onClick={() => go({})}>{t("admin.back_to_list")}</button>
        </>
      );
    }
    return (
      <CategoryForm
        key={query.edit || "new"}
        initial={existing}
        categories={categories}
        agencies={agencies}
        onCancel={leave}
        onSaved={async (saved) => {
          if (saved.active) inactive.delete(saved.code);
          else inactive.set(saved.code, saved);
          await reload();
          setNotice(t("admin.categories.saved", { code: saved.code }));
          go({}, { replace: true });
        }}
      />
    );
  }
  return <CategoryList categories={categories} agencies={agencies} notice={notice} go={(q) => (setNotice(null), go(q))} />;
}

function CategoryList({ categories, agencies, notice, go }) {
  const [q, setQ] = useState("");
  const [group, setGroup] = useState("");
  const groups = useMemo(() => [...new Set(categories.map((c) => c.group).filter(Boolean))].sort(), [categories]);
  const agencyName = (code) => localName(agencies.find((a) => a.code === code)) || code;
  const shown = categories.filter(
    (c) => (!group || c.group === group) && matches(q, c.code, c.name, c.name_en, c.group, (c.keywords || []).join(" ")),
  );
  return (
    <section>
      <div class="admin-head">
        <h1>{t("admin.section.categories")}</h1>
        <button type="button" class="btn btn-primary" onClick={() => go({ new: "1" })}>{t("admin.categories.new")}</button>
      </div>
      {notice && <Notice kind="success">{notice}</Notice>}
      <div class="filters card">
        <Field id="cat-q" label={t("app.search")}>
          <input id="cat-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder={t("admin.categories.search_hint")} />
        </Field>
        <Field id="cat-group" label={t("admin.categories.group")}>
          <select id="cat-group" value={group} onChange={(e) => setGroup(e.currentTarget.value)}>
            <option value="">{t("app.all")}</option>
            {groups.map((g) => <option key={g} value={g}>{g}</option>)}
          </select>
        </Field>
      </div>
      <Count shown={shown.length} total={categories.length} />
      <div class="table-wrap">
        <table class="table rtable">
          <caption class="sr-only">{t("admin.section.categories")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("admin.code")}</th>
              <th scope="col">{t("admin.name")}</th>
              <th scope="col">{t("admin.categories.group")}</th>
              <th scope="col" class="num">{t("admin.categories.deadline_short")}</th>
              <th scope="col">{t("admin.categories.default_agency")}</th>
              <th scope="col" class="num">{t("admin.categories.questions_short")}</th>
              <th scope="col">{t("admin.status")}</th>
              <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.code} class={c.active ? "" : "is-inactive"}>
                <th scope="row" data-label={t("admin.code")}><code>{c.code}</code></th>
                <td data-label={t("admin.name")}>
                  <div>
                    {c.name}
                    {c.name_en && <div class="muted small" lang="en">{c.name_en}</div>}
                  </div>
                </td>
                <td data-label={t("admin.categories.group")}>{c.group || "—"}</td>
                <td data-label={t("admin.categories.deadline_short")} class="num">
                  {t("admin.categories.deadline_value", { normal: c.deadline_normal_days, urgent: c.deadline_urgent_days })}
                </td>
                <td data-label={t("admin.categories.default_agency")}>{c.default_agency ? agencyName(c.default_agency) : "—"}</td>
                <td data-label={t("admin.categories.questions_short")} class="num">{c.attributes?.length || 0}</td>
                <td data-label={t("admin.status")}><ActiveBadge active={c.active} /></td>
                <td class="actions">
                  <a
                    class="btn btn-small"
                    href={`?edit=${encodeURIComponent(c.code)}`}
                    onClick={(e) => (e.preventDefault(), go({ edit: c.code }))}
                    aria-label={t("admin.edit_named", { name: c.name })}
                  >
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
  "cat-code": ["code", "category code"],
  "cat-name": ["name", "category name"],
  "cat-normal": ["deadline", "deadline_normal_days", "deadline_urgent_days"],
  "cat-agency": ["default_agency"],
  "cat-questions": ["attributes", "attribute code", "datatype"],
};

function CategoryForm({ initial, categories, agencies, onCancel, onSaved }) {
  const isNew = !initial;
  const [draft, setDraft] = useState(() => {
    const c = { ...blank(), ...(initial || {}) };
    return {
      ...c,
      name_en: c.name_en || "",
      description_en: c.description_en || "",
      default_agency: c.default_agency || "",
      keywords: (c.keywords || []).join(", "),
      attributes: withIds(c.attributes),
    };
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [local, setLocal] = useState({}); // client-side problems: { key: message }
  const set = (k) => (e) => {
    const el = e.currentTarget;
    setDraft((d) => ({ ...d, [k]: el.type === "checkbox" ? el.checked : el.value }));
  };
  const groups = useMemo(() => [...new Set(categories.map((c) => c.group).filter(Boolean))].sort(), [categories]);
  const setAttrs = (fn) => setDraft((d) => ({ ...d, attributes: fn(d.attributes) }));

  // Errors the server gives for a question name it: "attribute <code>".
  const attrCode = error?.field?.startsWith("attribute ") && error.field !== "attribute code" ? error.field.slice(10) : null;
  const attrError = attrCode && draft.attributes.some((a) => a.code.trim() === attrCode) ? attrCode : null;
  const errs = fieldErrors(attrError ? null : error, FIELDS);

  function check() {
    const problems = {};
    if (isNew && categories.some((c) => c.code === draft.code.trim())) problems["cat-code"] = t("admin.categories.code_taken");
    const seen = new Set();
    for (const a of draft.attributes) {
      const code = a.code.trim();
      if (!CODE_RE.test(code)) problems[`q-${a._id}-code`] = t("admin.q.code_invalid");
      else if (seen.has(code)) problems[`q-${a._id}-code`] = t("admin.q.code_twice");
      seen.add(code);
      if (isList(a.datatype) && !a.values.length) problems[`q-${a._id}-values`] = t("admin.q.values_needed");
      const keys = new Set();
      for (const v of isList(a.datatype) ? a.values : []) {
        if (keys.has(v.key.trim())) problems[`q-${a._id}-v-${v._id}-key`] = t("admin.q.key_twice");
        keys.add(v.key.trim());
      }
    }
    return problems;
  }

  async function submit(e) {
    e.preventDefault();
    setError(null);
    const problems = check();
    setLocal(problems);
    const first = Object.keys(problems)[0];
    if (first) {
      focusField(first.endsWith("-values") ? first.replace(/-values$/, "-addvalue") : first);
      return;
    }
    const body = {
      code: draft.code.trim(),
      name: draft.name.trim(),
      name_en: draft.name_en.trim() || null,
      description: draft.description.trim(),
      description_en: draft.description_en.trim() || null,
      group: draft.group.trim(),
      keywords: draft.keywords.split(",").map((k) => k.trim()).filter(Boolean),
      deadline_normal_days: Number(draft.deadline_normal_days),
      deadline_urgent_days: Number(draft.deadline_urgent_days),
      default_agency: draft.default_agency || null,
      active: draft.active,
      attributes: draft.attributes.map(({ _id, values, ...a }, i) => ({
        ...a,
        code: a.code.trim(),
        description: a.description.trim(),
        description_en: (a.description_en || "").trim() || null,
        order: i + 1,
        values: isList(a.datatype) ? values.map(({ _id: _, ...v }) => ({ key: v.key.trim(), name: v.name.trim() })) : [],
      })),
    };
    setBusy(true);
    try {
      const saved = await api.put(`/admin/categories/${encodeURIComponent(body.code)}`, body);
      await onSaved(saved);
    } catch (err) {
      setError(err);
      setBusy(false);
      const f = err.field?.startsWith("attribute ") && err.field !== "attribute code" ? err.field.slice(10) : null;
      const q = f && draft.attributes.find((a) => a.code.trim() === f);
      focusField(q ? `q-${q._id}-code` : fieldErrors(err, FIELDS).owner);
    }
  }

  function addQuestion() {
    const a = { _id: ++uid, code: "", datatype: "string", required: false, variable: true, description: "", description_en: "", order: 0, values: [] };
    setAttrs((as) => [...as, a]);
    focusField(`q-${a._id}-code`);
  }

  return (
    <section>
      <div class="admin-head">
        <h1>{isNew ? t("admin.categories.new") : t("admin.categories.edit", { code: initial.code })}</h1>
        <button type="button" class="btn" onClick={onCancel}>{t("admin.back_to_list")}</button>
      </div>
      <form class="card admin-form" onSubmit={submit} aria-busy={busy}>
        <ErrorBox error={errs.general} />
        <div class="grid grid-3">
          <Field id="cat-code" label={t("admin.code")} hint={isNew ? t("admin.code_hint") : null} error={local["cat-code"] || errs.of("cat-code")}>
            <input id="cat-code" value={draft.code} onInput={set("code")} required readOnly={!isNew} pattern="[A-Za-z0-9._\-]{1,64}" maxLength={64} autocomplete="off" aria-describedby={isNew ? "cat-code-hint" : undefined} />
          </Field>
          <Field id="cat-name" label={t("admin.name_vi")} error={errs.of("cat-name")}>
            <input id="cat-name" value={draft.name} onInput={set("name")} required maxLength={300} lang="vi" />
          </Field>
          <Field id="cat-name-en" label={t("admin.name_en")}>
            <input id="cat-name-en" value={draft.name_en} onInput={set("name_en")} maxLength={300} lang="en" />
          </Field>
        </div>
        <div class="grid grid-2">
          <Field id="cat-desc" label={t("admin.categories.description_vi")}>
            <textarea id="cat-desc" value={draft.description} onInput={set("description")} rows={3} lang="vi" />
          </Field>
          <Field id="cat-desc-en" label={t("admin.categories.description_en")}>
            <textarea id="cat-desc-en" value={draft.description_en} onInput={set("description_en")} rows={3} lang="en" />
          </Field>
        </div>
        <div class="grid grid-2">
          <Field id="cat-group-input" label={t("admin.categories.group")}>
            <input id="cat-group-input" value={draft.group} onInput={set("group")} list="cat-groups" />
          </Field>
          <datalist id="cat-groups">{groups.map((g) => <option key={g} value={g} />)}</datalist>
          <Field id="cat-keywords" label={t("admin.categories.keywords")} hint={t("admin.categories.keywords_hint")}>
            <input id="cat-keywords" value={draft.keywords} onInput={set("keywords")} aria-describedby="cat-keywords-hint" />
          </Field>
        </div>
        <div class="grid grid-3">
          <Field id="cat-normal" label={t("admin.categories.deadline_normal")} hint={t("admin.working_days")} error={errs.of("cat-normal")}>
            <input id="cat-normal" type="number" inputMode="numeric" min={0} max={365} value={draft.deadline_normal_days} onInput={set("deadline_normal_days")} required aria-describedby="cat-normal-hint" />
          </Field>
          <Field id="cat-urgent" label={t("admin.categories.deadline_urgent")} hint={t("admin.working_days")}>
            <input id="cat-urgent" type="number" inputMode="numeric" min={0} max={365} value={draft.deadline_urgent_days} onInput={set("deadline_urgent_days")} required aria-describedby="cat-urgent-hint" />
          </Field>
          <Field id="cat-agency" label={t("admin.categories.default_agency")} error={errs.of("cat-agency")}>
            <select id="cat-agency" value={draft.default_agency} onChange={set("default_agency")}>
              <option value="">{t("admin.categories.no_default_agency")}</option>
              {[...agencies].sort((a, b) => localName(a).localeCompare(localName(b), "vi")).map((a) => (
                <option key={a.code} value={a.code}>
                  {localName(a)} ({a.code}){a.active ? "" : ` — ${t("admin.inactive")}`}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <div class="field checkbox">
          <input id="cat-active" type="checkbox" checked={draft.active} onChange={set("active")} />
          <label for="cat-active">{t("admin.categories.active_label")}</label>
        </div>

        <fieldset class="questions" id="cat-questions" tabIndex={-1}>
          <legend>{t("admin.q.title")}</legend>
          <p class="hint">{t("admin.q.intro")}</p>
          {errs.of("cat-questions") && <p class="error-text" role="alert">{errs.of("cat-questions")}</p>}
          {!draft.attributes.length && <p class="muted">{t("admin.q.none")}</p>}
          <ol class="question-list">
            {draft.attributes.map((a, i) => (
              <Question
                key={a._id}
                a={a}
                index={i}
                count={draft.attributes.length}
                local={local}
                serverError={attrError && attrError === a.code.trim() ? error : null}
                setAttrs={setAttrs}
              />
            ))}
          </ol>
          <button type="button" class="btn" onClick={addQuestion}>+ {t("admin.q.add")}</button>
        </fieldset>

        <div class="row form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>{busy ? t("admin.saving") : t("app.save")}</button>
          <button type="button" class="btn" onClick={onCancel}>{t("app.cancel")}</button>
        </div>
      </form>
    </section>
  );
}

function move(list, i, by) {
  const j = i + by;
  if (j < 0 || j >= list.length) return list;
  const out = [...list];
  [out[i], out[j]] = [out[j], out[i]];
  return out;
}

function Question({ a, index, count, local, serverError, setAttrs }) {
  const id = `q-${a._id}`;
  const update = (patch) => setAttrs((as) => as.map((x) => (x._id === a._id ? { ...x, ...patch } : x)));
  const set = (k) => (e) => {
    const el = e.currentTarget;
    update({ [k]: el.type === "checkbox" ? (k === "variable" ? !el.checked : el.checked) : el.value });
  };
  const setValues = (fn) => setAttrs((as) => as.map((x) => (x._id === a._id ? { ...x, values: fn(x.values) } : x)));
  const label = a.description || a.code || t("admin.q.untitled");
  const moveQ = (by, btn) => {
    setAttrs((as) => move(as, index, by));
    focusField(`${id}-${btn}`);
  };
  function addValue() {
    const v = { _id: ++uid, key: "", name: "" };
    setValues((vs) => [...vs, v]);
    focusField(`${id}-v-${v._id}-key`);
  }
  return (
    <li class="question">
      <div class="question-head">
        <h3 id={`${id}-title`}>
          {t("admin.q.number", { n: index + 1 })}: <span class="muted">{label}</span>
        </h3>
        <div class="row">
          <button type="button" id={`${id}-up`} class="btn btn-small" onClick={() => moveQ(-1, "up")} disabled={index === 0} aria-label={t("admin.q.move_up", { n: index + 1 })}>↑</button>
          <button type="button" id={`${id}-down`} class="btn btn-small" onClick={() => moveQ(1, "down")} disabled={index === count - 1} aria-label={t("admin.q.move_down", { n: index + 1 })}>↓</button>
          <button type="button" class="btn btn-small btn-danger" onClick={() => setAttrs((as) => as.filter((x) => x._id !== a._id))} aria-label={t("admin.q.remove_named", { n: index + 1 })}>
            {t("admin.q.remove")}
          </button>
        </div>
      </div>
      {serverError && <ErrorBox error={serverError} />}
      <div class="grid grid-2">
        <Field id={`${id}-code`} label={t("admin.q.code")} hint={t("admin.q.code_hint")} error={local[`${id}-code`]}>
          <input id={`${id}-code`} value={a.code} onInput={set("code")} required pattern="[A-Za-z0-9_\-]+" autocomplete="off" aria-describedby={`${id}-code-hint`} />
        </Field>
        <Field id={`${id}-type`} label={t("admin.q.datatype")}>
          <select id={`${id}-type`} value={a.datatype} onChange={set("datatype")}>
            {DATATYPES.map((d) => <option key={d} value={d}>{t(`admin.q.type.${d}`)}</option>)}
          </select>
        </Field>
      </div>
      <div class="grid grid-2">
        <Field id={`${id}-desc`} label={t("admin.q.text_vi")}>
          <input id={`${id}-desc`} value={a.description} onInput={set("description")} required lang="vi" />
        </Field>
        <Field id={`${id}-desc-en`} label={t("admin.q.text_en")}>
          <input id={`${id}-desc-en`} value={a.description_en || ""} onInput={set("description_en")} lang="en" />
        </Field>
      </div>
      <div class="row">
        <div class="field checkbox">
          <input id={`${id}-required`} type="checkbox" checked={a.required} onChange={set("required")} />
          <label for={`${id}-required`}>{t("admin.q.required")}</label>
        </div>
        <div class="field checkbox">
          <input id={`${id}-info`} type="checkbox" checked={a.variable === false} onChange={set("variable")} />
          <label for={`${id}-info`}>{t("admin.q.info_only")}</label>
        </div>
      </div>
      {isList(a.datatype) && (
        <fieldset class="values">
          <legend>{t("admin.q.values")}</legend>
          {local[`${id}-values`] && <p class="error-text" role="alert">{local[`${id}-values`]}</p>}
          <ol class="value-list">
            {a.values.map((v, j) => {
              const vid = `${id}-v-${v._id}`;
              const setV = (k) => (e) => {
                const val = e.currentTarget.value;
                setValues((vs) => vs.map((x) => (x._id === v._id ? { ...x, [k]: val } : x)));
              };
              return (
                <li key={v._id} class="value-row">
                  <Field id={`${vid}-key`} label={t("admin.q.value_key", { n: j + 1 })} error={local[`${vid}-key`]}>
                    <input id={`${vid}-key`} value={v.key} onInput={setV("key")} required autocomplete="off" />
                  </Field>
                  <Field id={`${vid}-name`} label={t("admin.q.value_name", { n: j + 1 })}>
                    <input id={`${vid}-name`} value={v.name} onInput={setV("name")} required />
                  </Field>
                  <div class="row value-actions">
                    <button type="button" id={`${vid}-up`} class="btn btn-small" disabled={j === 0} onClick={() => (setValues((vs) => move(vs, j, -1)), focusField(`${vid}-up`))} aria-label={t("admin.q.value_up", { n: j + 1 })}>↑</button>
                    <button type="button" id={`${vid}-down`} class="btn btn-small" disabled={j === a.values.length - 1} onClick={() => (setValues((vs) => move(vs, j, 1)), focusField(`${vid}-down`))} aria-label={t("admin.q.value_down", { n: j + 1 })}>↓</button>
                    <button type="button" class="btn btn-small btn-danger" onClick={() => setValues((vs) => vs.filter((x) => x._id !== v._id))} aria-label={t("admin.q.value_remove", { n: j + 1 })}>✕</button>
                  </div>
                </li>
              );
            })}
          </ol>
          <button type="button" id={`${id}-addvalue`} class="btn btn-small" onClick={addValue}>+ {t("admin.q.add_value")}</button>
        </fieldset>
      )}
    </li>
  );
}

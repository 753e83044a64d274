// Holidays: the year's statutory holidays (computed, read-only) and the announced days off and
// make-up working days. GET /calendar/holidays?year=…, PUT/DELETE /admin/holidays/{date}.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { t, lang, todayVN } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading, Notice } from "../../components/ui.jsx";
import { fieldErrors, focusField, useConfirm, useLoad } from "./common.jsx";

const thisYear = () => Number(todayVN().slice(0, 4));

// Dates here are calendar days (YYYY-MM-DD), not instants: format them at noon UTC so no
// time zone can move them to the next or previous day.
const dayFmt = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "vi-VN", { timeZone: "UTC", weekday: "long", day: "2-digit", month: "2-digit", year: "numeric" });
const fmtDay = (d) => dayFmt.format(new Date(`${d}T12:00:00Z`));
const isWeekend = (d) => [0, 6].includes(new Date(`${d}T12:00:00Z`).getUTCDay());

export default function Holidays() {
  const [year, setYear] = useState(thisYear);
  const [yearInput, setYearInput] = useState(String(thisYear()));
  const { data, error, loading, reload } = useLoad(() => api.get("/calendar/holidays", { year }), [year]);
  const [notice, setNotice] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [dialog, ask] = useConfirm();

  const goYear = (y) => {
    if (!(y >= 1900 && y <= 2199)) return;
    setYear(y);
    setYearInput(String(y));
    setNotice(null);
  };

  async function remove(h) {
    setNotice(null);
    setActionError(null);
    if (!(await ask(t("admin.holidays.confirm_delete", { date: fmtDay(h.date), name: h.name }), t("app.delete")))) return;
    try {
      await api.del(`/admin/holidays/${h.date}`);
      await reload();
      setNotice(t("admin.holidays.deleted", { date: fmtDay(h.date) }));
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <section>
      {dialog}
      <div class="admin-head">
        <h1>{t("admin.section.holidays")}</h1>
        <form class="year-picker" aria-label={t("admin.holidays.year")} onSubmit={(e) => (e.preventDefault(), goYear(Number(yearInput)))}>
          <button type="button" class="btn" onClick={() => goYear(year - 1)}>
            <span aria-hidden="true">←</span> <span class="sr-only">{t("admin.holidays.prev_year")}</span> {year - 1}
          </button>
          <Field id="hd-year" label={t("admin.holidays.year")}>
            <input id="hd-year" type="number" inputMode="numeric" min={1900} max={2199} value={yearInput} onInput={(e) => setYearInput(e.currentTarget.value)} onChange={(e) => goYear(Number(e.currentTarget.value))} />
          </Field>
          <button type="button" class="btn" onClick={() => goYear(year + 1)}>
            <span class="sr-only">{t("admin.holidays.next_year")}</span> {year + 1} <span aria-hidden="true">→</span>
          </button>
        </form>
      </div>
      <p class="muted">{t("admin.holidays.intro")}</p>
      {notice && <Notice kind="success">{notice}</Notice>}
      <ErrorBox error={actionError} />
      <AddHoliday
        announced={data?.announced || []}
        onSaved={async (h, replaced) => {
          const y = Number(h.date.slice(0, 4));
          if (y !== year) goYear(y);
          else await reload();
          setActionError(null);
          setNotice(t(replaced ? "admin.holidays.replaced" : "admin.holidays.added", { date: fmtDay(h.date), name: h.name }));
        }}
      />
      {loading && !data && <Loading />}
      {error && <ErrorBox error={error} onRetry={reload} />}
      {data && (
        <div class="grid grid-2 holiday-lists">
          <section class="card" aria-labelledby="hd-announced-title">
            <h2 id="hd-announced-title">{t("admin.holidays.announced", { year: data.year })}</h2>
            <p class="hint">{t("admin.holidays.announced_hint")}</p>
            {data.announced.length ? (
              <table class="table rtable">
                <thead>
                  <tr>
                    <th scope="col">{t("admin.holidays.date")}</th>
                    <th scope="col">{t("admin.holidays.name")}</th>
                    <th scope="col">{t("admin.holidays.kind")}</th>
                    <th scope="col"><span class="sr-only">{t("admin.actions")}</span></th>
                  </tr>
                </thead>
                <tbody>
                  {[...data.announced].sort((a, b) => a.date.localeCompare(b.date)).map((h) => (
                    <tr key={h.date}>
                      <th scope="row" data-label={t("admin.holidays.date")}><time datetime={h.date}>{fmtDay(h.date)}</time></th>
                      <td data-label={t("admin.holidays.name")}>{h.name}</td>
                      <td data-label={t("admin.holidays.kind")}><span class={`badge day-${h.kind}`}>{t(`admin.holidays.kind.${h.kind}`)}</span></td>
                      <td class="actions">
                        <button type="button" class="btn btn-small btn-danger" onClick={() => remove(h)} aria-label={t("admin.holidays.delete_named", { date: fmtDay(h.date) })}>
                          {t("app.delete")}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p>{t("admin.holidays.none_announced")}</p>
            )}
          </section>
          <section class="card" aria-labelledby="hd-statutory-title">
            <h2 id="hd-statutory-title">{t("admin.holidays.statutory", { year: data.year })}</h2>
            <p class="hint">{t("admin.holidays.statutory_hint")}</p>
            <table class="table statutory">
              <thead>
                <tr>
                  <th scope="col">{t("admin.holidays.date")}</th>
                  <th scope="col">{t("admin.holidays.holiday")}</th>
                </tr>
              </thead>
              <tbody>
                {data.statutory.map((h) => (
                  <tr key={h.date}>
                    <th scope="row"><time datetime={h.date}>{fmtDay(h.date)}</time></th>
                    <td lang="vi">{h.name}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </div>
      )}
    </section>
  );
}

const FIELDS = { "hd-date": ["date"], "hd-name": ["name", "holiday name"], "hd-kind": ["kind"] };

function AddHoliday({ announced, onSaved }) {
  const [draft, setDraft] = useState({ date: "", name: "", kind: "holiday" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    setDraft((d) => ({ ...d, [k]: v }));
  };
  const errs = fieldErrors(error, FIELDS);
  const existing = draft.date && announced.find((h) => h.date === draft.date);
  const oddWorkday = draft.date && draft.kind === "working_day" && !isWeekend(draft.date);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const h = await api.put(`/admin/holidays/${draft.date}`, { name: draft.name.trim(), kind: draft.kind });
      await onSaved(h, !!existing);
      setDraft({ date: "", name: "", kind: draft.kind });
    } catch (err) {
      setError(err);
      focusField(fieldErrors(err, FIELDS).owner);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="card admin-form" onSubmit={submit} aria-busy={busy} aria-labelledby="hd-form-title">
      <h2 id="hd-form-title">{t("admin.holidays.add")}</h2>
      <ErrorBox error={errs.general} />
      <div class="grid grid-3">
        <Field id="hd-date" label={t("admin.holidays.date")} error={errs.of("hd-date")}>
          <input id="hd-date" type="date" value={draft.date} onInput={set("date")} min="1900-01-01" max="2199-12-31" required />
        </Field>
        <Field id="hd-name" label={t("admin.holidays.name")} error={errs.of("hd-name")}>
          <input id="hd-name" value={draft.name} onInput={set("name")} required maxLength={300} placeholder={t("admin.holidays.name_example")} />
        </Field>
        <Field id="hd-kind" label={t("admin.holidays.kind")} error={errs.of("hd-kind")}>
          <select id="hd-kind" value={draft.kind} onChange={set("kind")}>
            <option value="holiday">{t("admin.holidays.kind.holiday")}</option>
            <option value="working_day">{t("admin.holidays.kind.working_day")}</option>
          </select>
        </Field>
      </div>
      {existing && <p class="alert alert-warn" role="status">{t("admin.holidays.will_replace", { name: existing.name })}</p>}
      {oddWorkday && <p class="alert alert-info" role="status">{t("admin.holidays.weekday_working")}</p>}
      <button type="submit" class="btn btn-primary" disabled={busy}>{t("admin.holidays.add_button")}</button>
    </form>
  );
}

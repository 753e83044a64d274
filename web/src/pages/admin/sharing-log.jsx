// The sharing log (nhật ký chia sẻ dữ liệu, Nghị định 47/2020): every access of a connection
// account to a shared dataset, allowed or refused, newest first. GET /admin/sharing/log with the
// filters account, dataset, from, to, outcome and keyset pages (limit, before → next_before);
// the CSV export /admin/sharing/log.csv takes the same filters and a language.
//
// Used by the admin section /admin/sharing-log and the IOC operators' page /ioc/sharing-log.
// The filters live in the URL, so a link (from an account, or shared by a colleague) opens the
// same view. Dates are whole days in Huế: from the first day 00:00 to the end of the last day.
import { useState } from "preact/hooks";
import { api } from "../../lib/api.js";
import { t, lang, fmtDateTime, fmtNumber, vnMidnight } from "../../lib/i18n.js";
import { ErrorBox, Field, Loading } from "../../components/ui.jsx";
import { addDays } from "../ioc/period.js";
import { fieldErrors, useLoad, useQuery } from "./common.jsx";

const PAGE = 50;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const KEYS = ["account", "dataset", "from", "to", "outcome"];

/** The filters of the URL, each valid or empty. */
function readFilters(query) {
  return {
    account: /^\d+$/.test(query.account || "") ? query.account : "",
    dataset: query.dataset || "",
    from: DAY.test(query.from || "") ? query.from : "",
    to: DAY.test(query.to || "") ? query.to : "",
    outcome: ["allowed", "refused"].includes(query.outcome) ? query.outcome : "",
  };
}

/** The API's parameters for the filters: instants with the +07:00 offset, `to` exclusive. */
function apiFilters(f) {
  return {
    account: f.account || undefined,
    dataset: f.dataset || undefined,
    from: f.from ? vnMidnight(f.from) : undefined,
    to: f.to ? vnMidnight(addDays(f.to, 1)) : undefined,
    outcome: f.outcome || undefined,
  };
}

function csvHref(f, language) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(apiFilters(f))) if (v) q.set(k, v);
  q.set("lang", language);
  return `/api/v1/admin/sharing/log.csv?${q}`;
}

const FILTER_FIELDS = { "sl-account": ["account"], "sl-dataset": ["dataset_id", "dataset"], "sl-from": ["from"], "sl-to": ["to"], "sl-outcome": ["outcome"] };

/**
 * The log with its filters. `admin`: the viewer may read the connection accounts (their names
 * fill the account filter, and an account links to its page in the admin section).
 */
export function SharingLog({ admin = false }) {
  const [query, go] = useQuery();
  const filters = readFilters(query);
  const key = KEYS.map((k) => filters[k]).join("|");
  // The `before` of each page shown so far: [null] is the newest page.
  const [pages, setPages] = useState({ key, stack: [null] });
  const stack = pages.key === key ? pages.stack : [null];
  const before = stack[stack.length - 1];
  const log = useLoad(() => api.get("/admin/sharing/log", { ...apiFilters(filters), limit: PAGE, before: before ?? undefined }), [key, before]);
  const accounts = useLoad(() => (admin ? api.get("/admin/sharing/accounts") : Promise.resolve([])), [admin]);
  const names = new Map((accounts.data || []).map((a) => [String(a.id), a.name]));

  const apply = (next) => {
    setPages({ key: KEYS.map((k) => next[k] || "").join("|"), stack: [null] });
    go(Object.fromEntries(KEYS.map((k) => [k, next[k] || ""])));
  };
  const errs = fieldErrors(log.error, FILTER_FIELDS);
  const any = KEYS.some((k) => filters[k]);

  return (
    <section>
      <div class="admin-head">
        <h1>{t("page.sharing-log.title")}</h1>
        <div class="row" role="group" aria-label={t("sharing.log.export")}>
          <a class="btn btn-small" href={csvHref(filters, "vi")} download data-export="csv-vi">{t("sharing.log.csv_vi")}</a>
          <a class="btn btn-small" href={csvHref(filters, "en")} download data-export="csv-en" hreflang="en">{t("sharing.log.csv_en")}</a>
        </div>
      </div>
      <p class="muted">{t("sharing.log.intro")}</p>
      <Filters key={key} filters={filters} accounts={admin ? accounts.data : null} errs={errs} onApply={apply} any={any} />
      {admin && filters.account && (
        <p>
          <a href={`/admin/sharing?account=${filters.account}`}>{t("sharing.log.open_account", { name: names.get(filters.account) || `#${filters.account}` })}</a>
        </p>
      )}
      <ErrorBox error={errs.general} onRetry={log.reload} />
      {log.loading && !log.data && <Loading />}
      {log.data && !errs.owner && <LogTable items={log.data.items} filterBy={(account) => apply({ ...filters, account: String(account) })} />}
      {log.data && !errs.owner && (
        <nav class="row sharing-pager" aria-label={t("sharing.log.pages")}>
          {stack.length > 1 && (
            <>
              <button type="button" class="btn" onClick={() => setPages({ key, stack: [null] })}>{t("sharing.log.newest")}</button>
              <button type="button" class="btn" onClick={() => setPages({ key, stack: stack.slice(0, -1) })}>{t("sharing.log.newer")}</button>
            </>
          )}
          <span class="muted" role="status" aria-live="polite">
            {t("sharing.log.page", { n: fmtNumber(stack.length), count: fmtNumber(log.data.items.length) })}
          </span>
          {log.data.next_before != null && (
            <button type="button" class="btn" onClick={() => setPages({ key, stack: [...stack, log.data.next_before] })}>{t("sharing.log.older")}</button>
          )}
        </nav>
      )}
    </section>
  );
}

function Filters({ filters, accounts, errs, onApply, any }) {
  const [draft, setDraft] = useState(filters);
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    setDraft((d) => ({ ...d, [k]: v }));
  };
  function submit(e) {
    e.preventDefault();
    onApply({ ...draft, dataset: draft.dataset.trim() });
  }
  const sorted = accounts ? [...accounts].sort((a, b) => a.name.localeCompare(b.name, "vi")) : null;
  return (
    <form class="filters card sharing-filters" role="search" aria-label={t("sharing.log.filters")} onSubmit={submit}>
      {sorted ? (
        <Field id="sl-account" label={t("sharing.log.account")} error={errs.of("sl-account")}>
          <select id="sl-account" value={draft.account} onChange={set("account")}>
            <option value="">{t("app.all")}</option>
            {sorted.map((a) => (
              <option key={a.id} value={String(a.id)}>
                {a.name}{a.status === "active" ? "" : ` — ${t(`sharing.status.${a.status}`)}`}
              </option>
            ))}
            {draft.account && !sorted.some((a) => String(a.id) === draft.account) && <option value={draft.account}>#{draft.account}</option>}
          </select>
        </Field>
      ) : (
        <Field id="sl-account" label={t("sharing.log.account_id")} hint={t("sharing.log.account_id_hint")} error={errs.of("sl-account")}>
          <input id="sl-account" type="number" min="1" step="1" inputMode="numeric" value={draft.account} onInput={set("account")} aria-describedby="sl-account-hint" />
        </Field>
      )}
      <Field id="sl-dataset" label={t("sharing.dataset")} error={errs.of("sl-dataset")}>
        <input id="sl-dataset" value={draft.dataset} onInput={set("dataset")} maxLength={100} autocomplete="off" autocapitalize="none" spellcheck={false} placeholder={t("sharing.log.dataset_hint")} />
      </Field>
      <Field id="sl-from" label={t("sharing.log.from")} error={errs.of("sl-from")}>
        <input id="sl-from" type="date" value={draft.from} max={draft.to || undefined} onInput={set("from")} />
      </Field>
      <Field id="sl-to" label={t("sharing.log.to")} error={errs.of("sl-to")}>
        <input id="sl-to" type="date" value={draft.to} min={draft.from || undefined} onInput={set("to")} />
      </Field>
      <Field id="sl-outcome" label={t("sharing.log.outcome")} error={errs.of("sl-outcome")}>
        <select id="sl-outcome" value={draft.outcome} onChange={set("outcome")}>
          <option value="">{t("app.all")}</option>
          <option value="allowed">{t("sharing.outcome.allowed")}</option>
          <option value="refused">{t("sharing.outcome.refused")}</option>
        </select>
      </Field>
      <div class="row sharing-filter-actions">
        <button type="submit" class="btn btn-primary">{t("app.filter")}</button>
        <button type="button" class="btn" disabled={!any} onClick={() => onApply({})}>{t("admin.clear_filters")}</button>
      </div>
    </form>
  );
}

const bytesFmt = new Intl.NumberFormat(lang === "en" ? "en-GB" : "vi-VN", { maximumFractionDigits: 1 });
function fmtBytes(n) {
  if (n == null) return "—";
  if (n < 1024) return t("sharing.bytes", { n: fmtNumber(n) });
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${bytesFmt.format(v)} ${units[i]}`;
}

function LogTable({ items, filterBy }) {
  if (!items.length) return <p>{t("sharing.log.none")}</p>;
  return (
    <div class="table-wrap">
      <table class="table rtable sharing-log">
        <caption class="sr-only">{t("page.sharing-log.title")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("sharing.log.at")}</th>
            <th scope="col">{t("sharing.log.account")}</th>
            <th scope="col">{t("sharing.dataset")}</th>
            <th scope="col">{t("sharing.log.operation")}</th>
            <th scope="col">{t("sharing.log.outcome")}</th>
            <th scope="col">{t("sharing.log.client")}</th>
            <th scope="col" class="num">{t("sharing.log.bytes")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((r) => (
            <tr key={r.id} class={r.outcome === "refused" ? "sharing-refused" : ""}>
              <th scope="row" data-label={t("sharing.log.at")}><time datetime={r.at}>{fmtDateTime(r.at)}</time></th>
              <td data-label={t("sharing.log.account")}>
                {r.account_id != null ? (
                  <div>
                    <a href={`?account=${r.account_id}`} onClick={(e) => (e.preventDefault(), filterBy(r.account_id))} title={t("sharing.log.filter_account", { name: r.account_name })}>
                      {r.account_name}
                    </a>
                    {r.organisation && <div class="muted small">{r.organisation}</div>}
                  </div>
                ) : (
                  <span class="muted">{t("sharing.log.unknown_account")}</span>
                )}
              </td>
              <td data-label={t("sharing.dataset")}>
                <div>
                  <code>{r.dataset_id}</code>
                  {r.resource_id && <div class="muted small">{t("sharing.log.resource", { id: r.resource_id })}</div>}
                </div>
              </td>
              <td data-label={t("sharing.log.operation")}>{t(`sharing.operation.${r.operation}`)}</td>
              <td data-label={t("sharing.log.outcome")}>
                <div>
                  <span class={`badge sharing-outcome-${r.outcome}`}>{t(`sharing.outcome.${r.outcome}`)}</span>
                  {r.refusal && <div class="small">{t(`sharing.refusal.${r.refusal}`)}</div>}
                  {r.reason && <div class="muted small">{r.reason}</div>}
                </div>
              </td>
              <td data-label={t("sharing.log.client")}>{r.client ? <code>{r.client}</code> : "—"}</td>
              <td data-label={t("sharing.log.bytes")} class="num">{fmtBytes(r.bytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The two pages of the admin section "Chia sẻ dữ liệu": the accounts and the log. */
export function SharingNav({ current, exact = true }) {
  const pages = [
    ["accounts", "/admin/sharing", t("sharing.accounts")],
    ["log", "/admin/sharing-log", t("admin.section.sharing-log")],
  ];
  return (
    <nav class="sharing-nav" aria-label={t("admin.section.sharing")}>
      <ul>
        {pages.map(([key, href, label]) => (
          <li key={key}>
            <a href={href} aria-current={key !== current ? undefined : exact ? "page" : "true"}>{label}</a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** /admin/sharing-log: the log inside the admin section. */
export default function SharingLogSection() {
  return (
    <>
      <SharingNav current="log" />
      <SharingLog admin />
    </>
  );
}

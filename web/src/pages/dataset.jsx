// One dataset of the open-data portal (/dataset/{name}): its title and description in the
// page's language (the other language when one is missing), organization, groups, tags,
// licence and dates, its resources with download links, the DCAT-AP exports, and a preview of
// CSV resources as a table and a chart of a column the reader picks.
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { user } from "../lib/boot.js";
import { t, lang, fmtDateTime, fmtNumber } from "../lib/i18n.js";
import { action, cachedAction, localized, langAttr, fmtBytes, resourceHref, sameOrigin, isCsv, ckanTime, licenceTitle } from "../lib/ckan.js";
import { readStart, parseCsv, columnKinds, defaultAxes, MAX_BYTES } from "../lib/csv-preview.js";
import { ErrorBox, Loading } from "../components/ui.jsx";
import { ckanErrorText } from "./opendata/common.jsx";
import { CsvChart } from "./opendata/csv-chart.jsx";

export const wide = true;

const PREVIEW_ROWS = 20;
const locale = lang === "vi" ? "vi-VN" : "en-GB";

/** The dataset's name from the path /dataset/{name}. */
function nameFromPath() {
  const part = location.pathname.replace(/^\/dataset\//, "").split("/")[0];
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export default function DatasetPage() {
  const name = nameFromPath();
  const [dataset, setDataset] = useState(null);
  const [error, setError] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const [licences, setLicences] = useState({});

  useEffect(() => {
    const ctl = new AbortController();
    setError(null);
    action("package_show", { id: name }, { signal: ctl.signal })
      .then((d) => {
        setDataset(d);
        document.title = `${localized(d.title_translated, d.title || d.name).text} · ${t("opendata.title")} · ${t("app.name")}`;
      })
      .catch((e) => e.name !== "AbortError" && setError(e));
    return () => ctl.abort();
  }, [attempt]);

  useEffect(() => {
    cachedAction("license_list")
      .then((list) => setLicences(Object.fromEntries(list.map((l) => [l.id, l]))))
      .catch(() => {});
  }, []);

  if (error) {
    return (
      <div class="od od-dataset">
        <p><a href="/dataset">← {t("opendata.back")}</a></p>
        <h1>{t(error.status === 404 ? "opendata.error.not_found" : "opendata.title")}</h1>
        <ErrorBox error={ckanErrorText(error)} onRetry={error.status === 404 ? null : () => setAttempt((a) => a + 1)} />
        {error.status === 403 && !user && (
          <p><a class="btn" href={`/login?next=${encodeURIComponent(location.pathname)}`}>{t("nav.login")}</a></p>
        )}
      </div>
    );
  }
  if (!dataset) return <Loading />;

  const d = dataset;
  const title = localized(d.title_translated, d.title || d.name);
  const notes = localized(d.notes_translated, d.notes);
  const org = d.organization ? localized(d.organization.title_translated, d.organization.title) : null;
  const licence = licences[d.license_id];
  const licenceName = licence ? licenceTitle(licence) : d.license_title || d.license_id;
  const licenceUrl = licence?.url || d.license_url;
  const csvs = (d.resources || []).filter((r) => isCsv(r) && sameOrigin(resourceHref(d, r)));
  const extras = (d.extras || []).filter((e) => e.key && e.value);

  return (
    <div class="od od-dataset">
      <nav class="od-crumbs" aria-label={t("opendata.breadcrumb")}>
        <ol>
          <li><a href="/dataset">{t("opendata.title")}</a></li>
          {org && (
            <li><a href={`/dataset?organization=${encodeURIComponent(d.organization.name)}`} lang={langAttr(org.lang)}>{org.text}</a></li>
          )}
        </ol>
      </nav>
      <h1 lang={langAttr(title.lang)}>
        {title.text}
        {d.private && <span class="badge od-private">{t("opendata.private")}</span>}
      </h1>
      {title.lang !== lang && <p class="od-fallback muted">{t("opendata.other_language")}</p>}

      <div class="od-dataset-grid">
        <div class="od-main">
          {notes.text ? (
            <div class="od-description" lang={langAttr(notes.lang)}>
              {notes.text.split(/\n{2,}/).map((para, i) => <p key={i}>{para}</p>)}
            </div>
          ) : (
            <p class="muted">{t("opendata.no_description")}</p>
          )}

          <section aria-labelledby="od-resources">
            <h2 id="od-resources">{t("opendata.resources")}</h2>
            {(d.resources || []).length === 0 && <p class="muted">{t("opendata.no_resources")}</p>}
            <ul class="od-resources">
              {(d.resources || []).map((r) => (
                <ResourceItem key={r.id} dataset={d} resource={r} />
              ))}
            </ul>
          </section>

          {csvs.length > 0 && <Preview dataset={d} resources={csvs} />}
        </div>

        <aside class="od-side" aria-labelledby="od-about">
          <h2 id="od-about">{t("opendata.about")}</h2>
          <dl class="od-facts">
            {org && (
              <>
                <dt>{t("opendata.facet.organization")}</dt>
                <dd lang={langAttr(org.lang)}>
                  <a href={`/dataset?organization=${encodeURIComponent(d.organization.name)}`}>{org.text}</a>
                </dd>
              </>
            )}
            {(d.groups || []).length > 0 && (
              <>
                <dt>{t("opendata.facet.groups")}</dt>
                <dd>
                  <GroupNames groups={d.groups} />
                </dd>
              </>
            )}
            <dt>{t("opendata.facet.license_id")}</dt>
            <dd>
              {licenceUrl ? <a href={licenceUrl} rel="license">{licenceName}</a> : licenceName || t("opendata.no_licence")}
              {d.isopen && <span class="badge od-open">{t("opendata.open")}</span>}
            </dd>
            <dt>{t("opendata.created")}</dt>
            <dd><time datetime={ckanTime(d.metadata_created)}>{fmtDateTime(ckanTime(d.metadata_created))}</time></dd>
            <dt>{t("opendata.updated")}</dt>
            <dd><time datetime={ckanTime(d.metadata_modified)}>{fmtDateTime(ckanTime(d.metadata_modified))}</time></dd>
            {d.version && (
              <>
                <dt>{t("opendata.version")}</dt>
                <dd>{d.version}</dd>
              </>
            )}
            {(d.maintainer || d.author) && (
              <>
                <dt>{t("opendata.contact")}</dt>
                <dd>{d.maintainer || d.author}</dd>
              </>
            )}
            {extras.map((e) => (
              <Fragment key={e.key}>
                <dt>{t(`opendata.extra.${e.key}`) === `opendata.extra.${e.key}` ? e.key : t(`opendata.extra.${e.key}`)}</dt>
                <dd>{e.value}</dd>
              </Fragment>
            ))}
          </dl>
          {(d.tags || []).length > 0 && (
            <>
              <h3>{t("opendata.facet.tags")}</h3>
              <ul class="od-tags">
                {d.tags.map((tag) => (
                  <li key={tag.name}>
                    <a href={`/dataset?tags=${encodeURIComponent(tag.name)}`}>{tag.display_name || tag.name}</a>
                  </li>
                ))}
              </ul>
            </>
          )}
          <h3>{t("opendata.metadata")}</h3>
          <ul class="od-exports">
            <li><a href={`/dataset/${encodeURIComponent(d.id)}.ttl`} type="text/turtle">{t("opendata.export.dataset_ttl")}</a></li>
            <li><a href={`/dataset/${encodeURIComponent(d.id)}.rdf`} type="application/rdf+xml">{t("opendata.export.dataset_rdf")}</a></li>
            <li><a href={`/dataset/${encodeURIComponent(d.id)}.jsonld`} type="application/ld+json">{t("opendata.export.dataset_jsonld")}</a></li>
            <li><a href="/catalog.ttl" type="text/turtle">{t("opendata.export.catalog_ttl")}</a></li>
            <li><a href={`/api/3/action/package_show?id=${encodeURIComponent(d.name)}`} type="application/json">{t("opendata.export.ckan_json")}</a></li>
          </ul>
        </aside>
      </div>
    </div>
  );
}

function GroupNames({ groups }) {
  const [names, setNames] = useState({});
  useEffect(() => {
    cachedAction("group_list", { all_fields: true })
      .then((list) => setNames(Object.fromEntries(list.map((g) => [g.name, localized(g.title_translated, g.display_name || g.title)]))))
      .catch(() => {});
  }, []);
  return groups.map((g, i) => {
    const n = names[g.name] || { text: g.display_name || g.title || g.name, lang: "vi" };
    return (
      <span key={g.name}>
        {i > 0 && ", "}
        <a href={`/dataset?groups=${encodeURIComponent(g.name)}`} lang={langAttr(n.lang)}>{n.text}</a>
      </span>
    );
  });
}

function ResourceItem({ dataset, resource: r }) {
  const name = localized(r.name_translated, r.name || r.url);
  const description = localized(r.description_translated, r.description);
  const href = resourceHref(dataset, r);
  const size = fmtBytes(r.size, locale);
  const format = String(r.format || "").toUpperCase();
  return (
    <li class="od-resource">
      <div class="od-resource-head">
        {format && <span class="od-format">{format}</span>}
        <strong lang={langAttr(name.lang)}>{name.text || t("opendata.resource_unnamed")}</strong>
      </div>
      {description.text && <p class="od-resource-desc" lang={langAttr(description.lang)}>{description.text}</p>}
      <p class="od-resource-meta">
        {size && <span>{size}</span>}
        {r.last_modified && <span class="muted">{t("opendata.modified", { date: fmtDateTime(ckanTime(r.last_modified)) })}</span>}
        {href && (
          <a class="btn btn-small" href={href} download={r.url_type === "upload" ? "" : undefined} rel={sameOrigin(href) ? undefined : "noopener"}>
            {r.url_type === "upload" ? t("opendata.download") : t("opendata.open_link")}
            <span class="sr-only">: {name.text}</span>
          </a>
        )}
      </p>
    </li>
  );
}

/** The preview of the CSV resources: one at a time, the first at first. */
function Preview({ dataset, resources }) {
  const [chosen, setChosen] = useState(resources[0].id);
  const resource = resources.find((r) => r.id === chosen) || resources[0];
  const [state, setState] = useState({ loading: true });

  useEffect(() => {
    const ctl = new AbortController();
    setState({ loading: true });
    readStart(resourceHref(dataset, resource), { signal: ctl.signal })
      .then(({ bytes, truncated }) => {
        const csv = parseCsv(bytes, truncated);
        const kinds = columnKinds(csv.header, csv.rows);
        setState({ csv, kinds, axes: defaultAxes(kinds), truncated });
      })
      .catch((e) => e.name !== "AbortError" && setState({ error: e }));
    return () => ctl.abort();
  }, [resource.id]);

  const resourceName = localized(resource.name_translated, resource.name).text || resource.id;
  return (
    <section class="od-preview" aria-labelledby="od-preview-title">
      <h2 id="od-preview-title">{t("opendata.preview")}</h2>
      {resources.length > 1 && (
        <div class="field">
          <label for="od-preview-resource">{t("opendata.preview.resource")}</label>
          <select id="od-preview-resource" value={resource.id} onChange={(e) => setChosen(e.currentTarget.value)}>
            {resources.map((r) => (
              <option key={r.id} value={r.id}>{localized(r.name_translated, r.name).text || r.id}</option>
            ))}
          </select>
        </div>
      )}
      {state.loading && <Loading />}
      {state.error && <ErrorBox error={t("opendata.preview.error")} />}
      {state.csv && <PreviewBody name={resourceName} {...state} onAxes={(axes) => setState((s) => ({ ...s, axes }))} />}
    </section>
  );
}

function PreviewBody({ name, csv, kinds, axes, truncated, onAxes }) {
  const { header, rows } = csv;
  if (!header.length) return <p class="muted">{t("opendata.preview.empty")}</p>;
  const numeric = header.map((h, i) => [h, i]).filter(([, i]) => kinds[i] === "number");
  const shown = rows.slice(0, PREVIEW_ROWS);
  return (
    <>
      <p class="muted od-preview-note">
        {t("opendata.preview.note", { rows: fmtNumber(shown.length), read: fmtNumber(rows.length) })}
        {(truncated || csv.more) && ` ${t("opendata.preview.partial", { kb: fmtNumber(MAX_BYTES / 1024) })}`}
      </p>
      <div class="table-wrap od-table" tabIndex={0} role="region" aria-labelledby="od-preview-caption">
        <table>
          <caption id="od-preview-caption">{t("opendata.preview.caption", { name, n: fmtNumber(shown.length) })}</caption>
          <thead>
            <tr>
              {header.map((h, i) => (
                <th key={i} scope="col" class={kinds[i] === "number" ? "num" : undefined}>{h}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((r, n) => (
              <tr key={n}>
                {r.map((c, i) => (
                  <td key={i} class={kinds[i] === "number" ? "num" : undefined}>{c}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h3>{t("opendata.chart")}</h3>
      {numeric.length === 0 || rows.length === 0 ? (
        <p class="muted">{t("opendata.chart.no_numbers")}</p>
      ) : (
        <>
          <div class="od-axes">
            <div class="field">
              <label for="od-chart-y">{t("opendata.chart.y")}</label>
              <select id="od-chart-y" value={String(axes.y < 0 ? numeric[0][1] : axes.y)} onChange={(e) => onAxes({ ...axes, y: Number(e.currentTarget.value) })}>
                {numeric.map(([h, i]) => (
                  <option key={i} value={String(i)}>{h}</option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="od-chart-x">{t("opendata.chart.x")}</label>
              <select id="od-chart-x" value={String(axes.x)} onChange={(e) => onAxes({ ...axes, x: Number(e.currentTarget.value) })}>
                <option value="-1">{t("opendata.preview.row")}</option>
                {header.map((h, i) => (
                  <option key={i} value={String(i)}>{h}</option>
                ))}
              </select>
            </div>
          </div>
          <CsvChart header={header} rows={rows} kinds={kinds} x={axes.x} y={axes.y < 0 ? numeric[0][1] : axes.y} />
        </>
      )}
    </>
  );
}

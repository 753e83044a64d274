// The public CKAN Action API v3 (/api/3/action/…) that the open-data pages read, the same API
// other portals' tools use, so the pages see exactly what a harvester sees and the API alone
// decides who sees private datasets. Read actions only, as GET with CKAN's query parameters.
import { lang } from "./i18n.js";

/** A CKAN error envelope ({ success: false, error: { __type, message } }) or an HTTP failure. */
export class CkanError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.type = error?.__type || "";
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === "") continue;
    // CKAN reads list parameters such as facet.field as JSON text.
    q.append(k, typeof v === "object" ? JSON.stringify(v) : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Runs a read action and returns its `result`. */
export async function action(name, params, { signal } = {}) {
  let res;
  try {
    res = await fetch(`/api/3/action/${name}${query(params)}`, {
      headers: { Accept: "application/json", "Accept-Language": lang },
      credentials: "same-origin",
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new CkanError(0, null);
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: a proxy's error page or similar; the status says enough.
  }
  if (!res.ok || !body?.success) throw new CkanError(res.status, body?.error);
  return body.result;
}

const memo = {};
/** A read action whose answer does not change while the page is open (lists of names). */
export function cachedAction(name, params) {
  const key = `${name}${query(params)}`;
  memo[key] ??= action(name, params).catch((e) => {
    delete memo[key];
    throw e;
  });
  return memo[key];
}

/**
 * The text of a ckanext-fluent `{ vi, en }` field in the page's language, falling back to the
 * other language and then to CKAN's plain field. Returns { text, lang } so that text in the
 * other language can be marked with its own `lang` attribute for screen readers.
 */
export function localized(translated, plain) {
  const other = lang === "vi" ? "en" : "vi";
  const mine = translated?.[lang];
  if (mine && String(mine).trim()) return { text: mine, lang };
  const theirs = translated?.[other];
  if (theirs && String(theirs).trim()) return { text: theirs, lang: other };
  return { text: plain || "", lang: "vi" };
}

/** The `lang` attribute for a localized text: only when it differs from the page's. */
export const langAttr = (l) => (l && l !== lang ? l : undefined);

/** Bytes as a short size for people (1 KB = 1024 bytes, as file managers show). */
export function fmtBytes(n, locale) {
  if (n == null || Number.isNaN(Number(n))) return null;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: i === 0 ? 0 : 1 });
  return `${nf.format(v)} ${units[i]}`;
}

/**
 * Where the page fetches or links an uploaded resource: CKAN's download path on this site.
 * The API's `url` is absolute with the configured public URL; the path is the same resource
 * and keeps working when the page is reached under another host name (and stays inside the
 * CSP's connect-src 'self').
 */
export function resourceHref(dataset, resource) {
  if (resource.url_type === "upload") {
    const last = String(resource.url || "").split(/[?#]/)[0].split("/").pop() || "download";
    let filename = last;
    try {
      filename = decodeURIComponent(last);
    } catch {
      // Not percent-encoded after all: use it as it is.
    }
    return `/dataset/${encodeURIComponent(dataset.id)}/resource/${encodeURIComponent(resource.id)}/download/${encodeURIComponent(filename)}`;
  }
  return resource.url || "";
}

/** Same-origin links only can be previewed: the CSP lets pages fetch from this site alone. */
export function sameOrigin(href) {
  try {
    return new URL(href, location.href).origin === location.origin;
  } catch {
    return false;
  }
}

export function isCsv(resource) {
  const format = String(resource.format || "").trim().toLowerCase();
  const mime = String(resource.mimetype || "").toLowerCase();
  return format === "csv" || format === "text/csv" || mime === "text/csv" || /\.csv(\?|$)/i.test(String(resource.url || ""));
}

/** A CKAN timestamp as an ISO string with an offset: CKAN itself sends naive UTC. */
export function ckanTime(s) {
  if (!s) return s;
  return /(Z|[+-]\d{2}:?\d{2})$/.test(s) ? s : `${s}Z`;
}

/**
 * A licence's title in the page's language, from `license_list`: ckanext-fluent style
 * `title_translated` when present, else `title_vi` beside CKAN's English `title`.
 */
export function licenceTitle(licence) {
  if (licence.title_translated) return localized(licence.title_translated, licence.title).text;
  return lang === "vi" ? licence.title_vi || licence.title : licence.title;
}

// The JSON API (/api/v1), signed in by the session cookie. Unsafe requests carry the CSRF
// token from the page's boot data. Errors are RFC 9457 problems, turned into ApiError.
import { boot } from "./boot.js";
import { t, lang } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.slug = (problem?.type || "").split("/").pop() || "";
    this.detail = problem?.detail || "";
    this.field = problem?.field || null;
  }
}

/** A message for people: the translated kind of error, and the server's precise detail. */
export function errorText(err) {
  if (!(err instanceof ApiError)) return t("error.network");
  const kind = t(`error.${err.slug}`);
  const known = kind !== `error.${err.slug}`;
  return known ? (err.detail ? `${kind} (${err.detail})` : kind) : err.detail || t("app.error");
}

function query(params) {
  if (!params) return "";
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.append(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export async function request(method, path, { params, body, signal } = {}) {
  const headers = { Accept: "application/json", "Accept-Language": lang };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && boot.csrf) headers["X-CSRF-Token"] = boot.csrf;
  let res;
  try {
    res = await fetch(`/api/v1${path}${query(params)}`, { method, headers, body: payload, credentials: "same-origin", signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new Error("network");
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, typeof data === "object" ? data : { detail: String(data) });
  return data;
}

export const api = {
  get: (path, params, opts) => request("GET", path, { params, ...opts }),
  post: (path, body) => request("POST", path, { body }),
  put: (path, body) => request("PUT", path, { body }),
  patch: (path, body) => request("PATCH", path, { body }),
  del: (path) => request("DELETE", path),
};

/** Signs out (revokes the session) and goes to the portal. */
export async function logout() {
  try {
    await api.del("/auth/session");
  } finally {
    location.href = "/";
  }
}

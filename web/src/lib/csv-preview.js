// The first rows of a CSV resource for the dataset page's preview. A resource may be hundreds
// of megabytes, so only the first MAX_BYTES are read: a Range request, and the stream is cut
// there anyway for servers that answer the whole file. Parsing (quotes, separators and line
// breaks inside quotes) is Papa Parse's; TextDecoder drops a UTF-8 byte order mark.
import Papa from "papaparse";

export const MAX_BYTES = 256 * 1024;
export const MAX_ROWS = 1000;

/** Reads at most `limit` bytes of `href`; returns { bytes, truncated }. */
export async function readStart(href, { signal, limit = MAX_BYTES } = {}) {
  const res = await fetch(href, {
    headers: { Range: `bytes=0-${limit - 1}` },
    credentials: "same-origin",
    signal,
  });
  if (!res.ok) {
    const err = new Error(`HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  // A 206 says how long the whole file is; a 200 is the whole file, cut below.
  const total = Number((res.headers.get("content-range") || "").split("/")[1]) || null;
  const chunks = [];
  let received = 0;
  let truncated = false;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    if (received >= limit) {
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
  }
  const bytes = new Uint8Array(Math.min(received, limit));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.min(c.length, bytes.length - at));
    bytes.set(part, at);
    at += part.length;
    if (at >= bytes.length) break;
  }
  if (res.status === 206 && total != null) truncated = total > bytes.length;
  return { bytes, truncated };
}

/**
 * The header and rows of CSV bytes. When the bytes are only the start of the file, the last
 * row may be cut in the middle and is dropped.
 */
export function parseCsv(bytes, truncated, maxRows = MAX_ROWS) {
  // stream: true keeps a multi-byte character cut at the end out of the text.
  const text = new TextDecoder("utf-8").decode(bytes, { stream: truncated });
  const parsed = Papa.parse(text, { skipEmptyLines: "greedy", preview: maxRows + 2 });
  const rows = parsed.data;
  if (truncated && rows.length > 1) rows.pop();
  const header = (rows.shift() || []).map((h, i) => String(h).trim() || `#${i + 1}`);
  const width = header.length;
  const body = rows.slice(0, maxRows).map((r) => {
    const out = r.slice(0, width);
    while (out.length < width) out.push("");
    return out;
  });
  return { header, rows: body, more: truncated || rows.length > maxRows };
}

const ISO_DATE = /^\d{4}-\d{2}(-\d{2})?([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const VN_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const NUMBER = /^[+-]?(\d+([.]\d*)?|[.]\d+)([eE][+-]?\d+)?$/;

/** A number from a CSV cell, or null. */
export function toNumber(cell) {
  const s = String(cell ?? "").trim();
  return NUMBER.test(s) ? Number(s) : null;
}

/**
 * Seconds since the epoch of a date or date-time cell, or null. A date without a time is the
 * start of that day in Huế (+07:00), as dates are everywhere on the platform.
 */
export function toTime(cell) {
  const s = String(cell ?? "").trim();
  let iso = null;
  if (ISO_DATE.test(s)) {
    if (s.length === 7) iso = `${s}-01T00:00:00+07:00`;
    else if (s.length === 10) iso = `${s}T00:00:00+07:00`;
    else iso = /(Z|[+-]\d{2}:?\d{2})$/.test(s) ? s.replace(" ", "T") : `${s.replace(" ", "T")}+07:00`;
  } else {
    const m = VN_DATE.exec(s);
    if (m) iso = `${m[3]}-${m[2].padStart(2, "0")}-${m[1].padStart(2, "0")}T00:00:00+07:00`;
  }
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** "number", "time" or "text" for each column, from its non-empty cells. */
export function columnKinds(header, rows) {
  return header.map((_, i) => {
    const cells = rows.map((r) => String(r[i] ?? "").trim()).filter((c) => c !== "");
    if (!cells.length) return "text";
    if (cells.every((c) => toTime(c) != null)) return "time";
    if (cells.every((c) => toNumber(c) != null)) return "number";
    return "text";
  });
}

/**
 * The chart's columns at first sight: x is the first date/time column, else the first text
 * (category) column, else the row number (-1); y is the first numeric column that is not x.
 */
export function defaultAxes(kinds) {
  let x = kinds.indexOf("time");
  if (x < 0) x = kinds.indexOf("text");
  const y = kinds.findIndex((k, i) => k === "number" && i !== x);
  return { x, y };
}

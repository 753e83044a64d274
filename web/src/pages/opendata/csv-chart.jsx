// A chart of one numeric column of a CSV preview against a date/time column (a time axis),
// a text column (bars, one per row, labelled with the text) or the row number. uPlot draws on a
// canvas sized to its box; the preview's table beside it carries the same numbers for screen
// readers, so the chart itself is one labelled image.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { t, fmtDecimal, TZ, lang } from "../../lib/i18n.js";
import { toNumber, toTime } from "../../lib/csv-preview.js";

const COLOR = "#7a1f2b";
const MAX_BARS = 60;
const chartHeight = (w) => Math.max(220, Math.min(360, Math.round(w * 0.6)));
const locale = lang === "vi" ? "vi-VN" : "en-GB";
const dayFmt = new Intl.DateTimeFormat(locale, { timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric" });
const timeFmt = new Intl.DateTimeFormat(locale, { timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });

/** uPlot's data and options for the chosen columns; rows whose y is not a number are left out. */
export function chartSeries(header, rows, kinds, x, y) {
  const kind = x < 0 ? "index" : kinds[x] === "time" || kinds[x] === "number" ? kinds[x] : "text";
  const xOf = { time: (r) => toTime(r[x]), number: (r) => toNumber(r[x]), text: (r) => String(r[x]), index: (r, i) => i + 1 }[kind];
  let points = rows.map((r, i) => ({ x: xOf(r, i), y: toNumber(r[y]) })).filter((p) => p.y != null && p.x != null);
  if (kind === "time" || kind === "number") points.sort((a, b) => a.x - b.x);
  if (kind === "text") points = points.slice(0, MAX_BARS);
  const labels = kind === "text" ? points.map((p) => p.x) : null;
  const xs = kind === "text" ? points.map((_, i) => i) : points.map((p) => p.x);
  const repeated = (kind === "time" || kind === "number") && new Set(xs).size < xs.length;
  return { kind, labels, repeated, data: [xs, points.map((p) => p.y)], xName: x < 0 ? t("opendata.preview.row") : header[x], yName: header[y] };
}

export function CsvChart({ header, rows, kinds, x, y }) {
  const box = useRef(null);
  const plot = useRef(null);
  const series = chartSeries(header, rows, kinds, x, y);

  useEffect(() => {
    const el = box.current;
    if (!el || !series.data[0].length) return undefined;
    const width = Math.max(280, el.clientWidth);
    const { kind, labels, repeated } = series;
    const sameTime = kind === "time" && series.data[0].every((v) => v % 86400 === 61200);
    const axisX = {
      stroke: "#4b5563",
      grid: { stroke: "#e5e7eb", width: 1 },
      ticks: { stroke: "#d1d5db", width: 1 },
    };
    if (kind === "text") {
      axisX.splits = () => labels.map((_, i) => i);
      axisX.values = (u, splits) => splits.map((i) => labels[i] ?? "");
      axisX.rotate = labels.length > 6 ? -45 : 0;
      axisX.size = labels.length > 6 ? 90 : 40;
    } else if (kind === "time") {
      axisX.values = (u, splits) => splits.map((s) => (sameTime ? dayFmt : timeFmt).format(new Date(s * 1000)));
      axisX.space = 90;
      // Dates without a time: a tick per day at most, never hours between two days.
      if (sameTime) axisX.incrs = [1, 2, 7, 14, 30, 91, 182, 365, 730, 1826].map((d) => d * 86400);
    }
    const opts = {
      width,
      height: chartHeight(width),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TZ),
      legend: { show: true, live: false },
      cursor: { points: { size: 7 } },
      scales: {
        x:
          kind === "time"
            ? { time: true, range: (u, min, max) => (sameTime ? [min - 43200, max + 43200] : max - min < 86400 ? [min - 43200, max + 43200] : [min, max]) }
            : kind === "text"
              ? { time: false, range: (u, min, max) => [min - 0.6, max + 0.6] }
              : { time: false },
      },
      axes: [axisX, { stroke: "#4b5563", grid: { stroke: "#e5e7eb", width: 1 }, ticks: { stroke: "#d1d5db", width: 1 }, size: 60, values: (u, s) => s.map((v) => fmtDecimal(v)) }],
      series: [
        {
          label: series.xName,
          value: (u, v) => (v == null ? "—" : kind === "time" ? (sameTime ? dayFmt : timeFmt).format(new Date(v * 1000)) : kind === "text" ? labels[v] ?? "—" : fmtDecimal(v)),
        },
        {
          label: series.yName,
          stroke: COLOR,
          width: kind === "text" || repeated ? 0 : 2,
          fill: kind === "text" ? "rgba(122,31,43,.75)" : undefined,
          // Several rows on one date (one per station, say): points, since a line through
          // them would zigzag between the rows and mean nothing.
          points: { show: kind !== "text" && (repeated || series.data[0].length <= 60), size: repeated ? 7 : 5, fill: COLOR },
          paths: kind === "text" ? uPlot.paths.bars({ size: [0.7, 48] }) : undefined,
          value: (u, v) => fmtDecimal(v),
        },
      ],
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, series.data, el);
    const ro = new ResizeObserver(() => {
      const w = Math.max(280, el.clientWidth);
      if (plot.current && Math.abs(plot.current.width - w) > 4) plot.current.setSize({ width: w, height: chartHeight(w) });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [rows, x, y]);

  if (!series.data[0].length) return <p class="muted">{t("opendata.chart.empty")}</p>;
  return (
    <div
      ref={box}
      class="od-chart"
      role="img"
      aria-label={t("opendata.chart.label", { y: series.yName, x: series.xName, n: series.data[0].length })}
      data-points={series.data[0].length}
    />
  );
}

// The daily trend: reports received and handled per day of receipt, as a uPlot chart sized to
// its box, with the same numbers in a table for screen readers and keyboard users.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { t, fmtNumber, TZ } from "../../lib/i18n.js";
import { addDays } from "./period.js";

const COLORS = { received: "#1d4ed8", handled: "#15803d" };

/** Every day of [first, end) with its figures (0 when the API has no line for it). */
export function fillDays(days, first, end) {
  const byDate = new Map((days || []).map((d) => [d.date, d]));
  const out = [];
  for (let d = first; d < end && out.length < 1200; d = addDays(d, 1)) {
    const x = byDate.get(d);
    out.push({ date: d, received: x?.received || 0, handled: x?.handled || 0 });
  }
  return out;
}

const dayLabel = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, day: "2-digit", month: "2-digit" });
const fullDay = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric" });
const INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 25000, 50000, 100000, 200000, 500000, 1000000];
const chartHeight = (w) => Math.max(200, Math.min(340, Math.round(w * 0.78)));
const toTs = (day) => Date.parse(`${day}T00:00:00+07:00`) / 1000;

export function TrendChart({ points }) {
  const box = useRef(null);
  const plot = useRef(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const data = [points.map((p) => toTs(p.date)), points.map((p) => p.received), points.map((p) => p.handled)];
    const width = Math.max(280, el.clientWidth);
    const height = chartHeight(width);
    const opts = {
      width,
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TZ),
      legend: { show: true, live: false },
      cursor: { points: { size: 7 } },
      // Day ticks only: at least a day between ticks, and half a day of margin around a
      // single day (otherwise uPlot zooms into hours).
      scales: {
        x: {
          time: true,
          range: (u, min, max) => (max - min < 86400 ? [min - 43200, max + 43200] : [min, max]),
        },
        y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
      axes: [
        {
          stroke: "#4b5563",
          grid: { stroke: "#e5e7eb", width: 1 },
          ticks: { stroke: "#d1d5db", width: 1 },
          incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400],
          values: (u, splits) => splits.map((s) => dayLabel.format(new Date(s * 1000))),
          space: 56,
        },
        // Counts: whole-number ticks only.
        { stroke: "#4b5563", grid: { stroke: "#e5e7eb", width: 1 }, ticks: { stroke: "#d1d5db", width: 1 }, size: 52, incrs: INCRS, values: (u, s) => s.map((v) => fmtNumber(v)) },
      ],
      series: [
        { label: t("ioc.trend.day"), value: (u, v) => (v == null ? "—" : fullDay.format(new Date(v * 1000))) },
        { label: t("ioc.trend.received"), stroke: COLORS.received, width: 2, fill: "rgba(29,78,216,.08)", points: { show: points.length <= 45 }, value: (u, v) => fmtNumber(v) },
        { label: t("ioc.trend.handled"), stroke: COLORS.handled, width: 2, points: { show: points.length <= 45 }, value: (u, v) => fmtNumber(v) },
      ],
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => {
      const w = Math.max(280, el.clientWidth);
      if (plot.current && Math.abs(plot.current.width - w) > 4) {
        plot.current.setSize({ width: w, height: chartHeight(w) });
      }
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [points]);

  const total = points.reduce((a, p) => ({ received: a.received + p.received, handled: a.handled + p.handled }), { received: 0, handled: 0 });
  return (
    <>
      <div ref={box} class="ioc-chart" role="img" aria-label={t("ioc.trend.chart_label", { received: fmtNumber(total.received), handled: fmtNumber(total.handled), days: points.length })} />
      <details class="ioc-trend-table">
        <summary>{t("ioc.trend.table")}</summary>
        <div class="table-wrap">
          <table>
            <caption class="sr-only">{t("ioc.trend.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("ioc.trend.day")}</th>
                <th scope="col" class="num">{t("ioc.trend.received")}</th>
                <th scope="col" class="num">{t("ioc.trend.handled")}</th>
              </tr>
            </thead>
            <tbody>
              {points.map((p) => (
                <tr key={p.date}>
                  <th scope="row">{fullDay.format(new Date(`${p.date}T12:00:00+07:00`))}</th>
                  <td class="num">{fmtNumber(p.received)}</td>
                  <td class="num">{fmtNumber(p.handled)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">{t("ioc.trend.total")}</th>
                <td class="num">{fmtNumber(total.received)}</td>
                <td class="num">{fmtNumber(total.handled)}</td>
              </tr>
            </tfoot>
          </table>
        </div>
      </details>
    </>
  );
}

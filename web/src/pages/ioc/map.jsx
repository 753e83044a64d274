// The dashboard's map: the newest reports of the view (GET /ioc/map), clustered and coloured by
// status, overdue ones ringed in red; each popup links to the report in the inbox.
import { useEffect, useRef } from "preact/hooks";
import { createMap, STATUS_COLORS, escapeHtml } from "../../lib/map.js";
import { t, fmtNumber } from "../../lib/i18n.js";

/** Where most of the reports are: the 5th to 95th percentile of latitudes and longitudes, so a
 * few far-away reports do not zoom the whole city out. */
function coreBounds(items) {
  const lats = items.map((p) => p.lat).sort((a, b) => a - b);
  const lons = items.map((p) => p.lon).sort((a, b) => a - b);
  const trim = items.length >= 20 ? Math.floor(items.length * 0.05) : 0;
  const last = items.length - 1 - trim;
  return [
    [lats[trim], lons[trim]],
    [lats[last], lons[last]],
  ];
}

export function IocMap({ data, categoryName, view }) {
  const el = useRef(null);
  const map = useRef(null);
  const fitted = useRef(null);
  const names = useRef(categoryName);
  names.current = categoryName;

  useEffect(() => {
    map.current = createMap(el.current, {});
    const ro = new ResizeObserver(() => map.current?.map.invalidateSize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      map.current?.map.remove();
      map.current = null;
    };
  }, []);

  useEffect(() => {
    if (!map.current || !data) return;
    const items = data.reports.map((p) => ({
      ...p,
      title: `#${p.id} · ${names.current(p.category)} · ${t(`status.${p.status}`)}${p.overdue ? ` · ${t("deadline.overdue")}` : ""}`,
    }));
    map.current.setMarkers(items, (it) => {
      const overdue = it.overdue ? `<span class="badge deadline-overdue">${escapeHtml(t("deadline.overdue"))}</span>` : "";
      return `<div class="ioc-popup"><strong>#${it.id}</strong> ${escapeHtml(names.current(it.category))}<br>
        <span class="badge badge-${escapeHtml(it.status)}">${escapeHtml(t(`status.${it.status}`))}</span> ${overdue}<br>
        <a href="/inbox/${it.id}">${escapeHtml(t("ioc.map.open"))}</a></div>`;
    });
    // A new view (not a live refresh): show where its reports are.
    if (fitted.current !== view && items.length) {
      fitted.current = view;
      const { L, map: m } = map.current;
      m.fitBounds(L.latLngBounds(coreBounds(items)).pad(0.1), { maxZoom: 15, animate: false });
    }
  }, [data]);

  const shown = data?.reports.length ?? 0;
  const capped = data && shown >= data.limit && data.total > shown;
  return (
    <>
      <div ref={el} class="map ioc-map" role="region" aria-label={t("ioc.map.label")} data-total={data?.total ?? ""} />
      <div class="ioc-map-foot">
        <div class="legend" aria-label={t("ioc.map.legend")}>
          {Object.entries(STATUS_COLORS).map(([s, c]) => (
            <span key={s} style={`--c:${c}`}>{t(`status.${s}`)}</span>
          ))}
          <span class="legend-overdue">{t("deadline.overdue")}</span>
        </div>
        <p class="muted small ioc-map-count" role="status">
          {!data
            ? t("app.loading")
            : capped
              ? t("ioc.map.capped", { shown: fmtNumber(shown), total: fmtNumber(data.total) })
              : data.total > shown
                ? t("ioc.map.located", { shown: fmtNumber(shown), total: fmtNumber(data.total) })
                : t("ioc.map.count", { n: fmtNumber(shown) })}
        </p>
      </div>
    </>
  );
}

// Maps: Leaflet with clustered markers coloured by status.
// Tiles come from the configured server (DOTHI_MAP_TILES); without one, or when it cannot be
// reached, the map still works: a plain background, the communes' names at their centres, a
// scale, and every marker and cluster.
import L from "./leaflet-global.js";
import "leaflet.markercluster";
import { boot } from "./boot.js";
import { api } from "./api.js";
import { t } from "./i18n.js";

export const STATUS_COLORS = {
  received: "#1d4ed8",
  assigned: "#7c3aed",
  in_progress: "#b45309",
  transferred: "#0e7490",
  reopened: "#be123c",
  resolved: "#15803d",
  closed: "#4b5563",
  rejected: "#6b7280",
};

let communes;
async function communeLabels(map) {
  communes ??= api.get("/admin-units").catch(() => []);
  const units = await communes;
  const layer = L.layerGroup();
  for (const u of Array.isArray(units) ? units : units.items || []) {
    if (u.lat == null || u.lon == null) continue;
    L.marker([u.lat, u.lon], {
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: "commune-label", html: `<span>${escapeHtml(u.name)}</span>`, iconSize: null }),
    }).addTo(layer);
  }
  layer.addTo(map);
  return layer;
}

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/**
 * A map in `el`. Returns { map, cluster, setMarkers(items, popup), onNoTiles }.
 * items: [{ id, lat, lon, status, overdue?, title? }]
 */
export function createMap(el, { center, zoom, labels = true } = {}) {
  const cfg = boot.config || {};
  const map = L.map(el, {
    center: center || cfg.center || [16.4637, 107.5909],
    zoom: zoom || cfg.zoom || 12,
    // Set on the map itself: without a tile layer (DOTHI_MAP_TILES=none) nothing else gives
    // one, and clustering needs it.
    minZoom: 5,
    maxZoom: 19,
    zoomControl: true,
    attributionControl: true,
  });
  L.control.scale({ imperial: false }).addTo(map);
  el.classList.add("map-offline");
  const notice = L.control({ position: "bottomleft" });
  notice.onAdd = () => {
    const d = L.DomUtil.create("div", "map-notice");
    d.setAttribute("role", "status");
    d.textContent = t("map.no_tiles");
    return d;
  };
  if (cfg.tiles?.url) {
    let loaded = 0;
    let failed = 0;
    let shown = false;
    const tiles = L.tileLayer(cfg.tiles.url, { attribution: cfg.tiles.attribution, maxZoom: 19, crossOrigin: false });
    tiles.on("tileload", () => {
      loaded++;
      el.classList.remove("map-offline");
    });
    tiles.on("tileerror", () => {
      failed++;
      if (!loaded && failed >= 2 && !shown) {
        shown = true;
        notice.addTo(map);
        el.dataset.tiles = "unavailable";
      }
    });
    tiles.addTo(map);
  } else {
    el.dataset.tiles = "none";
  }
  if (labels) communeLabels(map);
  const cluster = L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 50,
    chunkedLoading: true,
    iconCreateFunction: (c) => {
      const n = c.getChildCount();
      const overdue = c.getAllChildMarkers().some((m) => m.options.overdue);
      const size = n < 10 ? 32 : n < 100 ? 40 : 48;
      return L.divIcon({
        html: `<span>${n}</span>`,
        className: `cluster${overdue ? " cluster-overdue" : ""}`,
        iconSize: [size, size],
      });
    },
  });
  cluster.addTo(map);
  function setMarkers(items, popup) {
    cluster.clearLayers();
    const markers = [];
    for (const it of items) {
      if (it.lat == null || it.lon == null) continue;
      const color = STATUS_COLORS[it.status] || "#111827";
      const m = L.marker([it.lat, it.lon], {
        overdue: !!it.overdue,
        title: it.title || t(`status.${it.status}`),
        alt: it.title || t(`status.${it.status}`),
        icon: L.divIcon({
          className: `pin pin-${it.status}${it.overdue ? " pin-overdue" : ""}`,
          html: `<span style="background:${color}"></span>`,
          iconSize: [18, 18],
        }),
      });
      if (popup) m.bindPopup(() => popup(it));
      markers.push(m);
    }
    cluster.addLayers(markers);
    el.dataset.markers = String(markers.length);
  }
  return { map, cluster, setMarkers, L };
}

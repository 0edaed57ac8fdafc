/* The one map's Leaflet map and layers: district outlines, sensors (one by one or in clusters), warning markers; the view asked of the server as the map moves. */
import { CS, L, html, fmt, t, gettext, ngettext, WRENCH, config, urls, LEVELS, SENSOR_STATUSES, MAP_MOVE_SETTLE_MS, MAP_LIVE_REFRESH_MS, VIEW_PADDING, CLUSTER_ZOOM_IN_MAX, state } from "./state.js";
import { filteredWarnings } from "./list.js";
import { select } from "./detail.js";

// --- Map ------------------------------------------------------------------------
export const mapNode = document.getElementById("map");
export const map = L.map(mapNode, { preferCanvas: true, zoomControl: false, minZoom: 7, maxZoom: 18, zoomSnap: 0.25 }).setView(
  config.map.center,
  config.map.zoom,
);
// Leaflet's own tooltips are English: the zoom buttons say them in the page's language.
L.control.zoom({ zoomInTitle: gettext("Zoom in"), zoomOutTitle: gettext("Zoom out") }).addTo(map);
// The city's districts, known from the page: the map asks for its sensors
// at once, before the district outlines arrive.
if (config.map.bounds) map.fitBounds(config.map.bounds, { padding: [16, 16], animate: false });
map.attributionControl.setPrefix("Leaflet");
if (config.map.tileUrl) {
  L.tileLayer(config.map.tileUrl, { attribution: config.map.tileAttribution, maxZoom: 19 }).addTo(map);
}
export const renderer = L.canvas({ padding: 0.3 });
export const districtLayer = L.geoJSON(null, {
  style: () => ({
    color: "#3b7bd1",
    weight: 1.4,
    opacity: 0.85,
    fillColor: "#16294a",
    fillOpacity: config.map.tileUrl ? 0.08 : 0.55,
  }),
  onEachFeature: (feature, layer) => {
    // Leaflet inserts a string tooltip as markup; the name is an administrator's text.
    layer.bindTooltip(CS.esc(feature.properties.name), { permanent: true, direction: "center", className: "district-label" });
  },
}).addTo(map);
export const sensorLayer = L.layerGroup().addTo(map);
export const clusterLayer = L.layerGroup().addTo(sensorLayer);
export const warningLayer = L.layerGroup().addTo(map);
export const layersControl = L.control
  .layers(
    null,
    { [gettext("Districts")]: districtLayer, [gettext("Sensors")]: sensorLayer, [gettext("Warnings")]: warningLayer },
    { position: "topright", collapsed: true },
  )
  .addTo(map);
export const layersToggle = layersControl.getContainer().querySelector(".leaflet-control-layers-toggle");
if (layersToggle) layersToggle.title = gettext("Layers");
L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);

export const Legend = L.Control.extend({
  options: { position: "bottomleft" },
  onAdd() {
    const node = L.DomUtil.create("div", "map-legend");
    node.innerHTML = String(html`
      <h4>${gettext("Warnings")}</h4>
      ${LEVELS.map((level) => html`<div class="row">${dot("level", level)}${CS.label("level", level)}</div>`)}
      <div class="sep"></div>
      <h4>${gettext("Sensors")}</h4>
      ${SENSOR_STATUSES.map((status) => html`<div class="row">${dot("sensorStatus", status)}${CS.label("sensorStatus", status)}</div>`)}
      <div class="row"><span class="maintenance-marker legend-maintenance" style="--c: ${config.maintenance.colour}">${WRENCH}</span>${gettext("Under maintenance (silenced)")}</div>
      <div class="row"><span class="map-cluster legend-cluster" style="${CS.colourStyle("sensorStatus", SENSOR_STATUSES[0])}">12</span>${gettext("Cluster: sensors, in its worst member's colour")}</div>`);
    L.DomEvent.disableClickPropagation(node);
    return node;
  },
});
new Legend().addTo(map);

/** A legend dot in a choice's colour (a sensor without data yet: a ring, as on the map). */
export function dot(group, value) {
  return html`<span class="dot dot-${value}" style="${CS.colourStyle(group, value)}"></span>`;
}

export const sensorMarkers = new Map(); // sensor id → circleMarker
export const maintenanceMarkers = new Map(); // sensor id → the wrench badge of a silenced sensor

/** A silenced sensor gets a badge beside its dot, so "under maintenance" reads at a glance. */
export function renderMaintenanceMarker(id, feature) {
  if (!feature.properties.maintenance || maintenanceMarkers.has(id)) return;
  const [lng, lat] = feature.geometry.coordinates;
  const icon = L.divIcon({
    className: "",
    html: String(html`<span class="maintenance-marker" data-sensor-id="${id}" title="${gettext("Under maintenance: warnings silenced")}" style="--c: ${config.maintenance.colour}">${WRENCH}</span>`),
    iconSize: [18, 18],
    iconAnchor: [-4, 20],
  });
  const marker = L.marker([lat, lng], { icon, keyboard: false, interactive: true });
  marker.on("click", () => openSensorPopup(id));
  marker.addTo(sensorLayer);
  maintenanceMarkers.set(id, marker);
}
export const warningMarkers = new Map(); // warning id → {marker, key}

/** The sensor's level as the open warnings say (they are live; the GeoJSON is a snapshot). */
export function sensorLevels() {
  const levels = new Map();
  for (const warning of state.warnings.values()) {
    if (warning.status !== "active") continue;
    const current = levels.get(warning.sensor.id);
    if (current == null || warning.level < current) levels.set(warning.sensor.id, warning.level);
  }
  return levels;
}

export function sensorStyle(props, level) {
  if (props.maintenance) {
    // Silenced for maintenance: a dashed ring in the maintenance colour, whatever it reads.
    return { radius: 6, color: config.maintenance.colour, weight: 2.5, dashArray: "3 2", fillColor: "#0b1324", fillOpacity: 0.8 };
  }
  if (level) {
    return { radius: 7, color: "#0b1324", weight: 1.5, fillColor: CS.colour("level", level), fillOpacity: 1 };
  }
  // A sensor without data yet is a ring: nothing known to fill it with.
  if (props.status !== "unknown" && CS.colour("sensorStatus", props.status)) {
    return { radius: 4, color: "#0b1324", weight: 1, fillColor: CS.colour("sensorStatus", props.status), fillOpacity: 0.9 };
  }
  return { radius: 3.5, color: CS.colour("sensorStatus", "unknown"), weight: 2, fillColor: "#0b1324", fillOpacity: 0.6 };
}

export function renderSensors() {
  renderClusters();
  const levels = state.warningsLoaded && state.warningsComplete ? sensorLevels() : null;
  const seen = new Set();
  for (const [id, feature] of state.sensors) {
    seen.add(id);
    const props = feature.properties;
    const level = levels ? levels.get(id) || null : props.warning_level;
    const style = sensorStyle(props, level);
    let marker = sensorMarkers.get(id);
    if (!marker) {
      const [lng, lat] = feature.geometry.coordinates;
      marker = L.circleMarker([lat, lng], { renderer, ...style });
      marker.on("click", () => openSensorPopup(id));
      marker.addTo(sensorLayer);
      sensorMarkers.set(id, marker);
    } else {
      marker.setStyle(style);
      marker.setRadius(style.radius);
    }
    if (level) marker.bringToFront();
    renderMaintenanceMarker(id, feature);
  }
  for (const [id, marker] of sensorMarkers) {
    if (!seen.has(id)) {
      sensorLayer.removeLayer(marker);
      sensorMarkers.delete(id);
    }
  }
  for (const [id, marker] of maintenanceMarkers) {
    if (!seen.has(id) || !state.sensors.get(id).properties.maintenance) {
      sensorLayer.removeLayer(marker);
      maintenanceMarkers.delete(id);
    }
  }
  renderSensorSummary();
}

export const compactNumber = new Intl.NumberFormat(CS.locale, { notation: "compact", maximumFractionDigits: 1 });
export const clusterMarkers = new Map(); // key → marker

/** The worst member's colour: its open warning's level, else its status. */
export function clusterStyle(cluster) {
  return cluster.level ? CS.colourStyle("level", cluster.level) : CS.colourStyle("sensorStatus", cluster.status);
}

/** What a cluster holds, for its tooltip: "240 sensors · Level I 1 · Offline 3". */
export function clusterTitle(cluster) {
  const parts = [t(ngettext("%(count)s sensor", "%(count)s sensors", cluster.count), { count: cluster.count })];
  for (const level of LEVELS) {
    if (cluster.levels[level]) parts.push(`${CS.shortLabel("level", level)} ${cluster.levels[level]}`);
  }
  for (const status of SENSOR_STATUSES) {
    if (cluster.statuses[status]) parts.push(`${CS.label("sensorStatus", status)} ${cluster.statuses[status]}`);
  }
  return parts.join(" · ");
}

/** Marker width: 26 px for a handful, growing with the count's digits up to 46 px. */
export function clusterSize(count) {
  return Math.round(Math.min(46, 24 + 6 * Math.log10(Math.max(count, 1))));
}

export function renderClusters() {
  const seen = new Set();
  for (const cluster of state.clusters) {
    const warned = LEVELS.reduce((sum, level) => sum + (cluster.levels[level] || 0), 0);
    const key = [cluster.lng, cluster.lat, cluster.count, cluster.level, cluster.status, warned].join("/");
    seen.add(key);
    if (clusterMarkers.has(key)) continue;
    const size = clusterSize(cluster.count);
    const kind = cluster.level ? `level-${cluster.level}` : `status-${cluster.status}`;
    const marker = L.marker([cluster.lat, cluster.lng], {
      icon: L.divIcon({
        className: "map-cluster-icon",
        iconSize: [size, size],
        html: String(
          html`<span class="map-cluster ${kind}" style="${clusterStyle(cluster)}" data-count="${cluster.count}"
            data-level="${cluster.level || ""}" data-status="${cluster.status || ""}">${compactNumber.format(cluster.count)}${
              warned ? html`<b class="mc-warned" style="${CS.colourStyle("level", cluster.level)}">${warned}</b>` : ""
            }</span>`,
        ),
      }),
      title: clusterTitle(cluster),
      keyboard: true,
      // The worst clusters stay on top where they touch.
      zIndexOffset: cluster.level ? (4 - cluster.level) * 100 : 0,
    });
    marker.on("click", () => zoomInto(cluster));
    marker.addTo(clusterLayer);
    clusterMarkers.set(key, marker);
  }
  for (const [key, marker] of clusterMarkers) {
    if (!seen.has(key)) {
      clusterLayer.removeLayer(marker);
      clusterMarkers.delete(key);
    }
  }
}

export function zoomInto(cluster) {
  const [west, south, east, north] = cluster.bounds;
  if (west === east && south === north) {
    map.setView([south, west], Math.max(map.getZoom() + 2, Math.min(map.getZoom() + 3, CLUSTER_ZOOM_IN_MAX)));
  } else {
    map.fitBounds([[south, west], [north, east]], { padding: [48, 48], maxZoom: CLUSTER_ZOOM_IN_MAX });
  }
}

export function renderSensorSummary() {
  const node = document.getElementById("sensor-summary");
  if (!state.sensorsLoaded) {
    if (state.loadError) {
      node.classList.add("is-error");
      node.textContent = t(gettext("Map data could not be loaded: %(error)s"), { error: state.loadError });
    }
    return;
  }
  node.classList.remove("is-error");
  const totals = state.sensorTotals;
  const count = (n) => (totals ? n || 0 : "–");
  CS.patch(
    node,
    html`<span class="sum">${gettext("Sensors")} <b>${count(totals && totals.sensors)}</b></span>
      ${SENSOR_STATUSES.map(
        (status) => html`<span class="sum">${dot("sensorStatus", status)}${CS.label("sensorStatus", status)} <b>${count(totals && totals.statuses[status])}</b></span>`,
      )}
      <span class="sum">${gettext("Updated")} ${fmt.short(state.sensorsAt)}</span>`,
  );
}

export function openSensorPopup(id) {
  const feature = state.sensors.get(id);
  if (!feature) return;
  const p = feature.properties;
  const warnings = [...state.warnings.values()].filter((w) => w.sensor.id === id);
  const [lng, lat] = feature.geometry.coordinates;
  const content = html`<div class="popup">
    <div class="popup-title">${p.name}</div>
    <dl class="kv">
      <dt>${gettext("Code")}</dt><dd class="mono">${p.code}</dd>
      <dt>${gettext("Type")}</dt><dd>${p.type}</dd>
      <dt>${gettext("Risk domain")}</dt><dd>${p.domain_name}</dd>
      <dt>${gettext("District")}</dt><dd>${p.district || "–"}</dd>
      <dt>${gettext("Status")}</dt><dd>${CS.label("sensorStatus", p.status)}${p.maintenance ? html` · <span class="maintenance-text">${gettext("Under maintenance: warnings silenced")}</span>` : ""}</dd>
      <dt>${gettext("Latest value")}</dt><dd>${fmt.value(p.latest_value, p.unit)}</dd>
      <dt>${gettext("Reading at")}</dt><dd>${fmt.dateTime(p.latest_observed_at)}</dd>
    </dl>
    ${warnings.map(
      (w) =>
        html`<button type="button" class="btn btn-sm" data-open-warning="${w.id}">${CS.shortLabel("level", w.level)} · ${gettext("Open warning detail")}</button>`,
    )}
  </div>`;
  L.popup({ maxWidth: 320 }).setLatLng([lat, lng]).setContent(String(content)).openOn(map);
}
mapNode.addEventListener("click", (event) => {
  const button = event.target.closest("[data-open-warning]");
  if (button) {
    map.closePopup();
    select(Number(button.dataset.openWarning));
  }
});

/** Active warnings' markers: 16 px at the mildest level, 4 px more for each level more severe. */
export function markerSize(level) {
  const rank = LEVELS.indexOf(level);
  return 16 + 4 * (rank < 0 ? 0 : LEVELS.length - 1 - rank);
}

export function warningIcon(warning) {
  // Recovered warnings wait for a person to close them: shown, but quieter.
  const size = warning.status === "active" ? markerSize(warning.level) : 12;
  const selected = warning.id === state.selected ? "selected" : "";
  return L.divIcon({
    className: "warning-marker",
    iconSize: [size, size],
    html: String(
      html`<span class="wm level-${warning.level} status-${warning.status} ${selected}" style="${CS.colourStyle("level", warning.level)}" data-warning-id="${warning.id}"></span>`,
    ),
  });
}

export function renderWarningMarkers(visible) {
  // Markers only for what the map shows (and the selected one): a storm of
  // warnings elsewhere in the city costs no DOM here. Zoomed out, the
  // clusters carry the warnings (red, with a count of those at warning);
  // a marker on top would hide the cluster's count.
  const bounds = map.getBounds().pad(VIEW_PADDING);
  const seen = new Set();
  for (const warning of visible) {
    const [lng, lat] = warning.sensor.location;
    if (warning.id !== state.selected && (state.clustered || !bounds.contains([lat, lng]))) continue;
    seen.add(warning.id);
    const key = `${warning.level}/${warning.status}/${warning.id === state.selected}`;
    const entry = warningMarkers.get(warning.id);
    const zIndexOffset = 1000 + (4 - warning.level) * 300 + (warning.status === "active" ? 100 : 0);
    if (!entry) {
      const marker = L.marker([lat, lng], {
        icon: warningIcon(warning),
        zIndexOffset,
        title: `${CS.shortLabel("level", warning.level)} · ${warning.sensor.name}`,
        keyboard: true,
        riseOnHover: true,
      });
      marker.on("click", () => select(warning.id, { fly: false }));
      marker.addTo(warningLayer);
      warningMarkers.set(warning.id, { marker, key });
    } else if (entry.key !== key) {
      entry.marker.setIcon(warningIcon(warning));
      entry.marker.setZIndexOffset(zIndexOffset);
      entry.key = key;
    }
  }
  for (const [id, entry] of warningMarkers) {
    if (!seen.has(id)) {
      warningLayer.removeLayer(entry.marker);
      warningMarkers.delete(id);
    }
  }
}



/** The box and zoom the map shows, a little larger than the screen. */
export function currentView() {
  const bounds = map.getBounds().pad(VIEW_PADDING);
  const clamp = (value, limit) => Math.max(-limit, Math.min(limit, value)).toFixed(5);
  const bbox = [clamp(bounds.getWest(), 180), clamp(bounds.getSouth(), 90), clamp(bounds.getEast(), 180), clamp(bounds.getNorth(), 90)];
  return `bbox=${bbox.join(",")}&zoom=${map.getZoom()}`;
}

export let mapRequest = null; // {view, controller} of the request in flight
export let drawnView = null;

/**
 * Ask the server for what the map shows; a newer view cancels an older
 * request. Resolves true when this view was loaded, false when it was not
 * needed or a newer one took its place.
 */
export function loadMap({ force = false, totals = false } = {}) {
  const view = currentView();
  if (!force && (view === drawnView || (mapRequest && mapRequest.view === view))) return Promise.resolve(false);
  if (mapRequest) mapRequest.controller.abort();
  const request = { view, totals, controller: new AbortController() };
  mapRequest = request;
  request.done = fetchView(request);
  return request.done;
}

export async function fetchView(request) {
  const view = request.view;
  try {
    const query = request.totals ? `${view}&totals=1` : view;
    const answer = await CS.api(`${urls.mapSensors}?${query}`, { signal: request.controller.signal });
    state.sensors = new Map(answer.sensors.features.map((f) => [f.properties.id, f]));
    state.clusters = answer.clusters;
    state.clustered = answer.clustered;
    if (answer.totals) state.sensorTotals = answer.totals;
    state.sensorsLoaded = true;
    state.sensorsAt = new Date();
    drawnView = view;
    return true;
  } catch (error) {
    if (error.name === "AbortError") return false;
    throw error;
  } finally {
    if (mapRequest === request) mapRequest = null;
  }
}

/** Draw the view just loaded, then count the draw once the browser has painted it. */
export function drawMap() {
  renderWarningMarkers(state.warningsLoaded ? filteredWarnings() : []);
  renderSensors();
  requestAnimationFrame(() => {
    state.mapDraws += 1;
    performance.mark(`map-drawn-${state.mapDraws}`);
    mapNode.dataset.draws = String(state.mapDraws);
    mapNode.dataset.clustered = String(state.clustered);
  });
}

export async function refreshMap(options) {
  try {
    if (await loadMap(options)) drawMap();
  } catch (error) {
    // The next move, refresh or resync tries again; until a first view, the summary says why.
    if (!state.sensorsLoaded) {
      state.loadError = error.message;
      renderSensorSummary();
    }
  }
}

/** After a (re)connection: the view may have been read before the socket listened, so read it again. */
export async function refreshMapAfterSync() {
  if (mapRequest) await mapRequest.done.catch(() => false);
  await refreshMap({ force: true, totals: true });
}

export const refreshMapAfterMove = CS.debounce(() => refreshMap(), MAP_MOVE_SETTLE_MS);
map.on("moveend", () => {
  renderWarningMarkers(state.warningsLoaded ? filteredWarnings() : []);
  refreshMapAfterMove();
});

// Live changes in view: at most one refresh per MAP_LIVE_REFRESH_MS, the last change always included.
export let liveRefreshTimer = null;
export let liveRefreshAgain = false;
export function refreshMapSoon() {
  if (liveRefreshTimer) {
    liveRefreshAgain = true;
    return;
  }
  refreshMap({ force: true });
  liveRefreshTimer = setTimeout(() => {
    liveRefreshTimer = null;
    if (liveRefreshAgain) {
      liveRefreshAgain = false;
      refreshMapSoon();
    }
  }, MAP_LIVE_REFRESH_MS);
}

export let districtsLoading = null; // one request at a time; forgotten when it fails, so the next call tries again
export function loadDistricts() {
  if (!districtsLoading) {
    districtsLoading = (async () => {
      const collection = await CS.api(urls.districts);
      districtLayer.addData(collection);
      const bounds = districtLayer.getBounds();
      map.invalidateSize();
      if (!config.map.bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16] });
    })().catch((error) => {
      districtsLoading = null;
      throw error;
    });
  }
  return districtsLoading;
}

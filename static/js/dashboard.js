/* The one map (一张图): sensors and open warnings on the city's districts,
 * a live list of warnings, counters per level, and a warning's detail with
 * its level history and work orders, where the duty officer closes it. */
(function () {
  "use strict";

  const CS = window.CS;
  const L = window.L;
  const { html, fmt, t, gettext } = CS;
  const ngettext = window.ngettext || ((singular, plural, n) => (n === 1 ? singular : plural));
  // The maintenance badge's wrench, drawn: the duty screens' fonts may have no emoji.
  const WRENCH = CS.raw('<svg viewBox="0 0 24 24" width="11" height="11" aria-hidden="true"><path fill="currentColor" d="M22.7 19l-9.1-9.1c.9-2.3.4-5-1.5-6.9-2-2-5-2.4-7.4-1.3L9 6 6 9 1.6 4.7C.4 7.1.9 10.1 2.9 12.1c1.9 1.9 4.6 2.4 6.9 1.5l9.1 9.1c.4.4 1 .4 1.4 0l2.3-2.3c.5-.4.5-1.1.1-1.4z"/></svg>');
  const config = CS.config("dashboard-config");
  const urls = config.urls;
  const baseTitle = document.title;

  // Levels and sensor statuses, their labels and colours: from the config (CS.choices).
  const LEVELS = CS.values("level").map(Number); // most severe first
  const SENSOR_STATUSES = CS.values("sensorStatus");
  // Sensor status and latest values are not pushed; refresh the view this often.
  const SENSOR_REFRESH_MS = 60000;
  // The map asks for its view once it has stopped moving this long.
  const MAP_MOVE_SETTLE_MS = 150;
  // Pushed warnings inside the view redraw the map's clusters at most this
  // often (coalesced): a storm of warnings costs one small request a second.
  const MAP_LIVE_REFRESH_MS = 1000;
  // The view asked for reaches this far (a fraction of its size) past the
  // screen's edges, so a short pan shows no empty border.
  const VIEW_PADDING = 0.2;
  // A click on a cluster zooms to its members, no closer than street level.
  const CLUSTER_ZOOM_IN_MAX = 16;
  // How often the page asks whether evaluation lags behind.
  const BACKLOG_CHECK_MS = 5000;
  // A failed resync is tried again after this long.
  const RETRY_MS = 5000;

  const state = {
    warnings: new Map(), // open warnings (active or recovered) by id
    outages: new Map(), // gateways silent now (active outages) by id
    warningsLoaded: false,
    warningsComplete: true,
    apiCounts: null,
    // The map's view, as the server answered it (/api/v1/map/sensors/).
    sensors: new Map(), // sensors in view one by one (few of them): id → GeoJSON feature
    clusters: [], // or, when the view holds many, grid clusters
    clustered: false,
    sensorTotals: null, // the whole city's sensors by status
    sensorsLoaded: false,
    sensorsAt: null,
    mapDraws: 0, // views drawn so far (the browser tests and the benchmark wait on it)
    loadError: null,
    filters: { level: null, status: "", domain: "" },
    domains: new Map(config.domains || []), // code → name
    selected: null,
    detail: null, // {warning, orders: Map, error, loading}
    closeDraft: "",
    closeActive: false,
    closeError: "",
    closing: false,
    fresh: new Set(),
  };

  // --- Map ------------------------------------------------------------------------
  const mapNode = document.getElementById("map");
  const map = L.map(mapNode, { preferCanvas: true, zoomControl: false, minZoom: 7, maxZoom: 18, zoomSnap: 0.25 }).setView(
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
  const renderer = L.canvas({ padding: 0.3 });
  const districtLayer = L.geoJSON(null, {
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
  const sensorLayer = L.layerGroup().addTo(map);
  const clusterLayer = L.layerGroup().addTo(sensorLayer);
  const warningLayer = L.layerGroup().addTo(map);
  const layersControl = L.control
    .layers(
      null,
      { [gettext("Districts")]: districtLayer, [gettext("Sensors")]: sensorLayer, [gettext("Warnings")]: warningLayer },
      { position: "topright", collapsed: true },
    )
    .addTo(map);
  const layersToggle = layersControl.getContainer().querySelector(".leaflet-control-layers-toggle");
  if (layersToggle) layersToggle.title = gettext("Layers");
  L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);

  const Legend = L.Control.extend({
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
  function dot(group, value) {
    return html`<span class="dot dot-${value}" style="${CS.colourStyle(group, value)}"></span>`;
  }

  const sensorMarkers = new Map(); // sensor id → circleMarker
  const maintenanceMarkers = new Map(); // sensor id → the wrench badge of a silenced sensor

  /** A silenced sensor gets a badge beside its dot, so "under maintenance" reads at a glance. */
  function renderMaintenanceMarker(id, feature) {
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
  const warningMarkers = new Map(); // warning id → {marker, key}

  /** The sensor's level as the open warnings say (they are live; the GeoJSON is a snapshot). */
  function sensorLevels() {
    const levels = new Map();
    for (const warning of state.warnings.values()) {
      if (warning.status !== "active") continue;
      const current = levels.get(warning.sensor.id);
      if (current == null || warning.level < current) levels.set(warning.sensor.id, warning.level);
    }
    return levels;
  }

  function sensorStyle(props, level) {
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

  function renderSensors() {
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

  const compactNumber = new Intl.NumberFormat(CS.locale, { notation: "compact", maximumFractionDigits: 1 });
  const clusterMarkers = new Map(); // key → marker

  /** The worst member's colour: its open warning's level, else its status. */
  function clusterStyle(cluster) {
    return cluster.level ? CS.colourStyle("level", cluster.level) : CS.colourStyle("sensorStatus", cluster.status);
  }

  /** What a cluster holds, for its tooltip: "240 sensors · Level I 1 · Offline 3". */
  function clusterTitle(cluster) {
    const parts = [t(gettext("%(count)s sensors"), { count: cluster.count })];
    for (const level of LEVELS) {
      if (cluster.levels[level]) parts.push(`${CS.shortLabel("level", level)} ${cluster.levels[level]}`);
    }
    for (const status of SENSOR_STATUSES) {
      if (cluster.statuses[status]) parts.push(`${CS.label("sensorStatus", status)} ${cluster.statuses[status]}`);
    }
    return parts.join(" · ");
  }

  /** Marker width: 26 px for a handful, growing with the count's digits up to 46 px. */
  function clusterSize(count) {
    return Math.round(Math.min(46, 24 + 6 * Math.log10(Math.max(count, 1))));
  }

  function renderClusters() {
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

  function zoomInto(cluster) {
    const [west, south, east, north] = cluster.bounds;
    if (west === east && south === north) {
      map.setView([south, west], Math.max(map.getZoom() + 2, Math.min(map.getZoom() + 3, CLUSTER_ZOOM_IN_MAX)));
    } else {
      map.fitBounds([[south, west], [north, east]], { padding: [48, 48], maxZoom: CLUSTER_ZOOM_IN_MAX });
    }
  }

  function renderSensorSummary() {
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

  function openSensorPopup(id) {
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
  function markerSize(level) {
    const rank = LEVELS.indexOf(level);
    return 16 + 4 * (rank < 0 ? 0 : LEVELS.length - 1 - rank);
  }

  function warningIcon(warning) {
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

  function renderWarningMarkers(visible) {
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

  // --- Warning list, counters, filters ------------------------------------------------
  const listNode = document.getElementById("warning-list");
  const domainSelect = document.getElementById("filter-domain");
  const statusSelect = document.getElementById("filter-status");
  const resetButton = document.getElementById("filter-reset");

  function compareWarnings(a, b) {
    if (a.status !== b.status) return a.status === "active" ? -1 : 1;
    if (a.level !== b.level) return a.level - b.level;
    return new Date(b.opened_at) - new Date(a.opened_at) || b.id - a.id;
  }

  function filteredWarnings() {
    const { level, status, domain } = state.filters;
    return [...state.warnings.values()]
      .filter((w) => (level ? w.level === level && w.status === "active" : true))
      .filter((w) => (status ? w.status === status : true))
      .filter((w) => (domain ? w.domain.code === domain : true))
      .sort(compareWarnings);
  }

  /** The warning's level is the worst it reached; a recovered one's badge is dimmed. */
  function peakBadge(w) {
    const title = w.status === "active" ? gettext("Highest level reached") : t(gettext("Reached %(level)s; recovered"), { level: CS.shortLabel("level", w.level) });
    return html`<span class="peak-badge ${w.status === "active" ? "" : "is-dimmed"}" title="${title}" data-peak-level="${w.level}">${CS.workOrderCards.levelBadge(w.level)}</span>`;
  }

  /** Where the sensor stands now, when that is not the warning's (peak) level. */
  function currentLevelChip(w) {
    if (w.status !== "active" || w.current_level == null || w.current_level === w.level) return "";
    if (!w.current_level) {
      return html`<span class="now-chip" data-now-level="0">${gettext("Now below every threshold (inside the dead band)")}</span>`;
    }
    return html`<span class="now-chip" data-now-level="${w.current_level}" style="${CS.colourStyle("level", w.current_level)}">${t(gettext("Now %(level)s"), { level: CS.shortLabel("level", w.current_level) })}</span>`;
  }

  /** Flapping: recovers and comes back often; its changes reach the screen in batches. */
  function flappingChip(w) {
    if (!w.is_flapping) return "";
    return html`<span class="flap-chip" data-flapping title="${gettext("Recovers and comes back often: its changes are shown in batches, not one by one.")}">${gettext("Flapping")}</span>`;
  }

  /** An incident's warnings share one row, the worst of them; the chip says how many and on what. */
  function incidentChip(w, members) {
    if (!w.incident) return "";
    const what = w.incident.asset
      ? t(ngettext("Incident on %(asset)s · %(count)s warning", "Incident on %(asset)s · %(count)s warnings", members), { asset: w.incident.asset, count: members })
      : t(ngettext("Incident · %(count)s warning", "Incident · %(count)s warnings", members), { count: members });
    return html`<span class="incident-chip" data-incident-id="${w.incident.id}" data-members="${members}">${what}</span>`;
  }

  function incidentRows(visible) {
    const rows = [];
    const byIncident = new Map();
    for (const w of visible) {
      const row = w.incident ? byIncident.get(w.incident.id) : null;
      if (row) {
        row.members += 1;
        continue;
      }
      const created = { w, members: 1 };
      if (w.incident) byIncident.set(w.incident.id, created);
      rows.push(created);
    }
    return rows;
  }

  function warningItem({ w, members }) {
    const classes = [
      "warning-item",
      `level-${w.level}`,
      `status-${w.status}`,
      w.id === state.selected ? "selected" : "",
      state.fresh.has(w.id) ? "is-new" : "",
    ].join(" ");
    const meta = [w.domain.name, w.district ? w.district.name : null, w.sensor.code].filter(Boolean).join(" · ");
    return html`<li class="${classes}" data-warning-id="${w.id}" data-level="${w.level}" data-status="${w.status}"
        data-current-level="${w.current_level ?? ""}" tabindex="0"
        role="button" aria-label="${CS.shortLabel("level", w.level)} ${w.sensor.name}" style="${CS.colourStyle("level", w.level)}">
      ${peakBadge(w)}
      <div class="wi-main">
        <div class="wi-title" title="${w.sensor.name}">${w.sensor.name}</div>
        <div class="wi-meta" title="${meta}">${meta}</div>
      </div>
      <div class="wi-side">
        <span class="wi-value">${fmt.number(w.last_value)}<small>${w.sensor.unit}</small></span>
        <time class="wi-time" datetime="${w.opened_at}" title="${fmt.dateTime(w.opened_at)}" data-rel-time="${w.opened_at}">${fmt.relative(w.opened_at)}</time>
      </div>
      <div class="wi-foot">
        ${CS.workOrderCards.statusChip("warningStatus", w.status, w.status_display)}
        ${currentLevelChip(w)}
        ${flappingChip(w)}
        ${incidentChip(w, members)}
        <span class="muted">${gettext("Peak")} ${fmt.value(w.peak_value, w.sensor.unit)}</span>
      </div>
    </li>`;
  }

  function renderList(visible) {
    listNode.setAttribute("aria-busy", state.warningsLoaded ? "false" : "true");
    document.getElementById("warning-total").textContent = state.warningsLoaded ? String(visible.length) : "–";
    if (!state.warningsLoaded) {
      if (state.loadError) {
        CS.patch(
          listNode,
          html`<li class="list-state" role="alert">${t(gettext("Could not load the warnings: %(error)s"), { error: state.loadError })}
            <br><button type="button" class="btn btn-sm" data-retry>${gettext("Try again")}</button></li>`,
        );
      }
      return;
    }
    const filtered = state.filters.level || state.filters.status || state.filters.domain;
    resetButton.hidden = !filtered;
    if (!visible.length) {
      CS.patch(
        listNode,
        filtered
          ? html`<li class="list-state empty-state" data-empty>${gettext("No open warnings match the filters.")}</li>`
          : html`<li class="list-state empty-state" data-empty><div class="empty-icon" aria-hidden="true">✓</div>
              <strong>${gettext("No open warnings")}</strong><br>${gettext("Every monitored sensor is within its thresholds.")}</li>`,
      );
      return;
    }
    const banner = state.loadError
      ? html`<li class="alert alert-warn" role="alert">${t(gettext("Could not refresh: %(error)s. Showing what was loaded before."), { error: state.loadError })}</li>`
      : "";
    const cap = state.warningsComplete ? "" : html`<li class="list-state">${gettext("Only the newest warnings are listed.")}</li>`;
    CS.patch(listNode, html`${banner}${incidentRows(visible).map(warningItem)}${cap}`);
  }

  function counts() {
    if (!state.warningsComplete && state.apiCounts) return state.apiCounts;
    const result = { open: 0, recovered: 0, active_by_level: Object.fromEntries(LEVELS.map((level) => [level, 0])) };
    for (const w of state.warnings.values()) {
      result.open += 1;
      if (w.status === "recovered") result.recovered += 1;
      else if (w.status === "active") result.active_by_level[w.level] += 1;
    }
    return result;
  }

  let lastCounts = {};
  function renderCounters() {
    if (!state.warningsLoaded) return;
    const c = counts();
    const values = { ...Object.fromEntries(LEVELS.map((level) => [level, c.active_by_level[level]])), recovered: c.recovered };
    for (const [key, value] of Object.entries(values)) {
      const button = document.querySelector(key === "recovered" ? "[data-counter-status=recovered]" : `[data-counter-level="${key}"]`);
      const node = button.querySelector("[data-count]");
      node.textContent = String(value ?? 0);
      node.classList.toggle("nonzero", value > 0);
      if (lastCounts[key] != null && lastCounts[key] !== value) {
        button.classList.remove("bump");
        void button.offsetWidth; // restart the animation
        button.classList.add("bump");
      }
      lastCounts[key] = value;
    }
    for (const button of document.querySelectorAll("[data-counter-level]")) {
      button.setAttribute("aria-pressed", String(state.filters.level === Number(button.dataset.counterLevel)));
    }
    document.querySelector("[data-counter-status=recovered]").setAttribute("aria-pressed", String(state.filters.status === "recovered"));
    const red = c.active_by_level[LEVELS[0]];
    document.title = c.open ? `(${red ? `${red}/` : ""}${c.open}) ${baseTitle}` : baseTitle;
  }

  function renderDomains() {
    const current = domainSelect.value;
    const options = [...state.domains.entries()].sort((a, b) => a[1].localeCompare(b[1], CS.locale));
    domainSelect.replaceChildren(new Option(gettext("All domains"), ""), ...options.map(([code, name]) => new Option(name, code)));
    domainSelect.value = state.domains.has(current) ? current : "";
  }

  function render() {
    const visible = state.warningsLoaded ? filteredWarnings() : [];
    renderList(visible);
    renderCounters();
    renderWarningMarkers(visible);
    renderSensors();
  }

  listNode.addEventListener("click", (event) => {
    if (event.target.closest("[data-retry]")) {
      state.loadError = null;
      listNode.innerHTML = String(html`<li class="list-state"><span class="spinner"></span> ${gettext("Loading warnings…")}</li>`);
      resync();
      return;
    }
    const item = event.target.closest("[data-warning-id]");
    if (item) select(Number(item.dataset.warningId));
  });
  listNode.addEventListener("keydown", (event) => {
    const item = event.target.closest("[data-warning-id]");
    if (item && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      select(Number(item.dataset.warningId));
    }
  });
  for (const button of document.querySelectorAll("[data-counter-level]")) {
    button.addEventListener("click", () => {
      const level = Number(button.dataset.counterLevel);
      state.filters.level = state.filters.level === level ? null : level;
      if (state.filters.level) {
        state.filters.status = "";
        statusSelect.value = "";
      }
      render();
    });
  }
  document.querySelector("[data-counter-status=recovered]").addEventListener("click", () => {
    state.filters.status = state.filters.status === "recovered" ? "" : "recovered";
    statusSelect.value = state.filters.status;
    state.filters.level = null;
    render();
  });
  domainSelect.addEventListener("change", () => {
    state.filters.domain = domainSelect.value;
    render();
  });
  statusSelect.addEventListener("change", () => {
    state.filters.status = statusSelect.value;
    if (state.filters.status === "recovered") state.filters.level = null;
    render();
  });
  resetButton.addEventListener("click", () => {
    state.filters = { level: null, status: "", domain: "" };
    domainSelect.value = "";
    statusSelect.value = "";
    render();
  });

  // --- Detail -------------------------------------------------------------------------
  const panel = document.getElementById("warning-detail");
  let detailToken = 0;

  const cards = new CS.workOrderCards.OrderCards({
    urls,
    departmentId: null,
    showContact: true,
    duty: true,
    departments: config.departments || [],
    onUpdated: (order) => applyOrder(order),
  });
  cards.bind(panel, () => renderDetail());

  async function loadDetail(id) {
    const token = ++detailToken;
    try {
      const [warning, orders] = await Promise.all([
        CS.api(CS.urlFor(urls.warning, id)),
        CS.fetchAll(`${urls.workOrders}?warning=${encodeURIComponent(id)}`),
      ]);
      if (token !== detailToken || state.selected !== id) return;
      state.detail = { warning, orders: new Map(orders.results.map((o) => [o.id, o])), error: null, loading: false };
    } catch (error) {
      if (token !== detailToken || state.selected !== id) return;
      state.detail = { ...(state.detail || {}), error: error.message, loading: false };
    }
    renderDetail();
  }
  const reloadDetail = CS.debounce(() => {
    if (state.selected) loadDetail(state.selected);
  }, 250);

  function select(id, { fly = true } = {}) {
    if (state.selected !== id) {
      state.closeDraft = "";
      state.closeActive = false;
      state.closeError = "";
      state.detail = { warning: state.warnings.get(id) || null, orders: null, error: null, loading: true };
    }
    state.selected = id;
    panel.hidden = false;
    renderDetail();
    render();
    const warning = state.warnings.get(id);
    if (fly && warning) flyTo(warning);
    loadDetail(id);
    panel.focus({ preventScroll: true });
  }

  function flyTo(warning) {
    const [lng, lat] = warning.sensor.location;
    const bounds = L.latLng(lat, lng).toBounds(4000);
    map.flyToBounds(bounds, { paddingBottomRight: [panel.offsetWidth || 0, 0], maxZoom: 13, duration: 0.6 });
  }

  function closeDetail() {
    state.selected = null;
    state.detail = null;
    detailToken += 1;
    panel.hidden = true;
    panel.innerHTML = "";
    render();
  }

  // A band warns on both sides: its low threshold first ("≤ 0.3 · ≥ 1.2").
  function lowerSide(w, level) {
    const lower = w.rule.lower_thresholds;
    if (!lower) return "";
    return `${CS.symbol("direction", "below")} ${fmt.value(lower[String(level)], w.sensor.unit)} · `;
  }

  function thresholdRows(w) {
    const direction = CS.symbol("direction", w.rule.lower_thresholds ? "above" : w.rule.direction);
    return [...LEVELS].reverse().map((level) => {
      const reached = level >= w.level && w.status !== "recovered" ? "reached" : "";
      const current = level === w.level ? "current" : "";
      return html`<tr class="${reached} ${current}">
        <td>${CS.workOrderCards.levelBadge(level)}</td>
        <td class="num">${lowerSide(w, level)}${direction} ${fmt.value(w.rule.thresholds[String(level)], w.sensor.unit)}</td>
      </tr>`;
    });
  }

  function transitionLine(tr, unit) {
    const levels =
      tr.from_level && tr.from_level !== tr.to_level
        ? `${CS.shortLabel("level", tr.from_level)} → ${CS.shortLabel("level", tr.to_level)}`
        : CS.shortLabel("level", tr.to_level);
    return html`<li class="k-${tr.kind}" style="${CS.colourStyle("transitionKind", tr.kind)}">
      <div class="tl-head">
        <span class="tl-kind">${CS.label("transitionKind", tr.kind, tr.kind_display)}</span>
        <span class="tl-actor">${levels}</span>
        ${tr.value != null ? html`<span class="tl-actor num">${fmt.value(tr.value, unit)}</span>` : ""}
        <time class="tl-time" title="${fmt.dateTime(tr.observed_at || tr.created_at)}">${fmt.short(tr.observed_at || tr.created_at)}</time>
        ${CS.workOrderCards.actorLabel(tr.actor, tr.actor_department)}
      </div>
      ${tr.note ? html`<div class="tl-note">${tr.note}</div>` : ""}
    </li>`;
  }

  function closeSection(w, orders) {
    if (w.is_historical) {
      return html`<section class="detail-section" data-closed data-historical>
        <h3>${gettext("Historical")}</h3>
        <div class="alert alert-warn">${gettext("Found among late or back-filled readings after it had already ended: recorded for the history, never dispatched.")}</div>
      </section>`;
    }
    if (w.status === "closed") {
      return html`<section class="detail-section" data-closed>
        <h3>${gettext("Disposal")}</h3>
        <div class="alert alert-ok">${t(gettext("Closed %(time)s by %(user)s."), { time: fmt.dateTime(w.closed_at), user: w.closed_by || "–" })}</div>
        ${w.closed_while_active ? html`<div class="alert alert-warn" data-closed-while-active>${gettext("Closed while the sensor was still in warning.")}</div>` : ""}
        <div class="note-box">${w.disposal_note}</div>
        <p><a class="btn btn-sm" data-summary-link href="${CS.urlFor(urls.summaryPage, w.id)}">${gettext("Event summary")}</a></p>
      </section>`;
    }
    // A transferred order is done: its successor, in the list too, stands for it.
    const list = orders ? [...orders.values()].filter((o) => o.status !== "transferred") : [];
    const waiting = list.filter((o) => o.status !== "verified" && o.status !== "closed");
    const verified = list.length - waiting.length;
    const progress = list.length
      ? t(gettext("%(verified)s of %(total)s reports verified."), { verified, total: list.length })
      : gettext("No work orders: the warning can be closed with a disposal note.");
    // Closing waits for every report: the button says why it cannot be pressed yet.
    const blocked = waiting.length > 0;
    const why = blocked
      ? t(gettext("The warning can be closed once every report is verified; waiting for: %(names)s."), {
          names: waiting.map((o) => o.department.name).join(gettext(", ")),
        })
      : "";
    const active = w.status === "active";
    const disabled = state.closing || blocked;
    return html`<section class="detail-section">
      <h3>${gettext("Close the warning")}</h3>
      <form class="close-form" id="close-form" novalidate>
        ${active ? stillActiveBox(w) : ""}
        <label for="close-note">${active ? gettext("Reason for closing an active warning") : gettext("Disposal note")}</label>
        <textarea class="input" id="close-note" name="note" data-keep="close-note" rows="3" maxlength="8000"
          placeholder="${active ? gettext("Why the warning is closed while its sensor is still in warning") : gettext("What happened, what was done, and the result")}" ${state.closing ? "disabled" : ""}>${state.closeDraft}</textarea>
        <div class="form-actions">
          <button type="submit" class="btn btn-danger ${state.closing ? "is-busy" : ""}" aria-describedby="close-why" ${disabled ? "disabled" : ""}
            title="${why}" data-blocked="${blocked ? "true" : "false"}">${active ? gettext("Close active warning") : gettext("Close warning")}</button>
          <span class="form-hint" id="close-why" data-close-progress>${progress}${why ? html` <span class="close-why" data-close-why>${why}</span>` : ""}</span>
        </div>
        <p class="form-error" role="alert" id="close-error">${state.closeError}</p>
      </form>
    </section>`;
  }

  /** An active warning closes only by an explicit choice, with a reason. */
  function stillActiveBox(w) {
    const where = w.current_level
      ? t(gettext("The sensor still reads %(value)s, at %(level)s."), { value: fmt.value(w.last_value, w.sensor.unit), level: CS.shortLabel("level", w.current_level) })
      : t(gettext("The sensor still reads %(value)s, not yet back past the dead band."), { value: fmt.value(w.last_value, w.sensor.unit) });
    return html`<div class="alert alert-warn still-active" data-still-active>
      <p>${where} ${gettext("The warning is active: its next reading would open a new one.")}</p>
      <label class="check"><input type="checkbox" id="close-active" data-keep="close-active" ${state.closeActive ? "checked" : ""} ${state.closing ? "disabled" : ""}>
        ${gettext("Close it anyway, although the sensor is still in warning")}</label>
    </div>`;
  }

  /** The incident passed to its present primary when the one before closed or was ruled a false alarm. */
  function handOver(incident) {
    if (!incident.handed_over_from) return "";
    return html`<p class="incident-hand-over" data-handed-over-from="${incident.handed_over_from}">${t(gettext("Passed on from #%(id)s (%(reason)s)."), {
      id: incident.handed_over_from,
      reason: CS.label("transitionKind", incident.handed_over_reason),
    })}</p>`;
  }

  /** The incident's members, and the way to silence the sensor for maintenance. */
  function incidentSection(w) {
    const silence = w.status === "closed" ? "" : html`<a class="btn btn-sm" data-silence-sensor href="${config.urls.silences}?sensor=${w.sensor.id}">${gettext("Silence this sensor…")}</a>`;
    if (!w.incident) return silence ? html`<section class="detail-section detail-actions">${silence}</section>` : "";
    const members = [...state.warnings.values()].filter((m) => m.incident && m.incident.id === w.incident.id).sort((a, b) => a.id - b.id);
    return html`<section class="detail-section" data-detail-incident="${w.incident.id}">
      <h3>${w.incident.asset ? t(gettext("Incident on %(asset)s"), { asset: w.incident.asset }) : gettext("Incident")} <span class="badge">${members.length}</span></h3>
      <p class="muted">${gettext("Its primary warning is routed; the others are part of the same event and share its work orders, raised to the worst level among them.")}</p>
      ${handOver(w.incident)}
      <ul class="incident-members">${members.map(
        (m) => html`<li><button type="button" class="btn btn-ghost btn-sm" data-open-warning="${m.id}">${CS.shortLabel("level", m.level)} · ${m.sensor.name} <span class="mono">#${m.id}</span>${m.id === w.incident.primary ? html` · ${gettext("primary")}` : ""}</button></li>`,
      )}</ul>
      ${silence}
    </section>`;
  }

  function renderDetail() {
    if (!state.selected || !state.detail) return;
    const { warning: w, orders, error, loading } = state.detail;
    if (!w) {
      CS.patch(
        panel,
        html`<div class="detail-head"><h2 id="detail-title">${gettext("Warning")}</h2>
          <button type="button" class="btn btn-ghost close-x" data-close-detail aria-label="${gettext("Close")}">×</button></div>
          <div class="detail-body">${
            error
              ? html`<div class="alert alert-error" role="alert">${error}</div>`
              : html`<p class="list-state"><span class="spinner"></span> ${gettext("Loading…")}</p>`
          }</div>`,
      );
      return;
    }
    const unit = w.sensor.unit;
    const sub = [w.sensor.code, w.sensor.type, w.domain.name, w.district ? w.district.name : null].filter(Boolean).join(" · ");
    const orderList = orders ? [...orders.values()].sort((a, b) => a.id - b.id) : null;
    CS.patch(
      panel,
      html`<div class="detail-head level-${w.level} status-${w.status}" data-detail-id="${w.id}" style="${CS.colourStyle("level", w.level)}">
        ${peakBadge(w)}
        <div>
          <h2 id="detail-title">${w.sensor.name}</h2>
          <div class="sub">${sub}</div>
          <div class="sub">${CS.workOrderCards.statusChip("warningStatus", w.status, w.status_display)} ${currentLevelChip(w)} ${flappingChip(w)} <span class="mono">#${w.id}</span> · ${w.rule.name}</div>
        </div>
        <button type="button" class="btn btn-ghost close-x" data-close-detail aria-label="${gettext("Close")}" title="${gettext("Close")}">×</button>
      </div>
      <div class="detail-body">
        ${error ? html`<div class="alert alert-error" role="alert">${error}</div>` : ""}
        ${verificationNote(w, orders)}
        ${w.status === "closed" ? closeSection(w, orders) : ""}
        ${incidentSection(w)}
        <section class="detail-section">
          <h3>${gettext("Readings")}</h3>
          <div class="values">
            <div class="value-box"><span class="vb-label">${gettext("Current value")}</span><span class="vb-value">${fmt.number(w.last_value)}</span><span class="vb-unit">${unit}</span></div>
            <div class="value-box peak"><span class="vb-label">${gettext("Peak")}</span><span class="vb-value">${fmt.number(w.peak_value)}</span><span class="vb-unit">${unit}</span></div>
            <div class="value-box"><span class="vb-label">${gettext("First value")}</span><span class="vb-value">${fmt.number(w.first_value)}</span><span class="vb-unit">${unit}</span></div>
          </div>
          <dl class="kv">
            <dt>${CS.label("transitionKind", "opened")}</dt><dd>${fmt.dateTime(w.opened_at)}</dd>
            <dt>${gettext("Last reading")}</dt><dd>${fmt.dateTime(w.last_observed_at)}</dd>
            ${w.recovered_at ? html`<dt>${CS.label("transitionKind", "recovered")}</dt><dd>${fmt.dateTime(w.recovered_at)}</dd>` : ""}
            <dt>${gettext("Address")}</dt><dd>${w.sensor.address || "–"}</dd>
            <dt>${gettext("Location")}</dt><dd class="mono">${w.sensor.location[0].toFixed(5)}, ${w.sensor.location[1].toFixed(5)}</dd>
          </dl>
        </section>
        <section class="detail-section">
          <h3>${gettext("Thresholds")}</h3>
          <table class="thresholds"><tbody>${thresholdRows(w)}
            <tr><td class="muted">${gettext("Dead band")}</td><td class="num">${fmt.value(w.rule.dead_band, unit)}</td></tr>
          </tbody></table>
        </section>
        <section class="detail-section">
          <h3>${gettext("Level history")}</h3>
          ${
            w.transitions
              ? w.transitions.length
                ? html`<ol class="timeline">${w.transitions.map((tr) => transitionLine(tr, unit))}</ol>`
                : html`<p class="muted">${gettext("No changes recorded.")}</p>`
              : html`<p class="muted"><span class="spinner"></span> ${gettext("Loading…")}</p>`
          }
        </section>
        <section class="detail-section" data-detail-orders>
          <h3>${gettext("Work orders")} ${orderList ? html`<span class="badge">${orderList.length}</span>` : ""}</h3>
          ${
            orderList == null
              ? html`<p class="muted"><span class="spinner"></span> ${gettext("Loading…")}</p>`
              : orderList.length
                ? orderList.map((o) => cards.card(o, { showWarning: false, timelineOpen: true }))
                : html`<p class="muted">${gettext("No work orders were routed for this warning.")}</p>`
          }
        </section>
        ${(loading && !orders) || w.status === "closed" ? "" : closeSection(w, orders)}
      </div>`,
    );
  }

  panel.addEventListener("click", (event) => {
    if (event.target.closest("[data-close-detail]")) closeDetail();
    const member = event.target.closest("[data-open-warning]");
    if (member) select(Number(member.dataset.openWarning));
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDetail();
  });
  panel.addEventListener("input", (event) => {
    if (event.target.id === "close-note") {
      state.closeDraft = event.target.value;
      if (state.closeError && state.closeDraft.trim()) {
        state.closeError = "";
        document.getElementById("close-error").textContent = "";
      }
    }
  });
  panel.addEventListener("change", (event) => {
    if (event.target.id === "close-active") {
      state.closeActive = event.target.checked;
      state.closeError = "";
      renderDetail();
    }
  });
  panel.addEventListener("submit", async (event) => {
    if (event.target.id !== "close-form") return;
    event.preventDefault();
    const id = state.selected;
    const note = state.closeDraft.trim();
    const active = state.detail && state.detail.warning && state.detail.warning.status === "active";
    if (active && !state.closeActive) {
      state.closeError = gettext("The sensor is still in warning: tick “Close it anyway” and give the reason, or wait until it recovers.");
      renderDetail();
      document.getElementById("close-active").focus();
      return;
    }
    if (!note) {
      state.closeError = active
        ? gettext("Give the reason for closing a warning whose sensor is still in warning.")
        : gettext("Write a disposal note before closing the warning.");
      renderDetail();
      document.getElementById("close-note").focus();
      return;
    }
    state.closing = true;
    state.closeError = "";
    renderDetail();
    try {
      const warning = await CS.api(CS.urlFor(urls.close, id), { method: "POST", body: { note, close_active: Boolean(active && state.closeActive) } });
      state.closing = false;
      state.closeDraft = "";
      state.closeActive = false;
      if (state.selected === id) state.detail = { ...state.detail, warning };
      applyWarning(warning);
      render();
      CS.toast(t(gettext("Warning #%(id)s closed."), { id }), { kind: "ok" });
      panel.scrollTop = 0;
      reloadDetail();
    } catch (error) {
      state.closing = false;
      state.closeError = error.message;
      renderDetail();
    }
  });

  // --- Data and live updates -------------------------------------------------------------
  function applyWarning(warning) {
    const known = state.warnings.get(warning.id);
    if (warning.status === "closed") state.warnings.delete(warning.id);
    else state.warnings.set(warning.id, warning);
    if (warning.domain) state.domains.set(warning.domain.code, warning.domain.name);
    // A warning moves because its sensor reported: the sensor is online with this value.
    const sensor = state.sensors.get(warning.sensor.id);
    if (sensor && warning.status !== "closed") {
      const props = sensor.properties;
      if (!props.latest_observed_at || new Date(warning.last_observed_at) >= new Date(props.latest_observed_at)) {
        props.latest_value = warning.last_value;
        props.latest_observed_at = warning.last_observed_at;
        props.status = "online";
      }
    }
    if (state.selected === warning.id && state.detail && state.detail.warning) {
      // Keep the history until the reload brings the new one; a new value
      // alone (pushed every second or two) changes no history.
      const before = state.detail.warning;
      state.detail.warning = { ...before, ...warning };
      renderDetail();
      if (before.level !== warning.level || before.status !== warning.status) reloadDetail();
    }
    return known;
  }

  /** A verdict given (here or elsewhere), or a warning held for one: the open detail says so. */
  function applyVerification(warning) {
    if (state.selected !== warning.id || !state.detail || !state.detail.warning) return;
    state.detail.warning = { ...state.detail.warning, ...warning };
    renderDetail();
  }

  /** 研判: a warning waiting for a duty officer's verdict, and where to give it. */
  function verificationNote(w, orders) {
    if (w.verification !== "pending" || w.status === "closed") return "";
    const dispatched = orders && orders.size;
    return html`<div class="alert alert-warn" role="status" data-awaiting-verification>
      ${dispatched ? gettext("Dispatched, and awaiting verification in parallel.") : gettext("Awaiting verification: its work orders go out once a duty officer confirms it.")}
      <a href="${urls.verification}">${gettext("Verify")}</a></div>`;
  }

  function applyOrder(order) {
    if (!state.detail || state.selected !== order.warning.id || !state.detail.orders) return;
    state.detail.orders.set(order.id, order);
    renderDetail();
  }

  /** What a pushed warning means for the duty officer, or null when it is no news. */
  function newsOf(warning, known) {
    if (warning.status !== "active") return null;
    const params = { level: CS.shortLabel("level", warning.level), sensor: warning.sensor.name };
    if (!known) return t(gettext("New %(level)s warning: %(sensor)s"), params);
    if (warning.level < known.level) return t(gettext("Escalated to %(level)s: %(sensor)s"), params);
    if (known.status !== "active") return t(gettext("Active again at %(level)s: %(sensor)s"), params);
    return null;
  }

  // Pushed messages are applied together once per animation frame: a storm
  // of warnings renders the list and the markers once a frame, not once a message.
  let pending = [];
  let flushScheduled = false;
  function onMessage(message) {
    pending.push(message);
    if (!flushScheduled) {
      flushScheduled = true;
      // requestAnimationFrame does not run in a hidden tab; the timer does.
      const flush = () => {
        if (flushScheduled) flushMessages();
      };
      requestAnimationFrame(flush);
      setTimeout(flush, 250);
    }
  }

  /** Most toasts at once; past that, one toast says how many more. */
  const TOASTS_PER_FLUSH = 3;

  function flushMessages() {
    flushScheduled = false;
    const messages = pending;
    pending = [];
    const news = [];
    let mapTouched = false;
    const view = map.getBounds().pad(VIEW_PADDING);
    for (const message of messages) {
      if (message.type === "warning.changed") {
        const warning = message.warning;
        const known = applyWarning(warning);
        const text = newsOf(warning, known);
        if (text) {
          news.push({ text, level: warning.level, subject: `warning:${warning.id}` });
          state.fresh.add(warning.id);
          setTimeout(() => state.fresh.delete(warning.id), 2500);
        }
        const [lng, lat] = warning.sensor.location;
        if (view.contains([lat, lng])) mapTouched = true;
      } else if (message.type === "work_order.changed") {
        applyOrder(message.work_order);
      } else if (message.type === "verification.changed") {
        applyVerification(message.warning);
      } else if (message.type === "gateway_outage.changed") {
        news.push(...applyOutages(message.outages));
      }
    }
    news.sort((a, b) => a.level - b.level);
    for (const item of news.slice(0, TOASTS_PER_FLUSH)) {
      CS.toast(item.text, { colour: CS.colour("level", item.level), timeout: 10000, subject: item.subject });
    }
    if (news.length > TOASTS_PER_FLUSH) {
      CS.toast(t(gettext("And %(count)s more warnings changed."), { count: news.length - TOASTS_PER_FLUSH }), { timeout: 10000 });
    }
    render();
    // Only a change the map shows redraws its clusters.
    if (mapTouched && state.clustered) refreshMapSoon();
  }


  async function fetchWarnings() {
    const { results, complete } = await CS.fetchAll(`${urls.warnings}?status=open`, { maxPages: 40 });
    const apiCounts = complete ? null : await CS.api(`${urls.counts}?status=open`);
    return { results, complete, apiCounts };
  }

  function applyWarnings({ results, complete, apiCounts }) {
    state.warnings = new Map(results.map((w) => [w.id, w]));
    for (const w of results) state.domains.set(w.domain.code, w.domain.name);
    state.warningsComplete = complete;
    state.apiCounts = apiCounts;
    state.warningsLoaded = true;
  }

  async function loadWarnings() {
    applyWarnings(await fetchWarnings());
  }

  /**
   * The list need not wait for the socket's hello: show the open warnings at
   * once. The resync after connecting reads them again (what changed in
   * between was not heard), and wins if it is first.
   */
  async function loadWarningsEarly() {
    try {
      const early = await fetchWarnings();
      if (state.warningsLoaded) return;
      applyWarnings(early);
      renderDomains();
      render();
    } catch (_error) {
      /* the resync after connecting tries again, and says so if it fails */
    }
  }

  /** The box and zoom the map shows, a little larger than the screen. */
  function currentView() {
    const bounds = map.getBounds().pad(VIEW_PADDING);
    const clamp = (value, limit) => Math.max(-limit, Math.min(limit, value)).toFixed(5);
    const bbox = [clamp(bounds.getWest(), 180), clamp(bounds.getSouth(), 90), clamp(bounds.getEast(), 180), clamp(bounds.getNorth(), 90)];
    return `bbox=${bbox.join(",")}&zoom=${map.getZoom()}`;
  }

  let mapRequest = null; // {view, controller} of the request in flight
  let drawnView = null;

  /**
   * Ask the server for what the map shows; a newer view cancels an older
   * request. Resolves true when this view was loaded, false when it was not
   * needed or a newer one took its place.
   */
  function loadMap({ force = false, totals = false } = {}) {
    const view = currentView();
    if (!force && (view === drawnView || (mapRequest && mapRequest.view === view))) return Promise.resolve(false);
    if (mapRequest) mapRequest.controller.abort();
    const request = { view, totals, controller: new AbortController() };
    mapRequest = request;
    request.done = fetchView(request);
    return request.done;
  }

  async function fetchView(request) {
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
  function drawMap() {
    renderWarningMarkers(state.warningsLoaded ? filteredWarnings() : []);
    renderSensors();
    requestAnimationFrame(() => {
      state.mapDraws += 1;
      performance.mark(`map-drawn-${state.mapDraws}`);
      mapNode.dataset.draws = String(state.mapDraws);
      mapNode.dataset.clustered = String(state.clustered);
    });
  }

  async function refreshMap(options) {
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
  async function refreshMapAfterSync() {
    if (mapRequest) await mapRequest.done.catch(() => false);
    await refreshMap({ force: true, totals: true });
  }

  const refreshMapAfterMove = CS.debounce(() => refreshMap(), MAP_MOVE_SETTLE_MS);
  map.on("moveend", () => {
    renderWarningMarkers(state.warningsLoaded ? filteredWarnings() : []);
    refreshMapAfterMove();
  });

  // Live changes in view: at most one refresh per MAP_LIVE_REFRESH_MS, the last change always included.
  let liveRefreshTimer = null;
  let liveRefreshAgain = false;
  function refreshMapSoon() {
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

  let districtsLoading = null; // one request at a time; forgotten when it fails, so the next call tries again
  function loadDistricts() {
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

  let retryTimer = null;
  async function resync() {
    clearTimeout(retryTimer);
    try {
      await live.sync(() => Promise.all([loadWarnings(), loadDistricts(), loadOutages()]));
      state.loadError = null;
    } catch (error) {
      state.loadError = error.message;
      // The socket may be fine while the API is not (a 503 while the database restarts).
      retryTimer = setTimeout(() => live.state === "connected" && resync(), RETRY_MS);
    }
    renderDomains();
    render();
    refreshMapAfterSync();
    if (state.selected) loadDetail(state.selected);
  }

  setInterval(async () => {
    if (live.state !== "connected" || live.syncing) return;
    await refreshMap({ force: true, totals: true }); // a failure: the next refresh or resync tries again
  }, SENSOR_REFRESH_MS);

  // Evaluation lagging behind ingestion (a storm, a stopped worker): the
  // warnings on screen may be late, and the duty officer must know it.
  const lagNode = document.getElementById("evaluation-lag");
  async function checkBacklog() {
    try {
      const backlog = await CS.api(urls.backlog);
      lagNode.hidden = !backlog.lagging;
      if (backlog.lagging) {
        lagNode.textContent = t(gettext("Evaluation is %(lag)s behind: readings of %(sensors)s sensors wait to be checked against their thresholds."), {
          lag: fmt.duration(backlog.lag_seconds * 1000),
          sensors: backlog.waiting_sensors,
        });
      }
    } catch (_error) {
      /* the next check tries again; a dead API shows elsewhere */
    }
  }
  checkBacklog();
  setInterval(checkBacklog, BACKLOG_CHECK_MS);

  // A gateway gone silent is one warning for all its sensors (inhibition):
  // the sensors' own no-data warnings are folded into it. The list is read
  // on each (re)connection (resync) and kept by the pushes in between.
  const outagesNode = document.getElementById("gateway-outages");
  async function loadOutages() {
    const outages = await CS.api(urls.gatewayOutages);
    state.outages = new Map(outages.map((outage) => [outage.id, outage]));
    renderOutages();
  }

  /** Apply pushed outages (a recovered one leaves the list); the news of gateways newly silent. */
  function applyOutages(outages) {
    const news = [];
    for (const outage of outages) {
      const known = state.outages.has(outage.id);
      if (outage.status !== "active") {
        state.outages.delete(outage.id);
        continue;
      }
      state.outages.set(outage.id, outage);
      if (!known) {
        news.push({
          text: t(gettext("Gateway %(code)s silent: %(sensors)s sensors without data."), {
            code: outage.gateway_code,
            sensors: outage.silent_sensors,
          }),
          level: outage.level,
          subject: `outage:${outage.id}`,
        });
      }
    }
    renderOutages();
    return news;
  }

  function compareOutages(a, b) {
    return a.level - b.level || Date.parse(a.opened_at) - Date.parse(b.opened_at) || a.id - b.id;
  }

  function renderOutages() {
    const outages = [...state.outages.values()].sort(compareOutages);
    outagesNode.hidden = outages.length === 0;
    outagesNode.replaceChildren(
      ...outages.map((outage) => {
        const item = document.createElement("li");
        item.className = "alert gateway-outage";
        item.style.setProperty("--c", CS.colour("level", outage.level));
        item.dataset.gateway = outage.gateway_code;
        item.textContent = t(gettext("%(level)s · gateway %(code)s (%(name)s) silent since %(time)s: %(sensors)s sensors without data."), {
          level: CS.shortLabel("level", outage.level),
          code: outage.gateway_code,
          name: outage.gateway_name,
          time: fmt.dateTime(outage.last_seen_at || outage.opened_at),
          sensors: outage.silent_sensors,
        });
        return item;
      }),
    );
  }

  // The map, the district outlines and a first list need no socket: ask for them at once.
  // The city's totals (a pass over every sensor) come with the read after connecting.
  refreshMap({ force: true });
  loadWarningsEarly();
  loadDistricts().catch(() => {
    /* the resync after connecting tries again */
  });

  const live = CS.startLive();
  live.addEventListener("connected", () => resync());
  live.addEventListener("message", (event) => onMessage(event.detail));
  live.start();

  window.citysafetyDashboard = { state, map, select, resync, render, refreshMap };
})();

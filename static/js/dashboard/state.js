/* The one map's config (from the page, in the reader's language), its constants, and the state the other modules share. */
export const CS = window.CS;
export const L = window.L;
export const { html, fmt, t, gettext } = CS;
export const ngettext = window.ngettext || ((singular, plural, n) => (n === 1 ? singular : plural));
// The maintenance badge's wrench, drawn: the duty screens' fonts may have no emoji.
export const WRENCH = CS.raw('<svg viewBox="0 0 24 24" width="11" height="11" aria-hidden="true"><path fill="currentColor" d="M22.7 19l-9.1-9.1c.9-2.3.4-5-1.5-6.9-2-2-5-2.4-7.4-1.3L9 6 6 9 1.6 4.7C.4 7.1.9 10.1 2.9 12.1c1.9 1.9 4.6 2.4 6.9 1.5l9.1 9.1c.4.4 1 .4 1.4 0l2.3-2.3c.5-.4.5-1.1.1-1.4z"/></svg>');
export const config = CS.config("dashboard-config");
export const urls = config.urls;
export const baseTitle = document.title;

// Levels and sensor statuses, their labels and colours: from the config (CS.choices).
export const LEVELS = CS.values("level").map(Number); // most severe first
export const SENSOR_STATUSES = CS.values("sensorStatus");
// Sensor status and latest values are not pushed; refresh the view this often.
export const SENSOR_REFRESH_MS = 60000;
// The map asks for its view once it has stopped moving this long.
export const MAP_MOVE_SETTLE_MS = 150;
// Pushed warnings inside the view redraw the map's clusters at most this
// often (coalesced): a storm of warnings costs one small request a second.
export const MAP_LIVE_REFRESH_MS = 1000;
// The view asked for reaches this far (a fraction of its size) past the
// screen's edges, so a short pan shows no empty border.
export const VIEW_PADDING = 0.2;
// A click on a cluster zooms to its members, no closer than street level.
export const CLUSTER_ZOOM_IN_MAX = 16;
// How often the page asks whether the worker, beat and the MQTT bridge still run.
export const HEALTH_CHECK_MS = 30000;
// How often the page asks whether evaluation lags behind.
export const BACKLOG_CHECK_MS = 5000;
// A failed resync is tried again after this long.
export const RETRY_MS = 5000;

export const state = {
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

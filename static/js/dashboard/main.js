/* The one map (一张图): sensors and open warnings on the city's districts,
 * a live list of warnings, counters per level, and a warning's detail with
 * its level history and work orders, where the duty officer closes it.
 *
 * Native ES modules, one per concern, no build step:
 *   state.js   the page's config, its constants and the shared state
 *   layers.js  the map, its layers (districts, sensors, clusters, warnings) and the view's loading
 *   list.js    the side column: open warnings, counters, filters, gateway outages, evaluation lag
 *   detail.js  a warning's detail panel, its work orders, closing
 *   chart.js   the detail's readings chart (ECharts): 24 hours or 7 days, thresholds, transitions
 *   live.js    the socket: pushed changes, resync after (re)connecting
 *   health.js  the red banner while the worker, beat or the MQTT bridge has stopped
 *   surroundings.js  protection targets, resources, risk areas and cameras, as layers to turn on
 * A new map layer goes beside layers.js (imported here), a panel beside detail.js.
 */
import { state } from "./state.js";
import { map, refreshMap, loadDistricts } from "./layers.js";
import { render } from "./list.js";
import { select } from "./detail.js";
import { live, resync, loadWarningsEarly } from "./live.js";
import { checkHealth, watchHealth } from "./health.js";
import { chart } from "./chart.js";
import { surroundings } from "./surroundings.js";

// The map, the district outlines and a first list need no socket: ask for them at once.
// The city's totals (a pass over every sensor) come with the read after connecting.
refreshMap({ force: true });
loadWarningsEarly();
loadDistricts().catch(() => {
  /* the resync after connecting tries again */
});
live.start();
watchHealth();

window.citysafetyDashboard = { state, map, select, resync, render, refreshMap, checkHealth, chart, surroundings };

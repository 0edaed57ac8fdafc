/* Pushed changes from the socket, applied once a frame, and the resync after each (re)connection. */
import { CS, t, gettext, ngettext, urls, SENSOR_REFRESH_MS, VIEW_PADDING, RETRY_MS, state } from "./state.js";
import { map, refreshMap, refreshMapAfterSync, refreshMapSoon, loadDistricts } from "./layers.js";
import { renderDomains, render, loadOutages, applyOutages } from "./list.js";
import { loadDetail, reloadDetail, renderDetail, applyVerification, applyOrder } from "./detail.js";

// --- Data and live updates -------------------------------------------------------------
export function applyWarning(warning) {
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

/** What a pushed warning means for the duty officer, or null when it is no news. */
export function newsOf(warning, known) {
  if (warning.status !== "active") return null;
  const params = { level: CS.shortLabel("level", warning.level), sensor: warning.sensor.name };
  if (!known) return t(gettext("New %(level)s warning: %(sensor)s"), params);
  if (warning.level < known.level) return t(gettext("Escalated to %(level)s: %(sensor)s"), params);
  if (known.status !== "active") return t(gettext("Active again at %(level)s: %(sensor)s"), params);
  return null;
}

// Pushed messages are applied together once per animation frame: a storm
// of warnings renders the list and the markers once a frame, not once a message.
export let pending = [];
export let flushScheduled = false;
export function onMessage(message) {
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
export const TOASTS_PER_FLUSH = 3;

export function flushMessages() {
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
    CS.toast(t(ngettext("And %(count)s more warning changed.", "And %(count)s more warnings changed.", news.length - TOASTS_PER_FLUSH), { count: news.length - TOASTS_PER_FLUSH }), { timeout: 10000 });
  }
  render();
  // Only a change the map shows redraws its clusters.
  if (mapTouched && state.clustered) refreshMapSoon();
}


export async function fetchWarnings() {
  const { results, complete } = await CS.fetchAll(`${urls.warnings}?status=open`, { maxPages: 40 });
  const apiCounts = complete ? null : await CS.api(`${urls.counts}?status=open`);
  return { results, complete, apiCounts };
}

export function applyWarnings({ results, complete, apiCounts }) {
  state.warnings = new Map(results.map((w) => [w.id, w]));
  for (const w of results) state.domains.set(w.domain.code, w.domain.name);
  state.warningsComplete = complete;
  state.apiCounts = apiCounts;
  state.warningsLoaded = true;
}

export async function loadWarnings() {
  applyWarnings(await fetchWarnings());
}

/**
 * The list need not wait for the socket's hello: show the open warnings at
 * once. The resync after connecting reads them again (what changed in
 * between was not heard), and wins if it is first.
 */
export async function loadWarningsEarly() {
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

export let retryTimer = null;
export async function resync() {
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


export const live = CS.startLive();
live.addEventListener("connected", () => resync());
live.addEventListener("message", (event) => onMessage(event.detail));

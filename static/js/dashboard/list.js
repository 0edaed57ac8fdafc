/* The side column: open warnings, counters per level, filters, gateways gone silent, evaluation lag. */
import { CS, html, fmt, t, gettext, ngettext, urls, baseTitle, LEVELS, BACKLOG_CHECK_MS, state } from "./state.js";
import { renderSensors, renderWarningMarkers } from "./layers.js";
import { select } from "./detail.js";
import { resync } from "./live.js";

// --- Warning list, counters, filters ------------------------------------------------
export const listNode = document.getElementById("warning-list");
export const domainSelect = document.getElementById("filter-domain");
export const statusSelect = document.getElementById("filter-status");
export const resetButton = document.getElementById("filter-reset");

export function compareWarnings(a, b) {
  if (a.status !== b.status) return a.status === "active" ? -1 : 1;
  if (a.level !== b.level) return a.level - b.level;
  return new Date(b.opened_at) - new Date(a.opened_at) || b.id - a.id;
}

export function filteredWarnings() {
  const { level, status, domain } = state.filters;
  return [...state.warnings.values()]
    .filter((w) => (level ? w.level === level && w.status === "active" : true))
    .filter((w) => (status ? w.status === status : true))
    .filter((w) => (domain ? w.domain.code === domain : true))
    .sort(compareWarnings);
}

/** The warning's level is the worst it reached; a recovered one's badge is dimmed. */
export function peakBadge(w) {
  const title = w.status === "active" ? gettext("Highest level reached") : t(gettext("Reached %(level)s; recovered"), { level: CS.shortLabel("level", w.level) });
  return html`<span class="peak-badge ${w.status === "active" ? "" : "is-dimmed"}" title="${title}" data-peak-level="${w.level}">${CS.workOrderCards.levelBadge(w.level)}</span>`;
}

/** Where the sensor stands now, when that is not the warning's (peak) level. */
export function currentLevelChip(w) {
  if (w.status !== "active" || w.current_level == null || w.current_level === w.level) return "";
  if (!w.current_level) {
    return html`<span class="now-chip" data-now-level="0">${gettext("Now below every threshold (inside the dead band)")}</span>`;
  }
  return html`<span class="now-chip" data-now-level="${w.current_level}" style="${CS.colourStyle("level", w.current_level)}">${t(gettext("Now %(level)s"), { level: CS.shortLabel("level", w.current_level) })}</span>`;
}

/** Flapping: recovers and comes back often; its changes reach the screen in batches. */
export function flappingChip(w) {
  if (!w.is_flapping) return "";
  return html`<span class="flap-chip" data-flapping title="${gettext("Recovers and comes back often: its changes are shown in batches, not one by one.")}">${gettext("Flapping")}</span>`;
}

/** An incident's warnings share one row, the worst of them; the chip says how many and on what. */
export function incidentChip(w, members) {
  if (!w.incident) return "";
  const what = w.incident.asset
    ? t(ngettext("Incident on %(asset)s · %(count)s warning", "Incident on %(asset)s · %(count)s warnings", members), { asset: w.incident.asset, count: members })
    : t(ngettext("Incident · %(count)s warning", "Incident · %(count)s warnings", members), { count: members });
  return html`<span class="incident-chip" data-incident-id="${w.incident.id}" data-members="${members}">${what}</span>`;
}

export function incidentRows(visible) {
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

export function warningItem({ w, members }) {
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

export function renderList(visible) {
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

export function counts() {
  if (!state.warningsComplete && state.apiCounts) return state.apiCounts;
  const result = { open: 0, recovered: 0, active_by_level: Object.fromEntries(LEVELS.map((level) => [level, 0])) };
  for (const w of state.warnings.values()) {
    result.open += 1;
    if (w.status === "recovered") result.recovered += 1;
    else if (w.status === "active") result.active_by_level[w.level] += 1;
  }
  return result;
}

export let lastCounts = {};
export function renderCounters() {
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

export function renderDomains() {
  const current = domainSelect.value;
  const options = [...state.domains.entries()].sort((a, b) => a[1].localeCompare(b[1], CS.locale));
  domainSelect.replaceChildren(new Option(gettext("All domains"), ""), ...options.map(([code, name]) => new Option(name, code)));
  domainSelect.value = state.domains.has(current) ? current : "";
}

export function render() {
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


// Evaluation lagging behind ingestion (a storm, a stopped worker): the
// warnings on screen may be late, and the duty officer must know it.
export const lagNode = document.getElementById("evaluation-lag");
export async function checkBacklog() {
  try {
    const backlog = await CS.api(urls.backlog);
    lagNode.hidden = !backlog.lagging;
    if (backlog.lagging) {
      lagNode.textContent = t(ngettext("Evaluation is %(lag)s behind: readings of %(sensors)s sensor wait to be checked against its thresholds.", "Evaluation is %(lag)s behind: readings of %(sensors)s sensors wait to be checked against their thresholds.", backlog.waiting_sensors), {
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
export const outagesNode = document.getElementById("gateway-outages");
export async function loadOutages() {
  const outages = await CS.api(urls.gatewayOutages);
  state.outages = new Map(outages.map((outage) => [outage.id, outage]));
  renderOutages();
}

/** Apply pushed outages (a recovered one leaves the list); the news of gateways newly silent. */
export function applyOutages(outages) {
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
        text: t(ngettext("Gateway %(code)s silent: %(sensors)s sensor without data.", "Gateway %(code)s silent: %(sensors)s sensors without data.", outage.silent_sensors), {
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

export function compareOutages(a, b) {
  return a.level - b.level || Date.parse(a.opened_at) - Date.parse(b.opened_at) || a.id - b.id;
}

export function renderOutages() {
  const outages = [...state.outages.values()].sort(compareOutages);
  outagesNode.hidden = outages.length === 0;
  outagesNode.replaceChildren(
    ...outages.map((outage) => {
      const item = document.createElement("li");
      item.className = "alert gateway-outage";
      item.style.setProperty("--c", CS.colour("level", outage.level));
      item.dataset.gateway = outage.gateway_code;
      item.textContent = t(ngettext("%(level)s · gateway %(code)s (%(name)s) silent since %(time)s: %(sensors)s sensor without data.", "%(level)s · gateway %(code)s (%(name)s) silent since %(time)s: %(sensors)s sensors without data.", outage.silent_sensors), {
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

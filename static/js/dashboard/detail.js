/* A warning's detail: readings, thresholds, level history, work orders, and closing it. */
import { CS, L, html, fmt, t, gettext, ngettext, config, urls, LEVELS, state } from "./state.js";
import { map } from "./layers.js";
import { peakBadge, currentLevelChip, flappingChip, render } from "./list.js";
import { applyWarning } from "./live.js";
import { chartSection, mountChart, forgetChart } from "./chart.js";

// --- Detail -------------------------------------------------------------------------
export const panel = document.getElementById("warning-detail");
export let detailToken = 0;

export const cards = new CS.workOrderCards.OrderCards({
  urls,
  departmentId: null,
  showContact: true,
  duty: true,
  departments: config.departments || [],
  onUpdated: (order) => applyOrder(order),
});
cards.bind(panel, () => renderDetail());

export async function loadDetail(id) {
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
export const reloadDetail = CS.debounce(() => {
  if (state.selected) loadDetail(state.selected);
}, 250);

export function select(id, { fly = true } = {}) {
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

export function flyTo(warning) {
  const [lng, lat] = warning.sensor.location;
  const bounds = L.latLng(lat, lng).toBounds(4000);
  map.flyToBounds(bounds, { paddingBottomRight: [panel.offsetWidth || 0, 0], maxZoom: 13, duration: 0.6 });
}

export function closeDetail() {
  state.selected = null;
  state.detail = null;
  detailToken += 1;
  forgetChart();
  panel.hidden = true;
  panel.innerHTML = "";
  render();
}

// A band warns on both sides: its low threshold first ("≤ 0.3 · ≥ 1.2").
export function lowerSide(w, level) {
  const lower = w.rule.lower_thresholds;
  if (!lower) return "";
  return `${CS.symbol("direction", "below")} ${fmt.value(lower[String(level)], w.sensor.unit)} · `;
}

export function thresholdRows(w) {
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

// The rule may have changed since the warning opened (the audit trail keeps
// what stood then): say so, with the thresholds it was measured against.
export function thresholdsAtOpening(w) {
  const stood = w.thresholds_at_opening;
  if (!stood || !stood.changed_since) return "";
  const values = [...LEVELS]
    .reverse()
    .filter((level) => stood[`level${level}_threshold`] !== null)
    .map((level) => `${CS.shortLabel("level", level)} ${fmt.value(stood[`level${level}_threshold`], w.sensor.unit)}`);
  return html`<p class="alert alert-warn" data-thresholds-at-opening>${t(gettext("The rule has changed since this warning opened; then: %(thresholds)s."), { thresholds: values.join(" · ") })}</p>`;
}

export function transitionLine(tr, unit) {
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

export function closeSection(w, orders) {
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
    ? t(ngettext("%(verified)s of %(total)s report verified.", "%(verified)s of %(total)s reports verified.", list.length), { verified, total: list.length })
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
export function stillActiveBox(w) {
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
export function handOver(incident) {
  if (!incident.handed_over_from) return "";
  return html`<p class="incident-hand-over" data-handed-over-from="${incident.handed_over_from}">${t(gettext("Passed on from #%(id)s (%(reason)s)."), {
    id: incident.handed_over_from,
    reason: CS.label("transitionKind", incident.handed_over_reason),
  })}</p>`;
}

/** The incident's members, and the way to silence the sensor for maintenance. */
export function incidentSection(w) {
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

export function renderDetail() {
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
      ${chartSection()}
      <section class="detail-section">
        <h3>${gettext("Thresholds")}</h3>
        <table class="thresholds"><tbody>${thresholdRows(w)}
          <tr><td class="muted">${gettext("Dead band")}</td><td class="num">${fmt.value(w.rule.dead_band, unit)}</td></tr>
        </tbody></table>
        ${thresholdsAtOpening(w)}
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
  mountChart(w);
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


export function applyVerification(warning) {
  if (state.selected !== warning.id || !state.detail || !state.detail.warning) return;
  state.detail.warning = { ...state.detail.warning, ...warning };
  renderDetail();
}

/** 研判: a warning waiting for a duty officer's verdict, and where to give it. */
export function verificationNote(w, orders) {
  if (w.verification !== "pending" || w.status === "closed") return "";
  const dispatched = orders && orders.size;
  return html`<div class="alert alert-warn" role="status" data-awaiting-verification>
    ${dispatched ? gettext("Dispatched, and awaiting verification in parallel.") : gettext("Awaiting verification: its work orders go out once a duty officer confirms it.")}
    <a href="${urls.verification}">${gettext("Verify")}</a></div>`;
}

export function applyOrder(order) {
  if (!state.detail || state.selected !== order.warning.id || !state.detail.orders) return;
  state.detail.orders.set(order.id, order);
  renderDetail();
}

/* The verification queue (研判): warnings waiting for a duty officer's
 * verdict, most severe and longest waiting first, their age ticking, live over
 * the websocket. Confirm sends the work orders; a false alarm closes the
 * warning with its reason. */
(function () {
  "use strict";

  const CS = window.CS;
  const { html, t, gettext, fmt } = CS;
  const config = CS.config("verification-config");
  const listNode = document.getElementById("vq-list");
  const countNode = document.getElementById("vq-count");
  const oldestNode = document.getElementById("vq-oldest");
  const baseTitle = document.title;

  // A warning waiting longer than this is marked: someone should look now.
  const LONG_WAIT_MS = 10 * 60 * 1000;
  const RETRY_MS = 5000;

  const state = {
    warnings: new Map(),
    loaded: false,
    complete: true,
    loadError: null,
    form: null, // {id, reason, note}
    busy: null, // the id whose verdict is being sent
    errors: new Map(), // id -> message
  };

  function replace(rows, complete) {
    state.warnings = new Map(rows.map((w) => [w.id, w]));
    state.complete = complete;
    state.loaded = true;
  }

  function waitingSince(w) {
    return new Date(w.verification_requested_at || w.opened_at).getTime();
  }

  function compare(a, b) {
    return a.level - b.level || waitingSince(a) - waitingSince(b) || a.id - b.id;
  }

  function ageText(w, now) {
    return fmt.duration(now - waitingSince(w));
  }

  function fact(label, value, attrs = "") {
    return html`<div class="wo-fact"${CS.raw(attrs)}><span class="f-label">${label}</span><span class="f-value">${value}</span></div>`;
  }

  function falseAlarmForm(w) {
    const form = state.form;
    const busy = state.busy === w.id;
    return html`<form class="vq-form" data-false-alarm-form="${w.id}" novalidate>
      <label class="visually-hidden" for="vq-reason">${gettext("Reason")}</label>
      <select class="select select-sm" id="vq-reason" data-keep="vq-reason" ${busy ? "disabled" : ""}>
        <option value="">${gettext("Choose the reason…")}</option>
        ${CS.values("reason").map(
          (value) => html`<option value="${value}" ${form.reason === value ? "selected" : ""}>${CS.label("reason", value)}</option>`,
        )}
      </select>
      <label class="visually-hidden" for="vq-note">${gettext("Note")}</label>
      <textarea class="input" id="vq-note" data-keep="vq-note" rows="2" maxlength="4000" ${busy ? "disabled" : ""}
        placeholder="${form.reason === "other" ? gettext("What was it? (required for “Other”)") : gettext("Note (optional)")}">${form.note}</textarea>
      <div class="vq-buttons">
        <button type="button" class="btn btn-ghost btn-sm" data-cancel ${busy ? "disabled" : ""}>${gettext("Cancel")}</button>
        <button type="submit" class="btn btn-danger btn-sm ${busy ? "is-busy" : ""}" ${busy ? "disabled" : ""}>${gettext("Close as a false alarm")}</button>
      </div>
    </form>`;
  }

  function card(w, now) {
    const sub = [`#${w.id}`, w.sensor.code, w.domain.name, w.district ? w.district.name : null].filter(Boolean).join(" · ");
    const long = now - waitingSince(w) > LONG_WAIT_MS;
    const busy = state.busy === w.id;
    const formOpen = state.form && state.form.id === w.id;
    const error = state.errors.get(w.id);
    return html`<article class="wo-card" data-vq="${w.id}" data-level="${w.level}" style="${CS.colourStyle("level", w.level)}">
      <header class="wo-head">
        <span class="level-badge" style="${CS.colourStyle("level", w.level)}">${CS.shortLabel("level", w.level)}</span>
        <div class="wo-title"><h3 title="${w.sensor.name}">${w.sensor.name}</h3><div class="sub" title="${sub}">${sub}</div></div>
        <div class="wo-chips">
          <span class="status-chip" style="${CS.colourStyle("warningStatus", w.status)}">${CS.label("warningStatus", w.status)}</span>
        </div>
      </header>
      <div class="wo-body">
        <div class="wo-facts">
          ${fact(gettext("Waiting for"), html`<span class="vq-age ${long ? "is-long" : ""}" data-age="${w.id}">${ageText(w, now)}</span>`)}
          ${fact(gettext("Latest value"), fmt.value(w.last_value, w.sensor.unit))}
          ${fact(gettext("Peak value"), fmt.value(w.peak_value, w.sensor.unit))}
          ${fact(gettext("Opened at"), fmt.short(w.opened_at))}
          ${fact(gettext("Threshold rule"), w.rule.name)}
          ${fact(gettext("Sensor type"), w.sensor.type)}
        </div>
        ${w.sensor.address ? html`<div class="wo-address">${w.sensor.address}</div>` : ""}
      </div>
      <div class="wo-actions">
        ${error ? html`<p class="form-error" role="alert" data-error>${error}</p>` : ""}
        ${
          formOpen
            ? falseAlarmForm(w)
            : html`<div class="vq-buttons">
                <button type="button" class="btn btn-ok btn-sm ${busy ? "is-busy" : ""}" data-confirm="${w.id}" ${busy ? "disabled" : ""}>${gettext("Confirm and dispatch")}</button>
                <button type="button" class="btn btn-sm" data-open-false-alarm="${w.id}" ${busy ? "disabled" : ""}>${gettext("False alarm…")}</button>
              </div>`
        }
      </div>
    </article>`;
  }

  function renderHead(now) {
    const rows = [...state.warnings.values()];
    const count = rows.length;
    countNode.textContent = state.complete ? String(count) : `${count}+`;
    const oldest = rows.reduce((min, w) => Math.min(min, waitingSince(w)), Infinity);
    oldestNode.textContent = count ? fmt.duration(now - oldest) : "–";
    document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
  }

  function render() {
    const now = Date.now();
    renderHead(now);
    listNode.setAttribute("aria-busy", state.loaded ? "false" : "true");
    if (!state.loaded) {
      CS.patch(
        listNode,
        state.loadError
          ? html`<div class="list-state" role="alert">${t(gettext("Could not load the verification queue: %(error)s"), { error: state.loadError })}</div>`
          : html`<p class="list-state"><span class="spinner" aria-hidden="true"></span> ${gettext("Loading the verification queue…")}</p>`,
      );
      return;
    }
    const rows = [...state.warnings.values()].sort(compare);
    const banner = state.loadError
      ? html`<div class="alert alert-warn list-state" role="alert">${t(gettext("Could not refresh: %(error)s. Showing what was loaded before."), { error: state.loadError })}</div>`
      : "";
    if (!rows.length) {
      CS.patch(
        listNode,
        html`${banner}<div class="empty-state" id="vq-empty"><div class="empty-icon" aria-hidden="true">✓</div>
          <h2>${gettext("No warning is waiting for verification")}</h2>
          <p>${gettext("Warnings whose routing policy asks for verification appear here the moment they open.")}</p></div>`,
      );
      return;
    }
    CS.patch(listNode, html`${banner}${rows.map((w) => card(w, now))}`);
  }

  // --- Verdicts ------------------------------------------------------------------
  async function send(id, url, body, done) {
    state.busy = id;
    state.errors.delete(id);
    render();
    try {
      await CS.api(CS.urlFor(url, id), { method: "POST", body });
      state.warnings.delete(id);
      if (state.form && state.form.id === id) state.form = null;
      CS.toast(done, { kind: "ok" });
    } catch (error) {
      if (error.status === 409 || error.status === 404) {
        // Verified by someone else meanwhile, or closed: it has left the queue.
        state.warnings.delete(id);
        if (state.form && state.form.id === id) state.form = null;
        CS.toast(error.message, { kind: "error", timeout: 12000 });
      } else {
        state.errors.set(id, error.message);
      }
    } finally {
      state.busy = null;
      render();
    }
  }

  listNode.addEventListener("click", (event) => {
    const confirmButton = event.target.closest("[data-confirm]");
    if (confirmButton) {
      const id = Number(confirmButton.dataset.confirm);
      send(id, config.urls.confirm, {}, t(gettext("Warning #%(id)s confirmed: its work orders have gone out."), { id }));
      return;
    }
    const open = event.target.closest("[data-open-false-alarm]");
    if (open) {
      state.form = { id: Number(open.dataset.openFalseAlarm), reason: "", note: "" };
      render();
      document.getElementById("vq-reason").focus();
      return;
    }
    if (event.target.closest("[data-cancel]")) {
      state.form = null;
      render();
    }
  });
  listNode.addEventListener("input", (event) => {
    if (!state.form) return;
    if (event.target.id === "vq-note") state.form.note = event.target.value;
  });
  listNode.addEventListener("change", (event) => {
    if (!state.form || event.target.id !== "vq-reason") return;
    state.form.reason = event.target.value;
    state.errors.delete(state.form.id);
    render();
  });
  listNode.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = state.form;
    if (!form) return;
    // Said here before the server says it: the same rules as the API's.
    if (!form.reason) {
      state.errors.set(form.id, gettext("Choose the reason for the false alarm."));
      render();
      return;
    }
    if (form.reason === "other" && !form.note.trim()) {
      state.errors.set(form.id, gettext("Say what the false alarm was: the reason is “Other”."));
      render();
      return;
    }
    send(
      form.id,
      config.urls.falseAlarm,
      { reason: form.reason, note: form.note.trim() },
      t(gettext("Warning #%(id)s closed as a false alarm."), { id: form.id }),
    );
  });

  // --- Live -----------------------------------------------------------------------
  let retryTimer = null;
  async function resync() {
    clearTimeout(retryTimer);
    try {
      await live.sync(async () => {
        const { results, complete } = await CS.fetchAll(config.urls.unverified);
        replace(results, complete);
      });
      state.loadError = null;
    } catch (error) {
      state.loadError = error.message;
      retryTimer = setTimeout(() => live.state === "connected" && resync(), RETRY_MS);
    }
    render();
  }

  const live = CS.startLive();
  live.addEventListener("connected", () => resync());
  live.addEventListener("message", (event) => {
    const message = event.detail;
    const w = message.warning;
    if (!w) return;
    const known = state.warnings.has(w.id);
    if (message.type === "verification.changed") {
      if (w.verification === "pending" && w.status !== "closed") {
        state.warnings.set(w.id, w);
        if (!known) {
          CS.toast(
            t(gettext("Awaiting verification: %(level)s, %(sensor)s"), { level: CS.shortLabel("level", w.level), sensor: w.sensor.name }),
            { colour: CS.colour("level", w.level), timeout: 10000 },
          );
        }
      } else if (known) {
        state.warnings.delete(w.id);
        if (state.form && state.form.id === w.id) state.form = null;
      }
      render();
    } else if (message.type === "warning.changed" && known) {
      // A new level, value or status of a waiting warning: its verification stays as it was.
      if (w.status === "closed") state.warnings.delete(w.id);
      else state.warnings.set(w.id, { ...state.warnings.get(w.id), ...w });
      render();
    }
  });

  // Ages tick in place: no re-render, so a half-written note is never disturbed.
  CS.onTick((now) => {
    for (const node of listNode.querySelectorAll("[data-age]")) {
      const w = state.warnings.get(Number(node.dataset.age));
      if (!w) continue;
      node.textContent = ageText(w, now);
      node.classList.toggle("is-long", now - waitingSince(w) > LONG_WAIT_MS);
    }
    renderHead(now);
  });

  replace(config.warnings || [], config.warningsComplete !== false);
  render();
  live.start();

  window.citysafetyVerification = { state, render, resync };
})();

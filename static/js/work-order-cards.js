/* Work order cards and their actions (acknowledge, report), shared by the
 * department queue and the warning detail of the one map. */
(function () {
  "use strict";

  const CS = window.CS;
  const { html, fmt, t, gettext, ngettext } = CS;

  // Deadlines closer than this show in amber.
  const SOON_MS = 5 * 60 * 1000;

  function levelBadge(level) {
    return html`<span class="level-badge level-${level}" style="${CS.colourStyle("level", level)}">${CS.shortLabel("level", level)}</span>`;
  }

  function statusChip(group, status, display) {
    return html`<span class="status-chip s-${status}" style="${CS.colourStyle(group, status)}">${CS.label(group, status, display)}</span>`;
  }

  /** The deadline the order works to now (to acknowledge, be on site or report): `due_at`, else the acknowledgement's. */
  function dueAt(order) {
    if (order.due_at !== undefined) return order.due_at;
    return order.status === "pending" ? order.ack_deadline : null;
  }

  /** Which deadline runs, as the order's state says (`due_stage`); none once it is reported, returned or handed on. */
  function dueLabel(order) {
    if (dueAt(order) == null) return gettext("No deadline running");
    if (order.due_stage === "arrive") return gettext("On site by");
    if (order.due_stage === "report") return gettext("Report by");
    return gettext("Acknowledge by");
  }

  function isOverdue(order, now = Date.now()) {
    if (order.status === "pending" && order.is_overdue) return true;
    const due = dueAt(order);
    return due != null && new Date(due).getTime() < now;
  }

  /**
   * What the platform recorded in a step, as a sentence in this page's
   * language: the step keeps data (a pushed step was serialised in the
   * sender's language), the page's config the templates (CS.eventSentences).
   */
  function eventSentence(event) {
    const data = event.data || {};
    const sentences = CS.eventSentences || {};
    // A stand-down names its reason, a label the page holds no list of: the summary says it.
    if (event.kind === "closed" && data.false_alarm) return event.summary || "";
    if (event.kind === "closed") return data.closed_while_active ? sentences.closed_while_active || event.summary || "" : "";
    let template = sentences[event.kind];
    if (!template || !Object.keys(data).length) return event.summary || "";
    // A sentence with a count comes in its forms for one and for several (dispatch/timeline.py).
    if (typeof template === "object") template = template.forms[Math.min(CS.pluralidx(Number(data[template.count])), template.forms.length - 1)];
    const params = { ...data };
    if (data.level != null) params.level = CS.label("level", data.level);
    if (data.stage != null && sentences.stages) params.stage = sentences.stages[data.stage] || data.stage;
    return t(template, params);
  }

  /** A person, and the department they work for. */
  function actorLabel(name, department) {
    if (!name) return "";
    return html`<span class="tl-actor" data-actor>${name}${department ? html` <span class="tl-dept">· ${department}</span>` : ""}</span>`;
  }

  function timeline(events) {
    if (!events.length) return html`<p class="muted">${gettext("No events yet.")}</p>`;
    return html`<ol class="timeline">${events.map((event) => {
      const sentence = eventSentence(event);
      return html`<li class="k-${event.kind}" style="${CS.colourStyle("eventKind", event.kind)}">
        <div class="tl-head">
          <span class="tl-kind">${CS.label("eventKind", event.kind, event.kind_display)}</span>
          <time class="tl-time" datetime="${event.created_at}" title="${fmt.dateTime(event.created_at)}">${fmt.short(event.created_at)}</time>
          ${actorLabel(event.actor, event.actor_department)}
        </div>
        ${sentence ? html`<div class="tl-summary" data-summary>${sentence}</div>` : ""}
        ${event.note ? html`<div class="tl-note">${event.note}</div>` : ""}
      </li>`;
    })}</ol>`;
  }

  /** The department's phone and e-mail, for the duty officer who chases a late order. */
  function contactLine(department) {
    const { phone, email } = department;
    if (!phone && !email) {
      return html`<div class="wo-contact muted" data-contact>${gettext("No phone or e-mail on record for this department.")}</div>`;
    }
    return html`<div class="wo-contact" data-contact><span class="f-label">${gettext("Contact")}</span>
      ${phone ? html`<a href="tel:${phone}" data-phone>☎ ${phone}</a>` : ""}
      ${email ? html`<a href="mailto:${email}" data-email>✉ ${email}</a>` : ""}</div>`;
  }

  /** The text and class of a deadline cell at time `now`. */
  function deadlineState(order, now) {
    const due = dueAt(order);
    if (due == null) {
      const reported = order.reported_at && (order.status === "reported" || order.status === "verified");
      let text = "–";
      if (reported) text = t(gettext("Reported %(time)s"), { time: fmt.short(order.reported_at) });
      else if (order.acknowledged_at) text = t(gettext("Acknowledged %(time)s"), { time: fmt.short(order.acknowledged_at) });
      return { text, cls: "d-done" };
    }
    const left = new Date(due).getTime() - now;
    if (left < 0 || order.is_overdue) return { text: t(gettext("Overdue by %(time)s"), { time: fmt.duration(left) }), cls: "d-over" };
    return { text: t(gettext("%(time)s left"), { time: fmt.duration(left) }), cls: left < SOON_MS ? "d-soon" : "" };
  }

  /** What the department's next step means, under its button. */
  function stepHint(status) {
    if (status === "pending") return gettext("Acknowledge to tell the duty officer that your department is on it.");
    if (status === "acknowledged") return gettext("Mark the order on site when your people arrive.");
    return gettext("The duty officer verifies the report; the warning closes once every report is verified.");
  }

  /** The report's structured part: cause, actions taken, result, people and vehicles sent. */
  function reportFacts(order) {
    const rows = [
      [gettext("Cause"), order.report_cause],
      [gettext("Actions taken"), order.report_actions],
      [gettext("Result"), order.report_result],
      [gettext("People sent"), order.people_sent],
      [gettext("Vehicles sent"), order.vehicles_sent],
    ].filter(([, value]) => value !== null && value !== undefined && value !== "");
    if (!rows.length) return "";
    return html`<dl class="wo-report-facts" data-report-facts>${rows.map(([label, value]) => html`<dt>${label}</dt><dd>${value}</dd>`)}</dl>`;
  }

  /**
   * Renders cards and runs their actions. Keeps what a re-render must not
   * lose: report drafts, open timelines, pending requests and their errors.
   */
  class OrderCards {
    constructor({ urls, departmentId, onUpdated, showContact = false, duty = false, people = [], departments = [], maxPhotos = 6 }) {
      this.urls = urls;
      this.departmentId = departmentId;
      this.showContact = showContact;
      this.onUpdated = onUpdated;
      // Duty officers verify reports, transfer and re-dispatch; department staff handle their own orders.
      this.duty = duty;
      this.people = people;
      this.departments = departments;
      this.maxPhotos = maxPhotos;
      // Per order: the photo refusals, kept apart from the action's error so the report text stays untouched.
      this.photoErrors = new Map();
      this.uploading = new Set();
      // Per order: the reason form that is open ("return", "transfer", "send-back").
      this.reasonOpen = new Map();
      this.drafts = new Map();
      this.busy = new Set();
      this.errors = new Map();
      this.openTimelines = new Set();
      this.fresh = new Set();
      this.orders = new Map();
      CS.onTick((now) => this.tick(now));
    }

    canAct(order) {
      return this.departmentId != null && order.department.id === this.departmentId;
    }

    markFresh(id) {
      this.fresh.add(id);
      setTimeout(() => this.fresh.delete(id), 2500);
    }

    card(order, { showDepartment = true, showWarning = true, timelineOpen = false } = {}) {
      this.orders.set(order.id, order);
      const w = order.warning;
      const overdue = isOverdue(order);
      const deadline = deadlineState(order, Date.now());
      const open = timelineOpen || this.openTimelines.has(order.id);
      const classes = [
        "wo-card",
        `level-${order.level}`,
        `status-${order.status}`,
        overdue ? "is-overdue" : "",
        this.fresh.has(order.id) ? "is-new" : "",
      ].join(" ");
      const title = showWarning ? w.sensor.name : order.department.name;
      const sub = showWarning
        ? [`WO-${order.id}`, w.sensor.code, w.domain.name, w.district ? w.district.name : null].filter(Boolean).join(" · ")
        : `WO-${order.id}`;
      return html`<article class="${classes}" data-order-id="${order.id}" data-status="${order.status}" style="${CS.colourStyle("level", order.level)}">
        <header class="wo-head">
          ${levelBadge(order.level)}
          <div class="wo-title"><h3 title="${title}">${title}</h3><div class="sub" title="${sub}">${sub}</div>
            ${
              showWarning && w.level !== order.level && w.status !== "closed"
                ? html`<div class="level-now">${t(gettext("The warning is now at %(level)s"), { level: CS.shortLabel("level", w.level) })}</div>`
                : ""
            }
          </div>
          <div class="wo-chips">
            ${statusChip("orderStatus", order.status, order.status_display)}
            ${overdue ? html`<span class="status-chip s-overdue" data-overdue-badge>${gettext("Overdue")}</span>` : ""}
          </div>
        </header>
        <div class="wo-body">
          ${
            showDepartment && showWarning
              ? html`<div class="wo-dept-line"><span class="f-label">${gettext("Department")}</span> <span class="wo-dept">${order.department.name}</span></div>`
              : ""
          }
          <div class="wo-facts">
            ${
              showWarning
                ? html`<div class="wo-fact"><span class="f-label">${gettext("Current value")} · ${CS.label("warningStatus", w.status, w.status_display)}</span><span class="f-value">${fmt.value(w.last_value, w.sensor.unit)}</span></div>`
                : ""
            }
            <div class="wo-fact"><span class="f-label">${CS.label("eventKind", "created")}</span><span class="f-value" title="${fmt.dateTime(order.created_at)}">${fmt.short(order.created_at)}</span></div>
            ${
              order.status === "closed"
                ? html`<div class="wo-fact"><span class="f-label">${gettext("Closed at")}</span><span class="f-value" title="${fmt.dateTime(order.closed_at)}">${fmt.short(order.closed_at)}</span></div>`
                : html`<div class="wo-fact"><span class="f-label" data-deadline-label="${order.due_stage || ""}">${dueLabel(order)}${dueAt(order) ? ` ${fmt.short(dueAt(order))}` : ""}</span><span class="f-value deadline ${deadline.cls}" data-deadline-for="${order.id}">${deadline.text}</span></div>`
            }
          </div>
          ${this.showContact ? contactLine(order.department) : ""}
          ${showWarning && w.sensor.address ? html`<div class="wo-address">${t(gettext("Address: %(address)s"), { address: w.sensor.address })}</div>` : ""}
          ${this.handlingLines(order)}
          ${this.checklist(order)}
          ${
            order.report && order.status !== "on_site"
              ? html`<div class="wo-report" data-report><span class="f-label">${gettext("Handling report")} · ${fmt.short(order.reported_at)}</span><div class="note-box">${order.report}</div>
                  ${reportFacts(order)}</div>`
              : ""
          }
          ${this.canAct(order) && order.status === "on_site" ? "" : this.photoStrip(order, false)}
        </div>
        ${this.actions(order)}
        <details class="wo-timeline" data-timeline-for="${order.id}" ${open ? "open" : ""}>
          <summary>${t(gettext("Timeline (%(count)s)"), { count: order.events.length })}</summary>
          ${timeline(order.events)}
        </details>
      </article>`;
    }

    /** Who has it, why it came back, where it went: what the next person to act must know. */
    handlingLines(order) {
      const lines = [];
      if (order.assignee) {
        lines.push(html`<div class="wo-line" data-assignee><span class="f-label">${gettext("Assigned to")}</span> ${order.assignee.name}</div>`);
      }
      if (order.transferred_from) {
        lines.push(html`<div class="wo-line" data-transferred-from>${t(gettext("Transferred here from %(department)s (WO-%(id)s)."), order.transferred_from)}</div>`);
      }
      if (order.transferred_to) {
        lines.push(html`<div class="alert alert-info wo-line" data-transferred-to>${t(gettext("Transferred to %(department)s (WO-%(id)s); kept here read-only."), order.transferred_to)}</div>`);
      }
      if (order.status_reason && (order.status === "returned" || order.status === "on_site" || order.status === "transferred")) {
        const label = order.status === "returned" ? gettext("Returned because") : order.status === "on_site" ? gettext("Report sent back because") : gettext("Transferred because");
        lines.push(html`<div class="alert alert-warn wo-line" data-status-reason><strong>${label}</strong> ${order.status_reason}</div>`);
      }
      return lines.length ? html`<div class="wo-lines">${lines}</div>` : "";
    }

    /** The response plan's actions for this department; ticked in the report, read by everyone. */
    checklist(order) {
      const actions = order.actions || [];
      if (!actions.length) return "";
      const editing = this.canAct(order) && order.status === "on_site";
      const draft = this.draft(order.id);
      const done = actions.filter((a) => a.done).length;
      return html`<div class="wo-checklist" data-checklist>
        <span class="f-label">${t(ngettext("Response plan: %(done)s of %(total)s action done", "Response plan: %(done)s of %(total)s actions done", actions.length), { done, total: actions.length })}</span>
        <ul>${actions.map((action) => {
          if (editing) {
            const checked = draft.done ? draft.done.has(action.id) : action.done;
            return html`<li><label class="check"><input type="checkbox" data-action-check="${order.id}" value="${action.id}" ${checked ? "checked" : ""}> ${action.text}</label></li>`;
          }
          return html`<li class="${action.done ? "is-done" : "is-open"}" data-action-done="${action.done ? "true" : "false"}"><span aria-hidden="true">${action.done ? "✓" : "○"}</span> ${action.text}</li>`;
        })}</ul>
      </div>`;
    }

    photoStrip(order, editable) {
      const photos = order.photos || [];
      if (!photos.length) return "";
      return html`<div class="wo-photos" data-photos>${photos.map(
        (photo) => html`<figure class="wo-photo" data-photo-id="${photo.id}">
          <a href="${photo.url}" target="_blank" rel="noopener"><img src="${photo.thumbnail_url}" alt="${photo.name}" loading="lazy"></a>
          ${editable ? html`<button type="button" class="btn btn-sm" data-action="photo-remove" data-order-id="${order.id}" data-photo-id="${photo.id}" title="${gettext("Remove photo")}">×</button>` : ""}
          ${this.photoFacts(photo)}
        </figure>`,
      )}</div>`;
    }

    /** When and where the photo says it was taken (its EXIF), and a flag when that is far from the sensor. */
    photoFacts(photo) {
      const taken = photo.taken_at
        ? html`<span data-photo-taken>${t(gettext("Taken %(time)s"), { time: fmt.dateTime(photo.taken_at) })}</span>`
        : html`<span data-photo-taken class="is-unknown">${gettext("No time in the photo")}</span>`;
      let place;
      if (photo.distance_from_sensor == null) {
        place = html`<span data-photo-place class="is-unknown">${gettext("No place in the photo")}</span>`;
      } else {
        const metres = photo.distance_from_sensor;
        const distance = metres >= 1000
          ? t(gettext("%(km)s km from the sensor"), { km: (metres / 1000).toFixed(1) })
          : t(gettext("%(m)s m from the sensor"), { m: metres });
        const where = photo.taken_location ? `${photo.taken_location.lon.toFixed(5)}, ${photo.taken_location.lat.toFixed(5)}` : "";
        place = photo.far_from_sensor
          ? html`<span data-photo-place data-far="true" class="is-far" title="${t(gettext("Taken far from the sensor (%(where)s): check that the photo shows this site."), { where })}">⚠ ${distance}</span>`
          : html`<span data-photo-place data-far="false" title="${where}">${distance}</span>`;
      }
      return html`<figcaption class="wo-photo-facts">${taken}${place}</figcaption>`;
    }

    draft(id) {
      if (!this.drafts.has(id)) this.drafts.set(id, {});
      return this.drafts.get(id);
    }

    field(order, name, label, { type = "text", rows = 2, placeholder = "" } = {}) {
      const draft = this.draft(order.id);
      const fieldId = `${name}-${order.id}`;
      // A report sent back keeps what was written before, to amend.
      const fallback = { report: order.report, cause: order.report_cause, actions_taken: order.report_actions, result: order.report_result, people_sent: order.people_sent, vehicles_sent: order.vehicles_sent }[name];
      const value = draft[name] !== undefined ? draft[name] : fallback == null ? "" : String(fallback);
      const busy = this.busy.has(order.id);
      if (type === "textarea") {
        return html`<label class="wo-field" for="${fieldId}"><span class="f-label">${label}</span>
          <textarea class="input" id="${fieldId}" name="${name}" data-keep="${fieldId}" data-draft-for="${order.id}" rows="${rows}" maxlength="8000" placeholder="${placeholder}" ${busy ? "disabled" : ""}>${value}</textarea></label>`;
      }
      return html`<label class="wo-field wo-field-short" for="${fieldId}"><span class="f-label">${label}</span>
        <input class="input" id="${fieldId}" name="${name}" type="${type}" min="0" data-keep="${fieldId}" data-draft-for="${order.id}" value="${value}" ${busy ? "disabled" : ""}></label>`;
    }

    reasonForm(order, kind) {
      const draft = this.draft(order.id);
      const busy = this.busy.has(order.id);
      const fieldId = `reason-${order.id}`;
      const labels = {
        return: [gettext("Why is it returned?"), gettext("Return to the duty officer")],
        transfer: [gettext("Why is it transferred?"), gettext("Transfer")],
        "send-back": [gettext("What must the department add or redo?"), gettext("Send the report back")],
      }[kind];
      return html`<div class="wo-reason" data-reason-form="${kind}">
        ${
          kind === "transfer"
            ? html`<label class="wo-field"><span class="f-label">${gettext("Transfer to")}</span>
                <select class="select select-sm" name="department" data-draft-for="${order.id}" data-transfer-department="${order.id}">
                  <option value="">${gettext("Choose a department")}</option>
                  ${this.transferChoices(order).map((d) => html`<option value="${d.id}" ${String(draft.department) === String(d.id) ? "selected" : ""}>${d.name}</option>`)}
                </select></label>`
            : ""
        }
        <label class="wo-field" for="${fieldId}"><span class="f-label">${labels[0]}</span>
          <textarea class="input" id="${fieldId}" name="reason" data-keep="${fieldId}" data-draft-for="${order.id}" rows="2" maxlength="4000">${draft.reason || ""}</textarea></label>
        <div class="form-actions">
          <button type="button" class="btn btn-danger ${busy ? "is-busy" : ""}" data-action="${kind}-send" data-order-id="${order.id}" ${busy ? "disabled" : ""}>${labels[1]}</button>
          <button type="button" class="btn btn-sm" data-action="reason-cancel" data-order-id="${order.id}">${gettext("Cancel")}</button>
        </div>
      </div>`;
    }

    /** The departments an order can go to: none that already holds an order on its warning (the API refuses those too). */
    transferChoices(order) {
      const holding = new Set([order.department.id, ...(order.departments_with_orders || [])]);
      return this.departments.filter((d) => !holding.has(d.id));
    }

    actions(order) {
      const busy = this.busy.has(order.id);
      const error = this.errors.get(order.id) || "";
      const errorLine = html`<p class="form-error" role="alert" data-error-for="${order.id}">${error}</p>`;
      const reason = this.reasonOpen.get(order.id);
      const button = (action, label, cls = "btn-primary") =>
        html`<button type="button" class="btn ${cls} ${busy ? "is-busy" : ""}" data-action="${action}" data-order-id="${order.id}" ${busy ? "disabled" : ""}>${label}</button>`;
      const flow = CS.workOrderFlow || {};
      if (this.canAct(order) && (flow.inHand || []).includes(order.status)) {
        return html`<div class="wo-actions" data-actions-for="${order.id}">
          ${this.assignLine(order)}
          ${order.status === "on_site" ? this.reportForm(order) : ""}
          <div class="form-actions">
            ${order.status === "pending" ? button("acknowledge", gettext("Acknowledge")) : ""}
            ${order.status === "acknowledged" ? button("on-site", gettext("Mark on site")) : ""}
            ${order.status === "on_site" ? button("report", gettext("Submit report"), "btn-ok") : ""}
            ${reason ? "" : button("return-open", gettext("Return"), "btn-sm")}
            <span class="form-hint">${stepHint(order.status)}</span>
          </div>
          ${reason === "return" ? this.reasonForm(order, "return") : ""}
          ${errorLine}
        </div>`;
      }
      if (this.duty && order.status === "reported") {
        return html`<div class="wo-actions" data-actions-for="${order.id}">
          <div class="form-actions">
            ${button("verify-accept", gettext("Accept report"), "btn-ok")}
            ${reason ? "" : button("send-back-open", gettext("Send back"), "btn-sm")}
            <span class="form-hint">${gettext("Accept the report once the checklist and the photos show the work is done.")}</span>
          </div>
          ${reason === "send-back" ? this.reasonForm(order, "send-back") : ""}
          ${errorLine}
        </div>`;
      }
      if (this.duty && (flow.transferable || []).includes(order.status)) {
        return html`<div class="wo-actions" data-actions-for="${order.id}">
          <div class="form-actions">
            ${order.status === "returned" ? button("redispatch", gettext("Dispatch to the same department again")) : ""}
            ${reason ? "" : button("transfer-open", gettext("Transfer to another department"), order.status === "returned" ? "btn-primary" : "btn-sm")}
          </div>
          ${reason === "transfer" ? this.reasonForm(order, "transfer") : ""}
          ${errorLine}
        </div>`;
      }
      return "";
    }

    assignLine(order) {
      if (!this.people.length) return "";
      return html`<label class="wo-assign"><span class="f-label">${gettext("Assigned to")}</span>
        <select class="select select-sm" data-assign-for="${order.id}" ${this.busy.has(order.id) ? "disabled" : ""}>
          <option value="">${gettext("Nobody in particular")}</option>
          ${this.people.map((p) => html`<option value="${p.id}" ${order.assignee && order.assignee.id === p.id ? "selected" : ""}>${p.name}</option>`)}
        </select></label>`;
    }

    reportForm(order) {
      const photos = order.photos || [];
      const uploading = this.uploading.has(order.id);
      const photoError = this.photoErrors.get(order.id) || "";
      return html`<form class="wo-report-form" data-report-form="${order.id}" novalidate>
        ${this.field(order, "report", gettext("Handling report"), { type: "textarea", rows: 3, placeholder: gettext("Handling report: what was found on site and what was done") })}
        <div class="wo-field-grid">
          ${this.field(order, "cause", gettext("Cause"), { type: "textarea" })}
          ${this.field(order, "actions_taken", gettext("Actions taken"), { type: "textarea" })}
          ${this.field(order, "result", gettext("Result"), { type: "textarea" })}
          <div class="wo-counts">
            ${this.field(order, "people_sent", gettext("People sent"), { type: "number" })}
            ${this.field(order, "vehicles_sent", gettext("Vehicles sent"), { type: "number" })}
          </div>
        </div>
        <div class="wo-photo-field">
          <span class="f-label">${t(gettext("Photos (%(count)s of at most %(max)s)"), { count: photos.length, max: this.maxPhotos })}</span>
          ${this.photoStrip(order, true)}
          ${
            photos.length < this.maxPhotos
              ? html`<label class="btn btn-sm ${uploading ? "is-busy" : ""}">${uploading ? gettext("Uploading…") : gettext("Add photos")}
                  <input type="file" class="visually-hidden" accept="image/jpeg,image/png,image/webp" multiple data-photo-for="${order.id}" ${uploading ? "disabled" : ""}></label>`
              : ""
          }
          <p class="form-error" role="alert" data-photo-error-for="${order.id}">${photoError}</p>
        </div>
      </form>`;
    }

    /** Event delegation for every card inside `root`; `rerender()` redraws after a change. */
    bind(root, rerender) {
      this.rerender = rerender;
      root.addEventListener("click", (event) => {
        const button = event.target.closest("[data-action]");
        if (!button || !root.contains(button) || !button.dataset.orderId) return;
        const id = Number(button.dataset.orderId);
        const action = button.dataset.action;
        if (action.endsWith("-open")) {
          this.reasonOpen.set(id, action.slice(0, -"-open".length));
          this.errors.delete(id);
          this.rerender();
          return;
        }
        if (action === "reason-cancel") {
          this.reasonOpen.delete(id);
          this.errors.delete(id);
          this.rerender();
          return;
        }
        const handlers = {
          acknowledge: () => this.acknowledge(id),
          "on-site": () => this.onSite(id),
          report: () => this.report(id),
          "return-send": () => this.sendReason(id, "return"),
          "transfer-send": () => this.sendReason(id, "transfer"),
          "send-back-send": () => this.sendReason(id, "send-back"),
          "verify-accept": () => this.run(id, this.urls.verify, { accept: true }, t(gettext("Report on WO-%(id)s accepted."), { id })),
          redispatch: () => this.run(id, this.urls.redispatch, { note: "" }, t(gettext("WO-%(id)s dispatched again."), { id })),
          "photo-remove": () => this.removePhoto(id, Number(button.dataset.photoId)),
        };
        if (handlers[action]) handlers[action]();
      });
      root.addEventListener("submit", (event) => {
        const form = event.target.closest("[data-report-form]");
        if (!form) return;
        event.preventDefault();
        this.report(Number(form.dataset.reportForm));
      });
      root.addEventListener("change", (event) => {
        const target = event.target;
        if (target.dataset.photoFor) {
          const files = [...target.files];
          target.value = "";
          this.upload(Number(target.dataset.photoFor), files);
        } else if (target.dataset.assignFor) {
          const id = Number(target.dataset.assignFor);
          const assignee = target.value ? Number(target.value) : null;
          this.run(id, this.urls.assign, { assignee }, t(gettext("Assignment of WO-%(id)s saved."), { id }), { keepDraft: true });
        } else if (target.dataset.actionCheck) {
          const id = Number(target.dataset.actionCheck);
          const draft = this.draft(id);
          const order = this.orders.get(id);
          if (!draft.done) draft.done = new Set((order ? order.actions : []).filter((a) => a.done).map((a) => a.id));
          if (target.checked) draft.done.add(Number(target.value));
          else draft.done.delete(Number(target.value));
        } else if (target.dataset.draftFor) {
          this.draft(Number(target.dataset.draftFor))[target.name] = target.value;
        }
      });
      root.addEventListener("input", (event) => {
        const id = event.target.dataset && event.target.dataset.draftFor;
        if (!id) return;
        this.draft(Number(id))[event.target.name] = event.target.value;
        if (this.errors.has(Number(id)) && event.target.value.trim()) {
          this.errors.delete(Number(id));
          const error = root.querySelector(`[data-error-for="${Number(id)}"]`);
          if (error) error.textContent = "";
        }
      });
      root.addEventListener(
        "toggle",
        (event) => {
          const id = event.target.dataset && event.target.dataset.timelineFor;
          if (!id) return;
          if (event.target.open) this.openTimelines.add(Number(id));
          else this.openTimelines.delete(Number(id));
        },
        true,
      );
    }

    async run(id, url, body, success, { keepDraft = false } = {}) {
      if (this.busy.has(id)) return;
      this.busy.add(id);
      this.errors.delete(id);
      this.rerender();
      try {
        const order = await CS.api(CS.urlFor(url, id), { method: "POST", body });
        this.busy.delete(id);
        if (!keepDraft) {
          this.drafts.delete(id);
          this.reasonOpen.delete(id);
          this.photoErrors.delete(id);
        }
        CS.toast(success, { kind: "ok" });
        this.onUpdated(order);
      } catch (error) {
        this.busy.delete(id);
        // The order moved on under us (another person acted): say what happened and show it as it is now.
        this.errors.set(id, error.message);
        this.rerender();
        if (error.status === 409) this.refresh(id);
      }
    }

    async refresh(id) {
      try {
        const order = await CS.api(CS.urlFor(this.urls.workOrder || "", id));
        this.onUpdated(order);
      } catch {
        // The push brings the order as it stands anyway.
      }
    }

    acknowledge(id) {
      return this.run(id, this.urls.acknowledge, { note: "" }, t(gettext("Work order WO-%(id)s acknowledged."), { id }));
    }

    onSite(id) {
      return this.run(id, this.urls.onSite, { note: "" }, t(gettext("WO-%(id)s marked on site."), { id }));
    }

    report(id) {
      const order = this.orders.get(id);
      const draft = this.draft(id);
      const value = (name, fallback) => (draft[name] !== undefined ? draft[name] : fallback == null ? "" : String(fallback));
      const text = value("report", order && order.report).trim();
      if (!text) {
        this.errors.set(id, gettext("Describe how the warning was handled before reporting."));
        this.rerender();
        const field = document.getElementById(`report-${id}`);
        if (field) field.focus();
        return Promise.resolve();
      }
      const count = (name, fallback) => {
        const raw = value(name, fallback).trim();
        return raw === "" ? null : Number(raw);
      };
      const done = draft.done ? [...draft.done] : ((order && order.actions) || []).filter((a) => a.done).map((a) => a.id);
      const body = {
        report: text,
        cause: value("cause", order && order.report_cause).trim(),
        actions_taken: value("actions_taken", order && order.report_actions).trim(),
        result: value("result", order && order.report_result).trim(),
        people_sent: count("people_sent", order && order.people_sent),
        vehicles_sent: count("vehicles_sent", order && order.vehicles_sent),
        done_actions: done,
      };
      return this.run(id, this.urls.report, body, t(gettext("Report on WO-%(id)s sent."), { id }));
    }

    sendReason(id, kind) {
      const draft = this.draft(id);
      const reason = (draft.reason || "").trim();
      if (!reason) {
        this.errors.set(id, gettext("Give the reason first."));
        this.rerender();
        const field = document.getElementById(`reason-${id}`);
        if (field) field.focus();
        return Promise.resolve();
      }
      if (kind === "return") return this.run(id, this.urls.return, { reason }, t(gettext("WO-%(id)s returned to the duty officer."), { id }));
      if (kind === "send-back") {
        return this.run(id, this.urls.verify, { accept: false, reason }, t(gettext("Report on WO-%(id)s sent back."), { id }));
      }
      if (!draft.department) {
        this.errors.set(id, gettext("Choose the department to transfer the order to."));
        this.rerender();
        return Promise.resolve();
      }
      return this.run(id, this.urls.transfer, { department: Number(draft.department), reason }, t(gettext("WO-%(id)s transferred."), { id }));
    }

    /** One photo at a time: each refusal names its file; the report's text stays as typed. */
    async upload(id, files) {
      if (this.uploading.has(id) || !files.length) return;
      this.uploading.add(id);
      this.photoErrors.delete(id);
      this.rerender();
      const refusals = [];
      let order = null;
      for (const file of files) {
        const body = new FormData();
        body.append("photo", file);
        try {
          await CS.api(CS.urlFor(this.urls.photos, id), { method: "POST", body });
        } catch (error) {
          const data = error.data || {};
          refusals.push(Array.isArray(data.photo) ? data.photo.join(" ") : error.message);
        }
      }
      try {
        order = await CS.api(CS.urlFor(this.urls.workOrder, id));
      } catch {
        order = null;
      }
      this.uploading.delete(id);
      if (refusals.length) this.photoErrors.set(id, refusals.join(" "));
      if (order) this.onUpdated(order);
      else this.rerender();
    }

    async removePhoto(id, photoId) {
      try {
        await CS.api(`${CS.urlFor(this.urls.photos, id)}${photoId}/`, { method: "DELETE" });
        this.onUpdated(await CS.api(CS.urlFor(this.urls.workOrder, id)));
      } catch (error) {
        this.photoErrors.set(id, error.message);
        this.rerender();
      }
    }

    /** Countdowns and overdue marks move with the clock, without a re-render. */
    tick(now) {
      for (const node of document.querySelectorAll("[data-deadline-for]")) {
        const order = this.orders.get(Number(node.dataset.deadlineFor));
        if (!order) continue;
        const state = deadlineState(order, now);
        node.textContent = state.text;
        node.className = `f-value deadline ${state.cls}`;
        const card = node.closest(".wo-card");
        const overdue = isOverdue(order, now);
        if (card && card.classList.contains("is-overdue") !== overdue) {
          card.classList.toggle("is-overdue", overdue);
          const chips = card.querySelector(".wo-chips");
          if (overdue && chips && !chips.querySelector("[data-overdue-badge]")) {
            chips.insertAdjacentHTML("beforeend", `<span class="status-chip s-overdue" data-overdue-badge>${CS.esc(gettext("Overdue"))}</span>`);
          }
        }
      }
    }
  }

  CS.workOrderCards = { OrderCards, isOverdue, timeline, levelBadge, statusChip, actorLabel };
})();

/* Work order cards and their actions (acknowledge, report), shared by the
 * department queue and the warning detail of the one map. */
(function () {
  "use strict";

  const CS = window.CS;
  const { html, fmt, t, gettext } = CS;

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

  function dueLabel(order) {
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
    if (event.kind === "closed") return data.closed_while_active ? sentences.closed_while_active || event.summary || "" : "";
    const template = sentences[event.kind];
    if (!template || !Object.keys(data).length) return event.summary || "";
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
      return {
        text: order.acknowledged_at ? t(gettext("Acknowledged %(time)s"), { time: fmt.short(order.acknowledged_at) }) : "–",
        cls: "d-done",
      };
    }
    const left = new Date(due).getTime() - now;
    if (left < 0 || order.is_overdue) return { text: t(gettext("Overdue by %(time)s"), { time: fmt.duration(left) }), cls: "d-over" };
    return { text: t(gettext("%(time)s left"), { time: fmt.duration(left) }), cls: left < SOON_MS ? "d-soon" : "" };
  }

  /**
   * Renders cards and runs their actions. Keeps what a re-render must not
   * lose: report drafts, open timelines, pending requests and their errors.
   */
  class OrderCards {
    constructor({ urls, departmentId, onUpdated, showContact = false }) {
      this.urls = urls;
      this.departmentId = departmentId;
      this.showContact = showContact;
      this.onUpdated = onUpdated;
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
                : html`<div class="wo-fact"><span class="f-label">${dueLabel(order)} ${fmt.short(dueAt(order) || order.ack_deadline)}</span><span class="f-value deadline ${deadline.cls}" data-deadline-for="${order.id}">${deadline.text}</span></div>`
            }
          </div>
          ${this.showContact ? contactLine(order.department) : ""}
          ${showWarning && w.sensor.address ? html`<div class="wo-address">${t(gettext("Address: %(address)s"), { address: w.sensor.address })}</div>` : ""}
          ${
            order.report
              ? html`<div class="wo-report"><span class="f-label">${gettext("Handling report")} · ${fmt.short(order.reported_at)}</span><div class="note-box">${order.report}</div></div>`
              : ""
          }
        </div>
        ${this.actions(order)}
        <details class="wo-timeline" data-timeline-for="${order.id}" ${open ? "open" : ""}>
          <summary>${t(gettext("Timeline (%(count)s)"), { count: order.events.length })}</summary>
          ${timeline(order.events)}
        </details>
      </article>`;
    }

    actions(order) {
      if (!this.canAct(order)) return "";
      const busy = this.busy.has(order.id);
      const error = this.errors.get(order.id) || "";
      if (order.status === "pending") {
        return html`<div class="wo-actions">
          <div class="form-actions">
            <button type="button" class="btn btn-primary ${busy ? "is-busy" : ""}" data-action="acknowledge" data-order-id="${order.id}" ${busy ? "disabled" : ""}>${gettext("Acknowledge")}</button>
            <span class="form-hint">${gettext("Acknowledge to tell the duty officer that your department is on it.")}</span>
          </div>
          <p class="form-error" role="alert">${error}</p>
        </div>`;
      }
      if (order.status === "acknowledged") {
        const draft = this.drafts.get(order.id) || "";
        const fieldId = `report-${order.id}`;
        return html`<form class="wo-actions" data-report-form="${order.id}" novalidate>
          <label class="visually-hidden" for="${fieldId}">${gettext("Handling report")}</label>
          <textarea class="input" id="${fieldId}" name="report" data-keep="${fieldId}" data-draft-for="${order.id}" rows="3" maxlength="8000"
            placeholder="${gettext("Handling report: what was found on site and what was done")}" ${busy ? "disabled" : ""}>${draft}</textarea>
          <div class="form-actions">
            <button type="submit" class="btn btn-ok ${busy ? "is-busy" : ""}" data-action="report" data-order-id="${order.id}" ${busy ? "disabled" : ""}>${gettext("Submit report")}</button>
            <span class="form-hint">${gettext("The duty officer closes the warning once every department has reported.")}</span>
          </div>
          <p class="form-error" role="alert">${error}</p>
        </form>`;
      }
      return "";
    }

    /** Event delegation for every card inside `root`; `rerender()` redraws after a change. */
    bind(root, rerender) {
      this.rerender = rerender;
      root.addEventListener("click", (event) => {
        const button = event.target.closest("[data-action='acknowledge']");
        if (button && root.contains(button)) this.acknowledge(Number(button.dataset.orderId));
      });
      root.addEventListener("submit", (event) => {
        const form = event.target.closest("[data-report-form]");
        if (!form) return;
        event.preventDefault();
        this.report(Number(form.dataset.reportForm));
      });
      root.addEventListener("input", (event) => {
        const id = event.target.dataset && event.target.dataset.draftFor;
        if (id) {
          this.drafts.set(Number(id), event.target.value);
          if (this.errors.has(Number(id)) && event.target.value.trim()) {
            this.errors.delete(Number(id));
            const error = event.target.closest("form").querySelector(".form-error");
            if (error) error.textContent = "";
          }
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

    async run(id, url, body, success) {
      if (this.busy.has(id)) return;
      this.busy.add(id);
      this.errors.delete(id);
      this.rerender();
      try {
        const order = await CS.api(CS.urlFor(url, id), { method: "POST", body });
        this.busy.delete(id);
        this.drafts.delete(id);
        CS.toast(success, { kind: "ok" });
        this.onUpdated(order);
      } catch (error) {
        this.busy.delete(id);
        this.errors.set(id, error.message);
        this.rerender();
      }
    }

    acknowledge(id) {
      return this.run(id, this.urls.acknowledge, { note: "" }, t(gettext("Work order WO-%(id)s acknowledged."), { id }));
    }

    report(id) {
      const text = (this.drafts.get(id) || "").trim();
      if (!text) {
        this.errors.set(id, gettext("Describe how the warning was handled before reporting."));
        this.rerender();
        const field = document.getElementById(`report-${id}`);
        if (field) field.focus();
        return Promise.resolve();
      }
      return this.run(id, this.urls.report, { report: text }, t(gettext("Report on WO-%(id)s sent."), { id }));
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

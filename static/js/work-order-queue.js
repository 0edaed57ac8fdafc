/* The work order queue: a department's orders (every department's for duty
 * officers), live over the websocket, with acknowledge and report. */
(function () {
  "use strict";

  const CS = window.CS;
  const { html, t, gettext, ngettext } = CS;
  const config = CS.config("workorders-config");
  const listNode = document.getElementById("wo-list");
  const statusSelect = document.getElementById("filter-status");
  const baseTitle = document.title;

  // A failed resync is tried again after this long.
  const RETRY_MS = 5000;

  const state = {
    open: new Map(),
    closed: new Map(),
    openLoaded: false,
    openComplete: true,
    closedLoaded: false,
    loadError: null,
    view: "open",
    status: "",
    department: "",
  };

  const cards = new CS.workOrderCards.OrderCards({
    urls: config.urls,
    departmentId: config.department ? config.department.id : null,
    showContact: Boolean(config.duty),
    duty: Boolean(config.duty),
    people: config.people || [],
    departments: config.departments || [],
    maxPhotos: config.maxPhotos,
    onUpdated: (order) => {
      upsert(order);
      render();
    },
  });

  function upsert(order) {
    if (order.status === "closed" || order.status === "transferred") {
      state.open.delete(order.id);
      state.closed.set(order.id, order);
    } else {
      state.closed.delete(order.id);
      state.open.set(order.id, order);
    }
  }

  function replaceOpen(orders) {
    state.open = new Map(orders.map((order) => [order.id, order]));
    state.openLoaded = true;
  }

  async function loadOpen() {
    const { results, complete } = await CS.fetchAll(`${config.urls.workOrders}?open=true`);
    replaceOpen(results);
    state.openComplete = complete;
  }

  async function loadClosed() {
    const page = await CS.api(`${config.urls.workOrders}?open=false`);
    state.closed = new Map(page.results.map((order) => [order.id, order]));
    state.closedLoaded = true;
  }

  let retryTimer = null;
  async function resync() {
    clearTimeout(retryTimer);
    try {
      await live.sync(async () => {
        await loadOpen();
        if (state.view === "closed") await loadClosed();
      });
      state.loadError = null;
    } catch (error) {
      state.loadError = error.message;
      // The socket may be fine while the API is not (a 503 while the database restarts).
      retryTimer = setTimeout(() => live.state === "connected" && resync(), RETRY_MS);
    }
    render();
  }

  // A stable order: by acknowledgement deadline, then level (most severe
  // first). Neither changes when an order is acknowledged or reported, so a
  // card stays where it was under the hand that acted on it.
  function sortKey(order) {
    return [new Date(order.ack_deadline).getTime(), order.level, order.id];
  }
  function compare(a, b) {
    const ka = sortKey(a);
    const kb = sortKey(b);
    for (let i = 0; i < ka.length; i += 1) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    return 0;
  }

  /** The duty officer's view: one group per warning, its orders inside, the
   * groups in the order of their most urgent order. */
  function groupedByWarning(orders) {
    const groups = new Map();
    for (const order of orders) {
      if (!groups.has(order.warning.id)) groups.set(order.warning.id, []);
      groups.get(order.warning.id).push(order);
    }
    return [...groups.values()].map((group) => warningGroup(group));
  }

  function warningGroup(group) {
    const w = group[0].warning;
    // Progress over every order of the warning this page holds, not only the filtered ones.
    const all = [...state.open.values(), ...state.closed.values()].filter((o) => o.warning.id === w.id && o.status !== "transferred");
    const verified = all.filter((o) => o.status === "verified" || o.status === "closed").length;
    const sub = [`#${w.id}`, w.sensor.code, w.domain.name, w.district ? w.district.name : null].filter(Boolean).join(" · ");
    return html`<section class="wo-group level-${w.level} status-${w.status}" data-warning-group="${w.id}" style="${CS.colourStyle("level", w.level)}">
      <header class="wo-group-head">
        ${CS.workOrderCards.levelBadge(w.level)}
        <div class="wo-group-title"><h2 title="${w.sensor.name}">${w.sensor.name}</h2><div class="sub" title="${sub}">${sub}</div></div>
        <div class="wo-chips">
          ${CS.workOrderCards.statusChip("warningStatus", w.status, w.status_display)}
          <span class="wo-group-progress" data-group-progress>${t(ngettext("%(verified)s of %(total)s report verified.", "%(verified)s of %(total)s reports verified.", all.length), { verified, total: all.length })}</span>
        </div>
      </header>
      <div class="wo-group-cards">${group.map((order) => cards.card(order, { showDepartment: true, showWarning: false }))}</div>
    </section>`;
  }

  function visibleOrders() {
    const source = state.view === "open" ? state.open : state.closed;
    let orders = [...source.values()];
    if (state.department) orders = orders.filter((o) => String(o.department.id) === state.department);
    if (state.view === "open") {
      if (state.status === "overdue") orders = orders.filter((o) => CS.workOrderCards.isOverdue(o));
      else if (state.status) orders = orders.filter((o) => o.status === state.status);
      return orders.sort(compare);
    }
    return orders.sort((a, b) => new Date(b.closed_at || b.created_at) - new Date(a.closed_at || a.created_at));
  }

  /** The counters the page shows ([data-stat]): an order status, or "overdue". */
  function renderCounters() {
    const open = [...state.open.values()];
    const count = (stat) =>
      stat === "overdue"
        ? open.filter((o) => CS.workOrderCards.isOverdue(o)).length
        : open.filter((o) => stat.split(" ").includes(o.status)).length;
    for (const node of document.querySelectorAll("[data-stat]")) {
      const value = count(node.dataset.stat);
      node.textContent = state.openLoaded ? (state.openComplete ? String(value) : `${value}+`) : "–";
      node.classList.toggle("nonzero", value > 0);
    }
    const pending = count("pending");
    document.title = pending ? `(${pending}) ${baseTitle}` : baseTitle;
  }

  function render() {
    renderCounters();
    const loaded = state.view === "open" ? state.openLoaded : state.closedLoaded;
    listNode.setAttribute("aria-busy", loaded ? "false" : "true");
    if (!loaded) {
      if (state.loadError) {
        CS.patch(
          listNode,
          html`<div class="list-state" role="alert">${t(gettext("Could not load the work orders: %(error)s"), { error: state.loadError })}
            <br><button type="button" class="btn btn-sm" data-retry>${gettext("Try again")}</button></div>`,
        );
      } else {
        CS.patch(listNode, html`<p class="list-state"><span class="spinner" aria-hidden="true"></span> ${gettext("Loading work orders…")}</p>`);
      }
      return;
    }
    const orders = visibleOrders();
    if (!orders.length) {
      const filtered = (state.view === "open" && state.status) || state.department;
      const title = filtered
        ? gettext("No work orders match the filters.")
        : state.view === "open"
          ? gettext("No open work orders")
          : gettext("No closed work orders yet");
      const text = filtered
        ? gettext("Clear the filters to see every order.")
        : state.view === "open"
          ? gettext("New orders appear here the moment a warning is dispatched to you.")
          : gettext("Orders appear here once their warning has been closed.");
      CS.patch(
        listNode,
        html`<div class="empty-state"><div class="empty-icon" aria-hidden="true">✓</div><h2>${title}</h2><p>${text}</p></div>`,
      );
      return;
    }
    const banner = state.loadError
      ? html`<div class="alert alert-warn list-state" role="alert">${t(gettext("Could not refresh: %(error)s. Showing what was loaded before."), { error: state.loadError })}</div>`
      : "";
    CS.patch(
      listNode,
      config.duty
        ? html`${banner}${groupedByWarning(orders)}`
        : html`${banner}${orders.map((order) => cards.card(order, { showDepartment: !config.department }))}`,
    );
  }
  cards.bind(listNode, render);

  listNode.addEventListener("click", (event) => {
    if (event.target.closest("[data-retry]")) {
      state.loadError = null;
      render();
      resync();
    }
  });

  // --- Filters ---------------------------------------------------------------
  for (const tab of document.querySelectorAll("[data-view]")) {
    tab.addEventListener("click", async () => {
      state.view = tab.dataset.view;
      for (const other of document.querySelectorAll("[data-view]")) {
        const active = other === tab;
        other.classList.toggle("active", active);
        other.setAttribute("aria-selected", String(active));
      }
      // Statuses before "closed" mean nothing among closed orders.
      statusSelect.hidden = state.view === "closed";
      render();
      if (state.view === "closed" && !state.closedLoaded) {
        try {
          await loadClosed();
          state.loadError = null;
        } catch (error) {
          state.loadError = error.message;
        }
        render();
      }
    });
  }
  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    render();
  });
  const departmentSelect = document.getElementById("filter-department");
  if (departmentSelect) {
    for (const department of config.departments) {
      const option = document.createElement("option");
      option.value = String(department.id);
      option.textContent = department.name;
      departmentSelect.append(option);
    }
    departmentSelect.addEventListener("change", () => {
      state.department = departmentSelect.value;
      render();
    });
  }

  // --- Live -------------------------------------------------------------------
  const live = CS.startLive();
  live.addEventListener("connected", () => resync());
  live.addEventListener("message", (event) => {
    const message = event.detail;
    if (message.type !== "work_order.changed") return;
    const order = message.work_order;
    const known = state.open.has(order.id) || state.closed.has(order.id);
    if (!cards.canAct(order) && !config.duty) return;
    upsert(order);
    if (!known) {
      cards.markFresh(order.id);
      CS.toast(
        t(gettext("New work order WO-%(id)s: %(level)s, %(sensor)s"), {
          id: order.id,
          level: CS.shortLabel("level", order.level),
          sensor: order.warning.sensor.name,
        }),
        { colour: CS.colour("level", order.level), timeout: 10000, subject: `wo:${order.id}` },
      );
    }
    render();
  });
  // Counters, order and the "overdue" filter follow deadlines as they pass.
  let overdueBefore = -1;
  CS.onTick((now) => {
    if (Math.floor(now / 1000) % 5) return;
    const overdue = [...state.open.values()].filter((o) => CS.workOrderCards.isOverdue(o, now)).length;
    if (overdue !== overdueBefore && overdueBefore !== -1) render();
    else renderCounters();
    overdueBefore = overdue;
  });

  // First paint from the orders rendered into the page; the socket's
  // "connected" then resyncs from the API.
  replaceOpen(config.orders || []);
  state.openComplete = config.ordersComplete !== false;
  render();
  live.start();

  window.citysafetyWorkOrders = { state, render, resync };
})();

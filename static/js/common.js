/* CitySafety: helpers shared by every page (window.CS).
 *
 * Plain modern JS, no build step. Translations come from Django's
 * JavaScript catalog (/jsi18n/), loaded before this file.
 */
(function () {
  "use strict";

  const CS = (window.CS = window.CS || {});
  const gettext = window.gettext || ((s) => s);
  const interpolate =
    window.interpolate ||
    ((fmt, obj, named) =>
      named ? fmt.replace(/%\(\w+\)s/g, (m) => String(obj[m.slice(2, -2)])) : fmt.replace(/%s/g, () => String(obj.shift())));
  const ngettext = window.ngettext || ((singular, plural, n) => (n === 1 ? singular : plural));
  const pluralidx = window.pluralidx || ((n) => (n === 1 ? 0 : 1));
  CS.gettext = gettext;
  // Wherever a number meets a noun: CS.t(ngettext("%(n)s sensor", "%(n)s sensors", n), {n}).
  CS.ngettext = ngettext;
  CS.pluralidx = pluralidx;
  CS.interpolate = interpolate;
  /** Named placeholders in a translated string: CS.t(gettext("%(n)s left"), {n: 3}).
   * (gettext must stay at the call site, where makemessages finds the msgid.) */
  CS.t = (translated, params) => interpolate(translated, params, true);

  // --- Language and time --------------------------------------------------
  const pageLang = (document.documentElement.lang || "zh-hans").toLowerCase();
  CS.locale = pageLang.startsWith("zh") ? "zh-CN" : pageLang === "en" ? "en-GB" : pageLang;
  const TIME_ZONE = "Asia/Shanghai";

  const partsFormatter = new Intl.DateTimeFormat(CS.locale, {
    timeZone: TIME_ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  function parts(date) {
    const out = {};
    for (const p of partsFormatter.formatToParts(date)) out[p.type] = p.value;
    return out;
  }
  function toDate(value) {
    if (value == null || value === "") return null;
    const d = value instanceof Date ? value : new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  const relative = new Intl.RelativeTimeFormat(CS.locale, { numeric: "auto", style: "short" });
  const numberFormat = new Intl.NumberFormat(CS.locale, { maximumFractionDigits: 3 });

  CS.fmt = {
    /** 2025-11-21 08:00:03, Beijing time. */
    dateTime(value) {
      const d = toDate(value);
      if (!d) return "–";
      const p = parts(d);
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
    },
    /** 08:00:03 today, else 11-21 08:00. */
    short(value) {
      const d = toDate(value);
      if (!d) return "–";
      const p = parts(d);
      const today = parts(new Date());
      if (p.year === today.year && p.month === today.month && p.day === today.day) {
        return `${p.hour}:${p.minute}:${p.second}`;
      }
      return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
    },
    clock(date) {
      const p = parts(date);
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
    },
    relative(value) {
      const d = toDate(value);
      if (!d) return "";
      const seconds = Math.round((d.getTime() - Date.now()) / 1000);
      const abs = Math.abs(seconds);
      if (abs < 45) return gettext("just now");
      if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
      if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
      return relative.format(Math.round(seconds / 86400), "day");
    },
    /** 1:02:03 or 02:03 for a number of milliseconds. */
    duration(ms) {
      const total = Math.max(0, Math.floor(Math.abs(ms) / 1000));
      const h = Math.floor(total / 3600);
      const m = Math.floor((total % 3600) / 60);
      const s = total % 60;
      const mm = String(m).padStart(2, "0");
      const ss = String(s).padStart(2, "0");
      return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
    },
    number(value) {
      if (value == null || value === "" || Number.isNaN(Number(value))) return "–";
      return numberFormat.format(Number(value));
    },
    value(value, unit) {
      const n = CS.fmt.number(value);
      return n === "–" || !unit ? n : `${n} ${unit}`;
    },
  };

  // --- Choices: levels, statuses, kinds ---------------------------------------
  // Their labels (in the reader's language) and colours come from the page's
  // JSON config, made from the Python choice classes; this file keeps no copy.
  // Pushed messages carry labels in the server's language, so the page does
  // not use those. Each group lists its values in the order pages show them.
  CS.choices = {}; // set by CS.config()
  CS.choice = (group, value) => (CS.choices[group] && CS.choices[group][value]) || null;
  /** The values of a group, in order (as strings: JSON keys). */
  CS.values = (group) => Object.keys(CS.choices[group] || {});
  CS.label = (group, value, fallback) => {
    const choice = CS.choice(group, value);
    return (choice && choice.label) || fallback || (value == null || value === "" ? "–" : String(value));
  };
  /** "Level I" where the colour already says "(red)". */
  CS.shortLabel = (group, value, fallback) => {
    const choice = CS.choice(group, value);
    return (choice && choice.short) || CS.label(group, value, fallback);
  };
  CS.symbol = (group, value) => (CS.choice(group, value) || {}).symbol || "";
  CS.colour = (group, value) => (CS.choice(group, value) || {}).colour || "";
  /** Inline style giving an element its choice's colour (CSS reads var(--c) and var(--c-text)). */
  CS.colourStyle = (group, value) => {
    const choice = CS.choice(group, value);
    return choice && choice.colour ? `--c: ${choice.colour}; --c-text: ${choice.textColour || "#fff"}` : "";
  };

  // --- Safe HTML templates -------------------------------------------------
  class Raw {
    constructor(value) {
      this.value = value;
    }
    toString() {
      return this.value;
    }
  }
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  CS.esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
  CS.raw = (value) => new Raw(value);
  function renderValue(value) {
    if (value == null || value === false) return "";
    if (value instanceof Raw) return value.value;
    if (Array.isArray(value)) return value.map(renderValue).join("");
    return CS.esc(value);
  }
  /** Tagged template: every interpolation is escaped unless it is CS.raw or CS.html. */
  CS.html = (strings, ...values) => {
    let out = strings[0];
    values.forEach((value, i) => {
      out += renderValue(value) + strings[i + 1];
    });
    return new Raw(out);
  };

  /** Replace an element's content, keeping focus, caret and scroll of marked inputs ([data-keep]). */
  CS.patch = (element, content) => {
    const active = document.activeElement;
    let keep = null;
    if (active && element.contains(active) && active.dataset && active.dataset.keep) {
      keep = { key: active.dataset.keep, start: active.selectionStart, end: active.selectionEnd };
    }
    const scrollTop = element.scrollTop;
    element.innerHTML = renderValue(content);
    element.scrollTop = scrollTop;
    if (keep) {
      const again = element.querySelector(`[data-keep="${CSS.escape(keep.key)}"]`);
      if (again) {
        again.focus({ preventScroll: true });
        try {
          if (keep.start != null) again.setSelectionRange(keep.start, keep.end);
        } catch (_error) {
          /* not a text input */
        }
      }
    }
  };

  // --- API ------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, status, data) {
      super(message);
      this.status = status;
      this.data = data;
    }
  }
  CS.ApiError = ApiError;

  CS.csrfToken = () => {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  };

  /** A person-readable message for a failed API call. */
  CS.errorMessage = (status, data) => {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && typeof data === "object") {
      const messages = [];
      for (const [field, errors] of Object.entries(data)) {
        const text = Array.isArray(errors) ? errors.join(" ") : String(errors);
        messages.push(field === "non_field_errors" ? text : `${field}: ${text}`);
      }
      if (messages.length) return messages.join("; ");
    }
    if (status === 401 || status === 403) return gettext("Your session has expired or you may not do this. Sign in again.");
    if (status === 404) return gettext("Not found: it may have been removed.");
    if (status === 503) return gettext("The service is temporarily unavailable; try again shortly.");
    return interpolate(gettext("The server could not complete the request (HTTP %s)."), [status]);
  };

  /** fetch() against our own API: same-origin session, CSRF header, JSON both ways. */
  CS.api = async (url, { method = "GET", body, signal } = {}) => {
    const headers = { Accept: "application/json" };
    // A FormData body (a file upload) goes as multipart, its boundary set by the browser.
    const form = typeof FormData !== "undefined" && body instanceof FormData;
    if (method !== "GET") {
      if (!form) headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = CS.csrfToken();
    }
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined || form ? body : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(gettext("The server cannot be reached. Check the network; the page retries by itself."), 0, null);
    }
    let data = null;
    if ((response.headers.get("content-type") || "").includes("json")) {
      data = await response.json().catch(() => null);
    }
    if (!response.ok) throw new ApiError(CS.errorMessage(response.status, data), response.status, data);
    return data;
  };

  /** Same-origin path of an absolute `next` link (a proxy may report another scheme). */
  function localPath(url) {
    const u = new URL(url, window.location.href);
    return u.pathname + u.search;
  }

  /** Every page of a paginated list, up to maxPages; returns {results, complete}. */
  CS.fetchAll = async (url, { maxPages = 20, signal } = {}) => {
    const results = [];
    let next = url;
    let pages = 0;
    while (next && pages < maxPages) {
      const page = await CS.api(next, { signal });
      results.push(...page.results);
      next = page.next ? localPath(page.next) : null;
      pages += 1;
    }
    return { results, complete: !next };
  };

  /** "/api/v1/warnings/0/" → "/api/v1/warnings/42/" */
  CS.urlFor = (template, id) => template.replace("/0/", `/${encodeURIComponent(id)}/`);

  /** A page's JSON config (json_script); the choices in it become CS.choices. */
  CS.config = (id) => {
    const node = document.getElementById(id);
    const config = node ? JSON.parse(node.textContent) : {};
    if (config.choices) CS.choices = config.choices;
    // Timeline sentences in this page's language (dispatch.timeline).
    if (config.eventSentences) CS.eventSentences = config.eventSentences;
    if (config.workOrderFlow) CS.workOrderFlow = config.workOrderFlow;
    return config;
  };

  // --- Small UI pieces ------------------------------------------------------
  /** kind: "ok" or "error"; colour: a choice's colour for its edge (a warning's level).
   * subject ("wo:12", "warning:7", "outage:3"): one event, one toast. The page's own news
   * of an event and the person's notification of it both arrive; the notification
   * (prefer) says more and takes the shown toast's place, the page's news after it is dropped. */
  CS.toast = (message, { kind = "", colour = "", timeout = 6000, subject = "", prefer = false } = {}) => {
    const box = document.getElementById("toasts");
    if (!box) return;
    const shown = subject ? [...box.children].find((toast) => toast.dataset.subject === subject) : null;
    if (shown) {
      if (prefer) {
        shown.textContent = message;
        if (colour) shown.style.setProperty("--c", colour);
      }
      return;
    }
    const node = document.createElement("div");
    node.className = `toast ${kind ? `t-${kind}` : ""}`;
    if (colour) node.style.setProperty("--c", colour);
    if (subject) node.dataset.subject = subject;
    node.textContent = message;
    box.append(node);
    while (box.children.length > 4) box.firstElementChild.remove();
    setTimeout(() => node.remove(), timeout);
  };

  /** One timer for every clock-driven piece of the page. */
  const tickers = new Set();
  CS.onTick = (fn) => {
    tickers.add(fn);
    return () => tickers.delete(fn);
  };
  setInterval(() => {
    for (const fn of tickers) {
      try {
        fn(Date.now());
      } catch (error) {
        console.error(error); // eslint-disable-line no-console
      }
    }
  }, 1000);

  CS.debounce = (fn, wait) => {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), wait);
    };
  };

  document.addEventListener("DOMContentLoaded", () => {
    const clock = document.getElementById("clock");
    if (clock) {
      const tick = () => {
        clock.textContent = CS.fmt.clock(new Date());
      };
      tick();
      CS.onTick(tick);
    }
    for (const select of document.querySelectorAll("select[data-autosubmit]")) {
      select.addEventListener("change", () => select.form.submit());
    }
    // Relative times ("3 min ago") stay true while the page stays open.
    CS.onTick((now) => {
      if (Math.floor(now / 1000) % 15) return;
      for (const node of document.querySelectorAll("[data-rel-time]")) {
        node.textContent = CS.fmt.relative(node.dataset.relTime);
      }
    });
  });
})();

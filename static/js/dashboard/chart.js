/* A warning's readings chart (ECharts): its sensor's last 24 hours or 7 days,
 * the three threshold lines and the warning's transitions marked at their times.
 *
 * The detail panel is re-rendered as markup (CS.patch), which would throw the
 * chart's canvas away; the chart lives in one element this module keeps and
 * mountChart() moves into the panel's slot after each render. */
import { CS, fmt, gettext, urls, LEVELS } from "./state.js";

const echarts = window.echarts;
// Ranges the toggle offers; points: at most this many buckets, resampled on the
// server (2-minute buckets for a day, 15-minute ones for a week).
export const RANGES = {
  "24h": { hours: 24, points: 1000 },
  "7d": { hours: 24 * 7, points: 1000 },
};
// Shanghai keeps no daylight saving time: Beijing time is UTC+8 all year.
// ECharts draws in the browser's zone or in UTC, so the times are shifted by
// this much and drawn as UTC, whatever the reader's machine says.
const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
// Along the line by severity (LEVELS is most severe first): the most severe at the end, the mildest at the start.
const LABEL_ALONG = ["End", "Middle", "Start"];

/** What the chart shows now; the browser tests read it (window.citysafetyDashboard.chart). */
export const chart = {
  instance: null,
  warningId: null,
  range: "24h",
  points: 0,
  step: null,
  thresholds: [], // {level, value, lower}
  marks: [], // transition kinds marked, in time order
  draws: 0,
  error: null,
  series: null,
};

let host = null;
let canvasBox = null;
let statusLine = null;
let warning = null;
let loadToken = 0;

function build() {
  host = document.createElement("div");
  host.className = "reading-chart";
  host.dataset.readingChart = "";
  const toolbar = document.createElement("div");
  toolbar.className = "chart-toolbar";
  toolbar.setAttribute("role", "group");
  toolbar.setAttribute("aria-label", gettext("Chart range"));
  for (const [range, label] of [
    ["24h", gettext("24 hours")],
    ["7d", gettext("7 days")],
  ]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-sm btn-ghost";
    button.dataset.chartRange = range;
    button.textContent = label;
    button.addEventListener("click", () => setRange(range));
    toolbar.append(button);
  }
  statusLine = document.createElement("span");
  statusLine.className = "chart-status muted";
  statusLine.setAttribute("role", "status");
  toolbar.append(statusLine);
  canvasBox = document.createElement("div");
  canvasBox.className = "chart-canvas";
  host.append(toolbar, canvasBox);
  // The panel's width changes with the window and the wall's zoom: follow it.
  new ResizeObserver(() => {
    if (chart.instance && canvasBox.isConnected) chart.instance.resize();
  }).observe(canvasBox);
}

/** The section the detail panel renders; mountChart() fills its slot. */
export function chartSection() {
  return CS.html`<section class="detail-section">
    <h3>${gettext("Readings chart")}</h3>
    <div data-chart-slot></div>
  </section>`;
}

/** After each render of the panel: put the chart in its slot, and load it for a new warning. */
export function mountChart(w) {
  const slot = document.querySelector("#warning-detail [data-chart-slot]");
  if (!slot || !w) return;
  if (!host) build();
  slot.replaceWith(host);
  const previous = warning;
  warning = w;
  if (chart.warningId !== w.id) {
    chart.warningId = w.id;
    chart.range = "24h";
    blank();
    load();
  } else if (previous && transitionsKey(previous) !== transitionsKey(w) && chart.series) {
    draw(chart.series);
  }
}

function transitionsKey(w) {
  return (w.transitions || []).map((tr) => `${tr.kind}@${tr.observed_at || tr.created_at}`).join("|");
}

/** Nothing drawn: another sensor's curve must not stand under this warning while it loads. */
function blank() {
  if (chart.instance) chart.instance.clear();
  chart.series = null;
  chart.points = 0;
  chart.step = null;
  chart.thresholds = [];
  chart.marks = [];
}

function setRange(range) {
  if (range === chart.range || !warning) return;
  chart.range = range;
  load();
}

function showStatus(text) {
  statusLine.textContent = text;
  for (const button of host.querySelectorAll("[data-chart-range]")) {
    button.setAttribute("aria-pressed", String(button.dataset.chartRange === chart.range));
  }
}

async function load() {
  const token = ++loadToken;
  const { hours, points } = RANGES[chart.range];
  const end = new Date();
  const start = new Date(end.getTime() - hours * 3600 * 1000);
  const query = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), points: String(points) });
  showStatus(gettext("Loading…"));
  try {
    const body = await CS.api(`${CS.urlFor(urls.sensorSeries, warning.sensor.id)}?${query}`);
    if (token !== loadToken) return;
    chart.error = null;
    chart.series = { ...body.series, start, end };
    chart.step = body.step;
    showStatus("");
    draw(chart.series);
  } catch (error) {
    if (token !== loadToken) return;
    chart.error = error.message;
    blank();
    showStatus(error.message);
  }
}

/** The font and colours of the page, read from its CSS, so the chart matches the theme. */
function theme() {
  const style = getComputedStyle(document.documentElement);
  const v = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  // The page always defines these; no fallback colour is kept here (the choices give every other colour).
  return { text: v("--text", "currentColor"), muted: v("--muted", "currentColor"), border: v("--border", "currentColor"), accent: v("--accent", "currentColor"), font: v("--font", "sans-serif") };
}

function ensureInstance() {
  if (chart.instance) return chart.instance;
  // A wall display zooms the panel (CSS zoom): draw at the pixels it shows.
  const zoom = Number(getComputedStyle(host.closest(".detail-panel") || host).zoom) || 1;
  chart.instance = echarts.init(canvasBox, null, {
    locale: CS.locale.startsWith("zh") ? "ZH" : "EN",
    renderer: "canvas",
    devicePixelRatio: (window.devicePixelRatio || 1) * zoom,
  });
  return chart.instance;
}

function draw(series) {
  const w = warning;
  const unit = w.sensor.unit || "";
  const colours = theme();
  const shifted = (iso) => new Date(iso).getTime() + BEIJING_OFFSET_MS;
  const t = series.t.map(shifted);
  const mean = t.map((x, i) => [x, series.mean[i]]);
  const low = t.map((x, i) => [x, series.min[i]]);
  const spread = t.map((x, i) => [x, series.max[i] - series.min[i]]);

  const thresholds = [];
  for (const level of LEVELS) {
    const value = w.rule.thresholds ? w.rule.thresholds[String(level)] : null;
    if (value != null) thresholds.push({ level, value, lower: false });
    const lower = w.rule.lower_thresholds ? w.rule.lower_thresholds[String(level)] : null;
    if (lower != null) thresholds.push({ level, value: lower, lower: true });
  }
  const startMs = series.start.getTime();
  const endMs = series.end.getTime();
  const transitions = (w.transitions || [])
    .map((tr) => ({ tr, at: new Date(tr.observed_at || tr.created_at).getTime() }))
    .filter(({ at }) => at >= startMs && at <= endMs)
    .sort((a, b) => a.at - b.at);

  // The thresholds stay in view even when the readings are far from them.
  const values = [...series.min, ...series.max, ...thresholds.map((th) => th.value)].filter((x) => x != null);
  const lowest = values.length ? Math.min(...values) : 0;
  const highest = values.length ? Math.max(...values) : 1;
  // Round bounds on a step of the range's magnitude, so the ticks fall on round values.
  const span = highest - lowest || Math.abs(highest) || 1;
  let grain = 10 ** Math.floor(Math.log10(span));
  if (span / grain < 3) grain /= 2;
  const axisMin = lowest >= 0 && lowest - span * 0.08 <= span * 0.25 ? 0 : Math.floor((lowest - span * 0.08) / grain) * grain;
  const axisMax = Math.ceil((highest + span * 0.08) / grain) * grain;

  const thresholdLines = thresholds.map((th) => ({
    yAxis: th.value,
    lineStyle: { color: CS.colour("level", th.level), type: th.lower ? "dotted" : "dashed", width: 1.5 },
    label: {
      formatter: `${CS.shortLabel("level", th.level)} ${th.lower ? CS.symbol("direction", "below") : CS.symbol("direction", "above")} ${fmt.number(th.value)}`,
      // Close thresholds (1.0, 1.2, 1.5) would print over one another: each
      // level takes its own third of the width, above its line (below for a
      // band's lower side), the least severe at the left.
      position: `inside${LABEL_ALONG[LEVELS.indexOf(th.level)] || "Start"}${th.lower ? "Bottom" : "Top"}`,
      color: CS.colour("level", th.level),
      fontSize: 11,
    },
  }));
  const transitionLines = transitions.map(({ tr, at }) => ({
    xAxis: at + BEIJING_OFFSET_MS,
    lineStyle: { color: CS.colour("transitionKind", tr.kind) || colours.muted, type: "solid", width: 1 },
    // Transitions lie close together (opened, escalated within minutes): their
    // names show on hover, not stacked over one another.
    label: {
      show: false,
      formatter: CS.label("transitionKind", tr.kind, tr.kind_display),
      position: "insideEndTop",
      color: CS.colour("transitionKind", tr.kind) || colours.muted,
      fontSize: 11,
    },
    emphasis: { label: { show: true } },
  }));

  const instance = ensureInstance();
  const meanName = gettext("Mean");
  const rangeName = gettext("Minimum to maximum");
  instance.setOption(
    {
      backgroundColor: "transparent",
      textStyle: { fontFamily: colours.font, color: colours.text },
      useUTC: true,
      animation: false,
      grid: { left: 8, right: 16, top: 28, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "axis",
        // Times in Beijing time and values with their unit, in the page's own formats.
        formatter: (items) => {
          const first = Array.isArray(items) ? items[0] : items;
          if (!first) return "";
          const i = first.dataIndex;
          const lines = [
            CS.esc(fmt.dateTime(series.t[i])),
            `${CS.esc(meanName)}: ${CS.esc(fmt.value(series.mean[i], unit))}`,
            `${CS.esc(rangeName)}: ${CS.esc(fmt.number(series.min[i]))} – ${CS.esc(fmt.value(series.max[i], unit))}`,
          ];
          return lines.join("<br>");
        },
      },
      xAxis: {
        type: "time",
        min: startMs + BEIJING_OFFSET_MS,
        max: endMs + BEIJING_OFFSET_MS,
        axisLine: { lineStyle: { color: colours.border } },
        // Dates and times as the rest of the page writes them (12-08, 07:30), in either language.
        axisLabel: {
          color: colours.muted,
          hideOverlap: true,
          formatter: { year: "{yyyy}", month: "{yyyy}-{MM}", day: "{MM}-{dd}", hour: "{HH}:{mm}", minute: "{HH}:{mm}", second: "{HH}:{mm}:{ss}" },
        },
        splitLine: { show: false },
      },
      yAxis: {
        type: "value",
        name: unit,
        nameTextStyle: { color: colours.muted, align: "left" },
        // Readings near zero that never go below it start the axis at zero.
        min: Number(axisMin.toPrecision(6)),
        max: Number(axisMax.toPrecision(6)),
        axisLabel: { color: colours.muted, formatter: (v) => fmt.number(v) },
        splitLine: { lineStyle: { color: colours.border, opacity: 0.5 } },
      },
      series: [
        { name: "low", type: "line", data: low, stack: "range", symbol: "none", lineStyle: { opacity: 0 }, tooltip: { show: false }, silent: true },
        {
          name: rangeName,
          type: "line",
          data: spread,
          stack: "range",
          symbol: "none",
          lineStyle: { opacity: 0 },
          areaStyle: { color: colours.accent, opacity: 0.18 },
          silent: true,
        },
        {
          name: meanName,
          type: "line",
          data: mean,
          symbol: "none",
          sampling: "lttb",
          lineStyle: { color: colours.accent, width: 1.5 },
          markLine: { symbol: "none", data: [...thresholdLines, ...transitionLines] },
        },
      ],
    },
    { notMerge: true },
  );
  chart.points = t.length;
  chart.thresholds = thresholds;
  chart.marks = transitions.map(({ tr }) => tr.kind);
  chart.draws += 1;
  if (!t.length) showStatus(gettext("No readings in this period."));
}

/** A closed panel lets the next warning start afresh. */
export function forgetChart() {
  chart.warningId = null;
  warning = null;
  loadToken += 1;
}

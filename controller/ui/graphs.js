// Graphs of the metrics' recent past (Aurora's /graphview): the series the
// controller keeps (GET /api/v1/metrics/history), a picker, and per chart
// a transform: the values, their rate per second (counters), or the sum
// of the picked series. Redrawn every sample.

import { api, enc } from "./api.js";
import { fill, h, notice } from "./dom.js";
import { chart, COLORS } from "./chart.js";

const DEFAULTS = [
  "sextant_tasks_TASK_RUNNING",
  "sextant_tasks_TASK_STAGING",
  "sextant_rollouts_total_started",
  "sextant_http_requests_total",
];
const KEY = "sextant.graphs";

// Points of `points` as a rate per second between neighbours (a counter
// reset counts as its new value).
export function rate(points) {
  const out = [];
  for (let i = 1; i < points.length; i++) {
    const dt = points[i][0] - points[i - 1][0];
    if (dt <= 0) continue;
    const dv = points[i][1] - points[i - 1][1];
    out.push([points[i][0], (dv >= 0 ? dv : points[i][1]) / dt]);
  }
  return out;
}

// The sum of several series at each time any of them has.
export function sum(series) {
  const at = new Map();
  for (const s of series) for (const [t, v] of s.points) at.set(t, (at.get(t) || 0) + v);
  return [...at.entries()].sort((a, b) => a[0] - b[0]);
}

function saved() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

export async function graphsPage({ view }) {
  const state = saved() || { picked: [], transform: "value", window: 3600 };
  const search = h("input#series-search", { type: "search", placeholder: "filter series" });
  const names = h("div.series-list#series-list");
  const transform = h(
    "select#transform",
    { title: "transform" },
    h("option", { value: "value" }, "values"),
    h("option", { value: "rate" }, "rate per second"),
    h("option", { value: "sum" }, "sum of picked"),
    h("option", { value: "sumrate" }, "rate of the sum"),
  );
  transform.value = state.transform;
  const windowSel = h("select#window", { title: "window" }, [[900, "15 min"], [3600, "1 hour"], [10800, "3 hours"]].map(([v, l]) => h("option", { value: v }, l)));
  windowSel.value = String(state.window);
  const plot = h("div.plot#plot");
  const legend = h("ul.legend");
  const msg = h("div");
  const jsonLink = h("a.muted", { target: "_blank", rel: "noopener" }, "as JSON");
  fill(
    view,
    h("div.toolbar", h("h1", "Graphs"), h("span.spacer"), transform, windowSel, jsonLink),
    msg,
    h("div.graphs", h("aside.card", search, names), h("section.card", plot, legend)),
  );
  let all = [];

  function save() {
    sessionStorage.setItem(KEY, JSON.stringify(state));
  }

  function renderNames() {
    const q = search.value.trim().toLowerCase();
    const shown = all.filter((n) => !q || n.toLowerCase().includes(q)).slice(0, 400);
    fill(
      names,
      shown.map((n) =>
        h(
          "label.series-name",
          { title: n },
          h("input", {
            type: "checkbox",
            checked: state.picked.includes(n),
            value: n,
            onchange: (e) => {
              state.picked = e.target.checked ? [...state.picked, n] : state.picked.filter((x) => x !== n);
              save();
              draw();
            },
          }),
          " ",
          n,
        ),
      ),
      all.length > shown.length ? h("p.muted", `${all.length - shown.length} more: filter to see them`) : null,
    );
  }

  async function draw() {
    const picked = state.picked.filter((n) => all.includes(n)).slice(0, 8);
    const since = Date.now() / 1000 - state.window;
    const url = `/api/v1/metrics/history?series=${picked.map(enc).join(",")}&since=${Math.floor(since)}`;
    jsonLink.href = url;
    if (!picked.length) {
      fill(plot, h("p.muted", "Pick a series on the left."));
      fill(legend);
      return;
    }
    try {
      const view = await api(url);
      let series = view.series;
      const t = state.transform;
      if (t === "rate") series = series.map((s) => ({ name: `rate(${s.name})`, points: rate(s.points) }));
      if (t === "sum" || t === "sumrate") {
        const total = sum(series);
        series = [{ name: `${t === "sumrate" ? "rate(sum" : "sum"}(${series.map((s) => s.name).join(", ")})${t === "sumrate" ? ")" : ""}`, points: t === "sumrate" ? rate(total) : total }];
      }
      fill(plot, chart(series, { width: Math.max(320, plot.clientWidth || 900), height: 300 }));
      fill(
        legend,
        series.map((s, i) => {
          const last = s.points[s.points.length - 1];
          return h("li", h("span.swatch", { style: `background:${COLORS[i % COLORS.length]}` }), ` ${s.name} `, h("b", last ? Number(last[1].toPrecision(4)) : "–"));
        }),
      );
      fill(msg);
    } catch (e) {
      notice(msg, "bad", e.message);
    }
  }

  search.oninput = renderNames;
  transform.onchange = () => ((state.transform = transform.value), save(), draw());
  windowSel.onchange = () => ((state.window = Number(windowSel.value)), save(), draw());

  let interval = 10;
  try {
    const first = await api("/api/v1/metrics/history");
    all = first.names;
    interval = first.intervalSeconds || 10;
    if (!state.picked.length) state.picked = DEFAULTS.filter((n) => all.includes(n)).slice(0, 2);
    if (!state.picked.length && all.length) state.picked = [all[0]];
  } catch (e) {
    notice(msg, "bad", e.message);
  }
  renderNames();
  await draw();
  const tick = setInterval(async () => {
    try {
      all = (await api("/api/v1/metrics/history")).names;
    } catch {
      /* drawn again next time */
    }
    draw();
  }, Math.max(2, interval) * 1000);
  return () => clearInterval(tick);
}

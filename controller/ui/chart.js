// A line chart in SVG, by hand: time on x, values on y, one line per
// series, axis ticks, a legend. `series` is [{name, points: [[t, v]…]}].

const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Round tick steps: 1, 2, 5 × 10^n.
function ticks(lo, hi, count) {
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + "G";
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
  if (a >= 1e3) return (v / 1e3).toPrecision(3) + "k";
  if (a > 0 && a < 0.01) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

export function chart(series, { width = 900, height = 280 } = {}) {
  const pad = { l: 56, r: 12, t: 10, b: 24 };
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  const all = series.flatMap((s) => s.points);
  if (!all.length) {
    svg.append(el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, "no points yet"));
    return svg;
  }
  let [t0, t1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  if (t1 === t0) [t0, t1] = [t0 - 30, t1 + 30];
  let [v0, v1] = [Math.min(0, ...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (v1 === v0) v1 = v0 + 1;
  v1 += (v1 - v0) * 0.05;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - ((v - v0) / (v1 - v0)) * (height - pad.t - pad.b);
  const axis = el("g", { class: "axis" });
  for (const v of ticks(v0, v1, 5)) {
    axis.append(el("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), class: "grid" }));
    axis.append(el("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end" }, label(v)));
  }
  for (const t of ticks(t0, t1, 6)) {
    axis.append(el("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })));
  }
  svg.append(axis);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length === 1) {
      const [t, v] = s.points[0];
      svg.append(el("circle", { cx: x(t), cy: y(v), r: 3, fill: color, class: "series", "data-name": s.name }));
      return;
    }
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    const path = el("path", { d, stroke: color, fill: "none", "stroke-width": 1.6, class: "series", "data-name": s.name });
    path.append(el("title", {}, s.name));
    svg.append(path);
  });
  return svg;
}

export { COLORS };

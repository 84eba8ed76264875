// Small helpers to build the page: elements, times, sizes.

// h("div.cls#id", {attrs, onclick}, ...children): an element.
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec) || [];
  const el = document.createElement(m[1] || "div");
  for (const part of (m[2] || "").match(/[.#][\w-]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs !== undefined && attrs !== null && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    // Through the CSSOM: the page's policy refuses inline style attributes.
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// Replaces the children of `el`.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// "3m ago", "in 20s" from an RFC 3339 text or Unix seconds.
export function ago(t) {
  if (t === null || t === undefined || t === "") return "";
  const ms = typeof t === "number" ? t * 1000 : Date.parse(t);
  if (Number.isNaN(ms)) return String(t);
  const s = Math.round((Date.now() - ms) / 1000);
  const words = span(Math.abs(s));
  return s >= 0 ? `${words} ago` : `in ${words}`;
}

export function span(s) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? (s % 60) + "s" : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

// A class for a STATUS text: ok, warn, bad.
export function tone(summary) {
  const s = summary || "";
  if (/^(Running|Completed)\b/.test(s)) return "ok";
  if (/(Fail|CrashLoop|Degraded|Invalid|OutOfSync|Error|Unavailable|Exceeded|Exhausted|Refused)/i.test(s)) return "bad";
  return "warn";
}

export function badge(text, cls) {
  return h(`span.badge.${cls || tone(text)}`, text);
}

// A short revision.
export const short = (r) => (r || "").slice(0, 10);

// A message line that says what happened, kept until replaced.
export function notice(el, kind, text) {
  fill(el, text ? h(`div.notice.${kind}`, { role: kind === "bad" ? "alert" : "status" }, text) : null);
}

export function num(v, digits = 2) {
  if (v === null || v === undefined) return "";
  if (Number.isInteger(v)) return String(v);
  return Number(v).toFixed(digits).replace(/\.?0+$/, "");
}

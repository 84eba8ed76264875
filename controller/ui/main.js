// The page's frame: routes (#/apps, #/apps/NS/NAME, #/deploy, #/cluster,
// #/sources, #/graphs), the token prompt, one event stream shared by the
// pages, and the keyboard.

import { onUnauthorized, setToken, streamEvents, token } from "./api.js";
import { appsPage } from "./apps.js";
import { appPage } from "./app_page.js";
import { deployPage } from "./deploy.js";
import { clusterPage, sourcesPage } from "./cluster.js";
import { graphsPage } from "./graphs.js";

const view = document.getElementById("view");
const live = document.getElementById("live");
const logout = document.getElementById("logout");

// Pages subscribe to events; each gets every event while it is shown.
const listeners = new Set();
export function onEvent(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

// The token prompt: one at a time, resolved once a token is entered.
let asking = null;
onUnauthorized((why) => {
  if (asking) return asking;
  const dialog = document.getElementById("login");
  document.getElementById("login-why").textContent = why || "This controller needs a bearer token.";
  const input = document.getElementById("login-token");
  input.value = "";
  asking = new Promise((resolve) => {
    document.getElementById("login-form").onsubmit = () => {
      setToken(input.value.trim());
      logout.hidden = false;
      asking = null;
      resolve();
    };
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return asking;
});
logout.hidden = !token();
logout.onclick = () => {
  setToken("");
  location.reload();
};

// Errors the page did not expect: said at the top, and kept in
// window.sextantErrors (the browser tests check it stays empty).
window.sextantErrors = [];
function unexpected(text) {
  window.sextantErrors.push(text);
  console.error(text);
  const bar = document.getElementById("page-error") || document.body.insertBefore(document.createElement("div"), view);
  bar.id = "page-error";
  bar.className = "notice bad";
  bar.textContent = `The page hit an error (reload to recover): ${text}`;
}
window.addEventListener("error", (e) => unexpected(e.message));
window.addEventListener("unhandledrejection", (e) => unexpected(String(e.reason?.message || e.reason)));

let leave = null;
async function route() {
  const path = (location.hash || "#/apps").slice(1).split("/").filter(Boolean).map(decodeURIComponent);
  if (leave) leave();
  leave = null;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.page === (path[0] || "apps"));
  }
  view.replaceChildren();
  const ctx = { view, onEvent };
  let page;
  switch (path[0]) {
    case "apps":
      page = path.length >= 3 ? appPage(ctx, path[1], path[2]) : appsPage(ctx);
      break;
    case "deploy":
      page = deployPage(ctx, path[1]);
      break;
    case "cluster":
      page = clusterPage(ctx);
      break;
    case "sources":
      page = sourcesPage(ctx);
      break;
    case "graphs":
      page = graphsPage(ctx);
      break;
    default:
      location.hash = "#/apps";
      return;
  }
  leave = await page;
}

window.addEventListener("hashchange", route);
route();

streamEvents(
  (e) => {
    for (const f of listeners) f(e);
  },
  (state) => {
    // When the page first went live, for the UI bench (benches/ui.rs).
    if (state === "live" && !document.body.dataset.liveAt) document.body.dataset.liveAt = String(performance.now());
    live.textContent = state === "live" ? "● live" : state;
    live.classList.toggle("ok", state === "live");
  },
);

// Keyboard: g then a letter to go to a page, ? for help; pages handle the rest.
let pendingG = false;
document.addEventListener("keydown", (e) => {
  const t = e.target;
  if (e.key === "Escape" && t instanceof HTMLElement && t.matches("input, textarea, select")) {
    t.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey || (t instanceof HTMLElement && t.matches("input, textarea, select"))) return;
  if (pendingG) {
    pendingG = false;
    const to = { a: "#/apps", d: "#/deploy", c: "#/cluster", s: "#/sources", g: "#/graphs" }[e.key];
    if (to) {
      location.hash = to;
      e.preventDefault();
    }
    return;
  }
  if (e.key === "g") pendingG = true;
  else if (e.key === "?") document.getElementById("help").showModal();
});
document.getElementById("help-button").onclick = () => document.getElementById("help").showModal();

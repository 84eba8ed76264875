// The apps list: every app with its counts, revision, source and STATUS
// (the controller's `summary`, the words `sextant get apps` prints),
// filtered by namespace, label selector, status and name, 100 rows a
// page. Events update it live: each event names its app, and the apps
// named within 25 ms are read again together (one small request per app,
// or the whole list when many changed), never the whole list per event.

import { api, enc } from "./api.js";
import { badge, fill, h, short } from "./dom.js";

const PAGE = 100;
// Past this many apps changed at once, one read of the list is cheaper.
const MANY = 40;
// How long events are gathered before their apps are read: one change
// brings a few events at once (desired, action, task), read as one.
const BATCH_MS = 25;

const state = {
  apps: new Map(), // "ns/name" -> AppView
  sorted: [], // keys, sorted
  filter: { namespace: "", selector: "", status: "", text: "" },
  page: 0,
  selected: 0,
};

const keyOf = (a) => `${a.namespace}/${a.name}`;

function sourceText(a) {
  if (a.source === "apply") return "apply";
  return a.source;
}

function statusClass(s) {
  if (s === "") return () => true;
  if (s === "running") return (a) => /^Running\b/.test(a.summary);
  if (s === "notrunning") return (a) => !/^Running\b/.test(a.summary);
  return (a) => a.summary.toLowerCase().startsWith(s.toLowerCase());
}

export async function appsPage({ view, onEvent }) {
  const count = h("span.count");
  const nsSelect = h("select#f-namespace", { title: "namespace", onchange: () => setFilter("namespace", nsSelect.value) });
  const selector = h("input#f-labels", {
    placeholder: "labels: team=web,!canary",
    title: "label selector (kubectl's form, filtered by the controller)",
    onchange: () => setFilter("selector", selector.value.trim()),
  });
  const statusSelect = h(
    "select#f-status",
    { title: "status", onchange: () => setFilter("status", statusSelect.value) },
    h("option", { value: "" }, "any status"),
    h("option", { value: "running" }, "Running"),
    h("option", { value: "notrunning" }, "not Running"),
    h("option", { value: "Progressing" }, "Progressing"),
    h("option", { value: "Pending" }, "Pending"),
    h("option", { value: "Degraded" }, "Degraded"),
    h("option", { value: "CrashLoopBackOff" }, "CrashLoopBackOff"),
    h("option", { value: "Paused" }, "Paused"),
    h("option", { value: "OutOfSync" }, "OutOfSync"),
  );
  const search = h("input#f-text", {
    type: "search",
    placeholder: "/ filter by name",
    oninput: () => setFilter("text", search.value.trim()),
  });
  const error = h("div.errors");
  const body = h("tbody#apps-body");
  const pager = h("div.pager");
  const table = h(
    "table.grid#apps",
    h(
      "thead",
      h(
        "tr",
        h("th", "Namespace"),
        h("th", "Name"),
        h("th.num", { title: "running/instances" }, "Running"),
        h("th.num.wide-only", { title: "healthy" }, "Healthy"),
        h("th.num", { title: "available" }, "Available"),
        h("th.wide-only", "Revision"),
        h("th.wide-only", "Source"),
        h("th", "Status"),
      ),
    ),
    body,
  );
  fill(
    view,
    h("div.toolbar", h("h1", "Apps"), count, h("span.spacer"), search, nsSelect, selector, statusSelect, h("a.button.primary", { href: "#/deploy" }, "Deploy")),
    error,
    table,
    pager,
  );

  function setFilter(k, v) {
    state.filter[k] = v;
    state.page = 0;
    state.selected = 0;
    if (k === "selector") reload();
    else render();
  }

  function visible() {
    const { namespace, status, text } = state.filter;
    const st = statusClass(status);
    const out = [];
    for (const k of state.sorted) {
      const a = state.apps.get(k);
      if (namespace && a.namespace !== namespace) continue;
      if (text && !k.includes(text)) continue;
      if (!st(a)) continue;
      out.push(a);
    }
    return out;
  }

  function row(a, i) {
    const st = a.status || {};
    const url = `#/apps/${enc(a.namespace)}/${enc(a.name)}`;
    return h(
      "tr",
      { dataset: { key: keyOf(a), index: i }, class: i === state.selected ? "selected" : null, onclick: () => (location.hash = url) },
      h("td", a.namespace),
      h("td", h("a", { href: url }, a.name)),
      h("td.num", `${a.running}/${a.instances}`),
      h("td.num.wide-only", st.healthy ?? ""),
      h("td.num", a.available),
      h("td.mono.wide-only", { title: a.revision }, short(a.revision)),
      h("td.wide-only.clip", { title: a.source }, sourceText(a)),
      h("td.status", { title: a.summary }, badge(a.summary)),
    );
  }

  let shown = [];
  function render() {
    shown = visible();
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const first = state.page * PAGE;
    const rows = shown.slice(first, first + PAGE).map((a, i) => row(a, first + i));
    body.replaceChildren(...rows);
    if (!rows.length) body.append(h("tr", h("td.empty", { colspan: 8 }, state.apps.size ? "No app matches the filter." : "No apps yet: deploy one.")));
    count.textContent = `${shown.length} of ${state.apps.size}`;
    fill(
      pager,
      h("button", { disabled: state.page === 0, onclick: () => turn(-1), title: "p" }, "‹ Prev"),
      ` page ${state.page + 1} of ${pages} `,
      h("button", { disabled: state.page >= pages - 1, onclick: () => turn(1), title: "n" }, "Next ›"),
    );
    const namespaces = [...new Set(state.sorted.map((k) => k.split("/")[0]))];
    if (nsSelect.options.length !== namespaces.length + 1) {
      fill(nsSelect, h("option", { value: "" }, "all namespaces"), namespaces.map((n) => h("option", { value: n }, n)));
      nsSelect.value = state.filter.namespace;
    }
  }

  function turn(d) {
    state.page += d;
    state.selected = state.page * PAGE;
    render();
  }

  // Replaces one row in place (or re-renders when the set changed).
  function update(key) {
    const a = state.apps.get(key);
    const old = body.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
    if (a && old) {
      const i = Number(old.dataset.index);
      if (visible()[i] === a) {
        old.replaceWith(row(a, i));
        return;
      }
    }
    render();
  }

  function setAll(list) {
    state.apps = new Map(list.map((a) => [keyOf(a), a]));
    state.sorted = [...state.apps.keys()];
  }

  async function reload() {
    const q = state.filter.selector ? `?labelSelector=${enc(state.filter.selector)}` : "";
    try {
      setAll(await api(`/api/v1/apps${q}`));
      fill(error);
    } catch (e) {
      fill(error, h("div.notice.bad", { role: "alert" }, e.message));
      setAll([]);
    }
    render();
  }

  // Live: the apps events name, read again together.
  const dirty = new Set();
  let timer = null;
  async function flush() {
    timer = null;
    const keys = [...dirty];
    dirty.clear();
    if (keys.length > MANY) return reload();
    const sel = state.filter.selector ? `&labelSelector=${enc(state.filter.selector)}` : "";
    await Promise.all(
      keys.map(async (key) => {
        const [ns, name] = key.split("/");
        try {
          const [a] = await api(`/api/v1/apps?namespace=${enc(ns)}&name=${enc(name)}${sel}`);
          const known = state.apps.has(key);
          if (a) state.apps.set(key, a);
          else state.apps.delete(key);
          if (known !== Boolean(a)) {
            state.sorted = [...state.apps.keys()].sort((x, y) => {
              const [xn, xa] = x.split("/");
              const [yn, ya] = y.split("/");
              return xn < yn ? -1 : xn > yn ? 1 : xa < ya ? -1 : xa > ya ? 1 : 0;
            });
            render();
          } else update(key);
        } catch (e) {
          console.warn("cannot read", key, e);
        }
      }),
    );
  }
  const stop = onEvent((e) => {
    if (!e.app) return;
    dirty.add(e.app);
    if (!timer) timer = setTimeout(flush, BATCH_MS);
  });

  function keys(e) {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || (t instanceof HTMLElement && t.matches("input, textarea, select"))) return;
    if (e.key === "/") {
      search.focus();
      e.preventDefault();
    } else if (e.key === "j" || e.key === "k") {
      const d = e.key === "j" ? 1 : -1;
      state.selected = Math.max(0, Math.min(shown.length - 1, state.selected + d));
      const page = Math.floor(state.selected / PAGE);
      if (page !== state.page) {
        state.page = page;
        render();
      }
      for (const tr of body.querySelectorAll("tr.selected")) tr.classList.remove("selected");
      const tr = body.querySelector(`tr[data-index="${state.selected}"]`);
      tr?.classList.add("selected");
      tr?.scrollIntoView({ block: "nearest" });
    } else if (e.key === "Enter") {
      const a = shown[state.selected];
      if (a) location.hash = `#/apps/${enc(a.namespace)}/${enc(a.name)}`;
    } else if (e.key === "n" || e.key === "p") {
      const pages = Math.ceil(shown.length / PAGE);
      const next = state.page + (e.key === "n" ? 1 : -1);
      if (next >= 0 && next < pages) turn(e.key === "n" ? 1 : -1);
    }
  }
  document.addEventListener("keydown", keys);

  await reload();
  // When the list was first drawn, for the UI bench (benches/ui.rs).
  document.body.dataset.appsReady = String(performance.now());
  return () => {
    stop();
    document.removeEventListener("keydown", keys);
    clearTimeout(timer);
  };
}

// One app: what it runs, its conditions, the rollout in progress, its
// revisions, its tasks (and their stdout / stderr), its recent events
// live, and the actions: scale, restart, pause / resume, roll back. An
// app a directory or repository owns refuses spec changes: the page says
// where to change it, and the server's refusal is shown as it answers.

import { api, appPath, enc } from "./api.js";
import { ago, badge, fill, h, notice, short, span } from "./dom.js";

const MAX_EVENTS = 50;

const ENDED = new Set(["TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"]);
// Shown at most: every live task, and this many of the latest ended ones.
const ENDED_SHOWN = 20;

// Live tasks first (by id), then the latest ended ones.
function ordered(tasks) {
  const live = tasks.filter((t) => !ENDED.has(t.state));
  const ended = tasks.filter((t) => ENDED.has(t.state)).sort((a, b) => (b.updatedAt || "").localeCompare(a.updatedAt || ""));
  return [...live, ...ended.slice(0, ENDED_SHOWN)];
}

function owner(d) {
  const src = d.source || "";
  if (src === "apply") return null;
  const where = d.file ? `${d.file}${d.line ? ":" + d.line : ""}` : "its manifest";
  const kind = src.startsWith("git:") ? "repository" : "directory";
  return { src, where, kind, text: `Owned by ${src}: change ${where} in the ${kind} to edit its spec (scale, YAML). Pause, resume, restart and roll back work here.` };
}

function specSummary(s) {
  const rows = [];
  const add = (k, v) => v !== undefined && v !== null && v !== "" && rows.push(h("tr", h("th", k), h("td", v)));
  add("Command", s.command ? h("code", s.command) : s.args ? h("code", JSON.stringify(s.args)) : null);
  add("Image", s.container?.docker?.image);
  add("Resources", `cpus ${s.resources?.cpus ?? "-"} · mem ${s.resources?.mem ?? "-"} · disk ${s.resources?.disk ?? "0"}`);
  add("Ports", (s.ports || []).map((p) => p.name + (p.hostPort ? `:${p.hostPort}` : "")).join(", "));
  const hc = s.healthCheck;
  if (hc) add("Health check", hc.http ? `HTTP ${hc.http.port} ${hc.http.path || "/"}` : hc.tcp ? `TCP ${hc.tcp.port}` : hc.command ? `command ${hc.command.command}` : "");
  add("Strategy", s.strategy ? `maxSurge ${s.strategy.maxSurge} · maxUnavailable ${s.strategy.maxUnavailable} · minReady ${s.strategy.minReadySeconds}s · deadline ${s.strategy.progressDeadlineSeconds}s${s.strategy.autoRollback ? " · autoRollback" : ""}` : null);
  add("Priority", s.priority);
  add("Constraints", (s.placement?.constraints || []).map((c) => `${c.field} ${c.operator}${c.value ? " " + c.value : ""}`).join(", "));
  add("Env", Object.keys(s.env || {}).length ? Object.entries(s.env).map(([k, v]) => `${k}=${v}`).join(" ") : null);
  add("Paused", s.paused ? "yes (in the manifest)" : null);
  return h("table.kv", rows);
}

// maxSurge / maxUnavailable of `instances` as counts (25% rounds up / down).
function bound(v, n, up) {
  if (typeof v === "number") return v;
  const m = /^(\d+)%$/.exec(String(v || "0"));
  if (!m) return Number(v) || 0;
  const x = (Number(m[1]) * n) / 100;
  return up ? Math.ceil(x) : Math.floor(x);
}

function rollout(d) {
  const st = d.status || {};
  const prog = (d.conditions || []).find((c) => c.type === "Progressing");
  const current = d.revisions[d.revisions.length - 1];
  const s = d.spec.strategy || {};
  const n = d.instances;
  const surge = bound(s.maxSurge ?? "25%", n, true);
  const unavail = bound(s.maxUnavailable ?? "25%", n, false);
  const inProgress = current && current.outcome === "Progressing";
  const old = Math.max(0, (st.live || 0) - (st.updated || 0));
  const items = [
    h("span.metric", h("b", st.updated ?? 0), " new"),
    h("span.metric", h("b", old), " old"),
    h("span.metric", h("b", st.available ?? d.available), ` available (at least ${Math.max(0, n - unavail)})`),
    h("span.metric", h("b", st.live ?? 0), ` live (at most ${n + surge})`),
    h("span.metric", h("b", st.waiting ?? 0), " waiting"),
  ];
  if (inProgress && current.firstSeen && s.progressDeadlineSeconds) {
    const left = Math.round(Date.parse(current.firstSeen) / 1000 + s.progressDeadlineSeconds - Date.now() / 1000);
    items.push(h("span.metric", left > 0 ? `deadline in ${span(left)}` : "deadline passed"));
  }
  return h(
    "section.card",
    h("h2", "Rollout", " ", prog ? badge(`${prog.reason || prog.status}`, prog.status === "False" ? "bad" : prog.status === "True" ? (inProgress ? "warn" : "ok") : "warn") : null),
    h("div.metrics", items),
    prog?.message ? h("p.message", prog.message) : null,
    st.lastKnown ? h("p.message.warn", `Last known: ${st.lastKnown}`) : null,
  );
}

export async function appPage({ view, onEvent }, ns, name) {
  const key = `${ns}/${name}`;
  const path = appPath(ns, name);
  const head = h("div.toolbar");
  const actionsMsg = h("div#action-result");
  const body = h("div.app-body");
  const eventsList = h("ul.events#app-events");
  const logBox = h("pre.log#log", "Pick a task's stdout or stderr.");
  const logTitle = h("span", "Logs");
  fill(view, head, actionsMsg, body);
  let detail = null;
  const scale = h("input#scale-instances", { type: "number", min: 0, max: 10000, title: "instances", oninput: () => (scaleTouched = true) });
  let scaleTouched = false;
  const undoSelect = h("select#undo-revision", { title: "revision to roll back to" });

  async function act(what, opts) {
    notice(actionsMsg, "info", `${what}…`);
    try {
      const r = await api(`${path}${opts.path}`, { method: "POST", json: opts.json });
      notice(actionsMsg, "ok", r.message || `${what}: ${r.outcome || "done"}${r.change ? " (" + r.change + ")" : ""}`);
      scaleTouched = false;
      await load();
    } catch (e) {
      notice(actionsMsg, "bad", `${what} refused: ${e.message}`);
    }
  }

  async function showLog(task, stream) {
    logTitle.textContent = `${stream} of ${task}`;
    logBox.textContent = "reading…";
    try {
      const text = await api(`${path}/logs?task=${enc(task)}&stream=${stream}&tail=200`);
      logBox.textContent = text || `(${stream} is empty)`;
      logBox.scrollTop = logBox.scrollHeight;
    } catch (e) {
      logBox.textContent = `cannot read ${stream}: ${e.message}`;
    }
  }

  function render(d) {
    const a = d;
    const own = owner(d);
    const paused = (a.conditions || []).some((c) => c.type === "Progressing" && c.reason === "Paused");
    // The fields keep what a person typed or picked across live redraws.
    if (!scaleTouched) scale.value = a.instances;
    const completed = d.revisions.filter((r) => r.outcome === "Completed" && r.revision !== a.revision);
    const picked = undoSelect.value;
    fill(
      undoSelect,
      h("option", { value: "" }, "last completed"),
      completed.reverse().map((r) => h("option", { value: r.revision }, `${short(r.revision)} (${ago(r.firstSeen)})`)),
    );
    if ([...undoSelect.options].some((o) => o.value === picked)) undoSelect.value = picked;
    // Not while a person is in one of its fields (a redraw would take the focus).
    const focus = document.activeElement;
    if (!(head.contains(focus) && focus.matches("input, select")))
      fill(
      head,
      h("h1", h("a", { href: "#/apps" }, "Apps"), " / ", h("span.muted", ns + " / "), name),
      badge(a.summary),
      h("span.spacer"),
      h(
        "div.actions",
        h("label.inline", "Instances ", scale),
        h("button#scale", { onclick: () => act("Scale", { path: "/scale", json: { instances: Number(scale.value) } }) }, "Scale"),
        h("button#restart", { onclick: () => act("Restart", { path: "/rollout/restart" }) }, "Restart"),
        paused
          ? h("button#resume", { onclick: () => act("Resume", { path: "/rollout/resume" }) }, "Resume")
          : h("button#pause", { onclick: () => act("Pause", { path: "/rollout/pause" }) }, "Pause"),
        undoSelect,
        h("button#undo", { onclick: () => act("Roll back", { path: "/rollout/undo", json: undoSelect.value ? { toRevision: undoSelect.value } : {} }) }, "Roll back"),
        h("a.button#edit-yaml", { href: `#/deploy/${enc(key)}` }, "Edit YAML"),
      ),
    );
    const st = a.status || {};
    fill(
      body,
      own ? h("div.notice.info#owner", own.text) : null,
      h(
        "div.columns",
        h(
          "section.card",
          h("h2", "Spec"),
          h(
            "table.kv",
            h("tr", h("th", "Instances"), h("td", `${a.instances} (running ${a.running}, healthy ${st.healthy ?? 0}, available ${a.available})`)),
            h("tr", h("th", "Revision"), h("td.mono", a.revision, st.targetRevision && st.targetRevision !== a.revision ? ` → running ${short(st.targetRevision)} (rolled back)` : "")),
            h("tr", h("th", "Source"), h("td", a.source, d.file ? ` · ${d.file}${d.line ? ":" + d.line : ""}` : "")),
            d.commit ? h("tr", h("th", "Commit"), h("td", h("span.mono", short(d.commit.sha)), ` ${d.commit.subject} — ${d.commit.author}`)) : null,
            h("tr", h("th", "Generation"), h("td", d.generation)),
            Object.keys(a.labels || {}).length ? h("tr", h("th", "Labels"), h("td", Object.entries(a.labels).map(([k, v]) => h("span.tag", `${k}=${v}`)))) : null,
          ),
          specSummary(d.spec),
        ),
        h(
          "section.card",
          h("h2", "Conditions"),
          h(
            "table.grid#conditions",
            h("thead", h("tr", h("th", "Type"), h("th", "Status"), h("th", "Reason"), h("th", "Message"))),
            h(
              "tbody",
              (a.conditions || []).map((c) =>
                h("tr", h("td", c.type), h("td", badge(c.status, (c.type === "Degraded" ? c.status === "False" : c.status === "True") ? "ok" : c.status === "Unknown" ? "warn" : "bad")), h("td", c.reason || ""), h("td.message", c.message || "")),
              ),
            ),
          ),
        ),
      ),
      rollout(d),
      h(
        "section.card",
        h("h2", "Tasks"),
        h(
          "div.scroll",
          h(
            "table.grid#tasks",
            h("thead", h("tr", h("th", "Task"), h("th", "State"), h("th", "Health"), h("th", "Host"), h("th", "Ports"), h("th", "Why / message"), h("th", "Logs"))),
            h(
              "tbody",
              d.tasks.length
                ? ordered(d.tasks).map((t) =>
                    h(
                      "tr",
                      h("td.mono.clip", { title: t.taskId }, t.taskId.split(".").slice(2).join(".")),
                      h("td", badge(t.state.replace("TASK_", ""), t.state === "TASK_RUNNING" ? "ok" : /FAIL|ERROR|LOST|GONE/.test(t.state) ? "bad" : "warn")),
                      h("td", t.healthy === true ? "healthy" : t.healthy === false ? "unhealthy" : ""),
                      h("td", t.hostname),
                      h("td.mono", (t.ports || []).map((p) => `${p.name}:${p.port}`).join(" ")),
                      h("td.message", [t.reason, t.message].filter(Boolean).join(": ")),
                      h("td", h("button.small", { onclick: () => showLog(t.taskId, "stdout") }, "stdout"), " ", h("button.small", { onclick: () => showLog(t.taskId, "stderr") }, "stderr")),
                    ),
                  )
                : h("tr", h("td.empty", { colspan: 7 }, "No tasks.")),
            ),
          ),
        ),
      ),
      h(
        "div.columns",
        h(
          "section.card",
          h("h2", "Revisions"),
          h(
            "table.grid#revisions",
            h("thead", h("tr", h("th", "Revision"), h("th", "Outcome"), h("th", "Reason"), h("th", "First seen"), h("th", ""))),
            h(
              "tbody",
              [...d.revisions].reverse().map((r) =>
                h(
                  "tr",
                  { dataset: { revision: r.revision } },
                  h("td.mono", { title: r.revision }, short(r.revision), r.revision === a.revision ? " (spec)" : ""),
                  h("td", badge(r.outcome, r.outcome === "Completed" ? "ok" : r.outcome === "Failed" ? "bad" : "warn")),
                  h("td.message", [r.reason, r.message].filter(Boolean).join(": "), r.rolledBackTo ? ` → rolled back to ${short(r.rolledBackTo)}` : ""),
                  h("td", ago(r.firstSeen)),
                  h("td", r.outcome === "Completed" && r.revision !== (st.targetRevision || a.revision) ? h("button.small.undo-to", { onclick: () => act("Roll back", { path: "/rollout/undo", json: { toRevision: r.revision } }) }, "Roll back here") : null),
                ),
              ),
            ),
          ),
        ),
        h("section.card", h("h2", "Events ", h("span.muted", "live")), eventsList),
      ),
      h("section.card", h("h2", logTitle), logBox),
    );
  }

  async function load() {
    try {
      detail = await api(path);
      render(detail);
    } catch (e) {
      fill(head, h("h1", h("a", { href: "#/apps" }, "Apps"), " / ", key));
      fill(body, h("div.notice.bad", { role: "alert" }, e.message));
    }
  }

  function eventItem(e) {
    return h("li", h("span.time", new Date(e.time).toLocaleTimeString()), " ", h("span.kind", e.kind), " ", h("b", e.reason), " ", e.message);
  }

  let timer = null;
  const stop = onEvent((e) => {
    if (e.app !== key) return;
    eventsList.prepend(eventItem(e));
    while (eventsList.children.length > MAX_EVENTS) eventsList.lastChild.remove();
    if (!timer) timer = setTimeout(() => ((timer = null), load()), 150);
  });

  await load();
  try {
    const events = await api(`/api/v1/events?app=${enc(key)}`);
    for (const e of events.slice(-MAX_EVENTS)) eventsList.prepend(eventItem(e));
  } catch (e) {
    eventsList.append(h("li", `cannot read events: ${e.message}`));
  }
  const tick = setInterval(() => detail && load(), 5000);
  return () => {
    stop();
    clearTimeout(timer);
    clearInterval(tick);
  };
}


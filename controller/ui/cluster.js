// The cluster (the framework's link to Mesos; nodes with total / used /
// free, attributes; the launch queue with why each task waits; preemptions
// from the events), all but the preemptions from one GET /api/v1/cluster,
// and the
// sources (URL, branch, commit, last sync, last error at its file and
// line, and "sync now").

import { api } from "./api.js";
import { ago, badge, fill, h, notice, num, short } from "./dom.js";

const res = (r) => (r ? `${num(r.cpus)} cpu · ${num(r.mem, 0)} MiB · ${num(r.disk, 0)} disk` : "");
const ports = (r) => (r?.ports || []).map((p) => (p.begin === p.end ? p.begin : `${p.begin}-${p.end}`)).join(",");

export async function clusterPage({ view, onEvent }) {
  const link = h("div");
  const nodes = h("div");
  const queue = h("div");
  const preempt = h("ul.events#preemptions");
  fill(
    view,
    h("div.toolbar", h("h1", "Cluster"), h("span.spacer"), h("button", { onclick: () => load() }, "Refresh")),
    h("section.card", h("h2", "Framework"), link),
    h("section.card", h("h2", "Nodes"), nodes),
    h("section.card", h("h2", "Waiting queue"), queue),
    h("section.card", h("h2", "Preemptions"), preempt),
  );
  async function load() {
    let cluster;
    try {
      cluster = await api("/api/v1/cluster");
    } catch (e) {
      notice(link, "bad", e.message);
      notice(nodes, "bad", e.message);
      notice(queue, "bad", e.message);
    }
    if (cluster) {
      const f = cluster.framework;
      fill(
        link,
        h(
          "p#framework",
          badge(f.connected ? "Subscribed" : "Not subscribed", f.connected ? "ok" : "bad"),
          ` to ${f.master}`,
          f.since ? `, since ${ago(f.since)}` : "",
          f.frameworkId ? h("span.mono", ` as ${f.frameworkId}`) : h("span.muted", " (no framework id yet)"),
        ),
        f.message ? h("p.message", f.message) : "",
      );
    }
    if (cluster && !cluster.nodes) {
      notice(nodes, "bad", cluster.nodesError || "The master did not list its nodes.");
    } else if (cluster) {
      const list = cluster.nodes;
      fill(
        nodes,
        h("p.muted", `${list.total} node(s) listed by ${list.master}`),
        h(
          "div.scroll",
          h(
            "table.grid#nodes",
            h("thead", h("tr", h("th", "Host"), h("th", "Status"), h("th", "Total"), h("th", "Used"), h("th", "Free"), h("th", "Free ports"), h("th", "Attributes"), h("th.num", "Tasks"))),
            h(
              "tbody",
              list.nodes.map((n) =>
                h(
                  "tr",
                  h("td", { title: n.id }, n.hostname),
                  h("td", badge(n.status, n.status === "Ready" ? "ok" : "warn")),
                  h("td", res(n.total)),
                  h("td", res(n.used), h("div.bar", h("span", { style: `width:${Math.round((100 * (n.used?.cpus || 0)) / (n.total?.cpus || 1))}%` }))),
                  h("td", res(n.free)),
                  h("td.mono", ports(n.free)),
                  h("td", Object.entries(n.attributes || {}).map(([k, v]) => h("span.tag", `${k}=${v}`))),
                  h("td.num", n.tasks?.length ?? n.tasks ?? 0),
                ),
              ),
            ),
          ),
        ),
      );
    }
    if (cluster) {
      const q = cluster.queue;
      fill(
        queue,
        q.tasks.length
          ? h(
              "div.scroll",
              h(
                "table.grid#queue",
                h("thead", h("tr", h("th", "Task"), h("th", "App"), h("th", "Asks"), h("th", "Queued"), h("th", "Why it waits"))),
                h(
                  "tbody",
                  q.tasks.map((t) =>
                    h(
                      "tr",
                      h("td.mono.clip", { title: t.taskId }, t.taskId),
                      h("td", h("a", { href: `#/apps/${encodeURIComponent(t.namespace)}/${encodeURIComponent(t.app)}` }, `${t.namespace}/${t.app}`)),
                      h("td", `${num(t.cpus)} cpu · ${num(t.mem, 0)} MiB${t.priority ? " · " + t.priority : ""}`),
                      h("td", ago(t.queuedAt)),
                      h("td.message", t.message),
                    ),
                  ),
                ),
              ),
            )
          : h("p.muted", "Nothing waits: every task has been placed."),
      );
    }
    try {
      // A victim's task event says "preempted by <task> (production) on <node>".
      const events = await api("/api/v1/events?kind=task");
      const hits = events.filter((e) => /preempted by /.test(e.message)).slice(-50);
      fill(preempt, hits.length ? hits.reverse().map((e) => h("li", h("span.time", ago(e.time)), " ", h("b", e.app), " ", e.message)) : h("li.muted", "No task has been preempted recently."));
    } catch (e) {
      fill(preempt, h("li", e.message));
    }
  }
  await load();
  const tick = setInterval(load, 5000);
  const stop = onEvent((e) => e.kind === "task" && /preempted by /.test(e.message || "") && load());
  return () => {
    clearInterval(tick);
    stop();
  };
}

export async function sourcesPage({ view, onEvent }) {
  const list = h("div");
  const msg = h("div#sync-result");
  fill(
    view,
    h("div.toolbar", h("h1", "Sources"), h("span.spacer"), h("button.primary#sync-now", { onclick: syncNow }, "Sync now")),
    msg,
    list,
  );
  async function syncNow() {
    try {
      const r = await api("/api/v1/sources/sync", { method: "POST" });
      notice(msg, "ok", `Sync asked of ${r.triggered} git source(s).`);
    } catch (e) {
      notice(msg, "bad", `Sync refused: ${e.message}`);
    }
  }
  async function load() {
    try {
      const sources = await api("/api/v1/sources");
      fill(
        list,
        sources.length ? null : h("p.muted", "No source is configured."),
        sources.map((s) =>
          h(
            "section.card.source",
            h("h2", s.name, " ", badge(s.lastError ? "failing" : s.lastSuccessAt ? "synced" : "not synced yet", s.lastError ? "bad" : s.lastSuccessAt ? "ok" : "warn")),
            h(
              "table.kv",
              s.url ? h("tr", h("th", "URL"), h("td.mono", s.url)) : null,
              s.branch ? h("tr", h("th", "Branch"), h("td", s.branch)) : null,
              s.path ? h("tr", h("th", "Path"), h("td.mono", s.path)) : null,
              s.commit ? h("tr", h("th", "Commit"), h("td", h("span.mono", short(s.commit.sha)), ` ${s.commit.subject} — ${s.commit.author}`)) : null,
              h("tr", h("th", "Last sync"), h("td", s.lastSuccessAt ? ago(s.lastSuccessAt) : "never")),
              h("tr", h("th", "Apps"), h("td", s.apps)),
              s.lastError ? h("tr", h("th", "Last error"), h("td.message.bad-text", s.lastError, s.lastErrorAt ? ` (${ago(s.lastErrorAt)})` : "")) : null,
              s.nextAttemptAt ? h("tr", h("th", "Next attempt"), h("td", ago(s.nextAttemptAt).startsWith("in ") ? ago(s.nextAttemptAt) : "due now")) : null,
              s.refused ? h("tr", h("th", "Refused"), h("td.message", s.refused)) : null,
              s.unpruned?.length ? h("tr", h("th", "Not pruned"), h("td", s.unpruned.join(", "))) : null,
            ),
            s.problems?.length
              ? h("ul.errors-list", s.problems.map((p) => h("li", h("b", `${p.file || ""}${p.line ? ":" + p.line + ":" + p.col : ""}`), p.field ? ` ${p.field}` : "", `: ${p.message}`, p.apps?.length ? ` (${p.apps.join(", ")})` : "")))
              : null,
          ),
        ),
      );
    } catch (e) {
      notice(list, "bad", e.message);
    }
  }
  await load();
  const stop = onEvent((e) => e.kind === "sync" && load());
  const tick = setInterval(load, 10000);
  return () => {
    stop();
    clearInterval(tick);
  };
}

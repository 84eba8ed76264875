// Deploy from the browser: a form for a new app and a YAML editor for any
// manifest. Both go to POST /api/v1/apply?dryRun=true first, so the
// server judges them as `sextant apply --dry-run` does; errors are shown
// at their line (the editor's gutter) and field (the form's input), and
// nothing changes until the dry run passes. Then the apply, and the new
// app's page opens.

import { api, appPath } from "./api.js";
import { fill, h, notice } from "./dom.js";

// YAML text of a JSON-like value (strings quoted as JSON, which YAML reads).
export function toYaml(v, indent = "") {
  const scalar = (x) => (typeof x === "string" ? JSON.stringify(x) : String(x));
  if (Array.isArray(v)) {
    if (!v.length) return " []";
    return v.map((x) => `\n${indent}- ${isObj(x) || Array.isArray(x) ? toYaml(x, indent + "  ").replace(/^\n\s*/, "") : scalar(x)}`).join("");
  }
  if (isObj(v)) {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined && x !== null);
    if (!entries.length) return " {}";
    return entries.map(([k, x]) => `\n${indent}${k}:${isObj(x) || Array.isArray(x) ? toYaml(x, indent + "  ") : " " + scalar(x)}`).join("");
  }
  return " " + scalar(v);
}
const isObj = (x) => x && typeof x === "object" && !Array.isArray(x);

function manifestOf(f) {
  const spec = { instances: Number(f.instances) };
  if (f.mode === "args") spec.args = f.command.split("\n").map((s) => s.trim()).filter(Boolean);
  else if (f.command) spec.command = f.command;
  if (f.image) spec.container = { docker: { image: f.image } };
  const resources = {};
  if (f.cpus) resources.cpus = f.cpus;
  if (f.mem) resources.mem = f.mem;
  if (Object.keys(resources).length) spec.resources = resources;
  const ports = f.ports.split(",").map((s) => s.trim()).filter(Boolean);
  if (ports.length) spec.ports = ports.map((p) => (/^[a-z][\w-]*:\d+$/.test(p) ? { name: p.split(":")[0], hostPort: Number(p.split(":")[1]) } : { name: p }));
  const env = {};
  for (const line of f.env.split("\n")) {
    const i = line.indexOf("=");
    if (line.trim() && i > 0) env[line.slice(0, i).trim()] = line.slice(i + 1);
    else if (line.trim()) env[line.trim()] = "";
  }
  if (Object.keys(env).length) spec.env = env;
  if (f.check === "http") spec.healthCheck = { http: { port: f.checkPort || ports[0] || "http", path: f.checkTarget || "/" } };
  if (f.check === "tcp") spec.healthCheck = { tcp: { port: f.checkPort || ports[0] || "http" } };
  if (f.check === "command") spec.healthCheck = { command: { command: f.checkTarget } };
  if (f.priority) spec.priority = f.priority;
  const constraints = f.constraints.split("\n").map((s) => s.trim()).filter(Boolean);
  if (constraints.length) {
    spec.placement = {
      constraints: constraints.map((c) => {
        const [field, operator, ...value] = c.split(/\s+/);
        return value.length ? { field, operator, value: value.join(" ") } : { field, operator };
      }),
    };
  }
  return { apiVersion: "sextant.dev/v1alpha1", kind: "App", metadata: { name: f.name, namespace: f.namespace || "default" }, spec };
}

// Where the form keeps each manifest field.
const FIELD_INPUT = [
  ["metadata.name", "name"],
  ["metadata.namespace", "namespace"],
  ["spec.instances", "instances"],
  ["spec.command", "command"],
  ["spec.args", "command"],
  ["spec.container", "image"],
  ["spec.resources.cpus", "cpus"],
  ["spec.resources.mem", "mem"],
  ["spec.resources", "cpus"],
  ["spec.ports", "ports"],
  ["spec.env", "env"],
  ["spec.healthCheck", "check"],
  ["spec.priority", "priority"],
  ["spec.placement", "constraints"],
];

function showResult(box, r, dry) {
  fill(
    box,
    h(`div.notice.${dry ? "info" : "ok"}`, dry ? "Dry run passed: nothing changed yet." : "Applied."),
    h("ul.results", r.objects.map((o) => h("li", h("b", `${o.namespace}/${o.name}`), `: ${o.outcome}${o.change ? " (" + o.change + ")" : ""}${o.message ? " — " + o.message : ""}`))),
  );
}

// The errors of a refused apply: located ones as a list, the rest as words.
function showErrors(box, e) {
  const located = e.details?.errors || [];
  const objects = e.details?.objects?.filter((o) => o.outcome === "error") || [];
  fill(
    box,
    h("div.notice.bad", { role: "alert" }, `Refused, nothing changed: ${e.message}`),
    located.length ? h("ul.errors-list", located.map((x) => h("li", { dataset: { line: x.line } }, h("b", `line ${x.line}:${x.col}`), x.field ? ` ${x.field}: ` : ": ", x.message))) : null,
    objects.length ? h("ul.errors-list", objects.map((o) => h("li", h("b", `${o.namespace}/${o.name}`), `: ${o.message}`))) : null,
  );
  return located;
}

async function submit(text, box, onErrors) {
  onErrors([]);
  notice(box, "info", "Checking…");
  try {
    const dry = await api("/api/v1/apply?dryRun=true", { method: "POST", text });
    showResult(box, dry, true);
    return dry;
  } catch (e) {
    onErrors(showErrors(box, e));
    return null;
  }
}

async function apply(text, box, onErrors) {
  if (!(await submit(text, box, onErrors))) return;
  try {
    const r = await api("/api/v1/apply", { method: "POST", text });
    showResult(box, r, false);
    const first = r.objects[0];
    if (first) location.hash = `#/apps/${encodeURIComponent(first.namespace)}/${encodeURIComponent(first.name)}`;
  } catch (e) {
    onErrors(showErrors(box, e));
  }
}

function formPanel(box, toEditor) {
  const inputs = {};
  const field = (id, label, el, hint) => {
    inputs[id] = el;
    el.id = `d-${id}`;
    el.name = id;
    return h("label.field", { for: el.id }, h("span", label), el, hint ? h("small", hint) : null, h("span.field-error", { "data-for": id }));
  };
  const form = h(
    "form.deploy-form#deploy-form",
    { onsubmit: (e) => e.preventDefault() },
    h(
      "div.form-grid",
      field("name", "Name", h("input", { required: true, placeholder: "web", pattern: "[a-z0-9]([-a-z0-9]*[a-z0-9])?" })),
      field("namespace", "Namespace", h("input", { value: "default" })),
      field("instances", "Instances", h("input", { type: "number", min: 0, value: 1 })),
      field("priority", "Priority", h("select", h("option", { value: "" }, "production (default)"), h("option", { value: "preemptible" }, "preemptible"))),
      field("mode", "Runs", h("select", h("option", { value: "command" }, "a shell command"), h("option", { value: "args" }, "args (one per line, no shell)"))),
      field("command", "Command", h("textarea", { rows: 2, placeholder: "exec python3 -m http.server $PORT_HTTP" })),
      field("image", "Docker image", h("input", { placeholder: "optional: registry/app:1.0" })),
      field("cpus", "CPUs", h("input", { placeholder: "100m or 0.1", value: "100m" })),
      field("mem", "Memory", h("input", { placeholder: "64Mi", value: "64Mi" })),
      field("ports", "Ports", h("input", { placeholder: "http, admin:9000" }), "names, comma-separated; name:port for a fixed host port"),
      field("env", "Environment", h("textarea", { rows: 2, placeholder: "KEY=value, one per line" })),
      field("check", "Health check", h("select", h("option", { value: "" }, "none"), h("option", { value: "http" }, "HTTP"), h("option", { value: "tcp" }, "TCP"), h("option", { value: "command" }, "command"))),
      field("checkPort", "Check port", h("input", { placeholder: "http (a port name or number)" })),
      field("checkTarget", "Check path / command", h("input", { placeholder: "/ or a command" })),
      field("constraints", "Constraints", h("textarea", { rows: 2, placeholder: "hostname UNIQUE\nrack CLUSTER r1" }), "field OPERATOR [value], one per line"),
    ),
  );
  const values = () => Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
  const preview = h("pre.preview#deploy-preview");
  const refresh = () => (preview.textContent = toYaml(manifestOf(values())).trimStart() + "\n");
  form.addEventListener("input", refresh);
  refresh();
  const markErrors = (errors) => {
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll(".invalid")) el.classList.remove("invalid");
    for (const e of errors) {
      const hit = FIELD_INPUT.find(([f]) => (e.field || "").startsWith(f));
      const id = hit ? hit[1] : null;
      const slot = id && form.querySelector(`.field-error[data-for="${id}"]`);
      if (slot) {
        slot.textContent = `${e.field}: ${e.message}`;
        inputs[id].classList.add("invalid");
      }
    }
  };
  return h(
    "div.columns",
    h(
      "section.card",
      h("h2", "New app"),
      form,
      h(
        "div.row",
        h("button#form-check", { onclick: () => submit(preview.textContent, box, markErrors) }, "Check (dry run)"),
        h("button.primary#form-deploy", { onclick: () => apply(preview.textContent, box, markErrors) }, "Deploy"),
        h("button.link", { onclick: () => toEditor(preview.textContent) }, "Edit as YAML"),
      ),
    ),
    h("section.card", h("h2", "Manifest"), preview),
  );
}

function editorPanel(box, initial) {
  const gutter = h("div.gutter", { "aria-hidden": "true" });
  const text = h("textarea#yaml", { spellcheck: "false", autocomplete: "off", wrap: "off", "aria-label": "manifest YAML" });
  text.value = initial;
  let bad = new Set();
  const lines = () => {
    const n = text.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) => h(`div${bad.has(i + 1) ? ".bad" : ""}`, String(i + 1))));
    gutter.scrollTop = text.scrollTop;
  };
  text.addEventListener("input", lines);
  text.addEventListener("scroll", () => (gutter.scrollTop = text.scrollTop));
  text.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      text.setRangeText("  ", text.selectionStart, text.selectionEnd, "end");
      lines();
    }
  });
  const markErrors = (errors) => {
    bad = new Set(errors.map((e) => e.line));
    lines();
    const first = errors[0];
    if (first) {
      const offset = text.value.split("\n").slice(0, first.line - 1).join("\n").length + (first.line > 1 ? 1 : 0);
      text.focus();
      text.setSelectionRange(offset, offset);
    }
  };
  box.addEventListener("click", (e) => {
    const li = e.target.closest?.("li[data-line]");
    if (li) markErrors([{ line: Number(li.dataset.line) }]);
  });
  lines();
  return h(
    "section.card",
    h("h2", "YAML ", h("span.muted", "one or more App manifests, --- between them")),
    h("div.editor", gutter, text),
    h(
      "div.row",
      h("button#yaml-check", { onclick: () => submit(text.value, box, markErrors) }, "Check (dry run)"),
      h("button#yaml-diff", { onclick: () => diff(text.value, box, markErrors) }, "Diff"),
      h("button.primary#yaml-apply", { onclick: () => apply(text.value, box, markErrors) }, "Apply"),
    ),
  );
}

async function diff(text, box, onErrors) {
  onErrors([]);
  try {
    const r = await api("/api/v1/diff", { method: "POST", text });
    fill(box, r.objects.map((o) => h("div", h("b", `${o.namespace}/${o.name}: ${o.outcome}`), o.diff ? h("pre.diff", o.diff) : null)));
  } catch (e) {
    onErrors(showErrors(box, e));
  }
}

const EXAMPLE = `apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: hello
  namespace: default
spec:
  instances: 2
  command: "exec python3 -m http.server --bind 127.0.0.1 $PORT_HTTP"
  resources: {cpus: 100m, mem: 64Mi}
  ports:
    - name: http
  healthCheck:
    http: {port: http, path: /}
`;

export async function deployPage({ view }, editKey) {
  const box = h("div.result#deploy-result", { "aria-live": "polite" });
  const tabs = h("div.tabs");
  const panel = h("div");
  const show = (which, yaml) => {
    fill(
      tabs,
      h("button#tab-form", { class: which === "form" ? "active" : null, onclick: () => show("form") }, "Form"),
      h("button#tab-yaml", { class: which === "yaml" ? "active" : null, onclick: () => show("yaml", yaml) }, "YAML"),
    );
    fill(box);
    fill(panel, which === "form" ? formPanel(box, (t) => show("yaml", t)) : editorPanel(box, yaml ?? EXAMPLE));
  };
  fill(view, h("div.toolbar", h("h1", "Deploy"), tabs), panel, box);
  if (editKey) {
    const [ns, name] = editKey.split("/");
    try {
      const d = await api(appPath(ns, name));
      const manifest = { apiVersion: "sextant.dev/v1alpha1", kind: "App", metadata: { name, namespace: ns, labels: Object.keys(d.labels || {}).length ? d.labels : undefined }, spec: d.spec };
      show("yaml", toYaml(manifest).trimStart() + "\n");
      if (d.source !== "apply") notice(box, "info", `${ns}/${name} is owned by ${d.source} (${d.file || "its manifest"}${d.line ? ":" + d.line : ""}): applying here is refused; change it there.`);
    } catch (e) {
      show("yaml");
      notice(box, "bad", e.message);
    }
  } else show("form");
  return () => {};
}

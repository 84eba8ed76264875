// The documented HTTP API and nothing else: fetch with the bearer token
// kept in sessionStorage, errors as the API's {code, message, details},
// and the event stream read with fetch() (EventSource cannot send an
// Authorization header, and a token in the URL would land in logs).

const TOKEN_KEY = "sextant.token";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || "Error";
    this.details = body?.details;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const h = new Headers(extra || {});
  const t = token();
  if (t) h.set("Authorization", `Bearer ${t}`);
  return h;
}

// Called on 401 (set by main.js): asks for a token, resolves once one is given.
let unauthorized = async () => {};
export function onUnauthorized(f) {
  unauthorized = f;
}

// A request; JSON answers are parsed. `opts.text` sends a text body.
export async function api(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const init = { method: opts.method || "GET", headers: headers(opts.headers) };
    if (opts.json !== undefined) {
      init.body = JSON.stringify(opts.json);
      init.headers.set("Content-Type", "application/json");
    } else if (opts.text !== undefined) {
      init.body = opts.text;
      init.headers.set("Content-Type", "application/yaml");
    }
    const resp = await fetch(path, init);
    if (resp.status === 401 && attempt < 3) {
      const body = await resp.json().catch(() => null);
      await unauthorized(body?.message);
      continue;
    }
    const type = resp.headers.get("content-type") || "";
    const body = type.includes("json") ? await resp.json().catch(() => null) : await resp.text();
    if (!resp.ok) throw new ApiError(resp.status, typeof body === "object" ? body : { message: body });
    if (opts.withHeaders) return { body, headers: resp.headers };
    return body;
  }
}

export const enc = encodeURIComponent;
export const appPath = (ns, name) => `/api/v1/apps/${enc(ns)}/${enc(name)}`;

// The event stream: calls `onEvent(event)` for each event, reconnecting
// with Last-Event-ID after a cut (backing off to 5 s); `onState(text)`
// says whether it is live. Returns a function that stops it.
export function streamEvents(onEvent, onState, query = "") {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let delay = 250;
  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const h = headers({ Accept: "text/event-stream" });
        if (lastId !== null) h.set("Last-Event-ID", lastId);
        // First connect: only live events (the page reads the state itself).
        const q = lastId === null ? `?live=true${query ? "&" + query : ""}` : query ? "?" + query : "";
        const resp = await fetch(`/api/v1/events${q}`, { headers: h, signal: controller.signal });
        if (resp.status === 401) {
          await unauthorized((await resp.json().catch(() => null))?.message);
          continue;
        }
        if (!resp.ok || !resp.body) throw new Error(`HTTP ${resp.status}`);
        onState("live");
        delay = 250;
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("id:")) lastId = line.slice(3).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            }
            if (data.length) {
              try {
                onEvent(JSON.parse(data.join("\n")));
              } catch (e) {
                console.error("an event could not be read", e);
              }
            }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (stopped) return;
      onState("reconnecting…");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}


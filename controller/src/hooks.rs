//! Outgoing webhooks: every event of the kinds a hook asks for is POSTed to
//! its URL as JSON, in order, signed like GitHub signs (`X-Sextant-
//! Signature-256: sha256=<hex HMAC-SHA256 of the body>` with the hook's
//! secret), and retried with backoff. A hook that falls behind replays
//! from the event buffer; one whose receiver stays down drops an event
//! after the last retry and goes on, and counts it.
//!
//! ```yaml
//! hooks:
//!   - name: pager
//!     url: http://alerts.internal:9000/sextant
//!     kinds: [condition, sync]      # default: every kind
//!     secret: "a-shared-secret"
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use crate::config_file::{self, ConfigFileError, MIN_SECRET_LEN, invalid};
use crate::events::{Event, Events, Filter};
use crate::metrics::HookMetrics;
use crate::source::webhook::github_signature;

/// Tries per event: the first and the retries.
pub const ATTEMPTS: u32 = 5;
/// The first retry's delay; doubles.
const RETRY_FIRST: Duration = Duration::from_millis(500);
/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One hook of the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Names it in logs and metrics.
    pub name: String,
    /// Where to POST (http).
    pub url: String,
    /// Event kinds to send; empty: all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only this app's events (`namespace/name`).
    #[serde(default)]
    pub app: Option<String>,
    /// The shared secret the body is signed with.
    pub secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    hooks: Vec<Hook>,
}

const KINDS: [&str; 6] = ["task", "desired", "sync", "condition", "rollout", "action"];

/// Reads and checks a hooks file.
pub fn load(path: &Path) -> Result<Vec<Hook>, ConfigFileError> {
    parse(path, &config_file::read(path)?)
}

/// Parses a hooks file's text (`path` names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Hook>, ConfigFileError> {
    let file: File = config_file::parse(path, text, "hooks: [{name, url, kinds, secret}]")?;
    for (i, h) in file.hooks.iter().enumerate() {
        let url =
            reqwest::Url::parse(&h.url).map_err(|e| invalid(path, format!("hooks[{i}] ({}): url: {e}", h.name)))?;
        if url.scheme() != "http" {
            return Err(invalid(
                path,
                format!(
                    "hooks[{i}] ({}): url: only http:// receivers are supported by this build (put a TLS proxy in front of an https one)",
                    h.name
                ),
            ));
        }
        if let Some(k) = h.kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
            return Err(invalid(
                path,
                format!(
                    "hooks[{i}] ({}): kinds: unknown kind {k:?} (known: {})",
                    h.name,
                    KINDS.join(", ")
                ),
            ));
        }
        if h.secret.len() < MIN_SECRET_LEN {
            return Err(invalid(
                path,
                format!("hooks[{i}] ({}): secret: at least {MIN_SECRET_LEN} characters", h.name),
            ));
        }
    }
    Ok(file.hooks)
}

/// Starts one delivery task per hook, counting into `metrics` (every
/// hook's results show at 0 from the start).
pub fn start(
    hooks: Vec<Hook>,
    events: &Events,
    metrics: &HookMetrics,
    shutdown: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    for h in &hooks {
        metrics.declare(&h.name);
    }
    let client = reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default();
    // From now on: a hook is told what happens after it starts.
    let after = events.last_id();
    hooks
        .into_iter()
        .map(|hook| {
            let (events, metrics, client, shutdown) =
                (events.clone(), metrics.clone(), client.clone(), shutdown.clone());
            tokio::spawn(deliver_all(hook, after, events, metrics, client, shutdown))
        })
        .collect()
}

/// Delivers every later event the hook wants, in order, until shutdown.
async fn deliver_all(
    hook: Hook,
    after: u64,
    events: Events,
    metrics: HookMetrics,
    client: reqwest::Client,
    mut shutdown: watch::Receiver<bool>,
) {
    let filter = Filter {
        app: hook.app.clone(),
        kinds: hook.kinds.clone(),
    };
    let mut last = after;
    loop {
        let (held, mut live) = events.subscribe(last, &filter);
        for e in held {
            if !deliver(&hook, &metrics, &client, &e, &mut shutdown).await {
                return;
            }
            last = e.id;
        }
        loop {
            let next = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                next = live.recv() => next,
            };
            match next {
                Ok(e) if e.id > last && filter.admits(&e) => {
                    if !deliver(&hook, &metrics, &client, &e, &mut shutdown).await {
                        return;
                    }
                    last = e.id;
                }
                Ok(_) => {}
                // Behind: replay from the buffer, from the last delivered.
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// One event, with retries. False when shutting down.
async fn deliver(
    hook: &Hook,
    metrics: &HookMetrics,
    client: &reqwest::Client,
    e: &Event,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let body = match serde_json::to_vec(e) {
        Ok(b) => b,
        Err(_) => return true,
    };
    let signature = github_signature(hook.secret.as_bytes(), &body);
    let mut delay = RETRY_FIRST;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-sextant-event", e.kind.as_str())
            .header("x-sextant-delivery", e.id.to_string())
            .header("x-sextant-signature-256", signature.as_str())
            .body(body.clone())
            .send()
            .await;
        let why = match sent {
            Ok(r) if r.status().is_success() => {
                metrics.count(&hook.name, "delivered");
                debug!(hook = %hook.name, event = e.id, "hook delivered");
                return true;
            }
            Ok(r) => format!("the receiver answered {}", r.status()),
            Err(err) => format!("cannot reach it: {err}"),
        };
        if attempt == ATTEMPTS {
            metrics.count(&hook.name, "dropped");
            warn!(hook = %hook.name, event = e.id, "hook delivery dropped after {ATTEMPTS} attempts: {why}");
            return true;
        }
        metrics.count(&hook.name, "retried");
        debug!(hook = %hook.name, event = e.id, attempt, "hook delivery failed ({why}); retrying");
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return false,
            _ = tokio::time::sleep(delay) => {}
        }
        delay *= 2;
    }
    true
}

#[cfg(test)]
mod tests;

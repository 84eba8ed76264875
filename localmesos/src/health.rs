//! Mesos-native health checks (`TaskInfo.health_check`), as the built-in
//! command executor runs them: the master's validation, the probes (HTTP
//! and HTTPS, TCP against 127.0.0.1 or the container's address), and the
//! health checker's bookkeeping (delay, interval, timeout, grace period,
//! consecutive failures).
//!
//! The executor owns the schedule: it asks [`Checker::start`] for a probe,
//! awaits it next to the task, and feeds the result to [`Checker::record`],
//! which says whether to report (and whether to kill the task). A COMMAND
//! probe is the containerizer's, given to `start`: a process task's is
//! started by the task launcher (`containerizer/command_probe.rs`), a
//! Docker task's is an exec through the engine's API (`containerizer/docker.rs`). Either
//! way its future stops the command, with every process it started, when
//! dropped: at the timeout, or when the task is killed or ends.

use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::time::Duration;

use mesos::types::{CommandInfo, HealthCheck, HealthCheckType};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::{debug, info};

/// `HealthCheck` defaults (mesos.proto).
const DEFAULT_DELAY: f64 = 15.0;
const DEFAULT_INTERVAL: f64 = 10.0;
const DEFAULT_TIMEOUT: f64 = 20.0;
const DEFAULT_GRACE: f64 = 10.0;
const DEFAULT_CONSECUTIVE_FAILURES: u32 = 3;
/// Longest HTTP response head read for the status line.
const MAX_STATUS_LINE: usize = 8192;

/// `common::validation::validateHealthCheck`; the master prefixes the
/// error with "Task uses invalid health check: ".
pub fn validate(check: &HealthCheck) -> Result<(), String> {
    match check.kind {
        // An absent type or an unknown name (dropped by the JSON parser)
        // leaves the field unset.
        HealthCheckType::Unrecognized => return Err("HealthCheck must specify 'type'".to_string()),
        HealthCheckType::Unknown => return Err("'UNKNOWN' is not a valid health check type".to_string()),
        HealthCheckType::Command => {
            let Some(command) = &check.command else {
                return Err("Expecting 'command' to be set for COMMAND health check".to_string());
            };
            if command.value.is_none() {
                let kind = if command.shell.unwrap_or(true) {
                    "'shell command'"
                } else {
                    "'executable path'"
                };
                return Err(format!("Command health check must contain {kind}"));
            }
            if let Some(environment) = &command.environment {
                for variable in &environment.variables {
                    if variable.value.is_none() {
                        return Err(format!(
                            "Health check's `CommandInfo` is invalid: Environment variable '{}' of type 'VALUE' must have a value set",
                            variable.name
                        ));
                    }
                }
            }
        }
        HealthCheckType::Http => {
            let Some(http) = &check.http else {
                return Err("Expecting 'http' to be set for HTTP health check".to_string());
            };
            if let Some(scheme) = &http.scheme
                && scheme != "http"
                && scheme != "https"
            {
                return Err(format!("Unsupported HTTP health check scheme: '{scheme}'"));
            }
            if let Some(path) = &http.path
                && !path.starts_with('/')
            {
                return Err(format!("The path '{path}' of HTTP health check must start with '/'"));
            }
        }
        HealthCheckType::Tcp => {
            if check.tcp.is_none() {
                return Err("Expecting 'tcp' to be set for TCP health check".to_string());
            }
        }
    }
    for (name, value) in [
        ("delay_seconds", check.delay_seconds),
        ("grace_period_seconds", check.grace_period_seconds),
        ("interval_seconds", check.interval_seconds),
        ("timeout_seconds", check.timeout_seconds),
    ] {
        if value.is_some_and(|v| v < 0.0) {
            return Err(format!("Expecting '{name}' to be non-negative"));
        }
    }
    Ok(())
}

/// The `health_check` of a task in `/master/state`: the HealthCheck as the
/// framework sent it, with the defaults protobuf's JSON output adds.
pub fn state_json(raw: &Value) -> Value {
    let Some(object) = raw.as_object() else {
        return raw.clone();
    };
    let mut object = object.clone();
    for (key, default) in [
        ("delay_seconds", DEFAULT_DELAY),
        ("interval_seconds", DEFAULT_INTERVAL),
        ("timeout_seconds", DEFAULT_TIMEOUT),
        ("grace_period_seconds", DEFAULT_GRACE),
    ] {
        let value = object.get(key).and_then(Value::as_f64).unwrap_or(default);
        object.insert(key.to_string(), json!(value));
    }
    let failures = object
        .get("consecutive_failures")
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(DEFAULT_CONSECUTIVE_FAILURES));
    object.insert("consecutive_failures".to_string(), json!(failures));
    for key in ["http", "tcp"] {
        if let Some(Value::Object(info)) = object.get_mut(key) {
            info.entry("protocol").or_insert_with(|| json!("IPv4"));
        }
    }
    if let Some(Value::Object(command)) = object.get_mut("command") {
        command.entry("shell").or_insert(Value::Bool(true));
    }
    Value::Object(object)
}

/// Seconds as a duration; `None` for "never" (infinite or out of range).
fn duration(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() {
        return Some(Duration::ZERO);
    }
    Duration::try_from_secs_f64(seconds.max(0.0)).ok()
}

/// One probe's outcome: `Err` carries why it failed (logged).
pub type CheckResult = Result<(), String>;
pub type CheckFuture = Pin<Box<dyn Future<Output = CheckResult> + Send>>;

/// What to tell the scheduler after a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub healthy: bool,
    /// `consecutive_failures` reached: the executor kills the task.
    pub kill: bool,
    pub message: Option<String>,
}

/// The health checker of one task.
pub struct Checker {
    check: HealthCheck,
    started: Instant,
    delay: Option<Duration>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    grace: f64,
    max_failures: u32,
    /// No success yet.
    initializing: bool,
    failures: u32,
    /// Where HTTP and TCP probes connect (127.0.0.1, or a container's
    /// address on a bridge network).
    target: Ipv4Addr,
}

impl Checker {
    /// A checker for a (validated) check of a task launched at `started`.
    pub fn new(check: HealthCheck, started: Instant) -> Self {
        let timeout = check.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT);
        Self {
            delay: duration(check.delay_seconds.unwrap_or(DEFAULT_DELAY)),
            interval: duration(check.interval_seconds.unwrap_or(DEFAULT_INTERVAL)),
            // Zero means no timeout.
            timeout: if timeout == 0.0 { None } else { duration(timeout) },
            grace: check.grace_period_seconds.unwrap_or(DEFAULT_GRACE),
            max_failures: check.consecutive_failures.unwrap_or(DEFAULT_CONSECUTIVE_FAILURES),
            check,
            started,
            initializing: true,
            failures: 0,
            target: Ipv4Addr::LOCALHOST,
        }
    }

    /// Probes `target` instead of 127.0.0.1 (a container's own address).
    pub fn with_target(mut self, target: Ipv4Addr) -> Self {
        self.target = target;
        self
    }

    /// When the first probe runs.
    pub fn first_at(&self) -> Option<Instant> {
        self.delay.and_then(|delay| self.started.checked_add(delay))
    }

    /// When the next probe runs, after one ended at `now`.
    pub fn next_at(&self, now: Instant) -> Option<Instant> {
        self.interval.and_then(|interval| now.checked_add(interval))
    }

    /// Starts a probe. `command` gives the probe of a COMMAND check (run
    /// in the task's environment and sandbox); dropping its future must
    /// stop the command.
    pub fn start(&self, command: impl FnOnce(&CommandInfo) -> CheckFuture) -> CheckFuture {
        let probe: CheckFuture = match self.check.kind {
            HealthCheckType::Http => {
                let (http, target) = (self.check.http.clone(), self.target);
                Box::pin(async move {
                    let Some(http) = http else {
                        return Err("no 'http' in the health check".to_string());
                    };
                    let tls = http.scheme.as_deref() == Some("https");
                    http_probe(target, http.port, http.path.as_deref().unwrap_or("/"), tls).await
                })
            }
            HealthCheckType::Tcp => {
                let (port, target) = (self.check.tcp.as_ref().map(|tcp| tcp.port), self.target);
                Box::pin(async move {
                    let port = port_of(port.ok_or_else(|| "no 'tcp' in the health check".to_string())?)?;
                    TcpStream::connect((target, port))
                        .await
                        .map(drop)
                        .map_err(|e| format!("cannot connect to {target}:{port}: {e}"))
                })
            }
            HealthCheckType::Command => match &self.check.command {
                Some(info) => command(info),
                None => Box::pin(async { Err("no 'command' in the health check".to_string()) }),
            },
            HealthCheckType::Unknown | HealthCheckType::Unrecognized => {
                Box::pin(async { Err("invalid health check type".to_string()) })
            }
        };
        match self.timeout {
            None => probe,
            Some(timeout) => Box::pin(async move {
                // A timed-out COMMAND probe is stopped when its future drops.
                tokio::time::timeout(timeout, probe)
                    .await
                    .unwrap_or_else(|_| Err(format!("timed out after {}s", timeout.as_secs_f64())))
            }),
        }
    }

    /// Records a probe's result, ended at `now`; `None` when there is
    /// nothing to report (a repeated success, or a failure ignored during
    /// the grace period).
    pub fn record(&mut self, result: CheckResult, now: Instant) -> Option<Verdict> {
        match result {
            Ok(()) => {
                // Healthy is sent on the first success, and on the first
                // success after failures.
                let report = self.initializing || self.failures > 0;
                self.initializing = false;
                self.failures = 0;
                report.then_some(Verdict {
                    healthy: true,
                    kill: false,
                    message: None,
                })
            }
            Err(error) => {
                let elapsed = now.saturating_duration_since(self.started).as_secs_f64();
                if self.initializing && self.grace > 0.0 && elapsed <= self.grace {
                    debug!(%error, "ignoring a health check failure: still in grace period");
                    return None;
                }
                self.failures = self.failures.saturating_add(1);
                info!(%error, failures = self.failures, "health check failed");
                Some(Verdict {
                    healthy: false,
                    kill: self.failures >= self.max_failures,
                    message: None,
                })
            }
        }
    }
}

fn port_of(port: u32) -> Result<u16, String> {
    u16::try_from(port).map_err(|_| format!("invalid port {port}"))
}

/// `GET http(s)://target:port/path`: success for a 200–399 status. With
/// `tls`, any certificate is accepted (`crate::health_tls`).
async fn http_probe(target: Ipv4Addr, port: u32, path: &str, tls: bool) -> CheckResult {
    let port = port_of(port)?;
    let path = if path.is_empty() { "/" } else { path };
    let stream = TcpStream::connect((target, port))
        .await
        .map_err(|e| format!("cannot connect to {target}:{port}: {e}"))?;
    if tls {
        let stream = crate::health_tls::connect(target, stream).await?;
        exchange(stream, target, port, path).await
    } else {
        exchange(stream, target, port, path).await
    }
}

/// Sends the GET over `stream` and judges the status line.
async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    target: Ipv4Addr,
    port: u16,
    path: &str,
) -> CheckResult {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {target}:{port}\r\nUser-Agent: localmesos-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let line = loop {
        if let Some(end) = head.windows(2).position(|w| w == b"\r\n") {
            break String::from_utf8_lossy(&head[..end]).into_owned();
        }
        if head.len() > MAX_STATUS_LINE {
            return Err("response status line too long".to_string());
        }
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("cannot read the response: {e}"))?;
        if n == 0 {
            return Err("connection closed before a response".to_string());
        }
        head.extend_from_slice(&buf[..n]);
    };
    let mut parts = line.split_whitespace();
    let code = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code.parse::<u16>().ok(),
        _ => None,
    };
    match code {
        Some(code) if (200..=399).contains(&code) => Ok(()),
        Some(code) => Err(format!("unexpected HTTP response code: {code}")),
        None => Err(format!("not an HTTP response: {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos::types::{HttpCheckInfo, TcpCheckInfo};

    fn check(kind: HealthCheckType) -> HealthCheck {
        HealthCheck {
            http: None,
            delay_seconds: None,
            interval_seconds: None,
            timeout_seconds: None,
            consecutive_failures: None,
            grace_period_seconds: None,
            command: None,
            kind,
            tcp: None,
        }
    }

    #[test]
    fn validation_follows_the_master() {
        assert_eq!(
            validate(&check(HealthCheckType::Unknown)).unwrap_err(),
            "'UNKNOWN' is not a valid health check type"
        );
        assert_eq!(
            validate(&check(HealthCheckType::Unrecognized)).unwrap_err(),
            "HealthCheck must specify 'type'"
        );
        assert_eq!(
            validate(&check(HealthCheckType::Http)).unwrap_err(),
            "Expecting 'http' to be set for HTTP health check"
        );
        assert_eq!(
            validate(&check(HealthCheckType::Tcp)).unwrap_err(),
            "Expecting 'tcp' to be set for TCP health check"
        );
        let mut command = check(HealthCheckType::Command);
        command.command = Some(CommandInfo::default());
        assert_eq!(
            validate(&command).unwrap_err(),
            "Command health check must contain 'shell command'"
        );
        let mut http = check(HealthCheckType::Http);
        http.http = Some(HttpCheckInfo {
            port: 80,
            path: Some("health".into()),
            scheme: None,
        });
        assert_eq!(
            validate(&http).unwrap_err(),
            "The path 'health' of HTTP health check must start with '/'"
        );
        let mut tcp = check(HealthCheckType::Tcp);
        tcp.tcp = Some(TcpCheckInfo { port: 80 });
        assert!(validate(&tcp).is_ok());
        tcp.interval_seconds = Some(-1.0);
        assert_eq!(
            validate(&tcp).unwrap_err(),
            "Expecting 'interval_seconds' to be non-negative"
        );
    }

    #[test]
    fn grace_period_hides_failures_until_the_first_success() {
        let start = Instant::now();
        let mut tcp = check(HealthCheckType::Tcp);
        tcp.tcp = Some(TcpCheckInfo { port: 1 });
        tcp.grace_period_seconds = Some(5.0);
        tcp.consecutive_failures = Some(2);
        let mut checker = Checker::new(tcp, start);
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(checker.record(Err("x".into()), at(1)), None);
        assert_eq!(checker.record(Err("x".into()), at(4)), None);
        let healthy = checker.record(Ok(()), at(4)).expect("first success reported");
        assert!(healthy.healthy);
        assert_eq!(checker.record(Ok(()), at(4)), None);
        // After the first success, failures count even inside the grace.
        let first = checker.record(Err("x".into()), at(4)).expect("reported");
        assert!(!first.healthy && !first.kill);
        assert!(checker.record(Ok(()), at(4)).expect("recovery reported").healthy);
        assert!(!checker.record(Err("x".into()), at(6)).expect("reported").kill);
        assert!(checker.record(Err("x".into()), at(7)).expect("reported").kill);
    }

    #[test]
    fn state_json_adds_protobuf_defaults() {
        let raw = json!({"type": "HTTP", "http": {"port": 8080}, "interval_seconds": 5});
        let state = state_json(&raw);
        assert_eq!(state["interval_seconds"], json!(5.0));
        assert_eq!(state["delay_seconds"], json!(15.0));
        assert_eq!(state["timeout_seconds"], json!(20.0));
        assert_eq!(state["grace_period_seconds"], json!(10.0));
        assert_eq!(state["consecutive_failures"], json!(3));
        assert_eq!(state["http"]["protocol"], json!("IPv4"));
    }
}

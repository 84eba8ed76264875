//! `spec.healthCheck`: a Mesos-native health check (Mesos `HealthCheck`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::int_or_string::IntOrString;

/// How Mesos checks that a task is healthy: exactly one of `http`, `tcp` or
/// `command`, run by the task's executor inside the task's network
/// namespace, plus timing. After `failureThreshold` consecutive failures
/// the executor kills the task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    /// HTTP GET; healthy on a 2xx or 3xx status (Mesos `HealthCheck.http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// TCP connect; healthy when the connection opens (Mesos
    /// `HealthCheck.tcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
    /// A shell command in the task's environment; healthy on exit status 0
    /// (Mesos `HealthCheck.command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandCheck>,
    /// Seconds to wait after the task starts before the first check (Mesos
    /// `delay_seconds`). Default 15.
    #[serde(default = "default_initial_delay")]
    pub initial_delay_seconds: u32,
    /// Seconds between checks (Mesos `interval_seconds`); at least 1.
    /// Default 10.
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    /// Seconds after which a check that has not answered counts as failed;
    /// 0 means no timeout (Mesos `timeout_seconds`). Default 20.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Consecutive failed checks after which the task is killed (Mesos
    /// `consecutive_failures`); at least 1. Default 3.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// Seconds from the task's start during which failures are ignored until
    /// the first success, for slow starters (Mesos `grace_period_seconds`).
    /// Default 10.
    #[serde(default = "default_grace_period")]
    pub grace_period_seconds: u32,
}

/// Default of `initialDelaySeconds` (Mesos `delay_seconds`).
pub const DEFAULT_INITIAL_DELAY_SECONDS: u32 = 15;
/// Default of `periodSeconds` (Mesos `interval_seconds`).
pub const DEFAULT_PERIOD_SECONDS: u32 = 10;
/// Default of `timeoutSeconds` (Mesos `timeout_seconds`).
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 20;
/// Default of `failureThreshold` (Mesos `consecutive_failures`).
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Default of `gracePeriodSeconds` (Mesos `grace_period_seconds`).
pub const DEFAULT_GRACE_PERIOD_SECONDS: u32 = 10;

fn default_initial_delay() -> u32 {
    DEFAULT_INITIAL_DELAY_SECONDS
}
fn default_period() -> u32 {
    DEFAULT_PERIOD_SECONDS
}
fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_SECONDS
}
fn default_failure_threshold() -> u32 {
    DEFAULT_FAILURE_THRESHOLD
}
fn default_grace_period() -> u32 {
    DEFAULT_GRACE_PERIOD_SECONDS
}

/// An HTTP health check (Mesos `HTTPCheckInfo`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCheck {
    /// The port to check: the name of one of `spec.ports`, or a port number
    /// (Mesos `HTTPCheckInfo.port`).
    pub port: IntOrString,
    /// Request path; must start with `/` (Mesos `HTTPCheckInfo.path`).
    /// Default `/`.
    #[serde(default = "default_path")]
    pub path: String,
    /// `http` (default) or `https` (Mesos `HTTPCheckInfo.scheme`).
    #[serde(default)]
    pub scheme: HttpScheme,
}

fn default_path() -> String {
    "/".to_string()
}

/// The scheme of an HTTP health check.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HttpScheme {
    /// Plain HTTP.
    #[default]
    Http,
    /// HTTPS; the certificate is not verified.
    Https,
}

/// A TCP health check (Mesos `TCPCheckInfo`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpCheck {
    /// The port to connect to: the name of one of `spec.ports`, or a port
    /// number (Mesos `TCPCheckInfo.port`).
    pub port: IntOrString,
}

/// A command health check (Mesos `HealthCheck.command`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandCheck {
    /// Shell command, run with `/bin/sh -c` in the task's environment
    /// (Mesos `CommandInfo.value`).
    pub command: String,
}

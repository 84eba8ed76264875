//! `spec.uris`: files the Mesos fetcher puts into a task's sandbox.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A file fetched into the task's sandbox before the task starts (Mesos
/// `CommandInfo.URI`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Uri {
    /// What to fetch: a URL (`https://…`, `http://…`, `ftp://…`, `hdfs://…`,
    /// `s3://…`) or a path on the node (Mesos `URI.value`). Required.
    pub value: String,
    /// Make the fetched file executable (`chmod +x`); an executable file is
    /// never extracted (Mesos `URI.executable`). Default false.
    #[serde(default)]
    pub executable: bool,
    /// Unpack archives (`.tar`, `.tgz`, `.tar.gz`, `.tar.bz2`, `.tar.xz`,
    /// `.zip`) into the sandbox (Mesos `URI.extract`). Default true.
    #[serde(default = "default_true")]
    pub extract: bool,
    /// Keep the file in the node's fetcher cache for other tasks (Mesos
    /// `URI.cache`). Default false.
    #[serde(default)]
    pub cache: bool,
    /// Name of the file in the sandbox, a relative path; default: the last
    /// component of `value` (Mesos `URI.output_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

fn default_true() -> bool {
    true
}

//! The Mesos fetcher: a task's `CommandInfo.uris` put into its sandbox
//! before the task starts. Each URI is downloaded (`download.rs`) under
//! its basename or `output_file`, made executable (`executable`, never
//! extracted) or unpacked when it is an archive (`extract`, default true;
//! `extract.rs`). `cache` is accepted and treated as a plain fetch.
//!
//! Unlike Mesos, each URI is bounded ([`FetcherLimits`]): a size cap
//! (download and extracted contents alike) and a timeout.
//!
//! Where it runs: `containerizer/fetching.rs`, before a containerizer
//! launches the task.

mod download;
mod extract;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mesos::types::CommandUri;
use tracing::debug;

use download::{DownloadError, Source};
use extract::{Archive, ExtractError};

/// Bounds on each fetched URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetcherLimits {
    /// Largest download, and largest total of an archive's contents.
    pub max_size: u64,
    /// Longest one URI may take, download and extraction together.
    pub timeout: Duration,
}

impl FetcherLimits {
    /// 2 GiB and 10 minutes per URI.
    pub const DEFAULT: FetcherLimits = FetcherLimits {
        max_size: 2 << 30,
        timeout: Duration::from_secs(600),
    };
}

impl Default for FetcherLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why one URI was not fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("output_file '{0}' must be a relative path inside the sandbox, without '..'")]
    OutputFile(String),
    #[error("the URI has no file name to save it under; set output_file")]
    NoName,
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("cannot {action} {path}: {cause}")]
    Sandbox {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("timed out after {}s", .0.as_secs_f64())]
    Timeout(Duration),
}

/// Fetches URIs into sandboxes.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Built at the first http(s) URI (it loads the system's roots), or
    /// why it cannot be (no TLS backend): then http(s) URIs fail.
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    limits: FetcherLimits,
}

impl Fetcher {
    pub fn new(limits: FetcherLimits) -> Self {
        Self {
            client: Arc::default(),
            limits,
        }
    }

    fn client(&self) -> &Result<reqwest::Client, String> {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent("localmesos-fetcher")
                .connect_timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())
        })
    }

    /// Fetches every URI into `sandbox`, in order; the first failure ends
    /// it, as Mesos's "Failed to fetch all URIs for container '…'" message
    /// (the caller adds the container).
    pub async fn fetch_all(&self, uris: &[CommandUri], sandbox: &Path) -> Result<(), String> {
        for uri in uris {
            let fetched = tokio::time::timeout(self.limits.timeout, self.fetch(uri, sandbox))
                .await
                .unwrap_or(Err(FetchError::Timeout(self.limits.timeout)));
            if let Err(error) = fetched {
                return Err(format!("cannot fetch '{}': {error}", uri.value));
            }
            debug!(uri = %uri.value, sandbox = %sandbox.display(), "fetched");
        }
        Ok(())
    }

    async fn fetch(&self, uri: &CommandUri, sandbox: &Path) -> Result<(), FetchError> {
        let source = Source::parse(&uri.value)?;
        let relative = match &uri.output_file {
            Some(output) => relative_output(output).ok_or_else(|| FetchError::OutputFile(output.clone()))?,
            None => PathBuf::from(source.basename().ok_or(FetchError::NoName)?),
        };
        let destination = sandbox.join(&relative);
        if let Some(parent) = destination.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|cause| FetchError::Sandbox {
                    action: "create",
                    path: parent.to_path_buf(),
                    cause,
                })?;
        }
        download::download(|| self.client(), &source, &destination, self.limits.max_size).await?;

        if uri.executable.unwrap_or(false) {
            use std::os::unix::fs::PermissionsExt as _;
            return tokio::fs::set_permissions(&destination, std::fs::Permissions::from_mode(0o755))
                .await
                .map_err(|cause| FetchError::Sandbox {
                    action: "make executable",
                    path: destination,
                    cause,
                });
        }
        let name = relative.file_name().map(|n| n.to_string_lossy().into_owned());
        let archive = name.as_deref().and_then(Archive::of);
        if let (true, Some(kind)) = (uri.extract.unwrap_or(true), archive) {
            let (into, limit) = (sandbox.to_path_buf(), self.limits.max_size);
            tokio::task::spawn_blocking(move || extract::extract(&destination, kind, &into, limit))
                .await
                .map_err(|e| ExtractError::Io(std::io::Error::other(e)))??;
        }
        Ok(())
    }
}

/// `output_file` as a path below the sandbox, if it is one.
fn relative_output(output: &str) -> Option<PathBuf> {
    extract::inside(Path::new(output)).filter(|relative| !relative.as_os_str().is_empty() && !output.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_file_stays_in_the_sandbox() {
        assert_eq!(relative_output("a/b.txt"), Some(PathBuf::from("a/b.txt")));
        assert_eq!(relative_output("./b"), Some(PathBuf::from("b")));
        assert_eq!(relative_output("../b"), None);
        assert_eq!(relative_output("/etc/b"), None);
        assert_eq!(relative_output(""), None);
        assert_eq!(relative_output("dir/"), None);
    }
}

//! Getting one URI's bytes into a file: `http`/`https` streamed to disk
//! (never held in memory), `file://` and absolute local paths copied, each
//! bounded by a size cap.

use std::io;
use std::path::{Path, PathBuf};

use reqwest::Url;
use tokio::io::AsyncWriteExt as _;

/// Where a URI's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Http(Url),
    Local(PathBuf),
}

/// Why a URI could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("unsupported URI: {0}")]
    Unsupported(String),
    #[error("received HTTP status {0}")]
    Status(reqwest::StatusCode),
    #[error("{0}")]
    Http(String),
    #[error("it is larger than the fetcher's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("cannot read {path}: {cause}")]
    Read { path: PathBuf, cause: io::Error },
    #[error("cannot write {path}: {cause}")]
    Write { path: PathBuf, cause: io::Error },
}

impl Source {
    /// What `uri` names: `http(s)://…`, `file:///…`, or an absolute path.
    pub fn parse(uri: &str) -> Result<Source, DownloadError> {
        if uri.starts_with('/') {
            return Ok(Source::Local(PathBuf::from(uri)));
        }
        let url = Url::parse(uri).map_err(|e| {
            DownloadError::Unsupported(format!("{e} (expected http://, https://, file:// or an absolute path)"))
        })?;
        match url.scheme() {
            "http" | "https" => Ok(Source::Http(url)),
            "file" => url
                .to_file_path()
                .map(Source::Local)
                .map_err(|()| DownloadError::Unsupported("a file:// URI must name a local absolute path".to_string())),
            other => Err(DownloadError::Unsupported(format!(
                "scheme '{other}' is not fetched by localmesos (only http, https and file)"
            ))),
        }
    }

    /// The name Mesos gives the local copy: the URI's basename.
    pub fn basename(&self) -> Option<String> {
        let name = match self {
            Source::Http(url) => url.path_segments()?.rev().find(|s| !s.is_empty())?.to_string(),
            Source::Local(path) => path.file_name()?.to_string_lossy().into_owned(),
        };
        (!name.is_empty() && name != "." && name != "..").then_some(name)
    }
}

/// Writes `source` to `to`, at most `limit` bytes; `client` is asked for
/// only by http(s).
pub async fn download<'a>(
    client: impl FnOnce() -> &'a Result<reqwest::Client, String>,
    source: &Source,
    to: &Path,
    limit: u64,
) -> Result<(), DownloadError> {
    let result = match source {
        Source::Http(url) => match client() {
            Ok(client) => http(client, url, to, limit).await,
            Err(cause) => Err(DownloadError::Http(format!("no HTTP client: {cause}"))),
        },
        Source::Local(path) => copy(path, to, limit).await,
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(to).await;
    }
    result
}

async fn http(client: &reqwest::Client, url: &Url, to: &Path, limit: u64) -> Result<(), DownloadError> {
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| DownloadError::Http(mesos::http_cause(&e)))?;
    if !response.status().is_success() {
        return Err(DownloadError::Status(response.status()));
    }
    if response.content_length().is_some_and(|length| length > limit) {
        return Err(DownloadError::TooLarge { limit });
    }
    let write = |cause| DownloadError::Write {
        path: to.to_path_buf(),
        cause,
    };
    let mut file = tokio::fs::File::create(to).await.map_err(write)?;
    let mut written: u64 = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| DownloadError::Http(mesos::http_cause(&e)))?
    {
        written = written.saturating_add(chunk.len() as u64);
        if written > limit {
            return Err(DownloadError::TooLarge { limit });
        }
        file.write_all(&chunk).await.map_err(write)?;
    }
    file.flush().await.map_err(write)?;
    Ok(())
}

async fn copy(from: &Path, to: &Path, limit: u64) -> Result<(), DownloadError> {
    let read = |cause| DownloadError::Read {
        path: from.to_path_buf(),
        cause,
    };
    let metadata = tokio::fs::metadata(from).await.map_err(read)?;
    if !metadata.is_file() {
        return Err(read(io::Error::other("not a regular file")));
    }
    if metadata.len() > limit {
        return Err(DownloadError::TooLarge { limit });
    }
    tokio::fs::copy(from, to).await.map_err(|cause| DownloadError::Write {
        path: to.to_path_buf(),
        cause,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_their_source_and_basename() {
        let http = Source::parse("http://example.org/dist/app.tar.gz?x=1").expect("http");
        assert!(matches!(http, Source::Http(_)));
        assert_eq!(http.basename().as_deref(), Some("app.tar.gz"));
        let file = Source::parse("file:///tmp/a%20b.txt").expect("file");
        assert_eq!(file, Source::Local(PathBuf::from("/tmp/a b.txt")));
        assert_eq!(file.basename().as_deref(), Some("a b.txt"));
        assert_eq!(
            Source::parse("/opt/x.zip").expect("path"),
            Source::Local(PathBuf::from("/opt/x.zip"))
        );
        assert_eq!(Source::parse("http://example.org/").expect("http").basename(), None);
        assert!(Source::parse("hdfs://nn/x").is_err());
        assert!(Source::parse("relative/x").is_err());
    }
}

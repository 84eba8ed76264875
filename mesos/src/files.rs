//! Reading a file of a task's sandbox from its Mesos agent:
//! `GET {agent}/files/read?path=&offset=&length=` (Mesos 1.11,
//! `src/files/files.cpp`).
//!
//! The agent attaches each executor's latest sandbox at
//! `/frameworks/<framework_id>/executors/<executor_id>/runs/latest` (for the
//! command executor, the executor id is the task id). It answers
//! `{"data": "...", "offset": N}`: with `offset=-1` no data and the file's
//! size; else at most 16 pages (64 KiB) from `offset`; 404 for a path it
//! does not know (a sandbox removed, or never made). `data` is the file's
//! bytes in a JSON string, not always valid UTF-8 (a read may split a
//! character): it is decoded as bytes, never as text.

use std::time::Duration;

use serde::Deserialize;

use crate::agents::AgentEndpoint;

/// Bound on one `/files/read` call.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The virtual path of an executor's latest sandbox on its agent.
pub fn sandbox_path(framework_id: &str, executor_id: &str) -> String {
    format!("/frameworks/{framework_id}/executors/{executor_id}/runs/latest")
}

/// What one read answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChunk {
    /// The bytes read (none for a size query or at the end of the file).
    pub data: Vec<u8>,
    /// Where `data` starts; for a size query (`offset` -1), the size.
    pub offset: u64,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The agent does not know the path: the sandbox was removed (garbage
    /// collected) or never made.
    #[error("the Mesos agent at {agent} has no file {path}")]
    NotFound { agent: AgentEndpoint, path: String },
    #[error("the address of the Mesos agent {agent} is not a URL: {reason}")]
    BadAddress { agent: AgentEndpoint, reason: String },
    #[error("cannot reach the Mesos agent at {agent}: {source}")]
    Http {
        agent: AgentEndpoint,
        #[source]
        source: reqwest::Error,
    },
    #[error("the Mesos agent at {agent} answered {status}: {body}")]
    Refused {
        agent: AgentEndpoint,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("the Mesos agent at {agent} answered what is not a file chunk: {source}")]
    Decode {
        agent: AgentEndpoint,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct Answer {
    #[serde(deserialize_with = "bytes_of_string")]
    data: Vec<u8>,
    offset: u64,
}

/// A JSON string's bytes, unescaped, without UTF-8 validation.
fn bytes_of_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct Bytes;
    impl<'de> serde::de::Visitor<'de> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string of bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            Ok(v.as_bytes().to_vec())
        }
    }
    // serde_json hands a string's raw bytes to `deserialize_bytes`.
    deserializer.deserialize_bytes(Bytes)
}

/// Decodes an answer of `/files/read`.
pub fn decode(body: &[u8]) -> Result<FileChunk, serde_json::Error> {
    let answer: Answer = serde_json::from_slice(body)?;
    Ok(FileChunk {
        data: answer.data,
        offset: answer.offset,
    })
}

/// Reads up to `length` bytes (the agent caps it) of the sandbox file at
/// virtual `path` from `offset`; `offset` -1 asks for the size.
pub async fn read(
    http: &reqwest::Client,
    agent: &AgentEndpoint,
    path: &str,
    offset: i64,
    length: u64,
) -> Result<FileChunk, FilesError> {
    let http_error = |source| FilesError::Http {
        agent: agent.clone(),
        source,
    };
    let mut url =
        reqwest::Url::parse(&format!("{}/files/read", agent.base_url())).map_err(|e| FilesError::BadAddress {
            agent: agent.clone(),
            reason: e.to_string(),
        })?;
    url.query_pairs_mut()
        .append_pair("path", path)
        .append_pair("offset", &offset.to_string())
        .append_pair("length", &length.to_string());
    let response = http.get(url).timeout(READ_TIMEOUT).send().await.map_err(http_error)?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(FilesError::NotFound {
            agent: agent.clone(),
            path: path.to_string(),
        });
    }
    let body = response.bytes().await.map_err(http_error)?;
    if !status.is_success() {
        return Err(FilesError::Refused {
            agent: agent.clone(),
            status,
            body: String::from_utf8_lossy(&body).trim().to_string(),
        });
    }
    decode(&body).map_err(|source| FilesError::Decode {
        agent: agent.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_decoded_as_bytes_even_when_not_utf8() {
        let chunk = decode(b"{\"data\":\"a\\/b\\n\\u0001\xc3\xa9\xff\",\"offset\":7}").expect("decodes");
        assert_eq!(chunk.data, b"a/b\n\x01\xc3\xa9\xff".to_vec());
        assert_eq!(chunk.offset, 7);
        assert_eq!(
            decode(b"{\"data\":\"\",\"offset\":14}").expect("a size answer"),
            FileChunk {
                data: Vec::new(),
                offset: 14
            }
        );
        assert!(decode(b"{\"offset\":1}").is_err());
    }

    #[test]
    fn the_sandbox_path_is_the_agents_virtual_path() {
        assert_eq!(
            sandbox_path("F-0001", "default.web.abc.1"),
            "/frameworks/F-0001/executors/default.web.abc.1/runs/latest"
        );
    }
}

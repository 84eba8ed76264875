//! The CLI's config file (`~/.config/sextant/config.yaml`): which
//! controller to talk to and with which token, so neither has to be typed
//! or exported each time. A flag or its environment variable wins over the
//! file; the file wins over the default server.
//!
//! ```yaml
//! server: https://sextant.example.com:7070
//! token: "..."          # or tokenFile: /path/to/token
//! caCert: /path/to/ca.pem   # a private CA of an https:// server
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The server when neither a flag, the environment nor the file names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7070";

/// Largest config file read.
const MAX_BYTES: u64 = 64 * 1024;

/// What the file says.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfig {
    /// The controller's address.
    #[serde(default)]
    pub server: Option<String>,
    /// A bearer token.
    #[serde(default)]
    pub token: Option<String>,
    /// A file holding the bearer token (its first line).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// A PEM file of the certificate authority that signed an `https://`
    /// server's certificate, trusted besides the system's.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

/// Why the file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading failed.
    #[error("cannot read the config file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The content is not a config.
    #[error("config file {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where and what, in serde_yaml's words (line and column).
        reason: String,
    },
}

/// Where the file is looked for when `--config` is not given.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("sextant").join("config.yaml"))
}

impl ClientConfig {
    /// Reads `path`. A missing file is an empty config when `required` is
    /// false (the default path), and an error when it was named.
    pub fn load(path: &Path, required: bool) -> Result<Self, ConfigError> {
        let unreadable = |reason: String| ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(Self::default()),
            Err(e) => return Err(unreadable(e.to_string())),
        };
        if meta.len() > MAX_BYTES {
            return Err(unreadable(format!("it is larger than {MAX_BYTES} bytes")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        Self::parse(&text).map_err(|reason| ConfigError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the text of a config file.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let config: Self = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if config.token.is_some() && config.token_file.is_some() {
            return Err("give token or tokenFile, not both".into());
        }
        Ok(config)
    }

    /// The token: `token`, or the first line of `tokenFile`.
    pub fn token(&self) -> Result<Option<String>, ConfigError> {
        if let Some(t) = &self.token {
            return Ok(Some(t.trim().to_string()));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(text
            .lines()
            .next()
            .map(|l| l.trim().to_string())
            .filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_server_and_token() {
        let c = ClientConfig::parse("server: http://h:1\ntoken: abc\n").expect("parses");
        assert_eq!(c.server.as_deref(), Some("http://h:1"));
        assert_eq!(c.token().expect("token").as_deref(), Some("abc"));
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line() {
        let e = ClientConfig::parse("server: http://h:1\nsevrer: x\n").expect_err("unknown field");
        assert!(e.contains("sevrer") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_missing_default_file_is_empty_but_a_named_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("none.yaml");
        assert_eq!(
            ClientConfig::load(&path, false).expect("empty"),
            ClientConfig::default()
        );
        let e = ClientConfig::load(&path, true).expect_err("named");
        assert!(e.to_string().contains("none.yaml"), "{e}");
    }

    #[test]
    fn the_token_file_gives_its_first_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret\nignored\n").expect("write");
        let c = ClientConfig::parse(&format!("tokenFile: {}\n", token.display())).expect("parses");
        assert_eq!(c.token().expect("token").as_deref(), Some("s3cret"));
        assert!(ClientConfig::parse(&format!("token: a\ntokenFile: {}\n", token.display())).is_err());
    }
}

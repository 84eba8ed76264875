//! The small YAML files an operator hands the controller (`--tokens`,
//! `--hooks`): read once at start, with errors that name the file, the
//! line and column when known, and the shape that was expected.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Shortest token or shared secret accepted: anything shorter is guessable.
pub const MIN_SECRET_LEN: usize = 16;

/// Why such a file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// It cannot be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// Its content is wrong.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line when known.
        message: String,
    },
}

/// The file's text.
pub fn read(path: &Path) -> Result<String, ConfigFileError> {
    std::fs::read_to_string(path).map_err(|cause| ConfigFileError::Read {
        path: path.to_path_buf(),
        cause,
    })
}

/// `text` (the content of `path`) as a `T`; `expected` says the shape.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str, expected: &str) -> Result<T, ConfigFileError> {
    serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("{}:{}: ", l.line(), l.column()))
            .unwrap_or_default();
        invalid(path, format!("{at}{e}; expected `{expected}`"))
    })
}

/// An error about the content of `path`.
pub fn invalid(path: &Path, message: String) -> ConfigFileError {
    ConfigFileError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

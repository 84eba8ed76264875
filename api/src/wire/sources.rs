//! Sources as the API shows them (`GET /api/v1/sources`): what each
//! synced, and every problem of its last sync, located.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A source of desired apps and how its last sync went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    /// Source name: `dir:<path>`, `git:<url>` or `apply`.
    pub name: String,
    /// `dir` or `git`.
    #[serde(default)]
    pub kind: String,
    /// The repository URL (credentials redacted) or the directory.
    #[serde(default)]
    pub url: Option<String>,
    /// The branch followed (git).
    #[serde(default)]
    pub branch: Option<String>,
    /// The directory within the repository that is loaded (git).
    #[serde(default)]
    pub path: Option<String>,
    /// The commit synced (git).
    #[serde(default)]
    pub commit: Option<CommitInfo>,
    /// Every problem of the last sync, one `file:line:col: field: message`
    /// per line (or the fetch error), absent when there is none.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the last error appeared (RFC 3339).
    #[serde(default)]
    pub last_error_at: Option<String>,
    /// Since when the source has had errors (RFC 3339).
    #[serde(default)]
    pub failing_since: Option<String>,
    /// When the source last synced (RFC 3339): what loads was applied.
    #[serde(default)]
    pub last_success_at: Option<String>,
    /// When the next fetch is planned (RFC 3339).
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    /// The problems, located, with the apps each keeps at their last good
    /// version.
    #[serde(default)]
    pub problems: Vec<Problem>,
    /// Why the last sync was refused as a whole.
    #[serde(default)]
    pub refused: Option<String>,
    /// Apps no longer defined, kept because pruning is off.
    #[serde(default)]
    pub unpruned: Vec<String>,
    /// Apps the source owns.
    #[serde(default)]
    pub apps: usize,
}

/// The commit a sync came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitInfo {
    /// The full commit id.
    pub sha: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// The first line of the message.
    pub subject: String,
    /// Committer time, Unix seconds.
    pub time: i64,
}

/// What kind of problem a file or an app has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProblemKind {
    /// The file's content is not a valid set of apps.
    Invalid,
    /// The file (or a directory) could not be read; retried soon.
    Unreadable,
    /// The file is empty; its apps are kept (directory sources).
    Empty,
    /// An app is defined more than once.
    DefinedTwice,
    /// An app is owned by another source.
    OwnedElsewhere,
    /// An app would put its namespace over its production quota.
    OverQuota,
}

impl ProblemKind {
    /// Every kind.
    pub const ALL: [ProblemKind; 6] = [
        ProblemKind::Invalid,
        ProblemKind::Unreadable,
        ProblemKind::Empty,
        ProblemKind::DefinedTwice,
        ProblemKind::OwnedElsewhere,
        ProblemKind::OverQuota,
    ];

    /// Its name, as serialized (and the `problem` label of the metrics).
    pub fn name(self) -> &'static str {
        match self {
            Self::Invalid => "Invalid",
            Self::Unreadable => "Unreadable",
            Self::Empty => "Empty",
            Self::DefinedTwice => "DefinedTwice",
            Self::OwnedElsewhere => "OwnedElsewhere",
            Self::OverQuota => "OverQuota",
        }
    }

    /// The reason of the apps' `Synced` condition.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Invalid => "InvalidManifest",
            Self::Unreadable => "UnreadableManifest",
            Self::Empty => "EmptyManifest",
            Self::DefinedTwice => "DefinedTwice",
            Self::OwnedElsewhere => "OwnedElsewhere",
            Self::OverQuota => "OverQuota",
        }
    }
}

/// One problem of a sync, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// What kind.
    pub kind: ProblemKind,
    /// The file, relative to the source's root (absent: the whole source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// 1-based line, 0 for the whole file.
    #[serde(default)]
    pub line: usize,
    /// 1-based column, 0 for the whole file.
    #[serde(default)]
    pub col: usize,
    /// Dotted field path, when a field is concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
    /// Apps kept at their last good version (or not taken) because of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<String>,
    /// The commit the file was read from (git).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(commit) = &self.commit {
            write!(f, "commit {}: ", short_sha(commit))?;
        }
        if let Some(file) = &self.file {
            write!(f, "{}:", file.display())?;
            if self.line > 0 {
                write!(f, "{}:{}:", self.line, self.col)?;
            }
            f.write_str(" ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The first 12 characters of a commit id, as people quote them.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
